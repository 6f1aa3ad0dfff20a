#include "ui/widgets/imageview.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <cmath>

namespace bs::ui {

ImageView::ImageView(const QString& title, QWidget* parent) : QWidget(parent), title_(title) {
    setMouseTracking(true);
    setMinimumSize(160, 120);
    setFocusPolicy(Qt::ClickFocus);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

void ImageView::setImage(const QImage& img) {
    const bool sameSize = !image_.isNull() && img.size() == image_.size();
    image_ = img;
    placeholder_.clear();
    pixmap_ = img.isNull() ? QPixmap() : QPixmap::fromImage(img);
    vt_.setImageSize(img.isNull() ? QSize(1, 1) : img.size());
    vt_.setViewSize(size());
    if (!sameSize) vt_.refit();
    update();
}

void ImageView::setPlaceholder(const QString& text) {
    image_ = QImage();
    pixmap_ = QPixmap();
    placeholder_ = text;
    update();
}

void ImageView::setCaption(const QString& text) {
    caption_ = text;
    update();
}

void ImageView::setMarker(std::optional<QPointF> p) {
    marker_ = p;
    update();
}

void ImageView::zoomIn() {
    vt_.zoomBy(1.25);
    update();
    Q_EMIT viewChanged();
}
void ImageView::zoomOut() {
    vt_.zoomBy(0.8);
    update();
    Q_EMIT viewChanged();
}
void ImageView::fitToView() {
    vt_.fit();
    update();
    Q_EMIT viewChanged();
}
void ImageView::oneToOne() {
    vt_.oneToOne();
    update();
    Q_EMIT viewChanged();
}

void ImageView::syncFrom(const ImageView* other) {
    vt_.syncFrom(other->vt_);
    update();
}

void ImageView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), QColor(30, 31, 34));
    if (!pixmap_.isNull()) {
        const QRectF target = vt_.imageRectInView();
        // Nearest-neighbour when magnified: a pixel inspector must show pixels.
        p.setRenderHint(QPainter::SmoothPixmapTransform, vt_.zoom() < 1.0);
        // Checkerboard under the image so its border is visible on dark.
        p.fillRect(target, QColor(45, 46, 50));
        p.drawPixmap(target, pixmap_, QRectF(pixmap_.rect()));
        p.setPen(QColor(80, 82, 88));
        p.drawRect(target.adjusted(-0.5, -0.5, 0.5, 0.5));
        if (vt_.zoom() >= 12) {
            // Pixel grid at high zoom.
            p.setPen(QColor(0, 0, 0, 60));
            const QRectF vis = target.intersected(QRectF(rect()));
            const QPointF a = vt_.viewToImage(vis.topLeft()),
                          b = vt_.viewToImage(vis.bottomRight());
            for (int x = int(std::floor(a.x())); x <= int(std::ceil(b.x())); ++x) {
                const double vx = vt_.imageToView(QPointF(x, 0)).x();
                p.drawLine(QPointF(vx, vis.top()), QPointF(vx, vis.bottom()));
            }
            for (int y = int(std::floor(a.y())); y <= int(std::ceil(b.y())); ++y) {
                const double vy = vt_.imageToView(QPointF(0, y)).y();
                p.drawLine(QPointF(vis.left(), vy), QPointF(vis.right(), vy));
            }
        }
        if (marker_) {
            const QPointF c = vt_.imageToView(*marker_);
            p.setRenderHint(QPainter::Antialiasing);
            p.setPen(QPen(QColor(0, 0, 0, 200), 3));
            p.drawLine(c + QPointF(-10, 0), c + QPointF(-3, 0));
            p.drawLine(c + QPointF(3, 0), c + QPointF(10, 0));
            p.drawLine(c + QPointF(0, -10), c + QPointF(0, -3));
            p.drawLine(c + QPointF(0, 3), c + QPointF(0, 10));
            p.setPen(QPen(QColor(255, 214, 10), 1.5));
            p.drawLine(c + QPointF(-10, 0), c + QPointF(-3, 0));
            p.drawLine(c + QPointF(3, 0), c + QPointF(10, 0));
            p.drawLine(c + QPointF(0, -10), c + QPointF(0, -3));
            p.drawLine(c + QPointF(0, 3), c + QPointF(0, 10));
        }
    } else {
        p.setPen(QColor(150, 152, 160));
        p.drawText(rect().adjusted(12, 12, -12, -12), Qt::AlignCenter | Qt::TextWordWrap,
                   placeholder_.isEmpty() ? QStringLiteral("—") : placeholder_);
    }
    // Title and zoom, top-left, on a translucent chip.
    QString head = title_;
    if (!pixmap_.isNull())
        head += QStringLiteral("  %1×%2  %3%")
                    .arg(image_.width())
                    .arg(image_.height())
                    .arg(int(std::lround(vt_.zoom() * 100)));
    QFont f = font();
    f.setBold(true);
    p.setFont(f);
    const QRect tr = p.fontMetrics()
                         .boundingRect(head)
                         .adjusted(-6, -3, 6, 3)
                         .translated(10, 8 + p.fontMetrics().ascent());
    p.fillRect(tr, QColor(0, 0, 0, 150));
    p.setPen(QColor(235, 235, 240));
    p.drawText(tr, Qt::AlignCenter, head);
    if (!caption_.isEmpty()) {
        p.setFont(font());
        QRect cr = rect().adjusted(10, 0, -10, -8);
        const QRect br = p.fontMetrics().boundingRect(
            cr, Qt::AlignBottom | Qt::AlignLeft | Qt::TextWordWrap, caption_);
        p.fillRect(br.adjusted(-6, -3, 6, 3), QColor(0, 0, 0, 150));
        p.setPen(QColor(220, 220, 225));
        p.drawText(br, Qt::AlignBottom | Qt::AlignLeft | Qt::TextWordWrap, caption_);
    }
}

void ImageView::resizeEvent(QResizeEvent*) {
    vt_.setViewSize(size());
    vt_.refit();
}

void ImageView::wheelEvent(QWheelEvent* e) {
    const double steps = e->angleDelta().y() / 120.0;
    if (steps == 0) return;
    vt_.zoomAt(e->position(), vt_.zoom() * std::pow(1.25, steps));
    update();
    Q_EMIT viewChanged();
    e->accept();
}

void ImageView::mousePressEvent(QMouseEvent* e) {
    if (e->button() == Qt::LeftButton || e->button() == Qt::MiddleButton) {
        dragFrom_ = e->position();
        setCursor(Qt::ClosedHandCursor);
    }
}

void ImageView::mouseMoveEvent(QMouseEvent* e) {
    if (dragFrom_) {
        vt_.panBy(e->position() - *dragFrom_);
        dragFrom_ = e->position();
        update();
        Q_EMIT viewChanged();
    }
    const QPointF ip = vt_.viewToImage(e->position());
    int x, y;
    Q_EMIT hovered(ip, !pixmap_.isNull() && vt_.pixelAt(e->position(), x, y));
}

void ImageView::mouseReleaseEvent(QMouseEvent*) {
    dragFrom_.reset();
    unsetCursor();
}

void ImageView::leaveEvent(QEvent*) {
    Q_EMIT hovered(QPointF(), false);
}

}  // namespace bs::ui
