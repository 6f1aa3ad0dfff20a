#include "ui/render/render.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/audit/stats.h"

namespace bs::ui {

DisplayRange DisplayRange::uniform(double l, double h, Mode m) {
    DisplayRange r;
    r.mode = m;
    r.lo = {l, l, l};
    r.hi = {h, h, h};
    return r;
}

// Enough digits that lo and hi print differently (a collapsed range such as
// [0.000251, 0.000253] must not read as one number).
static QString pairNum(double lo, double hi, QString& hiText) {
    for (int digits = 4; digits <= 10; ++digits) {
        const QString a = QString::number(lo, 'g', digits), b = QString::number(hi, 'g', digits);
        if (a != b || digits == 10) {
            hiText = b;
            return a;
        }
    }
    return {};
}

QString DisplayRange::spanText() const {
    QString span, h0, h1, h2;
    const bool same = lo[0] == lo[1] && lo[1] == lo[2] && hi[0] == hi[1] && hi[1] == hi[2];
    if (same)
        span = QStringLiteral("[%1, %2]").arg(pairNum(lo[0], hi[0], h0), h0);
    else {
        const QString l0 = pairNum(lo[0], hi[0], h0), l1 = pairNum(lo[1], hi[1], h1),
                      l2 = pairNum(lo[2], hi[2], h2);
        span = QStringLiteral("R[%1, %2] G[%3, %4] B[%5, %6]").arg(l0, h0, l1, h1, l2, h2);
    }
    return span;
}

QString DisplayRange::describe() const {
    const QString span = spanText();
    static const char* names[] = {"best-known expected range", "sample min/max", "batch min/max",
                                  "manual: fixed range, absolute values"};
    QString s = QStringLiteral("Display %1 → black..white (%2)").arg(span, names[int(mode)]);
    if (!origin.isEmpty()) s += QStringLiteral(": ") + origin;
    return s;
}

QImage toQImage(const bs::Image& im) {
    if (im.empty() || im.width <= 0 || im.height <= 0) return {};
    // Copy row by row: the QImage allocates and owns its buffer, the core
    // Image may be freed as soon as the worker result is dropped.
    if (im.channels == 1) {
        QImage out(im.width, im.height, QImage::Format_Grayscale8);
        for (int y = 0; y < im.height; ++y) std::copy_n(im.row(y), im.width, out.scanLine(y));
        return out;
    }
    QImage out(im.width, im.height, QImage::Format_RGB888);
    for (int y = 0; y < im.height; ++y) {
        const uint8_t* src = im.row(y);
        uchar* dst = out.scanLine(y);
        if (im.channels == 3) {
            std::copy_n(src, size_t(im.width) * 3, dst);
        } else {
            for (int x = 0; x < im.width; ++x)
                for (int c = 0; c < 3; ++c)
                    dst[x * 3 + c] = src[x * im.channels + std::min(c, im.channels - 1)];
        }
    }
    return out;
}

Planes planesOf(const bs::Tensor& t) {
    Planes p;
    const size_t d = t.shape.size();
    if (d >= 3) {
        p.c = int(t.shape[d - 3]);
        p.h = int(t.shape[d - 2]);
        p.w = int(t.shape[d - 1]);
        p.n = 1;
        for (size_t i = 0; i + 3 < d; ++i) p.n *= t.shape[i];
    } else if (d == 2) {
        p.c = 1;
        p.h = int(t.shape[0]);
        p.w = int(t.shape[1]);
    } else if (d == 1) {
        p.c = 1;
        p.h = 1;
        p.w = int(t.shape[0]);
    }
    return p;
}

// Values computed in float32 (ToTensor, Normalize) land a few ulps past a
// range computed in double: (1 - 0.485f) / 0.229f is above (1 - 0.485) /
// 0.229, so every white pixel of a clean image would be flagged "above".
// A relative slack of 1e-5 absorbs rounding and hides no real excursion.
static double rangeSlack(double lo, double hi) {
    return 1e-5 * std::max({1.0, std::fabs(lo), std::fabs(hi)});
}

// Decides whether the rendered sample is a sliver of its range and, with
// the overlay on, stripes its in-range pixels (out-of-range colours stay).
static void markCollapsed(QImage& out, const double* vmin, const double* vmax, int shown,
                          const RenderOptions& o, OverlayCounts& cnt) {
    double worst = 0;
    bool any = false;
    for (int k = 0; k < shown; ++k) {
        if (!(vmax[k] >= vmin[k])) continue;  // no finite value in this channel
        const int c = std::min(k, 2);
        const double span = o.range.hi[c] - o.range.lo[c];
        if (!(span > 0)) return;
        worst = std::max(worst, (vmax[k] - vmin[k]) / span);
        any = true;
    }
    cnt.spread = worst;
    cnt.collapsed = any && o.collapseFraction > 0 && worst < o.collapseFraction && cnt.total > 1;
    if (!cnt.collapsed || !o.overlay) return;
    const QColor& col = o.colors.collapsed;
    for (int y = 0; y < out.height(); ++y) {
        uchar* dst = out.scanLine(y);
        for (int x = 0; x < out.width(); ++x) {
            if (((x + y) / 3) % 3 != 0) continue;  // diagonal stripes, one in three
            const QColor here(dst[x * 3], dst[x * 3 + 1], dst[x * 3 + 2]);
            if (here == o.colors.below || here == o.colors.above || here == o.colors.nan ||
                here == o.colors.inf)
                continue;
            dst[x * 3] = uchar(col.red());
            dst[x * 3 + 1] = uchar(col.green());
            dst[x * 3 + 2] = uchar(col.blue());
        }
    }
}

namespace {

// How the shown channels map to R, G, B and to grey levels, and where each
// stops being in range.
struct ChannelMap {
    int src[3];  // source channel of R, G, B
    int shown;   // 1 (grey: solo or one channel) or 3
    double lo[3], scale[3], below[3], above[3];

