// A real window on an X server of its own: starts Xvfb (1280x800), runs the
// inspector on the xcb platform with the dark theme and walks it as a user
// would: open the demo, step, click a finding, edit a parameter by keyboard
// and by arrow, click a stage, export. After every step the window is
// captured from the X server with ImageMagick's `import` into the build
// directory's artifacts/ folder; the last picture (1600x1000, the demo's
// collapsed sample with the overlay) is the README's screenshot.
#include <QApplication>
#include <QCheckBox>
#include <QDir>
#include <QFileDialog>
#include <QLineEdit>
#include <QListWidget>
#include <QProcess>
#include <QSpinBox>
#include <QTimer>
#include <QToolBar>
#include <QTreeWidget>
#include <QtTest>

#include <cstdio>
#include <cstdlib>

#include "support/testsupport.h"
#include "ui/inspector/gui_main.h"
#include "ui/inspector/mainwindow.h"
#include "ui/model/session.h"
#include "ui/widgets/imageview.h"
#include "ui/widgets/pipelinepanel.h"
#include "ui/widgets/stagestrip.h"

using namespace bs::ui;

namespace {

QString artifacts() {
    return QStringLiteral(GUI_WALK_ARTIFACTS);
}

// Captures the X screen; falls back to grabbing the window when `import`
// is missing (the walk still checks the window, the picture is Qt's own).
bool capture(QWidget& w, const QString& name) {
    QCoreApplication::processEvents();
    QTest::qWait(150);
    const QString out = artifacts() + "/" + name + ".png";
    const QString import = QStringLiteral(GUI_WALK_IMPORT);
    if (!import.isEmpty() && !import.endsWith("NOTFOUND")) {
        QProcess p;
        p.start(import, {"-window", QString::number(w.window()->winId()), out});
        // The event loop keeps running so the window can answer the X server.
        while (!p.waitForFinished(20)) QCoreApplication::processEvents();
        if (p.exitCode() == 0 && QFile::exists(out)) return true;
    }
    return w.grab().save(out);
}

// Types `text` over what `box` holds and confirms it with Return, as a user
// does in a spin box whose value applies on Return.
void typeAndReturn(QWidget* box, const char* text) {
    box->setFocus();
    QTest::keyClick(box, Qt::Key_A, Qt::ControlModifier);
    QTest::keyClicks(box, text);
    QTest::keyClick(box, Qt::Key_Return);
}

}  // namespace

class GuiWalk : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void walkTheDemo();
};

