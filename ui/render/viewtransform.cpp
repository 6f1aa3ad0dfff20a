#include "ui/render/viewtransform.h"

#include <algorithm>
#include <cmath>

namespace bs::ui {

static double clampZoom(double z) {
    return std::clamp(z, ViewTransform::kMinZoom, ViewTransform::kMaxZoom);
}

void ViewTransform::fit(double maxFitZoom) {
    fit_ = true;
    maxFitZoom_ = maxFitZoom;
    refit();
}

void ViewTransform::refit() {
    if (!fit_) return;
    const double iw = std::max(1, image_.width()), ih = std::max(1, image_.height());
    const double vw = std::max(1, view_.width()), vh = std::max(1, view_.height());
    zoom_ = clampZoom(std::min({vw / iw, vh / ih, maxFitZoom_}));
    offset_ = QPointF((vw - iw * zoom_) / 2.0, (vh - ih * zoom_) / 2.0);
}

void ViewTransform::oneToOne() {
    fit_ = false;
    zoom_ = 1.0;
    // Whole-pixel offsets keep 1:1 crisp (no half-pixel resampling).
    offset_ = QPointF(std::floor((view_.width() - image_.width()) / 2.0),
                      std::floor((view_.height() - image_.height()) / 2.0));
}

void ViewTransform::zoomAt(QPointF anchor, double newZoom) {
    newZoom = clampZoom(newZoom);
    const QPointF p = viewToImage(anchor);
    fit_ = false;
    zoom_ = newZoom;
    offset_ = anchor - p * zoom_;
}

void ViewTransform::zoomBy(double factor) {
    zoomAt(QPointF(view_.width() / 2.0, view_.height() / 2.0), zoom_ * factor);
}

void ViewTransform::panBy(QPointF d) {
    fit_ = false;
    offset_ += d;
}

void ViewTransform::syncFrom(const ViewTransform& o) {
    fit_ = o.fit_;
    maxFitZoom_ = o.maxFitZoom_;
    if (fit_) {
        refit();
        return;
    }
    // Match the displayed size of the image relative to the other view, so a
    // 224 px tensor and a 500 px raw image zoom together and show the same
    // region (in fractions of their extent).
    const double ow = std::max(1, o.image_.width());
    const double scale = o.zoom_ * ow / std::max(1, image_.width());
    zoom_ = clampZoom(scale);
    const QPointF oc(o.view_.width() / 2.0, o.view_.height() / 2.0);
    const QPointF rel((oc.x() - o.offset_.x()) / (o.zoom_ * ow),
                      (oc.y() - o.offset_.y()) / (o.zoom_ * std::max(1, o.image_.height())));
    const QPointF c(view_.width() / 2.0, view_.height() / 2.0);
    offset_ = QPointF(c.x() - rel.x() * image_.width() * zoom_,
                      c.y() - rel.y() * image_.height() * zoom_);
}

QPointF ViewTransform::viewToImage(QPointF v) const {
    return (v - offset_) / zoom_;
}

QPointF ViewTransform::imageToView(QPointF p) const {
    return p * zoom_ + offset_;
}

bool ViewTransform::pixelAt(QPointF v, int& x, int& y) const {
    const QPointF p = viewToImage(v);
    x = int(std::floor(p.x()));
    y = int(std::floor(p.y()));
    return x >= 0 && y >= 0 && x < image_.width() && y < image_.height();
}

QRectF ViewTransform::imageRectInView() const {
    return QRectF(offset_, QSizeF(image_.width() * zoom_, image_.height() * zoom_));
}

}  // namespace bs::ui
