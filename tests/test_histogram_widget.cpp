// Rendering and histograms without a window: bin counts of a known image,
// overlay classification counts and colours, the display range text, and
// that the QPainter histogram actually draws the out-of-range highlight.
#include <QPainter>
#include <QtTest>

#include <cmath>
#include <limits>

#include "support/testsupport.h"
#include "ui/model/model.h"
#include "ui/render/render.h"
#include "ui/widgets/histogramwidget.h"

using namespace bs::ui;

using bstest::countColour;
using bstest::maxChannelDiff;

namespace {

// 16x16 RGB: R = 16*x, G = 100, B = 0 in the top half and 255 below.
bs::Image knownImage() {
    bs::Image im = bs::Image::allocate(16, 16, 3);
    for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x) {
            uint8_t* p = im.row(y) + x * 3;
            p[0] = uint8_t(16 * x);
            p[1] = 100;
            p[2] = y < 8 ? 0 : 255;
        }
    return im;
}

}  // namespace

class TestHistogramWidget : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void binsOfKnownImage();
    void floatHistogramAndOutside();
    void knownExtentSparesNothing();
    void overlayCountsAndColours();
    void reducedThumbnail();
    void soloAndMapping();
    void floatRoundingIsNotOutOfRange();
    void paintedHighlight();
    void qimageOwnsPixels();
};

void TestHistogramWidget::binsOfKnownImage() {
    const bs::Tensor t = bs::asTensor(bs::StageValue::fromImage(knownImage()));
    const ChannelHistograms h = computeHistogram(t, 0, 256);
    QCOMPARE(int(h.channels.size()), 3);
    for (size_t b = 0; b < 256; ++b) {
        QCOMPARE(h.channels[0].bins[b], (b % 16 == 0) ? uint64_t(16) : uint64_t(0));
        QCOMPARE(h.channels[1].bins[b], b == 100 ? uint64_t(256) : uint64_t(0));
        QCOMPARE(h.channels[2].bins[b], (b == 0 || b == 255) ? uint64_t(128) : uint64_t(0));
    }
    QCOMPARE(h.min[0], 0.0);
    QCOMPARE(h.max[0], 240.0);
    QCOMPARE(h.min[1], 100.0);
    QCOMPARE(h.max[2], 255.0);
    QCOMPARE(h.channels[0].below + h.channels[0].above, uint64_t(0));
    QCOMPARE(h.nan + h.inf, int64_t(0));
    // The image's own histogram, counted from its bytes, is the same.
    const ChannelHistograms bytes = byteHistogram(knownImage());
    for (size_t c = 0; c < 3; ++c) QCOMPARE(bytes.channels[c].bins, h.channels[c].bins);
    QCOMPARE(bytes.max, h.max);
}

// Sum of the 256 bins [first, last).
static uint64_t binSum(const bs::Histogram& h, size_t first, size_t last) {
    uint64_t sum = 0;
    for (size_t b = first; b < last; ++b) sum += h.bins[b];
    return sum;
}

