// `audit --shard I/N` + `merge` (issue 14): for N in {1, 3, 4} the merged
// report equals the single audit (findings with every sample, counts,
// statistics within rounding), a duplicate planted in two different shards
// is found after the merge, the scheduler's environment picks the part, and
// bad sets of parts are refused with exit status 2 and a one-line reason.
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QtTest>

#include <cmath>

#include <nlohmann/json.hpp>

#include "support/testsupport.h"
#include "webdataset/report_compare.h"

using json = nlohmann::json;

namespace {

const char* kPipeline = R"J([{"op":"Resize","size":[32,32]},{"op":"ToTensor"},)J"
                        R"J({"op":"Normalize","mean":[0.5,0.5,0.5],"std":[0.25,0.25,0.25]}])J";

using bstest::readJson;

bstest::ProcessResult runWithEnv(const QStringList& args, const QStringList& env) {
    QProcess p;
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    for (const auto& kv : env) e.insert(kv.section('=', 0, 0), kv.section('=', 1));
    p.setProcessEnvironment(e);
    p.start(bstest::cliPath(), args);
    p.waitForFinished(600000);
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()),
            QString::fromUtf8(p.readAllStandardError())};
}

}  // namespace

class TestShardMerge : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    const QString root_ = dir_.path();
    QString pipe_;

    // Audits part i of n of `dataset` into <tag>-<i>.json; returns the names.
    QStringList audit(const QString& dataset, const QString& tag, int n,
                      const QString& pipeline = {}) {
        QStringList parts;
        for (int i = 0; i < n; ++i) {
            const QString out = QStringLiteral("%1/%2-%3.json").arg(root_, tag).arg(i);
            const auto r = bstest::runCli({"audit", dataset, "--pipeline",
                                           pipeline.isEmpty() ? pipe_ : pipeline, "--shard",
                                           QStringLiteral("%1/%2").arg(i).arg(n), "--report", out,
                                           "--quiet", "--workers", "2"});
            if (r.exitCode != 0) qWarning("%s", qPrintable(r.err));
            parts << out;
        }
        return parts;
    }

    json merge(const QStringList& parts, int expectExit = 0, QString* err = nullptr) {
        const QString out = root_ + "/merged.json";
        QFile::remove(out);
        const auto r =
            bstest::runCli(QStringList{"merge"} + parts +
                           QStringList{"--report", out, "--quiet", "--fail-on", "never"});
        if (err) *err = r.err;
        if (r.exitCode != expectExit) qWarning("merge exit %d: %s", r.exitCode, qPrintable(r.err));
        return r.exitCode == expectExit ? readJson(out) : json();
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        BSTEST_RUN_FIXTURE_SCRIPT(shards, "tests/webdataset/make_shards.py", {root_},
                                  "python3 with Pillow is needed to build the shards");
        pipe_ = root_ + "/p.json";
        bstest::writeFile(pipe_, kPipeline);
        for (const char* ds : {"shards", "folder"}) {
            const auto s =
                bstest::runCli({"audit", root_ + "/" + ds, "--pipeline", pipe_, "--report",
                                root_ + "/single-" + ds + ".json", "--quiet", "--workers", "2"});
            QVERIFY2(s.exitCode == 0 || s.exitCode == 1, qPrintable(s.err));
        }
    }

    void mergeEqualsSingleAudit_data() {
        QTest::addColumn<QString>("dataset");
        QTest::addColumn<int>("parts");
        for (int n : {1, 3, 4}) QTest::addRow("shards N=%d", n) << "shards" << n;
        QTest::addRow("folder by path hash N=3") << "folder" << 3;
    }
    void mergeEqualsSingleAudit() {
        QFETCH(QString, dataset);
        QFETCH(int, parts);
        const QStringList names =
            audit(root_ + "/" + dataset, dataset + QString::number(parts), parts);
        const json part0 = readJson(names[0]);
        QCOMPARE(part0["partial"]["assignment"].get<std::string>(),
                 std::string(dataset == "shards" ? "shards" : "path_hash"));
        const json merged = merge(names);
        QVERIFY(!merged.is_null());
        bstest::compareReports(readJson(root_ + "/single-" + dataset + ".json"), merged);
    }

    void duplicateAcrossShardsFoundAfterMerge() {
        // Sample 0 (shard 0) and its copy (shard 1) go to parts 0 and 1.
        const QStringList names = audit(root_ + "/shards", "dup", 4);
        const json merged = merge(names);
        const json* dup = nullptr;
        for (const auto& f : merged["findings"])
            if (f["kind"] == "exact_duplicate") dup = &f;
        QVERIFY2(dup, merged.dump().c_str());
        QCOMPARE((*dup)["count"].get<int>(), 2);
        const size_t copy = (*dup)["samples"][1]["index"].get<size_t>();
        QCOMPARE((*dup)["samples"][0]["index"].get<size_t>(), size_t(0));
        auto inPart = [&](int p, size_t index) {
            const auto v =
                readJson(names[p])["partial_state"]["indices"].get<std::vector<size_t>>();
            return std::find(v.begin(), v.end(), index) != v.end();
        };
        QVERIFY(inPart(0, 0));
        QVERIFY(inPart(1, copy));
        QVERIFY((*dup)["samples"][1]["path"].get<std::string>().find("shard-000001.tar:") !=
                std::string::npos);
    }

    void listsEverySample() {
        const QString csv = root_ + "/list.csv";
        const auto r = bstest::runCli({"merge", root_ + "/shards3-0.json",
                                       root_ + "/shards3-1.json", root_ + "/shards3-2.json",
                                       "--report", root_ + "/m.json", "--list", csv, "--quiet"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile f(csv);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QStringList lines = QString::fromUtf8(f.readAll()).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines[0], QStringLiteral("path,index,kind,severity,stage"));
        size_t samples = 0;
        // Held in a variable: a range-for over readJson(...)["findings"]
        // would iterate a member of a destroyed temporary.
        const json merged = readJson(root_ + "/m.json");
        for (const auto& fd : merged["findings"]) {
            samples += fd["samples"].size();
            // Every sample is listed, not the first max_samples_per_finding (20).
            if (fd["kind"] == "mode_conversion")
                QCOMPARE(fd["samples"].size(), fd["count"].get<size_t>());
        }
        QCOMPARE(size_t(lines.size() - 1), samples);
        QVERIFY(samples > 20);  // more than the capped list of one finding
        QVERIFY(lines.filter(",mode_conversion,warning,decode").size() > 20);
    }

    void partFromSchedulerEnvironment_data() {
        QTest::addColumn<QStringList>("env");
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<int>("part");
        QTest::addColumn<int>("parts");
        QTest::newRow("slurm count")
            << QStringList{"SLURM_ARRAY_TASK_ID=2", "SLURM_ARRAY_TASK_COUNT=3"} << QStringList{}
            << 2 << 3;
        QTest::newRow("slurm min/max")
            << QStringList{"SLURM_ARRAY_TASK_ID=6", "SLURM_ARRAY_TASK_MIN=5",
                           "SLURM_ARRAY_TASK_MAX=8"}
            << QStringList{} << 1 << 4;
        QTest::newRow("kubernetes")
            << QStringList{"JOB_COMPLETION_INDEX=3"} << QStringList{"--num-shards", "4"} << 3 << 4;
        QTest::newRow("torchrun") << QStringList{"RANK=1", "WORLD_SIZE=2"} << QStringList{} << 1
                                  << 2;
    }
    void partFromSchedulerEnvironment() {
        QFETCH(QStringList, env);
        QFETCH(QStringList, extra);
        QFETCH(int, part);
        QFETCH(int, parts);
        const QString out = root_ + "/env.json";
        QFile::remove(out);
        const auto r = runWithEnv(
            QStringList{"audit", "--shard", root_ + "/shards", "--report", out, "--quiet"} + extra,
            env);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const json j = readJson(out);
        QCOMPARE(j["partial"]["part"].get<int>(), part);
        QCOMPARE(j["partial"]["parts"].get<int>(), parts);
    }

    void refusals_data() {
        QTest::addColumn<QString>("what");
        QTest::addColumn<QString>("message");
        auto row = [](const char* name, const char* what, const char* message) {
            QTest::newRow(name) << QString(what) << QString(message);
        };
        row("missing", "missing", "1 of 3 parts missing: 1");
        row("repeated", "repeated", "part 0 given twice");
        row("other dataset", "dataset", "a different dataset");
        row("other pipeline", "pipeline", "a different pipeline");
        row("not partial", "single", "not a partial report");
        row("kubernetes without --num-shards", "k8s", "--num-shards");
    }
    void refusals() {
        QFETCH(QString, what);
        QFETCH(QString, message);
        const QString s0 = root_ + "/shards3-0.json", s1 = root_ + "/shards3-1.json",
                      s2 = root_ + "/shards3-2.json";
        QString err;
        if (what == "k8s") {
            const auto r =
                runWithEnv({"audit", "--shard", root_ + "/shards", "--report", root_ + "/k.json"},
                           {"JOB_COMPLETION_INDEX=0"});
            QCOMPARE(r.exitCode, 2);
            err = r.err;
        } else {
            QStringList parts{s0, s2};
            if (what == "repeated") parts = QStringList{s0, s0, s1, s2};
            if (what == "dataset") parts = QStringList{s0, root_ + "/folder3-1.json", s2};
            if (what == "single") parts = QStringList{root_ + "/single-shards.json"};
            if (what == "pipeline") {
                const QString other = root_ + "/q.json";
                bstest::writeFile(other, R"J([{"op":"Resize","size":[32,32]},{"op":"ToTensor"}])J");
                parts = QStringList{s0, audit(root_ + "/shards", "other", 3, other)[1], s2};
            }
            merge(parts, 2, &err);
        }
        QVERIFY2(err.contains(message), qPrintable(err));
        QCOMPARE(err.trimmed().count('\n'), 0);
    }
};

QTEST_GUILESS_MAIN(TestShardMerge)
#include "test_shard_merge.moc"
