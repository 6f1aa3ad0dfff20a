// batchscope compare on users' own loaders: each tests/loader_scenarios.py
// mode is a DataLoader written as in a training script (custom Dataset,
// Compose with a Lambda, a generator in __init__...) over Fashion-MNIST's
// test split or scikit-image's photos. Each bug must be named by its kind
// on a real dump, and the clean loaders must give no error.
#include <QFileInfo>
#include <QTemporaryDir>
#include <QtTest>

#include <string>

#include "core/compare/compare.h"
#include "core/dataset/torchvision_datasets.h"
#include "support/testsupport.h"

using bstest::describeFindings;
using bstest::findKind;

namespace {

const QString kFashion = "/usr/share/datasets/fashion-mnist";

}  // namespace

class TestCompareLoaders : public QObject {
    Q_OBJECT

    QTemporaryDir data_;  // Fashion-MNIST unpacked once, photos: read-only inputs

    // Dumps `mode` into a temporary folder of its own and compares it.
    bs::CompareReport compareMode(const QString& mode, const bs::CompareOptions& options = {}) {
        QTemporaryDir out;
        const QString dump = out.filePath("dump");
        const auto r =
            bstest::runPython({bstest::sourceDir() + "/tests/loader_scenarios.py",
                               bstest::sourceDir() + "/python", mode, data_.path(), dump},
                              300000);
        if (r.exitCode != 0 || !r.out.contains("ok"))
            throw std::runtime_error(
                ("python " + mode + " failed: " + r.err.right(1500)).toStdString());
        return bs::CompareSession(dump.toStdString(), options).run();
    }

    // The finding `kind` of `r`, at `stage`, blamed on the transform (its
    // number from 1, or 0 for the loader's output), with the kind's severity.
    static void expectJudged(const bs::CompareReport& r, const std::string& kind,
                             const std::string& stage, int stageNumber) {
        const bs::Finding* f = findKind(r, kind);
        QVERIFY2(f, qPrintable("no " + QString::fromStdString(kind) + "\n" + describeFindings(r)));
        QVERIFY2(f->stage == stage,
                 qPrintable(QString::fromStdString(f->stage) + "\n" + describeFindings(r)));
        QCOMPARE(f->stageNumber, stageNumber);
        QCOMPARE(f->severity, bs::severityOf(kind));
        QVERIFY(bs::findingKind(kind)->blame == bs::Blame::Transform);
        QVERIFY2(f->count > 0, qPrintable(describeFindings(r)));
    }

    void expectKind(const QString& mode, const std::string& kind, bs::Severity atLeast,
                    const std::string& stagePrefix = {}) {
        const auto r = compareMode(mode);
        const bs::Finding* f = findKind(r, kind);
        QVERIFY2(f, qPrintable(mode + ": no " + QString::fromStdString(kind) + "\n" +
                               describeFindings(r)));
        QVERIFY2(int(f->severity) >= int(atLeast), qPrintable(describeFindings(r)));
        if (!stagePrefix.empty())
            QVERIFY2(f->stage.rfind(stagePrefix, 0) == 0,
                     qPrintable(QString::fromStdString(f->stage)));
    }

    void expectClean(const QString& mode) {
        const auto r = compareMode(mode);
        QVERIFY2(!r.hasAtLeast(bs::Severity::Error), qPrintable(mode + "\n" + describeFindings(r)));
        for (const char* k : {"worker_rng_shared", "epoch_rng_repeated", "pipeline_divergence"})
            QVERIFY2(!findKind(r, k), qPrintable(mode + "\n" + describeFindings(r)));
    }

private Q_SLOTS:
    void initTestCase() {
        if (!bstest::torchvisionAvailable())
            BSTEST_SKIP("needs /usr/bin/python3 with torch, torchvision and PIL");
        if (!QFileInfo::exists(kFashion + "/t10k-images-idx3-ubyte.gz"))
            BSTEST_SKIP("Fashion-MNIST (dataset-fashion-mnist) not installed");
        const auto r = bstest::runPython({"-c", "import skimage.data, numpy"});
        if (r.exitCode != 0) BSTEST_SKIP("needs python3-skimage and python3-numpy");
    }