void TestHistogramWidget::floatHistogramAndOutside() {
    bs::Tensor t = bs::Tensor::zeros({1, 2, 5});
    t.values = {-1.0f,
                0.0f,
                0.24f,
                0.25f,
                0.5f,
                1.0f,
                2.0f,
                std::numeric_limits<float>::quiet_NaN(),
                std::numeric_limits<float>::infinity(),
                0.99f};
    const ChannelHistograms h = computeHistogram(t, 0.0, 1.0);
    // Quarters [0,.25) [.25,.5) [.5,.75) [.75,1]: 0,0.24 | 0.25 | 0.5 | 1.0, 0.99
    const bs::Histogram& c0 = h.channels.at(0);
    QCOMPARE(binSum(c0, 0, 64), uint64_t(2));
    QCOMPARE(binSum(c0, 64, 128), uint64_t(1));
    QCOMPARE(binSum(c0, 128, 192), uint64_t(1));
    QCOMPARE(binSum(c0, 192, 256), uint64_t(2));
    QCOMPARE(c0.bins[255], uint64_t(1));  // the closed upper end
    QCOMPARE(c0.below, uint64_t(1));
    QCOMPARE(c0.above, uint64_t(2));  // 2.0, and +Inf as core's histogram counts it
    QCOMPARE(h.nan, int64_t(1));
    QCOMPARE(h.inf, int64_t(1));
    QCOMPARE(h.min[0], -1.0);
    QCOMPARE(h.max[0], 2.0);
    // Auto range joins data and expected range so outliers stay visible.
    DisplayRange exp = DisplayRange::uniform(0, 1, DisplayRange::Mode::Expected);
    const ChannelHistograms a = computeHistogramAuto(t, &exp);
    QCOMPARE(a.lo(), -1.0);
    QCOMPARE(a.hi(), 2.0);
    QCOMPARE(binSum(a.channels.at(0), 0, 256), uint64_t(8));  // everything finite is inside
    QCOMPARE(a.channels[0].below, uint64_t(0));
}

// The batch histogram takes the extent measured with the rows: the same
// histogram as measuring it again, and the extent given is the one used
// (a wrong extent shows, so the shortcut cannot hide a bug).
void TestHistogramWidget::knownExtentSparesNothing() {
    bs::Tensor t = bs::Tensor::zeros({2, 3, 4, 5});
    for (size_t i = 0; i < t.values.size(); ++i) t.values[i] = float(int(i * 37 % 101) - 20) / 40;
    t.values[7] = std::numeric_limits<float>::quiet_NaN();
    t.values[70] = -std::numeric_limits<float>::infinity();
    const DisplayRange exp = DisplayRange::uniform(0, 1, DisplayRange::Mode::Expected);
    const ChannelHistograms measured = computeHistogramAuto(t, &exp);
    const ChannelExtent extent = tensorExtent(t);
    QCOMPARE(extent.nonFinite, int64_t(2));
    const ChannelHistograms given = computeHistogramAuto(t, &exp, &extent);
    QCOMPARE(given.lo(), measured.lo());
    QCOMPARE(given.hi(), measured.hi());
    QCOMPARE(given.channels.size(), measured.channels.size());
    for (size_t c = 0; c < given.channels.size(); ++c) {
        QCOMPARE(given.channels[c].bins, measured.channels[c].bins);
        QCOMPARE(given.channels[c].below, measured.channels[c].below);
        QCOMPARE(given.channels[c].above, measured.channels[c].above);
    }
    QCOMPARE(given.min, measured.min);
    QCOMPARE(given.max, measured.max);
    QCOMPARE(measured.nan, int64_t(1));
    QCOMPARE(measured.inf, int64_t(1));
    QCOMPARE(given.nan, measured.nan);
    QCOMPARE(given.inf, measured.inf);

    ChannelExtent wider = extent;
    wider.max[1] = 10;
    const ChannelHistograms stretched = computeHistogramAuto(t, &exp, &wider);
    QCOMPARE(stretched.hi(), 10.0);
    QCOMPARE(stretched.max[1], 10.0);
    // An extent without its NaN/Inf count is not trusted: measured again.
    wider.nonFinite = -1;
    QCOMPARE(computeHistogramAuto(t, &exp, &wider).hi(), measured.hi());
}

