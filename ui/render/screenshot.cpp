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

namespace {

const QColor kText(225, 226, 230), kDim(150, 152, 160);

// Sizes of the screenshot's parts, in pixels.
struct ShotLayout {
    int margin = 16, gap = 16, histH = 150, titleH = 24, legendH = 22;
    int panel = 0;
};

// One image panel with its title above it; "no image" when `img` is null.
void drawPanel(QPainter& p, const ShotLayout& l, int x, const QString& title, const QImage& img,
               bool exactPixels) {
    const QFont f = p.font();
    QFont bold = f;
    bold.setBold(true);
    p.setFont(bold);
    p.setPen(kText);
    p.drawText(QRect(x, l.margin, l.panel, l.titleH), Qt::AlignLeft | Qt::AlignVCenter, title);
    p.setFont(f);
    const QRect box(x, l.margin + l.titleH, l.panel, l.panel);
    p.fillRect(box, QColor(36, 37, 41));
    const QImage scaled = fitPanel(img, l.panel, exactPixels);
    if (scaled.isNull()) {
        p.setPen(kDim);
        p.drawText(box, Qt::AlignCenter, QStringLiteral("no image"));
        return;
    }
    const QPoint at(box.x() + (l.panel - scaled.width()) / 2,
                    box.y() + (l.panel - scaled.height()) / 2);
    p.drawImage(at, scaled);
}

// The legend line at `y`: a swatch and a count per overlay colour, then
// the number of pixels at the right.
void drawLegend(QPainter& p, const ShotLayout& l, int width, int y, const OverlayCounts& counts) {
    const OverlayColors colors;
    int x = l.margin;
    auto entry = [&](const QColor& c, const QString& s, int boxWidth) {
        p.fillRect(QRect(x, y + 3, 12, 12), c);
        x += 16;
        p.setPen(kText);
        p.drawText(QRect(x, y, boxWidth, 18), Qt::AlignLeft | Qt::AlignVCenter, s);
        x += p.fontMetrics().horizontalAdvance(s) + 18;
    };
    auto count = [&](const QColor& c, const QString& name, int64_t n) {
        entry(c, QStringLiteral("%1 %2").arg(name).arg(n), 200);
    };
    count(colors.below, QStringLiteral("below range"), counts.below);
    count(colors.above, QStringLiteral("above range"), counts.above);
    count(colors.nan, QStringLiteral("NaN"), counts.nan);
    count(colors.inf, QStringLiteral("Inf"), counts.inf);
    if (counts.collapsed)
        entry(colors.collapsed,
              QStringLiteral("collapsed (spread %1% of the range)")
                  .arg(counts.spread * 100, 0, 'g', 2),
              320);
    p.setPen(kDim);
    p.drawText(QRect(x, y, width - x - l.margin, 18), Qt::AlignRight | Qt::AlignVCenter,
               QStringLiteral("pixels of %1 · batchscope").arg(counts.total));
}

}  // namespace

QImage composeScreenshot(const QImage& raw, const QImage& tensor, const ChannelHistograms& rawHist,
                         const ChannelHistograms& tensorHist,
                         const std::optional<DisplayRange>& expected, const ScreenshotInfo& info,
                         int panel) {
    ShotLayout l;
    l.panel = panel;
    const int width = l.margin * 2 + panel * 2 + l.gap;
    QFont f(QStringLiteral("DejaVu Sans"));
    f.setPixelSize(13);
    const QString caption = captionText(info);
    // The caption is measured first so that no line is cut, however long
    // the paths and the message are.
    const QRect textBox = QFontMetrics(f).boundingRect(QRect(0, 0, width - 2 * l.margin, 100000),
                                                       Qt::AlignLeft | Qt::TextWordWrap, caption);
    // At least the classic 150 px (exports stay the same size), more when
    // the text needs it.
    const int captionH = std::max(150, textBox.height() + 8 + l.legendH);
    const int height = l.margin + l.titleH + panel + l.gap + l.histH + l.gap + captionH + l.margin;
    QImage out(width, height, QImage::Format_RGB32);
    out.fill(QColor(24, 25, 28));
    QPainter p(&out);
    p.setFont(f);

    drawPanel(p, l, l.margin,
              QStringLiteral("Raw (decoded) %1×%2").arg(raw.width()).arg(raw.height()), raw, false);
    drawPanel(p, l, l.margin + panel + l.gap,
              QStringLiteral("Transformed %1×%2, range overlay %3")
                  .arg(tensor.width())
                  .arg(tensor.height())
                  .arg(info.overlay ? QStringLiteral("on") : QStringLiteral("off")),
              tensor, true);

    const int hy = l.margin + l.titleH + panel + l.gap;
    HistogramStyle style;
    paintHistogram(p, QRectF(l.margin, hy, panel, l.histH), rawHist, std::nullopt,
                   QStringLiteral("Raw histogram"), style);
    paintHistogram(p, QRectF(l.margin + panel + l.gap, hy, panel, l.histH), tensorHist, expected,
                   QStringLiteral("Transformed histogram (band = expected range)"), style);

    const int cy = hy + l.histH + l.gap;
    p.setPen(kText);
    p.drawText(QRect(l.margin, cy, width - 2 * l.margin, textBox.height() + 4),
               Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap, caption);
    drawLegend(p, l, width, cy + captionH - l.legendH, info.counts);
    return out;
}

}  // namespace bs::ui
