// The inspector's "Export all anomalies…" and "Export report…" (issue 5):
// audit the open dataset with the current pipeline, then write the export of
// ui/render/exporter.h, on a worker thread behind a modal progress dialog with
// Cancel. Existing files are only replaced after asking.
#pragma once

class QWidget;

namespace bs::ui {

class Session;

// Folder chooser, audit, overwrite question, PNGs + index.html + report.json.
void exportAllAnomalies(QWidget* parent, const Session& session);
// File chooser (which asks before replacing), audit, one self-contained HTML.
void exportHtmlReport(QWidget* parent, const Session& session);

}  // namespace bs::ui