void TestHistogramWidget::overlayCountsAndColours() {
    // 3x4 tensor; planted: 2 pixels above (one channel enough), 1 below,
    // 1 NaN, 1 Inf (NaN wins over above in the same pixel).
    bs::Tensor t = bs::Tensor::zeros({3, 3, 4});
    for (auto& v : t.values) v = 0.5f;
    const size_t plane = 12;
    t.values[0 * plane + 0] = 1.5f;                                      // above (R)
    t.values[2 * plane + 5] = 3.0f;                                      // above (B)
    t.values[1 * plane + 7] = -0.1f;                                     // below (G)
    t.values[0 * plane + 9] = std::numeric_limits<float>::quiet_NaN();   // NaN
    t.values[1 * plane + 9] = 7.0f;                                      // same pixel above
    t.values[2 * plane + 11] = -std::numeric_limits<float>::infinity();  // Inf
    RenderOptions ro;
    ro.range = DisplayRange::uniform(0, 1);
    ro.overlay = true;
    OverlayCounts c;
    const QImage img = renderTensor(t, ro, &c);
    QCOMPARE(c.above, int64_t(2));
    QCOMPARE(c.below, int64_t(1));
    QCOMPARE(c.nan, int64_t(1));
    QCOMPARE(c.inf, int64_t(1));
    QCOMPARE(c.total, int64_t(12));
    QCOMPARE(countColour(img, ro.colors.above), 2);
    QCOMPARE(countColour(img, ro.colors.below), 1);
    QCOMPARE(countColour(img, ro.colors.nan), 1);
    QCOMPARE(countColour(img, ro.colors.inf), 1);
    QCOMPARE(img.pixelColor(1, 0), QColor(128, 128, 128));  // 0.5 -> mid grey
    // Without the overlay the counts are the same but nothing is tinted.
    ro.overlay = false;
    OverlayCounts c2;
    const QImage plain = renderTensor(t, ro, &c2);
    QCOMPARE(c2.above, c.above);
    QCOMPARE(countColour(plain, ro.colors.above), 0);
    QCOMPARE(plain.pixelColor(0, 0), QColor(255, 128, 128));  // R clipped at white
}

// Thumbnails render straight at 1/reduce of the size: each pixel is its
// block's mean grey, a block with one bad pixel takes that pixel's overlay
// colour, partial blocks at the edges count, and the counts stay those of
// the source pixels. A smooth photo-like gradient matches the full render
// scaled down by Qt within 3 grey levels (rounding and filter differences).
void TestHistogramWidget::reducedThumbnail() {
    bs::Tensor t = bs::Tensor::zeros({3, 5, 7});
    const size_t plane = 35;
    for (size_t c = 0; c < 3; ++c)
        for (size_t i = 0; i < plane; ++i) t.values[c * plane + i] = 0.5f;
    t.values[0 * plane + 0] = 0.0f;          // block (0,0): R grey (0 + 3 * 128) / 4
    t.values[1 * plane + 7 * 2 + 4] = 2.0f;  // above, in block (2,1)
    t.values[2 * plane + 7 * 4 + 6] = std::numeric_limits<float>::quiet_NaN();  // corner block
    RenderOptions ro;
    ro.range = DisplayRange::uniform(0, 1);
    ro.overlay = true;
    OverlayCounts full, reduced;
    renderTensor(t, ro, &full);
    const QImage img = renderPlanes(t.values.data(), 3, 5, 7, ro, &reduced, 2);
    QCOMPARE(img.size(), QSize(4, 3));
    QCOMPARE(reduced.total, full.total);
    QCOMPARE(reduced.above, int64_t(1));
    QCOMPARE(reduced.nan, int64_t(1));
    QCOMPARE(img.pixelColor(0, 0), QColor(96, 128, 128));
    QCOMPARE(img.pixelColor(2, 1), ro.colors.above);
    QCOMPARE(img.pixelColor(3, 2), ro.colors.nan);  // a 1x1 block at the corner
    QCOMPARE(countColour(img, ro.colors.above), 1);
    QCOMPARE(img.pixelColor(1, 1), QColor(128, 128, 128));

    bs::Tensor ramp = bs::Tensor::zeros({3, 224, 224});
    for (size_t c = 0; c < 3; ++c)
        for (int y = 0; y < 224; ++y)
            for (int x = 0; x < 224; ++x)
                ramp.values[c * 224 * 224 + size_t(y) * 224 + x] =
                    float(0.5 + 0.45 * std::sin(x / 17.0 + y / 29.0 + double(c)));
    ro.overlay = false;
    const QImage big =
        renderTensor(ramp, ro).scaled(112, 112, Qt::KeepAspectRatio, Qt::SmoothTransformation);
    const QImage small = renderPlanes(ramp.values.data(), 3, 224, 224, ro, nullptr, 2);
    const int worst = maxChannelDiff(small, big);
    QVERIFY2(worst >= 0, "sizes differ");
    QVERIFY2(worst <= 3, qPrintable(QString::number(worst)));

    // Rows known to be finite and in range skip the classification: the
    // same picture within one grey level (rounding of the block mean).
    const ChannelExtent extent = tensorExtent(ramp);
    const QImage fast = renderPlanes(ramp.values.data(), 3, 224, 224, ro, nullptr, 2, &extent);
    const int diff = maxChannelDiff(fast, small);
    QVERIFY2(diff >= 0, "sizes differ");
    QVERIFY2(diff <= 1, qPrintable(QString::number(diff)));

    // An extent that does not prove the row clean changes nothing: here all
    // finite values are in range but one is NaN, and it is still overlaid.
    ro.overlay = true;
    bs::Tensor onlyNan = t;
    onlyNan.values[1 * plane + 7 * 2 + 4] = 0.5f;
    const ChannelExtent unsure = tensorExtent(onlyNan);
    QCOMPARE(unsure.nonFinite, int64_t(1));
    OverlayCounts withExtent, without;
    const QImage again = renderPlanes(onlyNan.values.data(), 3, 5, 7, ro, &withExtent, 2, &unsure);
    QCOMPARE(again, renderPlanes(onlyNan.values.data(), 3, 5, 7, ro, &without, 2));
    QCOMPARE(again.pixelColor(3, 2), ro.colors.nan);
    QCOMPARE(withExtent.nan, int64_t(1));

    // A flat clean row is still found collapsed and striped.
    bs::Tensor flat = bs::Tensor::zeros({3, 8, 8});
    for (auto& v : flat.values) v = 0.25f;
    const ChannelExtent flatExtent = tensorExtent(flat);
    OverlayCounts flatCounts;
    const QImage striped =
        renderPlanes(flat.values.data(), 3, 8, 8, ro, &flatCounts, 2, &flatExtent);
    QVERIFY(flatCounts.collapsed);
    QVERIFY(countColour(striped, ro.colors.collapsed) > 0);
    QCOMPARE(striped.pixelColor(3, 0), QColor(64, 64, 64));  // 0.25 -> 63.75, off the stripes
}

