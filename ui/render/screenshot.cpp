#include "ui/render/screenshot.h"

#include <QFont>
#include <QPainter>
#include <algorithm>

#include "ui/widgets/histogramwidget.h"

namespace bs::ui {

static QImage fitPanel(const QImage& img, int panel, bool exactPixels) {
    if (img.isNull()) return {};
    const int side = std::max(img.width(), img.height());
    if (side == panel) return img;
    if (!exactPixels)
        return img.scaled(panel, panel, Qt::KeepAspectRatio, Qt::SmoothTransformation);
    if (side < panel) {
        // Integer enlargement keeps every pixel a crisp square.
        const int k = std::max(1, panel / side);
        return img.scaled(img.width() * k, img.height() * k, Qt::IgnoreAspectRatio,
                          Qt::FastTransformation);
    }
    return img.scaled(panel, panel, Qt::KeepAspectRatio, Qt::SmoothTransformation);
}

QString captionText(const ScreenshotInfo& info) {
    QStringList lines;
    lines << QStringLiteral("Dataset: %1").arg(info.datasetPath);
    lines << QStringLiteral("Sample %1: %2").arg(info.index).arg(info.filePath);
    lines << QStringLiteral("Label: %1    Stage: %2")
                 .arg(info.label, info.stage.isEmpty() ? QStringLiteral("—") : info.stage);
    if (!info.message.isEmpty()) lines << QStringLiteral("Finding: %1").arg(info.message);
    lines << info.range;
    return lines.join('\n');
}

QImage composeScreenshot(const QImage& raw, const QImage& tensor, const ChannelHistograms& rawHist,
                         const ChannelHistograms& tensorHist,
                         const std::optional<DisplayRange>& expected, const ScreenshotInfo& info,
                         int panel) {
    const int margin = 16, gap = 16, histH = 150, titleH = 24, legendH = 22;
    const int width = margin * 2 + panel * 2 + gap;
    QFont f(QStringLiteral("DejaVu Sans"));
    f.setPixelSize(13);
    const QString caption = captionText(info);
    // The caption is measured first so that no line is cut, however long
    // the paths and the message are.
    const QRect textBox = QFontMetrics(f).boundingRect(QRect(0, 0, width - 2 * margin, 100000),
                                                       Qt::AlignLeft | Qt::TextWordWrap, caption);
    // At least the classic 150 px (exports stay the same size), more when
    // the text needs it.
    const int captionH = std::max(150, textBox.height() + 8 + legendH);
    const int height = margin + titleH + panel + gap + histH + gap + captionH + margin;
    QImage out(width, height, QImage::Format_RGB32);
    out.fill(QColor(24, 25, 28));
    QPainter p(&out);
    p.setFont(f);
    const QColor text(225, 226, 230), dim(150, 152, 160);

    auto drawPanel = [&](int x, const QString& title, const QImage& img, bool exactPixels) {
        QFont bold = f;
        bold.setBold(true);
        p.setFont(bold);
        p.setPen(text);
        p.drawText(QRect(x, margin, panel, titleH), Qt::AlignLeft | Qt::AlignVCenter, title);
        p.setFont(f);
        const QRect box(x, margin + titleH, panel, panel);
        p.fillRect(box, QColor(36, 37, 41));
        const QImage scaled = fitPanel(img, panel, exactPixels);
        if (scaled.isNull()) {
            p.setPen(dim);
            p.drawText(box, Qt::AlignCenter, QStringLiteral("no image"));
            return;
        }
        const QPoint at(box.x() + (panel - scaled.width()) / 2,
                        box.y() + (panel - scaled.height()) / 2);
        p.drawImage(at, scaled);
    };
    drawPanel(margin, QStringLiteral("Raw (decoded) %1×%2").arg(raw.width()).arg(raw.height()), raw,
              false);
    drawPanel(margin + panel + gap,
              QStringLiteral("Transformed %1×%2, range overlay %3")
                  .arg(tensor.width())
                  .arg(tensor.height())
                  .arg(info.overlay ? QStringLiteral("on") : QStringLiteral("off")),
              tensor, true);

    const int hy = margin + titleH + panel + gap;
    HistogramStyle style;
    paintHistogram(p, QRectF(margin, hy, panel, histH), rawHist, std::nullopt,
                   QStringLiteral("Raw histogram"), style);
    paintHistogram(p, QRectF(margin + panel + gap, hy, panel, histH), tensorHist, expected,
                   QStringLiteral("Transformed histogram (band = expected range)"), style);

    // Caption.
    const int cy = hy + histH + gap;
    p.setPen(text);
    p.drawText(QRect(margin, cy, width - 2 * margin, textBox.height() + 4),
               Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap, caption);
    // Legend with the overlay counts.
    const OverlayColors colors;
    int lx = margin;
    const int ly = cy + captionH - legendH;
    auto legend = [&](const QColor& c, const QString& name, int64_t n) {
        p.fillRect(QRect(lx, ly + 3, 12, 12), c);
        lx += 16;
        const QString s = QStringLiteral("%1 %2").arg(name).arg(n);
        p.setPen(text);
        p.drawText(QRect(lx, ly, 200, 18), Qt::AlignLeft | Qt::AlignVCenter, s);
        lx += p.fontMetrics().horizontalAdvance(s) + 18;
    };
    legend(colors.below, QStringLiteral("below range"), info.counts.below);
    legend(colors.above, QStringLiteral("above range"), info.counts.above);
    legend(colors.nan, QStringLiteral("NaN"), info.counts.nan);
    legend(colors.inf, QStringLiteral("Inf"), info.counts.inf);
    if (info.counts.collapsed) {
        p.fillRect(QRect(lx, ly + 3, 12, 12), colors.collapsed);
        lx += 16;
        const QString s = QStringLiteral("collapsed (spread %1% of the range)")
                              .arg(info.counts.spread * 100, 0, 'g', 2);
        p.setPen(text);
        p.drawText(QRect(lx, ly, 320, 18), Qt::AlignLeft | Qt::AlignVCenter, s);
        lx += p.fontMetrics().horizontalAdvance(s) + 18;
    }
    p.setPen(dim);
    p.drawText(QRect(lx, ly, width - lx - margin, 18), Qt::AlignRight | Qt::AlignVCenter,
               QStringLiteral("pixels of %1 · batchscope").arg(info.counts.total));
    return out;
}

}  // namespace bs::ui
