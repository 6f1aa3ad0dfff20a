#include "ui/dialogs/exportdialogs.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QPointer>
#include <QProgressDialog>
#include <QThreadPool>
#include <QTimer>

#include <atomic>
#include <climits>
#include <functional>
#include <memory>

#include "core/audit/anomaly.h"
#include "core/audit/audit.h"
#include "core/audit/report.h"
#include "ui/model/asyncslot.h"
#include "ui/model/session.h"
#include "ui/render/exporter.h"
#include "ui/widgets/dialogfolders.h"

namespace bs::ui {

namespace {

// Written by the job, read by the dialog's timer.
struct Progress {
    std::atomic<size_t> done{0}, total{0};
};

enum class ExportKind { Folder, Html };

// One export: audit (unless the session already holds a finished one), ask
// before replacing files, render, tell the user. Each step runs on an
// AsyncSlot job like every other background work; the dialog's Cancel stops
// the job. Owns the dataset through a shared_ptr, so the session may move on
// to another dataset meanwhile. Deletes itself when done.
class ExportRun : public QObject {
public:
    ExportRun(QWidget* parent, const Session& session, ExportKind kind, QString target)
        : QObject(parent),
          parent_(parent),
          kind_(kind),
          target_(std::move(target)),
          dataset_(session.sharedDataset()),
          pipeline_(session.pipeline()),
          slot_(new AsyncSlot(QThreadPool::globalInstance(), this)),
          dialog_(new QProgressDialog(parent)),
          progress_(std::make_shared<Progress>()) {
        options_.batchSize = std::max(1, session.loaderSettings().batchSize);
        options_.workers = std::max(0, session.loaderSettings().workers);
        options_.seed = session.loaderSettings().seed;
        report_ = session.finishedAuditReport();
        dialog_->setWindowTitle(kind == ExportKind::Folder ? QStringLiteral("Export all anomalies")
                                                           : QStringLiteral("Export report"));
        dialog_->setWindowModality(Qt::WindowModal);
        dialog_->setMinimumDuration(0);
        dialog_->setAttribute(Qt::WA_DeleteOnClose, false);
        connect(dialog_, &QProgressDialog::canceled, slot_, &AsyncSlot::requestStop);
        auto* timer = new QTimer(this);
        connect(timer, &QTimer::timeout, this, &ExportRun::showProgress);
        timer->start(50);
    }
    ~ExportRun() override { delete dialog_.data(); }

    void start() {
        if (report_)
            askAndRender();  // the audit the user just ran
        else
            audit();
    }

private:
    void showProgress() {
        const size_t total = progress_->total.load();
        if (total == 0 || !dialog_->isVisible()) return;
        dialog_->setMaximum(int(std::min<size_t>(total, INT_MAX)));
        dialog_->setValue(int(std::min(progress_->done.load(), total - 1)));
    }

    void step(const QString& label) {
        progress_->done = 0;
        progress_->total = 0;
        dialog_->setLabelText(label);
        dialog_->setValue(0);
        dialog_->show();
    }

    void audit() {
        step(QStringLiteral("Auditing the dataset…"));
        auto ds = dataset_;
        const Pipeline pipeline = pipeline_;
        const AuditOptions opts = options_;
        auto progress = progress_;
        slot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
            QString error;
            std::shared_ptr<const nlohmann::json> report;
            bool cancelled = false;
            try {
                AuditEngine engine(pipeline);
                const AuditRun run = runAudit(
                    ds, pipeline, opts, engine,
                    [&](const AuditProgress& p) {
                        progress->total = p.total;
                        progress->done = p.done;
                    },
                    &cancel);
                ReportContext ctx;
                ctx.dataset = ds.get();
                ctx.pipeline = &pipeline;
                ctx.options = opts;
                ctx.run = run;
                report = std::make_shared<const nlohmann::json>(buildReport(engine, ctx));
                cancelled = run.cancelled;
            } catch (const std::exception& e) {
                error = QString::fromUtf8(e.what());
            }
            return [this, report, cancelled, error] {
                if (!error.isEmpty()) return fail(error);
                if (cancelled) return done();
                report_ = report;
                askAndRender();
            };
        });
    }