    // Clean loaders: the tutorial's torchvision dataset, random torchvision
    // augmentation, a transform written in __getitem__, an ImageFolder.
    void cleanLoadersGiveNoError() {
        bstest::failOnException([&] {
            expectClean("fashion_clean");
            expectClean("fashion_random_clean");
            expectClean("photos_clean");
            expectClean("photos_random");
            expectClean("worker_rng_fixed");
        });
    }

    // A transform inside __getitem__: said once, not blamed.
    void transformInGetitemIsNotBlamed() {
        bstest::failOnException([&] {
            const auto r = compareMode("getitem_clean");
            const bs::Finding* f = findKind(r, "unreproducible_pipeline");
            QVERIFY2(f, qPrintable(describeFindings(r)));
            QVERIFY(int(f->severity) <= int(bs::Severity::Warning));
            QVERIFY2(f->message.find("FashionFromArrays") != std::string::npos, f->message.c_str());
            QVERIFY2(!r.hasAtLeast(bs::Severity::Error), qPrintable(describeFindings(r)));
            QCOMPARE(r.summary["pixel_compared"].get<int>(), 0);
        });
    }

    // Each bug is named by its kind, as an error, at its stage (a prefix of
    // it; empty: anywhere).
    void bugIsNamed_data() {
        QTest::addColumn<QString>("mode");
        QTest::addColumn<QByteArray>("kind");
        QTest::addColumn<QByteArray>("stage");
        const char* const bugs[][3] = {
            // mode, kind, stage
            {"divide_by_sum", "collapsed_range", "output"},
            {"divide_by_sum_getitem", "collapsed_range", "output"},
            {"double_normalize", "double_normalization", "3:Normalize"},
            {"unscaled", "unscaled_input", "4:Normalize"},
            {"offbyone", "index_mismatch", "dataset"},
            {"shared_buffer", "index_mismatch", "dataset"},
            {"channel_swap", "channel_swap", ""},
        };
        for (const auto& b : bugs)
            QTest::newRow(b[0]) << QString(b[0]) << QByteArray(b[1]) << QByteArray(b[2]);
    }

    void bugIsNamed() {
        QFETCH(QString, mode);
        QFETCH(QByteArray, kind);
        QFETCH(QByteArray, stage);
        bstest::failOnException([&] {
            expectKind(mode, kind.toStdString(), bs::Severity::Error, stage.toStdString());
        });
    }

    // compare's own judging of what the loader yields, whatever the
    // equality: a Lambda dividing by zero, then the same with the Lambda
    // given to compare (reproduced: the stage is named, and the faithful
    // reproduction still matches).
    void divisionByZeroIsNanOrInf() {
        bstest::failOnException([&] {
            auto r = compareMode("divide_by_zero");
            expectJudged(r, "nan_or_inf", "output", 0);
            QCOMPARE(findKind(r, "nan_or_inf")->evidence["judged"].get<std::string>(),
                     std::string("the loader's output tensors"));
            QVERIFY2(findKind(r, "unreproducible_pipeline"), qPrintable(describeFindings(r)));

            QTemporaryDir stated;
            bs::CompareOptions withLambda;
            withLambda.pipelineFile = stated.filePath("pipeline.json").toStdString();
            bstest::writeFile(
                stated.filePath("pipeline.json"),
                R"json([{"op":"ToTensor"},{"op":"Lambda","expr":"x / x.min()"}])json");
            r = compareMode("divide_by_zero", withLambda);
            expectJudged(r, "nan_or_inf", "2:Lambda", 2);
            QVERIFY2(!findKind(r, "pipeline_divergence"), qPrintable(describeFindings(r)));
        });
    }

    // Normalize's std typed too small: values far past standardised data.
    void tinyStdIsExtremeValues() {
        bstest::failOnException([&] {
            const auto r = compareMode("tiny_std");
            expectJudged(r, "extreme_values", "2:Normalize", 2);
            QVERIFY2(!findKind(r, "pipeline_divergence"), qPrintable(describeFindings(r)));
        });
    }

    // Statistics of 0..255 pixels on ToTensor's [0, 1]: the output's
    // mean/std are far from 0/1, and the statistics that fit are given.
    void statisticsOf255AreNormalizationMismatch() {
        bstest::failOnException([&] {
            const auto r = compareMode("mean_std_255");
            expectJudged(r, "normalization_mismatch", "2:Normalize", 2);
            const auto& ev = findKind(r, "normalization_mismatch")->evidence;
            const auto fit = ev.value("suggested_mean", nlohmann::json()).dump();
            QVERIFY2(fit.find("0.2") != std::string::npos, ev.dump().c_str());
            expectJudged(r, "collapsed_range", "2:Normalize", 2);
        });
    }

