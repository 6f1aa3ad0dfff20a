// The inspector window on the offscreen platform, driven like a user would:
// open a generated ImageFolder, step through batches, edit the pipeline,
// probe pixels, turn the range overlay on over a planted sample, and read
// the histograms.
#include <QCheckBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QListWidget>
#include <QMenu>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTreeWidget>
#include <QtTest>

#include "support/testsupport.h"
#include "ui/widgets/histogramwidget.h"
#include "ui/widgets/imageview.h"
#include "ui/inspector/mainwindow.h"
#include "ui/widgets/pipelinepanel.h"
#include "ui/model/session.h"

using namespace bs::ui;

using bstest::countColour;
using bstest::waitIdle;

namespace {

// 2 classes x 10 images of 32x24 (pattern images from the test support).
void makeFolder(const QString& root) {
    for (const char* cls : {"cat", "dog"}) {
        QDir(root).mkpath(cls);
        for (int i = 0; i < 10; ++i)
            bstest::writePatternImage(
                QStringLiteral("%1/%2/img_%3.png").arg(root, cls).arg(i, 2, 10, QChar('0')), 32, 24,
                i + (cls[0] == 'd' ? 100 : 0));
    }
}

QList<qulonglong> gridIndices(const MainWindow& w) {
    QList<qulonglong> r;
    for (int i = 0; i < w.grid()->count(); ++i)
        r << w.grid()->item(i)->data(Qt::UserRole).toULongLong();
    return r;
}

}  // namespace

class TestGuiInspector : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void stepThroughBatches();
    void editPipelineChangesTensor();
    void probeMapsThroughCrop();
    void overlayOnPlantedSample();
    void histogramOfKnownImage();
    void badPathShowsError();
    void screenshotExport();
    void auditAndJumpToFinding();
    void sampleComputedOnce();
    void targetsFollowThePipeline();
    void splitMenuReopensTorchvisionRoot();
    void shardsShownBeforeAllAreIndexed();
};

void TestGuiInspector::stepThroughBatches() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/data");
    MainWindow w(dir.path() + "/settings.ini");
    w.resize(1200, 800);
    w.show();
    w.openPath(dir.path() + "/data");
    QVERIFY(waitIdle(w));
    QVERIFY(w.pipelinePanel()->setText(R"([{"op":"ToTensor"}])"));
    QSpinBox* bs = nullptr;
    for (auto* s : w.findChildren<QSpinBox*>())
        if (s->maximum() == 4096) bs = s;
    QVERIFY(bs);
    // A fresh window loads with workers (one per core, up to 4): with 0,
    // stepping waits on one core. Outputs do not depend on it.
    QSpinBox* workers = nullptr;
    for (auto* s : w.findChildren<QSpinBox*>())
        if (s->maximum() == 64) workers = s;
    QVERIFY(workers);
    QCOMPARE(workers->value(), defaultLoaderWorkers());
    QVERIFY(workers->value() >= 1);
    QCOMPARE(w.session()->loaderSettings().workers, workers->value());
    bs->setValue(6);  // 20 samples -> batches of 6, 6, 6, 2
    QVERIFY(waitIdle(w));
    QCOMPARE(w.session()->numBatches(), size_t(4));
    QCOMPARE(gridIndices(w), (QList<qulonglong>{0, 1, 2, 3, 4, 5}));
    // Labels/class names appear in the tiles.
    QVERIFY(w.grid()->item(0)->text().contains("cat"));

    QTest::keyClick(&w, Qt::Key_Right);
    QVERIFY(waitIdle(w));
    QCOMPARE(gridIndices(w), (QList<qulonglong>{6, 7, 8, 9, 10, 11}));
    QVERIFY(w.grid()->item(4)->text().contains("dog"));
    QTest::keyClick(&w, Qt::Key_Space);
    QTest::keyClick(&w, Qt::Key_PageDown);  // quickly: two steps queued, last one wins
    QVERIFY(waitIdle(w));
    QCOMPARE(gridIndices(w), (QList<qulonglong>{18, 19}));
    QTest::keyClick(&w, Qt::Key_Left);
    QVERIFY(waitIdle(w));
    QCOMPARE(gridIndices(w), (QList<qulonglong>{12, 13, 14, 15, 16, 17}));
    QTest::keyClick(&w, Qt::Key_Home);
    QVERIFY(waitIdle(w));
    QCOMPARE(gridIndices(w).first(), qulonglong(0));
    QTest::keyClick(&w, Qt::Key_End);
    QVERIFY(waitIdle(w));
    QCOMPARE(gridIndices(w), (QList<qulonglong>{18, 19}));

    // Go to sample index 9: its batch opens and it is selected.
    w.goToSampleIndex(9);
    QVERIFY(waitIdle(w));
    QCOMPARE(gridIndices(w).first(), qulonglong(6));
    QCOMPARE(w.session()->sampleView()->index, size_t(9));
    QCOMPARE(w.grid()->currentItem()->data(Qt::UserRole).toULongLong(), qulonglong(9));

    // Clicking a tile selects that sample for the sample view.
    w.grid()->setCurrentRow(1);
    QVERIFY(waitIdle(w));
    QCOMPARE(w.session()->sampleView()->index, size_t(7));
    // The raw view shows the decoded 32x24 image, the tensor view 32x24 too.
    QCOMPARE(w.rawView()->image().size(), QSize(32, 24));
    QCOMPARE(w.tensorView()->image().size(), QSize(32, 24));
}

