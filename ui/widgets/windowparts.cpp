#include "ui/widgets/windowparts.h"

#include <QBoxLayout>
#include <QKeyEvent>
#include <QSplitter>
#include <QToolButton>

namespace bs::ui {

QString formatNumber(double v) {
    return QString::number(v, 'g', 5);
}

QSplitter* splitPair(Qt::Orientation orientation, QWidget* first, QWidget* second, int stretchFirst,
                     int stretchSecond, const QList<int>& sizes) {
    auto* split = new QSplitter(orientation);
    split->addWidget(first);
    split->addWidget(second);
    split->setStretchFactor(0, stretchFirst);
    split->setStretchFactor(1, stretchSecond);
    if (!sizes.isEmpty()) split->setSizes(sizes);
    return split;
}

QLabel* selectableLabel(const QString& text) {
    auto* l = new QLabel(text);
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return l;
}

QToolButton* addToolButton(QBoxLayout* row, const QString& text, const QString& tip) {
    auto* b = new QToolButton;
    b->setText(text);
    b->setToolTip(tip);
    row->addWidget(b);
    return b;
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

ViewReadouts::ViewReadouts(const QString& probeHint)
    : error(new ErrorBanner),
      range(selectableLabel()),
      legend(selectableLabel()),
      probe(selectableLabel(probeHint)) {
    range->setObjectName(QStringLiteral("rangeLabel"));
    range->setStyleSheet(QStringLiteral("color: #e3b341;"));
    // Long texts wrap instead of widening the window.
    range->setWordWrap(true);
    probe->setStyleSheet(QStringLiteral("font-family: monospace;"));
    probe->setWordWrap(true);
}

namespace {

class ArrowKeyKeeper : public QObject {
public:
    using QObject::QObject;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override {
        if (event->type() == QEvent::ShortcutOverride) {
            auto* key = static_cast<QKeyEvent*>(event);
            const bool arrow = key->key() == Qt::Key_Left || key->key() == Qt::Key_Right ||
                               key->key() == Qt::Key_Up || key->key() == Qt::Key_Down;
            if (arrow && key->modifiers() == Qt::NoModifier) {
                // Accepting the override delivers the key to the view
                // instead of triggering the window's shortcut.
                event->accept();
                return true;
            }
        }
        return QObject::eventFilter(watched, event);
    }
};

}  // namespace

void keepArrowKeys(QWidget* view) {
    view->installEventFilter(new ArrowKeyKeeper(view));
}

}  // namespace bs::ui
