// Datasets: the sources batchscope reads samples from, auto-detected from a
// path. Index i of an ImageFolder is the sample `torchvision.datasets.
// ImageFolder(root)[i]` is.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/decode/decode.h"
#include "core/common/types.h"
#include "core/target/target.h"

namespace bs {

enum class DatasetFormat {
    ImageFolder,
    FlatFolder,
    Idx,
    Csv,
    Numpy,
    TensorDump,
    WebDataset,
    Voc,
    Coco,
    Yolo,
    MaskPairs  // with targets (core/dataset/target_datasets.h)
};
// "imagefolder", "folder", "idx", "csv", "numpy", "pt", "webdataset",
// "voc", "coco", "yolo", "maskpairs"
std::string formatName(DatasetFormat f);

// Something found while opening that did not stop the dataset from opening
// (torchvision would have raised for some of them). The anomaly engine turns
// these into findings.
struct DatasetIssue {
    std::string kind;     // "empty_class", "hidden_class", "skipped_file", "unreadable_file",
                          // shards: "truncated_shard", "missing_image", "ambiguous_sample"
                          // targets: "missing_target"
    std::string path;     // file or folder concerned
    std::string message;  // one plain sentence
};

struct OpenOptions {
    DecodeOptions decode;
    // Called from the opening thread with the number of entries listed so far;
    // return false to cancel (openDataset then throws Error("cancelled")).
    std::function<bool(size_t listed)> progress;
    // torchvision dataset roots only: "train" or "test" (empty: train, or
    // test when the root holds only the test files).
    std::string split;
    // CIFAR-100 only: "fine" (default, torchvision's) or "coarse" labels.
    std::string cifar100Labels;
    // WebDataset only: index just the first `maxShards` shards (0: all), for
    // a preview shown while the rest is indexed.
    size_t maxShards = 0;
};

class Dataset {
public:
    virtual ~Dataset() = default;
    virtual DatasetFormat format() const = 0;
    virtual std::string root() const = 0;  // absolute path that was opened
    // The options that, with root(), open this dataset again (a report
    // records them for exports that reopen it). Empty for most formats: a
    // torchvision MNIST root resolves to its split's images file, but a CIFAR
    // root stays a folder holding both splits.
    virtual OpenOptions reopenOptions() const { return {}; }
    virtual size_t size() const = 0;
    // Class names in class_to_idx order; empty when the format has none.
    virtual std::vector<std::string> classes() const { return {}; }
    // Absolute file path of sample i; for array formats "<file>#<i>".
    virtual std::string path(size_t i) const = 0;
    virtual int64_t label(size_t i) const = 0;  // -1 when unlabelled
    // False for already-transformed tensor dumps: there is no raw image.
    virtual bool hasRaw() const { return true; }
    // Decoded sample, 8-bit RGB (or L for single-channel array formats, which
    // torchvision's MNIST hands to transforms as mode 'L'). Thread-safe.
    // Throws DecodeError.
    virtual Image loadRaw(size_t i, DecodeInfo* info = nullptr) const = 0;
    // For datasets without a raw side: the stored tensor (C,H,W). Thread-safe.
    virtual Tensor loadTensor(size_t i) const { throw Error("dataset has no stored tensors"); }
    virtual std::vector<DatasetIssue> issues() const { return {}; }
    // Detection / segmentation formats: what their targets hold, and the
    // targets of sample i in the coordinates of loadRaw(i). Thread-safe.
    // Throws DecodeError for an unreadable mask or annotation.
    virtual TargetSchema targetSchema() const { return {}; }
    virtual Target loadTarget(size_t i) const { return {}; }
};

// Detects the format of `path` and opens it. Throws Error with a one-line
// reason naming the path when it cannot be opened at all.
std::unique_ptr<Dataset> openDataset(const std::string& path, const OpenOptions& options = {});

}  // namespace bs
