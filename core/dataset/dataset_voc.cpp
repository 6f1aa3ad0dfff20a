// Pascal VOC segmentation, as torchvision.datasets.VOCSegmentation reads it:
// the ids of ImageSets/Segmentation/<image_set>.txt in file order, image
// JPEGImages/<id>.jpg, mask SegmentationClass/<id>.png (palette indices,
// 255 = border / ignore).
#include <fstream>

#include "core/dataset/dataset_internal.h"
#include "core/dataset/target_dataset_base.h"
#include "core/dataset/target_datasets.h"

namespace bs {
namespace detail {

namespace {

const char* const kVocClasses[] = {
    "background", "aeroplane", "bicycle",     "bird",  "boat",        "bottle", "bus",
    "car",        "cat",       "chair",       "cow",   "diningtable", "dog",    "horse",
    "motorbike",  "person",    "pottedplant", "sheep", "sofa",        "train",  "tvmonitor"};

TargetSchema vocSchema() {
    TargetSchema s;
    s.kind = TargetSchema::Kind::Mask;
    for (int64_t i = 0; i < 21; ++i) {
        s.classIds.push_back(i);
        s.classNames.push_back(kVocClasses[i]);
    }
    s.ignoreIndex = 255;
    return s;
}

std::vector<std::string> readIds(const std::string& file) {
    std::ifstream in(file);
    if (!in) throw Error(file + ": cannot read the image set list");
    std::vector<std::string> ids;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (!line.empty()) ids.push_back(line);
    }
    return ids;
}

}  // namespace

std::unique_ptr<Dataset> openVocFolder(const std::string& vocDir, const std::string& imageSet,
                                       const OpenOptions& options) {
    const std::string list = vocDir + "/ImageSets/Segmentation/" + imageSet + ".txt";
    if (!isRegularFile(list))
        throw Error(list + ": not found (VOC segmentation image set '" + imageSet + "')");
    std::vector<std::string> images, masks;
    std::vector<DatasetIssue> issues;
    for (const auto& id : readIds(list)) {
        const std::string image = vocDir + "/JPEGImages/" + id + ".jpg";
        const std::string mask = vocDir + "/SegmentationClass/" + id + ".png";
        const bool hasMask = isRegularFile(mask);
        if (!isRegularFile(image)) {
            issues.push_back({"missing_target", image,
                              "'" + id + "' is listed in " + list +
                                  (hasMask ? " and has a mask" : "") + " but its image " + image +
                                  " does not exist; skipped."});
            continue;
        }
        if (!hasMask)
            issues.push_back({"missing_target", image,
                              "Image " + image + " has no mask (" + mask + " does not exist)."});
        images.push_back(image);
        masks.push_back(hasMask ? mask : std::string());
    }
    return std::make_unique<MaskDataset>(DatasetFormat::Voc, vocDir, std::move(images),
                                         std::move(masks), vocSchema(), std::move(issues),
                                         options.decode);
}

}  // namespace detail

std::unique_ptr<Dataset> openVocSegmentation(const std::string& root, const std::string& year,
                                             const std::string& imageSet,
                                             const OpenOptions& options) {
    const std::string dir = detail::absolutePath(root) + "/VOCdevkit/VOC" + year;
    if (!detail::isDirectory(dir))
        throw Error(dir + ": not found (torchvision's VOCSegmentation layout)");
    return detail::openVocFolder(dir, imageSet, options);
}

}  // namespace bs
