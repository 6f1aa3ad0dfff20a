#include "ui/model/asyncslot.h"

#include <QCoreApplication>
#include <QThreadPool>

namespace bs::ui {

void postToGui(QPointer<QObject> guard, std::function<void()> fn) {
    // qApp outlives every widget and lives on the GUI thread; the QPointer is
    // only dereferenced there, after the event loop picked the call up.
    QCoreApplication* app = QCoreApplication::instance();
    if (!app) return;
    QMetaObject::invokeMethod(
        app,
        [guard, fn = std::move(fn)] {
            if (guard) fn();
        },
        Qt::QueuedConnection);
}

AsyncSlot::AsyncSlot(QThreadPool* pool, QObject* parent) : QObject(parent), pool_(pool) {}

AsyncSlot::~AsyncSlot() {
    if (cancel_) cancel_->store(true);
}

void AsyncSlot::submit(Work work) {
    ++generation_;
    pending_ = std::move(work);
    if (running_) {
        if (cancel_) cancel_->store(true);
        return;
    }
    startPending();
}

void AsyncSlot::cancel() {
    ++generation_;
    pending_ = nullptr;
    if (cancel_) cancel_->store(true);
}

void AsyncSlot::requestStop() {
    if (cancel_) cancel_->store(true);
}

void AsyncSlot::startPending() {
    if (!pending_) {
        Q_EMIT idle();
        return;
    }
    Work work = std::move(pending_);
    pending_ = nullptr;
    running_ = true;
    cancel_ = std::make_shared<std::atomic<bool>>(false);
    const quint64 gen = generation_;
    QPointer<QObject> self(this);
    auto flag = cancel_;
    pool_->start([self, work = std::move(work), flag, gen] {
        Continuation cont;
        try {
            cont = work(*flag);
        } catch (...) {
            // Jobs report their own errors through the continuation; anything
            // escaping is a bug, but must not take the application down.
            cont = nullptr;
        }
        postToGui(self,
                  [self, gen, cont] { static_cast<AsyncSlot*>(self.data())->finished(gen, cont); });
    });
}

void AsyncSlot::finished(quint64 gen, const Continuation& cont) {
    running_ = false;
    if (gen == generation_ && cont) cont();
    if (!running_) startPending();  // the continuation may have started a job
}

}  // namespace bs::ui
