// Benchmark (issue 6): how long after a Right key press the next batch of 64
// ImageNet-sized images is on screen in the real inspector window, with the
// session's prefetch at work. Drives MainWindow on the offscreen platform like
// a user: open a JPEG folder, set the ImageNet eval pipeline and batch size
// 64, then step with the arrow key, once pausing between presses (a user
// reading the grid) and once pressing again as soon as a batch is shown.
//
// "On screen" = the batch grid's viewport has finished painting the new
// batch's tiles (Session::batchReady has fired for the wanted batch, so the
// grid holds its thumbnails, and the next paint of the grid is complete).
//
// Not a pass/fail test (not registered with CTest): it only fails when the
// window does not show the batches at all. Prints p50/p95/max per run and,
// last, `stepping_p95_ms=<n>` for the run with pauses.
//
// Environment:
//   BATCHSCOPE_BENCH_IMAGENET  folder of JPEGs to use (default: 640 generated
//                              by bench/make_datasets.py, or by QImage when
//                              /usr/bin/python3 is missing)
//   BATCHSCOPE_BENCH_PRESSES   key presses per run (default 9, capped by the
//                              number of batches)
//   BATCHSCOPE_BENCH_PAUSE_MS  pause between presses of the paced run (300)
//   BATCHSCOPE_BENCH_WORKERS   loader workers (default: the GUI's, one per
//                              core up to 4)
#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QFormLayout>
#include <QImage>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QProcess>
#include <QRandomGenerator>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "core/dataset/dataset.h"
#include "gui_bench_support.h"
#include "ui/inspector/mainwindow.h"
#include "ui/model/model.h"
#include "ui/widgets/pipelinepanel.h"
#include "ui/model/session.h"

using namespace bs::ui;

namespace {

constexpr int kBatchSize = 64;
constexpr int kImages = 640;

int envInt(const char* name, int fallback) {
    bool ok = false;
    const int v = qEnvironmentVariableIntValue(name, &ok);
    return ok ? v : fallback;
}

// Fallback when Debian's python3 is not there: ImageNet-sized JPEGs with
// smooth content plus noise, so decode does real work.
bool writeQImageFolder(const QString& root, int count) {
    QRandomGenerator rng(6);
    const QSize sizes[] = {{500, 375}, {500, 333}, {375, 500}, {500, 500}, {640, 480}};
    for (int i = 0; i < count; ++i) {
        const QString cls = QStringLiteral("class%1").arg(i % 8);
        if (!QDir(root).mkpath(cls)) return false;
        const QSize s = sizes[i % 5];
        QImage img(s, QImage::Format_RGB888);
        for (int y = 0; y < s.height(); ++y) {
            uchar* row = img.scanLine(y);
            for (int x = 0; x < s.width(); ++x) {
                const int n = int(rng.bounded(32));
                row[3 * x] = uchar((x * 255 / s.width() + n + i) & 255);
                row[3 * x + 1] = uchar((y * 255 / s.height() + n) & 255);
                row[3 * x + 2] = uchar(((x + y) / 4 + n * 2) & 255);
            }
        }
        if (!img.save(QStringLiteral("%1/%2/img_%3.jpg").arg(root, cls).arg(i, 5, 10, QChar('0')),
                      "JPEG", 75 + i % 20))
            return false;
    }
    return true;
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const size_t rank = size_t(std::ceil(p / 100.0 * double(sorted.size())));
    return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

// Times the first completed paint of a widget after arm(): the paint event is
// re-sent from inside the filter (guarded against recursion), so the clock is
// read once the widget has actually drawn, not when the event arrived.
class PaintClock : public QObject {
public:
    explicit PaintClock(QWidget* w) : w_(w) { w->installEventFilter(this); }
    void arm(const QElapsedTimer* clock) {
        clock_ = clock;
        paintedNs_ = -1;
    }
    qint64 paintedNs() const { return paintedNs_; }

protected:
    bool eventFilter(QObject* o, QEvent* e) override {
        if (o != w_ || e->type() != QEvent::Paint || inside_ || !clock_ || paintedNs_ >= 0)
            return false;
        inside_ = true;
        QCoreApplication::sendEvent(o, e);
        inside_ = false;
        paintedNs_ = clock_->nsecsElapsed();
        return true;
    }

private:
    QWidget* w_;
    const QElapsedTimer* clock_ = nullptr;
    qint64 paintedNs_ = -1;
    bool inside_ = false;
};

using benchsupport::loaderSpin;
using benchsupport::waitFor;

}  // namespace

class BenchGuiStepping : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void stepping_data();
    void stepping();
    void cleanupTestCase();

private:
    QTemporaryDir tmp_;
    QString folder_;
    double pacedP95_ = -1;
};