// A white pixel after ImageNet's green Normalize(mean 0.456, std 0.224)
// computed in float32 lies a few ulps above the range computed in double;
// that is rounding, not an anomaly. A real excursion just past it is still
// counted.
void TestHistogramWidget::floatRoundingIsNotOutOfRange() {
    const double hi = (1.0 - 0.456) / 0.224, lo = (0.0 - 0.456) / 0.224;
    const volatile float mean = 0.456f, std = 0.224f;  // computed at run time, in float
    const float white = (1.0f - mean) / std, black = (0.0f - mean) / std;
    QVERIFY2(double(white) > hi, "premise: float32 rounding lands above the double bound");
    bs::Tensor t = bs::Tensor::zeros({1, 1, 4});
    t.values = {white, black, float(hi + 0.01), float(lo - 0.01)};
    RenderOptions ro;
    ro.range = DisplayRange::uniform(lo, hi, DisplayRange::Mode::Expected);
    ro.overlay = true;
    OverlayCounts c;
    (void)renderTensor(t, ro, &c);
    QCOMPARE(c.above, int64_t(1));
    QCOMPARE(c.below, int64_t(1));
    // The histogram's range joins the data with the expected range, so the
    // rounded white is binned (in the top bin), never counted as outside.
    bs::Tensor wb = bs::Tensor::zeros({1, 1, 2});
    wb.values = {white, black};
    const ChannelHistograms h = computeHistogramAuto(wb, &ro.range);
    QCOMPARE(h.hi(), double(white));
    QCOMPARE(h.channels.at(0).above + h.channels.at(0).below, uint64_t(0));
    QCOMPARE(h.channels[0].bins.back(), uint64_t(1));   // white in the top bin
    QCOMPARE(h.channels[0].bins.front(), uint64_t(1));  // black in the bottom bin
}

