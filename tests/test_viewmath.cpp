// ViewTransform: zoom, pan, fit and probe mapping of the image views, as
// tables of (sizes, operation) -> expected zoom/offset/mapped points.
#include <QtTest>

#include "ui/render/viewtransform.h"

using bs::ui::ViewTransform;

namespace {

// A transform showing an image of `image` pixels in a view of `view`.
ViewTransform sized(QSize image, QSize view) {
    ViewTransform t;
    t.setImageSize(image);
    t.setViewSize(view);
    return t;
}

}  // namespace

class TestViewMath : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void fit_data();
    void fit();
    void zoomAtKeepsAnchor_data();
    void zoomAtKeepsAnchor();
    void pixelAt_data();
    void pixelAt();
    void oneToOneIsCentredOnWholePixels();
    void panAndRoundTrip();
    void syncMatchesRelativeRegion();
    void zoomIsClamped();
};

void TestViewMath::fit_data() {
    QTest::addColumn<QSize>("image");
    QTest::addColumn<QSize>("view");
    QTest::addColumn<double>("maxZoom");
    QTest::addColumn<double>("zoom");
    QTest::addColumn<QPointF>("offset");
    QTest::newRow("wide into square")
        << QSize(100, 50) << QSize(400, 400) << 64.0 << 4.0 << QPointF(0, 100);
    QTest::newRow("shrink") << QSize(1000, 500) << QSize(200, 200) << 64.0 << 0.2 << QPointF(0, 50);
    QTest::newRow("tall") << QSize(50, 200) << QSize(300, 100) << 64.0 << 0.5 << QPointF(137.5, 0);
    QTest::newRow("capped") << QSize(10, 10) << QSize(1000, 1000) << 64.0 << 64.0
                            << QPointF(180, 180);
    QTest::newRow("cap 1") << QSize(28, 28) << QSize(100, 56) << 1.0 << 1.0 << QPointF(36, 14);
}

void TestViewMath::fit() {
    QFETCH(QSize, image);
    QFETCH(QSize, view);
    QFETCH(double, maxZoom);
    QFETCH(double, zoom);
    QFETCH(QPointF, offset);
    ViewTransform t = sized(image, view);
    t.fit(maxZoom);
    QCOMPARE(t.zoom(), zoom);
    QCOMPARE(t.offset(), offset);
    QVERIFY(t.isFit());
    // The fitted image lies inside the view and touches it on one axis.
    const QRectF r = t.imageRectInView();
    QVERIFY(r.left() >= -1e-9 && r.top() >= -1e-9);
    QVERIFY(r.right() <= view.width() + 1e-9 && r.bottom() <= view.height() + 1e-9);
}

void TestViewMath::zoomAtKeepsAnchor_data() {
    QTest::addColumn<QPointF>("anchor");
    QTest::addColumn<double>("newZoom");
    QTest::addColumn<QPointF>("offset");
    // 100x100 image fitted in 200x200: zoom 2, offset 0.
    QTest::newRow("quarter point x2") << QPointF(50, 50) << 4.0 << QPointF(-50, -50);
    QTest::newRow("origin") << QPointF(0, 0) << 8.0 << QPointF(0, 0);
    QTest::newRow("zoom out at centre") << QPointF(100, 100) << 1.0 << QPointF(50, 50);
    QTest::newRow("anchor outside image") << QPointF(-20, 10) << 4.0 << QPointF(20, -10);
}

void TestViewMath::zoomAtKeepsAnchor() {
    QFETCH(QPointF, anchor);
    QFETCH(double, newZoom);
    QFETCH(QPointF, offset);
    ViewTransform t = sized({100, 100}, {200, 200});
    t.fit();
    const QPointF before = t.viewToImage(anchor);
    t.zoomAt(anchor, newZoom);
    QCOMPARE(t.zoom(), newZoom);
    QVERIFY(!t.isFit());
    const QPointF after = t.viewToImage(anchor);
    QVERIFY(qAbs(after.x() - before.x()) < 1e-9 && qAbs(after.y() - before.y()) < 1e-9);
    QCOMPARE(t.offset(), offset);
}

