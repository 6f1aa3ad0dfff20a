// Starts the inspector window (QApplication lives here, not in app/).
#pragma once

namespace bs::ui {

// argv may hold a dataset path; without one the built-in demo dataset opens.
int runGui(int argc, char** argv);

}  // namespace bs::ui
