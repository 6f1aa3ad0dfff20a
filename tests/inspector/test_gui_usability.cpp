// The inspector driven like a user drives it (issue 13): mouse clicks on the
// spin box arrows, the stage strip, the grid and the anomalies table; keys
// typed into spin boxes, line edits and dialogs. One test per item of the
// issue; each failed before its fix.
#include <QAbstractSpinBox>
#include <QCheckBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QPlainTextEdit>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTimer>
#include <QToolBar>
#include <QTreeWidget>
#include <QtTest>

#include <cmath>

#include "core/pipeline/pipeline.h"
#include "support/testsupport.h"
#include "ui/inspector/mainwindow.h"
#include "ui/widgets/dialogfolders.h"
#include "ui/model/session.h"
#include "ui/render/screenshot.h"
#include "ui/widgets/histogramwidget.h"
#include "ui/widgets/imageview.h"
#include "ui/widgets/pipelinepanel.h"
#include "ui/widgets/stagestrip.h"

using namespace bs::ui;
using bstest::clickListRow;
using bstest::clickSpinArrow;
using bstest::clickTreeItem;
using bstest::topFinding;
using bstest::waitIdle;

namespace {

void makeFolder(const QString& root, int perClass = 6, int w = 32, int h = 24) {
    for (const char* cls : {"cat", "dog"}) {
        QDir(root).mkpath(cls);
        for (int i = 0; i < perClass; ++i)
            bstest::writePatternImage(QStringLiteral("%1/%2/%3.png").arg(root, cls).arg(i), w, h,
                                      i + (cls[0] == 'd' ? 50 : 0));
    }
}

QString demoPath() {
    return bstest::sourceDir() + "/resources/demo";
}

// Runs `inspect` on the next modal dialog once it is open.
void onNextModal(std::function<void(QWidget*)> inspect) {
    auto* timer = new QTimer;
    timer->setInterval(20);
    QObject::connect(timer, &QTimer::timeout, timer, [timer, inspect] {
        QWidget* m = QApplication::activeModalWidget();
        if (!m) return;
        timer->stop();
        timer->deleteLater();
        QPointer<QWidget> modal(m);
        inspect(m);
        // A failed QVERIFY inside `inspect` returns early: close the dialog
        // so the test fails instead of waiting for it forever.
        if (modal && modal->isVisible())
            if (auto* d = qobject_cast<QDialog*>(modal.data())) d->reject();
    });
    timer->start();
}

// Luminance standard deviation of an image: a collapsed sample is flat.
double lumaStdDev(const QImage& img) {
    double s = 0, s2 = 0;
    const double n = double(img.width()) * img.height();
    for (int y = 0; y < img.height(); ++y)
        for (int x = 0; x < img.width(); ++x) {
            const double l = qGray(img.pixel(x, y));
            s += l, s2 += l * l;
        }
    return n > 0 ? std::sqrt(std::max(0.0, s2 / n - (s / n) * (s / n))) : 0;
}

int gridRowOfPath(const MainWindow& w, const QString& suffix) {
    for (int i = 0; i < w.grid()->count(); ++i)
        if (w.grid()->item(i)->toolTip().section('\n', 0, 0).endsWith(suffix)) return i;
    return -1;
}

void clickTile(MainWindow& w, int row) {
    QListWidget* g = w.grid();
    g->scrollToItem(g->item(row));
    QTest::mouseClick(g->viewport(), Qt::LeftButton, {}, g->visualItemRect(g->item(row)).center());
}

}  // namespace

class TestGuiUsability : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void editParameterKeepsEditorAlive();
    void everyEditorOfEveryStageSurvivesItsEdit();
    void collapsedSampleLooksCollapsed();
    void stripAndListSelectTheStageShown();
    void pipelineRememberedPerDatasetAndAnnounced();
    void sampleIndexFollowsSelection();
    void newDatasetClearsStaleState();
    void pipelineMenuPastesFromTorchvision();
    void navigationIconsAreLight();
    void dialogsStartInLastFolderElseHome();
    void anomaliesOneRowPerGroup();
    void screenshotKeepsLastLineAndOverlayState();
    void brokenPipelineJsonIsOneHumanLine();
    void layoutAt1280x800();
};

