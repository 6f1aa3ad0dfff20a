// batchscope compare: dumps written by python/batchscope_dump.py from real
// torch/torchvision loaders, compared with batchscope's reproduction.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>
#include <set>
#include <string>

#include "core/compare/compare.h"
#include "support/testsupport.h"

using bstest::describeFindings;
using bstest::findKind;

namespace {

// Scenario generator: tests/compare_scenarios.py (a separate file: moc
// cannot lex Python inside a raw string).

// One scenario's dataset and the dump of its loader, in a temporary folder
// of their own.
struct Dump {
    // Writes them; false (and `why`) when python fails.
    bool make(const QString& mode);
    // The dump compared with batchscope's reproduction of it.
    bs::CompareReport compare(const bs::CompareOptions& options = {}) const {
        return bs::CompareSession(dir.toStdString(), options).run();
    }

    QTemporaryDir tmp;
    QString root = tmp.filePath("data"), dir = tmp.filePath("dump"), why;
};

bool Dump::make(const QString& mode) {
    const QString script = bstest::sourceDir() + "/tests/compare_scenarios.py";
    const auto r =
        bstest::runPython({script, bstest::sourceDir() + "/python", mode, root, dir}, 300000);
    if (r.exitCode != 0) why = "python " + mode + " failed: " + r.err.right(800) + r.out.right(200);
    return r.exitCode == 0;
}

// The first finding of `kind` in `r` when it has `severity`, else null.
const bs::Finding* findKind(const bs::CompareReport& r, const std::string& kind,
                            bs::Severity severity) {
    const bs::Finding* f = bstest::findKind(r, kind);
    return f && f->severity == severity ? f : nullptr;
}

}  // namespace

class TestCompare : public QObject {
    Q_OBJECT
    std::unique_ptr<Dump> d_;  // the scenario of the test function running

private Q_SLOTS:
    void initTestCase() {
        if (!bstest::torchvisionAvailable())
            BSTEST_SKIP(
                "needs /usr/bin/python3 with torch, torchvision and PIL (python3-torch, "
                "python3-torchvision, python3-pil)");
    }

    void init() { d_ = std::make_unique<Dump>(); }
    void cleanup() { d_.reset(); }

    void splitsPrintedCompose() {
        const auto parts = bs::splitComposeText(
            "Compose(\n    Resize(size=8, interpolation=bilinear, max_size=None, antialias=None)\n"
            "    RandomApply(\n    p=0.5\n    ColorJitter(brightness=None)\n)\n    Lambda()\n"
            "    <__main__.Noise object at 0x7f00>\n)");
        QCOMPARE(int(parts.size()), 4);
        QVERIFY(parts[0].rfind("Resize(", 0) == 0);
        QVERIFY(parts[1].rfind("RandomApply(", 0) == 0);
        QCOMPARE(QString::fromStdString(parts[2]), QString("Lambda()"));
        QVERIFY(parts[3][0] == '<');
    }

    void diffLocatesMaximum() {
        bs::Tensor a = bs::Tensor::zeros({2, 3, 4}), b = bs::Tensor::zeros({2, 3, 4});
        b.values[1 * 12 + 2 * 4 + 3] = 0.5f;
        b.values[0] = 0.1f;
        const auto d = bs::diffTensors(a, b, 0.2);
        QVERIFY(d.shapeMatch);
        QCOMPARE(d.maxAbs, 0.5);
        QCOMPARE(d.over, int64_t(1));
        QCOMPARE(d.argmax, (std::vector<int64_t>{1, 2, 3}));
        QVERIFY(qAbs(d.meanAbs - 0.6 / 24) < 1e-6);
        QVERIFY(!bs::diffTensors(a, bs::Tensor::zeros({2, 4, 3}), 1).shapeMatch);
    }

    // A correct pipeline compares clean, for every variant of the dump.
    void correctPipelineIsClean() {
        QVERIFY2(d_->make("correct"), qPrintable(d_->why));
        bs::CompareSession s(d_->dir.toStdString());
        QCOMPARE(s.manifest().datasetClass, std::string("ImageFolder"));
        QCOMPARE(int(s.manifest().batches.size()), 15);  // main, epoch2, workers0 x 5
        QVERIFY(s.reproducible());
        const auto r = s.run();
        QVERIFY2(!r.hasAtLeast(bs::Severity::Warning), qPrintable(describeFindings(r)));
        // The transform was read.
        QVERIFY2(!findKind(r, "no_transform"), qPrintable(describeFindings(r)));
        QCOMPARE(r.summary["samples"].get<int>(), 60);
        QCOMPARE(r.summary["pixel_compared"].get<int>(), 60);
        QCOMPARE(r.summary["matching"].get<int>(), 60);
        QVERIFY(r.summary["max_abs"].get<double>() < 1e-5);
        // The GUI's view: user tensor, reproduction, difference.
        const bs::Tensor user = s.userSample(0, 0);
        QCOMPARE(user.shape, (std::vector<int64_t>{3, 32, 32}));
        const auto& row = s.manifest().batches[0];
        QVERIFY(bs::diffTensors(user, s.reproduce(row.indices[0]), 1e-5).within(1e-5));
        // The worker ids were recorded: two workers in main, -1 in workers0.
        std::set<int64_t> mainWorkers, zeroWorkers;
        for (const auto& b : s.manifest().batches)
            for (auto w : b.workers)
                (b.variant == "workers0" ? zeroWorkers : mainWorkers).insert(w);
        QCOMPARE(mainWorkers, (std::set<int64_t>{0, 1}));
        QCOMPARE(zeroWorkers, (std::set<int64_t>{-1}));
    }

