// Fused fast paths used by Pipeline::run when no intermediate stage is
// wanted. Each one is bit-identical to running its stages one by one (the
// parity and loader tests check the results against torchvision and against
// the unfused stages).
#pragma once

#include "core/pipeline/pipeline.h"
#include "core/common/types.h"

namespace bs {

// ToTensor followed by Normalize on an 8-bit image: one pass from HWC uint8
// to normalized CHW float32 through a per-channel 256-entry table holding
// exactly (float(v) / 255.f - mean_f) / std_f, the float32 operations the two
// stages perform. Returns false (and leaves `out` alone) when the stages are
// not that pair or Normalize would reject the input; the caller then runs
// them normally so errors keep their usual messages.
// With `row`, the values go there (it holds channels x height x width
// floats: the caller checked the shape) and `out` gets the shape alone.
// With `shapeOnly`, `out` gets the shape alone and no values are computed:
// for callers that only need to know the pair succeeds and its shape.
bool fuseToTensorNormalize(const Transform& toTensor, const Transform& normalize, const Image& in,
                           Tensor& out, float* row = nullptr, bool shapeOnly = false);

}  // namespace bs
