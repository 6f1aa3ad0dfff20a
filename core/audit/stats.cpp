#include "core/audit/stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace bs {

double ChannelStats::stddev() const { return std::sqrt(std::max(0.0, variance())); }

void ChannelStats::merge(const ChannelStats& o) {
    nan += o.nan;
    posInf += o.posInf;
    negInf += o.negInf;
    if (o.count == 0) return;
    if (count == 0) {
        count = o.count;
        min = o.min;
        max = o.max;
        mean = o.mean;
        m2 = o.m2;
        return;
    }
    const double n = double(count) + double(o.count);
    const double delta = o.mean - mean;
    mean += delta * double(o.count) / n;
    m2 += o.m2 + delta * delta * double(count) * double(o.count) / n;
    count += o.count;
    min = std::min(min, o.min);
    max = std::max(max, o.max);
}

nlohmann::json ChannelStats::toJson() const {
    return {{"count", count}, {"min", min},       {"max", max},        {"mean", mean},
            {"std", stddev()}, {"nan", nan},      {"pos_inf", posInf}, {"neg_inf", negInf}};
}

ChannelStats ValueStats::overall() const {
    ChannelStats all;
    for (const auto& c : channels) all.merge(c);
    return all;
}

int64_t ValueStats::nonFinite() const {
    int64_t n = 0;
    for (const auto& c : channels) n += c.nonFinite();
    return n;
}

namespace {

// Exact but slower path, taken only when the plane holds NaN/Inf or values
// so large that float partial sums overflow.
ChannelStats planeStatsSlow(const float* p, size_t n) {
    ChannelStats s;
    double shift = 0;
    bool haveShift = false;
    double sum = 0, sq = 0;
    double mn = std::numeric_limits<double>::infinity(), mx = -mn;
    for (size_t i = 0; i < n; ++i) {
        const float v = p[i];
        if (std::isnan(v)) {
            ++s.nan;
        } else if (std::isinf(v)) {
            ++(v > 0 ? s.posInf : s.negInf);
        } else {
            if (!haveShift) {
                shift = v;
                haveShift = true;
            }
            const double d = double(v) - shift;
            sum += d;
            sq += d * d;
            mn = std::min(mn, double(v));
            mx = std::max(mx, double(v));
            ++s.count;
        }
    }
    if (s.count) {
        s.min = mn;
        s.max = mx;
        s.mean = shift + sum / double(s.count);
        s.m2 = std::max(0.0, sq - sum * sum / double(s.count));
    }
    return s;
}

}  // namespace