    ChannelMap(int C, const RenderOptions& o) {
        if (o.solo >= 0 && o.solo < C) {
            src[0] = src[1] = src[2] = o.solo;
        } else if (C >= 3) {
            src[0] = 0, src[1] = 1, src[2] = 2;
        } else {
            src[0] = src[1] = src[2] = 0;
        }
        for (int k = 0; k < 3; ++k) {
            const int c = std::min(src[k], 2);
            lo[k] = o.range.lo[c];
            const double slack = rangeSlack(o.range.lo[c], o.range.hi[c]);
            below[k] = o.range.lo[c] - slack;
            above[k] = o.range.hi[c] + slack;
            const double span = o.range.hi[c] - o.range.lo[c];
            scale[k] = span > 0 ? 255.0 / span : 0.0;
        }
        shown = (src[0] == src[1] && src[1] == src[2]) ? 1 : 3;
    }

    // 0 in range, 1 below, 2 above, 3 inf, 4 NaN (worse is larger).
    int classify(int k, float v) const {
        if (std::isnan(v)) return 4;
        if (std::isinf(v)) return 3;
        if (v > above[k]) return 2;
        if (v < below[k]) return 1;
        return 0;
    }
    // Grey level in [0, 255] (not rounded); infinities saturate, NaN is black.
    double grey(int k, float v) const {
        double g = std::isfinite(v) ? (double(v) - lo[k]) * scale[k] : (v > 0 ? 255.0 : 0.0);
        if (!(g >= 0)) g = 0;  // also NaN
        return g > 255 ? 255 : g;
    }
};

void countClass(OverlayCounts& cnt, int cls) {
    switch (cls) {
        case 1:
            ++cnt.below;
            break;
        case 2:
            ++cnt.above;
            break;
        case 3:
            ++cnt.inf;
            break;
        case 4:
            ++cnt.nan;
            break;
        default:
            break;
    }
}

const QColor& classColour(const OverlayColors& colors, int cls) {
    return cls == 1 ? colors.below : cls == 2 ? colors.above : cls == 3 ? colors.inf : colors.nan;
}

// True when `known` proves every shown value finite and inside the range.
bool knownClean(const ChannelExtent* known, int C, const ChannelMap& map) {
    if (!known || known->nonFinite != 0) return false;
    if (known->min.size() < size_t(C) || known->max.size() < size_t(C)) return false;
    for (int k = 0; k < map.shown; ++k) {
        const size_t c = size_t(map.src[k]);
        if (!(known->min[c] >= map.below[k] && known->max[c] <= map.above[k])) return false;
    }
    return true;
}

// The clean case: block sums per output row, then one mapping per output
// pixel. The mapping is linear and nothing is clipped but rounding slack, so
// the grey of the mean equals the mean of the greys.
void renderClean(const float* data, int H, int W, int reduce, const ChannelMap& map, QImage& out) {
    const size_t plane = size_t(H) * W;
    const int outW = out.width();
    std::vector<float> sums(static_cast<size_t>(outW));
    for (int k = 0; k < map.shown; ++k) {
        const float* src = data + size_t(map.src[k]) * plane;
        for (int oy = 0; oy < out.height(); ++oy) {
            std::fill(sums.begin(), sums.end(), 0.f);
            const int y0 = oy * reduce, y1 = std::min(H, y0 + reduce);
            for (int y = y0; y < y1; ++y) {
                const float* row = src + size_t(y) * W;
                for (int ox = 0, x = 0; ox < outW; ++ox)
                    for (const int x1 = std::min(W, x + reduce); x < x1; ++x) sums[ox] += row[x];
            }
            uchar* dst = out.scanLine(oy);
            for (int ox = 0; ox < outW; ++ox) {
                const int n = (y1 - y0) * (std::min(W, (ox + 1) * reduce) - ox * reduce);
                double g = (double(sums[ox]) / n - map.lo[k]) * map.scale[k];
                g = std::clamp(g, 0.0, 255.0);
                dst[ox * 3 + k] = uchar(g + 0.5);
                if (map.shown == 1) dst[ox * 3 + 1] = dst[ox * 3 + 2] = dst[ox * 3];
            }
        }
    }
}

}  // namespace

QImage renderPlanes(const float* data, int C, int H, int W, const RenderOptions& o,
                    OverlayCounts* counts, int reduce, const ChannelExtent* known) {
    OverlayCounts cnt;
    reduce = std::max(1, reduce);
    if (!data || C <= 0 || H <= 0 || W <= 0) {
        if (counts) *counts = cnt;
        return {};
    }
    // Each output pixel is the mean grey of a reduce x reduce block (partial
    // at the right and bottom edges) and takes the overlay colour of the
    // block's worst pixel, so one bad pixel still shows in a thumbnail.
    const int outW = (W + reduce - 1) / reduce, outH = (H + reduce - 1) / reduce;
    QImage out(outW, outH, QImage::Format_RGB888);
    const size_t plane = size_t(H) * W;
    const ChannelMap map(C, o);
    cnt.total = int64_t(plane);
    double vmin[3] = {HUGE_VAL, HUGE_VAL, HUGE_VAL}, vmax[3] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
    if (knownClean(known, C, map)) {
        renderClean(data, H, W, reduce, map, out);
        for (int k = 0; k < map.shown; ++k)
            vmin[k] = known->min[size_t(map.src[k])], vmax[k] = known->max[size_t(map.src[k])];
        markCollapsed(out, vmin, vmax, map.shown, o, cnt);
        if (counts) *counts = cnt;
        return out;
    }
    for (int oy = 0; oy < outH; ++oy) {
        uchar* dst = out.scanLine(oy);
        const int y0 = oy * reduce, y1 = std::min(H, y0 + reduce);
        for (int ox = 0; ox < outW; ++ox) {
            const int x0 = ox * reduce, x1 = std::min(W, x0 + reduce);
            double sum[3] = {0, 0, 0};
            int worst = 0;
            for (int y = y0; y < y1; ++y) {
                for (int x = x0; x < x1; ++x) {
                    const size_t p = size_t(y) * W + x;
                    int cls = 0;
                    for (int k = 0; k < map.shown; ++k) {
                        const float v = data[size_t(map.src[k]) * plane + p];
                        cls = std::max(cls, map.classify(k, v));
                        if (std::isfinite(v))
                            vmin[k] = std::min(vmin[k], double(v)),
                            vmax[k] = std::max(vmax[k], double(v));
                        sum[k] += map.grey(k, v);
                    }
                    countClass(cnt, cls);
                    worst = std::max(worst, cls);
                }
            }
            const double n = double(y1 - y0) * (x1 - x0);
            for (int k = 0; k < 3; ++k)
                dst[ox * 3 + k] = uchar(std::lround(sum[map.shown == 1 ? 0 : k] / n));
            if (o.overlay && worst) {
                const QColor& col = classColour(o.colors, worst);
                dst[ox * 3] = uchar(col.red());
                dst[ox * 3 + 1] = uchar(col.green());
                dst[ox * 3 + 2] = uchar(col.blue());
            }
        }
    }
    markCollapsed(out, vmin, vmax, map.shown, o, cnt);
    if (counts) *counts = cnt;
    return out;
}

QImage renderTensor(const bs::Tensor& t, const RenderOptions& o, OverlayCounts* counts) {
    const Planes p = planesOf(t);
    if (t.values.size() < size_t(p.c) * p.h * p.w) {
        if (counts) *counts = {};
        return {};
    }
    return renderPlanes(t.values.data(), p.c, p.h, p.w, o, counts);
}

// Visits every value of channel c of a CHW/NCHW tensor.
template <typename F>
static void forChannel(const bs::Tensor& t, const Planes& p, int c, F&& f) {
    const size_t plane = size_t(p.h) * p.w;
    for (int64_t n = 0; n < p.n; ++n) {
        const float* base = t.values.data() + (size_t(n) * p.c + c) * plane;
        for (size_t i = 0; i < plane; ++i) f(base[i]);
    }
}

ChannelExtent planeExtent(const float* data, int channels, size_t plane) {
    ChannelExtent e = emptyExtent(channels);
    for (int c = 0; c < channels; ++c) {
        const float* p = data + size_t(c) * plane;
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        for (size_t i = 0; i < plane; ++i) {
            if (!std::isfinite(p[i])) {
                ++e.nonFinite;
                continue;
            }
            lo = std::min(lo, p[i]);
            hi = std::max(hi, p[i]);
        }
        if (lo <= hi) e.min[size_t(c)] = lo, e.max[size_t(c)] = hi;
    }
    return e;
}

ChannelExtent emptyExtent(int channels) {
    ChannelExtent e;
    e.min.assign(size_t(std::max(channels, 0)), std::numeric_limits<double>::quiet_NaN());
    e.max = e.min;
    e.nonFinite = 0;
    return e;
}

void joinExtent(ChannelExtent& into, const ChannelExtent& e) {
    for (size_t c = 0; c < into.min.size() && c < e.min.size(); ++c) {
        // fmin/fmax skip NaN: a channel without finite values stays NaN.
        into.min[c] = std::fmin(into.min[c], e.min[c]);
        into.max[c] = std::fmax(into.max[c], e.max[c]);
    }
    into.nonFinite = into.nonFinite < 0 || e.nonFinite < 0 ? -1 : into.nonFinite + e.nonFinite;
}

ChannelExtent tensorExtent(const bs::Tensor& t) {
    const Planes p = planesOf(t);
    ChannelExtent out = emptyExtent(p.c);
    const size_t plane = size_t(p.h) * p.w;
    if (t.values.size() < size_t(p.n) * p.c * plane) return out;
    for (int64_t n = 0; n < p.n; ++n)
        joinExtent(out, planeExtent(t.values.data() + size_t(n) * p.c * plane, p.c, plane));
    return out;
}

ChannelHistograms computeHistogram(const bs::Tensor& t, double lo, double hi,
                                   const ChannelExtent* known) {
    ChannelHistograms h;
    const Planes p = planesOf(t);
    const size_t plane = size_t(p.h) * p.w;
    if (t.values.size() < size_t(p.n) * p.c * plane || p.c <= 0) return h;
    const bool usable = known && known->nonFinite >= 0 && known->min.size() == size_t(p.c) &&
                        known->max.size() == size_t(p.c);
    const ChannelExtent extent = usable ? *known : tensorExtent(t);
    h.min = extent.min;
    h.max = extent.max;
    h.channels.assign(size_t(p.c), bs::makeHistogram(lo, hi));
    for (int64_t n = 0; n < p.n; ++n)
        for (int c = 0; c < p.c; ++c)
            h.channels[size_t(c)].add(t.values.data() + (size_t(n) * p.c + size_t(c)) * plane,
                                      plane);
    // Core's histogram bins every value but NaN (Inf below/above).
    for (const bs::Histogram& ch : h.channels) h.nan += int64_t(size_t(p.n) * plane - ch.total());
    h.inf = extent.nonFinite - h.nan;
    return h;
}

ChannelHistograms computeHistogramAuto(const bs::Tensor& t, const DisplayRange* expected,
                                       const ChannelExtent* known) {
    const bool usable = known && known->nonFinite >= 0;
    const ChannelExtent extent = usable ? *known : tensorExtent(t);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (size_t c = 0; c < extent.min.size() && c < extent.max.size(); ++c) {
        if (std::isnan(extent.min[c])) continue;
        lo = std::min(lo, extent.min[c]);
        hi = std::max(hi, extent.max[c]);
    }
    if (expected) {
        for (int c = 0; c < 3; ++c) {
            lo = std::min(lo, expected->lo[c]);
            hi = std::max(hi, expected->hi[c]);
        }
    }
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) hi = lo + 1;
    return computeHistogram(t, lo, hi, &extent);
}

ChannelHistograms byteHistogram(const bs::Image& image) {
    ChannelHistograms h;
    const bs::ByteCounts bytes = bs::countBytes(image);
    for (const auto& counts : bytes.channels) {
        bs::Histogram ch = bs::makeHistogram(0, 256);
        ch.addCounts(counts);
        int first = -1, last = -1;
        for (int v = 0; v < 256; ++v) {
            if (!counts[size_t(v)]) continue;
            if (first < 0) first = v;
            last = v;
        }
        h.channels.push_back(ch);
        h.min.push_back(std::max(first, 0));
        h.max.push_back(std::max(last, 0));
    }
    return h;
}

}  // namespace bs::ui
