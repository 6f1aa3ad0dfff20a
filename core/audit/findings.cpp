#include "core/audit/findings.h"

#include "core/common/types.h"

namespace bs {

std::string severityName(Severity s) {
    switch (s) {
        case Severity::Error: return "error";
        case Severity::Warning: return "warning";
        case Severity::Info: break;
    }
    return "info";
}

Severity parseSeverity(const std::string& name) {
    if (name == "error") return Severity::Error;
    if (name == "warning") return Severity::Warning;
    if (name == "info") return Severity::Info;
    throw Error("unknown severity '" + name + "' (expected error, warning or info)");
}

const char* blameName(Blame b) {
    switch (b) {
        case Blame::File: return "file";
        case Blame::Decode: return "decode";
        case Blame::Dataset: return "dataset";
        case Blame::Transform: return "transform";
        case Blame::Collate: return "collate";
        case Blame::Loader: return "loader";
        case Blame::Target: break;
    }
    return "target";
}

const std::vector<FindingKind>& findingKinds() {
    using S = Severity;
    using B = Blame;
    static const std::vector<FindingKind> t = {
        // Files and decoding.
        {"unreadable_file", S::Error, B::File, "the file cannot be decoded (damaged, not an image, too slow)"},
        {"truncated_image", S::Error, B::File, "the image data ends early; Pillow refuses it"},
        {"oversized_image", S::Error, B::File, "more pixels than Pillow's decompression-bomb limit"},
        {"truncated_shard", S::Error, B::File, "a tar shard ends in the middle of a member"},
        {"missing_image", S::Error, B::Dataset, "a shard sample key with no image member"},
        {"ambiguous_sample", S::Error, B::Dataset, "a shard sample key with more than one image member"},
        {"mode_conversion", S::Warning, B::Decode, "convert('RGB') changed the file's mode (alpha dropped, palette, 16-bit...)"},
        {"exif_orientation", S::Warning, B::Decode, "EXIF says rotate, and Pillow does not"},
        {"constant_image", S::Warning, B::Decode, "every pixel has the same value"},
        {"exact_duplicate", S::Warning, B::Dataset, "the same pixels appear under several indices"},
        {"conflicting_duplicate", S::Error, B::Dataset, "the same pixels with different labels"},
        // Transforms.
        {"nan_or_inf", S::Error, B::Transform, "a stage produced NaN or Inf"},
        {"extreme_values", S::Error, B::Transform, "values far outside the range the stage should produce"},
        {"collapsed_range", S::Error, B::Transform, "a stage squeezed a varied input into a sliver of its range"},
        {"unscaled_input", S::Error, B::Transform, "a stage expecting [0, 1] received values on the 0..255 scale"},
        {"double_normalization", S::Error, B::Transform, "Normalize applied to already normalised values"},
        {"normalization_mismatch", S::Warning, B::Transform, "mean/std after the last Normalize are far from 0/1"},
        {"transform_error", S::Error, B::Transform, "a transform raised (torchvision would too)"},
        // Targets: masks and boxes.
        {"invalid_mask_values", S::Error, B::Target, "mask values outside the dataset's label set (an interpolated mask)"},
        {"mask_size_mismatch", S::Error, B::Target, "mask and image sizes differ"},
        {"box_out_of_bounds", S::Error, B::Target, "a box extends outside its image"},
        {"degenerate_box", S::Error, B::Target, "a box with width or height <= 0, or NaN/Inf coordinates"},
        {"unknown_class", S::Error, B::Target, "a class id not among the dataset's categories"},
        {"missing_target", S::Warning, B::Target, "an image without its mask or annotation, or the reverse"},
        {"target_not_transformed", S::Error, B::Target, "the boxes or mask did not follow a geometric stage"},
        // Classes.
        {"empty_class", S::Error, B::Dataset, "a class folder with no usable image"},
        {"hidden_class", S::Warning, B::Dataset, "a class folder that ImageFolder skips (hidden name)"},
        {"class_imbalance", S::Warning, B::Dataset, "the largest class is many times the smallest"},
        // Batching and the loader.
        {"collate_error", S::Error, B::Collate, "samples that cannot be stacked into one batch"},
        {"loader_mismatch", S::Error, B::Loader, "a batch differs from its samples computed alone"},
        {"nondeterministic_transform", S::Warning, B::Transform, "the same (seed, epoch, index) gave different values"},
        {"repeated_augmentation", S::Warning, B::Transform, "random draws repeat from epoch to epoch"},
        // The user's own loader (compare).
        {"getitem_error", S::Error, B::Dataset, "the dataset's __getitem__ raised"},
        {"invalid_sample", S::Error, B::Dataset, "__getitem__ returned None or a non-tensor where a tensor belongs"},
        {"index_mismatch", S::Error, B::Dataset, "the dumped sample is not the file its index names"},
        {"label_mismatch", S::Error, B::Dataset, "the dumped label differs from the dataset's label"},
        {"channel_swap", S::Error, B::Transform, "the channels are in reversed order (BGR for RGB)"},
        {"pipeline_divergence", S::Error, B::Transform, "the user's tensors differ from the reproduced pipeline"},
        {"worker_rng_shared", S::Error, B::Loader, "every worker draws the same random numbers"},
        {"epoch_rng_repeated", S::Warning, B::Loader, "every epoch draws the same random numbers again"},
        {"duplicate_in_epoch", S::Warning, B::Loader, "an index served twice in one epoch"},
        {"missing_in_epoch", S::Warning, B::Loader, "an index never served in one epoch"},
        {"nondeterministic_loader", S::Warning, B::Loader, "two dumps of the same epoch differ"},
        {"dataset_size_mismatch", S::Warning, B::Dataset, "the dumped dataset and the one found differ in size"},
        {"unreadable_dump", S::Error, B::File, "a dump file cannot be read"},
        {"unreproducible_sample", S::Warning, B::File, "a sample could not be recomputed here"},
        {"unreproducible_pipeline", S::Info, B::Dataset, "the transform lives in user code; its tensors are judged on their own"},
        {"random_pipeline", S::Info, B::Transform, "random stages: compared by shape and range only"},
        {"no_transform", S::Info, B::Dataset, "the dumped dataset has no transform attribute"},
        {"skipped_file", S::Info, B::Dataset, "a file the dataset format skips"},
    };
    return t;
}

const FindingKind* findingKind(std::string_view name) {
    for (const auto& k : findingKinds())
        if (name == k.name) return &k;
    return nullptr;
}

Severity severityOf(std::string_view kind) {
    const FindingKind* k = findingKind(kind);
    return k ? k->severity : Severity::Warning;
}

size_t kindOrder(std::string_view kind) {
    const auto& t = findingKinds();
    for (size_t i = 0; i < t.size(); ++i)
        if (kind == t[i].name) return i;
    return t.size();
}

}  // namespace bs
