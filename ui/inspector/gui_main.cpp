#include "ui/inspector/gui_main.h"

#include <QApplication>
#include <QPalette>
#include <QScreen>
#include <QStyleFactory>

#include "ui/compare/compareview.h"
#include "ui/inspector/mainwindow.h"

namespace bs::ui {

// A neutral dark theme: image viewers read best on dark grey, and a
// consistent palette keeps the out-of-range colours distinguishable.
void applyTheme(QApplication& app) {
    app.setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    QPalette p;
    const QColor window(43, 44, 48), base(32, 33, 36), text(222, 223, 228), accent(66, 133, 244);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, QColor(38, 39, 43));
    p.setColor(QPalette::ToolTipBase, QColor(25, 25, 28));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, QColor(54, 55, 60));
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, Qt::red);
    p.setColor(QPalette::Highlight, accent);
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, accent.lighter(130));
    p.setColor(QPalette::PlaceholderText, QColor(130, 132, 140));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(120, 120, 128));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(120, 120, 128));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(120, 120, 128));
    app.setPalette(p);
    app.setStyleSheet(
        QStringLiteral("QDockWidget::title { background: #34353a; padding: 4px 6px; }"
                       "QToolTip { border: 1px solid #555; }"));
}

int runGui(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("batchscope"));
    QApplication::setOrganizationName(QStringLiteral("batchscope"));
    applyTheme(app);
    const QStringList args = app.arguments();  // Qt options (-platform...) already removed
    QString path;
    for (int i = 1; i < args.size(); ++i)
        if (!args[i].startsWith('-')) path = args[i];
    // `batchscope DUMP_DIR`: a folder written by batchscope_dump.py opens the
    // compare window on its own.
    if (!path.isEmpty() && CompareView::isDumpFolder(path)) {
        CompareView cv;
        if (QScreen* screen = QGuiApplication::primaryScreen()) {
            const QSize avail = screen->availableGeometry().size();
            cv.resize(std::min(avail.width(), 1700), std::min(avail.height(), 1050));
        }
        cv.show();
        cv.open(path);
        return app.exec();
    }
    MainWindow w;
    // First start: use most of the screen (a saved geometry wins later).
    if (QScreen* screen = QGuiApplication::primaryScreen()) {
        const QSize avail = screen->availableGeometry().size();
        if (!w.restoredGeometry())
            w.resize(std::min(avail.width(), 1800), std::min(avail.height(), 1100));
    }
    w.show();
    w.openPath(path.isEmpty() ? MainWindow::demoDatasetPath() : path);
    return app.exec();
}

}  // namespace bs::ui
