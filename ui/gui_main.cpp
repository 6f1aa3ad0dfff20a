// TEMPORARY: replaced by the inspector's real entry point.
#include "ui/gui_main.h"

#include <QApplication>
#include <QLabel>

namespace bs::ui {
int runGui(int argc, char** argv) {
    QApplication app(argc, argv);
    QLabel l("batchscope");
    l.show();
    return app.exec();
}
}  // namespace bs::ui