void TestGuiInspector::editPipelineChangesTensor() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/data");
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, dir.path() + "/data", R"([{"op":"Resize","size":16},{"op":"ToTensor"}])"));
    QCOMPARE(w.session()->sampleView()->result->output.shape, (std::vector<int64_t>{3, 16, 21}));
    const std::vector<float> before = w.session()->sampleView()->result->output.values;

    // Edit the Resize size with its spin box in the parameter form.
    w.pipelinePanel()->list()->setCurrentRow(0);
    auto* size = w.pipelinePanel()->findChild<QSpinBox*>("param_size");
    QVERIFY(size);
    size->setValue(8);
    QVERIFY(waitIdle(w));
    QCOMPARE(w.session()->sampleView()->result->output.shape, (std::vector<int64_t>{3, 8, 10}));
    QCOMPARE(w.tensorView()->image().size(), QSize(10, 8));

    // Toggle the Resize off: the tensor is the full-size image again.
    w.pipelinePanel()->list()->item(0)->setCheckState(Qt::Unchecked);
    QVERIFY(waitIdle(w));
    QCOMPARE(w.session()->sampleView()->result->output.shape, (std::vector<int64_t>{3, 24, 32}));
    const std::vector<float> plain = w.session()->sampleView()->result->output.values;

    // Add a Normalize(0.5, 0.5): every value v becomes (v - 0.5) / 0.5.
    QVERIFY(w.pipelinePanel()->setText(
        R"([{"op":"ToTensor"},{"op":"Normalize","mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}])"));
    QVERIFY(waitIdle(w));
    const auto& norm = w.session()->sampleView()->result->output.values;
    QCOMPARE(norm.size(), plain.size());
    for (size_t i = 0; i < norm.size(); i += 97)
        QVERIFY(qAbs(norm[i] - (plain[i] - 0.5f) / 0.5f) < 1e-5);
    // The display range follows the stage: Normalize's expected range [-1, 1].
    QVERIFY2(w.readouts().rangeText().contains("[-1, 1]"), qPrintable(w.readouts().rangeText()));
    QVERIFY(w.readouts().rangeText().contains("Normalize"));

    // An invalid parameter is reported in the panel, nothing crashes, and the
    // previous pipeline stays in force.
    QVERIFY(!w.pipelinePanel()->setText(R"([{"op":"Resize","size":"big"}])"));
    QCOMPARE(w.session()->pipeline().size(), size_t(2));
}

