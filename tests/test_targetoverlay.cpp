// Target overlay (ui/render/targetoverlay): a known mask and known boxes are
// painted over a flat gray image, and pixels are compared with the expected
// colour within a tolerance of 1 per channel (rounding of the opacity blend).
// Also the probe's class id and the legend's settings.
#include <QCheckBox>
#include <QSlider>
#include <QtTest>

#include "core/loader/loader.h"
#include "ui/render/sampletargets.h"
#include "ui/render/targetoverlay.h"
#include "ui/widgets/targetlegend.h"

using namespace bs::ui;

namespace {

const QColor kGray(100, 100, 100);
constexpr int kTolerance = 1;

// VOC-style schema: 0 background, 1 aeroplane, 2 bicycle, 255 ignore.
bs::TargetSchema vocSchema() {
    bs::TargetSchema s;
    s.kind = bs::TargetSchema::Kind::Mask;
    s.classIds = {0, 1, 2};
    s.classNames = {"background", "aeroplane", "bicycle"};
    s.ignoreIndex = 255;
    return s;
}

// 4x4 mask: left half class 1, right half class 0, bottom-right pixel 255.
bs::Target quarterMask() {
    bs::Target t;
    t.mask = bs::Image::allocate(4, 4, 1);
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 2; ++x) t.mask.row(y)[x] = 1;
    t.mask.row(3)[3] = 255;
    return t;
}

QImage grayImage(int w, int h) {
    QImage im(w, h, QImage::Format_RGB32);
    im.fill(kGray);
    return im;
}

QColor mix(const QColor& under, const QColor& over, double a) {
    auto m = [a](int u, int o) { return int(u * (1 - a) + o * a + 0.5); };
    return QColor(m(under.red(), over.red()), m(under.green(), over.green()),
                  m(under.blue(), over.blue()));
}

bool near(const QColor& got, const QColor& want) {
    return std::abs(got.red() - want.red()) <= kTolerance &&
           std::abs(got.green() - want.green()) <= kTolerance &&
           std::abs(got.blue() - want.blue()) <= kTolerance;
}

QString describe(const QColor& c) {
    return QStringLiteral("(%1,%2,%3)").arg(c.red()).arg(c.green()).arg(c.blue());
}

}  // namespace

class TestTargetOverlay : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void vocColours_data();
    void vocColours();
    void mask_data();
    void mask();
    void box_data();
    void box();
    void probe_data();
    void probe();
    void baseIsNotModified();
    void viewsPickTheirStage();
    void legendEmitsSettings();
};

void TestTargetOverlay::vocColours_data() {
    QTest::addColumn<int>("id");
    QTest::addColumn<QColor>("colour");
    // Pascal VOC's published colour map.
    QTest::newRow("background") << 0 << QColor(0, 0, 0);
    QTest::newRow("aeroplane") << 1 << QColor(128, 0, 0);
    QTest::newRow("bicycle") << 2 << QColor(0, 128, 0);
    QTest::newRow("person") << 15 << QColor(192, 128, 128);
    QTest::newRow("void") << 255 << QColor(224, 224, 192);
}

void TestTargetOverlay::vocColours() {
    QFETCH(int, id);
    QFETCH(QColor, colour);
    QCOMPARE(classColor(id), colour);
}

void TestTargetOverlay::mask_data() {
    QTest::addColumn<double>("opacity");
    QTest::addColumn<bool>("showMask");
    QTest::addColumn<QSet<qint64>>("hidden");
    QTest::addColumn<QPoint>("pixel");  // of the 8x8 image (mask is 4x4)
    QTest::addColumn<QColor>("expected");
    const QColor aero(128, 0, 0);
    QTest::newRow("class 1 at half opacity")
        << 0.5 << true << QSet<qint64>{} << QPoint(1, 1) << mix(kGray, aero, 0.5);
    QTest::newRow("class 1, scaled mask edge")
        << 0.5 << true << QSet<qint64>{} << QPoint(3, 6) << mix(kGray, aero, 0.5);
    QTest::newRow("class 0 black at 0.25")
        << 0.25 << true << QSet<qint64>{} << QPoint(5, 0) << mix(kGray, Qt::black, 0.25);
    QTest::newRow("ignore drawn white")
        << 0.5 << true << QSet<qint64>{} << QPoint(7, 7) << mix(kGray, Qt::white, 0.5);
    QTest::newRow("opaque") << 1.0 << true << QSet<qint64>{} << QPoint(0, 0) << aero;
    QTest::newRow("opacity 0 leaves the image")
        << 0.0 << true << QSet<qint64>{} << QPoint(0, 0) << kGray;
    QTest::newRow("hidden class not painted")
        << 0.5 << true << QSet<qint64>{1} << QPoint(1, 1) << kGray;
    QTest::newRow("other class still painted when 1 hidden")
        << 0.5 << true << QSet<qint64>{1} << QPoint(5, 0) << mix(kGray, Qt::black, 0.5);
    QTest::newRow("mask off") << 0.5 << false << QSet<qint64>{} << QPoint(1, 1) << kGray;
}