void TestViewMath::pixelAt_data() {
    QTest::addColumn<QPointF>("viewPoint");
    QTest::addColumn<bool>("inside");
    QTest::addColumn<int>("x");
    QTest::addColumn<int>("y");
    // 100x50 image in 400x400: zoom 4, offset (0,100).
    QTest::newRow("first pixel corner") << QPointF(0, 100) << true << 0 << 0;
    QTest::newRow("first pixel far edge") << QPointF(3.99, 103.99) << true << 0 << 0;
    QTest::newRow("second pixel") << QPointF(4, 104) << true << 1 << 1;
    QTest::newRow("last pixel") << QPointF(399.9, 299.9) << true << 99 << 49;
    QTest::newRow("above image") << QPointF(10, 99) << false << 2 << -1;
    QTest::newRow("below image") << QPointF(10, 300) << false << 2 << 50;
}

void TestViewMath::pixelAt() {
    QFETCH(QPointF, viewPoint);
    QFETCH(bool, inside);
    QFETCH(int, x);
    QFETCH(int, y);
    ViewTransform t = sized({100, 50}, {400, 400});
    t.fit();
    int px = -99, py = -99;
    QCOMPARE(t.pixelAt(viewPoint, px, py), inside);
    QCOMPARE(px, x);
    QCOMPARE(py, y);
}

void TestViewMath::oneToOneIsCentredOnWholePixels() {
    ViewTransform t = sized({100, 60}, {301, 200});
    t.oneToOne();
    QCOMPARE(t.zoom(), 1.0);
    QCOMPARE(t.offset(), QPointF(100, 70));
    QVERIFY(!t.isFit());
    // Fit mode is left: a resize does not change the zoom.
    t.setViewSize({800, 800});
    t.refit();
    QCOMPARE(t.zoom(), 1.0);
}

void TestViewMath::panAndRoundTrip() {
    ViewTransform t = sized({64, 64}, {256, 256});
    t.fit();
    t.panBy({10, -6});
    QCOMPARE(t.offset(), QPointF(10, -6));
    for (const QPointF p : {QPointF(0, 0), QPointF(12.5, 40.25), QPointF(63.9, 1)}) {
        const QPointF back = t.viewToImage(t.imageToView(p));
        QVERIFY(qAbs(back.x() - p.x()) < 1e-9 && qAbs(back.y() - p.y()) < 1e-9);
    }
}

void TestViewMath::syncMatchesRelativeRegion() {
    // Tensor view 224 px zoomed at 2x, raw view of a 448 px image follows:
    // it shows the same fraction of its image at the same screen scale.
    ViewTransform tensor, raw;
    tensor.setImageSize({224, 224});
    tensor.setViewSize({400, 400});
    tensor.fit();
    tensor.zoomAt({100, 100}, 4.0);
    raw.setImageSize({448, 448});
    raw.setViewSize({400, 400});
    raw.syncFrom(tensor);
    QCOMPARE(raw.zoom(), 2.0);
    const QPointF c(200, 200);
    const QPointF ft = tensor.viewToImage(c) / 224.0, fr = raw.viewToImage(c) / 448.0;
    QVERIFY(qAbs(ft.x() - fr.x()) < 1e-9 && qAbs(ft.y() - fr.y()) < 1e-9);
    // Fit propagates as fit.
    tensor.fit();
    raw.syncFrom(tensor);
    QVERIFY(raw.isFit());
    QCOMPARE(raw.zoom(), 400.0 / 448.0);
}

void TestViewMath::zoomIsClamped() {
    ViewTransform t = sized({10, 10}, {100, 100});
    t.zoomAt({0, 0}, 1e9);
    QCOMPARE(t.zoom(), ViewTransform::kMaxZoom);
    t.zoomAt({0, 0}, 0);
    QCOMPARE(t.zoom(), ViewTransform::kMinZoom);
}

QTEST_GUILESS_MAIN(TestViewMath)
#include "test_viewmath.moc"