void TestGuiInspector::probeMapsThroughCrop() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/data");
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, dir.path() + "/data", R"([{"op":"CenterCrop","size":16},{"op":"ToTensor"}])"));
    // Tensor (0,0) of a centre crop 16 of 32x24 is raw (8,4).
    w.probeTensor(0, 0);
    QVERIFY2(w.readouts().probeText().contains("raw (8,4)"), qPrintable(w.readouts().probeText()));
    w.probeTensor(15, 15);
    QVERIFY2(w.readouts().probeText().contains("raw (23,19)"),
             qPrintable(w.readouts().probeText()));
    // The raw value shown is the pixel there, and the tensor value is it / 255.
    const auto& res = *w.session()->sampleView()->result;
    const int r = res.raw.at(19, 23, 0);
    QVERIFY2(w.readouts().probeText().contains(QStringLiteral("RGB(%1,").arg(r)),
             qPrintable(w.readouts().probeText()));
    QCOMPARE(res.output.values[15 * 16 + 15], float(r / 255.0f));
}

void TestGuiInspector::overlayOnPlantedSample() {
    QTemporaryDir dir;
    const QString root = dir.path() + "/data";
    QDir(root).mkpath("a");
    // Sample 0: black 20x20 with 7 white pixels (planted); sample 1: black.
    QImage planted(20, 20, QImage::Format_RGB888);
    planted.fill(Qt::black);
    const QList<QPoint> white = {{0, 0}, {3, 4}, {19, 19}, {10, 2}, {5, 15}, {11, 11}, {18, 0}};
    for (const QPoint& p : white) planted.setPixelColor(p, Qt::white);
    QVERIFY(planted.save(root + "/a/0.png"));
    QImage black(20, 20, QImage::Format_RGB888);
    black.fill(Qt::black);
    QVERIFY(black.save(root + "/a/1.png"));

    MainWindow w(dir.path() + "/settings.ini");
    // The planted bug: a Lambda that scales [0,1] tensors by 2.
    QVERIFY(bstest::openWithPipeline(w, root, R"([{"op":"ToTensor"},{"op":"Lambda","expr":"x * 2"}])"));
    // Lambda's range is unknown: the mapping says so instead of guessing.
    QVERIFY2(w.readouts().rangeText().contains("unknown"), qPrintable(w.readouts().rangeText()));
    w.setRangeMode(bs::ui::DisplayRange::Mode::Manual, 0.0, 1.0);
    w.setOverlay(true);
    QVERIFY(waitIdle(w));
    w.goToSampleIndex(0);
    QVERIFY(waitIdle(w));
    const OverlayColors colors;
    QCOMPARE(w.session()->sampleView()->counts.above, int64_t(white.size()));
    QCOMPARE(countColour(w.tensorView()->image(), colors.above), int(white.size()));
    for (const QPoint& p : white) QCOMPARE(w.tensorView()->image().pixelColor(p), colors.above);
    QVERIFY(w.readouts().rangeText().contains("manual"));
    // Thumbnails carry the overlay too.
    QVERIFY(countColour(w.session()->batchView()->thumbs[0], colors.above) > 0);
    QCOMPARE(countColour(w.session()->batchView()->thumbs[1], colors.above), 0);
    // The clean sample has nothing tinted.
    w.goToSampleIndex(1);
    QVERIFY(waitIdle(w));
    QCOMPARE(w.session()->sampleView()->index, size_t(1));
    QCOMPARE(countColour(w.tensorView()->image(), colors.above), 0);

    // x / x turns every black pixel into NaN: a finding and NaN tint.
    QVERIFY(w.pipelinePanel()->setText(R"([{"op":"ToTensor"},{"op":"Lambda","expr":"x / x"}])"));
    QVERIFY(waitIdle(w));
    w.goToSampleIndex(0);
    QVERIFY(waitIdle(w));
    QCOMPARE(w.session()->sampleView()->counts.nan, int64_t(400 - white.size()));
    QCOMPARE(countColour(w.tensorView()->image(), colors.nan), int(400 - white.size()));
    bool nanFinding = false;
    for (int i = 0; i < w.anomalies()->topLevelItemCount(); ++i)
        nanFinding |= w.anomalies()->topLevelItem(i)->text(1) == "nan_or_inf";
    QVERIFY(nanFinding);
}

