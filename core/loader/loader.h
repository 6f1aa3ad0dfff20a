// The DataLoader: batches of pipeline outputs with per-sample provenance.
//
// A batch is by construction the stack of its samples' individual outputs
// (each sample is computed alone, then copied into its slot); the tests and
// the audit check that equality, which is batchscope's proof that batching
// corrupts nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dataset/dataset.h"
#include "core/pipeline/pipeline.h"
#include "core/common/types.h"

namespace bs {

struct LoaderOptions {
    int batchSize = 64;
    bool shuffle = false;
    uint64_t seed = 0;
    bool dropLast = false;
    int workers = 0;   // 0 = inline on the calling thread
    int prefetch = 2;  // batches computed ahead when iterating
    int64_t epoch = 0;
};

// Everything about how one sample was produced.
struct SampleRecord {
    size_t index = 0;  // dataset index
    std::string path;
    int64_t label = -1;
    int worker = 0;
    int64_t epoch = 0;
    nlohmann::json drawn = nlohmann::json::array();  // per transform
    DecodeInfo decode;
    double seconds = 0;  // decode + transform time
    // Set when the sample could not be produced; it is then not in the batch.
    std::string error;
    std::string errorKind;  // "unreadable_file", "truncated_image", "oversized_image", "pipeline"
    int errorStage = -1;    // transform index for pipeline errors, -1 for loading
};

struct CollateError {
    std::string message;  // like default_collate's "stack expects each tensor to be equal size"
    std::vector<size_t> indices;
    std::vector<std::vector<int64_t>> shapes;
};

struct Batch {
    size_t number = 0;  // batch position within the epoch
    Tensor data;        // (N, C, H, W) stack of the successful samples
    std::vector<int64_t> labels;
    std::vector<SampleRecord> samples;  // all samples of the batch, failed ones included
    std::vector<size_t> stacked;        // positions in `samples` that are rows of `data`
    std::optional<CollateError> collateError;
    double seconds = 0;  // wall time to build the batch
};

// One sample through the pipeline, alone. Never throws for sample-level
// problems: they end up in `record.error`.
struct SampleResult {
    SampleRecord record;
    Image raw;                       // decoded image; only kept when keepStages / keepRaw
    Tensor output;                   // final output as CHW float
    // With a stage mask (Pipeline::run): input then after each transform;
    // values not kept are empty images.
    std::vector<StageValue> stages;
    // Detection / segmentation datasets: the sample's targets beside each
    // kept stage value (targets[k] belongs to stages[k]; its mask has the
    // size of that stage's image) and after the last stage. Empty for
    // datasets without targets. targets[0] (as read) is always filled;
    // targets[k] for each kept stage value; outputTarget after the run.
    std::vector<Target> targets;
    Target outputTarget;
    // (width, height) of each stage value (Pipeline::Result::sizes).
    std::vector<std::pair<int, int>> stageSizes;
    bool outputInRow = false;  // the output's values went to SampleOptions::row
};

// The targets of one sample through transform `i` of `pipeline`, with the
// sizes (Pipeline::Result::sizes) and draws of the image's own run.
Target targetThroughStage(const Pipeline& pipeline, size_t i, const Target& in,
                          const std::vector<std::pair<int, int>>& sizes,
                          const nlohmann::json& drawn);

struct SampleOptions {
    Pipeline::StageMask keep;  // stage values to keep (Pipeline::run); empty: none
    bool keepRaw = false;      // a copy of the decoded image in SampleResult::raw
    size_t stopAfter = std::numeric_limits<size_t>::max();
    const Pipeline::OutputRow* row = nullptr;  // where the output may be written
};

// keepStages keeps the decoded image and every stage value.
SampleResult processSample(const Dataset& dataset, const Pipeline& pipeline, size_t index,
                           const RandomContext& ctx, bool keepStages = false,
                           size_t stopAfter = std::numeric_limits<size_t>::max());
SampleResult processSample(const Dataset& dataset, const Pipeline& pipeline, size_t index,
                           const RandomContext& ctx, const SampleOptions& options);

// What Loader::batch keeps of its samples for a viewer: the stage values its
// judge reads (AuditEngine::stagesRead) for every sample, and everything
// (every stage, the decoded image) for the one sample it shows. A stage
// value is hundreds of KiB: keeping all of them for 64 samples cost a
// third of the inspector's time per batch, and most were never looked at.
struct KeepPlan {
    Pipeline::StageMask stages;
    std::optional<size_t> wholeIndex;  // dataset index kept whole
};

class Loader {
public:
    Loader(std::shared_ptr<const Dataset> dataset, Pipeline pipeline, LoaderOptions options);
    ~Loader();
    Loader(const Loader&) = delete;
    Loader& operator=(const Loader&) = delete;

    const LoaderOptions& options() const;
    size_t numBatches() const;
    // Dataset indices of batch b in this epoch (shuffled with the seed/epoch).
    std::vector<size_t> batchIndices(size_t b) const;
    const std::vector<size_t>& order() const;
    // Builds batch b, using the worker threads. Thread-safe. `cancel` may be
    // polled between samples. With `kept`, every sample's result is handed
    // back there in batch order, so that a viewer can judge and show the
    // batch without computing its samples again. Without a plan each is
    // whole (every stage, the decoded image, its own output tensor). With
    // one, the sample at plan->wholeIndex is whole; the others keep the
    // stages of plan->stages, and their output's values live only in their
    // row of the batch (`output` keeps the shape), written there directly.
    Batch batch(size_t b, const std::atomic<bool>* cancel = nullptr,
                std::vector<SampleResult>* kept = nullptr, const KeepPlan* plan = nullptr) const;
    // Sequential iteration with prefetch of the next `prefetch` batches.
    // Returns false at the end of the epoch.
    bool next(Batch& out);
    // Hands a batch from batch() back once read: its buffer serves a later
    // batch, which spares a fresh tens-of-MiB allocation (its page faults
    // and zeroing). next() does this by itself with the batch it overwrites.
    void recycle(Batch&& done) const;
    // Buffers handed back and not yet taken by a batch (at most two).
    size_t buffersWaiting() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A batch to share among viewers whose buffer goes back to `loader`
// (Loader::recycle) when its last holder lets go, if the loader still
// exists: a window that keeps a few batches then stops taking a fresh
// buffer for each new one.
std::shared_ptr<const Batch> shareRecycled(Batch&& batch, std::weak_ptr<const Loader> loader);

// Stacks CHW tensors into NCHW. Returns nullopt and fills `error` when the
// shapes differ.
std::optional<Tensor> stackTensors(const std::vector<const Tensor*>& items,
                                   const std::vector<size_t>& indices, CollateError* error);

}  // namespace bs
