#include "core/stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

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

ChannelStats interleavedStats(const uint8_t* px, size_t count, int stride) {
    ChannelStats s;
    if (count == 0) return s;
    uint64_t sum = 0, sq = 0;
    int mn = 255, mx = 0;
    for (size_t i = 0; i < count; ++i) {
        const int v = px[i * size_t(stride)];
        sum += uint64_t(v);
        sq += uint64_t(v * v);
        mn = std::min(mn, v);
        mx = std::max(mx, v);
    }
    s.count = int64_t(count);
    s.min = mn;
    s.max = mx;
    s.mean = double(sum) / double(count);
    // Integer sums are exact, so the textbook formula is safe here.
    s.m2 = std::max(0.0, double(sq) - double(sum) * double(sum) / double(count));
    return s;
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

ValueStats imageStats(const Image& im) {
    ValueStats out;
    const size_t count = size_t(im.width) * size_t(im.height);
    if (im.channels <= 0 || im.pixels.size() < count * size_t(im.channels)) return out;
    out.channels.resize(size_t(im.channels));
    if (im.channels == 3) {
        // One pass over RGB with exact integer sums.
        uint64_t sum[3] = {}, sq[3] = {};
        int mn[3] = {255, 255, 255}, mx[3] = {0, 0, 0};
        const uint8_t* p = im.pixels.data();
        for (size_t i = 0; i < count; ++i, p += 3) {
            for (int c = 0; c < 3; ++c) {
                const int v = p[c];
                sum[c] += uint64_t(v);
                sq[c] += uint64_t(v * v);
                mn[c] = std::min(mn[c], v);
                mx[c] = std::max(mx[c], v);
            }
        }
        for (int c = 0; c < 3 && count; ++c) {
            ChannelStats& s = out.channels[size_t(c)];
            s.count = int64_t(count);
            s.min = mn[c];
            s.max = mx[c];
            s.mean = double(sum[c]) / double(count);
            s.m2 = std::max(0.0, double(sq[c]) - double(sum[c]) * double(sum[c]) / double(count));
        }
        return out;
    }
    for (int c = 0; c < im.channels; ++c)
        out.channels[size_t(c)] = interleavedStats(im.pixels.data() + c, count, im.channels);
    return out;
}

ValueStats stageStats(const StageValue& v) {
    return v.isImage() ? imageStats(v.image) : tensorStats(v.tensor);
}

Histogram makeHistogram(double lo, double hi) {
    Histogram h;
    h.lo = lo;
    h.hi = hi > lo ? hi : lo + 1.0;
    return h;
}

void Histogram::add(const float* p, size_t n) {
    // Branch-light binning: index -1 = below, kBins = above (or exactly hi),
    // four count arrays so consecutive equal bins do not serialise.
    const float flo = float(lo), fhi = float(hi);
    const float scale = float(double(kBins) / (hi - lo));
    uint32_t counts[4][kBins + 2] = {};
    uint64_t atHi = 0;
    size_t i = 0;
    auto binOf = [&](float v) {
        const float x = std::min(std::max((v - flo) * scale, -1.f), float(kBins));
        return x < 0.f ? 0 : int(x) + 1;  // below -> 0, [0,1) -> 1, ..., kBins -> kBins + 1
    };
    for (; i + 4 <= n; i += 4) {
        for (int j = 0; j < 4; ++j) {
            const float v = p[i + size_t(j)];
            if (v != v) continue;  // NaN
            const int b = binOf(v);
            ++counts[j][b];
            atHi += (b == kBins + 1) & (v <= fhi);
        }
        if ((i & 0x3fffff) == 0 && i) {  // avoid 32-bit overflow on huge inputs
            for (int j = 0; j < 4; ++j) {
                below += counts[j][0];
                above += counts[j][kBins + 1];
                for (int k = 0; k < kBins; ++k) bins[size_t(k)] += counts[j][k + 1];
                std::fill(std::begin(counts[j]), std::end(counts[j]), 0u);
            }
        }
    }
    for (; i < n; ++i) {
        const float v = p[i];
        if (v != v) continue;
        const int b = binOf(v);
        ++counts[0][b];
        atHi += (b == kBins + 1) & (v <= fhi);
    }
    for (int j = 0; j < 4; ++j) {
        below += counts[j][0];
        above += counts[j][kBins + 1];
        for (int k = 0; k < kBins; ++k) bins[size_t(k)] += counts[j][k + 1];
    }
    // Values equal to hi belong to the last bin (closed upper end).
    above -= atHi;
    bins[kBins - 1] += atHi;
}

void Histogram::addInterleaved(const uint8_t* px, size_t count, int stride) {
    // 256 value counts first, then one mapping per distinct value.
    uint64_t counts[256] = {};
    for (size_t i = 0; i < count; ++i) ++counts[px[i * size_t(stride)]];
    const double scale = double(kBins) / (hi - lo);
    for (int v = 0; v < 256; ++v) {
        if (!counts[v]) continue;
        if (v < lo) {
            below += counts[v];
        } else if (v > hi) {
            above += counts[v];
        } else {
            const int b = int((double(v) - lo) * scale);
            bins[size_t(std::min(b, kBins - 1))] += counts[v];
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
    std::vector<Histogram> out;
    if (v.isImage()) {
        const Image& im = v.image;
        const size_t count = size_t(im.width) * size_t(im.height);
        if (im.pixels.size() < count * size_t(std::max(im.channels, 0))) return out;
        for (int c = 0; c < im.channels; ++c) {
            out.push_back(makeHistogram(lo, hi));
            out.back().addInterleaved(im.pixels.data() + c, count, im.channels);
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
    out.assign(size_t(channels), makeHistogram(lo, hi));
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t c = 0; c < channels; ++c)
            out[size_t(c)].add(t.values.data() + (o * channels + c) * plane, size_t(plane));
    return out;
}

std::vector<Histogram> channelHistogramsAuto(const StageValue& v) {
    const ValueStats s = stageStats(v);
    std::vector<Histogram> out;
    for (size_t c = 0; c < s.channels.size(); ++c) {
        double lo = s.channels[c].min, hi = s.channels[c].max;
        if (!(hi > lo)) {
            lo -= 0.5;
            hi += 0.5;
        }
        auto one = channelHistograms(v, lo, hi);
        if (c < one.size()) out.push_back(one[c]);
    }
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

namespace {
inline uint64_t mix64(uint64_t h) {
    // Murmur3's finaliser: full avalanche of the running state.
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
}  // namespace

uint64_t hashBytes(const void* data, size_t size, uint64_t seed) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    // Four independent 64-bit lanes for speed; each word is multiplied and
    // rotated in, then the lanes are folded together with the length.
    uint64_t h[4] = {seed ^ 0x9e3779b97f4a7c15ULL, seed + 0x632be59bd9b4e019ULL,
                     seed ^ 0x8cb92ba72f3d8dd7ULL, seed - 0x3c6ef372fe94f82bULL};
    size_t i = 0;
    for (; i + 32 <= size; i += 32) {
        for (int j = 0; j < 4; ++j) {
            uint64_t w;
            std::memcpy(&w, p + i + size_t(j) * 8, 8);
            h[j] ^= w * 0x87c37b91114253d5ULL;
            h[j] = ((h[j] << 31) | (h[j] >> 33)) * 0x4cf5ad432745937fULL;
        }
    }
    uint64_t r = mix64(h[0]) ^ mix64(h[1] + 1) ^ mix64(h[2] + 2) ^ mix64(h[3] + 3);
    for (; i < size; ++i) r = (r ^ p[i]) * 0x100000001b3ULL;
    return mix64(r ^ uint64_t(size));
}

uint64_t hashImage(const Image& im) {
    const int64_t dims[3] = {im.width, im.height, im.channels};
    const uint64_t seed = hashBytes(dims, sizeof dims, 0x5ca1ab1eULL);
    return hashBytes(im.pixels.data(), im.pixels.size(), seed);
}

uint64_t hashTensor(const Tensor& t) {
    const uint64_t seed = hashBytes(t.shape.data(), t.shape.size() * sizeof(int64_t), 0x7e45ULL);
    return hashBytes(t.values.data(), t.values.size() * sizeof(float), seed);
}

}  // namespace bs