void TestHistogramWidget::soloAndMapping() {
    bs::Tensor t = bs::Tensor::zeros({3, 1, 2});
    t.values = {-2.0f, 2.0f, 0.0f, 1.0f, 0.5f, -1.0f};  // R, G, B planes
    RenderOptions ro;
    ro.range.lo = {-2, 0, -1};
    ro.range.hi = {2, 1, 1};
    QImage img = renderTensor(t, ro);
    QCOMPARE(img.pixelColor(0, 0), QColor(0, 0, 191));
    QCOMPARE(img.pixelColor(1, 0), QColor(255, 255, 0));
    ro.solo = 1;  // G as grey
    img = renderTensor(t, ro);
    QCOMPARE(img.pixelColor(0, 0), QColor(0, 0, 0));
    QCOMPARE(img.pixelColor(1, 0), QColor(255, 255, 255));
    QVERIFY(ro.range.describe().contains("R[-2, 2] G[0, 1] B[-1, 1]"));

    // Resolving: unknown expected range falls back to min/max and says so.
    DisplaySettings d;
    ChannelRanges unknown;
    const DisplayRange r = resolveRange(d, unknown, "stage 1 Lambda", {0.0}, {255.0});
    QCOMPARE(r.mode, DisplayRange::Mode::Sample);
    QCOMPARE(r.hi[2], 255.0);
    QVERIFY(r.describe().contains("unknown"));
    ChannelRanges known;
    for (auto& k : known) k = bs::ValueRange::of(-2.1, 2.6);
    const DisplayRange e = resolveRange(d, known, "stage 4 Normalize", {0.0}, {1.0});
    QCOMPARE(e.mode, DisplayRange::Mode::Expected);
    QCOMPARE(e.lo[0], -2.1);
    QVERIFY(e.describe().contains("Normalize"));
}

void TestHistogramWidget::paintedHighlight() {
    // A histogram with mass above the expected range must show the "above"
    // colour in the plot; one entirely inside must not.
    bs::Tensor t = bs::Tensor::zeros({1, 10, 10});
    for (size_t i = 0; i < t.values.size(); ++i) t.values[i] = i < 50 ? 0.5f : 3.0f;
    const DisplayRange exp = DisplayRange::uniform(0, 1, DisplayRange::Mode::Expected);
    const ChannelHistograms h = computeHistogramAuto(t, &exp);
    QImage img(320, 140, QImage::Format_RGB32);
    QPainter p(&img);
    HistogramStyle style;
    paintHistogram(p, QRectF(img.rect()), h, exp, "test", style);
    p.end();
    QVERIFY(countColour(img, style.colors.above) > 20);

    bs::Tensor inside = bs::Tensor::zeros({1, 10, 10});
    for (auto& v : inside.values) v = 0.5f;
    const ChannelHistograms h2 = computeHistogramAuto(inside, &exp);
    QImage img2(320, 140, QImage::Format_RGB32);
    QPainter p2(&img2);
    paintHistogram(p2, QRectF(img2.rect()), h2, exp, "test", style);
    p2.end();
    QCOMPARE(countColour(img2, style.colors.above), 0);

    HistogramWidget w("w");
    w.setHistogram(h, exp);
    QCOMPARE(w.histogram().channels.at(0).bins, h.channels.at(0).bins);
}

void TestHistogramWidget::qimageOwnsPixels() {
    QImage img;
    {
        bs::Image im = knownImage();
        img = toQImage(im);
        std::fill(im.pixels.begin(), im.pixels.end(), 7);  // the core buffer changes/dies
    }
    QCOMPARE(img.size(), QSize(16, 16));
    QCOMPARE(img.pixelColor(3, 12), QColor(48, 100, 255));
}

QTEST_MAIN(TestHistogramWidget)
#include "test_histogram_widget.moc"