ChannelStats planeStats(const float* p, size_t n) {
    ChannelStats s;
    if (n == 0) return s;
    const float shift = p[0];
    if (!std::isfinite(shift)) return planeStatsSlow(p, n);
    // Independent lanes let the compiler vectorise the loop without
    // -ffast-math; float partial sums are flushed to double every block so
    // the rounding error stays small. Values are shifted by the first one to
    // avoid cancellation in sum-of-squares.
    constexpr size_t kLanes = 16;
    constexpr size_t kBlock = 4096;
    float mn[kLanes], mx[kLanes];
    for (size_t j = 0; j < kLanes; ++j) mn[j] = mx[j] = shift;
    double sum = 0, sq = 0;
    size_t i = 0;
    while (i + kLanes <= n) {
        float ps[kLanes] = {}, bq[kLanes] = {};
        const size_t end = std::min(n - (n - i) % kLanes, i + kBlock);
        for (; i < end; i += kLanes) {
            for (size_t j = 0; j < kLanes; ++j) {
                const float v = p[i + j];
                const float d = v - shift;
                ps[j] += d;
                bq[j] += d * d;
                mn[j] = v < mn[j] ? v : mn[j];
                mx[j] = v > mx[j] ? v : mx[j];
            }
        }
        for (size_t j = 0; j < kLanes; ++j) {
            sum += ps[j];
            sq += bq[j];
        }
    }
    float lo = mn[0], hi = mx[0];
    for (size_t j = 1; j < kLanes; ++j) {
        lo = std::min(lo, mn[j]);
        hi = std::max(hi, mx[j]);
    }
    for (; i < n; ++i) {
        const float v = p[i];
        const double d = double(v) - shift;
        sum += d;
        sq += d * d;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    // NaN poisons the sums, Inf makes them infinite, either way: exact path.
    if (!std::isfinite(sum) || !std::isfinite(sq) || !std::isfinite(lo) || !std::isfinite(hi))
        return planeStatsSlow(p, n);
    s.count = int64_t(n);
    s.min = lo;
    s.max = hi;
    s.mean = double(shift) + sum / double(n);
    s.m2 = std::max(0.0, sq - sum * sum / double(n));
    return s;
}

namespace {

// Statistics of `count` values given as counts per byte value. Integer sums
// are exact, so the textbook formula is safe (and gives the same bits as
// summing the pixels one by one).
ChannelStats statsOfCounts(const std::array<uint64_t, 256>& counts, uint64_t count) {
    ChannelStats s;
    if (count == 0) return s;
    uint64_t sum = 0, sq = 0;
    int mn = 256, mx = -1;
    for (int v = 0; v < 256; ++v) {
        const uint64_t k = counts[size_t(v)];
        if (!k) continue;
        if (mn > 255) mn = v;
        mx = v;
        sum += k * uint64_t(v);
        sq += k * uint64_t(v * v);
    }
    s.count = int64_t(count);
    s.min = mn;
    s.max = mx;
    s.mean = double(sum) / double(count);
    s.m2 = std::max(0.0, double(sq) - double(sum) * double(sum) / double(count));
    return s;
}

// Counts of one strided channel. Four tables so that runs of equal values
// (flat image areas) do not serialise on one counter.
void countStrided(const uint8_t* px, size_t count, size_t stride, std::array<uint64_t, 256>& out) {
    uint32_t t[4][256] = {};
    size_t i = 0;
    while (i < count) {
        // uint32 counters: flush before any could overflow.
        const size_t end = std::min(count, i + (size_t(1) << 31));
        for (; i + 4 <= end; i += 4) {
            ++t[0][px[i * stride]];
            ++t[1][px[(i + 1) * stride]];
            ++t[2][px[(i + 2) * stride]];
            ++t[3][px[(i + 3) * stride]];
        }
        for (; i < end; ++i) ++t[0][px[i * stride]];
        for (int v = 0; v < 256; ++v) {
            out[size_t(v)] += uint64_t(t[0][v]) + t[1][v] + t[2][v] + t[3][v];
            t[0][v] = t[1][v] = t[2][v] = t[3][v] = 0;
        }
    }
}

inline uint64_t mix64(uint64_t h) {
    // Murmur3's finaliser: full avalanche of the running state.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

// The state of hashBytes: four independent 64-bit lanes for speed; each
// word of a 32-byte block is multiplied and rotated into its lane, then the
// lanes are folded together with the tail bytes and the length.
struct HashLanes {
    uint64_t h[4];
    explicit HashLanes(uint64_t seed)
        : h{seed ^ 0x9e3779b97f4a7c15ULL, seed + 0x632be59bd9b4e019ULL,
            seed ^ 0x8cb92ba72f3d8dd7ULL, seed - 0x3c6ef372fe94f82bULL} {}
    void block(const uint8_t* p) {
        for (int j = 0; j < 4; ++j) {
            uint64_t w;
            std::memcpy(&w, p + size_t(j) * 8, 8);
            h[j] ^= w * 0x87c37b91114253d5ULL;
            h[j] = ((h[j] << 31) | (h[j] >> 33)) * 0x4cf5ad432745937fULL;
        }
    }
    // Bytes [from, size) of p are the tail after the last block.
    uint64_t finish(const uint8_t* p, size_t from, size_t size) const {
        uint64_t r = mix64(h[0]) ^ mix64(h[1] + 1) ^ mix64(h[2] + 2) ^ mix64(h[3] + 3);
        for (size_t i = from; i < size; ++i) r = (r ^ p[i]) * 0x100000001b3ULL;
        return mix64(r ^ uint64_t(size));
    }
};

uint64_t imageHashSeed(const Image& im) {
    const int64_t dims[3] = {im.width, im.height, im.channels};
    return hashBytes(dims, sizeof dims, 0x5ca1ab1eULL);
}

// Counts of the three channels of RGB pixels in one pass; two tables per
// channel (even and odd pixels) for the same reason as above. With `lanes`,
// every whole 96-byte chunk (32 pixels) is also hashed in the same pass:
// the hash's multiplications run beside the counts' stores, which bound the
// loop (a quarter less time than two passes, measured).
void countRgb(const uint8_t* px, size_t count, std::array<uint64_t, 256>* out,
              HashLanes* lanes = nullptr) {
    uint32_t t[6][256] = {};
    auto countPair = [&t](const uint8_t* p) {
        ++t[0][p[0]];
        ++t[1][p[1]];
        ++t[2][p[2]];
        ++t[3][p[3]];
        ++t[4][p[4]];
        ++t[5][p[5]];
    };
    size_t i = 0;
    while (i < count) {
        // The flush span (2^31 pixels) holds whole chunks, so the hashed
        // chunks are contiguous: the first count / 32 of the image.
        const size_t end = std::min(count, i + (size_t(1) << 31));
        if (lanes)
            for (; i + 32 <= end; i += 32) {
                const uint8_t* p = px + i * 3;
                lanes->block(p);
                lanes->block(p + 32);
                lanes->block(p + 64);
                for (size_t k = 0; k < 96; k += 6) countPair(p + k);
            }
        for (; i + 2 <= end; i += 2) countPair(px + i * 3);
        for (; i < end; ++i) {
            const uint8_t* p = px + i * 3;
            ++t[0][p[0]];
            ++t[1][p[1]];
            ++t[2][p[2]];
        }
        for (int c = 0; c < 3; ++c)
            for (int v = 0; v < 256; ++v) {
                out[c][size_t(v)] += uint64_t(t[c][v]) + t[c + 3][v];
                t[c][v] = t[c + 3][v] = 0;
            }
    }
}

}  // namespace

ChannelStats weightedStats(const float* values, const uint64_t* counts, size_t n) {
    ChannelStats s;
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; ++i) {
        const uint64_t k = counts[i];
        const float v = values[i];
        if (!k) continue;
        if (std::isnan(v)) {
            s.nan += int64_t(k);
        } else if (std::isinf(v)) {
            (v > 0 ? s.posInf : s.negInf) += int64_t(k);
        } else {
            s.count += int64_t(k);
            sum += double(k) * double(v);
            mn = std::min(mn, double(v));
            mx = std::max(mx, double(v));
        }
    }
    if (s.count == 0) return s;
    s.min = mn;
    s.max = mx;
    s.mean = sum / double(s.count);
    // Two passes over the distinct values: no cancellation.
    for (size_t i = 0; i < n; ++i) {
        const double d = double(values[i]) - s.mean;
        if (counts[i] && std::isfinite(values[i])) s.m2 += double(counts[i]) * d * d;
    }
    return s;
}

ChannelStats interleavedStats(const uint8_t* px, size_t count, int stride) {
    std::array<uint64_t, 256> counts{};
    countStrided(px, count, size_t(std::max(stride, 1)), counts);
    return statsOfCounts(counts, count);
}

namespace {

// countBytes, with RGB images also hashed into `lanes` when given (their
// whole 96-byte chunks; see countRgb).
ByteCounts countBytes(const Image& im, HashLanes* lanes) {
    ByteCounts out;
    const size_t count = size_t(im.width) * size_t(im.height);
    if (im.channels <= 0 || im.pixels.size() < count * size_t(im.channels)) return out;
    out.pixels = count;
    out.channels.assign(size_t(im.channels), std::array<uint64_t, 256>{});
    if (im.channels == 3) {
        countRgb(im.pixels.data(), count, out.channels.data(), lanes);
    } else {
        for (int c = 0; c < im.channels; ++c)
            countStrided(im.pixels.data() + c, count, size_t(im.channels), out.channels[size_t(c)]);
    }
    return out;
}

}  // namespace

ByteCounts countBytes(const Image& im) {
    return countBytes(im, nullptr);
}

ValueStats ByteCounts::stats() const {
    ValueStats out;
    out.channels.reserve(channels.size());
    for (const auto& c : channels) out.channels.push_back(statsOfCounts(c, pixels));
    return out;
}

ValueStats tensorStats(const Tensor& t) {
    ValueStats out;
    const int64_t total = t.numel();
    if (total <= 0 || t.values.size() < size_t(total)) return out;
    const size_t nd = t.shape.size();
    int64_t channels = 1, plane = total, outer = 1;
    if (nd >= 3) {
        channels = t.shape[nd - 3];
        plane = t.shape[nd - 2] * t.shape[nd - 1];
        outer = channels && plane ? total / (channels * plane) : 0;
    }
    out.channels.resize(size_t(std::max<int64_t>(channels, 0)));
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t c = 0; c < channels; ++c)
            out.channels[size_t(c)].merge(
                planeStats(t.values.data() + (o * channels + c) * plane, size_t(plane)));
    return out;
}

