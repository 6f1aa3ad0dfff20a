// Per-channel histogram drawn with QPainter: expected range as a band, bins
// outside it highlighted, min/max markers, linear or log counts.
#pragma once

#include <QWidget>

#include <optional>

#include "ui/render/render.h"

class QPainter;

namespace bs::ui {

struct HistogramStyle {
    bool log = false;
    OverlayColors colors;
};

// Paints `h` into `area` (also used by the headless screenshot export).
void paintHistogram(QPainter& p, const QRectF& area, const Histogram& h,
                    const std::optional<DisplayRange>& expected, const QString& title,
                    const HistogramStyle& style);

class HistogramWidget : public QWidget {
    Q_OBJECT
public:
    explicit HistogramWidget(const QString& title, QWidget* parent = nullptr);
    void setHistogram(const Histogram& h, std::optional<DisplayRange> expected);
    void clear();
    const Histogram& histogram() const { return hist_; }
    bool logScale() const { return style_.log; }
    QSize sizeHint() const override { return {320, 140}; }
    QSize minimumSizeHint() const override { return {160, 90}; }

public Q_SLOTS:
    void setLogScale(bool on);

protected:
    void paintEvent(QPaintEvent*) override;

private:
    QString title_;
    Histogram hist_;
    std::optional<DisplayRange> expected_;
    HistogramStyle style_;
};

}  // namespace bs::ui
