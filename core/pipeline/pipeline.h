// Transform pipelines with torchvision 0.14 semantics.
//
// A pipeline is read from a JSON array of stages
//   [{"op": "Resize", "size": 256}, {"op": "ToTensor"}, ...]
// (op = torchvision class name, other keys = its constructor parameters) or
// from the text `print(transforms.Compose([...]))` shows in Python.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/types.h"
#include "core/target/target.h"

namespace bs {

class StageTimer;  // core/common/timing.h

// Identifies one sample draw: the same triple always gives the same random
// parameters, whatever the worker or batch position.
struct RandomContext {
    uint64_t seed = 0;
    int64_t epoch = 0;
    int64_t index = 0;
};

// Deterministic generator for one stage of one sample (seeded from the
// RandomContext and the stage index).
class Rng {
public:
    Rng(const RandomContext& ctx, size_t stageIndex);
    double uniform(double lo, double hi);  // [lo, hi)
    int64_t integer(int64_t lo, int64_t hi);  // inclusive bounds
    bool bernoulli(double p);

private:
    uint64_t state_;
    uint64_t next();
};

// A closed value range; `known == false` means the stage's output cannot be
// predicted (Lambda, TorchScript).
struct ValueRange {
    double lo = 0, hi = 0;
    bool known = false;
    static ValueRange of(double l, double h) { return {l, h, true}; }
    static ValueRange unknown() { return {}; }
};

// Facts about a transform that the judgement (core/audit) and the compare
// engine read, declared by each transform instead of name lists elsewhere.
// Whether it is random is Transform::isRandom(); its output range is
// Transform::expectedRange().
struct TransformTraits {
    // Only moves, selects or blends pixels (resize, crop, flip, pad,
    // grayscale): values keep their range, and a crop of a flat area is flat.
    bool geometric = false;
    // Random, and its draws are choices only (a coin flip), no numbers: equal
    // draws across samples or epochs are expected of it.
    bool discreteDraws = false;
    // The output range cannot be predicted from the input's (Lambda,
    // TorchScript).
    bool unknownRange = false;
    // Takes an 8-bit image and gives a tensor (ToTensor, PILToTensor).
    bool imageToTensor = false;
    // Resampling that may overshoot its input range on float data (bicubic,
    // lanczos).
    bool mayOvershoot = false;
    // Expects float data in [0, 1] (ConvertImageDtype to uint8). Normalize
    // decides from its statistics: see Transform::normalization().
    bool expectsUnitInput = false;
};

// Normalize's parameters as given (one value or one per channel).
struct NormalizeParams {
    std::vector<double> mean, std;
    // The input these statistics were computed on: [0, 1] for a mean/std in
    // [0, 1], 0..255 for larger ones, unknown otherwise. Both the judge and
    // the views read it, so the rule lives here once.
    ValueRange intendedInput() const;
};

class Transform {
public:
    virtual ~Transform() = default;
    virtual std::string op() const = 0;                // torchvision class name
    virtual nlohmann::json params() const = 0;         // constructor parameters
    virtual std::string repr() const;                  // like torchvision's __repr__
    virtual bool isRandom() const { return false; }
    virtual TransformTraits traits() const { return {}; }
    // Mean and std when the stage is a Normalize, null otherwise.
    virtual const NormalizeParams* normalization() const { return nullptr; }
    // Elementwise stages (ToTensor, Normalize): sets `y` to the output for
    // input value `x` on channel `c` (an 8-bit image read as its byte
    // values), with the float operations the stage itself performs, and
    // returns true. Lets the audit derive such a stage's values from its
    // input's byte counts without computing it. False for other stages.
    virtual bool mapValue(float x, int c, float& y) const { return false; }
    // Thread-safe. `drawn` receives the random parameters drawn (crop box,
    // flip...) as an object; left empty by deterministic stages.
    // Throws PipelineError when the input kind does not fit the stage.
    virtual StageValue apply(const StageValue& in, Rng& rng, nlohmann::json& drawn) const = 0;
    // Range of channel `c` of the output given the input's range.
    virtual ValueRange expectedRange(const ValueRange& in, int c) const { return in; }
    // Maps a point of the output (pixel-centre coordinates, x right, y down)
    // back to the input. Returns false when it falls outside the input (in
    // padding). Geometric stages override it; value stages keep the identity.
    virtual bool mapToInput(double& x, double& y, int inW, int inH, int outW, int outH,
                            const nlohmann::json& drawn) const {
        return true;
    }
    // Moves a sample's targets (mask, boxes) as apply() moved its pixels,
    // with the same `drawn` parameters: masks resampled NEAREST unless the
    // stage says otherwise, boxes clipped to the new canvas and those left
    // empty dropped (counted in droppedBoxes). inW x inH is the stage's
    // input size; outW/outH its output size, -1 when not known (the stage
    // then derives it). Photometric stages keep the identity.
    virtual Target applyToTarget(const Target& in, int inW, int inH, int outW, int outH,
                                 const nlohmann::json& drawn) const {
        return in;
    }
};

// "stage K" for the transform at 0-based `index`: stages are numbered from 1
// in every message, as in findings ("4:Normalize") and `dump --stage K`.
std::string stageLabel(int index);

class PipelineError : public Error {
public:
    PipelineError(int stage, const std::string& message) : Error(message), stage_(stage) {}
    // 0-based index of the failing transform (its message says "stage
    // index+1"), -1 when not about one stage.
    int stage() const { return stage_; }

private:
    int stage_;
};

class Pipeline {
public:
    Pipeline();
    ~Pipeline();
    Pipeline(const Pipeline&);
    Pipeline& operator=(const Pipeline&);
    Pipeline(Pipeline&&) noexcept;
    Pipeline& operator=(Pipeline&&) noexcept;

