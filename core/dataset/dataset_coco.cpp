// COCO detection, as torchvision.datasets.CocoDetection reads it: samples in
// sorted image-id order, image <imageRoot>/<file_name>, target the image's
// annotations; bbox [x, y, w, h] is held as corners [x, y, x + w, y + h].
// Annotations with a "segmentation" (polygons or RLE) also give the image a
// semantic mask, as torchvision's segmentation references build it
// (core/target/coco_mask.h), made when the sample's target is read.
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "core/dataset/dataset_internal.h"
#include "core/dataset/target_dataset_base.h"
#include "core/dataset/target_datasets.h"
#include "core/target/coco_mask.h"

namespace bs {
namespace detail {

namespace {

using json = nlohmann::json;

// The segmentations of one image, rasterised when its target is read.
struct ImageSegments {
    int width = 0, height = 0;  // from the image entry
    std::vector<json> segmentations;
    std::vector<int64_t> categories;
};

class CocoDataset : public TargetDatasetBase {
public:
    CocoDataset(std::string root, std::vector<std::string> images,
                std::vector<std::vector<Box>> boxes, std::vector<ImageSegments> segments,
                std::vector<std::string> errors, TargetSchema schema,
                std::vector<DatasetIssue> issues, DecodeOptions decode, std::string annFile)
        : TargetDatasetBase(DatasetFormat::Coco, std::move(root), std::move(images),
                            std::move(schema), std::move(issues), decode),
          boxes_(std::move(boxes)),
          segments_(std::move(segments)),
          errors_(std::move(errors)),
          annFile_(std::move(annFile)) {}
    Target loadTarget(size_t i) const override {
        if (!errors_[checked(i)].empty())
            throw DecodeError(DecodeErrorKind::Unreadable, errors_[i]);
        Target t;
        t.boxes = boxes_[i];
        const ImageSegments& seg = segments_[i];
        if (seg.segmentations.empty()) return t;
        std::vector<Image> instances;
        try {
            for (const auto& s : seg.segmentations)
                instances.push_back(cocoInstanceMask(s, seg.width, seg.height));
        } catch (const Error& e) {
            throw DecodeError(DecodeErrorKind::Unreadable,
                              annFile_ + ": a segmentation of " + path(i) + ": " + e.what());
        }
        t.mask = semanticMask(instances, seg.categories, seg.width, seg.height);
        return t;
    }

private:
    std::vector<std::vector<Box>> boxes_;
    std::vector<ImageSegments> segments_;
    std::vector<std::string> errors_;  // per sample: an unreadable annotation, named
    std::string annFile_;
};

// An annotation's non-empty "segmentation", or null.
const json* segmentationOf(const json& a) {
    if (!a.contains("segmentation")) return nullptr;
    const json& s = a["segmentation"];
    return (s.is_array() && !s.empty()) || s.is_object() ? &s : nullptr;
}

json readJsonFile(const std::string& file) {
    std::ifstream in(file);
    if (!in) throw Error(file + ": cannot read the annotation file");
    try {
        return json::parse(in);
    } catch (const std::exception& e) {
        throw Error(file + ": not valid JSON (" + std::string(e.what()) + ")");
    }
}

TargetSchema cocoSchema(const json& doc, const std::string& file) {
    TargetSchema s;
    s.kind = TargetSchema::Kind::Boxes;
    if (!doc.contains("categories") || !doc["categories"].is_array())
        throw Error(file + ": no 'categories' list (not a COCO instances file)");
    for (const auto& c : doc["categories"]) {
        if (!c.is_object() || !c.contains("id") || !c["id"].is_number_integer())
            throw Error(file + ": a category without an integer 'id'");
        s.classIds.push_back(c["id"].get<int64_t>());
        s.classNames.push_back(c.value("name", std::to_string(s.classIds.back())));
    }
    return s;
}

// One annotation as a box; false (with `error`) when it is malformed.
bool boxOf(const json& a, const std::string& file, Box& box, std::string& error) {
    const json* bb = a.contains("bbox") ? &a["bbox"] : nullptr;
    bool ok = bb && bb->is_array() && bb->size() == 4 && a.contains("category_id") &&
              a["category_id"].is_number_integer();
    for (size_t k = 0; ok && k < 4; ++k) ok = (*bb)[k].is_number();
    if (!ok) {
        error = file + ": annotation " + a.value("id", json()).dump() +
                " has no bbox of 4 numbers and integer category_id";
        return false;
    }
    const double x = (*bb)[0], y = (*bb)[1], w = (*bb)[2], h = (*bb)[3];
    box = Box{x, y, x + w, y + h, a["category_id"].get<int64_t>(), a.value("iscrowd", 0) != 0};
    return true;
}

}  // namespace

std::string cocoImageRoot(const std::string& annFile) {
    const std::string dir = dirName(annFile);
    std::string stem = baseName(annFile);
    stem = stem.substr(0, stem.size() - 5);  // ".json"
    const std::string split = stem.rfind("instances_", 0) == 0 ? stem.substr(10) : stem;
    for (const std::string& base : {dir, dirName(dir)})
        for (const std::string& name : {split, std::string("images")})
            if (!name.empty() && isDirectory(base + "/" + name)) return base + "/" + name;
    return {};
}

std::unique_ptr<Dataset> openCocoFile(const std::string& imageRoot, const std::string& annFile,
                                      const OpenOptions& options) {
    const json doc = readJsonFile(annFile);
    if (!doc.is_object() || !doc.contains("images") || !doc["images"].is_array())
        throw Error(annFile + ": no 'images' list (not a COCO instances file)");
    TargetSchema schema = cocoSchema(doc, annFile);
    std::map<int64_t, std::string> files;  // sorted image ids, as CocoDetection
    std::map<int64_t, ImageSegments> segments;
    for (const auto& im : doc["images"]) {
        if (!im.is_object() || !im.contains("id") || !im["id"].is_number_integer() ||
            !im.contains("file_name") || !im["file_name"].is_string())
            throw Error(annFile + ": an image entry without integer 'id' and 'file_name'");
        files[im["id"].get<int64_t>()] = im["file_name"].get<std::string>();
        ImageSegments& seg = segments[im["id"].get<int64_t>()];
        seg.width = im.value("width", 0);
        seg.height = im.value("height", 0);
    }
    std::map<int64_t, std::vector<Box>> boxes;
    std::map<int64_t, std::string> errors;
    std::vector<DatasetIssue> issues;
    const json anns = doc.value("annotations", json::array());
    for (const auto& a : anns) {
        const int64_t id = a.is_object() ? a.value("image_id", int64_t(-1)) : -1;
        if (!files.count(id)) {
            issues.push_back({"missing_target", annFile,
                              "Annotation " + (a.is_object() ? a.value("id", json()).dump() : "?") +
                                  " in " + annFile + " refers to image id " + std::to_string(id) +
                                  ", which is not among its images."});
            continue;
        }
        Box b;
        std::string err;
        if (boxOf(a, annFile, b, err)) {
            boxes[id].push_back(b);
            if (const json* s = segmentationOf(a)) {
                segments[id].segmentations.push_back(*s);
                segments[id].categories.push_back(b.label);
            }
        } else if (!errors.count(id)) {
            errors[id] = err;
        }
    }
    std::vector<std::string> images, errorList;
    std::vector<std::vector<Box>> boxList;
    std::vector<ImageSegments> segmentList;
    bool anyMask = false;
    for (const auto& [id, name] : files) {
        const std::string path = imageRoot + "/" + name;
        if (!isRegularFile(path)) {
            issues.push_back({"missing_target", path,
                              "Image id " + std::to_string(id) + " of " + annFile +
                                  " has no file (" + path + " does not exist); skipped."});
            continue;
        }
        if (!boxes.count(id) && !errors.count(id))
            issues.push_back({"missing_target", path,
                              "Image " + path + " has no annotation in " + annFile + "."});
        images.push_back(path);
        boxList.push_back(boxes[id]);
        anyMask = anyMask || !segments[id].segmentations.empty();
        segmentList.push_back(std::move(segments[id]));
        errorList.push_back(errors.count(id) ? errors[id] : std::string());
    }
    if (anyMask) {  // the semantic mask's background and overlap values
        schema.classIds.insert(schema.classIds.begin(), 0);
        schema.classNames.insert(schema.classNames.begin(), "background");
        schema.ignoreIndex = 255;
    }
    return std::make_unique<CocoDataset>(imageRoot, std::move(images), std::move(boxList),
                                         std::move(segmentList), std::move(errorList),
                                         std::move(schema), std::move(issues), options.decode,
                                         annFile);
}

}  // namespace detail

std::unique_ptr<Dataset> openCocoDetection(const std::string& imageRoot, const std::string& annFile,
                                           const OpenOptions& options) {
    return detail::openCocoFile(detail::absolutePath(imageRoot), detail::absolutePath(annFile),
                                options);
}

}  // namespace bs
