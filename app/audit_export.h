// `batchscope audit --screenshots DIR / --html OUT.html`: the headless
// exports of issue 5, kept out of cmd_audit.cpp (ui/render/exporter.h does the work).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/dataset/dataset.h"
#include "core/pipeline/pipeline.h"

namespace bs::cli {

struct AuditExportRequest {
    std::string screenshots;  // folder; empty = no screenshots
    std::string html;         // file; empty = no HTML report
    bool overwrite = false;
    int perFinding = 3;
    bool any() const { return !screenshots.empty() || !html.empty(); }
};

// Targets known to exist before the scan (the HTML file, index.html and
// report.json of the folder): a one-line reason, or empty when all is well.
std::string exportConflict(const AuditExportRequest& request);

// Renders on the offscreen platform and writes the exports. Returns 0, or
// the status of fail("audit", reason).
int writeAuditExports(const AuditExportRequest& request, const Dataset& dataset,
                      const Pipeline& pipeline, const nlohmann::json& report, int argc,
                      char** argv);

}  // namespace bs::cli
