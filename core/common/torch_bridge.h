// Conversions between bs::Tensor and at::Tensor. Internal to core: public
// headers stay free of libtorch, .cpp files that need ATen include this.
#pragma once

#include <ATen/ATen.h>

#include "core/common/types.h"

namespace bs {

// Copies into a contiguous at::Tensor: kByte when the dtype is UInt8
// (values rounded and clamped), kFloat otherwise.
at::Tensor toAten(const Tensor& t);
// Copies back. kByte stays UInt8; bool and integer results become Float32
// values (there is no other dtype in bs::Tensor). A 0-dim tensor becomes
// shape {1} because bs::Tensor treats an empty shape as empty.
Tensor fromAten(const at::Tensor& t);

}  // namespace bs
