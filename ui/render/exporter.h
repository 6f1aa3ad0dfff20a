// Headless export of an audit (issue 5): one composed screenshot per finding
// sample, an index.html gallery and report.json in a folder, or one
// self-contained HTML report. Plain functions on QImage/QPainter: they need a
// QGuiApplication (the offscreen platform is enough), no widgets. The report
// JSON (core/audit/report.h) is the source of every text shown; samples are
// recomputed with processSample(keepStages) to render them.
#pragma once

#include <QImage>
#include <QString>
#include <QStringList>

#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dataset/dataset.h"
#include "core/pipeline/pipeline.h"

namespace bs::ui {

struct ExportOptions {
    int samplesPerFinding = 3;  // grouped findings: screenshots of the first N samples
    bool overwrite = false;     // otherwise existing target files are an error
    int panel = 384;            // screenshot panel side (shown at 100% in both pages)
};

// One screenshot to write: report.findings[finding].samples[sample].
struct PlannedShot {
    size_t finding = 0;
    size_t sample = 0;
    QString file;  // file name inside the export folder
};

// The screenshots an export writes, in report order (findings naming no
// sample get none). Names are "<nn>-<kind>-<index>.png".
std::vector<PlannedShot> planShots(const nlohmann::json& report, const ExportOptions& options);
// Every file exportFolder would write into `dir` that already exists.
QStringList existingTargets(const QString& dir, const nlohmann::json& report,
                            const ExportOptions& options);

// The composed screenshot of report.findings[finding].samples[sample]: the
// sample recomputed through the pipeline, the value at the blamed stage
// rendered against the range the finding was judged by (else the stage's
// expected range), with the overlay on.
QImage renderFindingShot(const Dataset& dataset, const Pipeline& pipeline,
                         const nlohmann::json& report, size_t finding, size_t sample,
                         int panel = 384);

// `progress(done, total)` is called before each file; returning false
// cancels (files already written stay). Returns false when cancelled.
using ExportProgressFn = std::function<bool(size_t done, size_t total)>;

// Writes the planned PNGs, index.html and report.json into `dir` (created if
// missing). Throws bs::Error naming the file when a target exists and
// !options.overwrite (before anything is written) or cannot be written.
bool exportFolder(const Dataset& dataset, const Pipeline& pipeline, const nlohmann::json& report,
                  const QString& dir, const ExportOptions& options,
                  const ExportProgressFn& progress = {});

// The gallery page of exportFolder (references exactly planShots' files).
QString galleryHtml(const nlohmann::json& report, const ExportOptions& options);

// One self-contained HTML document: summary, pipeline, per-stage statistics
// with inline SVG histograms, every finding with its screenshots embedded as
// data: URIs. Returns an empty string when cancelled.
QString reportHtml(const Dataset& dataset, const Pipeline& pipeline, const nlohmann::json& report,
                   const ExportOptions& options, const ExportProgressFn& progress = {});
// reportHtml written to `path`; throws bs::Error when it exists and
// !options.overwrite, or cannot be written. False when cancelled.
bool writeReportHtml(const Dataset& dataset, const Pipeline& pipeline,
                     const nlohmann::json& report, const QString& path,
                     const ExportOptions& options, const ExportProgressFn& progress = {});

// Escapes &, <, >, " and ' for HTML text and attribute values.
QString htmlEscape(const QString& s);

}  // namespace bs::ui