void TestTargetOverlay::mask() {
    QFETCH(double, opacity);
    QFETCH(bool, showMask);
    QFETCH(QSet<qint64>, hidden);
    QFETCH(QPoint, pixel);
    QFETCH(QColor, expected);
    TargetOverlaySettings s;
    s.opacity = opacity;
    s.showMask = showMask;
    for (qint64 id : hidden) s.hiddenClasses.insert(id);
    const QImage out = paintTarget(grayImage(8, 8), quarterMask(), QSize(8, 8), vocSchema(), s);
    const QColor got = out.pixelColor(pixel);
    QVERIFY2(near(got, expected), qPrintable(describe(got) + " != " + describe(expected)));
}

void TestTargetOverlay::box_data() {
    QTest::addColumn<bool>("hideLabel");
    QTest::addColumn<bool>("showBoxes");
    QTest::addColumn<QPoint>("pixel");  // of the 200x100 view of a 100x50 image
    QTest::addColumn<bool>("onBox");
    // Box (10,10)-(40,30) in image pixels is (20,20)-(80,60) in the view.
    QTest::newRow("left edge, scaled") << false << true << QPoint(20, 45) << true;
    QTest::newRow("right edge, scaled") << false << true << QPoint(80, 45) << true;
    QTest::newRow("bottom edge, scaled") << false << true << QPoint(50, 60) << true;
    QTest::newRow("unscaled left edge is not the box") << false << true << QPoint(10, 45) << false;
    QTest::newRow("inside stays") << false << true << QPoint(50, 50) << false;
    QTest::newRow("outside stays") << false << true << QPoint(150, 90) << false;
    QTest::newRow("hidden class: no box") << true << true << QPoint(20, 45) << false;
    QTest::newRow("boxes off") << false << false << QPoint(20, 45) << false;
}

void TestTargetOverlay::box() {
    QFETCH(bool, hideLabel);
    QFETCH(bool, showBoxes);
    QFETCH(QPoint, pixel);
    QFETCH(bool, onBox);
    bs::Target t;
    bs::Box b;
    b.x1 = 10, b.y1 = 10, b.x2 = 40, b.y2 = 30, b.label = 2;
    t.boxes.push_back(b);
    TargetOverlaySettings s;
    s.showBoxes = showBoxes;
    if (hideLabel) s.hiddenClasses.insert(2);
    const QImage out = paintTarget(grayImage(200, 100), t, QSize(100, 50), vocSchema(), s);
    QCOMPARE(out.size(), QSize(200, 100));
    const QColor got = out.pixelColor(pixel);
    const QColor want = onBox ? classColor(2) : kGray;
    QVERIFY2(near(got, want), qPrintable(describe(got) + " != " + describe(want)));
}

void TestTargetOverlay::probe_data() {
    QTest::addColumn<QSize>("space");
    QTest::addColumn<QPoint>("pixel");
    QTest::addColumn<int>("id");
    QTest::addColumn<QString>("text");
    QTest::newRow("mask size") << QSize(4, 4) << QPoint(1, 2) << 1 << QString("class 1 aeroplane");
    QTest::newRow("image twice the mask")
        << QSize(8, 8) << QPoint(5, 1) << 0 << QString("class 0 background");
    QTest::newRow("first pixel right of the class edge")
        << QSize(4, 4) << QPoint(2, 0) << 0 << QString("class 0 background");
    QTest::newRow("last pixel left of the class edge, scaled")
        << QSize(8, 8) << QPoint(3, 5) << 1 << QString("class 1 aeroplane");
    QTest::newRow("ignore") << QSize(8, 8) << QPoint(7, 6) << 255 << QString("class 255 ignore");
    QTest::newRow("outside") << QSize(8, 8) << QPoint(8, 0) << -1 << QString("");
    QTest::newRow("negative") << QSize(8, 8) << QPoint(-1, 0) << -1 << QString("");
}

