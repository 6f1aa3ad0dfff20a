// Comparing batches dumped from the user's own PyTorch loader (by
// python/batchscope_dump.py) with batchscope's reproduction of the same
// samples: "is it the DataLoader, my code, which sample, which stage?"
//
// A dump folder holds manifest.json and one .pt per batch (a dict with
// images, indices, workers and optionally labels tensors). Reproduction uses
// the dataset root from the manifest (or an override) and the pipeline
// parsed from the manifest's printed transform (or a pipeline file).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/audit/anomaly.h"
#include "core/dataset/dataset.h"
#include "core/pipeline/pipeline.h"
#include "core/target/target.h"
#include "core/common/types.h"

namespace bs {

// One batch entry of manifest.json.
struct DumpBatchInfo {
    std::string file;     // .pt file name inside the dump folder
    std::string variant;  // "main", "epoch2" or "workers0"
    int64_t epoch = 0;
    int64_t batch = 0;             // position within its epoch
    std::vector<int64_t> indices;  // base-dataset indices
    std::vector<int64_t> labels;   // empty when the dump has no labels
    std::vector<int64_t> workers;  // -1 = main process
};

struct DumpManifest {
    std::string dir;  // the dump folder (absolute)
    nlohmann::json raw;
    std::string datasetClass;
    std::string datasetRoot;    // empty when the dataset had no root
    std::string transformText;  // str(dataset.transform); empty when none
    bool hasTargetTransform = false;
    int64_t datasetLength = -1;
    int64_t batchSize = 0;
    int64_t numWorkers = 0;
    std::string sampler;  // sampler class name
    uint64_t seed = 0;
    std::vector<DumpBatchInfo> batches;
    // torchvision's dataset class the user's class is (or derives from), and
    // its split: "train"/"test" (train=True/False), EMNIST's split, QMNIST's what.
    std::string torchvisionClass;
    std::string split;
    std::string emnistSplit;
    // Where the dataset's __getitem__ is written; userCode when not in
    // torch/torchvision (the transform may then live there).
    std::string getitemClass, getitemWhere;
    bool getitemUserCode = false;
    // Samples the helper took out of a batch (getitem_error, invalid_sample,
    // collate_error), as recorded; and the worker RNG probe (null when not run).
    std::vector<nlohmann::json> problems;
    nlohmann::json rngProbe;
    // Where targets come from: VOCSegmentation's year and image set, a COCO
    // annotation file; a joint `transforms=` callable (user code) as printed.
    std::string vocYear, vocImageSet, annotationFile, jointTransform;
};

// Throws Error naming the file when manifest.json is missing or malformed.
DumpManifest readDumpManifest(const std::string& dumpDir);

// The targets of one dumped sample, as the user's loader yielded them.
struct DumpedTarget {
    Tensor mask;             // (H, W), values as dumped (a float mask keeps its fractions)
    std::vector<Box> boxes;  // corners x1 y1 x2 y2 in the dumped image's pixels
    bool hasMask() const { return !mask.empty(); }
};

// The tensors of one batch file. `images` is (N, C, H, W) (or whatever the
// user's collate produced), as float values; dtype kept as UInt8/Float32.
// A detection batch of differently sized images comes as `imageList`.
struct DumpBatchData {
    Tensor images;
    std::vector<Tensor> imageList;
    std::vector<int64_t> indices, labels, workers;
    // Per row, when the batch carries masks or boxes ("masks", "boxes" and
    // "box_labels" in the file); empty otherwise.
    std::vector<DumpedTarget> targets;
    bool hasMasks = false, hasBoxes = false;
    // The masks came as an integer tensor (class ids). A float "mask" may be
    // a regression target (a depth map, a clean image) and is judged as a
    // mask only when the dataset itself has masks.
    bool masksIntegral = false;