    // Auto-detects JSON or torchvision text. `baseDir` resolves relative
    // TorchScript paths. Throws PipelineError naming the stage and what is
    // accepted.
    static Pipeline parse(const std::string& text, const std::string& baseDir = ".");
    static Pipeline fromJson(const nlohmann::json& stages, const std::string& baseDir = ".");
    static Pipeline fromTorchvisionText(const std::string& text, const std::string& baseDir = ".");
    // Lenient variant: stages whose op is unknown (or a Lambda(), whose code
    // the text does not hold) are skipped and their printed names appended
    // to `unknownStages` instead of throwing. Other errors still throw.
    static Pipeline fromTorchvisionText(const std::string& text, const std::string& baseDir,
                                        std::vector<std::string>* unknownStages);
    static Pipeline loadFile(const std::string& path);
    // Stage JSON: one object with "op" and the constructor parameters.
    static std::shared_ptr<const Transform> makeTransform(const nlohmann::json& stage, int index,
                                                          const std::string& baseDir = ".");
    // Names of all supported ops, for help text and the UI's "add stage".
    static std::vector<std::string> supportedOps();

    nlohmann::json toJson() const;
    std::string repr() const;  // torchvision's Compose(...) text
    size_t size() const;
    bool empty() const { return size() == 0; }
    const Transform& stage(size_t i) const;
    bool isRandom() const;
    void append(std::shared_ptr<const Transform> t);
    // A disabled stage ({"enabled": false} in JSON, the UI's toggle) passes
    // its input through unchanged; it keeps its index and its slot in
    // Result::stages / Result::drawn (an empty object for it).
    bool isEnabled(size_t i) const;
    void setEnabled(size_t i, bool enabled);

    // Which stage values a run keeps: keep[k] for the value after the first
    // k transforms (0 = the input). Empty: none.
    using StageMask = std::vector<bool>;
    StageMask keepAll() const { return StageMask(size() + 1, true); }
    // Whether transforms i and i + 1 have a fused pass (Resize+CenterCrop on
    // an image, ToTensor+Normalize), taken when the value between them is
    // not kept.
    bool fusesWithNext(size_t i) const;

    // A caller-owned destination for the final output (a batch row): when
    // the output is exactly `shape` and comes from the fused
    // ToTensor+Normalize, it is written there, not allocated. With
    // `shapeOnly` the caller reads only the output's shape (the audit's scan,
    // which derives those stages from the crop's byte counts): a fused
    // ToTensor+Normalize that accepts its input, and so cannot fail, then
    // computes no values at all.
    struct OutputRow {
        float* data = nullptr;
        std::vector<int64_t> shape;
        bool shapeOnly = false;
    };

    struct Result {
        StageValue output;
        // With a non-empty mask: one entry per stage value (input, then after
        // each transform), stages[k] the value after the first k transforms;
        // values not kept are empty images.
        std::vector<StageValue> stages;
        std::vector<nlohmann::json> drawn;  // one per transform applied
        // (width, height) of the input then of each value after a transform
        // applied, the values a fused pair skips included.
        std::vector<std::pair<int, int>> sizes;
        // The output's values are in OutputRow::data, or were not computed
        // (OutputRow::shapeOnly); `output` holds only its shape.
        bool outputInRow = false;
    };
    // Applies the first `stopAfter` transforms (all by default). Throws
    // PipelineError naming the failing stage. keepStages keeps every stage
    // value (and so never fuses).
    Result run(StageValue input, const RandomContext& ctx, bool keepStages = false,
               size_t stopAfter = std::numeric_limits<size_t>::max()) const;
    // Keeps the stage values of `keep`. Resize+CenterCrop and
    // ToTensor+Normalize are fused (bit-identical, faster) where the value
    // between them is not kept.
    Result run(StageValue input, const RandomContext& ctx, const StageMask& keep,
               size_t stopAfter = std::numeric_limits<size_t>::max(),
               const OutputRow* row = nullptr) const;

    // Optional accounting of the time spent in each stage (batchscope
    // bench); null (the default) disables it.
    void setTimer(std::shared_ptr<StageTimer> timer) { timer_ = std::move(timer); }
    StageTimer* timer() const { return timer_.get(); }

private:
    bool runFused(size_t i, const Image& in, StageValue& out, const OutputRow* row,
                  bool& inRow) const;

    std::vector<std::shared_ptr<const Transform>> stages_;
    std::vector<bool> enabled_;
    std::shared_ptr<StageTimer> timer_;
};

}  // namespace bs
