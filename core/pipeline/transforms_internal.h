// The transform classes behind Pipeline::makeTransform. Internal to core:
// other parts use Pipeline and Transform only; the helpers here are exposed
// for the pipeline engine (Resize+CenterCrop fusion) and for tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/pipeline/pipeline.h"
#include "core/pipeline/resample.h"

namespace bs {

// Creates one op from its constructor parameters (the stage object without
// "op"/"enabled"). Throws Error with a message that does not name the stage
// (the caller prefixes "stage N (Op): ") and lists what is accepted.
std::shared_ptr<const Transform> createTransform(const std::string& op,
                                                 const nlohmann::json& params,
                                                 const std::string& baseDir);
std::vector<std::string> transformOps();

// TorchScript stage, in torchscript.cpp.
std::shared_ptr<const Transform> createTorchScriptTransform(const nlohmann::json& params,
                                                            const std::string& baseDir);

// torchvision's _compute_resized_output_size: `size` has 1 element (smaller
// edge, with int(size * long / short) truncation and max_size, <= 0 = None)
// or 2 ([h, w]). Throws Error on an invalid max_size.
void resizedOutputSize(int inH, int inW, const std::vector<int>& size, int maxSize, int& outH,
                       int& outW);

// Python's round(): half to even.
int pyRound(double v);
// Python's repr of a float (shortest round-trip, "1.0", "1e-05").
std::string pyFloat(double v);

// When `resize` is a Resize and `crop` a CenterCrop that would not pad the
// resized image, writes the result of both to `out` using
// resizeImageRegion (bit-identical to resize then crop) and returns true.
bool fuseResizeCenterCrop(const Transform& resize, const Transform& crop, const Image& in,
                          Image& out);
// When `t` is a Resize: its output size for an input of inW x inH.
bool resizedSizeOf(const Transform& t, int inW, int inH, int& outW, int& outH);

// Shared by ops that need a tensor input: throws the standard message.
[[noreturn]] void needTensor(const std::string& op);

}  // namespace bs
