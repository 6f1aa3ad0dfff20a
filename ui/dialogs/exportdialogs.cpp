#include "ui/dialogs/exportdialogs.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QProgressDialog>
#include <QThread>

#include <atomic>
#include <climits>
#include <exception>
#include <functional>
#include <memory>
#include <thread>

#include "core/audit/anomaly.h"
#include "core/audit/audit.h"
#include "core/audit/report.h"
#include "ui/render/exporter.h"
#include "ui/model/session.h"

namespace bs::ui {

namespace {

struct Shared {
    std::atomic<bool> cancel{false};
    std::atomic<size_t> done{0}, total{0};
    std::exception_ptr error;
};

// Runs `work` on a thread while the modal dialog shows its progress; Cancel
// sets `cancel`, which the work polls. Returns the work's exception, if any.
std::exception_ptr runWithProgress(QProgressDialog& dialog, const QString& label,
                                   const std::function<void(Shared&)>& work) {
    auto shared = std::make_shared<Shared>();
    std::atomic<bool> finished{false};
    dialog.setLabelText(label);
    dialog.setValue(0);
    std::thread t([&] {
        try {
            work(*shared);
        } catch (...) {
            shared->error = std::current_exception();
        }
        finished.store(true);
    });
    while (!finished.load()) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
        if (dialog.wasCanceled()) shared->cancel.store(true);
        const size_t total = shared->total.load();
        if (total > 0) {
            dialog.setMaximum(int(std::min<size_t>(total, INT_MAX)));
            dialog.setValue(int(std::min(shared->done.load(), total - 1)));
        }
        QThread::msleep(20);
    }
    t.join();
    return shared->error;
}

void reportError(QWidget* parent, std::exception_ptr err) {
    try {
        std::rethrow_exception(err);
    } catch (const std::exception& e) {
        QMessageBox::warning(parent, QStringLiteral("Export"), QString::fromUtf8(e.what()));
    }
}

struct AuditOutcome {
    nlohmann::json report;
    bool cancelled = false;
};

// The audit the export renders from, with the inspector's loader settings.
bool auditForExport(QWidget* parent, QProgressDialog& dialog, const Session& session,
                    AuditOutcome& out) {
    // Non-owning: the modal dialog keeps the user from replacing the dataset
    // while the audit runs, so the session's copy outlives this pointer.
    std::shared_ptr<const Dataset> ds(session.dataset(), [](const Dataset*) {});
    const Pipeline pipeline = session.pipeline();
    AuditOptions opts;
    opts.batchSize = std::max(1, session.loaderSettings().batchSize);
    opts.workers = std::max(0, session.loaderSettings().workers);
    opts.seed = session.loaderSettings().seed;
    auto err = runWithProgress(dialog, QStringLiteral("Auditing the dataset…"), [&](Shared& s) {
        AuditEngine engine(pipeline);
        const AuditRun run = runAudit(
            ds, pipeline, opts, engine,
            [&](const AuditProgress& p) {
                s.total.store(p.total);
                s.done.store(p.done);
            },
            &s.cancel);
        ReportContext ctx;
        ctx.dataset = ds.get();
        ctx.pipeline = &pipeline;
        ctx.options = opts;
        ctx.run = run;
        out.report = buildReport(engine, ctx);
        out.cancelled = run.cancelled;
    });
    if (err) {
        reportError(parent, err);
        return false;
    }
    return !out.cancelled;
}

enum class Outcome { Done, Cancelled, Failed };

// Runs one export writer on a thread behind the dialog, wiring its
// progress and Cancel. A failure has been shown to the user already.
Outcome renderWithProgress(QWidget* parent, QProgressDialog& dialog, const QString& label,
                        const std::function<bool(const ExportProgressFn&)>& writer) {
    bool completed = false;
    auto err = runWithProgress(dialog, label, [&](Shared& s) {
        completed = writer([&](size_t done, size_t total) {
            s.total.store(total);
            s.done.store(done);
            return !s.cancel.load();
        });
    });
    dialog.hide();
    if (err) {
        reportError(parent, err);
        return Outcome::Failed;
    }
    return completed ? Outcome::Done : Outcome::Cancelled;
}

}  // namespace