void TestTargetOverlay::probe() {
    QFETCH(QSize, space);
    QFETCH(QPoint, pixel);
    QFETCH(int, id);
    QFETCH(QString, text);
    QCOMPARE(classAt(quarterMask(), space, pixel.x(), pixel.y()), id);
    QCOMPARE(probeClassText(quarterMask(), space, pixel.x(), pixel.y(), vocSchema()), text);
    QCOMPARE(classAt(bs::Target{}, space, 0, 0), -1);  // no mask: no class
}

void TestTargetOverlay::baseIsNotModified() {
    QImage base(8, 8, QImage::Format_ARGB32);
    base.fill(kGray);
    const QImage copy = base.copy();
    const QImage out = paintTarget(base, quarterMask(), QSize(8, 8), vocSchema(), {});
    QCOMPARE(base, copy);
    QVERIFY(out != base);
}

void TestTargetOverlay::legendEmitsSettings() {
    TargetLegend legend;
    legend.setSchema(vocSchema());
    TargetOverlaySettings last;
    int emitted = 0;
    connect(&legend, &TargetLegend::settingsChanged, this,
            [&](const TargetOverlaySettings& s) { last = s, ++emitted; });
    const auto boxes = legend.findChildren<QCheckBox*>();
    QCheckBox* aero = nullptr;
    QCheckBox* maskBox = nullptr;
    for (QCheckBox* c : boxes) {
        if (c->text().contains(QStringLiteral("aeroplane"))) aero = c;
        if (c->text() == QStringLiteral("Show mask")) maskBox = c;
    }
    QVERIFY(aero && maskBox);
    QCOMPARE(int(boxes.size()), 2 + 4);  // two toggles, three classes and ignore
    aero->setChecked(false);
    QCOMPARE(emitted, 1);
    QVERIFY(!last.visible(1));
    QVERIFY(last.visible(2));
    aero->setChecked(true);
    QVERIFY(last.visible(1));
    aero->setChecked(false);
    maskBox->setChecked(false);
    QVERIFY(!last.showMask);
    legend.findChild<QSlider*>()->setValue(30);
    QCOMPARE(last.opacity, 0.3);
    // A new schema keeps the hidden class that still exists.
    legend.setSchema(vocSchema());
    QVERIFY(!legend.settings().visible(1));
}

// The raw view takes the input's targets (targets[0], in raw pixels), the
// transformed view and the exporter's stage panel the targets after the
// stage they show (here: the output's, at the tensor's 2x2 size).
void TestTargetOverlay::viewsPickTheirStage() {
    bs::SampleResult r;
    r.raw = bs::Image::allocate(8, 8, 3);
    r.targets.push_back(quarterMask());  // raw: left half class 1
    r.output.shape = {3, 2, 2};
    r.output.values.assign(12, 0.f);
    r.outputTarget.mask = bs::Image::allocate(2, 2, 1);
    r.outputTarget.mask.row(0)[1] = 2;  // output: top-right class 2
    QCOMPARE(rawClassText(r, 1, 1, vocSchema()), QString("class 1 aeroplane"));
    QCOMPARE(tensorClassText(r, 1, 0, vocSchema()), QString("class 2 bicycle"));
    QCOMPARE(tensorClassText(r, 0, 0, vocSchema()), QString("class 0 background"));
    TargetOverlaySettings s;
    s.opacity = 1.0;
    // A 16x16 view of the 2x2 tensor: its top-right quarter is class 2.
    const QImage tensor = overlayTensor(grayImage(16, 16), r, vocSchema(), s);
    QCOMPARE(tensor.pixelColor(12, 3), classColor(2));
    QCOMPARE(tensor.pixelColor(3, 3), classColor(0));
    const QImage raw = overlayRaw(grayImage(8, 8), r, vocSchema(), s);
    QCOMPARE(raw.pixelColor(1, 1), classColor(1));
    const QImage stage0 = overlayStage(grayImage(8, 8), r, 0, vocSchema(), s);
    QCOMPARE(stage0.pixelColor(1, 1), classColor(1));
    const QImage last = overlayStage(grayImage(2, 2), r, 1, vocSchema(), s);
    QCOMPARE(last.pixelColor(1, 0), classColor(2));
    // Without targets the image comes back as it was.
    const QImage bare = overlayTensor(grayImage(4, 4), bs::SampleResult{}, vocSchema(), s);
    QCOMPARE(bare.pixelColor(0, 0), kGray);
}

QTEST_MAIN(TestTargetOverlay)
#include "test_targetoverlay.moc"
