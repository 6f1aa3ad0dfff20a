// `batchscope audit` end to end: a folder with every file-level fault planted
// (written by tests/audit/make_faults.py with Pillow), clean real photos and
// Fashion-MNIST, exit statuses, report fields, and Ctrl-C.
#include <signal.h>

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QtTest>

#include <set>

#include <nlohmann/json.hpp>

#include "support/testsupport.h"

using json = nlohmann::json;

namespace {

const char* kImagenet =
    R"J([{"op":"Resize","size":256},{"op":"CenterCrop","size":224},{"op":"ToTensor"},)J"
    R"J({"op":"Normalize","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}])J";
const QString kFashion = "/usr/share/datasets/fashion-mnist";
const QString kPhotos = "/usr/lib/python3/dist-packages/skimage/data";

using bstest::readJson;

QString writeText(const QTemporaryDir& dir, const QString& name, const QByteArray& text) {
    const QString path = dir.path() + "/" + name;
    bstest::writeFile(path, text);
    return path;
}

const json* finding(const json& report, const std::string& kind) {
    for (const auto& f : report["findings"])
        if (f["kind"] == kind) return &f;
    return nullptr;
}

std::set<QString> paths(const json& f) {
    std::set<QString> out;
    for (const auto& s : f["samples"]) out.insert(QString::fromStdString(s["path"].get<std::string>()));
    return out;
}

QString errorsOf(const json& report) {
    QString s;
    for (const auto& f : report["findings"])
        if (f["severity"] == "error") s += QString::fromStdString(f["kind"].get<std::string>() + " [" +
                                                                 f["stage"].get<std::string>() + "] " +
                                                                 f["message"].get<std::string>()) + "\n";
    return s;
}

}  // namespace

class TestAuditCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void plantedFileFaults() {
        if (bstest::runPython({"-c", "import PIL, numpy"}).exitCode != 0)
            BSTEST_SKIP("needs /usr/bin/python3 with PIL and numpy to write the faulty images");
        QTemporaryDir dir;
        const QString root = dir.path() + "/faults";
        const auto gen = bstest::runPython({bstest::sourceDir() + "/tests/audit/make_faults.py", root});
        QVERIFY2(gen.exitCode == 0, qPrintable(gen.err));
        const QString report = dir.path() + "/report.json";
        const auto r = bstest::runCli({"audit", root, "--batch-size", "1", "--workers", "2", "--report", report});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("[ToTensor]"), qPrintable(r.err));  // the default pipeline is announced
        const json rep = readJson(report);
        QVERIFY(rep.is_object());

        struct Expect {
            const char* kind;
            const char* severity;
            const char* stage;
            std::vector<const char*> files;
        };
        const std::vector<Expect> expected = {
            {"unreadable_file", "error", "file", {"cat/zero.png", "cat/text.png"}},
            {"truncated_image", "error", "decode", {"cat/truncated.jpg"}},
            {"oversized_image", "error", "file", {"cat/huge.png"}},
            {"mode_conversion", "warning", "decode", {"dog/cmyk.jpg", "dog/palette.png", "dog/rgba.png", "dog/gray.png"}},
            {"exif_orientation", "warning", "decode", {"dog/rotated.jpg"}},
            {"constant_image", "warning", "decode", {"dog/constant.png"}},
            {"conflicting_duplicate", "error", "decode", {"cat/ok0.png", "dog/dup_of_cat_ok0.png"}},
            {"exact_duplicate", "warning", "decode", {"dog/ok1.png", "dog/zz_same_as_ok1.png"}},
            {"empty_class", "error", "dataset", {"empty"}},
            {"hidden_class", "warning", "dataset", {".ipynb_checkpoints"}},
        };
        for (const auto& e : expected) {
            const json* f = finding(rep, e.kind);
            QVERIFY2(f, e.kind);
            QCOMPARE(QString::fromStdString((*f)["severity"].get<std::string>()), QString(e.severity));
            QCOMPARE(QString::fromStdString((*f)["stage"].get<std::string>()), QString(e.stage));
            std::set<QString> want;
            for (const char* file : e.files) want.insert(root + "/" + file);
            QCOMPARE(paths(*f), want);
            QCOMPARE((*f)["count"].get<size_t>(), e.files.size());
            QVERIFY(!(*f)["message"].get<std::string>().empty());
        }
        // Nothing else is an error: the clean images do not trip value checks.
        std::set<std::string> errorKinds;
        for (const auto& f : rep["findings"])
            if (f["severity"] == "error") errorKinds.insert(f["kind"].get<std::string>());
        QCOMPARE(errorKinds, (std::set<std::string>{"unreadable_file", "truncated_image", "oversized_image",
                                                     "conflicting_duplicate", "empty_class"}));

        // Report layout.
        QCOMPARE(rep["tool"]["name"].get<std::string>(), std::string("batchscope"));
        QVERIFY(rep["tool"].contains("version"));
        QCOMPARE(rep["dataset"]["format"].get<std::string>(), std::string("imagefolder"));
        QCOMPARE(rep["dataset"]["samples"].get<int>(), 22);
        QVERIFY(rep["dataset"]["classes"].size() >= 3);
        QCOMPARE(rep["pipeline"]["stages"][0]["op"].get<std::string>(), std::string("ToTensor"));
        QVERIFY(rep["settings"].contains("extreme_margin"));
        QCOMPARE(rep["stats"].size(), size_t(2));
        QCOMPARE(rep["stats"][1]["channels"].size(), size_t(3));
        QCOMPARE(rep["stats"][1]["channels"][0]["histogram"]["bins"].size(), size_t(256));
        QCOMPARE(rep["summary"]["by_severity"]["error"].get<int>(), 5);
        QCOMPARE(rep["summary"]["by_kind"]["mode_conversion"].get<int>(), 4);
        QCOMPARE(rep["run"]["scanned"].get<int>(), 22);
        // Human summary on stdout: counts and the top findings with a path.
        QVERIFY2(r.out.contains("5 error"), qPrintable(r.out));
        QVERIFY2(r.out.contains("truncated_image [decode]"), qPrintable(r.out));
        QVERIFY2(r.out.contains(root + "/cat/truncated.jpg"), qPrintable(r.out));

        // --fail-on never and a threshold override are accepted.
        const auto never = bstest::runCli({"audit", root, "--batch-size", "1", "--fail-on", "never",
                                           "--imbalance-ratio", "100", "--quiet"});
        QCOMPARE(never.exitCode, 0);
    }

    void cleanPhotosImagenet() {
        QTemporaryDir dir;
        const QString root = dir.path() + "/photos";
        QDir().mkpath(root + "/a");
        QDir().mkpath(root + "/b");
        const QStringList a = {"astronaut.png", "chelsea.png"}, b = {"coffee.png", "rocket.jpg"};
        for (const auto& f : a)
            if (!QFile::copy(kPhotos + "/" + f, root + "/a/" + f)) BSTEST_SKIP("python3-skimage sample photos missing");
        for (const auto& f : b)
            if (!QFile::copy(kPhotos + "/" + f, root + "/b/" + f)) BSTEST_SKIP("python3-skimage sample photos missing");
        const QString pipeline = writeText(dir, "imagenet.json", kImagenet);
        const QString report = dir.path() + "/r.json";
        const auto r = bstest::runCli({"audit", root, "--pipeline", pipeline, "--batch-size", "2", "--report", report});
        const json rep = readJson(report);
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err + errorsOf(rep)));
        QCOMPARE(rep["summary"]["by_severity"]["error"].get<int>(), 0);
        QCOMPARE(rep["stats"].size(), size_t(5));
        QCOMPARE(rep["stats"][4]["name"].get<std::string>(), std::string("4:Normalize"));
        // The fused Resize's own output is never built: the report says so
        // instead of a bare "0 samples"; the stages after it were observed.
        QCOMPARE(rep["stats"][1]["samples"].get<int>(), 0);
        QVERIFY2(rep["stats"][1].value("not_observed", std::string()).find("fused with 2:CenterCrop") == 0,
                 rep["stats"][1].dump().substr(0, 300).c_str());
        QVERIFY(!rep["stats"][2].contains("not_observed"));
        QCOMPARE(rep["stats"][2]["samples"].get<int>(), 4);
    }

    void fashionMnist() {
        if (!QFileInfo::exists(kFashion)) BSTEST_SKIP("Fashion-MNIST (dataset-fashion-mnist) not installed");
        QTemporaryDir dir;
        const QString good = writeText(dir, "fm.json", R"J([{"op":"ToTensor"},{"op":"Normalize","mean":[0.286],"std":[0.353]}])J");
        const QString report = dir.path() + "/fm.json.report";
        const auto r = bstest::runCli({"audit", kFashion, "--pipeline", good, "--limit", "2000", "--report", report});
        const json rep = readJson(report);
        QVERIFY2(r.exitCode == 0, qPrintable(r.out + r.err + errorsOf(rep)));
        QCOMPARE(rep["run"]["scanned"].get<int>(), 2000);
        QCOMPARE(rep["dataset"]["format"].get<std::string>(), std::string("idx"));
        QVERIFY2(!finding(rep, "mode_conversion"), "mode L is native for IDX and must not be flagged");
        // Normalize statistics close to 0/1 for this dataset: no mismatch.
        QVERIFY(!finding(rep, "normalization_mismatch"));

        // The same data with 0-255 statistics: collapsed at the Normalize, and
        // the mismatch suggests the statistics that fit.
        const QString bad = writeText(dir, "bad.json", R"J([{"op":"ToTensor"},{"op":"Normalize","mean":[72.94],"std":[90.02]}])J");
        const QString report2 = dir.path() + "/bad.report";
        const auto r2 = bstest::runCli({"audit", kFashion, "--pipeline", bad, "--limit", "500", "--report", report2, "--quiet"});
        QCOMPARE(r2.exitCode, 1);
        const json rep2 = readJson(report2);
        const json* c = finding(rep2, "collapsed_range");
        QVERIFY2(c, qPrintable(r2.out));
        QCOMPARE((*c)["stage"].get<std::string>(), std::string("2:Normalize"));
        const json* m = finding(rep2, "normalization_mismatch");
        QVERIFY2(m, qPrintable(r2.out));
        const double suggested = (*m)["evidence"]["suggested_mean"][0].get<double>();
        QVERIFY2(suggested > 0.2 && suggested < 0.4, qPrintable(QString::number(suggested)));
    }

    void exitStatuses() {
        QTemporaryDir dir;
        const auto missing = bstest::runCli({"audit", dir.path() + "/nope"});
        QCOMPARE(missing.exitCode, 2);
        QVERIFY(missing.err.startsWith("batchscope audit: "));
        QCOMPARE(missing.err.trimmed().count('\n'), 0);  // one line

        QDir().mkpath(dir.path() + "/imgs");
        for (int i = 0; i < 3; ++i) bstest::writePatternImage(dir.path() + QString("/imgs/%1.png").arg(i), 20, 20, i);
        const QString badPipe = writeText(dir, "bad.json", R"J([{"op":"Frobnicate"}])J");
        const auto pipe = bstest::runCli({"audit", dir.path() + "/imgs", "--pipeline", badPipe});
        QCOMPARE(pipe.exitCode, 2);
        QVERIFY2(pipe.err.contains("Frobnicate"), qPrintable(pipe.err));
        const auto bad = bstest::runCli({"audit", dir.path() + "/imgs", "--no-such-option", "1"});
        QCOMPARE(bad.exitCode, 2);
        const auto help = bstest::runCli({"audit", "--help"});
        QCOMPARE(help.exitCode, 0);
        QVERIFY(help.out.contains("--fail-on") && help.out.contains("--extreme-margin"));

        // Clean data: 0 with the default --fail-on error.
        const auto clean = bstest::runCli({"audit", dir.path() + "/imgs", "--quiet"});
        QVERIFY2(clean.exitCode == 0, qPrintable(clean.out + clean.err));
        // A warning-only dataset: 0 by default, 1 with --fail-on warning.
        QImage flat(20, 20, QImage::Format_RGB888);
        flat.fill(qRgb(9, 9, 9));
        QVERIFY(flat.save(dir.path() + "/imgs/flat.png"));
        QCOMPARE(bstest::runCli({"audit", dir.path() + "/imgs", "--quiet"}).exitCode, 0);
        QCOMPARE(bstest::runCli({"audit", dir.path() + "/imgs", "--quiet", "--fail-on", "warning"}).exitCode, 1);
        // Settings file.
        const QString settings = writeText(dir, "s.json", R"J({"max_samples_per_finding": 1})J");
        const QString report = dir.path() + "/s.report";
        QCOMPARE(bstest::runCli({"audit", dir.path() + "/imgs", "--quiet", "--settings", settings, "--report", report}).exitCode, 0);
        QCOMPARE(readJson(report)["settings"]["max_samples_per_finding"].get<int>(), 1);
        const QString badSettings = writeText(dir, "bad_s.json", R"J({"nonsense": 1})J");
        QCOMPARE(bstest::runCli({"audit", dir.path() + "/imgs", "--settings", badSettings}).exitCode, 2);
    }

    // A file that decodes too slowly is stopped and reported as unreadable,
    // naming the limit; the rest of the dataset is scanned. Far from the
    // limit both ways on any machine: the 8000x6000 JPEG of 400 scans needs
    // tens of seconds, the 24x24 PNGs well under a millisecond.
    void decodeTimeLimit() {
        QTemporaryDir dir;
        const QString root = dir.path() + "/imgs";
        QVERIFY(QDir().mkpath(root));
        for (int i = 0; i < 3; ++i)
            bstest::writePatternImage(root + QString("/%1.png").arg(i), 24, 24, i);
        const QString slow = root + "/slow.jpg";
        bstest::writeFile(slow, bstest::slowManyScanJpeg(8000, 6000, 400));
        const QString report = dir.path() + "/r.json";
        const auto r = bstest::runCli(
            {"audit", root, "--quiet", "--decode-time-limit", "0.25", "--report", report});
        QCOMPARE(r.exitCode, 1);
        const json rep = readJson(report);
        QCOMPARE(rep["dataset"]["samples"].get<int>(), 4);
        const json* f = finding(rep, "unreadable_file");
        QVERIFY2(f, qPrintable(errorsOf(rep)));
        QCOMPARE(paths(*f), std::set<QString>{slow});
        const std::string text = f->dump();
        QVERIFY2(text.find("time limit of 0.25 s") != std::string::npos, text.c_str());
        QCOMPARE(finding(rep, "unreadable_file")->value("count", 0), 1);

        const auto bad = bstest::runCli({"audit", root, "--decode-time-limit", "-1"});
        QCOMPARE(bad.exitCode, 2);
        QVERIFY2(bad.err.contains("--decode-time-limit"), qPrintable(bad.err));
        QVERIFY(bstest::runCli({"audit", "--help"}).out.contains("--decode-time-limit"));
    }

    void sigintWritesPartialReport() {
        if (!QFileInfo::exists(kFashion)) BSTEST_SKIP("Fashion-MNIST (dataset-fashion-mnist) not installed");
        QTemporaryDir dir;
        // Upscaling makes the scan take long enough to interrupt.
        const QString pipeline = writeText(dir, "slow.json", R"J([{"op":"Resize","size":512,"interpolation":"bicubic"},{"op":"ToTensor"}])J");
        const QString report = dir.path() + "/partial.json";
        QProcess p;
        p.start(bstest::cliPath(), {"audit", kFashion, "--pipeline", pipeline, "--batch-size", "16", "--workers", "1",
                                    "--report", report});
        QVERIFY(p.waitForStarted());
        // Wait for the first progress line, then press Ctrl-C.
        QElapsedTimer t;
        t.start();
        QByteArray err;
        while (!err.contains("samples/s") && t.elapsed() < 60000) {
            p.waitForReadyRead(200);
            err += p.readAllStandardError();
        }
        QVERIFY2(err.contains("samples/s"), err.constData());
        ::kill(pid_t(p.processId()), SIGINT);
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 130);
        const json rep = readJson(report);
        QVERIFY(rep.is_object());
        QCOMPARE(rep["run"]["cancelled"].get<bool>(), true);
        const int scanned = rep["run"]["scanned"].get<int>();
        QVERIFY(scanned > 0 && scanned < 60000);
        QCOMPARE(rep["summary"]["samples_scanned"].get<int>(), scanned);
        QVERIFY(QString::fromUtf8(p.readAllStandardOutput()).contains("INTERRUPTED"));
    }
};

QTEST_GUILESS_MAIN(TestAuditCli)
#include "test_audit_cli.moc"
