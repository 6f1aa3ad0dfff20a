// Sharded audits: `batchscope audit --shard I/N` audits the I-th of N parts of
// a dataset and writes a partial report; `batchscope merge` combines the N
// partial reports into the report one audit of the whole dataset writes.
//
// Assignment is deterministic: whole shards for WebDataset (shard s goes to
// part s mod N), otherwise a stable 64-bit FNV-1a hash of each sample's path
// relative to the dataset root (mod N), so every machine agrees without
// talking to the others.
//
// A partial report holds the accumulated engine state (core/audit/
// engine_state.h) under "partial_state": every finding with ALL its samples
// (global index and path), the per-stage statistics as mergeable sums
// (count, sum, sum of squared deviations, min, max, non-finite counts) and
// 256-bin histograms, the content hash of every sample (duplicates across
// parts), the part's class sizes and the dataset description.
//
// Limits of the equality with a single audit: collate_error and the loader
// self-checks are judged within each part's own batches, and random
// transforms draw with the part's own sample numbering.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/audit/anomaly.h"
#include "core/audit/engine_state.h"
#include "core/audit/report.h"
#include "core/dataset/dataset.h"

namespace bs {

struct ShardSpec {
    size_t part = 0;  // 0-based
    size_t parts = 1;
    std::string source;  // "--shard", "SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "RANK"
};

// `value` is "I/N", or empty to read the scheduler's environment:
// SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT (or _MIN/_MAX),
// JOB_COMPLETION_INDEX with `numShards` (Kubernetes Indexed Job; 0 = not
// given), RANK with WORLD_SIZE. Throws Error with a one-line reason.
ShardSpec parseShardSpec(const std::string& value, long long numShards,
                         const std::function<const char*(const char*)>& getenv);

// The samples of `dataset` that part `spec` audits (global indices below
// `limit` when limit > 0), as a dataset of its own: index j of the part is
// global index globalIndex(j); paths and labels are the dataset's, open
// issues only those of the part's shards (or all of them in part 0 when the
// dataset is not sharded).
class DatasetPart : public Dataset {
public:
    DatasetPart(std::shared_ptr<const Dataset> base, const ShardSpec& spec, size_t limit);
    DatasetFormat format() const override { return base_->format(); }
    std::string root() const override { return base_->root(); }
    size_t size() const override { return indices_.size(); }
    std::vector<std::string> classes() const override { return base_->classes(); }
    std::string path(size_t i) const override { return base_->path(global(i)); }
    int64_t label(size_t i) const override { return base_->label(global(i)); }
    bool hasRaw() const override { return base_->hasRaw(); }
    Image loadRaw(size_t i, DecodeInfo* info) const override {
        return base_->loadRaw(global(i), info);
    }
    Tensor loadTensor(size_t i) const override { return base_->loadTensor(global(i)); }
    std::vector<DatasetIssue> issues() const override { return issues_; }

    size_t global(size_t i) const;
    const std::vector<size_t>& globalIndices() const { return indices_; }
    const Dataset& base() const { return *base_; }
    const ShardSpec& spec() const { return spec_; }
    const std::string& assignment() const { return assignment_; }  // "shards" or "path_hash"
    size_t shardsInPart() const { return shardsInPart_; }

private:
    std::shared_ptr<const Dataset> base_;
    ShardSpec spec_;
    std::vector<size_t> indices_;
    std::vector<DatasetIssue> issues_;
    std::string assignment_;
    size_t shardsInPart_ = 0;
};

// The partial report of `part`, audited by `engine` (context.dataset is the
// part; the description written is of the whole dataset).
nlohmann::json buildPartialReport(const AuditEngine& engine, const DatasetPart& part,
                                  const ReportContext& context);

// One partial report as the merge needs it: its description (the report
// without its state) and its state, decoded. Read parts one at a time into
// these, so that a merge of many parts never holds all their JSON at once.
struct PartialPart {
    nlohmann::json header;
    AuditEngineState state;
};

// Takes `report` apart (it is consumed). Throws Error naming `name` when it
// is not a partial report, of another version, or its state is damaged.
PartialPart readPartialPart(nlohmann::json&& report, const std::string& name);

// Combines the parts (`names` name them in messages) into the report of one
// audit. Throws Error with a one-line reason naming the part at fault:
// different dataset/pipeline/settings, a part missing or repeated.
nlohmann::json mergePartialReports(std::vector<PartialPart> parts,
                                   const std::vector<std::string>& names);

// One CSV row per affected sample: path,index,kind,severity,stage.
void writeFindingsCsv(const nlohmann::json& report, const std::string& path);

}  // namespace bs
