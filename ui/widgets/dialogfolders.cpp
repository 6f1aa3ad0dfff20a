#include "ui/widgets/dialogfolders.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QPointer>
#include <QSettings>

namespace bs::ui {

namespace {

QPointer<QSettings>& current() {
    static QPointer<QSettings> settings;
    return settings;
}

QString key(const QString& purpose) {
    return QStringLiteral("dialogs/") + purpose;
}

}  // namespace

void setDialogFolderSettings(QSettings* settings) {
    current() = settings;
}

QString dialogStartDir(const QString& purpose) {
    QString dir;
    if (QSettings* s = current())
        dir = s->value(key(purpose)).toString();
    else
        dir = QSettings(QStringLiteral("batchscope"), QStringLiteral("batchscope"))
                  .value(key(purpose))
                  .toString();
    // A remembered folder that has gone away falls back to home as well.
    if (dir.isEmpty() || !QFileInfo(dir).isDir()) return QDir::homePath();
    return dir;
}

QString dialogStartPath(const QString& purpose, const QString& fileName) {
    return QDir(dialogStartDir(purpose)).filePath(fileName);
}

void rememberDialogFolder(const QString& purpose, const QString& chosen) {
    if (chosen.isEmpty()) return;
    const QFileInfo fi(chosen);
    const QString dir = fi.isDir() ? fi.absoluteFilePath() : fi.absolutePath();
    if (QSettings* s = current()) {
        s->setValue(key(purpose), dir);
        return;
    }
    QSettings(QStringLiteral("batchscope"), QStringLiteral("batchscope")).setValue(key(purpose), dir);
}

QString askOpenFile(QWidget* parent, const QString& purpose, const QString& title,
                    const QString& filter) {
    const QString path =
        QFileDialog::getOpenFileName(parent, title, dialogStartDir(purpose), filter);
    rememberDialogFolder(purpose, path);
    return path;
}

QString askSaveFile(QWidget* parent, const QString& purpose, const QString& title,
                    const QString& fileName, const QString& filter) {
    const QString path =
        QFileDialog::getSaveFileName(parent, title, dialogStartPath(purpose, fileName), filter);
    rememberDialogFolder(purpose, path);
    return path;
}

}  // namespace bs::ui
