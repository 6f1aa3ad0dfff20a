// Benchmark (issue 12): process CPU time the inspector spends per shown and
// judged batch of 64 ImageNet-sized images, next to the loader's own time for
// one batch. Drives MainWindow on the offscreen platform: open a JPEG folder,
// set the ImageNet eval pipeline and batch size 64, then step batch by batch,
// each time waiting until the batch is on screen, judged (anomaly badges) and
// everything is idle again, so each step costs one batch's complete work
// (the prefetch of the next batch included, which is the batch shown next).
//
// CPU time is getrusage(RUSAGE_SELF) user+system: every thread of the process
// (loader, rendering, judge, GUI), not wall time, so it does not depend on how
// busy the machine is. The loader's figure is Loader::batch alone, with the
// same pipeline, 0 workers (the GUI's default), timed as CPU time too.
//
// Not a pass/fail test (not registered with CTest). Prints, last,
// `gui_cpu_ms_per_batch=<n>` and `loader_cpu_ms_per_batch=<n>`.
//
// Environment:
//   BATCHSCOPE_BENCH_IMAGENET  folder of JPEGs (required: make one with
//                              bench/make_datasets.py imagenet DIR --count 640)
//   BATCHSCOPE_BENCH_STEPS     batches stepped through (default 6)
#include <QFile>
#include <QFormLayout>
#include <QLabel>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <sys/resource.h>

#include <algorithm>
#include <functional>

#include "core/dataset/dataset.h"
#include "core/loader/loader.h"
#include "core/pipeline/pipeline.h"
#include "gui_bench_support.h"
#include "ui/inspector/mainwindow.h"
#include "ui/model/session.h"
#include "ui/widgets/pipelinepanel.h"

using namespace bs::ui;

namespace {

constexpr int kBatchSize = 64;

double cpuMs() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto ms = [](const timeval& t) { return double(t.tv_sec) * 1e3 + double(t.tv_usec) / 1e3; };
    return ms(u.ru_utime) + ms(u.ru_stime);
}

using benchsupport::loaderSpin;
using benchsupport::waitFor;

QString pipelinePath() {
    return QStringLiteral(BATCHSCOPE_SOURCE_DIR "/bench/imagenet_eval.json");
}

}  // namespace

class BenchGuiBatchCpu : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void guiPerBatch();
    void loaderPerBatch();
    void cleanupTestCase();

private:
    QTemporaryDir tmp_;
    QString folder_;
    double guiMs_ = -1, loaderMs_ = -1;
};

void BenchGuiBatchCpu::initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    folder_ = qEnvironmentVariable("BATCHSCOPE_BENCH_IMAGENET");
    QVERIFY2(!folder_.isEmpty() && QDir(folder_).exists(),
             "set BATCHSCOPE_BENCH_IMAGENET to a folder made by bench/make_datasets.py");
}

void BenchGuiBatchCpu::guiPerBatch() {
    MainWindow w(tmp_.path() + "/settings.ini");
    w.resize(1400, 900);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    w.openPath(folder_);
    auto* s = w.session();
    QVERIFY(waitFor([&] { return s->hasDataset() && s->idle(); }, 120000));
    QFile pipe(pipelinePath());
    QVERIFY(pipe.open(QIODevice::ReadOnly));
    QString err;
    QVERIFY2(w.pipelinePanel()->setText(pipe.readAll().toStdString(), &err), qPrintable(err));
    QSpinBox* batchSize = loaderSpin(w, "Batch size");
    QVERIFY(batchSize);
    batchSize->setValue(kBatchSize);
    auto settled = [&](size_t number) {
        return [&, number] {
            auto v = s->batchView();
            return s->idle() && v && v->batch && v->number == number && v->judged &&
                   v->batch->samples.size() == size_t(kBatchSize) && s->pipeline().size() == 4;
        };
    };
    QVERIFY(waitFor(settled(0), 300000));

    const int steps = std::min(qEnvironmentVariableIsSet("BATCHSCOPE_BENCH_STEPS")
                                   ? qEnvironmentVariableIntValue("BATCHSCOPE_BENCH_STEPS")
                                   : 6,
                               int(s->numBatches()) - 2);
    QVERIFY(steps > 0);
    const double start = cpuMs();
    for (int i = 1; i <= steps; ++i) {
        QTest::keyClick(&w, Qt::Key_Right);
        QVERIFY2(waitFor(settled(size_t(i)), 120000), qPrintable(QString::number(i)));
    }
    guiMs_ = (cpuMs() - start) / steps;
    qInfo("gui: %d batches shown and judged, %.1f ms CPU per batch", steps, guiMs_);
}

void BenchGuiBatchCpu::loaderPerBatch() {
    std::shared_ptr<const bs::Dataset> ds = bs::openDataset(folder_.toStdString());
    bs::LoaderOptions o;
    o.batchSize = kBatchSize;
    bs::Loader loader(ds, bs::Pipeline::loadFile(pipelinePath().toStdString()), o);
    const size_t n = std::min<size_t>(6, loader.numBatches());
    (void)loader.batch(0);  // warm-up: page cache, allocator
    const double start = cpuMs();
    for (size_t b = 1; b <= n && b < loader.numBatches(); ++b) (void)loader.batch(b);
    loaderMs_ = (cpuMs() - start) / double(n);
    qInfo("loader: %.1f ms CPU per batch of %d (0 workers)", loaderMs_, kBatchSize);
}

void BenchGuiBatchCpu::cleanupTestCase() {
    qInfo("gui_cpu_ms_per_batch=%.1f", guiMs_);
    qInfo("loader_cpu_ms_per_batch=%.1f", loaderMs_);
}

QTEST_MAIN(BenchGuiBatchCpu)
#include "gui_batch_cpu.moc"