ValueStats imageStats(const Image& im) { return countBytes(im).stats(); }

ValueStats stageStats(const StageValue& v) {
    return v.isImage() ? imageStats(v.image) : tensorStats(v.tensor);
}

Histogram makeHistogram(double lo, double hi) {
    Histogram h;
    h.lo = lo;
    h.hi = hi > lo ? hi : lo + 1.0;
    return h;
}

namespace {

// Bin slot of one value: 0 = below, 1..kBins = the bins, kBins + 1 = above,
// kBins + 2 = NaN (dropped). x = (v - lo) * scale in float, clamped to
// [-1, kBins]; a value equal to hi (x = kBins) belongs to the last bin
// (closed upper end). Histogram::add's vector path computes the same.
struct Binner {
    static constexpr int kBins = Histogram::kBins;
    float flo, fhi, scale;
    explicit Binner(const Histogram& h)
        : flo(float(h.lo)), fhi(float(h.hi)), scale(float(double(kBins) / (h.hi - h.lo))) {}
    int operator()(float v) const {
        if (v != v) return kBins + 2;
        float x = (v - flo) * scale;
        x = x > -1.f ? x : -1.f;  // also sends a NaN x (0 * inf scale) below
        x = x < float(kBins) ? x : float(kBins);
        const int b = x < 0.f ? 0 : int(x) + 1;
        return b == kBins + 1 && v <= fhi ? kBins : b;
    }
};

}  // namespace