void GuiWalk::walkTheDemo() {
    QVERIFY(QGuiApplication::platformName() == "xcb");
    QDir(artifacts()).removeRecursively();
    QVERIFY(QDir().mkpath(artifacts()));
    QTemporaryDir dir;
    MainWindow w(dir.path() + "/settings.ini");
    w.resize(1280, 800);
    w.move(0, 0);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    // Click into the window first: no window manager gives it the focus,
    // and the window's shortcuts (O, Ctrl+E) need it active.
    QTest::mouseClick(&w, Qt::LeftButton, {}, QPoint(w.width() / 2, 5));
    w.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&w));
    w.openPath(bstest::sourceDir() + "/resources/demo");
    QVERIFY(bstest::waitIdle(w));
    QVERIFY(w.pipelinePanel()->origin().contains("demo-pipeline.json"));
    QVERIFY(capture(w, "01-open-demo"));

    // Step: batches of 4 (typed into the loader's box), then Right.
    QSpinBox* batchSize = nullptr;
    for (auto* s : w.findChildren<QSpinBox*>())
        if (s->maximum() == 4096) batchSize = s;
    QVERIFY(batchSize);
    typeAndReturn(batchSize, "4");
    QVERIFY(bstest::waitIdle(w));
    // The toolbar's Next button, clicked.
    QAction* next = nullptr;
    for (QAction* a : w.findChildren<QAction*>())
        if (a->text() == "Next") next = a;
    QVERIFY(next);
    auto* nav = w.findChild<QToolBar*>("navigation");
    QTest::mouseClick(nav->widgetForAction(next), Qt::LeftButton);
    QVERIFY(bstest::waitIdle(w));
    QCOMPARE(w.session()->currentBatch(), size_t(1));
    QVERIFY(capture(w, "02-step"));

    // Click the collapsed_range finding: its sample, the Lambda stage.
    QTreeWidgetItem* finding = bstest::topFinding(w, "collapsed_range");
    QVERIFY(finding);
    bstest::clickTreeItem(w.anomalies(), finding);
    QVERIFY(bstest::waitIdle(w));
    QCOMPARE(w.shownStage(), 4);
    QCheckBox* overlay = nullptr;
    for (auto* c : w.findChildren<QCheckBox*>())
        if (c->text() == "Range overlay") overlay = c;
    QVERIFY(overlay);
    QVERIFY(!overlay->isChecked());
    QTest::keyClick(&w, Qt::Key_O);  // range overlay on
    QVERIFY(bstest::waitIdle(w));
    QVERIFY(overlay->isChecked());
    QVERIFY(w.session()->sampleView()->counts.collapsed);
    QVERIFY(capture(w, "03-finding-collapsed"));

    // Edit Resize's size by keyboard, then by the up arrow.
    QListWidget* list = w.pipelinePanel()->list();
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {},
                      list->visualItemRect(list->item(0)).center());
    QSpinBox* size = w.pipelinePanel()->findChild<QSpinBox*>("param_size");
    QVERIFY(size);
    typeAndReturn(size, "160");
    QVERIFY(bstest::waitIdle(w));
    bstest::clickSpinArrow(size, true);
    QVERIFY(bstest::waitIdle(w));
    QCOMPARE(size->value(), 161);
    QVERIFY(capture(w, "04-edited-size"));

    // Click a stage in the strip: the final Normalize output.
    QTest::mouseClick(w.stageStrip()->cell(5), Qt::LeftButton);
    QVERIFY(bstest::waitIdle(w));
    QCOMPARE(w.shownStage(), 5);
    QVERIFY(capture(w, "05-stage-clicked"));

    // Export (Ctrl+E) through the save dialog.
    const QString target = artifacts() + "/06-export.png";
    QTimer::singleShot(300, [target] {
        auto* fd = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
        if (!fd) return;
        // The name box as a user fills it (typing would open its completer).
        auto* name = fd->findChild<QLineEdit*>("fileNameEdit");
        QVERIFY(name);
        name->setText(target);
        QMetaObject::invokeMethod(fd, "accept");  // accept() is protected
    });
    // No window manager gives the window focus: shortcuts need it active.
    w.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&w));
    QTest::keyClick(&w, Qt::Key_E, Qt::ControlModifier);
    QVERIFY(QFile::exists(target));
    QVERIFY(!QImage(target).isNull());

    // The README's picture: a larger window, the demo's own pipeline and
    // one batch again, the collapsed finding clicked, overlay on.
    w.resize(1600, 1000);
    QVERIFY(w.pipelinePanel()->loadPipelineFile(bstest::sourceDir() +
                                                "/resources/demo-pipeline.json"));
    typeAndReturn(batchSize, "16");
    QVERIFY(bstest::waitIdle(w));
    finding = bstest::topFinding(w, "collapsed_range");
    QVERIFY(finding);
    bstest::clickTreeItem(w.anomalies(), finding);
    QVERIFY(bstest::waitIdle(w));
    QVERIFY(w.session()->sampleView()->counts.collapsed);
    QVERIFY(capture(w, "07-readme"));
}

// Xvfb on a free display (it picks one and writes its number to -displayfd).
static QProcess* startXvfb() {
    auto* x = new QProcess;
    x->setProcessChannelMode(QProcess::SeparateChannels);
    x->start(QStringLiteral(GUI_WALK_XVFB), {"-displayfd", "1", "-screen", "0", "1600x1000x24",
                                             "-nolisten", "tcp"});
    if (!x->waitForStarted(10000)) return nullptr;
    QByteArray number;
    while (!number.contains('\n') && x->waitForReadyRead(10000)) number += x->readAllStandardOutput();
    if (number.trimmed().isEmpty()) return nullptr;
    qputenv("DISPLAY", ":" + number.trimmed());
    return x;
}

int main(int argc, char** argv) {
    QProcess* xvfb = startXvfb();
    if (!xvfb) {
        std::fprintf(stderr, "gui_walk: cannot start Xvfb\n");
        return 1;
    }
    qputenv("QT_QPA_PLATFORM", "xcb");
    int rc = 0;
    {
        QApplication app(argc, argv);
        applyTheme(app);
        QStandardPaths::setTestModeEnabled(true);
        GuiWalk walk;
        rc = QTest::qExec(&walk, argc, argv);
    }
    xvfb->terminate();
    xvfb->waitForFinished(5000);
    delete xvfb;
    return rc;
}

#include "walk_gui.moc"
