// Internal to core/dataset: what the target formats share (a list of image
// files, a schema, open issues).
#pragma once

#include <string>
#include <vector>

#include "core/dataset/dataset.h"

namespace bs::detail {

class TargetDatasetBase : public Dataset {
public:
    TargetDatasetBase(DatasetFormat format, std::string root, std::vector<std::string> images,
                      TargetSchema schema, std::vector<DatasetIssue> issues, DecodeOptions decode)
        : format_(format),
          root_(std::move(root)),
          images_(std::move(images)),
          schema_(std::move(schema)),
          issues_(std::move(issues)),
          decode_(decode) {}

    DatasetFormat format() const override { return format_; }
    std::string root() const override { return root_; }
    size_t size() const override { return images_.size(); }
    std::vector<std::string> classes() const override { return schema_.classNames; }
    std::string path(size_t i) const override { return images_.at(checked(i)); }
    int64_t label(size_t i) const override {
        checked(i);
        return -1;
    }
    Image loadRaw(size_t i, DecodeInfo* info) const override {
        return decodeImageFile(images_[checked(i)], decode_, info);
    }
    std::vector<DatasetIssue> issues() const override { return issues_; }
    TargetSchema targetSchema() const override { return schema_; }

protected:
    size_t checked(size_t i) const {
        if (i >= images_.size())
            throw DecodeError(DecodeErrorKind::Unreadable,
                              root_ + ": sample index " + std::to_string(i) + " out of range");
        return i;
    }
    const DecodeOptions& decodeOptions() const { return decode_; }

private:
    DatasetFormat format_;
    std::string root_;
    std::vector<std::string> images_;
    TargetSchema schema_;
    std::vector<DatasetIssue> issues_;
    DecodeOptions decode_;
};

// Images paired with mask files (empty path: the image has no mask).
class MaskDataset : public TargetDatasetBase {
public:
    MaskDataset(DatasetFormat format, std::string root, std::vector<std::string> images,
                std::vector<std::string> masks, TargetSchema schema,
                std::vector<DatasetIssue> issues, DecodeOptions decode)
        : TargetDatasetBase(format, std::move(root), std::move(images), std::move(schema),
                            std::move(issues), decode),
          masks_(std::move(masks)) {}
    Target loadTarget(size_t i) const override {
        Target t;
        const std::string& m = masks_[checked(i)];
        if (!m.empty()) t.mask = decodeMaskFile(m, decodeOptions());
        return t;
    }

private:
    std::vector<std::string> masks_;
};

std::unique_ptr<Dataset> openVocFolder(const std::string& vocDir, const std::string& imageSet,
                                       const OpenOptions& options);
std::unique_ptr<Dataset> openCocoFile(const std::string& imageRoot, const std::string& annFile,
                                      const OpenOptions& options);
// Null when `dir` is not a YOLO or image/mask pair layout.
std::unique_ptr<Dataset> openYoloFolder(const std::string& dir, const OpenOptions& options);
std::unique_ptr<Dataset> openMaskPairFolder(const std::string& dir, const OpenOptions& options);
// The image folder of an instances_<name>.json: <name>/ or images/ beside it
// or beside its annotations/ folder; empty when none.
std::string cocoImageRoot(const std::string& annFile);

}  // namespace bs::detail
