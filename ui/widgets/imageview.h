// A zoomable, pannable view of one image (raw or rendered tensor). Geometry
// lives in ViewTransform; this widget only paints and forwards input.
#pragma once

#include <QPixmap>
#include <QPointF>
#include <QWidget>

#include <optional>

#include "ui/render/viewtransform.h"

namespace bs::ui {

class ImageView : public QWidget {
    Q_OBJECT
public:
    explicit ImageView(const QString& title, QWidget* parent = nullptr);

    // `img` becomes a QPixmap here, on the GUI thread. Keeps zoom/pan when the
    // size is unchanged (stepping through same-sized samples).
    void setImage(const QImage& img);
    void setPlaceholder(const QString& text);
    void setCaption(const QString& text);
    const QImage& image() const { return image_; }
    ViewTransform& transform() { return vt_; }
    const ViewTransform& transform() const { return vt_; }
    // Marker (image pixel units) drawn as a crosshair, e.g. the probe's
    // mapped position from the other view.
    void setMarker(std::optional<QPointF> p);

    QSize sizeHint() const override { return {420, 360}; }

public Q_SLOTS:
    void zoomIn();
    void zoomOut();
    void fitToView();
    void oneToOne();
    void syncFrom(const ImageView* other);

Q_SIGNALS:
    void viewChanged();
    // Image-space position under the mouse (pixel units); `inside` false when
    // the pointer left the image.
    void hovered(QPointF imagePos, bool inside);

protected:
    void paintEvent(QPaintEvent*) override;
    void resizeEvent(QResizeEvent*) override;
    void wheelEvent(QWheelEvent*) override;
    void mousePressEvent(QMouseEvent*) override;
    void mouseMoveEvent(QMouseEvent*) override;
    void mouseReleaseEvent(QMouseEvent*) override;
    void leaveEvent(QEvent*) override;

private:
    QString title_;
    QString caption_;
    QString placeholder_;
    QImage image_;
    QPixmap pixmap_;
    ViewTransform vt_;
    std::optional<QPointF> marker_;
    std::optional<QPointF> dragFrom_;
};

}  // namespace bs::ui