// Item 1: Return in the size box, and one click on its up arrow.
void TestGuiUsability::editParameterKeepsEditorAlive() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/data");
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, dir.path() + "/data",
                                     R"([{"op":"Resize","size":20},{"op":"ToTensor"}])"));
    clickListRow(w.pipelinePanel()->list(), 0);
    QPointer<QSpinBox> size = w.pipelinePanel()->findChild<QSpinBox*>("param_size");
    QVERIFY(size);
    QCOMPARE(size->value(), 20);
    // Keyboard: select the text, type 16, Return.
    QTest::mouseClick(size, Qt::LeftButton, {}, QPoint(8, size->height() / 2));
    QTest::keyClick(size, Qt::Key_A, Qt::ControlModifier);
    QTest::keyClicks(size, "16");
    QTest::keyClick(size, Qt::Key_Return);
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    QVERIFY2(size, "the size box was destroyed by its own edit");
    QVERIFY(waitIdle(w));
    QCOMPARE(w.tensorView()->image().height(), 16);
    // Mouse: one click on the up arrow.
    QVERIFY(size);
    clickSpinArrow(size, true);
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    QVERIFY2(size, "the size box was destroyed by its own arrow click");
    QCOMPARE(size->value(), 17);
    QVERIFY(waitIdle(w));
    QCOMPARE(w.tensorView()->image().height(), 17);
    QVERIFY(QString::fromStdString(w.pipelinePanel()->pipelineJson()).contains("17"));
}

// Item 1, audited for every stage type: each editor the form offers is
// edited by a real event and must outlive its own signal.
void TestGuiUsability::everyEditorOfEveryStageSurvivesItsEdit() {
    for (const std::string& op : bs::Pipeline::supportedOps()) {
        PipelinePanel panel;
        panel.resize(360, 600);
        panel.show();
        QSignalSpy changed(&panel, &PipelinePanel::pipelineChanged);
        panel.addStage(QString::fromStdString(op));
        QCOMPARE(panel.stageCount(), 1);
        panel.list()->setCurrentRow(0);
        // The list's own check box (enable/disable), by keyboard.
        QListWidgetItem* item = panel.list()->item(0);
        panel.list()->setFocus();
        QTest::keyClick(panel.list(), Qt::Key_Space);
        QCOMPARE(panel.list()->item(0), item);
        QCOMPARE(item->checkState(), Qt::Unchecked);
        QTest::keyClick(panel.list(), Qt::Key_Space);
        QCOMPARE(item->checkState(), Qt::Checked);
        QList<QPointer<QWidget>> editors;
        for (QWidget* e : panel.findChildren<QWidget*>())
            if (e->objectName().startsWith("param_")) editors << e;
        for (const QPointer<QWidget>& e : editors) {
            QVERIFY(e);
            const QString what = QString::fromStdString(op) + " " + e->objectName();
            if (auto* sb = qobject_cast<QAbstractSpinBox*>(e.data())) {
                clickSpinArrow(sb, true);
            } else if (auto* cb = qobject_cast<QCheckBox*>(e.data())) {
                QTest::mouseClick(cb, Qt::LeftButton, {}, QPoint(6, cb->height() / 2));
            } else if (auto* le = qobject_cast<QLineEdit*>(e.data())) {
                le->setFocus();
                QTest::keyClick(le, Qt::Key_End);
                QTest::keyClick(le, Qt::Key_Return);
            }
            QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
            QVERIFY2(e, qPrintable(what + " was destroyed by its own edit"));
        }
    }
}

