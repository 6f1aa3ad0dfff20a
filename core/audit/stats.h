// Value statistics for tensors and pipeline stages: per-channel extremes,
// moments, non-finite counts and histograms, plus a dataset-wide running
// mean/std that can be merged across threads (Chan et al.'s parallel update
// of Welford's M2).
//
// Conventions: a Tensor is read as (..., C, H, W): the third dimension from
// the end is the channel (a 4-D batch (N,C,H,W) is aggregated over N); 1-D
// and 2-D tensors are one channel. An image StageValue is read in place (HWC
// uint8) without conversion. min/max/mean/std are over finite values only;
// NaN and +/-Inf are counted separately.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/types.h"

namespace bs {

struct ChannelStats {
    int64_t count = 0;  // finite values
    int64_t nan = 0;
    int64_t posInf = 0;
    int64_t negInf = 0;
    double min = 0;  // of finite values; 0 when count == 0
    double max = 0;
    double mean = 0;
    double m2 = 0;  // sum of squared deviations from the mean (Welford's M2)

    double variance() const { return count > 1 ? m2 / double(count) : 0.0; }  // population
    double stddev() const;
    double spread() const { return count ? max - min : 0.0; }
    int64_t nonFinite() const { return nan + posInf + negInf; }
    // Chan's merge: the statistics of the union of both value sets.
    void merge(const ChannelStats& other);
    nlohmann::json toJson() const;
};

struct ValueStats {
    std::vector<ChannelStats> channels;
    // All channels merged.
    ChannelStats overall() const;
    int64_t nonFinite() const;
};

// Statistics of one float plane of `n` values.
ChannelStats planeStats(const float* values, size_t n);
// Statistics of one channel of an interleaved uint8 buffer (stride = channels).
ChannelStats interleavedStats(const uint8_t* pixels, size_t count, int stride);

ValueStats tensorStats(const Tensor& t);
ValueStats imageStats(const Image& im);
ValueStats stageStats(const StageValue& v);

// Per-channel counts of every byte value of an interleaved 8-bit image,
// taken in one pass. The image's statistics and histograms follow exactly
// from them (integer sums), so an image is read once for both.
struct ByteCounts {
    std::vector<std::array<uint64_t, 256>> channels;
    uint64_t pixels = 0;  // per channel
    ValueStats stats() const;  // equal to imageStats() of the image
};
// Empty (no channels) when the image has no channels or too few bytes.
ByteCounts countBytes(const Image& im);
// countBytes(im), with hashImage(im) in `pixelHash`: for RGB images in the
// same pass over the bytes (the judge needs both of every decoded image).
ByteCounts countAndHashBytes(const Image& im, uint64_t& pixelHash);
// Statistics of a value set given as distinct values and how often each
// occurs (counts[i] times values[i]): a stage derived from byte counts.
ChannelStats weightedStats(const float* values, const uint64_t* counts, size_t n);

// A fixed 256-bin histogram over [lo, hi]; values outside go to `below` /
// `above`, non-finite values are not counted.
struct Histogram {
    static constexpr int kBins = 256;
    double lo = 0, hi = 1;
    std::array<uint64_t, kBins> bins{};
    uint64_t below = 0, above = 0;

    void add(const float* values, size_t n);
    void addInterleaved(const uint8_t* pixels, size_t count, int stride);
    // counts[v] values equal to v, for v in 0..255 (see countBytes).
    void addCounts(const std::array<uint64_t, 256>& counts);
    // counts[i] values equal to values[i], binned exactly as add() bins them.
    void addWeighted(const float* values, const uint64_t* counts, size_t n);
    void merge(const Histogram& other);  // requires the same lo/hi
    uint64_t total() const;
    nlohmann::json toJson() const;
};

Histogram makeHistogram(double lo, double hi);
// One histogram per channel over [lo, hi].
std::vector<Histogram> channelHistograms(const StageValue& v, double lo, double hi);
// One histogram per channel, channel c over ranges[c] (the last range
// repeats for further channels); each value is read once.
std::vector<Histogram> channelHistograms(const StageValue& v,
                                         const std::vector<std::pair<double, double>>& ranges);
// One histogram per channel over that channel's own finite [min, max]
// (a degenerate range is widened by 0.5 on both sides).
std::vector<Histogram> channelHistogramsAuto(const StageValue& v);

// Dataset-wide per-channel statistics, fed with per-sample ValueStats.
class RunningStats {
public:
    void add(const ValueStats& s);
    void merge(const RunningStats& other);
    // Rebuilt from saved channels and sample count (partial reports).
    static RunningStats fromParts(std::vector<ChannelStats> channels, int64_t samples) {
        RunningStats r;
        r.channels_ = std::move(channels);
        r.samples_ = samples;
        return r;
    }
    const std::vector<ChannelStats>& channels() const { return channels_; }
    int64_t samples() const { return samples_; }
    nlohmann::json toJson() const;

private:
    std::vector<ChannelStats> channels_;
    int64_t samples_ = 0;
};

// 64-bit hash of an image's pixels and dimensions (duplicate detection).
uint64_t hashImage(const Image& im);
// Same for a tensor's shape and value bits.
uint64_t hashTensor(const Tensor& t);
uint64_t hashBytes(const void* data, size_t size, uint64_t seed);

}  // namespace bs
