// Where file dialogs start: the last folder used for the same purpose
// ("dataset", "pipeline", "export"...), else the home folder. Never the
// working directory: run from a source tree, that invites exports into it.
#pragma once

#include <QString>

class QSettings;
class QWidget;

namespace bs::ui {

// The settings that remember the folders (the main window's own file, so
// tests stay isolated); without one, the user's batchscope settings.
void setDialogFolderSettings(QSettings* settings);
// Folder a dialog for `purpose` starts in.
QString dialogStartDir(const QString& purpose);
// That folder joined with a suggested file name (for save dialogs).
QString dialogStartPath(const QString& purpose, const QString& fileName);
// Remembers the folder of `chosen` (a file or a folder) for `purpose`;
// an empty `chosen` (dialog cancelled) changes nothing.
void rememberDialogFolder(const QString& purpose, const QString& chosen);

// The file dialogs of every window, each started in the folder of `purpose`
// and remembering the one chosen; empty when cancelled. A save dialog
// suggests `fileName` (and asks itself before replacing a file).
QString askOpenFile(QWidget* parent, const QString& purpose, const QString& title,
                    const QString& filter);
QString askSaveFile(QWidget* parent, const QString& purpose, const QString& title,
                    const QString& fileName, const QString& filter);

}  // namespace bs::ui