// Item 2: the demo's collapsed sample after the divide-by-sum Lambda.
void TestGuiUsability::collapsedSampleLooksCollapsed() {
    QTemporaryDir dir;
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::showAndOpen(w, demoPath(), {1400, 900}));
    const int row = gridRowOfPath(w, "objects/cat.jpg");
    QVERIFY(row >= 0);
    clickTile(w, row);
    QVERIFY(waitIdle(w));
    // Final stage (Normalize): its range follows from what it expects as
    // input, [0, 1]; the sliver it got renders flat, not as a normal cat.
    QVERIFY2(w.readouts().rangeText().contains("Normalize"), qPrintable(w.readouts().rangeText()));
    QVERIFY2(!w.readouts().rangeText().contains("min/max"), qPrintable(w.readouts().rangeText()));
    const double flat = lumaStdDev(w.tensorView()->image());
    QVERIFY2(flat < 2.0, qPrintable(QString::number(flat)));
    QVERIFY(lumaStdDev(w.rawView()->image()) > 20);  // the raw cat is not flat
    // The overlay marks it (O key).
    QTest::keyClick(&w, Qt::Key_O);
    QVERIFY(waitIdle(w));
    QVERIFY(w.session()->sampleView()->counts.collapsed);
    QVERIFY(bstest::countColour(w.tensorView()->image(), OverlayColors().collapsed) > 100);
    // The Lambda's own output, clicked in the strip: [0, 1] is what
    // Normalize expects, and the range says so.
    QTest::mouseClick(w.stageStrip()->cell(4), Qt::LeftButton);
    QVERIFY(waitIdle(w));
    QCOMPARE(w.shownStage(), 4);
    QVERIFY2(w.readouts().rangeText().contains("stage 5 Normalize expects"),
             qPrintable(w.readouts().rangeText()));
    QVERIFY2(w.readouts().rangeText().contains("[0, 1]"), qPrintable(w.readouts().rangeText()));
    QVERIFY(w.session()->sampleView()->counts.collapsed);
    // Fixed range, absolute values: the user's black/white points.
    w.setRangeMode(DisplayRange::Mode::Manual, 0, 1);
    QVERIFY(waitIdle(w));
    QVERIFY2(w.readouts().rangeText().contains("fixed range"),
             qPrintable(w.readouts().rangeText()));
}

// Item 3: the strip and the list select the stage shown; the culprit of a
// finding is marked apart.
void TestGuiUsability::stripAndListSelectTheStageShown() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/data");
    MainWindow w(dir.path() + "/settings.ini");
    w.resize(1400, 900);
    QVERIFY(bstest::openWithPipeline(
        w, dir.path() + "/data",
        R"([{"op":"Resize","size":20},{"op":"CenterCrop","size":12},{"op":"Pad","padding":2},{"op":"ToTensor"}])"));
    QCOMPARE(w.stageStrip()->count(), 5);
    QCOMPARE(w.tensorView()->image().size(), QSize(16, 16));
    QTest::mouseClick(w.stageStrip()->cell(2), Qt::LeftButton);  // after CenterCrop
    QVERIFY(waitIdle(w));
    QCOMPARE(w.shownStage(), 2);
    QCOMPARE(w.tensorView()->image().size(), QSize(12, 12));
    QCOMPARE(w.pipelinePanel()->list()->currentRow(), 1);
    QCOMPARE(w.stageStrip()->shownStage(), 2);
    QTest::mouseClick(w.stageStrip()->cell(0), Qt::LeftButton);  // decoded input
    QVERIFY(waitIdle(w));
    QCOMPARE(w.tensorView()->image().size(), QSize(32, 24));
    clickListRow(w.pipelinePanel()->list(), 0);  // Resize, from the list
    QVERIFY(waitIdle(w));
    QCOMPARE(w.shownStage(), 1);
    QCOMPARE(w.tensorView()->image().height(), 20);
    QCOMPARE(w.stageStrip()->shownStage(), 1);

    // The demo: the collapsed_range finding blames 4:Lambda.
    QTemporaryDir dir2;
    MainWindow d(dir2.path() + "/settings.ini");
    QVERIFY(bstest::showAndOpen(d, demoPath(), {1400, 900}));
    QTreeWidgetItem* f = topFinding(d, "collapsed_range");
    QVERIFY(f);
    clickTreeItem(d.anomalies(), f);
    QVERIFY(waitIdle(d));
    QCOMPARE(d.shownStage(), 4);
    QCOMPARE(d.pipelinePanel()->culpritStage(), 3);
    QCOMPARE(d.stageStrip()->culpritStage(), 4);
    QVERIFY(d.pipelinePanel()->list()->item(3)->text().startsWith(QStringLiteral("⚠")));
    // Another stage shown: the selection moves, the culprit mark stays.
    QTest::mouseClick(d.stageStrip()->cell(2), Qt::LeftButton);
    QVERIFY(waitIdle(d));
    QCOMPARE(d.pipelinePanel()->list()->currentRow(), 1);
    QVERIFY(d.pipelinePanel()->list()->item(3)->text().startsWith(QStringLiteral("⚠")));
    QVERIFY(!d.pipelinePanel()->list()->item(1)->text().startsWith(QStringLiteral("⚠")));
    QCOMPARE(d.stageStrip()->culpritStage(), 4);
}

