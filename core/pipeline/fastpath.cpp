#include "core/pipeline/fastpath.h"

namespace bs {

namespace {

// Normalize's mean/std as float32, one value per channel; false when the
// parameters do not fit `channels` (Normalize itself then raises).
bool channelValues(const std::vector<double>& v, int channels, float* out) {
    if (v.size() != 1 && int(v.size()) != channels) return false;
    for (int c = 0; c < channels; ++c) out[c] = float(v[v.size() == 1 ? 0 : size_t(c)]);
    return true;
}

}  // namespace

bool fuseToTensorNormalize(const Transform& toTensor, const Transform& normalize, const Image& in,
                           Tensor& out, float* row, bool shapeOnly) {
    const NormalizeParams* n = normalize.normalization();
    if (toTensor.op() != "ToTensor" || !n) return false;
    const int C = in.channels;
    if (C < 1 || C > 4 || in.width <= 0 || in.height <= 0 ||
        in.pixels.size() != size_t(in.width) * in.height * C)
        return false;
    float mean[4], stdv[4];
    if (!channelValues(n->mean, C, mean) || !channelValues(n->std, C, stdv)) return false;
    if (shapeOnly) {
        out.shape = {C, in.height, in.width};
        out.dtype = DType::Float32;
        out.values.clear();
        return true;
    }
    // Both divisions are correctly rounded float32 ops, as torch's div(255)
    // and Normalize's sub_/div_ are; a table of the 256 possible results per
    // channel is therefore exact.
    float lut[4][256];
    for (int c = 0; c < C; ++c)
        for (int v = 0; v < 256; ++v) lut[c][v] = (float(v) / 255.0f - mean[c]) / stdv[c];

    const size_t plane = size_t(in.width) * in.height;
    Tensor t;
    t.shape = {C, in.height, in.width};
    t.dtype = DType::Float32;
    if (!row) t.values.resize(plane * C);
    const uint8_t* src = in.pixels.data();
    float* dst = row ? row : t.values.data();
    if (C == 3) {
        float* r = dst;
        float* g = dst + plane;
        float* b = dst + 2 * plane;
        for (size_t i = 0; i < plane; ++i) {
            r[i] = lut[0][src[3 * i]];
            g[i] = lut[1][src[3 * i + 1]];
            b[i] = lut[2][src[3 * i + 2]];
        }
    } else {
        for (int c = 0; c < C; ++c) {
            float* d = dst + size_t(c) * plane;
            for (size_t i = 0; i < plane; ++i) d[i] = lut[c][src[size_t(C) * i + c]];
        }
    }
    out = std::move(t);
    return true;
}

}  // namespace bs
