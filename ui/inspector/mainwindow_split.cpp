// File > Split: torchvision's dataset roots hold a train and a test split
// (MNIST's t10k files, CIFAR's test batch); the menu reopens the root with
// the other one, as --split does on the command line.
#include <QActionGroup>
#include <QMenu>

#include "core/dataset/torchvision_datasets.h"
#include "ui/inspector/mainwindow.h"
#include "ui/model/session.h"

namespace bs::ui {

void MainWindow::buildSplitMenu(QMenu* file) {
    splitMenu_ = file->addMenu(QStringLiteral("&Split"));
    splitMenu_->setToolTipsVisible(true);
    splitMenu_->menuAction()->setToolTip(
        QStringLiteral("torchvision dataset roots (MNIST, Fashion-MNIST, CIFAR, ...): the split "
                       "to open"));
    auto* group = new QActionGroup(splitMenu_);
    const std::pair<QString, QString> splits[] = {{QStringLiteral("&Train"), "train"},
                                                  {QStringLiteral("T&est"), "test"}};
    for (const auto& [text, value] : splits) {
        QAction* a = splitMenu_->addAction(text);
        a->setCheckable(true);
        a->setData(value);
        group->addAction(a);
        connect(a, &QAction::triggered, this, [this, v = value] { session_->setSplit(v); });
    }
    splitMenu_->setEnabled(false);
}

void MainWindow::refreshSplitMenu() {
    const QString byDefault =
        QString::fromStdString(bs::torchvisionDefaultSplit(session_->datasetPath().toStdString()));
    splitMenu_->setEnabled(!byDefault.isEmpty());
    const QString shown = session_->split().isEmpty() ? byDefault : session_->split();
    for (QAction* a : splitMenu_->actions()) a->setChecked(a->data() == shown);
}

}  // namespace bs::ui