void TestGuiInspector::histogramOfKnownImage() {
    QTemporaryDir dir;
    const QString root = dir.path() + "/data";
    QDir(root).mkpath("a");
    QImage img(16, 16, QImage::Format_RGB888);
    for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x) img.setPixelColor(x, y, QColor(16 * x, 100, y < 8 ? 0 : 255));
    QVERIFY(img.save(root + "/a/0.png"));
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, root, R"([{"op":"ToTensor"}])"));
    const ChannelHistograms& raw = w.rawHistogram()->histogram();
    QCOMPARE(int(raw.channels.size()), 3);
    QCOMPARE(raw.channels[1].bins[100], uint64_t(256));
    QCOMPARE(raw.channels[2].bins[0], uint64_t(128));
    QCOMPARE(raw.channels[2].bins[255], uint64_t(128));
    for (size_t x = 0; x < 16; ++x) QCOMPARE(raw.channels[0].bins[16 * x], uint64_t(16));
    // Transformed: ToTensor -> [0,1], 256 bins: 100/255 lands in bin 100.
    const ChannelHistograms& t = w.tensorHistogram()->histogram();
    QCOMPARE(t.lo(), 0.0);
    QCOMPARE(t.hi(), 1.0);
    QCOMPARE(t.channels[1].bins[100], uint64_t(256));
    QCOMPARE(t.channels[2].bins[255], uint64_t(128));
    // Whole batch (one sample here) equals the sample's.
    QCOMPARE(w.batchHistogram()->histogram().channels[1].bins, t.channels[1].bins);
}

void TestGuiInspector::badPathShowsError() {
    QTemporaryDir dir;
    MainWindow w(dir.path() + "/settings.ini");
    w.show();
    w.openPath(dir.path() + "/does-not-exist");
    QTRY_VERIFY_WITH_TIMEOUT(!w.readouts().errorText().isEmpty(), 20000);
    QVERIFY2(w.readouts().errorText().contains("does-not-exist"),
             qPrintable(w.readouts().errorText()));
    QVERIFY(!w.session()->hasDataset());
    // Stepping with nothing open is harmless.
    w.nextBatch();
    w.previousBatch();
    w.lastBatch();
}

void TestGuiInspector::screenshotExport() {
    QTemporaryDir dir;
    const QString root = dir.path() + "/data";
    QDir(root).mkpath("a");
    QImage planted(20, 20, QImage::Format_RGB888);
    planted.fill(QColor(10, 10, 10));
    for (int x = 0; x < 5; ++x) planted.setPixelColor(x, 0, Qt::white);
    QVERIFY(planted.save(root + "/a/0.png"));
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, root, R"([{"op":"ToTensor"},{"op":"Lambda","expr":"x * 2"}])"));
    w.setRangeMode(bs::ui::DisplayRange::Mode::Manual, 0.0, 1.0);
    QVERIFY(waitIdle(w));
    const QImage shot = w.composeCurrentScreenshot();
    QVERIFY(!shot.isNull());
    QVERIFY(shot.width() >= 700 && shot.height() >= 600);
    // The 20 px tensor is enlarged by an integer factor 19 (384/20) without
    // smoothing: the 5 planted pixels become 5 * 19 * 19 "above" pixels.
    const OverlayColors colors;
    const int above = countColour(shot, colors.above);
    QVERIFY2(above >= 5 * 19 * 19, qPrintable(QString::number(above)));
    // Tensor panel: x = 16 + 384 + 16, y = 16 + 24, image 380 px centred (+2).
    const QPoint origin(418, 42);
    QCOMPARE(shot.pixelColor(origin + QPoint(9, 9)), colors.above);
    QCOMPARE(shot.pixelColor(origin + QPoint(4 * 19 + 9, 9)), colors.above);
    QVERIFY(shot.pixelColor(origin + QPoint(5 * 19 + 9, 9)) != colors.above);
    QVERIFY(shot.pixelColor(origin + QPoint(9, 19 + 9)) != colors.above);
    // The caption region (below the histograms) has text in it.
    int bright = 0;
    for (int y = shot.height() - 150; y < shot.height() - 16; ++y)
        for (int x = 16; x < shot.width() - 16; ++x) bright += qGray(shot.pixel(x, y)) > 150;
    QVERIFY(bright > 200);
    const QString out = dir.path() + "/shot.png";
    QVERIFY(shot.save(out));
    QVERIFY(QImage(out).size() == shot.size());
}

