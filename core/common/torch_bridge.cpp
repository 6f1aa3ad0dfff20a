#include "core/common/torch_bridge.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bs {

at::Tensor toAten(const Tensor& t) {
    std::vector<int64_t> shape = t.shape;
    if (t.dtype == DType::UInt8) {
        at::Tensor r = at::empty(shape, at::TensorOptions().dtype(at::kByte));
        uint8_t* d = r.data_ptr<uint8_t>();
        const size_t n = std::min<size_t>(size_t(r.numel()), t.values.size());
        for (size_t i = 0; i < n; ++i) {
            const float v = t.values[i];
            d[i] = uint8_t(std::isnan(v) ? 0.f : std::clamp(std::nearbyint(v), 0.f, 255.f));
        }
        return r;
    }
    at::Tensor r = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
    const size_t n = std::min<size_t>(size_t(r.numel()), t.values.size());
    if (n) std::memcpy(r.data_ptr<float>(), t.values.data(), n * sizeof(float));
    return r;
}

Tensor fromAten(const at::Tensor& in) {
    Tensor out;
    at::Tensor t = in.contiguous();
    out.shape.assign(t.sizes().begin(), t.sizes().end());
    if (out.shape.empty()) out.shape = {1};
    if (t.scalar_type() == at::kByte) {
        out.dtype = DType::UInt8;
        const uint8_t* d = t.data_ptr<uint8_t>();
        out.values.assign(d, d + t.numel());
        return out;
    }
    out.dtype = DType::Float32;
    if (t.scalar_type() != at::kFloat) t = t.to(at::kFloat);
    const float* d = t.data_ptr<float>();
    out.values.assign(d, d + t.numel());
    return out;
}

}  // namespace bs