void Histogram::addWeighted(const float* values, const uint64_t* counts, size_t n) {
    const Binner binOf(*this);
    for (size_t i = 0; i < n; ++i) {
        if (!counts[i]) continue;
        const int b = binOf(values[i]);
        if (b == 0)
            below += counts[i];
        else if (b == kBins + 1)
            above += counts[i];
        else if (b <= kBins)
            bins[size_t(b - 1)] += counts[i];
    }
}

void Histogram::add(const float* p, size_t n) {
    // Four count tables so consecutive equal bins do not serialise.
    constexpr int kSlots = kBins + 3;
    const Binner binOf(*this);
    const float flo = binOf.flo, fhi = binOf.fhi, scale = binOf.scale;
    uint32_t counts[4][kSlots] = {};
    auto flush = [&] {
        for (int j = 0; j < 4; ++j) {
            below += counts[j][0];
            above += counts[j][kBins + 1];
            for (int k = 0; k < kBins; ++k) bins[size_t(k)] += counts[j][k + 1];
            std::fill(std::begin(counts[j]), std::end(counts[j]), 0u);
        }
    };
    size_t i = 0;
    while (i < n) {
        // uint32 counters: flush before any could overflow.
        const size_t end = std::min(n, i + (size_t(1) << 31));
#if defined(__SSE2__)
        const __m128 vlo = _mm_set1_ps(flo), vhi = _mm_set1_ps(fhi), vscale = _mm_set1_ps(scale);
        const __m128 vm1 = _mm_set1_ps(-1.f), vtop = _mm_set1_ps(float(kBins)), zero = _mm_setzero_ps();
        const __m128i one = _mm_set1_epi32(1), aboveIdx = _mm_set1_epi32(kBins + 1),
                      nanIdx = _mm_set1_epi32(kBins + 2);
        alignas(16) int32_t idx[4];
        for (; i + 4 <= end; i += 4) {
            const __m128 v = _mm_loadu_ps(p + i);
            __m128 x = _mm_mul_ps(_mm_sub_ps(v, vlo), vscale);
            x = _mm_min_ps(_mm_max_ps(x, vm1), vtop);  // max(NaN, -1) = -1, as above
            __m128i b = _mm_add_epi32(_mm_cvttps_epi32(x), one);
            b = _mm_andnot_si128(_mm_castps_si128(_mm_cmplt_ps(x, zero)), b);
            const __m128i atHi = _mm_and_si128(_mm_cmpeq_epi32(b, aboveIdx),
                                               _mm_castps_si128(_mm_cmple_ps(v, vhi)));
            b = _mm_add_epi32(b, atHi);  // atHi lanes are -1: above -> last bin
            const __m128i isNan = _mm_castps_si128(_mm_cmpunord_ps(v, v));
            b = _mm_or_si128(_mm_andnot_si128(isNan, b), _mm_and_si128(isNan, nanIdx));
            _mm_store_si128(reinterpret_cast<__m128i*>(idx), b);
            ++counts[0][idx[0]];
            ++counts[1][idx[1]];
            ++counts[2][idx[2]];
            ++counts[3][idx[3]];
        }
#else
        for (; i + 4 <= end; i += 4) {
            ++counts[0][binOf(p[i])];
            ++counts[1][binOf(p[i + 1])];
            ++counts[2][binOf(p[i + 2])];
            ++counts[3][binOf(p[i + 3])];
        }
#endif
        for (; i < end; ++i) ++counts[0][binOf(p[i])];
        flush();
    }
}