// Item 4: per dataset path, a file beside the dataset wins, every automatic
// choice is announced.
void TestGuiUsability::pipelineRememberedPerDatasetAndAnnounced() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/a", 2);
    makeFolder(dir.path() + "/b", 2);
    makeFolder(dir.path() + "/c", 2);
    bstest::writeFile(dir.path() + "/c-pipeline.json", R"([{"op":"Resize","size":9},{"op":"ToTensor"}])");
    const QString settings = dir.path() + "/settings.ini";
    {
        MainWindow w(settings);
        w.show();
        w.openPath(dir.path() + "/a");
        QVERIFY(waitIdle(w));
        QVERIFY2(w.pipelinePanel()->origin().contains("preset"), qPrintable(w.pipelinePanel()->origin()));
        QVERIFY2(w.statusBar()->currentMessage().contains("preset"),
                 qPrintable(w.statusBar()->currentMessage()));
        QVERIFY(w.pipelinePanel()->setText(R"([{"op":"Resize","size":11},{"op":"ToTensor"}])"));
        QVERIFY(waitIdle(w));
        w.openPath(dir.path() + "/b");  // a different dataset: not a's pipeline
        QVERIFY(waitIdle(w));
        QVERIFY(!QString::fromStdString(w.pipelinePanel()->pipelineJson()).contains("11"));
        QVERIFY(w.pipelinePanel()->origin().contains("preset"));
        w.close();
    }
    MainWindow w(settings);  // a new launch
    w.show();
    w.openPath(dir.path() + "/a");
    QVERIFY(waitIdle(w));
    QVERIFY(QString::fromStdString(w.pipelinePanel()->pipelineJson()).contains("11"));
    QVERIFY2(w.pipelinePanel()->origin().contains("last used"), qPrintable(w.pipelinePanel()->origin()));
    // A pipeline file beside the dataset wins over a remembered one.
    w.openPath(dir.path() + "/c");
    QVERIFY(waitIdle(w));
    QVERIFY(w.pipelinePanel()->setText(R"([{"op":"ToTensor"}])"));
    QVERIFY(waitIdle(w));
    w.openPath(dir.path() + "/a");
    QVERIFY(waitIdle(w));
    w.openPath(dir.path() + "/c");
    QVERIFY(waitIdle(w));
    QVERIFY(QString::fromStdString(w.pipelinePanel()->pipelineJson()).contains("9"));
    QVERIFY2(w.pipelinePanel()->origin().contains("c-pipeline.json"),
             qPrintable(w.pipelinePanel()->origin()));
}

// Item 5.
void TestGuiUsability::sampleIndexFollowsSelection() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/data");
    MainWindow w(dir.path() + "/settings.ini");
    w.resize(1400, 900);
    QVERIFY(bstest::openWithPipeline(w, dir.path() + "/data", R"([{"op":"ToTensor"}])"));
    clickTile(w, 3);
    QVERIFY(waitIdle(w));
    QCOMPARE(w.session()->sampleView()->index, size_t(3));
    QCOMPARE(w.sampleIndexBox()->value(), 3);
    clickTile(w, 7);
    QVERIFY(waitIdle(w));
    QCOMPARE(w.sampleIndexBox()->value(), 7);
}

