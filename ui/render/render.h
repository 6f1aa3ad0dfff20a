// Widget-free rendering of tensors and images to QImage, and histograms.
// Safe to call from worker threads (QImage, not QPixmap) and on the offscreen
// platform (the screenshot export uses it headless).
#pragma once

#include <QColor>
#include <QImage>
#include <QString>

#include <array>
#include <cstdint>
#include <vector>

#include "core/common/types.h"

namespace bs::ui {

// The mapping of tensor values to screen intensities: value lo -> black,
// hi -> white, per channel. Always shown to the user (`describe()`).
struct DisplayRange {
    enum class Mode { Expected, Sample, Batch, Manual };
    Mode mode = Mode::Expected;
    std::array<double, 3> lo{0, 0, 0};
    std::array<double, 3> hi{1, 1, 1};
    // Why this range: e.g. "expected range of stage 3 Normalize" or
    // "expected range unknown (Lambda): sample min/max".
    QString origin;
    static DisplayRange uniform(double l, double h, Mode m = Mode::Manual);
    QString describe() const;
    QString spanText() const;  // "[lo, hi]" or per channel
};

struct OverlayColors {
    QColor below{40, 110, 255};
    QColor above{255, 50, 50};
    QColor nan{255, 0, 255};
    QColor inf{255, 220, 0};
    QColor collapsed{0, 215, 200};  // stripes over a sample squeezed into a sliver
};

// Pixel counts of the range overlay. A pixel is classified by the worst of
// its shown channels: NaN, then Inf, then above, then below.
// A sample is "collapsed" when every shown channel spans less than one grey
// level of the display range (a sliver that renders as one flat colour);
// the overlay stripes it, so a squeezed sample never looks merely dark.
struct OverlayCounts {
    int64_t below = 0, above = 0, nan = 0, inf = 0, total = 0;
    bool collapsed = false;
    double spread = 0;  // largest finite spread of a shown channel, as a fraction of the range
    bool any() const { return below || above || nan || inf || collapsed; }
};

// What is already known of some planes, measured in one pass elsewhere:
// each channel's finite min/max (NaN for a channel without a finite value,
// as channelMinMax) and how many values are NaN or infinite (-1: unknown).
// Spares the passes that would read them again.
struct ChannelExtent {
    std::vector<double> min, max;
    int64_t nonFinite = -1;
};

struct RenderOptions {
    DisplayRange range;
    int solo = -1;  // -1 = all channels, otherwise the channel shown as gray
    bool overlay = false;
    // Spread below this fraction of the range counts as collapsed (0 = never).
    double collapseFraction = 1.0 / 256;
    OverlayColors colors;
};

// Deep copy of a core image into a QImage that owns its pixels (the core
// buffer may die with the worker's result).
QImage toQImage(const bs::Image& image);

// Renders planar CHW float data (C planes of H*W). The returned QImage owns
// its pixels. `counts` is filled whether or not the overlay is drawn, and
// counts source pixels. `reduce` > 1 renders at 1/reduce of the size (for
// thumbnails): block means, each block overlaid by its worst pixel. With
// `known` showing every value finite and inside the range, no pixel is
// classified (the common case of a clean sample, about 5x faster).
QImage renderPlanes(const float* data, int channels, int height, int width,
                    const RenderOptions& options, OverlayCounts* counts = nullptr, int reduce = 1,
                    const ChannelExtent* known = nullptr);
// CHW tensor (or HW); NCHW tensors render their first sample.
QImage renderTensor(const bs::Tensor& tensor, const RenderOptions& options,
                    OverlayCounts* counts = nullptr);

// Per-channel histogram over [lo, hi] with `bins` equal bins; v == hi goes
// into the last bin, values outside [lo, hi] are counted in below/above.
struct Histogram {
    double lo = 0, hi = 1;
    int bins = 0;
    std::vector<std::vector<int64_t>> counts;  // [channel][bin]
    std::vector<double> min, max;              // finite values only, per channel
    std::vector<int64_t> below, above, nan, inf;
    int channels() const { return int(counts.size()); }
    int64_t binOf(int c, double v) const;
};

// The extent of C planes of `plane` floats each (one CHW sample), in one
// pass: finite min/max per channel and the count of NaN/Inf.
ChannelExtent planeExtent(const float* data, int channels, size_t plane);
// Min/max over finite values of each channel of a CHW or NCHW tensor.
void channelMinMax(const bs::Tensor& t, std::vector<double>& mins, std::vector<double>& maxs);

// Histogram of a CHW or NCHW tensor (the channel axis is dim -3; a 2-D tensor
// is one channel). When lo >= hi the range is chosen from the data joined with
// `expected` (so values outside the expected range stay visible).
Histogram computeHistogram(const bs::Tensor& t, int bins, double lo, double hi,
                           const ChannelExtent* known = nullptr);
Histogram computeHistogramAuto(const bs::Tensor& t, int bins, const DisplayRange* expected,
                               const ChannelExtent* known = nullptr);
// Histogram of an 8-bit image over [0, 256), one bin per byte value,
// counted from the bytes directly (core/audit/stats.h countBytes).
Histogram byteHistogram(const bs::Image& image);

// Channel/height/width of a CHW, HW or NCHW tensor (of one sample).
struct Planes {
    int c = 0, h = 0, w = 0;
    int64_t n = 1;
};
Planes planesOf(const bs::Tensor& t);

}  // namespace bs::ui
