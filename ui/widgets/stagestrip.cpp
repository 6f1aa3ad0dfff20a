#include "ui/widgets/stagestrip.h"

#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPixmap>
#include <QVBoxLayout>

namespace bs::ui {

StageStrip::StageStrip(QWidget* parent) : QWidget(parent), layout_(new QHBoxLayout(this)) {
    layout_->setContentsMargins(2, 2, 2, 2);
    layout_->setSpacing(4);
    layout_->addStretch();
}

QWidget* StageStrip::cell(int k) const {
    return k >= 0 && k < count() ? cells_[size_t(k)] : nullptr;
}

void StageStrip::setStages(const std::vector<QImage>& images, const std::vector<QString>& labels) {
    // Cells are reused, never deleted while a click on one may be running;
    // surplus ones are hidden.
    while (cells_.size() < images.size()) {
        auto* c = new QWidget;
        c->setObjectName(QStringLiteral("stageCell%1").arg(cells_.size()));
        c->setCursor(Qt::PointingHandCursor);
        c->setAttribute(Qt::WA_StyledBackground);
        c->installEventFilter(this);
        auto* v = new QVBoxLayout(c);
        v->setContentsMargins(3, 3, 3, 3);
        auto* pic = new QLabel;
        auto* cap = new QLabel;
        cap->setWordWrap(true);
        v->addWidget(pic);
        v->addWidget(cap);
        layout_->insertWidget(int(cells_.size()), c);
        cells_.push_back(c);
        pictures_.push_back(pic);
        captions_.push_back(cap);
    }
    for (size_t k = 0; k < cells_.size(); ++k) {
        const bool used = k < images.size();
        cells_[k]->setVisible(used);
        if (!used) continue;
        pictures_[k]->setPixmap(QPixmap::fromImage(images[k]));
        captions_[k]->setText(k < labels.size() ? labels[k] : QString());
        cells_[k]->setToolTip(QStringLiteral("Click to show this stage in the sample view"));
    }
    restyle();
}

void StageStrip::setMarks(int shown, int culprit) {
    shown_ = shown;
    culprit_ = culprit;
    restyle();
}

void StageStrip::restyle() {
    for (size_t k = 0; k < cells_.size(); ++k) {
        const bool shown = int(k) == shown_, culprit = int(k) == culprit_;
        QString border = QStringLiteral("2px solid transparent");
        if (culprit) border = QStringLiteral("2px solid #ff5a4e");
        if (shown) border = culprit ? QStringLiteral("3px double #ff5a4e")
                                    : QStringLiteral("2px solid #4d8ff5");
        cells_[k]->setStyleSheet(
            QStringLiteral("QWidget#%1 { border: %2; border-radius: 4px; background: %3; }")
                .arg(cells_[k]->objectName(), border,
                     shown ? QStringLiteral("#233250") : QStringLiteral("transparent")));
        QString cap = captions_[k]->text();
        if (cap.startsWith(QStringLiteral("⚠ "))) cap = cap.mid(2);
        captions_[k]->setText(culprit ? QStringLiteral("⚠ ") + cap : cap);
        captions_[k]->setStyleSheet(culprit ? QStringLiteral("font-size: 10px; color: #ff8a80;")
                                            : QStringLiteral("font-size: 10px; color: #b0b2ba;"));
    }
}

bool StageStrip::eventFilter(QObject* watched, QEvent* event) {
    if (event->type() == QEvent::MouseButtonPress &&
        static_cast<QMouseEvent*>(event)->button() == Qt::LeftButton) {
        for (size_t k = 0; k < cells_.size(); ++k)
            if (cells_[k] == watched) {
                Q_EMIT stageClicked(int(k));
                return true;
            }
    }
    return QWidget::eventFilter(watched, event);
}

}  // namespace bs::ui