// Item 6.
void TestGuiUsability::newDatasetClearsStaleState() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/a", 3);
    makeFolder(dir.path() + "/b", 3);
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, dir.path() + "/a", R"([{"op":"ToTensor"}])"));
    QSignalSpy done(w.session(), &Session::auditFinished);
    QTest::mouseClick(w.findChild<QPushButton*>("auditButton"), Qt::LeftButton);
    QVERIFY(done.wait(60000));
    auto* progress = w.findChild<QProgressBar*>("auditProgress");
    QVERIFY(progress->format().contains("samples in"));
    w.pipelinePanel()->showError("stale pipeline error");
    w.openPath(dir.path() + "/missing");
    QTRY_VERIFY(!w.readouts().errorText().isEmpty());
    w.openPath(dir.path() + "/b");
    QVERIFY(waitIdle(w));
    QVERIFY2(w.readouts().errorText().isEmpty(), qPrintable(w.readouts().errorText()));
    QVERIFY2(!progress->format().contains("samples in"), qPrintable(progress->format()));
    QVERIFY(!w.pipelinePanel()->findChild<QLabel*>("pipelineError")->isVisible());
}

// Item 7.
void TestGuiUsability::pipelineMenuPastesFromTorchvision() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/data", 2);
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, dir.path() + "/data", R"([{"op":"ToTensor"}])"));
    QMenu* menu = w.menuBar()->findChild<QMenu*>("pipelineMenu");
    QVERIFY(menu);
    QStringList names;
    for (QAction* a : menu->actions()) names << a->text() + " " + a->shortcut().toString();
    const QString all = names.join(" | ");
    QVERIFY2(all.contains("Paste from &torchvision… Ctrl+Shift+V"), qPrintable(all));
    QVERIFY2(all.contains("Ctrl+L") && all.contains("Ctrl+S") && all.contains("Presets"),
             qPrintable(all));
    bool typed = false;
    onNextModal([&](QWidget* m) {
        auto* edit = m->findChild<QPlainTextEdit*>();
        QVERIFY(edit);
        for (const char* line : {"Compose(", "    CenterCrop(size=(8, 8))", "    ToTensor()", ")"}) {
            QTest::keyClicks(edit, line);
            QTest::keyClick(edit, Qt::Key_Return);
        }
        auto* box = m->findChild<QDialogButtonBox*>();
        QTest::mouseClick(box->button(QDialogButtonBox::Ok), Qt::LeftButton);
        typed = true;
    });
    QTest::keyClick(&w, Qt::Key_V, Qt::ControlModifier | Qt::ShiftModifier);
    QVERIFY(typed);
    QCOMPARE(w.pipelinePanel()->stageCount(), 2);
    QVERIFY(w.pipelinePanel()->origin().contains("torchvision"));
    QVERIFY(waitIdle(w));
    QCOMPARE(w.tensorView()->image().size(), QSize(8, 8));
}

// Item 8: light glyphs, readable on the dark theme.
void TestGuiUsability::navigationIconsAreLight() {
    QTemporaryDir dir;
    MainWindow w(dir.path() + "/settings.ini");
    auto* nav = w.findChild<QToolBar*>("navigation");
    QVERIFY(nav);
    int checked = 0;
    for (QAction* a : nav->actions()) {
        if (a->icon().isNull()) continue;
        const QImage img = a->icon().pixmap(24, 24, QIcon::Normal).toImage();
        double sum = 0;
        int n = 0;
        for (int y = 0; y < img.height(); ++y)
            for (int x = 0; x < img.width(); ++x)
                if (qAlpha(img.pixel(x, y)) > 200) sum += qGray(img.pixel(x, y)), ++n;
        QVERIFY2(n > 20, qPrintable(a->text()));
        QVERIFY2(sum / n > 180, qPrintable(a->text() + QString(": mean grey %1").arg(sum / n)));
        ++checked;
    }
    QCOMPARE(checked, 4);
}