void TestGuiInspector::auditAndJumpToFinding() {
    QTemporaryDir dir;
    const QString root = dir.path() + "/data";
    QDir(root).mkpath("a");
    for (int i = 0; i < 10; ++i)
        bstest::writePatternImage(QStringLiteral("%1/a/%2.png").arg(root).arg(i), 24, 24, i);
    // Planted: index 7 is a PNG cut in half (truncated).
    QFile f(QStringLiteral("%1/a/7.png").arg(root));
    QVERIFY(f.open(QIODevice::ReadWrite));
    const QByteArray whole = f.readAll();
    f.resize(whole.size() / 2);
    f.close();
    MainWindow w(dir.path() + "/settings.ini");
    w.show();
    w.openPath(root);
    QVERIFY(waitIdle(w));
    QVERIFY(w.pipelinePanel()->setText(R"([{"op":"ToTensor"}])"));
    for (auto* s : w.findChildren<QSpinBox*>())
        if (s->maximum() == 4096) s->setValue(4);
    QVERIFY(waitIdle(w));
    QCOMPARE(gridIndices(w), (QList<qulonglong>{0, 1, 2, 3}));
    QSignalSpy done(w.session(), &Session::auditFinished);
    QPushButton* audit = nullptr;
    for (auto* b : w.findChildren<QPushButton*>())
        if (b->text().startsWith("Audit")) audit = b;
    QVERIFY(audit);
    audit->click();
    QVERIFY(done.wait(60000));
    QCOMPARE(done.first().first().toBool(), false);  // not cancelled
    // The audit found the truncated file; its row names index 7, batch 2.
    QTreeWidgetItem* row = nullptr;
    for (int i = 0; i < w.anomalies()->topLevelItemCount(); ++i) {
        auto* it = w.anomalies()->topLevelItem(i);
        if (it->text(3) == "7") row = it;
    }
    QVERIFY(row);
    QVERIFY2(row->text(1).contains("truncated"), qPrintable(row->text(1)));
    QCOMPARE(row->text(2), QStringLiteral("2"));
    // Selecting it jumps to that batch and sample.
    w.anomalies()->setCurrentItem(row);
    Q_EMIT w.anomalies()->itemClicked(row, 0);
    QVERIFY(waitIdle(w));
    QCOMPARE(gridIndices(w), (QList<qulonglong>{4, 5, 6, 7}));
    QCOMPARE(w.session()->sampleView()->index, size_t(7));
    QVERIFY(!w.session()->sampleView()->error.isEmpty());
}

