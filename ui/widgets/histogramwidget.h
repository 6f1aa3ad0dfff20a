// Per-channel histogram drawn with QPainter: expected range as a band, bins
// outside it highlighted, min/max markers, linear or log counts.
#pragma once

#include <QWidget>

#include <optional>
#include <vector>

class QFontMetricsF;

#include "ui/render/render.h"

class QPainter;

namespace bs::ui {

struct HistogramStyle {
    bool log = false;
    OverlayColors colors;
};

// Paints `h` into `area` (also used by the headless screenshot export).
void paintHistogram(QPainter& p, const QRectF& area, const ChannelHistograms& h,
                    const std::optional<DisplayRange>& expected, const QString& title,
                    const HistogramStyle& style);

// Axis labels under the plot: the histogram's lo at the left, hi at the
// right, and "min .. max (NaN, Inf)" on a line of its own, elided to the
// width, so that no two labels ever overlap however narrow the widget.
struct AxisLabel {
    QRectF rect;
    QString text;
    Qt::Alignment align;
};
std::vector<AxisLabel> histogramAxisLabels(const QFontMetricsF& fm, const QRectF& axis,
                                           const ChannelHistograms& h);
// Height the axis labels take below the plot.
double histogramAxisHeight(const QFontMetricsF& fm);

class HistogramWidget : public QWidget {
    Q_OBJECT
public:
    explicit HistogramWidget(const QString& title, QWidget* parent = nullptr);
    void setHistogram(const ChannelHistograms& h, std::optional<DisplayRange> expected);
    void clear();
    const ChannelHistograms& histogram() const { return hist_; }
    bool logScale() const { return style_.log; }
    // The labels as painted at the widget's current size (for tests).
    std::vector<AxisLabel> axisLabels() const;
    QSize sizeHint() const override { return {320, 140}; }
    QSize minimumSizeHint() const override { return {160, 90}; }

public Q_SLOTS:
    void setLogScale(bool on);

protected:
    void paintEvent(QPaintEvent*) override;

private:
    QString title_;
    ChannelHistograms hist_;
    std::optional<DisplayRange> expected_;
    HistogramStyle style_;
};

}  // namespace bs::ui