// Item 9.
void TestGuiUsability::dialogsStartInLastFolderElseHome() {
    QTemporaryDir dir;
    QDir(dir.path()).mkpath("home");
    QDir(dir.path()).mkpath("exports");
    const QByteArray oldHome = qgetenv("HOME");
    qputenv("HOME", QFile::encodeName(dir.path() + "/home"));
    makeFolder(dir.path() + "/data", 2);
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::openWithPipeline(w, dir.path() + "/data", R"([{"op":"ToTensor"}])"));
    QString started;
    const QString target = dir.path() + "/exports/shot.png";
    onNextModal([&](QWidget* m) {
        auto* fd = qobject_cast<QFileDialog*>(m);
        QVERIFY(fd);
        started = fd->directory().absolutePath();
        // The name box as a user fills it (typing would open its completer).
        auto* name = fd->findChild<QLineEdit*>("fileNameEdit");
        QVERIFY(name);
        name->setText(target);
        QMetaObject::invokeMethod(fd, "accept");  // accept() is protected
    });
    QTest::keyClick(&w, Qt::Key_E, Qt::ControlModifier);
    QCOMPARE(started, QDir(dir.path() + "/home").absolutePath());
    QVERIFY(QFile::exists(target));
    // The closed dialog leaves no active window; shortcuts need one.
    w.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&w));
    started.clear();
    onNextModal([&](QWidget* m) {
        auto* fd = qobject_cast<QFileDialog*>(m);
        started = fd->directory().absolutePath();
        fd->reject();
    });
    QTest::keyClick(&w, Qt::Key_E, Qt::ControlModifier);
    QCOMPARE(started, QDir(dir.path() + "/exports").absolutePath());
    qputenv("HOME", oldHome);
}

// Item 10: grouped findings.
void TestGuiUsability::anomaliesOneRowPerGroup() {
    QTemporaryDir dir;
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::showAndOpen(w, demoPath(), {1400, 900}));
    int rows = 0;
    QTreeWidgetItem* g = topFinding(w, "collapsed_range", &rows);
    QVERIFY(g);
    QCOMPARE(rows, 1);
    QVERIFY2(g->childCount() > 1, qPrintable(QString::number(g->childCount())));
    QVERIFY(g->text(3).contains("samples"));
    topFinding(w, "mode_conversion", &rows);
    QCOMPARE(rows, 1);
    // Unfolds by keyboard; a sample row jumps to that sample.
    w.anomalies()->setFocus();
    w.anomalies()->setCurrentItem(g);
    QTest::keyClick(w.anomalies(), Qt::Key_Right);
    QVERIFY(g->isExpanded());
    QTreeWidgetItem* child = g->child(1);
    // Read before the click: jumping to another batch may rebuild the tree.
    const qlonglong childIndex = child->text(3).toLongLong();
    clickTreeItem(w.anomalies(), child);
    QVERIFY(waitIdle(w));
    QCOMPARE(qlonglong(w.session()->sampleView()->index), childIndex);
}

// Item 10: the Ctrl+E picture keeps its last line and says the overlay state.
void TestGuiUsability::screenshotKeepsLastLineAndOverlayState() {
    ScreenshotInfo shortInfo;
    shortInfo.range = "Display [0, 1]";
    ScreenshotInfo longInfo = shortInfo;
    longInfo.message = QString("a long finding message ").repeated(40);
    QImage raw(20, 20, QImage::Format_RGB888), tensor(20, 20, QImage::Format_RGB888);
    raw.fill(Qt::gray);
    tensor.fill(Qt::gray);
    const QImage a = composeScreenshot(raw, tensor, {}, {}, std::nullopt, shortInfo);
    const QImage b = composeScreenshot(raw, tensor, {}, {}, std::nullopt, longInfo);
    QVERIFY2(b.height() > a.height() + 40, qPrintable(QString("%1 vs %2").arg(b.height()).arg(a.height())));
    // The last caption line ("Display [0, 1]") is drawn above the legend:
    // text pixels exist in the band just above the legend row.
    const int legendTop = b.height() - 16 - 22;
    int textPixels = 0;
    for (int y = legendTop - 18; y < legendTop; ++y)
        for (int x = 16; x < 200; ++x)
            if (qGray(b.pixel(x, y)) > 120) ++textPixels;
    QVERIFY2(textPixels > 10, qPrintable(QString::number(textPixels)));

    // Through the window: the export always carries the overlay (and its
    // title says "range overlay on"), whatever the on-screen toggle.
    QTemporaryDir dir;
    MainWindow w(dir.path() + "/settings.ini");
    QVERIFY(bstest::showAndOpen(w, demoPath(), {1400, 900}));
    clickTile(w, gridRowOfPath(w, "objects/cat.jpg"));
    QVERIFY(waitIdle(w));
    w.setOverlay(false);
    QVERIFY(waitIdle(w));
    // The transformed panel of the picture (right of the raw one).
    auto tensorPanel = [&] { return w.composeCurrentScreenshot().copy(16 + 384 + 16, 40, 384, 384); };
    const QColor stripes = OverlayColors().collapsed;
    QVERIFY(bstest::countColour(tensorPanel(), stripes) > 100);
    QCOMPARE(bstest::countColour(w.tensorView()->image(), stripes), 0);
    w.setOverlay(true);
    QVERIFY(waitIdle(w));
    QVERIFY(bstest::countColour(tensorPanel(), stripes) > 100);
}