void Histogram::addInterleaved(const uint8_t* px, size_t count, int stride) {
    std::array<uint64_t, 256> counts{};
    countStrided(px, count, size_t(std::max(stride, 1)), counts);
    addCounts(counts);
}

void Histogram::addCounts(const std::array<uint64_t, 256>& counts) {
    // One mapping per distinct value.
    const double scale = double(kBins) / (hi - lo);
    for (int v = 0; v < 256; ++v) {
        if (!counts[size_t(v)]) continue;
        if (v < lo) {
            below += counts[size_t(v)];
        } else if (v > hi) {
            above += counts[size_t(v)];
        } else {
            const int b = int((double(v) - lo) * scale);
            bins[size_t(std::min(b, kBins - 1))] += counts[size_t(v)];
        }
    }
}

void Histogram::merge(const Histogram& o) {
    for (int i = 0; i < kBins; ++i) bins[size_t(i)] += o.bins[size_t(i)];
    below += o.below;
    above += o.above;
}

uint64_t Histogram::total() const {
    uint64_t t = below + above;
    for (auto b : bins) t += b;
    return t;
}

nlohmann::json Histogram::toJson() const {
    return {{"lo", lo}, {"hi", hi}, {"bins", bins}, {"below", below}, {"above", above}};
}

std::vector<Histogram> channelHistograms(const StageValue& v, double lo, double hi) {
    return channelHistograms(v, std::vector<std::pair<double, double>>{{lo, hi}});
}