// Issue 12: a sample of the batch in view is computed once, by the batch;
// the sample at the selected row keeps all its stages and the sample view
// shows that very result, the others keep what the judge reads; the judge's
// findings name the batch's samples.
void TestGuiInspector::sampleComputedOnce() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/data");
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, dir.path() + "/data",
                                     R"([{"op":"ToTensor"},{"op":"Lambda","expr":"x * 0 / 0"}])"));
    w.grid()->setCurrentRow(2);
    QVERIFY(waitIdle(w));
    // Selected after its batch was computed: computed alone, all stages.
    auto first = w.session()->sampleView();
    QVERIFY(first && first->result && first->index == 2);
    QCOMPARE(first->result->stages.size(), size_t(3));  // input, ToTensor, Lambda
    QVERIFY(!first->result->stages[1].tensor.empty());
    // A batch asked for while row 2 is selected keeps that row whole.
    LoaderSettings ls = w.session()->loaderSettings();
    ls.batchSize = 8;
    w.session()->setLoaderSettings(ls);
    QVERIFY(waitIdle(w));
    const auto batch = w.session()->batchView();
    const auto sample = w.session()->sampleView();
    QVERIFY(batch && batch->results && sample && sample->result);
    QCOMPARE(batch->batch->samples.size(), size_t(8));
    QCOMPARE(batch->results->size(), batch->batch->samples.size());
    QCOMPARE(sample->result.get(), &(*batch->results)[2]);
    QCOMPARE(sample->result->stages.size(), size_t(3));
    QVERIFY(!sample->result->stages[1].tensor.empty() && !sample->result->raw.empty());
    // The others: no decoded copy, and ToTensor's value (derived by the
    // judge from the input's byte counts) not kept.
    QVERIFY((*batch->results)[0].raw.empty());
    QVERIFY((*batch->results)[0].stages[1].tensor.empty());
    QVERIFY(batch->judged);
    // Every value turns NaN: core's kind, on samples of this batch only.
    bool nan = false;
    for (const auto& f : batch->findings) {
        QVERIFY(f.index >= 0 && f.index < qint64(batch->batch->samples.size()));
        nan |= f.kind == "nan_or_inf";
    }
    QVERIFY(nan);
}

// A segmentation dataset (images/ + masks/) in the window: the mask is
// painted over the raw view as read and over the tensor view as the Resize
// moved it (NEAREST), and the probe names the class under the cursor.
void TestGuiInspector::targetsFollowThePipeline() {
    QTemporaryDir dir;
    const QString root = dir.path() + "/seg";
    QDir(root).mkpath("images");
    QDir(root).mkpath("masks");
    QImage black(20, 20, QImage::Format_RGB888);
    black.fill(Qt::black);
    QImage mask(20, 20, QImage::Format_Grayscale8);
    mask.fill(0);
    for (int y = 4; y < 12; ++y)
        for (int x = 4; x < 12; ++x) mask.scanLine(y)[x] = 1;  // 8x8 of class 1
    for (const char* stem : {"a", "b"}) {
        QVERIFY(black.save(QStringLiteral("%1/images/%2.png").arg(root, stem)));
        QVERIFY(mask.save(QStringLiteral("%1/masks/%2.png").arg(root, stem)));
    }
    QFile classes(root + "/classes.txt");
    QVERIFY(classes.open(QIODevice::WriteOnly));
    classes.write("background\nthing\n");
    classes.close();

    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, root, R"([{"op":"Resize","size":[10,10]},{"op":"ToTensor"}])"));
    w.goToSampleIndex(0);
    QVERIFY(waitIdle(w));
    // Class 1 is VOC's dark red (128, 0, 0), blended at the default opacity
    // 0.5 over black; class 0's colour is black.
    const QColor painted(64, 0, 0);
    QCOMPARE(bs::formatName(w.session()->dataset()->format()), std::string("maskpairs"));
    QCOMPARE(w.rawView()->image().size(), QSize(20, 20));
    QCOMPARE(w.rawView()->image().pixelColor(5, 5), painted);
    QCOMPARE(countColour(w.rawView()->image(), painted), 64);
    QCOMPARE(w.tensorView()->image().size(), QSize(10, 10));
    QCOMPARE(countColour(w.tensorView()->image(), painted), 16);  // rows/cols 2..5
    QCOMPARE(w.tensorView()->image().pixelColor(2, 2), painted);
    QCOMPARE(w.tensorView()->image().pixelColor(6, 6), QColor(Qt::black));
    w.probeTensor(3, 3);
    QVERIFY2(w.readouts().probeText().contains("thing"), qPrintable(w.readouts().probeText()));
    w.probeTensor(8, 8);
    QVERIFY2(!w.readouts().probeText().contains("thing"), qPrintable(w.readouts().probeText()));
}

