#include "audit_export.h"

#include <QDir>
#include <QFileInfo>
#include <QGuiApplication>

#include <memory>

#include "cli.h"
#include "ui/render/exporter.h"

namespace bs::cli {

std::string exportConflict(const AuditExportRequest& r) {
    if (r.overwrite) return {};
    if (!r.html.empty() && QFileInfo::exists(QString::fromStdString(r.html)))
        return r.html + " already exists; pass --overwrite to replace it";
    if (!r.screenshots.empty()) {
        const QDir d(QString::fromStdString(r.screenshots));
        for (const char* name : {"index.html", "report.json"})
            if (QFileInfo::exists(d.filePath(QString::fromLatin1(name))))
                return d.filePath(QString::fromLatin1(name)).toStdString() +
                       " already exists; pass --overwrite to replace the export";
    }
    return {};
}

int writeAuditExports(const AuditExportRequest& r, const Dataset& dataset,
                      const Pipeline& pipeline, const nlohmann::json& report, int argc,
                      char** argv) {
    // QPainter text needs a QGuiApplication; the offscreen platform needs no
    // display, so the same rendering runs on a CI machine.
    std::unique_ptr<QGuiApplication> app;
    if (!QGuiApplication::instance()) {
        qputenv("QT_QPA_PLATFORM", "offscreen");
        static int qargc = 1;
        static char* qargv[] = {argc > 0 ? argv[0] : const_cast<char*>("batchscope"), nullptr};
        app = std::make_unique<QGuiApplication>(qargc, qargv);
    }
    ui::ExportOptions options;
    options.samplesPerFinding = r.perFinding;
    options.overwrite = r.overwrite;
    try {
        if (!r.screenshots.empty()) {
            const QString dir = QString::fromStdString(r.screenshots);
            ui::exportFolder(dataset, pipeline, report, dir, options);
            std::fprintf(stderr, "batchscope audit: wrote %zu screenshot(s), index.html and report.json to %s\n",
                         ui::planShots(report, options).size(), r.screenshots.c_str());
        }
        if (!r.html.empty()) {
            ui::writeReportHtml(dataset, pipeline, report, QString::fromStdString(r.html), options);
            std::fprintf(stderr, "batchscope audit: wrote %s\n", r.html.c_str());
        }
    } catch (const std::exception& e) {
        std::string msg = e.what();
        if (msg.find("already exists") != std::string::npos) msg += " (pass --overwrite to replace)";
        return fail("audit", msg);
    }
    return 0;
}

}  // namespace bs::cli
