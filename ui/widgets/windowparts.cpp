#include "ui/widgets/windowparts.h"

namespace bs::ui {

QString formatNumber(double v) {
    return QString::number(v, 'g', 5);
}

QLabel* selectableLabel(const QString& text) {
    auto* l = new QLabel(text);
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return l;
}

ErrorBanner::ErrorBanner(QWidget* parent) : QLabel(parent) {
    setObjectName(QStringLiteral("errorBanner"));
    setWordWrap(true);
    setTextInteractionFlags(Qt::TextSelectableByMouse);
    setStyleSheet(
        QStringLiteral("QLabel { background: #5a1d1d; color: #ffd7d5; border: 1px solid #a33; "
                       "border-radius: 4px; padding: 6px; }"));
    hide();
}

void ErrorBanner::showMessage(const QString& message) {
    setText(message);
    setVisible(!message.isEmpty());
}

QString ErrorBanner::message() const {
    return isHidden() ? QString() : text();
}

}  // namespace bs::ui
