// Helpers shared by the GUI benchmarks that drive the real inspector window.
#pragma once

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFormLayout>
#include <QLabel>
#include <QSpinBox>
#include <QTest>

#include <functional>

#include "ui/inspector/mainwindow.h"

namespace benchsupport {

// The loader dock's spin box labelled `label` ("Batch size", "Workers").
inline QSpinBox* loaderSpin(bs::ui::MainWindow& w, const QString& label) {
    for (auto* form : w.findChildren<QFormLayout*>()) {
        for (int r = 0; r < form->rowCount(); ++r) {
            auto* l = form->itemAt(r, QFormLayout::LabelRole);
            auto* f = form->itemAt(r, QFormLayout::FieldRole);
            auto* text = l ? qobject_cast<QLabel*>(l->widget()) : nullptr;
            if (text && text->text() == label && f) return qobject_cast<QSpinBox*>(f->widget());
        }
    }
    return nullptr;
}

// Runs the event loop until `done` or `timeoutMs`; returns `done()`.
inline bool waitFor(const std::function<bool()>& done, int timeoutMs) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
        if (done()) return true;
        QTest::qWait(1);
    }
    return done();
}

}  // namespace benchsupport
