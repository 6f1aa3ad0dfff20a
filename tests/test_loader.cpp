// The loader's promises: a batch is exactly the stack of its samples,
// workers change nothing, random draws depend only on (seed, epoch, index),
// and sample-level failures never take a batch down.
#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <algorithm>
#include <cstring>
#include <set>

#include "core/dataset/dataset.h"
#include "core/loader/loader.h"
#include "core/dataset/npy.h"
#include "core/pipeline/pipeline.h"
#include "support/testsupport.h"

using namespace bs;

namespace {

// THPeligible of the mapping that holds the first whole 2 MiB page at or
// after `p` (/proc/self/smaps), or empty when the kernel has transparent
// huge pages off or does not report it.
QByteArray thpEligibleAt(const void* p) {
    QFile thp("/sys/kernel/mm/transparent_hugepage/enabled");
    if (!thp.open(QIODevice::ReadOnly) || thp.readAll().contains("[never]")) return {};
    const quintptr huge = quintptr(2) << 20;
    const quintptr inside = (quintptr(p) + huge - 1) & ~(huge - 1);
    QFile smaps("/proc/self/smaps");
    if (!smaps.open(QIODevice::ReadOnly)) return {};
    bool inMapping = false;
    QByteArray eligible;
    for (const QByteArray& line : smaps.readAll().split('\n')) {
        const int dash = line.indexOf('-'), space = line.indexOf(' ');
        if (dash > 0 && space > dash && !line.left(space).endsWith(':')) {  // a mapping's header
            bool ok1 = false, ok2 = false;
            const quintptr lo = line.left(dash).toULongLong(&ok1, 16);
            const quintptr hi = line.mid(dash + 1, space - dash - 1).toULongLong(&ok2, 16);
            inMapping = ok1 && ok2 && lo <= inside && inside < hi;
        } else if (inMapping && line.startsWith("THPeligible:")) {
            eligible = line.mid(12).trimmed();
        }
    }
    return eligible;
}

bool sameBytes(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

Pipeline pipelineFrom(const char* json) { return Pipeline::fromJson(nlohmann::json::parse(json)); }

}  // namespace

class TestLoader : public QObject {
    Q_OBJECT

    QTemporaryDir dir_;
    QString root_;

    void makeDataset(bool sameSizes) {
        root_ = dir_.path() + (sameSizes ? "/same" : "/mixed");
        for (const char* cls : {"alpha", "beta", "gamma"}) QVERIFY(QDir().mkpath(root_ + "/" + cls));
        int seed = 0;
        for (const char* cls : {"alpha", "beta", "gamma"})
            for (int i = 0; i < 7; ++i, ++seed)
                bstest::writePatternImage(root_ + QString("/%1/img%2.png").arg(cls).arg(i),
                                          sameSizes ? 40 : 30 + seed, sameSizes ? 32 : 20 + 2 * seed,
                                          seed);
    }

    // The recycling tests' small loader: 16x16 crops, batches of 3.
    static Pipeline cropPipeline() {
        return pipelineFrom(R"([{"op":"Resize","size":20},{"op":"CenterCrop","size":16},
                                {"op":"ToTensor"}])");
    }
    static LoaderOptions batchesOf3(int workers) {
        LoaderOptions o;
        o.batchSize = 3;
        o.workers = workers;
        return o;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        makeDataset(true);
        makeDataset(false);
        root_ = dir_.path() + "/same";
    }

