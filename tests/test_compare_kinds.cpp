// The compare findings about the dump and the dataset themselves
// (label_mismatch, dataset_size_mismatch, unreadable_dump,
// unreproducible_sample): each fires on a dump or dataset damaged in one
// way after a correct dump was written, and none fires on the intact pair.
// The dump is written once by tests/compare_scenarios.py ("correct": a real
// torchvision ImageFolder loader); every test damages its own copy.
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <set>
#include <string>

#include "core/compare/compare.h"
#include "support/testsupport.h"

using bstest::describeFindings;
using bstest::findKind;

namespace {

const std::set<std::string> kKinds = {"label_mismatch", "dataset_size_mismatch", "unreadable_dump",
                                      "unreproducible_sample"};

bool copyTree(const QString& from, const QString& to) {
    QDirIterator it(from, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString src = it.next();
        const QString dst = to + "/" + QDir(from).relativeFilePath(src);
        if (!QDir().mkpath(QFileInfo(dst).path()) || !QFile::copy(src, dst)) return false;
    }
    return true;
}

// The kinds of this test's interest that the report holds.
std::set<std::string> kindsIn(const bs::CompareReport& r) {
    std::set<std::string> out;
    for (const auto& f : r.findings)
        if (kKinds.count(f.kind)) out.insert(f.kind);
    return out;
}

}  // namespace

class TestCompareKinds : public QObject {
    Q_OBJECT

    QTemporaryDir original_;
    // A fresh copy of the dataset and the dump for one test.
    struct Copy {
        QTemporaryDir tmp;
        QString data, dump;
    };
    bool copyOf(Copy& c) {
        c.data = c.tmp.filePath("data");
        c.dump = c.tmp.filePath("dump");
        return c.tmp.isValid() && copyTree(original_.filePath("data"), c.data) &&
               copyTree(original_.filePath("dump"), c.dump);
    }
    static bs::CompareReport compare(const Copy& c) {
        bs::CompareOptions o;
        o.datasetRoot = c.data.toStdString();
        return bs::CompareSession(c.dump.toStdString(), o).run();
    }
    // The first batch file of the dump's manifest.
    static QString firstBatchFile(const Copy& c) {
        const bs::DumpManifest m = bs::readDumpManifest(c.dump.toStdString());
        return c.dump + "/" + QString::fromStdString(m.batches.at(0).file);
    }

private Q_SLOTS:
    void initTestCase() {
        if (!bstest::torchvisionAvailable())
            BSTEST_SKIP("needs python3-torch, python3-torchvision and python3-pil to write the dump");
        QVERIFY(original_.isValid());
        const auto r = bstest::runPython({bstest::sourceDir() + "/tests/compare_scenarios.py",
                                          bstest::sourceDir() + "/python", "correct",
                                          original_.filePath("data"), original_.filePath("dump")},
                                         300000);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err.right(800)));
    }

    void intactDumpHasNone() {
        Copy c;
        QVERIFY(copyOf(c));
        const auto r = compare(c);
        QVERIFY2(kindsIn(r).empty(), qPrintable(describeFindings(r)));
        QCOMPARE(r.summary["samples"].get<int>(), 60);
    }

    // The dumped label of one row flipped (cat <-> dog).
    void labelMismatch() {
        Copy c;
        QVERIFY(copyOf(c));
        const QString batch = firstBatchFile(c);
        const auto py = bstest::runPython(
            {"-c",
             "import sys, torch\n"
             "b = torch.load(sys.argv[1])\n"
             "b['labels'][0] = 1 - b['labels'][0]\n"
             "torch.save(b, sys.argv[1])\n",
             batch});
        QVERIFY2(py.exitCode == 0, qPrintable(py.err));
        const auto r = compare(c);
        const bs::Finding* f = findKind(r, "label_mismatch");
        QVERIFY2(f, qPrintable(describeFindings(r)));
        QCOMPARE(f->severity, bs::Severity::Error);
        QCOMPARE(int(f->count), 1);
        QCOMPARE(kindsIn(r), std::set<std::string>{"label_mismatch"});
    }

    // One more image in the dataset than when it was dumped (sorted last,
    // so every dumped index still names its file).
    void datasetSizeMismatch() {
        Copy c;
        QVERIFY(copyOf(c));
        QVERIFY(QFile::copy(c.data + "/dog/09.png", c.data + "/dog/99.png"));
        const auto r = compare(c);
        const bs::Finding* f = findKind(r, "dataset_size_mismatch");
        QVERIFY2(f, qPrintable(describeFindings(r)));
        QCOMPARE(f->evidence["dumped"].get<int64_t>(), int64_t(20));
        QCOMPARE(f->evidence["found"].get<int64_t>(), int64_t(21));
        QCOMPARE(kindsIn(r), std::set<std::string>{"dataset_size_mismatch"});
    }

    // A batch file cut in half: its rows are reported, the others compared.
    void unreadableDump() {
        Copy c;
        QVERIFY(copyOf(c));
        const QString batch = firstBatchFile(c);
        QFile f(batch);
        QVERIFY(f.open(QIODevice::ReadWrite));
        QVERIFY(f.resize(f.size() / 2));
        f.close();
        const auto r = compare(c);
        const bs::Finding* u = findKind(r, "unreadable_dump");
        QVERIFY2(u, qPrintable(describeFindings(r)));
        QCOMPARE(u->severity, bs::Severity::Error);
        QCOMPARE(int(u->count), 4);  // the batch's rows
        QVERIFY2(u->message.find(QFileInfo(batch).fileName().toStdString()) != std::string::npos,
                 u->message.c_str());
        QCOMPARE(kindsIn(r), std::set<std::string>{"unreadable_dump"});
    }

    // A dataset file damaged after the dump: the sample cannot be recomputed.
    void unreproducibleSample() {
        Copy c;
        QVERIFY(copyOf(c));
        const QString victim = c.data + "/cat/03.png";
        QFile f(victim);
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write("not a png any more");
        f.close();
        const auto r = compare(c);
        const bs::Finding* u = findKind(r, "unreproducible_sample");
        QVERIFY2(u, qPrintable(describeFindings(r)));
        QCOMPARE(u->severity, bs::Severity::Warning);
        QVERIFY(u->count >= 1);
        QVERIFY2(describeFindings(r).contains("03.png"), qPrintable(describeFindings(r)));
        QCOMPARE(kindsIn(r), std::set<std::string>{"unreproducible_sample"});
    }
};

QTEST_GUILESS_MAIN(TestCompareKinds)
#include "test_compare_kinds.moc"
