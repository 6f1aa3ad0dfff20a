// A real single-node Slurm (issue 14): tests/cluster/slurm_cluster.sh starts
// munged, slurmctld and slurmd in a temporary folder, submits the array
// audit and the merge job of docs/cluster.md (scripts/cluster/*.sbatch) on a
// sharded dataset, and stops them again; the merged report must equal the
// audit of the same dataset on this machine.
#include <QFile>
#include <QProcess>
#include <QtTest>

#include <nlohmann/json.hpp>

#include "support/testsupport.h"
#include "webdataset/report_compare.h"

using json = nlohmann::json;

namespace {

using bstest::readJson;

const char* kPipeline = R"J([{"op":"Resize","size":[32,32]},{"op":"ToTensor"},)J"
                        R"J({"op":"Normalize","mean":[0.5,0.5,0.5],"std":[0.25,0.25,0.25]}])J";

}  // namespace

class TestSlurmCluster : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void arrayAuditAndMergeEqualSingleAudit() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString root = dir.path();
        const auto made =
            bstest::runPython({bstest::sourceDir() + "/tests/webdataset/make_shards.py", root});
        if (made.exitCode == -2) BSTEST_SKIP("python3 with Pillow is needed to build the shards");
        QVERIFY2(made.exitCode == 0, qPrintable(made.err));
        const QString pipe = root + "/p.json";
        bstest::writeFile(pipe, kPipeline);
        const auto single =
            bstest::runCli({"audit", root + "/shards", "--pipeline", pipe, "--report",
                            root + "/single.json", "--quiet", "--fail-on", "never"});
        QVERIFY2(single.exitCode == 0, qPrintable(single.err));

        QProcess p;
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start("/bin/sh", {bstest::sourceDir() + "/tests/cluster/slurm_cluster.sh",
                            bstest::cliPath(), root + "/slurm", root + "/shards", pipe, "3"});
        QVERIFY(p.waitForStarted());
        QVERIFY(p.waitForFinished(800000));
        const QString log = QString::fromUtf8(p.readAll());
        if (p.exitCode() == 77) BSTEST_SKIP(qPrintable("no Slurm here: " + log.trimmed()));
        QVERIFY2(p.exitCode() == 0, qPrintable(log));
        QVERIFY2(log.contains("(SLURM_ARRAY_TASK_ID)"),
                 qPrintable(log));  // parts from the scheduler
        const json merged = readJson(root + "/slurm/report.json");
        QCOMPARE(merged["merged"]["parts"].get<int>(), 3);
        bstest::compareReports(readJson(root + "/single.json"), merged);
    }

    // Kubernetes cannot run here: the manifests of docs/cluster.md are
    // checked against the batch/v1 Job schema instead, and a broken copy
    // must be refused.
    void kubernetesManifestsAreValidJobs() {
        const QString checker = bstest::sourceDir() + "/tests/cluster/check_k8s_job.py";
        const QString docs = bstest::sourceDir() + "/docs/k8s/";
        const auto ok =
            bstest::runPython({checker, docs + "audit-job.yaml", docs + "merge-job.yaml"});
        if (ok.exitCode == -2) BSTEST_SKIP("python3 missing");
        QVERIFY2(ok.exitCode == 0, qPrintable(ok.out + ok.err));
        QFile f(docs + "audit-job.yaml");
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray text = f.readAll();
        text.replace("completionMode: Indexed\n  completions: 4", "completionMode: Indexed");
        text.replace("restartPolicy: Never", "restartPolicy: Always");
        QTemporaryDir dir;
        bstest::writeFile(dir.path() + "/bad.yaml", text);
        const auto bad = bstest::runPython({checker, dir.path() + "/bad.yaml"});
        QCOMPARE(bad.exitCode, 1);
        QVERIFY2(bad.out.contains("restartPolicy") && bad.out.contains("completions"),
                 qPrintable(bad.out));
    }
};

QTEST_GUILESS_MAIN(TestSlurmCluster)
#include "test_slurm_cluster.moc"
