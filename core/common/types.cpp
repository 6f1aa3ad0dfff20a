#include "core/common/types.h"

#include <sstream>

namespace bs {

std::string shapeToString(const std::vector<int64_t>& shape) {
    std::ostringstream out;
    out << '[';
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << ']';
    return out.str();
}

int StageValue::channels() const {
    if (isImage()) return image.channels;
    return tensor.shape.size() >= 3 ? int(tensor.shape[tensor.shape.size() - 3]) : 1;
}
int StageValue::height() const {
    if (isImage()) return image.height;
    return tensor.shape.size() >= 2 ? int(tensor.shape[tensor.shape.size() - 2]) : 1;
}
int StageValue::width() const {
    if (isImage()) return image.width;
    return tensor.shape.empty() ? 0 : int(tensor.shape.back());
}

Tensor asTensor(const StageValue& v) {
    if (!v.isImage()) return v.tensor;
    const Image& im = v.image;
    Tensor t = Tensor::zeros({im.channels, im.height, im.width}, DType::UInt8);
    const size_t plane = size_t(im.width) * im.height;
    for (size_t p = 0; p < plane; ++p)
        for (int c = 0; c < im.channels; ++c) t.values[c * plane + p] = im.pixels[p * im.channels + c];
    return t;
}

}  // namespace bs