    // A dataset without a transform whose collate_fn makes the tensors:
    // said (info), and compared against ToTensor, which matches.
    void noTransformIsNamed() {
        QVERIFY2(d_->make("no_transform"), qPrintable(d_->why));
        bs::CompareSession s(d_->dir.toStdString());
        QCOMPARE(s.pipelineSource(), std::string("default"));
        const auto r = s.run();
        const bs::Finding* f = findKind(r, "no_transform", bs::Severity::Info);
        QVERIFY2(f, qPrintable(describeFindings(r)));
        QVERIFY2(f->message.find("--pipeline") != std::string::npos, f->message.c_str());
        QCOMPARE(r.summary["matching"].get<int>(), 60);
        QVERIFY2(!r.hasAtLeast(bs::Severity::Warning), qPrintable(describeFindings(r)));
    }

    void offByOneNamesTheNeighbour() {
        QVERIFY2(d_->make("offbyone"), qPrintable(d_->why));
        const auto r = d_->compare();
        const bs::Finding* f = findKind(r, "index_mismatch", bs::Severity::Error);
        QVERIFY2(f, qPrintable(describeFindings(r)));
        QCOMPARE(int(f->count), 60);
        for (const auto& s : f->samples)
            QCOMPARE(s.detail["matched_index"].get<int64_t>(), int64_t((s.index + 1) % 20));
        QVERIFY2(f->message.find("+1") != std::string::npos, f->message.c_str());
        // Explained by the index, not reported again as divergence or label error.
        QVERIFY2(!findKind(r, "pipeline_divergence"), qPrintable(describeFindings(r)));
        QVERIFY2(!findKind(r, "label_mismatch"), qPrintable(describeFindings(r)));
    }

    void sharedStateIsNondeterministic() {
        QVERIFY2(d_->make("shared_state"), qPrintable(d_->why));
        const auto r = d_->compare();
        const bs::Finding* f = findKind(r, "nondeterministic_loader", bs::Severity::Warning);
        QVERIFY2(f, qPrintable(describeFindings(r)));
        // Batch 0 is served by worker 0 with the same call count as without
        // workers; later batches differ.
        QVERIFY(f->count >= 8 && f->count < 20);
    }

    void lambdaIsAnUnknownStage() {
        QVERIFY2(d_->make("lambda"), qPrintable(d_->why));
        {
            bs::CompareSession s(d_->dir.toStdString());
            QVERIFY(!s.reproducible());
            const auto r = s.run();
            // Said once, not blamed: the Lambda is named, the tensors judged alone.
            const bs::Finding* f = findKind(r, "unreproducible_pipeline", bs::Severity::Info);
            QVERIFY2(f, qPrintable(describeFindings(r)));
            QCOMPARE(f->evidence["unknown_stages"][0]["position"].get<int>(), 2);
            QCOMPARE(f->evidence["unknown_stages"][0]["name"].get<std::string>(), std::string("Lambda"));
            QVERIFY(f->message.find("TorchScript") != std::string::npos);
            QVERIFY(f->message.find("ImageFolder") != std::string::npos);
            QCOMPARE(r.summary["pixel_compared"].get<int>(), 0);
            QVERIFY2(!r.hasAtLeast(bs::Severity::Warning), qPrintable(describeFindings(r)));
        }
        // Replacing the Lambda by an expression makes it comparable, and clean.
        const QString pipe = d_->tmp.filePath("pipe.json");
        bstest::writeFile(pipe, R"([{"op":"ToTensor"},{"op":"Lambda","expr":"x * 2"}])");
        bs::CompareOptions o;
        o.pipelineFile = pipe.toStdString();
        bs::CompareSession s(d_->dir.toStdString(), o);
        QVERIFY(s.reproducible());
        const auto r = s.run();
        QVERIFY2(r.findings.empty(), qPrintable(describeFindings(r)));
        QCOMPARE(r.summary["matching"].get<int>(), 60);
    }

