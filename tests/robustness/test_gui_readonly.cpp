// Issue 7's first guarantee, for the inspector: a whole GUI session (open,
// step, select, edit the pipeline, audit, export screenshots, the gallery
// and the HTML report through the real menu actions and file dialogs)
// leaves the dataset byte-identical, with no file added, removed or
// touched. Exports land only where the dialogs point.
#include <QAction>
#include <QApplication>
#include <QCryptographicHash>
#include <QFileDialog>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTimer>
#include <QtTest>

#include <sys/stat.h>

#include <map>

#include "support/testsupport.h"
#include "ui/inspector/mainwindow.h"
#include "ui/widgets/pipelinepanel.h"
#include "ui/model/session.h"

using namespace bs::ui;
using bstest::waitIdle;

namespace {

// Everything that would show a write: content hash, size, mode and mtime of
// every entry (hidden ones included), keyed by relative path.
std::map<QString, QString> snapshot(const QString& root) {
    return bstest::mapTree(root, QDir::AllEntries, [](const QString& p) {
        struct stat st {};
        ::lstat(QFile::encodeName(p).constData(), &st);
        QString entry = QStringLiteral("%1 %2 %3.%4")
                            .arg(st.st_size)
                            .arg(st.st_mode, 0, 8)
                            .arg(st.st_mtim.tv_sec)
                            .arg(st.st_mtim.tv_nsec);
        if (S_ISREG(st.st_mode)) {
            QFile f(p);
            if (f.open(QIODevice::ReadOnly))
                entry +=
                    " " + QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256).toHex();
        }
        return entry;
    });
}

// Answers the modal dialogs a menu action opens, as a user would: the file
// dialog gets `target`, message boxes are acknowledged. Counts both.
class DialogAnswerer : public QObject {
public:
    explicit DialogAnswerer(QString target) : target_(std::move(target)) {
        connect(&timer_, &QTimer::timeout, this, [this] { answer(); });
        timer_.start(50);
    }
    int fileDialogs = 0, messages = 0;
    QStringList messageTexts;

private:
    void answer() {
        QWidget* modal = QApplication::activeModalWidget();
        if (auto* fd = qobject_cast<QFileDialog*>(modal)) {
            ++fileDialogs;
            if (fd->fileMode() == QFileDialog::Directory)
                fd->setDirectory(target_);  // accepted as is: the folder shown
            else if (auto* name = fd->findChild<QLineEdit*>("fileNameEdit"))
                name->setText(target_);           // typed in, as a user would
            static_cast<QDialog*>(fd)->accept();  // QFileDialog::accept is protected
        } else if (auto* mb = qobject_cast<QMessageBox*>(modal)) {
            ++messages;
            messageTexts << mb->text();
            mb->accept();
        }
    }
    QString target_;
    QTimer timer_;
};

}  // namespace

class TestGuiReadOnly : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        QStandardPaths::setTestModeEnabled(true);
        // Qt's own dialogs, which the answerer can drive on any platform.
        QCoreApplication::setAttribute(Qt::AA_DontUseNativeDialogs);
    }
    void wholeSessionLeavesDatasetUntouched();
};