    // Folder exports ask before replacing files; the HTML file dialog asked.
    void askAndRender() {
        ExportOptions options;
        if (kind_ == ExportKind::Html) {
            options.overwrite = true;
            return render(options);
        }
        const QStringList exist = existingTargets(target_, *report_, options);
        if (!exist.isEmpty()) {
            dialog_->hide();
            const auto answer = QMessageBox::question(
                parent_, QStringLiteral("Replace files?"),
                QStringLiteral(
                    "%1 file(s) of this export already exist in %2, e.g. %3.\nReplace them?")
                    .arg(exist.size())
                    .arg(QDir::toNativeSeparators(target_), QFileInfo(exist.front()).fileName()),
                QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
            if (answer != QMessageBox::Yes) return done();
            options.overwrite = true;
        }
        render(options);
    }

    void render(const ExportOptions& options) {
        step(kind_ == ExportKind::Folder ? QStringLiteral("Rendering screenshots…")
                                         : QStringLiteral("Rendering the report…"));
        auto ds = dataset_;
        const Pipeline pipeline = pipeline_;
        auto report = report_;
        auto progress = progress_;
        const ExportKind kind = kind_;
        const QString target = target_;
        slot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
            const ExportProgressFn fn = [&](size_t d, size_t t) {
                progress->total = t;
                progress->done = d;
                return !cancel.load();
            };
            QString error;
            bool completed = false;
            try {
                completed = kind == ExportKind::Folder
                                ? exportFolder(*ds, pipeline, *report, target, options, fn)
                                : writeReportHtml(*ds, pipeline, *report, target, options, fn);
            } catch (const std::exception& e) {
                error = QString::fromUtf8(e.what());
            }
            return [this, error, completed, options] {
                if (!error.isEmpty()) return fail(error);
                tell(completed, options);
            };
        });
    }

    void tell(bool completed, const ExportOptions& options) {
        dialog_->hide();
        const QString where = QDir::toNativeSeparators(target_);
        QString text;
        if (kind_ == ExportKind::Html)
            text = completed ? QStringLiteral("Wrote %1.").arg(where) : QString();
        else if (!completed)
            text =
                QStringLiteral("Cancelled; the screenshots written so far stay in %1.").arg(where);
        else
            text = QStringLiteral("Wrote %1 screenshot(s), index.html and report.json to %2.")
                       .arg(planShots(*report_, options).size())
                       .arg(where);
        if (!text.isEmpty()) notify(QMessageBox::Information, text);
        done();
    }

    void fail(const QString& message) {
        dialog_->hide();
        notify(QMessageBox::Warning, message);
        done();
    }

    // Told without blocking: the export ends in a continuation, where a
    // nested event loop (QMessageBox::exec) would stall every other job.
    void notify(QMessageBox::Icon icon, const QString& text) {
        if (!parent_) return;
        auto* box = new QMessageBox(icon, QStringLiteral("Export"), text, QMessageBox::Ok, parent_);
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
    }

    void done() {
        dialog_->hide();
        deleteLater();
    }

    QPointer<QWidget> parent_;
    ExportKind kind_;
    QString target_;
    std::shared_ptr<const Dataset> dataset_;
    Pipeline pipeline_;
    AuditOptions options_;
    AsyncSlot* slot_;
    QPointer<QProgressDialog> dialog_;  // a child of the parent window
    std::shared_ptr<Progress> progress_;
    std::shared_ptr<const nlohmann::json> report_;
};

bool haveDataset(QWidget* parent, const Session& session) {
    if (session.dataset()) return true;
    QMessageBox::information(parent, QStringLiteral("Export"),
                             QStringLiteral("Open a dataset first."));
    return false;
}

}  // namespace

void exportAllAnomalies(QWidget* parent, const Session& session) {
    if (!haveDataset(parent, session)) return;
    const QString dir = QFileDialog::getExistingDirectory(
        parent, QStringLiteral("Export all anomalies into folder"),
        dialogStartDir(QStringLiteral("export")));
    if (dir.isEmpty()) return;
    rememberDialogFolder(QStringLiteral("export"), QFileInfo(dir).absolutePath());
    (new ExportRun(parent, session, ExportKind::Folder, dir))->start();
}

void exportHtmlReport(QWidget* parent, const Session& session) {
    if (!haveDataset(parent, session)) return;
    const QString path =
        askSaveFile(parent, QStringLiteral("export"), QStringLiteral("Export report"),
                    QStringLiteral("batchscope-report.html"), QStringLiteral("HTML (*.html)"));
    if (path.isEmpty()) return;
    (new ExportRun(parent, session, ExportKind::Html, path))->start();
}

}  // namespace bs::ui