    void batchEqualsStackOfSamples_data() {
        QTest::addColumn<int>("workers");
        QTest::addColumn<bool>("shuffle");
        QTest::newRow("inline") << 0 << false;
        QTest::newRow("inline-shuffled") << 0 << true;
        QTest::newRow("2 workers shuffled") << 2 << true;
        QTest::newRow("3 workers") << 3 << false;
    }
    void batchEqualsStackOfSamples() {
        QFETCH(int, workers);
        QFETCH(bool, shuffle);
        std::shared_ptr<const Dataset> ds = openDataset(root_.toStdString());
        QCOMPARE(ds->size(), size_t(21));
        Pipeline p = pipelineFrom(R"([{"op":"RandomResizedCrop","size":24},
                                     {"op":"RandomHorizontalFlip"},{"op":"ToTensor"},
                                     {"op":"Normalize","mean":[0.5,0.5,0.5],"std":[0.25,0.25,0.25]}])");
        LoaderOptions o;
        o.batchSize = 8;
        o.workers = workers;
        o.shuffle = shuffle;
        o.seed = 7;
        Loader loader(ds, p, o);
        QCOMPARE(loader.numBatches(), size_t(3));
        size_t seen = 0;
        Batch b;
        while (loader.next(b)) {
            QVERIFY(!b.collateError);
            QCOMPARE(b.data.shape, (std::vector<int64_t>{int64_t(b.samples.size()), 3, 24, 24}));
            const size_t per = 3 * 24 * 24;
            for (size_t row = 0; row < b.samples.size(); ++row) {
                const SampleRecord& rec = b.samples[row];
                QVERIFY2(rec.error.empty(), rec.error.c_str());
                RandomContext ctx{o.seed, o.epoch, int64_t(rec.index)};
                SampleResult alone = processSample(*ds, p, rec.index, ctx);
                QVERIFY(alone.record.error.empty());
                QCOMPARE(alone.record.drawn, rec.drawn);
                QVERIFY2(sameBytes(alone.output.values.data(), b.data.values.data() + row * per, per),
                         qPrintable(QString("batch %1 row %2 (index %3) differs from the sample alone")
                                        .arg(b.number).arg(row).arg(rec.index)));
                if (workers > 0) QVERIFY(rec.worker >= 1 && rec.worker <= workers);
                else QCOMPARE(rec.worker, 0);
            }
            seen += b.samples.size();
        }
        QCOMPARE(seen, size_t(21));
    }

    void workersDoNotChangeBytes() {
        std::shared_ptr<const Dataset> ds = openDataset(root_.toStdString());
        Pipeline p = pipelineFrom(R"([{"op":"RandomCrop","size":16},{"op":"ToTensor"}])");
        LoaderOptions o;
        o.batchSize = 5;
        o.shuffle = true;
        o.seed = 3;
        o.epoch = 2;
        Loader inlineLoader(ds, p, o);
        o.workers = 2;
        Loader pooled(ds, p, o);
        for (size_t b = 0; b < inlineLoader.numBatches(); ++b) {
            Batch x = inlineLoader.batch(b), y = pooled.batch(b);
            QCOMPARE(x.data.shape, y.data.shape);
            QVERIFY(sameBytes(x.data.values.data(), y.data.values.data(), x.data.values.size()));
        }
    }

    // A batch handed back lends its buffer to a later batch (no fresh
    // allocation), and that batch is still exactly what a fresh loader gives.
    void recycledBufferServesTheNextBatch() {
        std::shared_ptr<const Dataset> ds = openDataset(root_.toStdString());
        const Pipeline p = cropPipeline();
        const LoaderOptions o = batchesOf3(2);
        const Loader loader(ds, p, o), fresh(ds, p, o);
        Batch first = loader.batch(0);  // learns the row shape
        Batch second = loader.batch(1);
        const float* lent = second.data.values.data();
        loader.recycle(std::move(second));
        QCOMPARE(loader.buffersWaiting(), size_t(1));
        const Batch again = loader.batch(2);
        QCOMPARE(loader.buffersWaiting(), size_t(0));
        QCOMPARE(again.data.values.data(), lent);
        const Batch expected = fresh.batch(2);
        QCOMPARE(again.data.shape, expected.data.shape);
        QVERIFY(again.data.values == expected.data.values);
        QVERIFY(!first.data.values.empty());
    }

    // A shared batch lends its buffer back when its last holder lets go (a
    // window's batch cache), and not after its loader is gone.
    void sharedBatchRecyclesWhenReleased() {
        auto loader = std::make_shared<const Loader>(openDataset(root_.toStdString()),
                                                     cropPipeline(), batchesOf3(0));
        const Batch first = loader->batch(0);  // learns the row shape
        std::shared_ptr<const Batch> shared = shareRecycled(loader->batch(1), loader);
        std::shared_ptr<const Batch> holder = shared;
        const float* lent = shared->data.values.data();
        shared.reset();
        QCOMPARE(loader->buffersWaiting(), size_t(0));  // still held
        holder.reset();
        QCOMPARE(loader->buffersWaiting(), size_t(1));
        QCOMPARE(loader->batch(2).data.values.data(), lent);
        QCOMPARE(loader->buffersWaiting(), size_t(0));

        std::shared_ptr<const Batch> orphan = shareRecycled(loader->batch(1), loader);
        loader.reset();
        orphan.reset();  // the loader is gone: the buffer is simply freed
        QVERIFY(!first.data.values.empty());
    }

    // A batch-sized stack is plain memory: no transparent huge pages are
    // asked for (core/common/allocator.h says why). Only where the kernel
    // gives them on request alone (THP in madvise mode) does eligibility
    // show the advice; skipped elsewhere.
    void batchStackIsNotAdvisedForHugePages() {
        QFile thp("/sys/kernel/mm/transparent_hugepage/enabled");
        if (!thp.open(QIODevice::ReadOnly) || !thp.readAll().contains("[madvise]"))
            QSKIP("transparent huge pages are not in madvise mode here");
        Tensor row;
        row.shape = {3, 224, 224};
        row.values.assign(size_t(3) * 224 * 224, 0.5f);
        const std::vector<const Tensor*> rows(64, &row);  // 38 MiB: a mapping of its own
        const std::optional<Tensor> stack = stackTensors(rows, std::vector<size_t>(64, 0), nullptr);
        QVERIFY(stack.has_value());
        QCOMPARE(stack->values.size(), rows.size() * row.values.size());
        const QByteArray eligible = thpEligibleAt(stack->values.data());
        QVERIFY2(!eligible.isEmpty(), "no THPeligible line for the stack's mapping");
        QCOMPARE(eligible, QByteArray("0"));
    }

    // A viewer's batch (issue 12): with a keep plan, the batch tensor is
    // the same bytes as a plain batch, the sample kept whole carries its own
    // output and every stage, and the others carry only the planned stages
    // and their output's shape (the values are in their row, written there
    // directly: no second copy of 64 outputs per batch).
    void keepPlanKeepsOneSampleWhole() {
        std::shared_ptr<const Dataset> ds = openDataset(root_.toStdString());
        Pipeline p = pipelineFrom(R"([{"op":"Resize","size":20},{"op":"CenterCrop","size":16},
                                     {"op":"ToTensor"},
                                     {"op":"Normalize","mean":[0.5,0.4,0.3],"std":[0.2,0.3,0.4]}])");
        LoaderOptions o;
        o.batchSize = 6;
        o.workers = 2;
        Loader viewer(ds, p, o), plain(ds, p, o);
        KeepPlan plan;
        plan.stages.assign(p.size() + 1, false);
        plan.stages[0] = true;  // the decoded input, as the judge reads it
        const size_t per = 3 * 16 * 16;
        // Batch 0 learns the row shape; batches 1 and 2 write into rows.
        for (size_t b = 0; b < 3; ++b) {
            const std::vector<size_t> indices = viewer.batchIndices(b);
            plan.wholeIndex = indices[1];
            std::vector<SampleResult> kept;
            const Batch got = viewer.batch(b, nullptr, &kept, &plan);
            const Batch want = plain.batch(b);
            QCOMPARE(got.data.shape, want.data.shape);
            QVERIFY(sameBytes(got.data.values.data(), want.data.values.data(),
                              want.data.values.size()));
            QCOMPARE(kept.size(), indices.size());
            for (size_t i = 0; i < kept.size(); ++i) {
                const SampleResult& r = kept[i];
                QCOMPARE(r.output.shape, (std::vector<int64_t>{3, 16, 16}));
                QCOMPARE(r.stages.size(), p.size() + 1);
                QVERIFY(!r.stages[0].image.empty());
                if (i == 1) {
                    QVERIFY(!r.raw.empty());
                    QVERIFY(!r.stages[2].image.empty());
                    QCOMPARE(r.output.values.size(), per);
                    QVERIFY(sameBytes(r.output.values.data(), got.data.values.data() + per, per));
                } else {
                    QVERIFY(r.raw.empty());
                    QVERIFY(r.stages[2].image.empty());
                    QVERIFY2(r.output.values.empty(),
                             qPrintable(QString("batch %1 row %2").arg(b).arg(i)));
                }
            }
        }
    }

    void shuffleIsSeededPermutation() {
        std::shared_ptr<const Dataset> ds = openDataset(root_.toStdString());
        LoaderOptions o;
        o.shuffle = true;
        o.seed = 11;
        Loader a(ds, Pipeline(), o), b(ds, Pipeline(), o);
        QCOMPARE(a.order(), b.order());
        std::vector<size_t> sorted = a.order();
        std::sort(sorted.begin(), sorted.end());
        for (size_t i = 0; i < sorted.size(); ++i) QCOMPARE(sorted[i], i);
        o.epoch = 1;
        Loader c(ds, Pipeline(), o);
        QVERIFY(c.order() != a.order());
        o.shuffle = false;
        Loader d(ds, Pipeline(), o);
        QCOMPARE(d.order().front(), size_t(0));
        QCOMPARE(d.order().back(), size_t(20));
    }

    void randomDrawsDependOnTripleOnly() {
        std::shared_ptr<const Dataset> ds = openDataset(root_.toStdString());
        Pipeline p = pipelineFrom(R"([{"op":"RandomResizedCrop","size":16},{"op":"ToTensor"}])");
        RandomContext ctx{5, 1, 4};
        SampleResult first = processSample(*ds, p, 4, ctx);
        SampleResult again = processSample(*ds, p, 4, ctx);
        QCOMPARE(first.record.drawn, again.record.drawn);
        QVERIFY(first.record.drawn.size() == 2 && first.record.drawn[0].contains("top"));
        // Over a few epochs the same sample must not always draw the same box.
        std::set<std::string> boxes;
        for (int e = 0; e < 6; ++e) {
            RandomContext c{5, e, 4};
            boxes.insert(processSample(*ds, p, 4, c).record.drawn.dump());
        }
        QVERIFY2(boxes.size() > 1, "RandomResizedCrop drew the same box in every epoch");
    }

    void collateErrorNamesIndicesAndShapes() {
        std::shared_ptr<const Dataset> ds = openDataset((dir_.path() + "/mixed").toStdString());
        LoaderOptions o;
        o.batchSize = 4;
        Loader loader(ds, pipelineFrom(R"([{"op":"ToTensor"}])"), o);
        Batch b = loader.batch(0);
        QVERIFY(b.collateError.has_value());
        QCOMPARE(b.collateError->indices, (std::vector<size_t>{0, 1, 2, 3}));
        QCOMPARE(b.collateError->shapes[0], (std::vector<int64_t>{3, 20, 30}));
        QCOMPARE(b.collateError->shapes[1], (std::vector<int64_t>{3, 22, 31}));
        QVERIFY(b.collateError->message.find("equal size") != std::string::npos);
        QVERIFY(b.data.empty());
    }

    void unreadableSampleIsRecordedAndSkipped() {
        QTemporaryDir d;
        QVERIFY(QDir().mkpath(d.path() + "/c"));
        bstest::writePatternImage(d.path() + "/c/a.png", 8, 8, 1);
        bstest::writeFile(d.path() + "/c/b.png", "not an image");
        bstest::writePatternImage(d.path() + "/c/c.png", 8, 8, 2);
        std::shared_ptr<const Dataset> ds = openDataset(d.path().toStdString());
        LoaderOptions o;
        o.batchSize = 3;
        const Pipeline toTensor = pipelineFrom(R"([{"op":"ToTensor"}])");
        Loader loader(ds, toTensor, o);
        Batch b = loader.batch(0);
        QCOMPARE(b.samples.size(), size_t(3));
        QCOMPARE(b.stacked, (std::vector<size_t>{0, 2}));
        QCOMPARE(b.samples[1].errorKind, std::string("unreadable_file"));
        QVERIFY(b.samples[1].error.find("b.png") != std::string::npos);
        QCOMPARE(b.data.shape, (std::vector<int64_t>{2, 3, 8, 8}));
        // The failed sample's row is squeezed out: row 1 holds c.png.
        const Tensor third = processSample(*ds, toTensor, 2, RandomContext()).output;
        const size_t per = third.values.size();
        QCOMPARE(b.data.values.size(), 2 * per);
        QVERIFY(std::equal(third.values.begin(), third.values.end(),
                           b.data.values.begin() + long(per)));
    }

    void dumpCliWritesSamplesInOrder() {
        QTemporaryDir d;
        const QString pipe = d.path() + "/p.json";
        bstest::writeFile(pipe, R"([{"op":"CenterCrop","size":20},{"op":"ToTensor"}])");
        const QString out = d.path() + "/out.npy";
        auto r = bstest::runCli({"dump", root_, "--pipeline", pipe, "--indices", "9,0,20", "--out", out});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QStringList lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        const QJsonObject first = QJsonDocument::fromJson(lines[0].toUtf8()).object();
        QCOMPARE(first["index"].toInt(), 9);
        QCOMPARE(first["label"].toInt(), 1);
        QVERIFY(QFileInfo(first["path"].toString()).isAbsolute());
        QVERIFY(first["path"].toString().endsWith("beta/img2.png"));
        Tensor t = bstest::readNpyAsFloat(out);
        QCOMPARE(t.shape, (std::vector<int64_t>{3, 3, 20, 20}));
        std::shared_ptr<const Dataset> ds = openDataset(root_.toStdString());
        SampleResult alone = processSample(*ds, Pipeline::loadFile(pipe.toStdString()), 20, {});
        QVERIFY(sameBytes(alone.output.values.data(), t.values.data() + 2 * 1200, 1200));

        auto raw = bstest::runCli({"dump", root_, "--pipeline", pipe, "--indices", "1", "--out", out, "--stage", "0"});
        QVERIFY2(raw.exitCode == 0, qPrintable(raw.err));
        Tensor img = bstest::readNpyAsFloat(out);
        QCOMPARE(img.dtype, DType::UInt8);
        QCOMPARE(img.shape, (std::vector<int64_t>{1, 32, 40, 3}));

        auto bad = bstest::runCli({"dump", root_, "--indices", "99", "--out", out});
        QCOMPARE(bad.exitCode, 1);
        QVERIFY(bad.err.contains("out of range"));
        QCOMPARE(bad.err.trimmed().count('\n'), 0);
        auto noPath = bstest::runCli({"dump", d.path() + "/missing", "--indices", "0", "--out", out});
        QVERIFY(noPath.exitCode != 0);
        QVERIFY(noPath.err.contains("missing"));
    }
};

QTEST_GUILESS_MAIN(TestLoader)
#include "test_loader.moc"
