// "Latest request wins" runner for background work.
//
// At most one job of a slot runs at a time; submitting while one runs asks the
// running job to cancel and parks the new request (replacing any older parked
// one), so stepping quickly never queues stale work. A job returns its
// GUI-thread continuation; the continuation runs only if no newer request was
// submitted meanwhile and the slot still exists.
#pragma once

#include <QObject>
#include <QPointer>

#include <atomic>
#include <functional>
#include <memory>

class QThreadPool;

namespace bs::ui {

class AsyncSlot : public QObject {
    Q_OBJECT
public:
    using Continuation = std::function<void()>;
    // Runs on a pool thread; polls `cancel` where it can.
    using Work = std::function<Continuation(const std::atomic<bool>& cancel)>;

    AsyncSlot(QThreadPool* pool, QObject* parent = nullptr);
    ~AsyncSlot() override;

    void submit(Work work);
    // Drops the parked request and cancels the running one.
    void cancel();
    // Asks the running job to stop early but still delivers its (partial)
    // result.
    void requestStop();
    bool busy() const { return running_ || bool(pending_); }
    quint64 generation() const { return generation_; }

Q_SIGNALS:
    void idle();

private:
    void startPending();
    void finished(quint64 generation, const Continuation& cont);

    QThreadPool* pool_;
    Work pending_;
    bool running_ = false;
    quint64 generation_ = 0;
    std::shared_ptr<std::atomic<bool>> cancel_;
};

// Posts `fn` to the GUI thread; it runs only if `guard` is still alive then.
// Safe to call from any thread.
void postToGui(QPointer<QObject> guard, std::function<void()> fn);

}  // namespace bs::ui