void exportAllAnomalies(QWidget* parent, const Session& session) {
    if (!session.dataset()) {
        QMessageBox::information(parent, QStringLiteral("Export"), QStringLiteral("Open a dataset first."));
        return;
    }
    const QString dir = QFileDialog::getExistingDirectory(
        parent, QStringLiteral("Export all anomalies into folder"));
    if (dir.isEmpty()) return;
    QProgressDialog dialog(parent);
    dialog.setWindowTitle(QStringLiteral("Export all anomalies"));
    dialog.setWindowModality(Qt::WindowModal);
    dialog.setMinimumDuration(0);
    AuditOutcome audit;
    if (!auditForExport(parent, dialog, session, audit)) return;

    ExportOptions options;
    const QStringList exist = existingTargets(dir, audit.report, options);
    if (!exist.isEmpty()) {
        dialog.hide();
        const auto answer = QMessageBox::question(
            parent, QStringLiteral("Replace files?"),
            QStringLiteral("%1 file(s) of this export already exist in %2, e.g. %3.\nReplace them?")
                .arg(exist.size())
                .arg(QDir::toNativeSeparators(dir), QFileInfo(exist.front()).fileName()),
            QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
        if (answer != QMessageBox::Yes) return;
        options.overwrite = true;
        dialog.show();
    }
    const Pipeline pipeline = session.pipeline();
    const Outcome outcome =
        renderWithProgress(parent, dialog, QStringLiteral("Rendering screenshots…"),
                           [&](const ExportProgressFn& progress) {
                               return exportFolder(*session.dataset(), pipeline, audit.report, dir,
                                                   options, progress);
                           });
    if (outcome == Outcome::Failed) return;
    if (outcome == Outcome::Cancelled) {
        QMessageBox::information(parent, QStringLiteral("Export"),
                                 QStringLiteral("Cancelled; the screenshots written so far stay in %1.")
                                     .arg(QDir::toNativeSeparators(dir)));
        return;
    }
    QMessageBox::information(parent, QStringLiteral("Export"),
                             QStringLiteral("Wrote %1 screenshot(s), index.html and report.json to %2.")
                                 .arg(planShots(audit.report, options).size())
                                 .arg(QDir::toNativeSeparators(dir)));
}

void exportHtmlReport(QWidget* parent, const Session& session) {
    if (!session.dataset()) {
        QMessageBox::information(parent, QStringLiteral("Export"), QStringLiteral("Open a dataset first."));
        return;
    }
    // The file dialog itself asks before replacing an existing file.
    const QString path = QFileDialog::getSaveFileName(parent, QStringLiteral("Export report"),
                                                      QStringLiteral("batchscope-report.html"),
                                                      QStringLiteral("HTML (*.html)"));
    if (path.isEmpty()) return;
    QProgressDialog dialog(parent);
    dialog.setWindowTitle(QStringLiteral("Export report"));
    dialog.setWindowModality(Qt::WindowModal);
    dialog.setMinimumDuration(0);
    AuditOutcome audit;
    if (!auditForExport(parent, dialog, session, audit)) return;
    ExportOptions options;
    options.overwrite = true;  // confirmed by the file dialog
    const Pipeline pipeline = session.pipeline();
    const Outcome outcome =
        renderWithProgress(parent, dialog, QStringLiteral("Rendering the report…"),
                           [&](const ExportProgressFn& progress) {
                               return writeReportHtml(*session.dataset(), pipeline, audit.report,
                                                      path, options, progress);
                           });
    if (outcome == Outcome::Done)
        QMessageBox::information(parent, QStringLiteral("Export"),
                                 QStringLiteral("Wrote %1.").arg(QDir::toNativeSeparators(path)));
}

}  // namespace bs::ui
