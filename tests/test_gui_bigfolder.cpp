// Opening a folder with 200,000 entries must show the first batch while the
// event loop keeps running: a 5 ms timer measures the longest gap between
// its ticks from the moment the path is opened until the first batch and
// sample are on screen. The spec bounds that gap at 100 ms.
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QListWidget>
#include <QStandardPaths>
#include <QTimer>
#include <QtTest>

#include "support/testsupport.h"
#include "ui/mainwindow.h"
#include "ui/session.h"

#include <fcntl.h>
#include <unistd.h>

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
    // Class "a" sorts first and holds real images, so batch 0 has content;
    // 200,000 empty .png files follow in four more classes.
    QDir(root).mkpath("a");
    for (int i = 0; i < 6; ++i)
        bstest::writePatternImage(QStringLiteral("%1/a/%2.png").arg(root).arg(i), 48, 40, i);
    const int total = 200000, classes = 4;
    QElapsedTimer gen;
    gen.start();
    for (int c = 0; c < classes; ++c) {
        const QByteArray cls = root.toUtf8() + "/c" + QByteArray::number(c);
        QDir().mkpath(QString::fromUtf8(cls));
        for (int i = 0; i < total / classes; ++i) {
            // Plain POSIX calls: QFile per file would triple the set-up time.
            const QByteArray p = cls + "/" + QByteArray::number(i) + ".png";
            const int fd = ::open(p.constData(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            QVERIFY(fd >= 0);
            ::close(fd);
        }
    }
    qInfo("generated %d empty files in %lld ms", total, qint64(gen.elapsed()));

    MainWindow w(dir.path() + "/settings.ini");
    w.resize(1200, 800);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QTest::qWait(50);

    qint64 longest = 0, ticks = 0;
    QElapsedTimer clock, shown;
    QTimer tick;
    tick.setInterval(5);
    tick.setTimerType(Qt::PreciseTimer);
    qint64 last = 0;
    connect(&tick, &QTimer::timeout, [&] {
        const qint64 now = clock.elapsed();
        longest = std::max(longest, now - last);
        last = now;
        ++ticks;
    });
    clock.start();
    shown.start();
    tick.start();
    w.openPath(root);
    qint64 firstBatchMs = -1;
    QElapsedTimer limit;
    limit.start();
    while (limit.elapsed() < 120000) {
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        if (firstBatchMs < 0 && w.grid()->count() > 0) firstBatchMs = shown.elapsed();
        if (w.grid()->count() > 0 && w.session()->sampleView() && w.session()->idle()) break;
    }
    tick.stop();
    // The last stretch since the final tick counts as well.
    longest = std::max(longest, clock.elapsed() - last);
    qInfo(
        "200,000 entries: first batch after %lld ms, longest event-loop gap %lld ms over %lld "
        "ticks",
        firstBatchMs, longest, ticks);
    QVERIFY(w.session()->hasDataset());
    QCOMPARE(w.session()->dataset()->size(), size_t(total + 6));
    QVERIFY(firstBatchMs >= 0);
    QCOMPARE(w.grid()->item(0)->data(Qt::UserRole).toULongLong(), qulonglong(0));
    QVERIFY(w.session()->sampleView()->result);
    QVERIFY(w.session()->sampleView()->error.isEmpty());
    QVERIFY2(longest <= 100,
             qPrintable(QStringLiteral("event loop blocked for %1 ms").arg(longest)));
}

QTEST_MAIN(TestGuiBigFolder)
#include "test_gui_bigfolder.moc"
