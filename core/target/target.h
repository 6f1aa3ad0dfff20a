// Targets: what a detection or segmentation sample carries beside its
// pixels. Declared once here so that datasets (which read them), the
// pipeline (which moves them with the image), the judge (which checks them)
// and the views (which draw them) share one shape.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/common/types.h"

namespace bs {

// One box in absolute pixel coordinates of the image it belongs to, corners
// [x1, y1, x2, y2] as torchvision's detection references and
// `transforms.v2` hold them (COCO's [x, y, w, h] and YOLO's normalised
// centre form are converted when read).
struct Box {
    double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
    int64_t label = -1;  // category id as the dataset numbers it
    bool crowd = false;  // COCO iscrowd
    double width() const { return x2 - x1; }
    double height() const { return y2 - y1; }
};

// The targets of one sample, at one point of the pipeline.
struct Target {
    // Per-pixel class ids, one 8-bit channel (VOC: 0..20, 255 = ignore).
    // Empty when the sample has no mask.
    Image mask;
    std::vector<Box> boxes;
    // Boxes a crop left empty and that were dropped (counted, not an error).
    int droppedBoxes = 0;

    bool hasMask() const { return !mask.empty(); }
    bool hasBoxes() const { return !boxes.empty(); }
    bool empty() const { return mask.empty() && boxes.empty(); }
};

// What a dataset says about its target values, for the judge and the legend.
struct TargetSchema {
    enum class Kind { None, Mask, Boxes };
    Kind kind = Kind::None;
    // Valid class ids (mask values or box labels), with their names.
    std::vector<int64_t> classIds;
    std::vector<std::string> classNames;  // parallel to classIds
    // Mask value meaning "ignore / border" (VOC 255); -1 when none.
    int ignoreIndex = -1;
};

}  // namespace bs