std::vector<Histogram> channelHistograms(const StageValue& v,
                                         const std::vector<std::pair<double, double>>& ranges) {
    std::vector<Histogram> out;
    if (ranges.empty()) return out;
    auto rangeOf = [&](size_t c) { return ranges[std::min(c, ranges.size() - 1)]; };
    if (v.isImage()) {
        const ByteCounts counts = countBytes(v.image);
        for (size_t c = 0; c < counts.channels.size(); ++c) {
            out.push_back(makeHistogram(rangeOf(c).first, rangeOf(c).second));
            out.back().addCounts(counts.channels[c]);
        }
        return out;
    }
    const Tensor& t = v.tensor;
    const int64_t total = t.numel();
    if (total <= 0 || t.values.size() < size_t(total)) return out;
    const size_t nd = t.shape.size();
    int64_t channels = 1, plane = total;
    if (nd >= 3) {
        channels = t.shape[nd - 3];
        plane = t.shape[nd - 2] * t.shape[nd - 1];
    }
    if (channels <= 0 || plane <= 0) return out;
    const int64_t outer = total / (channels * plane);
    for (int64_t c = 0; c < channels; ++c)
        out.push_back(makeHistogram(rangeOf(size_t(c)).first, rangeOf(size_t(c)).second));
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t c = 0; c < channels; ++c)
            out[size_t(c)].add(t.values.data() + (o * channels + c) * plane, size_t(plane));
    return out;
}

std::vector<Histogram> channelHistogramsAuto(const StageValue& v) {
    const ValueStats s = stageStats(v);
    std::vector<std::pair<double, double>> ranges;
    for (const auto& c : s.channels) {
        double lo = c.min, hi = c.max;
        if (!(hi > lo)) {
            lo -= 0.5;
            hi += 0.5;
        }
        ranges.emplace_back(lo, hi);
    }
    if (ranges.empty()) return {};
    auto out = channelHistograms(v, ranges);
    out.resize(std::min(out.size(), ranges.size()));
    return out;
}

void RunningStats::add(const ValueStats& s) {
    if (channels_.size() < s.channels.size()) channels_.resize(s.channels.size());
    for (size_t c = 0; c < s.channels.size(); ++c) channels_[c].merge(s.channels[c]);
    ++samples_;
}

void RunningStats::merge(const RunningStats& o) {
    if (channels_.size() < o.channels_.size()) channels_.resize(o.channels_.size());
    for (size_t c = 0; c < o.channels_.size(); ++c) channels_[c].merge(o.channels_[c]);
    samples_ += o.samples_;
}

nlohmann::json RunningStats::toJson() const {
    nlohmann::json ch = nlohmann::json::array();
    for (const auto& c : channels_) ch.push_back(c.toJson());
    return {{"samples", samples_}, {"channels", ch}};
}

uint64_t hashBytes(const void* data, size_t size, uint64_t seed) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    HashLanes lanes(seed);
    size_t i = 0;
    for (; i + 32 <= size; i += 32) lanes.block(p + i);
    return lanes.finish(p, i, size);
}

uint64_t hashImage(const Image& im) {
    return hashBytes(im.pixels.data(), im.pixels.size(), imageHashSeed(im));
}

ByteCounts countAndHashBytes(const Image& im, uint64_t& pixelHash) {
    const size_t count = size_t(im.width) * size_t(im.height);
    const bool rgb = im.channels == 3 && im.pixels.size() >= count * 3;
    HashLanes lanes(imageHashSeed(im));
    ByteCounts out = countBytes(im, rgb ? &lanes : nullptr);
    if (!rgb) {
        pixelHash = hashImage(im);
        return out;
    }
    // countRgb hashed the whole 96-byte chunks; the rest goes on here.
    const uint8_t* p = im.pixels.data();
    const size_t size = im.pixels.size();
    size_t i = count / 32 * 96;
    for (; i + 32 <= size; i += 32) lanes.block(p + i);
    pixelHash = lanes.finish(p, i, size);
    return out;
}

uint64_t hashTensor(const Tensor& t) {
    const uint64_t seed = hashBytes(t.shape.data(), t.shape.size() * sizeof(int64_t), 0x7e45ULL);
    return hashBytes(t.values.data(), t.values.size() * sizeof(float), seed);
}

}  // namespace bs
