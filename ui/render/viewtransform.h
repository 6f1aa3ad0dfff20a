// Zoom/pan/probe geometry of the image views, free of any widget so that it
// can be tested with plain tables.
//
// Coordinates: "image" space is pixel units with (0,0) at the top-left corner
// of the first pixel (pixel (i,j) covers [i,i+1) x [j,j+1)); "view" space is
// widget pixels. view = image * zoom + offset.
#pragma once

#include <QPointF>
#include <QRectF>
#include <QSize>

namespace bs::ui {

class ViewTransform {
public:
    static constexpr double kMinZoom = 1.0 / 64.0;
    static constexpr double kMaxZoom = 256.0;

    void setImageSize(QSize s) { image_ = s; }
    void setViewSize(QSize s) { view_ = s; }
    QSize imageSize() const { return image_; }
    QSize viewSize() const { return view_; }

    double zoom() const { return zoom_; }
    QPointF offset() const { return offset_; }
    bool isFit() const { return fit_; }

    // Scales the image to fit the view (never above `maxFitZoom`) and centres it.
    // In fit mode the transform refits itself whenever the sizes change.
    void fit(double maxFitZoom = 64.0);
    // One image pixel per view pixel, centred.
    void oneToOne();
    // Sets the zoom keeping the image point under `viewAnchor` fixed.
    void zoomAt(QPointF viewAnchor, double newZoom);
    // Multiplies the zoom by `factor` around the view centre.
    void zoomBy(double factor);
    void panBy(QPointF viewDelta);
    // Copies zoom and offset from another transform (synchronised views):
    // the same image point appears at the same relative place in both views
    // when the images have the same size; otherwise relative positions
    // (fractions of the image) are matched.
    void syncFrom(const ViewTransform& other);

    QPointF viewToImage(QPointF v) const;
    QPointF imageToView(QPointF p) const;
    // Integer pixel under a view point; false when outside the image.
    bool pixelAt(QPointF v, int& x, int& y) const;
    // Rectangle the whole image occupies in the view.
    QRectF imageRectInView() const;

    // Re-applies fit mode after a size change (no-op when not in fit mode).
    void refit();

private:
    QSize image_{1, 1};
    QSize view_{1, 1};
    double zoom_ = 1.0;
    QPointF offset_{0, 0};
    bool fit_ = true;
    double maxFitZoom_ = 64.0;
};

}  // namespace bs::ui
