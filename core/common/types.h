// Plain value types shared by every part of batchscope.
//
// The public API of the core library deliberately avoids libtorch and Qt
// types: a UI translation unit that includes these headers compiles fast and
// moc never sees ATen. libtorch is used inside core's .cpp files where it is
// the reference (TorchScript, .pt dumps, Lambda expressions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bs {

// std::allocator, except that a value-less construct (resize(), the size
// constructor) leaves the element uninitialised. A decoder or resampler
// writes every pixel of a fresh image, so zeroing it first is wasted work
// (perf put memset at a tenth of the inspector's CPU, mostly these fills).
template <class T>
struct NoZeroAllocator : std::allocator<T> {
    template <class U>
    struct rebind {
        using other = NoZeroAllocator<U>;
    };
    NoZeroAllocator() = default;
    template <class U>
    NoZeroAllocator(const NoZeroAllocator<U>&) noexcept {}
    template <class U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};

// Bytes of an image. assign(n, 0) zeroes; resize(n) does not.
using PixelBytes = std::vector<uint8_t, NoZeroAllocator<uint8_t>>;

// An 8-bit interleaved image: what Pillow holds after `convert('RGB')` (3
// channels) or a grayscale transform (1 channel). Rows are tightly packed.
struct Image {
    int width = 0;
    int height = 0;
    int channels = 0;  // 1 (L) or 3 (RGB)
    PixelBytes pixels;  // height * width * channels, HWC

    bool empty() const { return pixels.empty(); }
    uint8_t* row(int y) { return pixels.data() + size_t(y) * width * channels; }
    const uint8_t* row(int y) const { return pixels.data() + size_t(y) * width * channels; }
    uint8_t at(int y, int x, int c) const { return pixels[(size_t(y) * width + x) * channels + c]; }
    static Image allocate(int w, int h, int c) {
        Image im;
        im.width = w;
        im.height = h;
        im.channels = c;
        im.pixels.assign(size_t(w) * h * c, 0);
        return im;
    }
    // For a producer that writes every byte: no zeroing first.
    static Image unfilled(int w, int h, int c) {
        Image im;
        im.width = w;
        im.height = h;
        im.channels = c;
        im.pixels.resize(size_t(w) * h * c);
        return im;
    }
};

// The element type a tensor has in PyTorch. Values are always stored as
// float here; the dtype records what torch would hold, so that e.g.
// PILToTensor (uint8, 0..255) is told apart from ToTensor (float, 0..1).
enum class DType { Float32, UInt8 };

// A dense row-major tensor, usually CHW for one sample or NCHW for a batch.
struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> values;
    DType dtype = DType::Float32;

    int64_t numel() const {
        int64_t n = 1;
        for (auto d : shape) n *= d;
        return shape.empty() ? 0 : n;
    }
    int64_t dim(size_t i) const { return i < shape.size() ? shape[i] : 0; }
    bool empty() const { return values.empty(); }
    static Tensor zeros(std::vector<int64_t> s, DType t = DType::Float32) {
        Tensor r;
        r.shape = std::move(s);
        r.dtype = t;
        r.values.assign(size_t(r.numel()), 0.f);
        return r;
    }
};

std::string shapeToString(const std::vector<int64_t>& shape);

// What flows between pipeline stages: a PIL-like image before ToTensor,
// a tensor after it.
struct StageValue {
    enum class Kind { Image, Tensor };
    Kind kind = Kind::Image;
    Image image;
    Tensor tensor;

    static StageValue fromImage(Image im) {
        StageValue v;
        v.kind = Kind::Image;
        v.image = std::move(im);
        return v;
    }
    static StageValue fromTensor(Tensor t) {
        StageValue v;
        v.kind = Kind::Tensor;
        v.tensor = std::move(t);
        return v;
    }
    bool isImage() const { return kind == Kind::Image; }
    // Channel count, height and width whatever the kind.
    int channels() const;
    int height() const;
    int width() const;
};

// Converts an image stage to a CHW float tensor with values 0..255 (no
// scaling); a tensor stage is returned as is. Used by statistics and views.
Tensor asTensor(const StageValue& v);

// Base error type of the core library. `what()` is one line meant for users.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace bs
