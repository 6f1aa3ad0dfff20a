// Replays every input the fuzzers ever crashed on (tests/fuzz/regressions/
// <target>/) and the seed corpora (tests/fuzz/corpus/<target>/) through the
// same entry points the libFuzzer targets call: each must end as a value or
// a bs::Error. A crash fails the test process; any other exception fails
// the test with the file's name.
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QtTest>

#include <functional>
#include <map>

#include "support/testsupport.h"
#include "tests/fuzz/entry_points.h"

namespace {

const std::map<QString, std::function<int(const uint8_t*, size_t)>>& entryPoints() {
    static const std::map<QString, std::function<int(const uint8_t*, size_t)>> m = {
        {"image_decode", bsfuzz::imageDecode}, {"numpy", bsfuzz::numpy},
        {"idx", bsfuzz::idx},                  {"csv", bsfuzz::csv},
        {"pipeline_json", bsfuzz::pipelineJson}, {"torchvision_text", bsfuzz::torchvisionText}};
    return m;
}

// Runs every file under <fuzzDir>/<kind>/<target>/; returns how many ran.
int replay(const QString& kind) {
    const QString base = bstest::sourceDir() + "/tests/fuzz/" + kind;
    int n = 0;
    for (const auto& [target, fn] : entryPoints()) {
        QDirIterator it(base + "/" + target, QDir::Files);
        while (it.hasNext()) {
            const QString path = it.next();
            QFile f(path);
            if (!f.open(QIODevice::ReadOnly)) {
                qWarning("cannot read %s", qPrintable(path));
                return -1;
            }
            const QByteArray bytes = f.readAll();
            try {
                fn(reinterpret_cast<const uint8_t*>(bytes.constData()), size_t(bytes.size()));
            } catch (const std::exception& e) {
                qWarning("%s: escaped exception: %s", qPrintable(path), e.what());
                return -1;
            }
            ++n;
        }
    }
    return n;
}

}  // namespace

class TestFuzzRegressions : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void every_target_has_a_corpus() {
        for (const auto& [target, fn] : entryPoints())
            QVERIFY2(!QDir(bstest::sourceDir() + "/tests/fuzz/corpus/" + target).isEmpty(QDir::Files),
                     qPrintable(target + " has no seed corpus"));
    }
    void seed_corpora() {
        const int n = replay("corpus");
        QVERIFY2(n > 30, "a corpus file failed (see warning) or the corpora are missing");
    }
    void crash_regressions() {
        // A missing or emptied folder, or inputs under a folder no entry
        // point reads, must fail rather than replay nothing.
        const QDir dir(bstest::sourceDir() + "/tests/fuzz/regressions");
        QVERIFY2(dir.exists(), qPrintable(dir.path() + " is missing"));
        for (const QString& sub : dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot))
            QVERIFY2(entryPoints().count(sub), qPrintable(sub + ": no fuzz target of that name"));
        const int n = replay("regressions");
        QVERIFY2(n >= 0, "a regression input failed (see warning)");
        // The committed crash inputs: the PNG IHDR overflow and the
        // out-of-range pipeline number (more may be added, never fewer).
        QVERIFY2(n >= 2, qPrintable(QString("only %1 regression inputs replayed").arg(n)));
        qInfo("replayed %d regression inputs", n);
    }
};

QTEST_GUILESS_MAIN(TestFuzzRegressions)
#include "test_fuzz_regressions.moc"
