#include "testsupport.h"

#include <QBuffer>
#include <QFile>
#include <QImage>
#include <QImageWriter>
#include <QListWidget>
#include <QProcess>
#include <QSpinBox>
#include <QStyle>
#include <QStyleOptionSpinBox>
#include <QTreeWidget>
#include <QtTest>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "core/compare/compare.h"
#include "core/dataset/npy.h"
#include "ui/inspector/mainwindow.h"
#include "ui/model/session.h"
#include "ui/widgets/pipelinepanel.h"

namespace bstest {

QString sourceDir() { return QStringLiteral(BATCHSCOPE_SOURCE_DIR); }
QString cliPath() { return QStringLiteral(BATCHSCOPE_CLI); }

static ProcessResult run(const QString& program, const QStringList& args, int timeoutMs) {
    ProcessResult r;
    QProcess p;
    p.start(program, args);
    if (!p.waitForStarted(30000)) {
        r.exitCode = -2;
        r.err = p.errorString();
        return r;
    }
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        p.waitForFinished();
        r.exitCode = -3;
    } else {
        r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -4;
    }
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err += QString::fromUtf8(p.readAllStandardError());
    return r;
}

ProcessResult runCli(const QStringList& args, int timeoutMs) { return run(cliPath(), args, timeoutMs); }

QString pythonPath() {
    const QString fromEnv = qEnvironmentVariable("BATCHSCOPE_PYTHON");
    return fromEnv.isEmpty() ? QStringLiteral("/usr/bin/python3") : fromEnv;
}

ProcessResult runPython(const QStringList& args, int timeoutMs) {
    const QString python = pythonPath();
    if (!QFile::exists(python)) return {-2, {}, python + " missing"};
    return run(python, args, timeoutMs);
}

bool torchvisionAvailable() {
    static int cached = -1;
    if (cached < 0) {
        auto r = runPython({"-c", "import torch, torchvision, PIL"}, 120000);
        cached = r.exitCode == 0 ? 1 : 0;
    }
    return cached == 1;
}

void writePatternImage(const QString& path, int width, int height, int seed) {
    QImage img(width, height, QImage::Format_RGB888);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            img.setPixel(x, y, qRgb((x * 7 + seed * 31) & 255, (y * 5 + seed * 17) & 255,
                                    ((x ^ y) * 3 + seed) & 255));
    QVERIFY2(img.save(path), qPrintable("cannot write " + path));
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    QVERIFY2(f.open(QIODevice::WriteOnly), qPrintable("cannot write " + path));
    f.write(bytes);
}

void makeBigImageFolder(const QString& root, int total, int classes) {
    QDir(root).mkpath("a");
    for (int i = 0; i < 6; ++i) writePatternImage(QStringLiteral("%1/a/%2.png").arg(root).arg(i), 48, 40, i);
    for (int c = 0; c < classes; ++c) {
        const QByteArray cls = root.toUtf8() + "/c" + QByteArray::number(c);
        QDir().mkpath(QString::fromUtf8(cls));
        for (int i = 0; i < total / classes; ++i) {
            // Plain POSIX calls: QFile per file would triple the set-up time.
            const QByteArray p = cls + "/" + QByteArray::number(i) + ".png";
            const int fd = ::open(p.constData(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            QVERIFY2(fd >= 0, p.constData());
            ::close(fd);
        }
    }
}

bool waitIdle(bs::ui::MainWindow& w, int timeoutMs) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        if (w.session()->idle() && w.session()->batchView() && w.session()->sampleView()) {
            // One more round so queued continuations land.
            QCoreApplication::processEvents();
            if (w.session()->idle()) return true;
        }
        QTest::qWait(5);
    }
    return false;
}

bool openWithPipeline(bs::ui::MainWindow& w, const QString& path, const QString& pipelineJson) {
    w.show();
    w.openPath(path);
    return waitIdle(w) && w.pipelinePanel()->setText(pipelineJson.toStdString()) && waitIdle(w);
}

bool showAndOpen(bs::ui::MainWindow& w, const QString& path, QSize size) {
    w.resize(size);
    w.show();
    w.openPath(path);
    return waitIdle(w);
}

void clickSpinArrow(QAbstractSpinBox* sb, bool up) {
    QStyleOptionSpinBox opt;
    opt.initFrom(sb);
    opt.rect = sb->rect();
    opt.subControls = QStyle::SC_SpinBoxUp | QStyle::SC_SpinBoxDown | QStyle::SC_SpinBoxFrame |
                      QStyle::SC_SpinBoxEditField;
    opt.buttonSymbols = sb->buttonSymbols();
    opt.frame = sb->hasFrame();
    opt.stepEnabled = QAbstractSpinBox::StepUpEnabled | QAbstractSpinBox::StepDownEnabled;
    const QRect r = sb->style()->subControlRect(
        QStyle::CC_SpinBox, &opt, up ? QStyle::SC_SpinBoxUp : QStyle::SC_SpinBoxDown, sb);
    QTest::mouseClick(sb, Qt::LeftButton, {}, r.center());
}

