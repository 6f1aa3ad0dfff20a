// Pieces both windows (inspector, compare) are built from, written once:
// the error banner, selectable info labels and how numbers are printed.
#pragma once

#include <QLabel>
#include <QString>

namespace bs::ui {

// Numbers in labels, probes and tooltips: five significant digits.
QString formatNumber(double v);

// A label whose text the user can select and copy (paths, values).
QLabel* selectableLabel(const QString& text = QString());

// The red banner over a window's content: hidden while there is no error.
class ErrorBanner : public QLabel {
    Q_OBJECT
public:
    explicit ErrorBanner(QWidget* parent = nullptr);
    // Shows `message`; an empty message hides the banner.
    void showMessage(const QString& message);
    void clearMessage() { showMessage(QString()); }
    // The message shown, empty when the banner is hidden.
    QString message() const;
};

// Lets `view` keep the arrow keys while it has focus, although the window
// binds them to batch stepping: a tree unfolds with Right, a list moves with
// Up and Down. Installed as an event filter owned by `view`.
void keepArrowKeys(QWidget* view);

}  // namespace bs::ui