    // A batch fetched on a thread pool (__getitems__) through one file
    // handle shared without a lock: the reads that lose the race hold
    // another image, a scattered minority named as a race. The same code
    // with a lock around seek+read is clean, so the batched fetch itself
    // (which the dump must run as DataLoader does) is not what fires.
    void threadRaceIsIndexMismatch() {
        bstest::failOnException([&] {
            const auto r = compareMode("thread_race");
            const bs::Finding* f = findKind(r, "index_mismatch");
            QVERIFY2(f && f->stage == "dataset", qPrintable(describeFindings(r)));
            QVERIFY2(f->message.find("reads that race") != std::string::npos, f->message.c_str());
            QVERIFY2(f->count < r.samples.size(), qPrintable(describeFindings(r)));
            expectClean("thread_locked");
        });
    }

    // Bad samples are named, the rest of the batches are still dumped.
    void badSamplesAreNamed() {
        bstest::failOnException([&] {
            auto r = compareMode("none_sample");
            const bs::Finding* f = findKind(r, "invalid_sample");
            QVERIFY2(f && f->stage == "dataset", qPrintable(describeFindings(r)));
            for (const auto& s : f->samples) {
                QCOMPARE(int(s.index % 7), 3);
                QVERIFY2(s.path.find("/photos/class_") != std::string::npos, s.path.c_str());
            }
            QVERIFY(r.summary["samples"].get<int>() > 0);
            QVERIFY2(!findKind(r, "missing_in_epoch"), qPrintable(describeFindings(r)));

            r = compareMode("getitem_raises");
            f = findKind(r, "getitem_error");
            QVERIFY2(f && f->stage == "dataset", qPrintable(describeFindings(r)));
            QCOMPARE(int(f->samples.front().index % 5), 2);
            QCOMPARE(f->samples.front().detail["type"].get<std::string>(),
                     std::string("FileNotFoundError"));
            QVERIFY2(f->message.find("loader_scenarios.py:") != std::string::npos,
                     f->message.c_str());

            r = compareMode("mixed_sizes");
            f = findKind(r, "collate_error");
            QVERIFY2(f && f->stage == "collate", qPrintable(describeFindings(r)));
            QVERIFY2(f->message.find("[3,40,40]") != std::string::npos, f->message.c_str());
            QCOMPARE(int(f->samples.front().detail["dropped"][0].get<int>() % 6), 1);
        });
    }

    void generatorCopiedIntoWorkers() {
        bstest::failOnException([&] {
            const auto r = compareMode("worker_rng");
            const bs::Finding* f = findKind(r, "worker_rng_shared");
            QVERIFY2(f && f->severity == bs::Severity::Error, qPrintable(describeFindings(r)));
            QVERIFY2(f->message.find("NoisyFashion") != std::string::npos, f->message.c_str());
            QVERIFY2(f->message.find("worker_init_fn") != std::string::npos, f->message.c_str());
            QVERIFY2(findKind(r, "epoch_rng_repeated"), qPrintable(describeFindings(r)));

            // Seeded per worker but the same seeds every epoch.
            const auto e = compareMode("epoch_rng");
            QVERIFY2(findKind(e, "epoch_rng_repeated"), qPrintable(describeFindings(e)));
            QVERIFY2(!findKind(e, "worker_rng_shared"), qPrintable(describeFindings(e)));
        });
    }

    // torchvision's own folder layout: the split from the manifest, the
    // class names from the dataset class.
    void torchvisionFashionByRoot() {
        bstest::failOnException([&] {
            compareMode("fashion_clean");
            const auto test =
                bs::openTorchvisionDataset(data_.path().toStdString(), "FashionMNIST", "test");
            QCOMPARE(test->size(), size_t(10000));
            QCOMPARE(test->classes()[0], std::string("T-shirt/top"));
            const auto train = bs::openDataset(data_.path().toStdString());  // root: train split
            QCOMPARE(train->size(), size_t(60000));
        });
    }
};

QTEST_GUILESS_MAIN(TestCompareLoaders)
#include "test_compare_loaders.moc"