void clickListRow(QListWidget* list, int row) {
    list->scrollToItem(list->item(row));
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {},
                      list->visualItemRect(list->item(row)).center());
}

void clickTreeItem(QTreeWidget* tree, QTreeWidgetItem* item) {
    tree->scrollToItem(item);
    QTest::mouseClick(tree->viewport(), Qt::LeftButton, {}, tree->visualItemRect(item).center());
}

QTreeWidgetItem* topFinding(const bs::ui::MainWindow& w, const QString& kind, int* count) {
    QTreeWidgetItem* found = nullptr;
    int n = 0;
    for (int i = 0; i < w.anomalies()->topLevelItemCount(); ++i)
        if (w.anomalies()->topLevelItem(i)->text(1) == kind) {
            if (!found) found = w.anomalies()->topLevelItem(i);
            ++n;
        }
    if (count) *count = n;
    return found;
}

QByteArray slowManyScanJpeg(int width, int height, int scans) {
    QImage img(width, height, QImage::Format_RGB888);
    img.fill(QColor(90, 140, 200));
    QBuffer buf;
    buf.open(QIODevice::WriteOnly);
    QImageWriter writer(&buf, "jpeg");
    writer.setProgressiveScanWrite(true);
    if (!writer.write(img)) return {};
    const QByteArray jpeg = buf.data();
    const int sos = jpeg.indexOf(QByteArray("\xFF\xDA", 2));
    if (sos < 0) return {};
    const QByteArray body = jpeg.mid(sos, jpeg.size() - 2 - sos);  // every scan, no EOI
    const int perCopy = int(body.count(QByteArray("\xFF\xDA", 2)));
    QByteArray out = jpeg.left(sos);
    for (int have = 0; have < scans; have += perCopy) out += body;
    return out + QByteArray("\xFF\xD9", 2);
}

Diff compare(const float* a, const float* b, size_t n, double tolerance) {
    Diff d;
    d.count = n;
    size_t over = 0;
    for (size_t i = 0; i < n; ++i) {
        const double e = std::fabs(double(a[i]) - double(b[i]));
        // A NaN difference sticks (e > NaN is false): every later
        // `maxAbs <= tol` check then fails, whatever the later elements are.
        if (std::isnan(e) || e > d.maxAbs) d.maxAbs = e;
        if (!(e <= tolerance)) ++over;
    }
    d.fractionOver = n ? double(over) / double(n) : 0.0;
    return d;
}

const bs::Finding* findKind(const std::vector<bs::Finding>& findings, const std::string& kind) {
    for (const auto& f : findings)
        if (f.kind == kind) return &f;
    return nullptr;
}

QString describeFindings(const std::vector<bs::Finding>& findings) {
    QString s;
    for (const auto& f : findings)
        s += QString::fromStdString(bs::severityName(f.severity) + " " + f.kind + " [" + f.stage +
                                    "] " + f.message + "\n");
    return s;
}

const bs::Finding* findKind(const bs::CompareReport& report, const std::string& kind) {
    return findKind(report.findings, kind);
}

QString describeFindings(const bs::CompareReport& report) {
    return describeFindings(report.findings);
}

int countColour(const QImage& img, QColor c) {
    int n = 0;
    for (int y = 0; y < img.height(); ++y)
        for (int x = 0; x < img.width(); ++x)
            if (img.pixelColor(x, y) == c) ++n;
    return n;
}

int maxChannelDiff(const QImage& a, const QImage& b) {
    if (a.size() != b.size()) return -1;
    int worst = 0;
    for (int y = 0; y < a.height(); ++y)
        for (int x = 0; x < a.width(); ++x) {
            const QColor p = a.pixelColor(x, y), q = b.pixelColor(x, y);
            worst = std::max({worst, std::abs(p.red() - q.red()), std::abs(p.green() - q.green()),
                              std::abs(p.blue() - q.blue())});
        }
    return worst;
}

bs::Tensor readNpyAsFloat(const QString& path) {
    bs::NpyArray a = bs::readNpy(path.toStdString());
    bs::Tensor t;
    t.shape = a.shape;
    if (a.isUint8()) {
        t.values.assign(a.bytes.begin(), a.bytes.end());
        t.dtype = bs::DType::UInt8;
    } else {
        t.values = a.values;
    }
    return t;
}

nlohmann::json readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return nlohmann::json();
    return nlohmann::json::parse(f.readAll().toStdString(), nullptr, false);
}

}  // namespace bstest
