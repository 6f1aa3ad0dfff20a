#include "ui/render/targetoverlay.h"

#include <QFont>
#include <QFontMetrics>
#include <QPainter>

#include <algorithm>

namespace bs::ui {

QColor classColor(int64_t id) {
    // VOC rule: bit 3k, 3k+1, 3k+2 of the id go to bit 7-k of R, G, B.
    int c = int(((id % 256) + 256) % 256);
    int r = 0, g = 0, b = 0;
    for (int k = 0; k < 8; ++k) {
        r |= ((c >> 0) & 1) << (7 - k);
        g |= ((c >> 1) & 1) << (7 - k);
        b |= ((c >> 2) & 1) << (7 - k);
        c >>= 3;
    }
    return QColor(r, g, b);
}

QString className(const bs::TargetSchema& schema, int64_t id) {
    for (size_t i = 0; i < schema.classIds.size() && i < schema.classNames.size(); ++i)
        if (schema.classIds[i] == id) return QString::fromStdString(schema.classNames[i]);
    if (id == schema.ignoreIndex) return QStringLiteral("ignore");
    return QString::number(id);
}

// Mask pixel for pixel (x, y) of an image of `w` x `h` (nearest neighbour).
static int maskValue(const bs::Image& mask, int w, int h, int x, int y) {
    const int mx = std::min(mask.width - 1, int(int64_t(x) * mask.width / w));
    const int my = std::min(mask.height - 1, int(int64_t(y) * mask.height / h));
    return mask.at(my, mx, 0);
}

static QRgb blend(QRgb under, const QColor& over, double alpha) {
    auto mix = [alpha](int a, int b) { return int(a * (1 - alpha) + b * alpha + 0.5); };
    return qRgb(mix(qRed(under), over.red()), mix(qGreen(under), over.green()),
                mix(qBlue(under), over.blue()));
}

static void paintMask(QImage& out, const bs::Target& target, const bs::TargetSchema& schema,
                      const TargetOverlaySettings& s) {
    const double alpha = std::clamp(s.opacity, 0.0, 1.0);
    for (int y = 0; y < out.height(); ++y) {
        auto* line = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 0; x < out.width(); ++x) {
            const int id = maskValue(target.mask, out.width(), out.height(), x, y);
            if (!s.visible(id)) continue;
            const QColor col = id == schema.ignoreIndex ? QColor(Qt::white) : classColor(id);
            line[x] = blend(line[x], col, alpha);
        }
    }
}

static void paintBoxes(QImage& out, const bs::Target& target, QSize space,
                       const bs::TargetSchema& schema, const TargetOverlaySettings& s) {
    const double sx = double(out.width()) / std::max(1, space.width());
    const double sy = double(out.height()) / std::max(1, space.height());
    QPainter p(&out);
    QFont f(QStringLiteral("DejaVu Sans"));
    f.setPixelSize(std::clamp(out.height() / 24, 8, 14));
    p.setFont(f);
    const QFontMetrics fm(f);
    for (const bs::Box& b : target.boxes) {
        if (!s.visible(b.label)) continue;
        const QColor col = classColor(b.label);
        const QRectF r(QPointF(b.x1 * sx, b.y1 * sy), QPointF(b.x2 * sx, b.y2 * sy));
        p.setPen(QPen(col, 2));
        p.setBrush(Qt::NoBrush);
        p.drawRect(r);
        const QString name =
            className(schema, b.label) + (b.crowd ? QStringLiteral(" (crowd)") : QString());
        const QRectF tag(r.topLeft(), QSizeF(fm.horizontalAdvance(name) + 4, fm.height()));
        p.fillRect(tag, col);
        p.setPen(QColor(col.lightness() > 128 ? Qt::black : Qt::white));
        p.drawText(tag, Qt::AlignCenter, name);
    }
}

QImage paintTarget(const QImage& base, const bs::Target& target, QSize space,
                   const bs::TargetSchema& schema, const TargetOverlaySettings& settings) {
    // Owns: convertToFormat copies (or shares, and the first write below
    // detaches), so the caller's image, even one over a borrowed buffer, is
    // never written.
    QImage out = base.convertToFormat(QImage::Format_ARGB32);
    if (out.isNull() || target.empty()) return out;
    if (settings.showMask && target.hasMask() && target.mask.channels == 1)
        paintMask(out, target, schema, settings);
    if (settings.showBoxes && target.hasBoxes()) paintBoxes(out, target, space, schema, settings);
    return out;
}

int classAt(const bs::Target& target, QSize space, int x, int y) {
    if (!target.hasMask() || target.mask.channels != 1 || space.isEmpty()) return -1;
    if (x < 0 || y < 0 || x >= space.width() || y >= space.height()) return -1;
    return maskValue(target.mask, space.width(), space.height(), x, y);
}

QString probeClassText(const bs::Target& target, QSize space, int x, int y,
                       const bs::TargetSchema& schema) {
    const int id = classAt(target, space, x, y);
    if (id < 0) return {};
    return QStringLiteral("class %1 %2").arg(id).arg(className(schema, id));
}

}  // namespace bs::ui