    size_t rows() const;
    Tensor image(size_t row) const;  // throws Error for a row outside the batch
};
// Reads a .pt written by torch.save (a dict of tensors, or a single tensor
// which becomes `images`). Throws Error naming the file.
DumpBatchData readDumpBatchFile(const std::string& path);

// Row `row` of an (N, ...) tensor as its own tensor.
Tensor tensorRow(const Tensor& batch, size_t row);

// Element-wise comparison of the user's tensor with a reference.
struct TensorDiff {
    bool shapeMatch = false;
    double maxAbs = 0;   // max |user - reference| (infinite when shapes differ)
    double meanAbs = 0;  // mean |user - reference|
    int64_t over = 0;    // elements differing by more than the tolerance
    int64_t numel = 0;
    std::vector<int64_t> argmax;  // coordinates of maxAbs (same rank as the shape)
    bool within(double tolerance) const { return shapeMatch && maxAbs <= tolerance; }
    nlohmann::json toJson() const;
};
TensorDiff diffTensors(const Tensor& user, const Tensor& reference, double tolerance);
// |user - reference| with the user's shape, for a heatmap. Empty when shapes differ.
Tensor absDifference(const Tensor& user, const Tensor& reference);

// A stage of the printed transform batchscope cannot reproduce.
struct UnknownStage {
    int position = -1;  // position in the printed Compose, from 1
    std::string name;   // "Lambda", "MyTransform"
    std::string text;   // as printed
};

// Splits torchvision's printed Compose(...) into one text per top-level
// stage (a lone transform gives one stage).
std::vector<std::string> splitComposeText(const std::string& text);

struct CompareOptions {
    std::string datasetRoot;   // overrides the manifest's root when set
    std::string pipelineFile;  // overrides the manifest's transform when set
    double tolerance = 1e-3;   // absolute, in the units of the dumped tensors
    int neighbourhood = 8;     // index_mismatch: search index-k .. index+k first
    size_t maxSearch = 20000;  // then a signature scan of at most this many samples
    size_t maxLocalise = 64;   // stage-by-stage localisation for this many samples
    size_t maxJudged = 512;    // samples given to the anomaly engine
};

// Per dumped sample.
struct SampleComparison {
    size_t batch = 0;  // position in manifest().batches
    size_t row = 0;
    int64_t index = -1;
    std::string variant;
    int64_t epoch = 0;
    int64_t worker = -1;
    int64_t label = -1;          // as dumped, -1 when absent
    bool pixelCompared = false;  // false for random or unreproducible pipelines
    TensorDiff diff;             // user vs reproduction (when pixelCompared, or shape only)
    int64_t matchedIndex = -1;   // index whose reproduction the dump matches instead
    int divergenceStage = -1;    // transform number (from 1, as the audit's "k:Op"), -1 unknown
    std::string error;           // reproduction failed (unreadable file, pipeline error)
    nlohmann::json toJson() const;
};

struct CompareReport {
    std::vector<SampleComparison> samples;
    std::vector<Finding> findings;  // the audit's Finding: same report format
    nlohmann::json summary;
    // tool, dataset, pipeline and manifest objects laid out as in the audit
    // report (core/audit/report.h), plus the dump's manifest.
    nlohmann::json context = nlohmann::json::object();
    // {"command": "compare", tool, dataset, pipeline, manifest, "summary",
    //  "findings" (as the audit's), "samples"}
    nlohmann::json toJson() const;
    // True when some finding is at least `severity`.
    bool hasAtLeast(Severity severity) const;
};

// An opened dump with its dataset and pipeline; the GUI steps through it.
// Thread-safe for concurrent const calls.
class CompareSession {
public:
    // Throws Error when the manifest, dataset or pipeline cannot be opened.
    CompareSession(const std::string& dumpDir, const CompareOptions& options = {});
    ~CompareSession();

    const DumpManifest& manifest() const { return manifest_; }
    const Dataset& dataset() const { return *dataset_; }
    const Pipeline& pipeline() const { return pipeline_; }
    const CompareOptions& options() const { return options_; }
    const std::vector<UnknownStage>& unknownStages() const { return unknown_; }
    // Pixel comparison is possible: a dataset, no unknown stage, no random
    // stage, and a transform that does not live in the user's __getitem__.
    bool reproducible() const;
    // False when the dataset could not be opened (no root, unknown layout);
    // dataset() is then an empty stand-in and the tensors are judged alone.
    bool hasDataset() const { return datasetError_.empty(); }
    // Why the user's pipeline is not reproduced (empty when it is).
    std::string unreproducibleReason() const;
    std::string pipelineSource() const { return pipelineSource_; }  // "manifest", file, "default"

    // The user's dumped batch / sample (cached).
    const DumpBatchData& batchData(size_t batch) const;
    Tensor userSample(size_t batch, size_t row) const;
    // batchscope's output for a dataset index (random stages drawn with the
    // manifest's seed and `epoch`). Throws Error when the sample fails.
    Tensor reproduce(int64_t index, int64_t epoch = 0) const;
    // Reproduction with every intermediate stage (stages[0] = input).
    std::vector<StageValue> reproduceStages(int64_t index, int64_t epoch = 0) const;
    // A detection / segmentation sample's targets as the dataset reads them
    // (with the raw image's size) and as batchscope's pipeline moves them.
    // Throws Error when the sample fails.
    struct TargetReproduction {
        Target raw, expected;
        int rawWidth = 0, rawHeight = 0;
    };
    TargetReproduction reproduceTarget(int64_t index, int64_t epoch = 0) const;

    // Compares every dumped sample; `progress(done, total)` returns false to cancel.
    CompareReport run(std::function<bool(size_t, size_t)> progress = {}) const;

private:
    // One sample through the pipeline; throws Error for a bad index or a
    // sample that fails.
    SampleResult compute(int64_t index, int64_t epoch, bool keepStages) const;

    DumpManifest manifest_;
    CompareOptions options_;
    std::unique_ptr<Dataset> dataset_;
    Pipeline pipeline_;
    std::string pipelineSource_;
    std::vector<UnknownStage> unknown_;
    std::string datasetError_;  // why the dataset could not be opened
    mutable std::mutex mutex_;
    mutable std::map<size_t, DumpBatchData> batchCache_;
    mutable std::map<int64_t, Tensor> reproCache_;
};

}  // namespace bs
