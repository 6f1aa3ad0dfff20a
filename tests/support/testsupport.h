// Helpers shared by the Qt Test executables.
#pragma once

#include <QColor>
#include <QDir>
#include <QDirIterator>
#include <QImage>
#include <QSize>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <QtTest>

#include <exception>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/audit/anomaly.h"
#include "core/common/types.h"

namespace bs {
struct CompareReport;
}
namespace bs::ui {
class MainWindow;
}
class QAbstractSpinBox;
class QListWidget;
class QTreeWidget;
class QTreeWidgetItem;

// Skips the current test function with `why`; when the environment has CI
// set, fails it instead: CTest counts a skip as a pass, and on CI a skip
// only ever means a missing install step.
#define BSTEST_SKIP(why)                                     \
    do {                                                     \
        if (qEnvironmentVariableIsSet("CI"))                 \
            QFAIL(qPrintable(QString("skipped on CI: ") + (why))); \
        QSKIP(why);                                          \
    } while (false)

// Declares `result`, the bstest::ProcessResult of the fixture script
// `script` (a path in the source tree) run with `args` (as QFETCH declares
// its variable): skips the calling test function with `needs` when python
// is missing, fails it when the script fails.
#define BSTEST_RUN_FIXTURE_SCRIPT(result, script, args, needs)                                    \
    const bstest::ProcessResult result =                                                          \
        bstest::runPython(QStringList{bstest::sourceDir() + "/" + (script)} + QStringList(args)); \
    if (result.exitCode == -2) BSTEST_SKIP(needs);                                                \
    QVERIFY2(result.exitCode == 0, qPrintable(result.err.right(1500)))

namespace bstest {

// Root of the source tree (for committed fixtures and references).
QString sourceDir();
// Path of the built batchscope CLI.
QString cliPath();

struct ProcessResult {
    int exitCode = -1;
    QString out;
    QString err;
};
// Runs the CLI with `args` (timeout in ms) and returns its output.
ProcessResult runCli(const QStringList& args, int timeoutMs = 600000);
// The reference interpreter: $BATCHSCOPE_PYTHON (CTest sets it to Debian's
// /usr/bin/python3), else /usr/bin/python3.
QString pythonPath();
// Runs pythonPath() with a script and args; exitCode -2 when python is
// missing (tests then call BSTEST_SKIP with a clear message).
// The JSON in `path`; a discarded value when it is missing or not JSON.
nlohmann::json readJson(const QString& path);
ProcessResult runPython(const QStringList& args, int timeoutMs = 600000);
bool torchvisionAvailable();

// Writes a small RGB PNG / JPEG with a deterministic pattern (for fixtures).
void writePatternImage(const QString& path, int width, int height, int seed);
void writeFile(const QString& path, const QByteArray& bytes);

// A progressive JPEG of one flat colour whose scans are repeated until it
// has at least `scans` of them: small on disk, but every scan walks the
// whole coefficient buffer, so it decodes slowly (the classic pathological
// JPEG, kept under the 500-scan refusal so the time limit has to stop it).
QByteArray slowManyScanJpeg(int width, int height, int scans);

// Maximum absolute difference and fraction of values that differ by more
// than `tolerance`.
struct Diff {
    double maxAbs = 0;
    double fractionOver = 0;
    size_t count = 0;
};
Diff compare(const float* a, const float* b, size_t n, double tolerance);

// An ImageFolder at `root` whose class "a" (first in order) holds 6 real
// images and `classes` more classes hold `total` empty .png files: the
// shape of a huge folder for listing tests and benchmarks.
void makeBigImageFolder(const QString& root, int total, int classes);

// Runs the event loop until the inspector has a batch and a sample on
// screen and no work pending; false after `timeoutMs`.
bool waitIdle(bs::ui::MainWindow& w, int timeoutMs = 60000);
// Shows `w`, opens `path`, sets the pipeline from its JSON text and waits
// for the result; false when any step fails.
bool openWithPipeline(bs::ui::MainWindow& w, const QString& path, const QString& pipelineJson);

// Resizes `w` to `size`, shows it, opens `path` and waits for the result;
// false after waitIdle's timeout.
bool showAndOpen(bs::ui::MainWindow& w, const QString& path, QSize size);

// Clicks as a user does: on the up or down arrow of a spin box, on row `row`
// of a list, on `item` of a tree (each scrolled into view first).
void clickSpinArrow(QAbstractSpinBox* sb, bool up);
void clickListRow(QListWidget* list, int row);
void clickTreeItem(QTreeWidget* tree, QTreeWidgetItem* item);
// The first top-level row of the inspector's findings of `kind` (null when
// none); `count`, when given, receives how many rows have that kind.
QTreeWidgetItem* topFinding(const bs::ui::MainWindow& w, const QString& kind, int* count = nullptr);

// The first finding of `kind`, or null.
const bs::Finding* findKind(const std::vector<bs::Finding>& findings, const std::string& kind);
// One line per finding ("severity kind [stage] message"), for failure messages.
QString describeFindings(const std::vector<bs::Finding>& findings);
// The same two for the findings of a compare report.
const bs::Finding* findKind(const bs::CompareReport& report, const std::string& kind);
QString describeFindings(const bs::CompareReport& report);

// Number of pixels of `img` that are exactly colour `c`.
int countColour(const QImage& img, QColor c);
// Largest difference of one colour channel between two images of one size
// (-1 when the sizes differ): fuzzy image comparison with a stated tolerance.
int maxChannelDiff(const QImage& a, const QImage& b);

// Reads a .npy file written by numpy or batchscope into float values.
bs::Tensor readNpyAsFloat(const QString& path);

// A picture of the tree below `root`, to compare before and after: each
// entry that `filters` selects (hidden and system ones too, links not
// followed), by path relative to `root`, with what `describe` says of it.
template <typename Describe>
auto mapTree(const QString& root, QDir::Filters filters, Describe describe) {
    std::map<QString, decltype(describe(QString()))> out;
    QDirIterator it(root, filters | QDir::Hidden | QDir::System | QDir::NoDotAndDotDot,
                    QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString p = it.next();
        out[QDir(root).relativeFilePath(p)] = describe(p);
    }
    return out;
}

// Runs `body`, the whole of a test function: an exception out of it fails
// the test with its message (QtTest itself would only say that one was thrown).
template <typename F>
void failOnException(F&& body) {
    try {
        body();
    } catch (const std::exception& e) {
        QFAIL(e.what());
    }
}

// Runs `f`, which must throw bs::Error with a one-line message naming `file`
// and containing `what` (case-insensitive).
template <typename F>
void expectError(F&& f, const QString& file, const char* what) {
    try {
        f();
        QFAIL(qPrintable("no error for " + file));
    } catch (const bs::Error& e) {
        const QString m = QString::fromStdString(e.what());
        QVERIFY2(m.contains(file), qPrintable(m));
        QVERIFY2(m.contains(what, Qt::CaseInsensitive), qPrintable(m + " (expected '" + what + "')"));
        QVERIFY2(!m.contains('\n'), qPrintable(m));
    }
}

}  // namespace bstest
