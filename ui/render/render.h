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

#include "core/audit/stats.h"
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
// as tensorExtent) and how many values are NaN or infinite (-1: unknown).
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

// The picture of a tensor's or image's values: one core bs::Histogram (the
// project's one histogram: 256 bins, closed upper end; -Inf counted below
// and +Inf above, NaN not binned) per channel, all over the same [lo, hi],
// with each channel's finite min/max and the NaN/Inf counts of all channels.
struct ChannelHistograms {
    std::vector<bs::Histogram> channels;
    std::vector<double> min, max;  // finite values only, per channel (NaN: none)
    int64_t nan = 0, inf = 0;
    bool empty() const { return channels.empty(); }
    double lo() const { return channels.empty() ? 0.0 : channels.front().lo; }
    double hi() const { return channels.empty() ? 1.0 : channels.front().hi; }
};

// The extent of C planes of `plane` floats each (one CHW sample), in one
// pass: finite min/max per channel and the count of NaN/Inf.
ChannelExtent planeExtent(const float* data, int channels, size_t plane);
// The same over every sample of a CHW, HW or NCHW tensor.
ChannelExtent tensorExtent(const bs::Tensor& t);
// The extent of nothing yet, for `channels` channels (min/max NaN, 0 NaN/Inf).
ChannelExtent emptyExtent(int channels);
// Joins `e` into `into`, channel by channel (into has e's channel count).
void joinExtent(ChannelExtent& into, const ChannelExtent& e);

// Histograms of a CHW or NCHW tensor (the channel axis is dim -3; a 2-D
// tensor is one channel) over [lo, hi]. `known` (with its NaN/Inf count)
// spares the pass that measures the extent.
ChannelHistograms computeHistogram(const bs::Tensor& t, double lo, double hi,
                                   const ChannelExtent* known = nullptr);
// The range is the data's finite extent joined with `expected`, so every
// finite value is binned and values outside the expected range stay visible.
ChannelHistograms computeHistogramAuto(const bs::Tensor& t, const DisplayRange* expected,
                                       const ChannelExtent* known = nullptr);
// Histograms of an 8-bit image over [0, 256), one bin per byte value,
// counted from the bytes directly (core/audit/stats.h countBytes).
ChannelHistograms byteHistogram(const bs::Image& image);

// Channel/height/width of a CHW, HW or NCHW tensor (of one sample).
struct Planes {
    int c = 0, h = 0, w = 0;
    int64_t n = 1;
};
Planes planesOf(const bs::Tensor& t);

}  // namespace bs::ui
