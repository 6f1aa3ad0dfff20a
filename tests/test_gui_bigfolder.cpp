// Opening a folder of 200,000 entries in the inspector: openPath returns at
// once (listing runs on a worker thread, the event loop keeps turning), and
// the first batch and sample then appear. How long the event loop may pause
// while this happens is a timing, so it is measured by
// bench/gui_bigfolder.cpp, not asserted here.
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
    // Timer ticks counted while the listing runs show the event loop turning.
    int ticksBeforeOpen = 0;
    bool open = false;
    QTimer tick;
    tick.setInterval(1);
    connect(&tick, &QTimer::timeout, [&] { ticksBeforeOpen += open ? 0 : 1; });
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
    QCOMPARE(w.session()->dataset()->size(), size_t(total + 6));
    QCOMPARE(w.grid()->item(0)->data(Qt::UserRole).toULongLong(), qulonglong(0));
    QVERIFY(w.session()->sampleView()->result);
    QVERIFY(w.session()->sampleView()->error.isEmpty());
}

QTEST_MAIN(TestGuiBigFolder)
#include "test_gui_bigfolder.moc"