// Item 10: a broken pipeline file.
void TestGuiUsability::brokenPipelineJsonIsOneHumanLine() {
    QTemporaryDir dir;
    const QString path = dir.path() + "/broken.json";
    bstest::writeFile(path, "[{\"op\": \"Resize\", size: 3}]\n");
    PipelinePanel panel;
    panel.show();
    QVERIFY(!panel.loadPipelineFile(path));
    const QString m = panel.findChild<QLabel*>("pipelineError")->text();
    QVERIFY2(m.contains("broken.json"), qPrintable(m));
    QVERIFY2(m.contains("not valid JSON at line 1"), qPrintable(m));
    QVERIFY2(!m.contains("json.exception"), qPrintable(m));
    QVERIFY2(!m.contains('\n'), qPrintable(m));
}

// Item 10: at 1280x800 stage names are whole, two thumbnail rows fit, and
// histogram axis labels do not overlap.
void TestGuiUsability::layoutAt1280x800() {
    QTemporaryDir dir;
    makeFolder(dir.path() + "/data", 12);
    MainWindow w(dir.path() + "/settings.ini");
    w.resize(1280, 800);
    QVERIFY(bstest::openWithPipeline(
        w, dir.path() + "/data",
        R"([{"op":"Resize","size":20,"interpolation":"bilinear","antialias":true},{"op":"CenterCrop","size":16},{"op":"ToTensor"},{"op":"Normalize","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}])"));
    QTest::qWait(50);
    QListWidget* list = w.pipelinePanel()->list();
    const QFontMetrics fm(list->font());
    for (int i = 0; i < list->count(); ++i) {
        const QListWidgetItem* it = list->item(i);
        const QStringList lines = it->text().split('\n');
        const QRect r = list->visualItemRect(it);
        QVERIFY2(r.height() >= lines.size() * fm.lineSpacing(),
                 qPrintable(it->text() + QString(": %1 px tall").arg(r.height())));
        for (const QString& line : lines)
            QVERIFY2(fm.horizontalAdvance(line) + 28 <= list->viewport()->width(),
                     qPrintable(line + QString(" in %1 px").arg(list->viewport()->width())));
    }
    const int rowH = w.grid()->gridSize().height();
    QVERIFY2(w.grid()->viewport()->height() >= 2 * rowH,
             qPrintable(QString("grid %1 px, row %2 px").arg(w.grid()->viewport()->height()).arg(rowH)));
    auto check = [](HistogramWidget* h) {
        const auto labels = h->axisLabels();
        QVERIFY(labels.size() >= 2);
        for (size_t i = 0; i < labels.size(); ++i) {
            QVERIFY2(h->rect().contains(labels[i].rect.toAlignedRect().adjusted(1, 1, -1, -1)),
                     qPrintable(labels[i].text));
            for (size_t j = i + 1; j < labels.size(); ++j)
                QVERIFY2(!labels[i].rect.intersects(labels[j].rect),
                         qPrintable(labels[i].text + " / " + labels[j].text));
        }
    };
    for (HistogramWidget* h : {w.rawHistogram(), w.tensorHistogram(), w.batchHistogram()}) {
        check(h);
        if (QTest::currentTestFailed()) return;
        // And as narrow as the widget may get.
        h->resize(h->minimumSizeHint().width(), h->height());
        check(h);
        if (QTest::currentTestFailed()) return;
    }
}

QTEST_MAIN(TestGuiUsability)
#include "test_gui_usability.moc"
