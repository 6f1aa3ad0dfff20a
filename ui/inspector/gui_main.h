// Starts the inspector window (QApplication lives here, not in app/).
#pragma once

class QApplication;

namespace bs::ui {

// The inspector's dark theme (also used by the real-window walk test).
void applyTheme(QApplication& app);

// argv may hold a dataset path; without one the built-in demo dataset opens.
int runGui(int argc, char** argv);

}  // namespace bs::ui