void BenchGuiStepping::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    QVERIFY(tmp_.isValid());
    folder_ = qEnvironmentVariable("BATCHSCOPE_BENCH_IMAGENET");
    if (!folder_.isEmpty()) {
        QVERIFY2(QDir(folder_).exists(), qPrintable("no folder " + folder_));
        return;
    }
    folder_ = tmp_.path() + "/imagenet";
    const QString script = QStringLiteral(BATCHSCOPE_SOURCE_DIR "/bench/make_datasets.py");
    if (QFile::exists("/usr/bin/python3") && QFile::exists(script)) {
        QProcess p;
        p.start("/usr/bin/python3",
                {script, "imagenet", folder_, "--count", QString::number(kImages)});
        QVERIFY(p.waitForFinished(600000));
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0,
                 p.readAllStandardError().constData());
    } else {
        QVERIFY(writeQImageFolder(folder_, kImages));
    }
}

void BenchGuiStepping::stepping_data() {
    QTest::addColumn<int>("pauseMs");
    QTest::newRow("paced") << envInt("BATCHSCOPE_BENCH_PAUSE_MS", 300);
    QTest::newRow("no-pause") << 0;
}

void BenchGuiStepping::stepping() {
    QFETCH(int, pauseMs);
    MainWindow w(tmp_.path() + "/settings.ini");
    w.resize(1400, 900);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.openPath(folder_);
    QVERIFY(waitFor([&] { return w.session()->hasDataset() && w.session()->idle(); }, 120000));

    QFile pipe(QStringLiteral(BATCHSCOPE_SOURCE_DIR "/bench/imagenet_eval.json"));
    QVERIFY(pipe.open(QIODevice::ReadOnly));
    QString err;
    QVERIFY2(w.pipelinePanel()->setText(pipe.readAll().toStdString(), &err), qPrintable(err));
    QSpinBox* batchSize = loaderSpin(w, "Batch size");
    QSpinBox* workers = loaderSpin(w, "Workers");
    QVERIFY(batchSize && workers);
    batchSize->setValue(kBatchSize);
    workers->setValue(envInt("BATCHSCOPE_BENCH_WORKERS", workers->value()));

    auto* s = w.session();
    // First batch shown and everything settled (this includes the prefetch
    // of batch 1 and the anomaly judge of batch 0).
    QVERIFY(waitFor(
        [&] {
            auto v = s->batchView();
            return s->idle() && v && v->batch && v->number == 0 &&
                   v->batch->samples.size() == size_t(kBatchSize) &&
                   s->pipeline().size() == 4 && s->loaderSettings().batchSize == kBatchSize;
        },
        300000));
    QCOMPARE(w.grid()->count(), kBatchSize);

    const int presses =
        std::min(envInt("BATCHSCOPE_BENCH_PRESSES", 9), int(s->numBatches()) - 1);
    QVERIFY(presses > 0);

    QElapsedTimer clock;
    PaintClock paint(w.grid()->viewport());
    qint64 shownNs = -1;
    size_t target = 0;
    // Connected after MainWindow's own slot: fires once the grid holds the batch.
    auto conn = connect(s, &Session::batchReady, this, [&] {
        auto v = s->batchView();
        if (shownNs < 0 && v && v->number == target) {
            shownNs = clock.nsecsElapsed();
            paint.arm(&clock);
        }
    });

    std::vector<double> ms, shownMs;
    for (int i = 0; i < presses; ++i) {
        if (pauseMs > 0) QTest::qWait(pauseMs);
        target = s->currentBatch() + 1;
        shownNs = -1;
        clock.start();
        QTest::keyClick(&w, Qt::Key_Right);
        QVERIFY2(waitFor([&] { return shownNs >= 0 && paint.paintedNs() >= 0; }, 60000),
                 qPrintable(QStringLiteral("batch %1 not painted").arg(target)));
        const auto v = s->batchView();
        QCOMPARE(v->number, target);
        QCOMPARE(w.grid()->count(), int(v->batch->samples.size()));
        QCOMPARE(w.grid()->item(0)->data(Qt::UserRole).toULongLong(),
                 qulonglong(v->batch->samples[0].index));
        ms.push_back(double(paint.paintedNs()) / 1e6);
        shownMs.push_back(double(shownNs) / 1e6);
    }
    disconnect(conn);

    QStringList each;
    for (double m : ms) each << QString::number(m, 'f', 1);
    std::sort(ms.begin(), ms.end());
    std::sort(shownMs.begin(), shownMs.end());
    qInfo("%s: %d presses, pause %d ms, workers %d, %d images", QTest::currentDataTag(), presses,
          pauseMs, workers->value(), int(s->dataset()->size()));
    qInfo("%s: key press -> grid painted (ms): %s", QTest::currentDataTag(),
          qPrintable(each.join(' ')));
    qInfo("%s: painted p50=%.1f p95=%.1f max=%.1f ms (batchReady p50=%.1f p95=%.1f max=%.1f ms)",
          QTest::currentDataTag(), percentile(ms, 50), percentile(ms, 95), ms.back(),
          percentile(shownMs, 50), percentile(shownMs, 95), shownMs.back());
    if (pauseMs > 0) pacedP95_ = percentile(ms, 95);
    else qInfo("stepping_nopause_p95_ms=%.1f", percentile(ms, 95));
}

void BenchGuiStepping::cleanupTestCase() {
    if (pacedP95_ >= 0) qInfo("stepping_p95_ms=%.1f", pacedP95_);
}

QTEST_MAIN(BenchGuiStepping)
#include "gui_stepping.moc"
