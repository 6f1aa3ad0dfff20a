// The streaming audit driver shared by `batchscope audit` and the GUI's
// "Audit whole dataset": every sample goes through processSample (the
// function the Loader's workers run) with the intermediate stages the engine
// reads kept (AuditEngine::stagesRead), on
// `workers` threads, is judged by the AuditEngine and dropped; batches are
// assembled in the Loader's order so collate errors appear as in training.
// The Loader itself is then checked on a few batches: its batch must equal
// the stack of the samples computed alone, and on the first of them
// workers=0 must equal the requested worker count, byte for byte
// (loader_mismatch). A few samples are
// replayed with the same RandomContext (nondeterministic_transform).
//
// Memory: one batch of outputs plus one set of stage values per worker are
// alive at any time; the engine's per-sample state is described in anomaly.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/audit/anomaly.h"
#include "core/dataset/dataset.h"
#include "core/pipeline/pipeline.h"

namespace bs {

struct AuditOptions {
    int batchSize = 64;
    int workers = 0;  // 0 = the calling thread only
    uint64_t seed = 0;
    int epochs = 1;   // epochs > 1 only add the repeated_augmentation check
    size_t limit = 0;  // scan the first `limit` samples; 0 = all
};

struct AuditProgress {
    size_t done = 0;   // samples processed (all epochs)
    size_t total = 0;  // samples to process (all epochs)
    int64_t epoch = 0;
    double seconds = 0;
    const char* phase = "scan";  // "scan", "loader-check", "replay"
};

struct AuditRun {
    bool cancelled = false;
    size_t scanned = 0;  // samples of epoch 0 observed
    size_t total = 0;    // samples that a full run observes in epoch 0
    double seconds = 0;
    nlohmann::json toJson() const;
};

// Runs the audit and calls engine.finish(). `progress` is called from the
// calling thread at least after every batch. Setting `*cancel` stops after
// the batch in flight; the engine then holds what was scanned. Throws Error
// only for invalid options.
AuditRun runAudit(std::shared_ptr<const Dataset> dataset, const Pipeline& pipeline,
                  const AuditOptions& options, AuditEngine& engine,
                  const std::function<void(const AuditProgress&)>& progress = {},
                  const std::atomic<bool>* cancel = nullptr);

}  // namespace bs
