// COCO "segmentation" entries (polygons, uncompressed and compressed RLE) as
// pixel masks, and the semantic mask torchvision's segmentation references
// build from an image's annotations (references/segmentation/coco_utils.py:
// each pixel the category id of the instance covering it, 255 where
// instances overlap, 0 for background).
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/types.h"

namespace bs {

// One annotation's segmentation as a width x height 0/1 mask. Polygons are
// filled with OpenCV (pycocotools' own rasteriser can differ on edge
// pixels). Throws Error (without a file name) when the entry is malformed.
Image cocoInstanceMask(const nlohmann::json& segmentation, int width, int height);

// COCO's compressed RLE string (LEB128-like, deltas from two runs back) as
// run lengths. Throws Error when the string is malformed.
std::vector<uint32_t> decodeCocoRleString(const std::string& counts);

// Per pixel: the category of the one instance covering it, 255 where two or
// more do, 0 elsewhere. `instances` and `categories` are parallel.
Image semanticMask(const std::vector<Image>& instances, const std::vector<int64_t>& categories,
                   int width, int height);

}  // namespace bs
