#include "ui/widgets/histogramwidget.h"

#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <array>
#include <cmath>

namespace bs::ui {

static QString fmt(double v) {
    return QString::number(v, 'g', 4);
}

namespace {

constexpr int kBins = bs::Histogram::kBins;

// Where values and counts land in the plot rectangle.
struct PlotScale {
    QRectF plot;
    double lo, span;
    uint64_t peak;
    bool log;
    double xOf(double v) const { return plot.left() + (v - lo) / span * plot.width(); }
    double yOf(uint64_t c) const {
        const double f =
            log ? std::log1p(double(c)) / std::log1p(double(peak)) : double(c) / double(peak);
        return plot.bottom() - f * plot.height();
    }
    double binWidth() const { return plot.width() / kBins; }
};

// Expected range band; everything outside it is shaded as "out of range".
void paintExpectedBand(QPainter& p, const PlotScale& s, const ChannelHistograms& h,
                       const DisplayRange& expected, const HistogramStyle& style) {
    const QRectF& plot = s.plot;
    double elo = 1e300, ehi = -1e300;
    for (int c = 0; c < std::min(3, std::max(1, int(h.channels.size()))); ++c) {
        elo = std::min(elo, expected.lo[c]);
        ehi = std::max(ehi, expected.hi[c]);
    }
    const double x0 = std::clamp(s.xOf(elo), plot.left(), plot.right());
    const double x1 = std::clamp(s.xOf(ehi), plot.left(), plot.right());
    QColor below = style.colors.below, above = style.colors.above;
    below.setAlpha(40);
    above.setAlpha(40);
    if (x0 > plot.left())
        p.fillRect(QRectF(plot.left(), plot.top(), x0 - plot.left(), plot.height()), below);
    if (x1 < plot.right())
        p.fillRect(QRectF(x1, plot.top(), plot.right() - x1, plot.height()), above);
    p.fillRect(QRectF(x0, plot.top(), x1 - x0, plot.height()), QColor(255, 255, 255, 18));
    p.setPen(QPen(QColor(255, 255, 255, 90), 1, Qt::DashLine));
    p.drawLine(QPointF(x0, plot.top()), QPointF(x0, plot.bottom()));
    p.drawLine(QPointF(x1, plot.top()), QPointF(x1, plot.bottom()));
}

// One channel's bins as a filled step curve.
void paintCurve(QPainter& p, const PlotScale& s, const std::array<uint64_t, kBins>& bins,
                const QColor& col, int alpha) {
    const double bw = s.binWidth();
    QPainterPath path;
    path.moveTo(s.plot.left(), s.plot.bottom());
    for (int b = 0; b < kBins; ++b) {
        const double y = s.yOf(bins[size_t(b)]);
        path.lineTo(s.plot.left() + b * bw, y);
        path.lineTo(s.plot.left() + (b + 1) * bw, y);
    }
    path.lineTo(s.plot.right(), s.plot.bottom());
    QColor fill = col;
    fill.setAlpha(alpha);
    p.fillPath(path, fill);
    p.setPen(QPen(col, 1.2));
    p.drawPath(path);
}

// Bins of channel `ch` outside the expected range, in the overlay colours.
void paintOutOfRangeBins(QPainter& p, const PlotScale& s, const std::array<uint64_t, kBins>& bins,
                         const DisplayRange& expected, int ch, const HistogramStyle& style) {
    const double bw = s.binWidth();
    for (int b = 0; b < kBins; ++b) {
        if (!bins[size_t(b)]) continue;
        const double blo = s.lo + s.span * b / kBins, bhi = s.lo + s.span * (b + 1) / kBins;
        const bool below = bhi <= expected.lo[ch], above = blo >= expected.hi[ch];
        if (!below && !above) continue;
        const double y = s.yOf(bins[size_t(b)]);
        // On whole pixels: a 256-bin plot has bins about a pixel wide, and
        // antialiased edges would blend the colour away.
        const double x0 = std::floor(s.plot.left() + b * bw);
        const double x1 = std::max(x0 + 1, std::ceil(s.plot.left() + (b + 1) * bw));
        p.fillRect(QRectF(x0, std::floor(y), x1 - x0, s.plot.bottom() - std::floor(y)),
                   below ? style.colors.below : style.colors.above);
    }
}

// Ticks under the plot and triangles over it at a channel's min and max.
void paintMinMaxMarkers(QPainter& p, const PlotScale& s, double mn, double mx, const QColor& col) {
    p.setPen(QPen(col, 1.5));
    for (double v : {mn, mx}) {
        const double x = s.xOf(v);
        p.drawLine(QPointF(x, s.plot.bottom() + 1), QPointF(x, s.plot.bottom() + 6));
        QPolygonF tri;
        tri << QPointF(x, s.plot.top()) << QPointF(x - 3, s.plot.top() - 5)
            << QPointF(x + 3, s.plot.top() - 5);
        p.setBrush(col);
        p.drawPolygon(tri);
        p.setBrush(Qt::NoBrush);
    }
}

uint64_t peakCount(const ChannelHistograms& h) {
    uint64_t peak = 1;
    for (const bs::Histogram& ch : h.channels)
        for (uint64_t c : ch.bins) peak = std::max(peak, c);
    return peak;
}

}  // namespace

void paintHistogram(QPainter& p, const QRectF& area, const ChannelHistograms& h,
                    const std::optional<DisplayRange>& expected, const QString& title,
                    const HistogramStyle& style) {
    p.save();
    p.setRenderHint(QPainter::Antialiasing, true);
    p.fillRect(area, QColor(30, 31, 34));
    const QFontMetricsF fm(p.font());
    const double top = area.top() + fm.height() + 4;
    const double bottom = area.bottom() - histogramAxisHeight(fm) - 4;
    const QRectF plot(area.left() + 6, top, area.width() - 12, std::max(10.0, bottom - top));
    p.setPen(QColor(200, 200, 208));
    p.drawText(QRectF(area.left() + 6, area.top() + 2, area.width() - 12, fm.height()),
               Qt::AlignLeft | Qt::AlignVCenter,
               title + (style.log ? QStringLiteral("  (log)") : QString()));
    if (h.empty()) {
        p.setPen(QColor(130, 130, 140));
        p.drawText(plot, Qt::AlignCenter, QStringLiteral("no data"));
        p.restore();
        return;
    }
    const PlotScale s{plot, h.lo(), h.hi() - h.lo(), peakCount(h), style.log};
    if (expected) paintExpectedBand(p, s, h, *expected, style);
    static const QColor single(210, 210, 215);
    static const QColor rgb[3] = {QColor(255, 90, 90), QColor(90, 220, 110), QColor(100, 150, 255)};
    const int nc = int(h.channels.size());
    for (int c = 0; c < nc; ++c) {
        const QColor col = nc == 1 ? single : rgb[std::min(c, 2)];
        const auto& bins = h.channels[size_t(c)].bins;
        paintCurve(p, s, bins, col, nc == 1 ? 110 : 60);
        if (expected) paintOutOfRangeBins(p, s, bins, *expected, std::min(c, 2), style);
        if (c < int(h.min.size()) && std::isfinite(h.min[c]))
            paintMinMaxMarkers(p, s, h.min[c], h.max[c], col);
    }
    p.setPen(QColor(70, 72, 80));
    p.drawRect(plot);
    p.setPen(QColor(150, 152, 160));
    const QRectF axis(plot.left(), plot.bottom() + 3, plot.width(), histogramAxisHeight(fm));
    for (const AxisLabel& l : histogramAxisLabels(fm, axis, h)) p.drawText(l.rect, l.align, l.text);
    p.restore();
}

double histogramAxisHeight(const QFontMetricsF& fm) {
    return 2 * fm.height();
}

std::vector<AxisLabel> histogramAxisLabels(const QFontMetricsF& fm, const QRectF& axis,
                                           const ChannelHistograms& h) {
    std::vector<AxisLabel> out;
    if (h.empty()) return out;
    const double half = axis.width() / 2 - 4;
    const QString lo = fm.elidedText(fmt(h.lo()), Qt::ElideRight, half);
    const QString hi = fm.elidedText(fmt(h.hi()), Qt::ElideRight, half);
    const double row = fm.height();
    out.push_back({QRectF(axis.left(), axis.top(), fm.horizontalAdvance(lo) + 1, row), lo,
                   Qt::AlignLeft | Qt::AlignVCenter});
    const double hw = fm.horizontalAdvance(hi) + 1;
    out.push_back(
        {QRectF(axis.right() - hw, axis.top(), hw, row), hi, Qt::AlignRight | Qt::AlignVCenter});
    double mn = 1e300, mx = -1e300;
    for (size_t c = 0; c < h.min.size(); ++c)
        if (std::isfinite(h.min[c])) mn = std::min(mn, h.min[c]), mx = std::max(mx, h.max[c]);
    QString mid = mn <= mx ? QStringLiteral("min %1  max %2").arg(fmt(mn), fmt(mx)) : QString();
    if (h.nan) mid += QStringLiteral("  NaN %1").arg(h.nan);
    if (h.inf) mid += QStringLiteral("  Inf %1").arg(h.inf);
    mid = fm.elidedText(mid, Qt::ElideRight, axis.width());
    if (!mid.isEmpty()) {
        const double mw = fm.horizontalAdvance(mid) + 1;
        out.push_back({QRectF(axis.center().x() - mw / 2, axis.top() + row, mw, row), mid,
                       Qt::AlignHCenter | Qt::AlignVCenter});
    }
    return out;
}

std::vector<AxisLabel> HistogramWidget::axisLabels() const {
    // The same geometry paintHistogram uses for rect().
    const QFontMetricsF fm(font());
    const QRectF area(rect());
    const double top = area.top() + fm.height() + 4;
    const double bottom = area.bottom() - histogramAxisHeight(fm) - 4;
    const QRectF plot(area.left() + 6, top, area.width() - 12, std::max(10.0, bottom - top));
    return histogramAxisLabels(
        fm, QRectF(plot.left(), plot.bottom() + 3, plot.width(), histogramAxisHeight(fm)), hist_);
}

HistogramWidget::HistogramWidget(const QString& title, QWidget* parent)
    : QWidget(parent), title_(title) {
    setAttribute(Qt::WA_OpaquePaintEvent);
}

void HistogramWidget::setHistogram(const ChannelHistograms& h,
                                   std::optional<DisplayRange> expected) {
    hist_ = h;
    expected_ = expected;
    update();
}

void HistogramWidget::clear() {
    hist_ = ChannelHistograms();
    expected_.reset();
    update();
}

void HistogramWidget::setLogScale(bool on) {
    style_.log = on;
    update();
}

void HistogramWidget::paintEvent(QPaintEvent*) {
    QPainter p(this);
    paintHistogram(p, QRectF(rect()), hist_, expected_, title_, style_);
}

}  // namespace bs::ui