void TestGuiReadOnly::wholeSessionLeavesDatasetUntouched() {
    QTemporaryDir dir;
    const QString root = dir.path() + "/data", out = dir.path() + "/exports";
    QVERIFY(QDir().mkpath(root + "/cats/nested") && QDir().mkpath(root + "/dogs") &&
            QDir().mkpath(out + "/gallery"));
    for (int i = 0; i < 5; ++i) {
        bstest::writePatternImage(QStringLiteral("%1/cats/c%2.png").arg(root).arg(i), 40, 30, i);
        bstest::writePatternImage(QStringLiteral("%1/dogs/d%2.jpg").arg(root).arg(i), 36, 28,
                                  50 + i);
    }
    bstest::writePatternImage(root + "/cats/nested/deep.bmp", 20, 20, 9);
    // A truncated PNG, a file that is not an image, and a hidden one.
    QFile cut(root + "/dogs/cut.png");
    bstest::writePatternImage(cut.fileName(), 64, 64, 3);
    QVERIFY(cut.open(QIODevice::ReadWrite));
    QVERIFY(cut.resize(cut.size() / 2));
    cut.close();
    bstest::writeFile(root + "/dogs/notes.txt", "not an image\n");
    bstest::writeFile(root + "/.hidden", "x");
    const auto before = snapshot(root);
    QVERIFY(before.size() >= 14);

    {
        MainWindow w(dir.path() + "/settings.ini");
        w.resize(1200, 800);
        w.show();
        w.openPath(root);
        QVERIFY(waitIdle(w));
        for (auto* s : w.findChildren<QSpinBox*>())
            if (s->maximum() == 4096) s->setValue(4);
        QVERIFY(waitIdle(w));
        QVERIFY(w.pipelinePanel()->setText(
            R"([{"op":"Resize","size":24},{"op":"CenterCrop","size":20},{"op":"ToTensor"},)"
            R"({"op":"Normalize","mean":[0.5,0.5,0.5],"std":[0.25,0.25,0.25]}])"));
        QVERIFY(waitIdle(w));
        for (int k = 0; k < 3; ++k) {
            w.nextBatch();
            QVERIFY(waitIdle(w));
        }
        w.lastBatch();
        QVERIFY(waitIdle(w));
        w.goToSampleIndex(2);
        QVERIFY(waitIdle(w));
        w.setOverlay(true);
        w.probeTensor(3, 3);
        QVERIFY(waitIdle(w));

        QSignalSpy audited(w.session(), &Session::auditFinished);
        for (auto* b : w.findChildren<QPushButton*>())
            if (b->text().startsWith("Audit")) b->click();
        QVERIFY(audited.wait(60000));
        QVERIFY(!w.session()->auditFindings().empty());  // the truncated PNG at least

        // The three exports, through the menu, into `out`.
        auto trigger = [&](const QString& textStart, const QString& target) {
            QAction* action = nullptr;
            for (QAction* a : w.findChildren<QAction*>())
                if (a->text().remove('&').startsWith(textStart)) action = a;
            QVERIFY2(action, qPrintable(textStart));
            DialogAnswerer answerer(target);
            QElapsedTimer t;
            t.start();
            action->trigger();
            qInfo("%s: %lld ms, %d file dialog(s), messages: %s", qPrintable(textStart),
                  t.elapsed(), answerer.fileDialogs, qPrintable(answerer.messageTexts.join(" / ")));
            QVERIFY2(answerer.fileDialogs == 1,
                     qPrintable(textStart + ": " + answerer.messageTexts.join(" / ")));
        };
        trigger("Export All Anomalies", out + "/gallery");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo::exists(out + "/gallery/index.html"), 60000);
        trigger("Export Report", out + "/report.html");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo::exists(out + "/report.html"), 60000);
        trigger("Export Screenshot", out + "/shot.png");
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo::exists(out + "/shot.png"), 60000);
        QVERIFY(QFileInfo(out + "/gallery/report.json").size() > 0);
        QVERIFY(QDir(out + "/gallery").entryList({"*.png"}).size() >= 1);
        w.close();
    }
    QCoreApplication::processEvents();

    const auto after = snapshot(root);
    for (const auto& [path, entry] : before) {
        QVERIFY2(after.count(path), qPrintable(path + " disappeared"));
        QVERIFY2(after.at(path) == entry,
                 qPrintable(path + " changed: " + entry + " -> " + after.at(path)));
    }
    for (const auto& [path, entry] : after)
        QVERIFY2(before.count(path), qPrintable(path + " was added to the dataset"));
}

QTEST_MAIN(TestGuiReadOnly)
#include "test_gui_readonly.moc"
