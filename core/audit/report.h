// The audit report: one JSON document that the CLI writes (--report), the
// GUI shows, and the screenshot/HTML exporters render from, plus the short
// human summary the CLI prints.
//
// Report layout (keys are stable; consumers should ignore unknown keys):
//   tool      {name: "batchscope", version}
//   dataset   {path, format, samples, classes: [names], has_raw, split?,
//              cifar100_labels?}  (Dataset::reopenOptions: what reopens it)
//   pipeline  {stages: [{op, ...params}], repr, default: bool, note?}
//             stage k of findings/stats = the first k transforms applied,
//             k from 1 ("4:Normalize"); stage 0 = decoded input
//   options   {batch_size, workers, seed, epochs, limit}
//   settings  AuditSettings::toJson()
//   run       {cancelled, scanned, total, seconds}
//   stats     [{stage, name, op?, samples, expected: [[lo,hi]|null per channel],
//               channels: [{count,min,max,mean,std,nan,pos_inf,neg_inf,
//                           histogram: {lo,hi,bins[256],below,above}}]}]
//   findings  [{kind, severity, stage, message, count, samples: [{index, path,
//               detail?}], index?, path? (when about one sample), evidence}]
//   summary   {findings, by_severity: {error,warning,info}, samples_by_severity,
//              by_kind: {kind: samples}, samples_scanned}
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/audit/anomaly.h"
#include "core/audit/audit.h"
#include "core/dataset/dataset.h"
#include "core/pipeline/pipeline.h"

namespace bs {

struct ReportContext {
    const Dataset* dataset = nullptr;
    const Pipeline* pipeline = nullptr;
    bool defaultPipeline = false;  // no pipeline given: the default was used
    std::string pipelineNote;      // e.g. "no --pipeline: using [ToTensor]"
    AuditOptions options;
    AuditRun run;
};

nlohmann::json buildReport(const AuditEngine& engine, const ReportContext& context);

// The options that open the report's dataset as the audit did (its split,
// CIFAR-100's label kind), for exports that need the images again.
OpenOptions reportOpenOptions(const nlohmann::json& report);

// Counts by severity and the top `top` findings, each with its stage and one
// example path; a few lines of plain text ending with a newline.
std::string humanSummary(const nlohmann::json& report, size_t top = 10);

// Highest severity present in the report's findings, or -1 when none.
int worstSeverity(const nlohmann::json& report);

// Writes JSON (2-space indent) atomically (temp file + rename). Throws Error.
void writeJsonFile(const std::string& path, const nlohmann::json& j);

}  // namespace bs
