// Opening a folder of 200,000 entries in the inspector: openPath returns at
// once (listing runs on a worker thread, the event loop keeps turning: timer
// events are delivered while the listing runs), and the first batch and
// sample then appear. How long the event loop may pause while this happens
// is a timing, so it is measured by bench/gui_bigfolder.cpp, not asserted.
#include <QListWidget>
#include <QStandardPaths>
#include <QTimer>
#include <QtTest>

#include "support/testsupport.h"
#include "ui/inspector/mainwindow.h"
#include "ui/model/session.h"

using namespace bs::ui;

class TestGuiBigFolder : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QStandardPaths::setTestModeEnabled(true); }
    void firstBatchWithoutBlocking();
};

void TestGuiBigFolder::firstBatchWithoutBlocking() {
    QTemporaryDir dir;
    const QString root = dir.path() + "/big";
    const int total = 200000;
    bstest::makeBigImageFolder(root, total, 4);

    MainWindow w(dir.path() + "/settings.ini");
    w.resize(1200, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    // Timer ticks delivered while the listing runs (no dataset yet) show the
    // event loop turning. Listing 200,000 entries takes far longer than a
    // few milliseconds on any machine, so a non-blocking open delivers many
    // ticks (about 20 on a loaded 2-core machine); one that lists on the GUI
    // thread (in openPath or in a queued slot) delivers at most the one
    // already due before it, since `opened` follows the listing in the same
    // call.
    int ticksBeforeOpen = 0;
    bool open = false;
    QTimer tick;
    tick.setInterval(1);
    connect(&tick, &QTimer::timeout, [&] {
        if (!open && !w.session()->hasDataset()) ++ticksBeforeOpen;
    });
    connect(w.session(), &Session::opened, [&] { open = true; });
    tick.start();
    w.openPath(root);
    // Asynchronous: nothing is listed yet when openPath returns.
    QVERIFY(!w.session()->hasDataset());
    QTRY_VERIFY_WITH_TIMEOUT(w.grid()->count() > 0 && w.session()->sampleView() && w.session()->idle(),
                             120000);
    tick.stop();
    qInfo("200,000 entries: %d timer ticks delivered while listing", ticksBeforeOpen);
    QVERIFY(open);
    QVERIFY2(ticksBeforeOpen >= 3,
             qPrintable(QString("the event loop was blocked while listing: %1 timer ticks")
                            .arg(ticksBeforeOpen)));
    QCOMPARE(w.session()->dataset()->size(), size_t(total + 6));
    QCOMPARE(w.grid()->item(0)->data(Qt::UserRole).toULongLong(), qulonglong(0));
    QVERIFY(w.session()->sampleView()->result);
    QVERIFY(w.session()->sampleView()->error.isEmpty());
}

QTEST_MAIN(TestGuiBigFolder)
#include "test_gui_bigfolder.moc"