    // Stated pipeline (a file) vs the Normalize the training code really used.
    void wrongNormalizeIsLocalised() {
        QVERIFY2(d_->make("wrong_normalize"), qPrintable(d_->why));
        const QString pipe = d_->tmp.filePath("stated.txt");
        bstest::writeFile(pipe,
                          "Compose(\n    ToTensor()\n    Normalize(mean=(0.5, 0.5, 0.5), "
                          "std=(0.25, 0.25, 0.25))\n)\n");
        const QString report = d_->tmp.filePath("report.json");
        const auto cli =
            bstest::runCli({"compare", d_->dir, "--pipeline", pipe, "--report", report});
        QCOMPARE(cli.exitCode, 1);  // errors, --fail-on error by default
        QVERIFY2(cli.out.contains("pipeline_divergence [2:Normalize]"),
                 qPrintable(cli.out + cli.err));

        QFile f(report);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const auto j = nlohmann::json::parse(f.readAll().toStdString());
        const nlohmann::json* div = nullptr;
        for (const auto& x : j["findings"])
            if (x["kind"] == "pipeline_divergence") div = &x;
        QVERIFY(div);
        QCOMPARE((*div)["stage"].get<std::string>(), std::string("2:Normalize"));
        QCOMPARE((*div)["count"].get<int>(), 60);
        const auto mean = (*div)["evidence"]["implied_mean"].get<std::vector<double>>();
        const auto stdv = (*div)["evidence"]["implied_std"].get<std::vector<double>>();
        const double m[3] = {0.4, 0.45, 0.4}, sd[3] = {0.2, 0.2, 0.3};
        for (int c = 0; c < 3; ++c) {
            QVERIFY2(qAbs(mean[size_t(c)] - m[c]) < 1e-3, qPrintable(QString::number(mean[c])));
            QVERIFY2(qAbs(stdv[size_t(c)] - sd[c]) < 1e-3, qPrintable(QString::number(stdv[c])));
        }
        QCOMPARE(j["samples"].size(), size_t(60));

        // The same dump against its own printed transform is clean.
        const auto clean = bstest::runCli({"compare", d_->dir});
        QVERIFY2(clean.exitCode == 0, qPrintable(clean.out + clean.err));
    }

    // Random stages: shapes and ranges only; augmentation must change per epoch.
    void randomPipelineChecksShapesAndRepeats() {
        QVERIFY2(d_->make("random_ok"), qPrintable(d_->why));
        {
            bs::CompareSession s(d_->dir.toStdString());
            QVERIFY(!s.reproducible());
            const auto r = s.run();
            QVERIFY2(findKind(r, "random_pipeline"), qPrintable(describeFindings(r)));
            QVERIFY2(!r.hasAtLeast(bs::Severity::Warning), qPrintable(describeFindings(r)));
            QCOMPARE(r.summary["pixel_compared"].get<int>(), 0);
        }
        // The same loader against a stated pipeline of another size.
        const QString pipe = d_->tmp.filePath("stated.json");
        bstest::writeFile(pipe, R"([{"op":"RandomResizedCrop","size":28},{"op":"ToTensor"}])");
        bs::CompareOptions o;
        o.pipelineFile = pipe.toStdString();
        const auto r = d_->compare(o);
        const bs::Finding* f = findKind(r, "pipeline_divergence");
        QVERIFY2(f && f->count == 60, qPrintable(describeFindings(r)));

        Dump repeat;
        QVERIFY2(repeat.make("random_repeat"), qPrintable(repeat.why));
        const auto rr = repeat.compare();
        const bs::Finding* rep = findKind(rr, "repeated_augmentation");
        QVERIFY2(rep, qPrintable(describeFindings(rr)));
        QCOMPARE(int(rep->count), 20);  // every sample of the 5 batches of both epochs
    }

    void duplicateAndMissingIndices() {
        QVERIFY2(d_->make("bad_sampler"), qPrintable(d_->why));
        const auto r = d_->compare();
        const bs::Finding* dup = findKind(r, "duplicate_in_epoch");
        const bs::Finding* miss = findKind(r, "missing_in_epoch");
        QVERIFY2(dup && miss, qPrintable(describeFindings(r)));
        QCOMPARE(dup->samples.front().index, size_t(3));
        QCOMPARE(miss->samples.front().index, size_t(7));
        QVERIFY(!findKind(r, "pipeline_divergence"));
    }

    void badInputIsAnError() {
        QTemporaryDir tmp;
        QVERIFY_THROWS_EXCEPTION(bs::Error, bs::CompareSession(tmp.path().toStdString()));
        bstest::writeFile(tmp.filePath("manifest.json"),
                          "{\"batches\": [{\"file\": \"../x.pt\"}]}");
        QVERIFY_THROWS_EXCEPTION(bs::Error, bs::readDumpManifest(tmp.path().toStdString()));
        const auto cli = bstest::runCli({"compare", tmp.path()});
        QCOMPARE(cli.exitCode, 2);
        QVERIFY(cli.err.contains("batchscope compare:"));
    }
};

QTEST_GUILESS_MAIN(TestCompare)
#include "test_compare.moc"
