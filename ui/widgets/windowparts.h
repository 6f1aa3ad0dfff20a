// Pieces both windows (inspector, compare) are built from, written once:
// the error banner, the view read-outs, selectable info labels and how
// numbers are printed.
#pragma once

#include <QLabel>
#include <QList>
#include <QString>

class QBoxLayout;
class QSplitter;
class QToolButton;

namespace bs::ui {

// Numbers in labels, probes and tooltips: five significant digits.
QString formatNumber(double v);

// A label whose text the user can select and copy (paths, values).
QLabel* selectableLabel(const QString& text = QString());

// Two panes in a splitter, side by side (Qt::Horizontal) or stacked,
// sharing extra space as stretchFirst : stretchSecond; `sizes` are the
// starting sizes in pixels (empty: Qt's own split).
QSplitter* splitPair(Qt::Orientation orientation, QWidget* first, QWidget* second, int stretchFirst,
                     int stretchSecond, const QList<int>& sizes = {});

// A tool button showing `text`, with `tip`, added at the end of `row`.
QToolButton* addToolButton(QBoxLayout* row, const QString& text, const QString& tip);

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

// The read-outs both windows show about what is in view, made alike once:
// the error banner, the display range in use, the colour legend and the
// pixel probe. Each window places the four widgets in its own layouts (which
// then own them) and writes them; tests read them back the same way from
// either window, through its readouts().
struct ViewReadouts {
    // `probeHint`: the probe line until the mouse is over a view.
    explicit ViewReadouts(const QString& probeHint);
    ErrorBanner* const error;
    QLabel* const range;
    QLabel* const legend;
    QLabel* const probe;

    QString errorText() const { return error->message(); }
    QString rangeText() const { return range->text(); }
    QString probeText() const { return probe->text(); }
};

// Lets `view` keep the arrow keys while it has focus, although the window
// binds them to batch stepping: a tree unfolds with Right, a list moves with
// Up and Down. Installed as an event filter owned by `view`.
void keepArrowKeys(QWidget* view);

}  // namespace bs::ui
