// NumPy .npy / .npz reading and .npy writing (no numpy needed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/common/types.h"

namespace bs {

// An n-dimensional array as read from a .npy member. Values are converted to
// float; `dtype` is numpy's descr ("|u1", "<f4", "<i8", ...).
struct NpyArray {
    std::vector<int64_t> shape;
    std::string dtype;
    std::vector<float> values;
    std::vector<uint8_t> bytes;  // raw data when dtype is |u1 (avoids a float copy)
    bool isUint8() const { return dtype == "|u1" || dtype == "<u1" || dtype == "u1"; }
};

// Throws Error naming the file and the problem (bad magic, unsupported dtype,
// header larger than the data, ...). Sizes are validated before allocation.
NpyArray readNpy(const std::string& path);
NpyArray readNpyBuffer(const uint8_t* data, size_t size, const std::string& name);
// All arrays of an .npz (stored or deflated members), by name without ".npy".
std::vector<std::pair<std::string, NpyArray>> readNpz(const std::string& path);

// Writes a little-endian float32 array, or uint8 when `asUint8` (values are
// rounded and clamped). Throws Error when the file cannot be written.
void writeNpy(const std::string& path, const std::vector<int64_t>& shape,
              const std::vector<float>& values, bool asUint8 = false);

}  // namespace bs
