// The inspector's "Export all anomalies…" and "Export report…" (issue 5):
// the export of ui/render/exporter.h from the audit the user just ran (else
// a new audit of the open dataset with the current pipeline), as background
// jobs (ui/model/asyncslot.h) behind a window-modal progress dialog with
// Cancel. Both return at once; the export reports when it is done. Existing
// files are only replaced after asking.
#pragma once

class QWidget;

namespace bs::ui {

class Session;

// Folder chooser, audit, overwrite question, PNGs + index.html + report.json.
void exportAllAnomalies(QWidget* parent, const Session& session);
// File chooser (which asks before replacing), audit, one self-contained HTML.
void exportHtmlReport(QWidget* parent, const Session& session);

}  // namespace bs::ui
