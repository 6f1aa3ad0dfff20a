// Detection and segmentation datasets: Pascal VOC segmentation, COCO
// detection, YOLO and a generic image + mask folder pair. Samples are images;
// their targets come from loadTarget(i); label(i) is -1.
#pragma once

#include <memory>
#include <string>

#include "core/dataset/dataset.h"

namespace bs {

// torchvision.datasets.VOCSegmentation(root, year, image_set): root holds
// VOCdevkit/VOC<year>/. Throws Error naming the missing file.
std::unique_ptr<Dataset> openVocSegmentation(const std::string& root,
                                             const std::string& year = "2012",
                                             const std::string& imageSet = "train",
                                             const OpenOptions& options = {});
// torchvision.datasets.CocoDetection(imageRoot, annFile).
std::unique_ptr<Dataset> openCocoDetection(const std::string& imageRoot, const std::string& annFile,
                                           const OpenOptions& options = {});

// openDataset's detection: the target dataset found at `path` (a folder, or
// an instances_*.json file), or null when it holds none.
std::unique_ptr<Dataset> openTargetDataset(const std::string& path, const OpenOptions& options);

}  // namespace bs
