// The anomaly engine: batchscope's judgement of a dataset and a pipeline.
//
// An AuditEngine is told about the dataset once (observeDataset), then fed
// every sample (observeSample, with the intermediate stage values of
// processSample(..., keepStages = true), or at least those of stagesRead())
// and every batch (observeBatch), in
// any order and from any number of threads; finish() turns what it saw into
// grouped findings. The audit driver (core/audit/audit.h) and the GUI feed it the
// same way. Engines built for the same pipeline can be merged.
//
// Stage names in findings: "file", "decode", "collate", "dataset", "loader",
// or "<k>:<Op>" for transform k of the pipeline, numbered FROM 1 (k is the
// number of transforms applied, the same K as `batchscope dump --stage K`:
// "4:Normalize" is the fourth transform).
//
// Memory is bounded: per sample the engine keeps a 64-bit pixel hash, the
// dataset index and the label (24 bytes, duplicate detection) and, for random
// pipelines whose draws hold numbers (crop boxes; coin flips are ignored),
// 24 bytes per random stage plus 24 bytes per epoch (repeated_augmentation).
// For 100,000 samples: 2.4 MB for a deterministic pipeline; 7.2 MB for
// RandomResizedCrop + RandomHorizontalFlip over 2 epochs. Everything else
// (per-stage statistics and 256-bin histograms, findings with capped sample
// lists) has a fixed size independent of the dataset size. Each sample named
// by a finding adds 8 bytes (its index; reports list every sample).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/dataset/dataset.h"
#include "core/loader/loader.h"
#include "core/pipeline/pipeline.h"
#include "core/audit/findings.h"
#include "core/audit/stats.h"

namespace bs {

struct AuditEngineState;  // core/audit/engine_state.h

// Thresholds of the judgement rules. Keys of the JSON settings file and of
// the CLI overrides (`--extreme-margin 0.1` sets "extreme_margin") are the
// snake_case names listed by describe().
struct AuditSettings {
    // extreme_values: allowed excursion outside a stage's expected range, as a
    // fraction of that range's span (bicubic overshoot, rounding).
    double extremeMargin = 0.05;
    // extreme_values for stages of unknown range (Lambda, TorchScript): output
    // magnitude over this many times the input magnitude (at least 1).
    double unknownGrowth = 1000;
    // collapsed_range: output spread below this fraction of the expected span
    // (or, for unknown-range stages, of the input's spread) ...
    double collapseFraction = 1e-3;
    // ... while the input covered at least this fraction of its own span.
    double collapseInputFraction = 1e-2;
    // collapsed_range for Normalize: span of its output for the full input
    // range, (hi - lo) / std, below this (a correct one gives ~4).
    double normalizeMinSpan = 0.5;
    // extreme_values for Normalize: |x| of its output above this. Its own
    // nominal range follows from its std, so a std far too small would
    // otherwise look in range.
    double normalizeMaxAbs = 50;
    // unscaled_input: a stage expecting [0,1] receives non-negative values
    // with a maximum above this.
    double unscaledMax = 1.5;
    // double_normalization: a Normalize's input has values below this.
    double doubleNormMin = -0.25;
    // normalization_mismatch: dataset-wide mean after the last Normalize
    // further than this from 0, or std off by more than this factor from 1.
    double normMeanTolerance = 1.0;
    double normStdFactor = 2.0;
    // class_imbalance: largest class / smallest non-empty class above this.
    double imbalanceRatio = 10;
    // Samples listed per grouped finding.
    int maxSamplesPerFinding = 20;
    // repeated_augmentation: share of samples repeating their random draws.
    double repeatedShare = 0.5;
    // Loader self-checks of the audit driver.
    int loaderCheckBatches = 3;
    int replaySamples = 6;

    nlohmann::json toJson() const;
    // Unknown keys or wrong types throw Error naming the key.
    void applyJson(const nlohmann::json& j);
    static AuditSettings loadFile(const std::string& path);  // throws Error
    // Sets one setting from text (`name` snake_case or with dashes).
    // Returns false when `name` is not a setting; throws Error on a bad value.
    bool set(const std::string& name, const std::string& value);
    // (name, help) of every setting, for --help.
    static std::vector<std::pair<std::string, std::string>> describe();
};

struct FindingSample {
    size_t index = 0;
    std::string path;
    nlohmann::json detail;  // per-sample evidence (observed range, shapes...)
};

struct Finding {
    std::string kind;
    Severity severity = Severity::Warning;
    std::string stage;
    // The transform blamed, numbered from 1 as in `stage` ("4:Normalize" is
    // 4); 0 when the stage is not a transform (decode, collate, dataset...).
    // Not in toJson(): the report names the stage by `stage` alone.
    int stageNumber = 0;
    std::string message;  // one plain sentence with the numbers
    size_t count = 0;     // samples (or items) concerned
    std::vector<FindingSample> samples;  // capped, smallest indices first, with detail
    // The samples beyond the capped list (index and path only), so that
    // reports can list every sample; smallest indices first.
    std::vector<FindingSample> moreSamples;
    nlohmann::json evidence = nlohmann::json::object();
    nlohmann::json toJson() const;
};

class AuditEngine {
public:
    explicit AuditEngine(const Pipeline& pipeline, AuditSettings settings = {});
    ~AuditEngine();
    AuditEngine(const AuditEngine&) = delete;
    AuditEngine& operator=(const AuditEngine&) = delete;

    const AuditSettings& settings() const;

    // Dataset-level facts: format, open issues, class sizes (from labels of
    // the whole dataset). Call once, before or after the samples.
    void observeDataset(const Dataset& dataset);
    // One sample; `stages` should be present (keepStages, or at least the
    // values of stagesRead()) for the per-stage checks. Thread-safe; the statistics are
    // computed outside the engine's lock. Samples of epochs > 0 only feed the
    // augmentation checks.
    void observeSample(const SampleResult& sample);
    // The stage values observeSample reads (processSample's SampleOptions::keep):
    // values that follow elementwise from an 8-bit image (ToTensor, Normalize
    // after it) are derived from its byte counts and need not be kept.
    Pipeline::StageMask stagesRead() const;
    // The same for `pipeline` on a dataset with (rawInput) or without
    // decoded 8-bit images, before any engine exists (a viewer that keeps
    // what its judge will read).
    static Pipeline::StageMask stagesRead(const Pipeline& pipeline, bool rawInput);
    // One batch (collate errors; per-sample errors are taken from samples).
    void observeBatch(const Batch& batch);
    // A finding decided outside the engine (loader checks of the driver).
    void addFinding(const std::string& kind, const std::string& stage, size_t index,
                    const std::string& path, const nlohmann::json& detail,
                    const std::string& message);
    void merge(const AuditEngine& other);
    // Sharded audits (core/audit/partial.h): the accumulated state as plain
    // data, and the reverse (adds a part's state to this engine, as merge).
    AuditEngineState exportState() const;
    void mergeState(const AuditEngineState& part);

    // Computes dataset-level findings and messages. Idempotent; observing
    // more samples afterwards and calling finish() again is allowed.
    void finish();
    std::vector<Finding> findings() const;  // after finish(): by severity, kind, stage
    size_t samplesObserved() const;
    // Per-stage statistics: [{stage, name, expected: [[lo,hi]...], channels:
    // [ChannelStats json + histogram]}], stage 0 being the decoded input.
    nlohmann::json statsJson() const;
    // {"findings": [...], "stats": [...], "summary": {...}}
    nlohmann::json toJson() const;

    // Name of pipeline stage k (0 = the decoded input / stored tensor).
    std::string stageName(size_t k) const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace bs
