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

QImage renderPlanes(const float* data, int C, int H, int W, const RenderOptions& o,
                    OverlayCounts* counts) {
    OverlayCounts cnt;
    if (!data || C <= 0 || H <= 0 || W <= 0) {
        if (counts) *counts = cnt;
        return {};
    }
    QImage out(W, H, QImage::Format_RGB888);
    const size_t plane = size_t(H) * W;
    // Which source channel feeds each of R, G, B.
    int src[3];
    if (o.solo >= 0 && o.solo < C) {
        src[0] = src[1] = src[2] = o.solo;
    } else if (C >= 3) {
        src[0] = 0, src[1] = 1, src[2] = 2;
    } else {
        src[0] = src[1] = src[2] = 0;
    }
    double lo[3], scale[3], below[3], above[3];
    for (int k = 0; k < 3; ++k) {
        const int c = std::min(src[k], 2);
        lo[k] = o.range.lo[c];
        const double slack = rangeSlack(o.range.lo[c], o.range.hi[c]);
        below[k] = o.range.lo[c] - slack;
        above[k] = o.range.hi[c] + slack;
        const double span = o.range.hi[c] - o.range.lo[c];
        scale[k] = span > 0 ? 255.0 / span : 0.0;
    }
    const int shown = (src[0] == src[1] && src[1] == src[2]) ? 1 : 3;
    cnt.total = int64_t(plane);
    double vmin[3] = {HUGE_VAL, HUGE_VAL, HUGE_VAL}, vmax[3] = {-HUGE_VAL, -HUGE_VAL, -HUGE_VAL};
    for (int y = 0; y < H; ++y) {
        uchar* dst = out.scanLine(y);
        for (int x = 0; x < W; ++x) {
            const size_t p = size_t(y) * W + x;
            int cls = 0;  // 0 ok, 1 below, 2 above, 3 inf, 4 nan
            for (int k = 0; k < 3; ++k) {
                const float v = data[size_t(src[k]) * plane + p];
                int c = 0;
                if (std::isnan(v)) {
                    c = 4;
                } else if (std::isinf(v)) {
                    c = 3;
                } else if (v > above[k]) {
                    c = 2;
                } else if (v < below[k]) {
                    c = 1;
                }
                cls = std::max(cls, c);
                if (std::isfinite(v)) vmin[k] = std::min(vmin[k], double(v)), vmax[k] = std::max(vmax[k], double(v));
                double g =
                    std::isfinite(v) ? (double(v) - lo[k]) * scale[k] : (v > 0 ? 255.0 : 0.0);
                if (!(g >= 0)) g = 0;  // also NaN
                if (g > 255) g = 255;
                dst[x * 3 + k] = uchar(std::lround(g));
                if (shown == 1) {
                    dst[x * 3 + 1] = dst[x * 3 + 2] = dst[x * 3];
                    break;
                }
            }
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
            if (o.overlay && cls) {
                const QColor& col = cls == 1   ? o.colors.below
                                    : cls == 2 ? o.colors.above
                                    : cls == 3 ? o.colors.inf
                                               : o.colors.nan;
                dst[x * 3] = uchar(col.red());
                dst[x * 3 + 1] = uchar(col.green());
                dst[x * 3 + 2] = uchar(col.blue());
            }
        }
    }
    markCollapsed(out, vmin, vmax, shown, o, cnt);
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

int64_t Histogram::binOf(int, double v) const {
    if (bins <= 0 || !(v >= lo) || !(v <= hi)) return -1;
    if (hi <= lo) return 0;
    int64_t b = int64_t(std::floor((v - lo) / (hi - lo) * bins));
    return std::clamp<int64_t>(b, 0, bins - 1);
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

void channelMinMax(const bs::Tensor& t, std::vector<double>& mins, std::vector<double>& maxs) {
    const Planes p = planesOf(t);
    mins.assign(size_t(p.c), std::numeric_limits<double>::quiet_NaN());
    maxs = mins;
    if (t.values.size() < size_t(p.n) * p.c * p.h * p.w) return;
    for (int c = 0; c < p.c; ++c) {
        double mn = std::numeric_limits<double>::infinity(), mx = -mn;
        forChannel(t, p, c, [&](float v) {
            if (std::isfinite(v)) {
                mn = std::min(mn, double(v));
                mx = std::max(mx, double(v));
            }
        });
        if (mn <= mx) mins[c] = mn, maxs[c] = mx;
    }
}

Histogram computeHistogram(const bs::Tensor& t, int bins, double lo, double hi) {
    Histogram h;
    const Planes p = planesOf(t);
    h.lo = lo;
    h.hi = hi;
    h.bins = std::max(1, bins);
    if (t.values.size() < size_t(p.n) * p.c * p.h * p.w || p.c <= 0) return h;
    h.counts.assign(size_t(p.c), std::vector<int64_t>(size_t(h.bins), 0));
    h.below.assign(size_t(p.c), 0);
    h.above = h.nan = h.inf = h.below;
    channelMinMax(t, h.min, h.max);
    const double k = hi > lo ? h.bins / (hi - lo) : 0.0;
    const double slack = rangeSlack(lo, hi);
    for (int c = 0; c < p.c; ++c) {
        auto& row = h.counts[c];
        forChannel(t, p, c, [&](float v) {
            if (std::isnan(v)) {
                ++h.nan[c];
            } else if (std::isinf(v)) {
                ++h.inf[c];
            } else if (v < lo - slack) {
                ++h.below[c];
            } else if (v > hi + slack) {
                ++h.above[c];
            } else {
                int64_t b = int64_t((double(v) - lo) * k);
                b = std::clamp<int64_t>(b, 0, h.bins - 1);  // within the slack
                ++row[size_t(b)];
            }
        });
    }
    return h;
}

Histogram computeHistogramAuto(const bs::Tensor& t, int bins, const DisplayRange* expected) {
    std::vector<double> mins, maxs;
    channelMinMax(t, mins, maxs);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (size_t c = 0; c < mins.size(); ++c) {
        if (std::isnan(mins[c])) continue;
        lo = std::min(lo, mins[c]);
        hi = std::max(hi, maxs[c]);
    }
    if (expected) {
        for (int c = 0; c < 3; ++c) {
            lo = std::min(lo, expected->lo[c]);
            hi = std::max(hi, expected->hi[c]);
        }
    }
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-12) hi = lo + 1;
    return computeHistogram(t, bins, lo, hi);
}

Histogram byteHistogram(const bs::Image& image) {
    Histogram h;
    const bs::ByteCounts bytes = bs::countBytes(image);
    const int channels = int(bytes.channels.size());
    h.lo = 0;
    h.hi = 256;
    h.bins = 256;
    h.counts.assign(size_t(channels), std::vector<int64_t>(256, 0));
    h.min.assign(size_t(channels), 0);
    h.max.assign(size_t(channels), 0);
    h.below.assign(size_t(channels), 0);
    h.above = h.nan = h.inf = h.below;
    for (int c = 0; c < channels; ++c) {
        const auto& counts = bytes.channels[size_t(c)];
        int first = -1, last = -1;
        for (int v = 0; v < 256; ++v) {
            h.counts[size_t(c)][size_t(v)] = int64_t(counts[size_t(v)]);
            if (!counts[size_t(v)]) continue;
            if (first < 0) first = v;
            last = v;
        }
        h.min[size_t(c)] = std::max(first, 0);
        h.max[size_t(c)] = std::max(last, 0);
    }
    return h;
}

}  // namespace bs::ui
