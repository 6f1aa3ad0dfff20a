// Resampling that matches Pillow's Image.resize (the algorithm torchvision's
// Resize uses on PIL images): separable convolution whose filter support
// grows with the downscale factor (antialiasing), pixel centres at +0.5, and
// for 8-bit images fixed-point coefficients with Pillow's rounding.
#pragma once

#include "core/common/types.h"

namespace bs {

enum class ResampleFilter { Nearest, Bilinear, Bicubic, Box, Hamming, Lanczos };

// Parses "nearest", "bilinear", "bicubic" (also "box", "hamming", "lanczos",
// and torchvision's "InterpolationMode.BILINEAR" spelling). Throws Error.
ResampleFilter parseResampleFilter(const std::string& name);
std::string resampleFilterName(ResampleFilter f);

// Resizes an 8-bit image (1 or 3 channels) to width x height exactly as
// Pillow 9.4's Image.resize(size, filter) does.
Image resizeImage(const Image& src, int width, int height, ResampleFilter filter);

// Same as above but only producing the output rows [y0, y0 + rows) and
// columns [x0, x0 + cols): the result is bit-identical to cropping the full
// resize, and cheaper (Resize followed by CenterCrop).
Image resizeImageRegion(const Image& src, int width, int height, ResampleFilter filter, int x0,
                        int y0, int cols, int rows);

// torchvision's Resize on a float tensor (C,H,W) with antialias=None/False
// in 0.14: torch.nn.functional.interpolate(mode, align_corners=False).
// Nearest uses the legacy "nearest" index rule (floor(dst * scale)).
Tensor resizeTensor(const Tensor& src, int width, int height, ResampleFilter filter);

}  // namespace bs
