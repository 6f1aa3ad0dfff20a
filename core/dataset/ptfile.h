// Reading Python `torch.save` files into plain bs::Tensors (libtorch stays
// inside core's .cpp files).
#pragma once

#include <string>
#include <vector>

#include "core/common/types.h"

namespace bs {

struct PtContents {
    // Every tensor found, in pickle order: a bare tensor, the items of a
    // tuple/list, or the values of a dict (nested containers flattened).
    std::vector<Tensor> tensors;
    // The images/labels pair when the file looks like a dataset dump: a
    // tensor, (images, labels), or a dict with images/data/x/inputs/input
    // and labels/targets/target/y keys. `images` is empty otherwise.
    Tensor images;
    std::vector<int64_t> labels;  // empty when there are none
};

// Throws Error naming the file when it is not a torch.save zip archive or
// holds something other than tensors. Tensors are converted to float32; the
// dtype field records UInt8 when the stored tensor was uint8.
PtContents readPtFile(const std::string& path);
std::vector<Tensor> readPtTensors(const std::string& path);

}  // namespace bs