// A torchvision root (Fashion-MNIST's real files in torchvision's layout)
// opens on its train split; File > Split > Test reopens it on the test split.
void TestGuiInspector::splitMenuReopensTorchvisionRoot() {
    const QString fashion = QStringLiteral("/usr/share/datasets/fashion-mnist");
    if (!QFileInfo::exists(fashion)) BSTEST_SKIP("Fashion-MNIST (dataset-fashion-mnist) not installed");
    QTemporaryDir dir;
    const QString raw = dir.path() + "/root/FashionMNIST/raw";
    QVERIFY(QDir().mkpath(raw));
    for (const QString& f : QDir(fashion).entryList({"*-ubyte.gz"}))
        QVERIFY(QFile::link(fashion + "/" + f, raw + "/" + f));
    MainWindow w(dir.path() + "/settings.ini");
    w.show();
    w.openPath(dir.path() + "/root");
    QVERIFY(waitIdle(w));
    QVERIFY(w.session()->hasDataset());
    QCOMPARE(w.session()->dataset()->size(), size_t(60000));
    QAction* test = nullptr;
    QAction* train = nullptr;
    for (QAction* a : w.findChildren<QAction*>()) {
        if (a->data() == QStringLiteral("test")) test = a;
        if (a->data() == QStringLiteral("train")) train = a;
    }
    QVERIFY(test && train);
    QMenu* splitMenu = nullptr;
    for (QMenu* m : w.findChildren<QMenu*>())
        if (m->title() == QStringLiteral("&Split")) splitMenu = m;
    QVERIFY(splitMenu && splitMenu->isEnabled());
    QVERIFY(train->isChecked() && !test->isChecked());
    test->trigger();
    QVERIFY(waitIdle(w));
    QCOMPARE(w.session()->dataset()->size(), size_t(10000));
    QVERIFY(test->isChecked());
    // Another dataset goes back to its default, and a folder has no split.
    makeFolder(dir.path() + "/data");
    w.openPath(dir.path() + "/data");
    QVERIFY(waitIdle(w));
    QVERIFY(w.session()->split().isEmpty());
    QVERIFY(!test->isChecked() && !train->isChecked());
    QVERIFY(!splitMenu->isEnabled());
}

// A folder of WebDataset shards (make_shards.py: real photos and
// Fashion-MNIST in 4 shards) is shown from its first shard, before the
// others are indexed; then it grows to every shard.
void TestGuiInspector::shardsShownBeforeAllAreIndexed() {
    QTemporaryDir dir;
    const auto r = bstest::runPython(
        {bstest::sourceDir() + "/tests/webdataset/make_shards.py", dir.path()}, 300000);
    if (r.exitCode == -2) BSTEST_SKIP("needs /usr/bin/python3 with Pillow and skimage");
    QVERIFY2(r.exitCode == 0, qPrintable(r.err.right(1500)));
    const QString shards = dir.path() + "/shards";
    const QStringList files = QDir(shards).entryList({"*.tar"}, QDir::Files, QDir::Name);
    QVERIFY(files.size() > 1);
    const size_t firstShard = bs::openDataset((shards + "/" + files[0]).toStdString())->size();
    const size_t all = bs::openDataset((dir.path() + "/folder").toStdString())->size();
    QVERIFY(firstShard > 0 && firstShard < all);

    MainWindow w(dir.path() + "/settings.ini");
    w.show();
    std::vector<size_t> sizeWhenOpened;
    bool indexingWhenOpened = false;
    connect(w.session(), &Session::opened, this, [&] {
        sizeWhenOpened.push_back(w.session()->dataset()->size());
        indexingWhenOpened = w.session()->indexing();
    });
    QSignalSpy grew(w.session(), &Session::datasetGrew);
    w.openPath(shards);
    QVERIFY(waitIdle(w));
    QCOMPARE(sizeWhenOpened, std::vector<size_t>{firstShard});
    QVERIFY(indexingWhenOpened);
    QCOMPARE(grew.count(), 1);
    QCOMPARE(w.session()->dataset()->size(), all);
    QVERIFY(!w.session()->indexing());
    // Every sample can be stepped to, the last shard's too.
    w.goToSampleIndex(int(all - 1));
    QVERIFY(waitIdle(w));
    QCOMPARE(w.session()->sampleView()->index, all - 1);
}

QTEST_MAIN(TestGuiInspector)
#include "test_gui_inspector.moc"
