// Every transform op, with torchvision 0.14 semantics on both of its paths:
// PIL images (8-bit HWC, the "image" stage kind) and tensors.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/pipeline/expr.h"
#include "core/pipeline/resample.h"
#include "core/common/torch_bridge.h"
#include "core/pipeline/transforms_internal.h"

namespace bs {

using nlohmann::json;

// ---------------------------------------------------------------- helpers

int pyRound(double v) {
    return int(std::nearbyint(v));
}  // FE_TONEAREST = half to even

std::string pyFloat(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    char buf[64];
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    std::string s = buf;
    const double a = std::fabs(v);
    if (a != 0 && (a < 1e-4 || a >= 1e16)) {
        // Python: 1e-05 (two-digit exponent at least), mantissa without ".0".
        std::snprintf(buf, sizeof buf, "%.17e", v);
        auto e = s.find('e');
        if (e == std::string::npos) {
            // %g chose fixed notation; force the exponent form with the same digits.
            for (int prec = 0; prec <= 16; ++prec) {
                std::snprintf(buf, sizeof buf, "%.*e", prec, v);
                if (std::strtod(buf, nullptr) == v) break;
            }
            s = buf;
            e = s.find('e');
        }
        std::string mant = s.substr(0, e), ex = s.substr(e + 1);
        const char sign = ex[0] == '-' ? '-' : '+';
        if (ex[0] == '-' || ex[0] == '+') ex = ex.substr(1);
        while (ex.size() > 2 && ex[0] == '0') ex = ex.substr(1);
        if (ex.size() < 2) ex = "0" + ex;
        return mant + "e" + sign + ex;
    }
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
}

void needTensor(const std::string& op) {
    throw Error(op + " needs a tensor but got an image; put ToTensor or PILToTensor before it");
}

static std::string joinNames(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
}

static std::string shortJson(const json& j) {
    std::string s = j.dump();
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return s;
}

// Constructor parameters of one op, checked against what the op accepts.
class Params {
public:
    Params(const json& j, std::vector<std::string> accepted)
        : j_(j.is_null() ? json::object() : j), accepted_(std::move(accepted)) {
        if (!j_.is_object()) throw Error("parameters must be a JSON object");
        for (auto it = j_.begin(); it != j_.end(); ++it)
            if (std::find(accepted_.begin(), accepted_.end(), it.key()) == accepted_.end())
                throw Error("unknown parameter '" + it.key() + "'; accepted: " + acceptedText());
    }
    std::string acceptedText() const {
        return accepted_.empty() ? "no parameters" : joinNames(accepted_);
    }
    bool has(const std::string& k) const { return j_.contains(k) && !j_.at(k).is_null(); }
    const json& at(const std::string& k) const { return j_.at(k); }
    void require(const std::string& k) const {
        if (!has(k))
            throw Error("missing required parameter '" + k + "'; accepted: " + acceptedText());
    }
    [[noreturn]] void bad(const std::string& k, const std::string& expected) const {
        throw Error("parameter '" + k + "' must be " + expected + ", got " + shortJson(j_.at(k)) +
                    "; accepted: " + acceptedText());
    }
    int integer(const std::string& k, int def) const {
        if (!has(k)) return def;
        const json& v = j_.at(k);
        if (!v.is_number_integer()) bad(k, "an integer");
        return v.get<int>();
    }
    double number(const std::string& k, double def) const {
        if (!has(k)) return def;
        const json& v = j_.at(k);
        if (!v.is_number()) bad(k, "a number");
        return v.get<double>();
    }
    bool boolean(const std::string& k, bool def) const {
        if (!has(k)) return def;
        const json& v = j_.at(k);
        if (!v.is_boolean()) bad(k, "true or false");
        return v.get<bool>();
    }
    std::string string(const std::string& k, const std::string& def) const {
        if (!has(k)) return def;
        const json& v = j_.at(k);
        if (!v.is_string()) bad(k, "a string");
        return v.get<std::string>();
    }
    // An int or a list of ints whose length is one of `lengths`.
    std::vector<int> ints(const std::string& k, const std::vector<size_t>& lengths,
                          const std::string& expected) const {
        const json& v = j_.at(k);
        std::vector<int> r;
        if (v.is_number_integer()) return {v.get<int>()};
        if (!v.is_array()) bad(k, expected);
        for (const auto& e : v) {
            if (!e.is_number_integer()) bad(k, expected);
            r.push_back(e.get<int>());
        }
        if (std::find(lengths.begin(), lengths.end(), r.size()) == lengths.end()) bad(k, expected);
        return r;
    }
    std::vector<double> numbers(const std::string& k, const std::string& expected) const {
        const json& v = j_.at(k);
        if (v.is_number()) return {v.get<double>()};
        if (!v.is_array() || v.empty()) bad(k, expected);
        std::vector<double> r;
        for (const auto& e : v) {
            if (!e.is_number()) bad(k, expected);
            r.push_back(e.get<double>());
        }
        return r;
    }

private:
    json j_;
    std::vector<std::string> accepted_;
};

// Interpolation names as torchvision's InterpolationMode values.
// The class id padded mask pixels get ("mask_fill", default 0); the
// segmentation references pad masks with 255, their ignore index.
static int parseMaskFill(const Params& p) {
    const int v = p.integer("mask_fill", 0);
    if (v < 0 || v > 255) p.bad("mask_fill", "a class id from 0 to 255");
    return v;
}

static ResampleFilter parseInterpolation(const Params& p, const std::string& key = "interpolation",
                                         ResampleFilter def = ResampleFilter::Bilinear) {
    if (!p.has(key)) return def;
    const json& v = p.at(key);
    if (v.is_number_integer()) {  // PIL constants, deprecated in torchvision but accepted
        switch (v.get<int>()) {
            case 0:
                return ResampleFilter::Nearest;
            case 2:
                return ResampleFilter::Bilinear;
            case 3:
                return ResampleFilter::Bicubic;
            case 1:
                return ResampleFilter::Lanczos;
            case 4:
                return ResampleFilter::Box;
            case 5:
                return ResampleFilter::Hamming;
        }
    }
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        if (s.rfind("InterpolationMode.", 0) == 0) s = s.substr(18);
        std::transform(s.begin(), s.end(), s.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (s == "nearest") return ResampleFilter::Nearest;
        if (s == "bilinear") return ResampleFilter::Bilinear;
        if (s == "bicubic") return ResampleFilter::Bicubic;
        if (s == "box") return ResampleFilter::Box;
        if (s == "hamming") return ResampleFilter::Hamming;
        if (s == "lanczos") return ResampleFilter::Lanczos;
    }
    p.bad(key,
          "one of \"nearest\", \"bilinear\", \"bicubic\" (or \"box\", \"hamming\", \"lanczos\")");
}

static std::string tupleText(const std::vector<int>& v) {
    std::string s = "(";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + (v.size() == 1 ? ",)" : ")");
}
static std::string floatsText(const std::vector<double>& v, const char* open, const char* close) {
    std::string s = open;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + pyFloat(v[i]);
    return s + (v.size() == 1 && std::string(open) == "(" ? "," : "") + close;
}

void resizedOutputSize(int inH, int inW, const std::vector<int>& size, int maxSize, int& outH,
                       int& outW) {
    if (size.size() == 2) {
        outH = size[0];
        outW = size[1];
        return;
    }
    const int h = inH, w = inW;
    const int shortE = w <= h ? w : h, longE = w <= h ? h : w;
    const int requested = size.at(0);
    // Python: int(requested * long / short), true division then truncation.
    int newShort = requested, newLong = int(double(requested) * longE / shortE);
    if (maxSize > 0) {
        if (maxSize <= requested)
            throw Error("max_size = " + std::to_string(maxSize) +
                        " must be strictly greater than the requested size for the smaller edge "
                        "size = " +
                        std::to_string(requested));
        if (newLong > maxSize) {
            newShort = int(double(maxSize) * newShort / newLong);
            newLong = maxSize;
        }
    }
    outW = w <= h ? newShort : newLong;
    outH = w <= h ? newLong : newShort;
}

// ------------------------------------------------------- geometric kernels

enum class PadMode { Constant, Edge, Reflect, Symmetric };

static PadMode parsePadMode(const Params& p) {
    const std::string s = p.string("padding_mode", "constant");
    if (s == "constant") return PadMode::Constant;
    if (s == "edge") return PadMode::Edge;
    if (s == "reflect") return PadMode::Reflect;
    if (s == "symmetric") return PadMode::Symmetric;
    p.bad("padding_mode", "one of \"constant\", \"edge\", \"reflect\", \"symmetric\"");
}
static std::string padModeName(PadMode m) {
    switch (m) {
        case PadMode::Constant:
            return "constant";
        case PadMode::Edge:
            return "edge";
        case PadMode::Reflect:
            return "reflect";
        case PadMode::Symmetric:
            return "symmetric";
    }
    return "constant";
}

// Source index for position i of a line of n samples extended by `mode`
// (numpy.pad semantics, periodic for pads wider than the line); -1 = fill.
static int padIndex(int i, int n, PadMode mode) {
    if (i >= 0 && i < n) return i;
    if (n <= 0) return -1;
    switch (mode) {
        case PadMode::Constant:
            return -1;
        case PadMode::Edge:
            return i < 0 ? 0 : n - 1;
        case PadMode::Reflect: {
            if (n == 1) return 0;
            const int period = 2 * (n - 1);
            int k = ((i % period) + period) % period;
            return k < n ? k : period - k;
        }
        case PadMode::Symmetric: {
            const int period = 2 * n;
            int k = ((i % period) + period) % period;
            return k < n ? k : period - 1 - k;
        }
    }
    return -1;
}

// Output row/column -> source row/column (-1 = fill) for a pad
// [l, t, r, b] (negative values crop, as torchvision does).
struct Remap {
    std::vector<int> rows, cols;
};
static std::vector<int> padLine(int n, int before, int after, PadMode mode) {
    // torchvision's PIL path crops negative sides first, then pads.
    const int cropB = std::max(0, -before), cropA = std::max(0, -after);
    const int inner = n - cropB - cropA;
    const int padB = std::max(0, before), padA = std::max(0, after);
    std::vector<int> r;
    if (inner <= 0) {
        if (mode != PadMode::Constant) throw Error("negative padding removes the whole image");
        r.assign(size_t(std::max(0, n + before + after)), -1);
        return r;
    }
    r.reserve(size_t(inner + padB + padA));
    for (int i = -padB; i < inner + padA; ++i) {
        const int k = padIndex(i, inner, mode);
        r.push_back(k < 0 ? -1 : k + cropB);
    }
    return r;
}
static std::vector<int> cropLine(int n, int start, int len) {
    std::vector<int> r(size_t(std::max(0, len)));
    for (int i = 0; i < len; ++i) r[size_t(i)] = (start + i >= 0 && start + i < n) ? start + i : -1;
    return r;
}
static std::vector<int> composeLine(const std::vector<int>& first, const std::vector<int>& second) {
    // `second` indexes into the output of `first`.
    std::vector<int> r(second.size());
    for (size_t i = 0; i < second.size(); ++i) r[i] = second[i] < 0 ? -1 : first[size_t(second[i])];
    return r;
}

// Fill values per channel: PIL truncates to int (_parse_fill), tensors keep floats.
static std::vector<float> fillFor(const std::vector<double>& fill, int channels, bool image,
                                  const std::string& op) {
    std::vector<float> r(size_t(std::max(channels, 1)), 0.f);
    if (fill.empty()) return r;
    if (fill.size() != 1 && int(fill.size()) != channels)
        throw Error(op + ": the number of elements in 'fill' (" + std::to_string(fill.size()) +
                    ") does not match the number of channels of the image (" +
                    std::to_string(channels) + ")");
    for (size_t c = 0; c < r.size(); ++c) {
        const double v = fill.size() == 1 ? fill[0] : fill[c];
        r[c] = image ? float(std::clamp<double>(std::trunc(v), 0, 255)) : float(v);
    }
    return r;
}

static StageValue remap(const StageValue& in, const Remap& m, const std::vector<double>& fill,
                        const std::string& op) {
    const int outH = int(m.rows.size()), outW = int(m.cols.size());
    if (in.isImage()) {
        const Image& src = in.image;
        const int c = src.channels;
        const std::vector<float> f = fillFor(fill, c, true, op);
        Image out = Image::allocate(outW, outH, c);
        for (int y = 0; y < outH; ++y) {
            uint8_t* d = out.row(y);
            const int sy = m.rows[size_t(y)];
            for (int x = 0; x < outW; ++x) {
                const int sx = m.cols[size_t(x)];
                if (sy < 0 || sx < 0) {
                    for (int k = 0; k < c; ++k) d[x * c + k] = uint8_t(f[size_t(k)]);
                } else {
                    const uint8_t* s = src.row(sy) + size_t(sx) * c;
                    for (int k = 0; k < c; ++k) d[x * c + k] = s[k];
                }
            }
        }
        return StageValue::fromImage(std::move(out));
    }
    const Tensor& src = in.tensor;
    if (src.shape.size() < 2)
        throw Error(op + " needs a tensor of shape (..., H, W), got " + shapeToString(src.shape));
    const int64_t H = src.shape[src.shape.size() - 2], W = src.shape.back();
    const int64_t planes = (H > 0 && W > 0) ? int64_t(src.values.size()) / (H * W) : 0;
    const int C = src.shape.size() >= 3 ? int(src.shape[src.shape.size() - 3]) : 1;
    const std::vector<float> f = fillFor(fill, C, false, op);
    Tensor out;
    out.dtype = src.dtype;
    out.shape = src.shape;
    out.shape[out.shape.size() - 2] = outH;
    out.shape.back() = outW;
    out.values.resize(size_t(planes) * outH * outW);
    for (int64_t p = 0; p < planes; ++p) {
        const float fv = f[size_t(p % C) % f.size()];
        const float* s = src.values.data() + p * H * W;
        float* d = out.values.data() + p * outH * outW;
        for (int y = 0; y < outH; ++y) {
            const int sy = m.rows[size_t(y)];
            for (int x = 0; x < outW; ++x) {
                const int sx = m.cols[size_t(x)];
                d[y * outW + x] = (sy < 0 || sx < 0) ? fv : s[int64_t(sy) * W + sx];
            }
        }
    }
    return StageValue::fromTensor(std::move(out));
}

static StageValue cropValue(const StageValue& in, int top, int left, int h, int w) {
    Remap m{cropLine(in.height(), top, h), cropLine(in.width(), left, w)};
    return remap(in, m, {}, "crop");
}

// Pad as [l, t, r, b] from torchvision's int / [all] / [lr, tb] / [l, t, r, b].
static std::array<int, 4> ltrb(const std::vector<int>& p) {
    if (p.size() == 1) return {p[0], p[0], p[0], p[0]};
    if (p.size() == 2) return {p[0], p[1], p[0], p[1]};
    return {p[0], p[1], p[2], p[3]};
}

static StageValue padValue(const StageValue& in, const std::array<int, 4>& p, PadMode mode,
                           const std::vector<double>& fill, const std::string& op) {
    Remap m{padLine(in.height(), p[1], p[3], mode), padLine(in.width(), p[0], p[2], mode)};
    return remap(in, m, fill, op);
}

// Resize of a tensor exactly as torchvision's F_t.resize: NCHW float,
// interpolate(align_corners=False), uint8 rounded back (bicubic clamped).
static Tensor resizeTensorAten(const Tensor& t, int outH, int outW, ResampleFilter f,
                               bool antialias) {
    if (t.shape.size() < 3 || t.shape.size() > 4)
        throw Error("Resize needs a tensor of shape (C, H, W) or (N, C, H, W), got " +
                    shapeToString(t.shape));
    if (outH <= 0 || outW <= 0) throw Error("Resize: output size must be positive");
    at::Tensor a = toAten(t);
    const bool squeeze = a.dim() == 3;
    if (squeeze) a = a.unsqueeze(0);
    const bool cast = a.scalar_type() != at::kFloat;
    if (cast) a = a.to(at::kFloat);
    const std::vector<int64_t> size{outH, outW};
    at::Tensor r;
    switch (f) {
        case ResampleFilter::Nearest:
            if (antialias)
                throw Error("Resize: antialias is supported for bilinear and bicubic only");
            r = at::upsample_nearest2d(a, size);
            break;
        case ResampleFilter::Bilinear:
            r = antialias ? at::_upsample_bilinear2d_aa(a, size, false)
                          : at::upsample_bilinear2d(a, size, false);
            break;
        case ResampleFilter::Bicubic:
            r = antialias ? at::_upsample_bicubic2d_aa(a, size, false)
                          : at::upsample_bicubic2d(a, size, false);
            if (t.dtype == DType::UInt8) r = r.clamp(0, 255);
            break;
        default:
            throw Error("Resize: interpolation " + resampleFilterName(f) +
                        " is only supported on images (PIL), not tensors");
    }
    if (squeeze) r = r.squeeze(0);
    if (cast) r = at::round(r).to(at::kByte);
    return fromAten(r);
}

static StageValue resizeValue(const StageValue& in, int outH, int outW, ResampleFilter f,
                              bool antialias) {
    if (in.height() == outH && in.width() == outW) return in;  // torchvision returns img as is
    if (outH <= 0 || outW <= 0)
        throw Error("output size " + std::to_string(outH) + "x" + std::to_string(outW) +
                    " is not positive");
    if (in.isImage()) return StageValue::fromImage(resizeImage(in.image, outW, outH, f));
    return StageValue::fromTensor(resizeTensorAten(in.tensor, outH, outW, f, antialias));
}

static ValueRange withFill(ValueRange r, double fill) {
    if (!r.known) return r;
    return ValueRange::of(std::min(r.lo, fill), std::max(r.hi, fill));
}

// Size parameter as torchvision's _setup_size: int -> (s, s), [s] -> (s, s).
static std::vector<int> setupSize(const Params& p, const std::string& k) {
    p.require(k);
    std::vector<int> s = p.ints(k, {1, 2}, "an int or a list [h, w]");
    if (s.size() == 1) s = {s[0], s[0]};
    if (s[0] <= 0 || s[1] <= 0) p.bad(k, "positive");
    return s;
}

// Maps through a line remap with centre-integer coordinates: the output
// position falls on source index `idx[round(v)]`, keeping the sub-pixel part.
static bool mapLine(double& v, const std::vector<int>& idx) {
    const long i = std::lround(std::floor(v + 0.5));
    if (i < 0 || i >= long(idx.size()) || idx[size_t(i)] < 0) return false;
    v = idx[size_t(i)] + (v - double(i));
    return true;
}

// ---------------------------------------------------------------- targets

// Masks move by the image's own remap (constant 0 where padded, as F.pad's
// default fill); boxes by the stage's affine map, then clipped.
static Image remapMask(const Image& mask, const Remap& m) {
    return remap(StageValue::fromImage(mask), m, {}, "mask").image;
}
static Image resizeMask(const Image& mask, int w, int h, ResampleFilter f) {
    if (mask.width == w && mask.height == h) return mask;
    return resizeImage(mask, w, h, f);
}
static void shiftBoxes(Target& t, double dx, double dy) {
    for (Box& b : t.boxes) {
        b.x1 += dx, b.x2 += dx;
        b.y1 += dy, b.y2 += dy;
    }
}
static void scaleBoxes(Target& t, double sx, double sy) {
    for (Box& b : t.boxes) {
        b.x1 *= sx, b.x2 *= sx;
        b.y1 *= sy, b.y2 *= sy;
    }
}
// Clips to [0, w] x [0, h]; a box left without area is dropped and counted.
static void clipBoxes(Target& t, int w, int h) {
    std::vector<Box> kept;
    for (Box b : t.boxes) {
        b.x1 = std::clamp(b.x1, 0.0, double(w)), b.x2 = std::clamp(b.x2, 0.0, double(w));
        b.y1 = std::clamp(b.y1, 0.0, double(h)), b.y2 = std::clamp(b.y2, 0.0, double(h));
        if (b.width() > 0 && b.height() > 0)
            kept.push_back(b);
        else
            ++t.droppedBoxes;
    }
    t.boxes = std::move(kept);
}

// ------------------------------------------------------------------- ops

namespace {

class Resize : public Transform {
public:
    explicit Resize(const Params& p) {
        p.require("size");
        size_ = p.ints("size", {1, 2}, "an int or a list [h, w]");
        for (int s : size_)
            if (s <= 0) p.bad("size", "positive");
        sizeWasInt_ = p.at("size").is_number_integer();
        filter_ = parseInterpolation(p);
        maxSize_ = p.integer("max_size", 0);
        if (p.has("max_size") && size_.size() != 1)
            throw Error(
                "max_size should only be passed if size specifies the length of the "
                "smaller edge, i.e. size should be an int or a list of length 1");
        if (maxSize_ > 0 && maxSize_ <= size_[0])
            throw Error("max_size = " + std::to_string(maxSize_) +
                        " must be strictly greater than the requested size for the smaller edge "
                        "size = " +
                        std::to_string(size_[0]));
        hasAntialias_ = p.has("antialias");
        antialias_ = p.boolean("antialias", false);
        maskFilter_ = parseInterpolation(p, "mask_interpolation", ResampleFilter::Nearest);
    }
    std::string op() const override { return "Resize"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.geometric = true;
        t.mayOvershoot = filter_ == ResampleFilter::Bicubic || filter_ == ResampleFilter::Lanczos;
        return t;
    }
    json params() const override {
        json j = {{"size", sizeWasInt_ ? json(size_[0]) : json(size_)},
                  {"interpolation", resampleFilterName(filter_)}};
        if (maxSize_ > 0) j["max_size"] = maxSize_;
        if (hasAntialias_) j["antialias"] = antialias_;
        if (maskFilter_ != ResampleFilter::Nearest)
            j["mask_interpolation"] = resampleFilterName(maskFilter_);
        return j;
    }
    std::string repr() const override {
        std::string s = sizeWasInt_         ? std::to_string(size_[0])
                        : size_.size() == 1 ? "[" + std::to_string(size_[0]) + "]"
                                            : tupleText(size_);
        return "Resize(size=" + s + ", interpolation=" + resampleFilterName(filter_) +
               ", max_size=" + (maxSize_ > 0 ? std::to_string(maxSize_) : "None") +
               ", antialias=" + (hasAntialias_ ? (antialias_ ? "True" : "False") : "None") + ")";
    }
    void outputSize(int inH, int inW, int& h, int& w) const {
        resizedOutputSize(inH, inW, size_, maxSize_, h, w);
    }
    ResampleFilter filter() const { return filter_; }
    StageValue apply(const StageValue& in, Rng&, json&) const override {
        int h, w;
        outputSize(in.height(), in.width(), h, w);
        return resizeValue(in, h, w, filter_, antialias_);
    }
    bool mapToInput(double& x, double& y, int inW, int inH, int outW, int outH,
                    const json&) const override {
        if (outW <= 0 || outH <= 0) return false;
        x = (x + 0.5) * inW / outW - 0.5;
        y = (y + 0.5) * inH / outH - 0.5;
        return x >= -0.5 && x < inW - 0.5 && y >= -0.5 && y < inH - 0.5;
    }
    Target applyToTarget(const Target& in, int inW, int inH, int, int, const json&) const override {
        int h, w;
        outputSize(inH, inW, h, w);
        Target t = in;
        if (t.hasMask()) t.mask = resizeMask(t.mask, w, h, maskFilter_);
        if (inW > 0 && inH > 0) scaleBoxes(t, double(w) / inW, double(h) / inH);
        return t;
    }

private:
    std::vector<int> size_;
    bool sizeWasInt_ = false;
    ResampleFilter filter_, maskFilter_ = ResampleFilter::Nearest;
    int maxSize_ = 0;
    bool hasAntialias_ = false, antialias_ = false;
};

class CenterCrop : public Transform {
public:
    explicit CenterCrop(const Params& p) : size_(setupSize(p, "size")) {}
    std::string op() const override { return "CenterCrop"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.geometric = true;
        return t;
    }
    json params() const override { return {{"size", size_}}; }
    std::string repr() const override { return "CenterCrop(size=" + tupleText(size_) + ")"; }
    // F.center_crop: zero-pad when the crop is larger, then crop at
    // int(round((h - th) / 2.0)).
    Remap plan(int inH, int inW) const {
        const int th = size_[0], tw = size_[1];
        int h = inH, w = inW;
        std::array<int, 4> pad{0, 0, 0, 0};
        if (tw > w || th > h) {
            pad = {tw > w ? (tw - w) / 2 : 0, th > h ? (th - h) / 2 : 0,
                   tw > w ? (tw - w + 1) / 2 : 0, th > h ? (th - h + 1) / 2 : 0};
            h += pad[1] + pad[3];
            w += pad[0] + pad[2];
        }
        const int top = pyRound((h - th) / 2.0), left = pyRound((w - tw) / 2.0);
        Remap m{padLine(inH, pad[1], pad[3], PadMode::Constant),
                padLine(inW, pad[0], pad[2], PadMode::Constant)};
        m.rows = composeLine(m.rows, cropLine(h, top, th));
        m.cols = composeLine(m.cols, cropLine(w, left, tw));
        return m;
    }
    const std::vector<int>& size() const { return size_; }
    StageValue apply(const StageValue& in, Rng&, json&) const override {
        return remap(in, plan(in.height(), in.width()), {}, "CenterCrop");
    }
    ValueRange expectedRange(const ValueRange& in, int) const override { return withFill(in, 0); }
    bool mapToInput(double& x, double& y, int inW, int inH, int, int, const json&) const override {
        const Remap m = plan(inH, inW);
        // Both coordinates are mapped even when the first falls outside.
        const bool insideX = mapLine(x, m.cols);
        const bool insideY = mapLine(y, m.rows);
        return insideX && insideY;
    }
    Target applyToTarget(const Target& in, int inW, int inH, int, int, const json&) const override {
        const int th = size_[0], tw = size_[1];
        // The same pad-then-crop as plan(): a box moves by pad - crop offset.
        const int padL = tw > inW ? (tw - inW) / 2 : 0, padT = th > inH ? (th - inH) / 2 : 0;
        const int w = tw > inW ? tw : inW, h = th > inH ? th : inH;
        Target t = in;
        if (t.hasMask()) t.mask = remapMask(t.mask, plan(inH, inW));
        shiftBoxes(t, padL - pyRound((w - tw) / 2.0), padT - pyRound((h - th) / 2.0));
        clipBoxes(t, tw, th);
        return t;
    }

private:
    std::vector<int> size_;
};

class RandomCrop : public Transform {
public:
    explicit RandomCrop(const Params& p) : size_(setupSize(p, "size")) {
        if (p.has("padding")) {
            padding_ = p.ints("padding", {1, 2, 4}, "an int or a list of 1, 2 or 4 ints");
            paddingWasInt_ = p.at("padding").is_number_integer();
        }
        padIfNeeded_ = p.boolean("pad_if_needed", false);
        if (p.has("fill")) fill_ = p.numbers("fill", "a number or a list of numbers");
        mode_ = parsePadMode(p);
        maskFill_ = parseMaskFill(p);
    }
    std::string op() const override { return "RandomCrop"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.geometric = true;
        return t;
    }
    bool isRandom() const override { return true; }
    json params() const override {
        json j = {{"size", size_}};
        if (!padding_.empty()) j["padding"] = paddingWasInt_ ? json(padding_[0]) : json(padding_);
        if (padIfNeeded_) j["pad_if_needed"] = true;
        if (!fill_.empty()) j["fill"] = fill_.size() == 1 ? json(fill_[0]) : json(fill_);
        if (mode_ != PadMode::Constant) j["padding_mode"] = padModeName(mode_);
        if (maskFill_) j["mask_fill"] = maskFill_;
        return j;
    }
    std::string repr() const override {
        std::string pad = "None";
        if (!padding_.empty())
            pad = paddingWasInt_ ? std::to_string(padding_[0]) : tupleText(padding_);
        return "RandomCrop(size=" + tupleText(size_) + ", padding=" + pad + ")";
    }
    // Total padding [l, t, r, b] applied before the crop for an input size.
    std::array<int, 4> totalPad(int h, int w) const {
        std::array<int, 4> p{0, 0, 0, 0};
        if (!padding_.empty()) p = ltrb(padding_);
        h += p[1] + p[3];
        w += p[0] + p[2];
        if (padIfNeeded_ && w < size_[1]) {  // F.pad(img, [tw - w, 0]) pads both sides
            p[0] += size_[1] - w;
            p[2] += size_[1] - w;
        }
        if (padIfNeeded_ && h < size_[0]) {
            p[1] += size_[0] - h;
            p[3] += size_[0] - h;
        }
        return p;
    }
    // Sequential pads as torchvision does them (matters for reflect modes).
    StageValue padded(const StageValue& in, const std::vector<double>& fill) const {
        StageValue v = in;
        if (!padding_.empty()) v = padValue(v, ltrb(padding_), mode_, fill, "RandomCrop");
        if (padIfNeeded_ && v.width() < size_[1]) {
            const int d = size_[1] - v.width();
            v = padValue(v, {d, 0, d, 0}, mode_, fill, "RandomCrop");
        }
        if (padIfNeeded_ && v.height() < size_[0]) {
            const int d = size_[0] - v.height();
            v = padValue(v, {0, d, 0, d}, mode_, fill, "RandomCrop");
        }
        return v;
    }
    Target applyToTarget(const Target& in, int inW, int inH, int, int,
                         const json& drawn) const override {
        if (!drawn.is_object() || !drawn.contains("top")) return in;
        const int top = drawn.value("top", 0), left = drawn.value("left", 0);
        const auto p = totalPad(inH, inW);
        Target t = in;
        if (t.hasMask())
            t.mask =
                cropValue(padded(StageValue::fromImage(t.mask), {double(maskFill_)}), top, left,
                          size_[0], size_[1])
                    .image;
        shiftBoxes(t, p[0] - left, p[1] - top);
        clipBoxes(t, size_[1], size_[0]);
        return t;
    }
    StageValue apply(const StageValue& in, Rng& rng, json& drawn) const override {
        StageValue v = padded(in, fill_);
        const int h = v.height(), w = v.width(), th = size_[0], tw = size_[1];
        if (h < th || w < tw)
            throw Error("required crop size (" + std::to_string(th) + ", " + std::to_string(tw) +
                        ") is larger than the input image size (" + std::to_string(h) + ", " +
                        std::to_string(w) + ")");
        int top = 0, left = 0;
        if (!(h == th && w == tw)) {
            top = int(rng.integer(0, h - th));
            left = int(rng.integer(0, w - tw));
        }
        const auto p = totalPad(in.height(), in.width());
        drawn = {{"top", top},
                 {"left", left},
                 {"height", th},
                 {"width", tw},
                 {"padding", {p[0], p[1], p[2], p[3]}}};
        return cropValue(v, top, left, th, tw);
    }
    ValueRange expectedRange(const ValueRange& in, int c) const override {
        if (mode_ != PadMode::Constant || (padding_.empty() && !padIfNeeded_)) return in;
        return withFill(in, fill_.empty() ? 0 : fill_[size_t(c) < fill_.size() ? size_t(c) : 0]);
    }
    bool mapToInput(double& x, double& y, int inW, int inH, int, int,
                    const json& drawn) const override {
        if (!drawn.is_object() || !drawn.contains("top")) return false;
        const auto p = totalPad(inH, inW);
        x += drawn.value("left", 0) - p[0];
        y += drawn.value("top", 0) - p[1];
        const int ix = int(std::floor(x + 0.5)), iy = int(std::floor(y + 0.5));
        const int sx = padIndex(ix, inW, mode_), sy = padIndex(iy, inH, mode_);
        if (sx < 0 || sy < 0) return false;
        x = sx + (x - ix);
        y = sy + (y - iy);
        return true;
    }

private:
    std::vector<int> size_, padding_;
    bool paddingWasInt_ = false, padIfNeeded_ = false;
    std::vector<double> fill_;
    int maskFill_ = 0;
    PadMode mode_ = PadMode::Constant;
};

class RandomResizedCrop : public Transform {
public:
    explicit RandomResizedCrop(const Params& p) : size_(setupSize(p, "size")) {
        if (p.has("scale")) scale_ = p.numbers("scale", "a list [min, max]");
        if (p.has("ratio")) ratio_ = p.numbers("ratio", "a list [min, max]");
        if (scale_.size() != 2) p.bad("scale", "a list [min, max]");
        if (ratio_.size() != 2) p.bad("ratio", "a list [min, max]");
        if (ratio_[0] <= 0 || ratio_[1] <= 0) p.bad("ratio", "positive");
        filter_ = parseInterpolation(p);
        hasAntialias_ = p.has("antialias");
        antialias_ = p.boolean("antialias", false);
        maskFilter_ = parseInterpolation(p, "mask_interpolation", ResampleFilter::Nearest);
    }
    std::string op() const override { return "RandomResizedCrop"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.geometric = true;
        t.mayOvershoot = filter_ == ResampleFilter::Bicubic || filter_ == ResampleFilter::Lanczos;
        return t;
    }
    bool isRandom() const override { return true; }
    json params() const override {
        json j = {{"size", size_},
                  {"scale", scale_},
                  {"ratio", ratio_},
                  {"interpolation", resampleFilterName(filter_)}};
        if (hasAntialias_) j["antialias"] = antialias_;
        if (maskFilter_ != ResampleFilter::Nearest)
            j["mask_interpolation"] = resampleFilterName(maskFilter_);
        return j;
    }
    std::string repr() const override {
        // torchvision 0.14 prints a stray ")" after interpolation; kept verbatim.
        std::vector<double> s{std::round(scale_[0] * 1e4) / 1e4, std::round(scale_[1] * 1e4) / 1e4};
        std::vector<double> r{std::round(ratio_[0] * 1e4) / 1e4, std::round(ratio_[1] * 1e4) / 1e4};
        return "RandomResizedCrop(size=" + tupleText(size_) + ", scale=" + floatsText(s, "(", ")") +
               ", ratio=" + floatsText(r, "(", ")") +
               ", interpolation=" + resampleFilterName(filter_) +
               "), antialias=" + (hasAntialias_ ? (antialias_ ? "True" : "False") : "None") + ")";
    }
    // torchvision's RandomResizedCrop.get_params.
    void draw(int height, int width, Rng& rng, int& i, int& j, int& h, int& w) const {
        const double area = double(height) * width;
        // torch.log(torch.tensor(ratio)) is float32, and so are the uniform draws.
        const float logLo = std::log(float(ratio_[0])), logHi = std::log(float(ratio_[1]));
        for (int attempt = 0; attempt < 10; ++attempt) {
            const double targetArea = area * float(rng.uniform(scale_[0], scale_[1]));
            const double aspect = std::exp(float(rng.uniform(logLo, logHi)));
            w = pyRound(std::sqrt(targetArea * aspect));
            h = pyRound(std::sqrt(targetArea / aspect));
            if (0 < w && w <= width && 0 < h && h <= height) {
                i = int(rng.integer(0, height - h));
                j = int(rng.integer(0, width - w));
                return;
            }
        }
        const double inRatio = double(width) / double(height);
        const double lo = std::min(ratio_[0], ratio_[1]), hi = std::max(ratio_[0], ratio_[1]);
        if (inRatio < lo) {
            w = width;
            h = pyRound(w / lo);
        } else if (inRatio > hi) {
            h = height;
            w = pyRound(h * hi);
        } else {
            w = width;
            h = height;
        }
        i = (height - h) / 2;
        j = (width - w) / 2;
    }
    StageValue apply(const StageValue& in, Rng& rng, json& drawn) const override {
        if (in.height() <= 0 || in.width() <= 0) throw Error("empty input");
        int i, j, h, w;
        draw(in.height(), in.width(), rng, i, j, h, w);
        drawn = {{"top", i}, {"left", j}, {"height", h}, {"width", w}};
        return resizeValue(cropValue(in, i, j, h, w), size_[0], size_[1], filter_, antialias_);
    }
    Target applyToTarget(const Target& in, int, int, int, int, const json& drawn) const override {
        if (!drawn.is_object() || !drawn.contains("top")) return in;
        const int top = drawn.value("top", 0), left = drawn.value("left", 0);
        const int h = drawn.value("height", 0), w = drawn.value("width", 0);
        if (h <= 0 || w <= 0) return in;
        Target t = in;
        if (t.hasMask())
            t.mask = resizeMask(cropValue(StageValue::fromImage(t.mask), top, left, h, w).image,
                                size_[1], size_[0], maskFilter_);
        shiftBoxes(t, -left, -top);
        clipBoxes(t, w, h);
        scaleBoxes(t, double(size_[1]) / w, double(size_[0]) / h);
        return t;
    }
    bool mapToInput(double& x, double& y, int inW, int inH, int outW, int outH,
                    const json& drawn) const override {
        if (!drawn.is_object() || !drawn.contains("top") || outW <= 0 || outH <= 0) return false;
        x = drawn.value("left", 0) + (x + 0.5) * drawn.value("width", 0) / outW - 0.5;
        y = drawn.value("top", 0) + (y + 0.5) * drawn.value("height", 0) / outH - 0.5;
        return x >= -0.5 && x < inW - 0.5 && y >= -0.5 && y < inH - 0.5;
    }

private:
    std::vector<int> size_;
    std::vector<double> scale_{0.08, 1.0}, ratio_{3.0 / 4.0, 4.0 / 3.0};
    ResampleFilter filter_, maskFilter_ = ResampleFilter::Nearest;
    bool hasAntialias_ = false, antialias_ = false;
};

class RandomFlip : public Transform {
public:
    RandomFlip(const Params& p, bool horizontal) : horizontal_(horizontal) {
        p_ = p.number("p", 0.5);
    }
    std::string op() const override {
        return horizontal_ ? "RandomHorizontalFlip" : "RandomVerticalFlip";
    }
    TransformTraits traits() const override {
        TransformTraits t;
        t.geometric = true;
        t.discreteDraws = true;  // flipped or not
        return t;
    }
    bool isRandom() const override { return true; }
    json params() const override { return {{"p", p_}}; }
    std::string repr() const override { return op() + "(p=" + pyFloat(p_) + ")"; }
    StageValue apply(const StageValue& in, Rng& rng, json& drawn) const override {
        const bool flip = rng.bernoulli(p_);  // torch.rand(1) < p
        drawn = {{"flipped", flip}};
        if (!flip) return in;
        Remap m{cropLine(in.height(), 0, in.height()), cropLine(in.width(), 0, in.width())};
        auto& line = horizontal_ ? m.cols : m.rows;
        std::reverse(line.begin(), line.end());
        return remap(in, m, {}, op());
    }
    bool mapToInput(double& x, double& y, int inW, int inH, int, int,
                    const json& drawn) const override {
        if (drawn.is_object() && drawn.value("flipped", false)) {
            if (horizontal_)
                x = inW - 1 - x;
            else
                y = inH - 1 - y;
        }
        return x >= -0.5 && x < inW - 0.5 && y >= -0.5 && y < inH - 0.5;
    }
    // Boxes mirrored as references/detection/transforms.py: x1' = W - x2.
    Target applyToTarget(const Target& in, int inW, int inH, int, int,
                         const json& drawn) const override {
        if (!drawn.is_object() || !drawn.value("flipped", false)) return in;
        Target t = in;
        if (t.hasMask()) {
            const int mh = t.mask.height, mw = t.mask.width;
            Remap m{cropLine(mh, 0, mh), cropLine(mw, 0, mw)};
            auto& line = horizontal_ ? m.cols : m.rows;
            std::reverse(line.begin(), line.end());
            t.mask = remapMask(t.mask, m);
        }
        for (Box& b : t.boxes) {
            if (horizontal_)
                b = Box{inW - b.x2, b.y1, inW - b.x1, b.y2, b.label, b.crowd};
            else
                b = Box{b.x1, inH - b.y2, b.x2, inH - b.y1, b.label, b.crowd};
        }
        return t;
    }

private:
    bool horizontal_;
    double p_ = 0.5;
};

class Pad : public Transform {
public:
    explicit Pad(const Params& p) {
        p.require("padding");
        padding_ = p.ints("padding", {1, 2, 4}, "an int or a list of 1, 2 or 4 ints");
        paddingWasInt_ = p.at("padding").is_number_integer();
        if (p.has("fill")) fill_ = p.numbers("fill", "a number or a list of numbers");
        mode_ = parsePadMode(p);
        maskFill_ = parseMaskFill(p);
    }
    std::string op() const override { return "Pad"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.geometric = true;
        return t;
    }
    json params() const override {
        json j = {{"padding", paddingWasInt_ ? json(padding_[0]) : json(padding_)},
                  {"padding_mode", padModeName(mode_)}};
        j["fill"] = fill_.size() == 1 ? json(fill_[0]) : json(fill_);
        if (maskFill_) j["mask_fill"] = maskFill_;
        return j;
    }
    std::string repr() const override {
        std::string fill;
        if (fill_.size() == 1)
            fill = fill_[0] == std::trunc(fill_[0]) ? std::to_string(int64_t(fill_[0]))
                                                    : pyFloat(fill_[0]);
        else
            fill = floatsText(fill_, "(", ")");
        return "Pad(padding=" +
               (paddingWasInt_ ? std::to_string(padding_[0]) : tupleText(padding_)) +
               ", fill=" + fill + ", padding_mode=" + padModeName(mode_) + ")";
    }
    StageValue apply(const StageValue& in, Rng&, json&) const override {
        return padValue(in, ltrb(padding_), mode_, fill_, "Pad");
    }
    ValueRange expectedRange(const ValueRange& in, int c) const override {
        if (mode_ != PadMode::Constant) return in;
        return withFill(in, fill_[size_t(c) < fill_.size() ? size_t(c) : 0]);
    }
    bool mapToInput(double& x, double& y, int inW, int inH, int, int, const json&) const override {
        const auto p = ltrb(padding_);
        // Both coordinates are mapped even when the first falls outside.
        const bool insideX = mapLine(x, padLine(inW, p[0], p[2], mode_));
        const bool insideY = mapLine(y, padLine(inH, p[1], p[3], mode_));
        return insideX && insideY;
    }
    Target applyToTarget(const Target& in, int inW, int inH, int, int, const json&) const override {
        const auto p = ltrb(padding_);
        Target t = in;
        if (t.hasMask())
            t.mask = padValue(StageValue::fromImage(t.mask), p, mode_, {double(maskFill_)}, "Pad").image;
        shiftBoxes(t, p[0], p[1]);
        clipBoxes(t, inW + p[0] + p[2], inH + p[1] + p[3]);
        return t;
    }

private:
    std::vector<int> padding_;
    bool paddingWasInt_ = false;
    std::vector<double> fill_{0};
    PadMode mode_ = PadMode::Constant;
    int maskFill_ = 0;
};

class Grayscale : public Transform {
public:
    explicit Grayscale(const Params& p) {
        n_ = p.integer("num_output_channels", 1);
        if (n_ != 1 && n_ != 3) p.bad("num_output_channels", "1 or 3");
    }
    std::string op() const override { return "Grayscale"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.geometric = true;
        return t;
    }
    json params() const override { return {{"num_output_channels", n_}}; }
    std::string repr() const override {
        return "Grayscale(num_output_channels=" + std::to_string(n_) + ")";
    }
    StageValue apply(const StageValue& in, Rng&, json&) const override {
        if (in.isImage()) {
            const Image& src = in.image;
            Image out = Image::allocate(src.width, src.height, n_);
            const size_t px = size_t(src.width) * src.height;
            for (size_t i = 0; i < px; ++i) {
                uint8_t l;
                if (src.channels >= 3) {
                    // Pillow's convert("L"): ITU-R 601-2 luma in 16-bit fixed point.
                    const uint8_t* s = src.pixels.data() + i * src.channels;
                    l = uint8_t((s[0] * 19595 + s[1] * 38470 + s[2] * 7471 + 0x8000) >> 16);
                } else {
                    l = src.pixels[i * src.channels];
                }
                for (int c = 0; c < n_; ++c) out.pixels[i * n_ + c] = l;
            }
            return StageValue::fromImage(std::move(out));
        }
        const Tensor& t = in.tensor;
        if (t.shape.size() < 3) throw Error("Grayscale needs a tensor with at least 3 dimensions");
        const int64_t c = t.shape[t.shape.size() - 3];
        if (c != 1 && c != 3)
            throw Error("Grayscale needs 1 or 3 channels, got " + std::to_string(c));
        at::Tensor a = toAten(t), l;
        if (c == 3) {
            auto ch = a.unbind(-3);
            l = at::add(at::add(at::mul(ch[0], 0.2989), at::mul(ch[1], 0.587)),
                        at::mul(ch[2], 0.114))
                    .to(a.scalar_type())
                    .unsqueeze(-3);
        } else {
            l = a.clone();
        }
        if (n_ == 3) {
            std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end());
            l = l.expand(shape).contiguous();
        }
        return StageValue::fromTensor(fromAten(l));
    }

private:
    int n_ = 1;
};

class ToTensorOp : public Transform {
public:
    explicit ToTensorOp(const Params&) {}
    std::string op() const override { return "ToTensor"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.imageToTensor = true;
        return t;
    }
    bool mapValue(float x, int, float& y) const override {
        y = x / 255.0f;  // as apply()
        return true;
    }
    json params() const override { return json::object(); }
    std::string repr() const override { return "ToTensor()"; }
    StageValue apply(const StageValue& in, Rng&, json&) const override {
        if (!in.isImage())
            throw Error(
                "ToTensor needs an image but got a tensor (torchvision: pic should be PIL "
                "Image or ndarray)");
        Tensor t = asTensor(in);
        t.dtype = DType::Float32;
        // Correctly rounded float32 division, like torch's div(255).
        for (float& v : t.values) v = v / 255.0f;
        return StageValue::fromTensor(std::move(t));
    }
    ValueRange expectedRange(const ValueRange& in, int) const override {
        if (!in.known) return in;
        return ValueRange::of(in.lo / 255.0, in.hi / 255.0);
    }
};

class PILToTensorOp : public Transform {
public:
    explicit PILToTensorOp(const Params&) {}
    std::string op() const override { return "PILToTensor"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.imageToTensor = true;
        return t;
    }
    bool mapValue(float x, int, float& y) const override {
        y = x;
        return true;
    }
    json params() const override { return json::object(); }
    std::string repr() const override { return "PILToTensor()"; }
    StageValue apply(const StageValue& in, Rng&, json&) const override {
        if (!in.isImage())
            throw Error(
                "PILToTensor needs an image but got a tensor (torchvision: pic should be "
                "PIL Image)");
        return StageValue::fromTensor(asTensor(in));
    }
};

class ConvertImageDtype : public Transform {
public:
    explicit ConvertImageDtype(const Params& p) {
        std::string d = p.string("dtype", "float32");
        if (d.rfind("torch.", 0) == 0) d = d.substr(6);
        if (d == "float32" || d == "float")
            toFloat_ = true;
        else if (d == "uint8")
            toFloat_ = false;
        else
            p.bad("dtype", "\"float32\" (also \"float\", \"torch.float32\") or \"uint8\"");
    }
    std::string op() const override { return "ConvertImageDtype"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.expectsUnitInput = !toFloat_;
        return t;
    }
    json params() const override { return {{"dtype", toFloat_ ? "float32" : "uint8"}}; }
    std::string repr() const override { return "ConvertImageDtype()"; }
    StageValue apply(const StageValue& in, Rng&, json&) const override {
        if (in.isImage()) needTensor("ConvertImageDtype");
        Tensor t = in.tensor;
        if (toFloat_) {
            if (t.dtype == DType::UInt8) {
                for (float& v : t.values) v = v / 255.0f;  // image.to(float).div(255)
                t.dtype = DType::Float32;
            }
        } else if (t.dtype == DType::Float32) {
            // torchvision: image.mul(255 + 1 - 1e-3).to(uint8)
            const float scale = float(255.0 + 1.0 - 1e-3);
            for (float& v : t.values) {
                const float s = v * scale;
                v = std::isnan(s) ? 0.f : std::trunc(std::clamp(s, 0.f, 255.f));
            }
            t.dtype = DType::UInt8;
        }
        return StageValue::fromTensor(std::move(t));
    }
    // The range only tells integer-valued uint8 data (above 1) from float
    // data in [0, 1]; that is what decides whether the stage scales.
    ValueRange expectedRange(const ValueRange& in, int) const override {
        if (!in.known) return in;
        if (toFloat_ && in.hi > 1.0) return ValueRange::of(in.lo / 255.0, in.hi / 255.0);
        if (!toFloat_ && in.hi <= 1.0)
            return ValueRange::of(std::floor(std::max(0.0, in.lo) * 255.999),
                                  std::floor(std::min(1.0, in.hi) * 255.999));
        return in;
    }

private:
    bool toFloat_ = true;
};

class Normalize : public Transform {
public:
    explicit Normalize(const Params& p) {
        p.require("mean");
        p.require("std");
        params_.mean = p.numbers("mean", "a number or a list of numbers");
        params_.std = p.numbers("std", "a number or a list of numbers");
        inplace_ = p.boolean("inplace", false);
        for (double s : params_.std)
            if (float(s) == 0.f)
                throw Error(
                    "std evaluated to zero after conversion to float32, leading to "
                    "division by zero");
    }
    std::string op() const override { return "Normalize"; }
    const NormalizeParams* normalization() const override { return &params_; }
    bool mapValue(float x, int c, float& y) const override {
        const auto& m = params_.mean;
        const auto& sd = params_.std;
        const size_t k = size_t(c);
        if ((m.size() != 1 && k >= m.size()) || (sd.size() != 1 && k >= sd.size())) return false;
        y = (x - float(m.size() == 1 ? m[0] : m[k])) / float(sd.size() == 1 ? sd[0] : sd[k]);
        return true;
    }
    json params() const override {
        json j = {{"mean", params_.mean}, {"std", params_.std}};
        if (inplace_) j["inplace"] = true;
        return j;
    }
    std::string repr() const override {
        return "Normalize(mean=" + floatsText(params_.mean, "[", "]") +
               ", std=" + floatsText(params_.std, "[", "]") + ")";
    }
    StageValue apply(const StageValue& in, Rng&, json&) const override {
        if (in.isImage()) needTensor("Normalize");
        Tensor t = in.tensor;
        if (t.dtype != DType::Float32)
            throw Error(
                "Normalize needs a float tensor but got uint8 (torchvision: Input tensor "
                "should be a float tensor); use ToTensor or ConvertImageDtype before it");
        if (t.shape.size() < 3)
            throw Error("Normalize needs a tensor of shape (..., C, H, W), got " +
                        shapeToString(t.shape));
        const int64_t C = t.shape[t.shape.size() - 3];
        for (const auto* v : {&params_.mean, &params_.std})
            if (v->size() != 1 && int64_t(v->size()) != C)
                throw Error(std::string(v == &params_.mean ? "mean" : "std") + " has " +
                            std::to_string(v->size()) + " values but the tensor has " +
                            std::to_string(C) + " channel(s) (shape " + shapeToString(t.shape) +
                            "); give 1 or " + std::to_string(C) + " values");
        const int64_t plane = t.shape[t.shape.size() - 2] * t.shape.back();
        const int64_t planes = plane ? int64_t(t.values.size()) / plane : 0;
        for (int64_t p = 0; p < planes; ++p) {
            const size_t c = size_t(p % C);
            const float m = float(params_.mean.size() == 1 ? params_.mean[0] : params_.mean[c]);
            const float s = float(params_.std.size() == 1 ? params_.std[0] : params_.std[c]);
            float* d = t.values.data() + p * plane;
            for (int64_t k = 0; k < plane; ++k) d[k] = (d[k] - m) / s;  // sub_ then div_
        }
        return StageValue::fromTensor(std::move(t));
    }
    ValueRange expectedRange(const ValueRange& in, int c) const override {
        if (!in.known) return in;
        const size_t k = size_t(std::max(c, 0));
        const double m =
            float(params_.mean.size() == 1 ? params_.mean[0]
                                           : params_.mean[std::min(k, params_.mean.size() - 1)]);
        const double s =
            float(params_.std.size() == 1 ? params_.std[0]
                                          : params_.std[std::min(k, params_.std.size() - 1)]);
        const double a = (in.lo - m) / s, b = (in.hi - m) / s;
        return ValueRange::of(std::min(a, b), std::max(a, b));
    }

private:
    NormalizeParams params_;
    bool inplace_ = false;
};

class LambdaOp : public Transform {
public:
    explicit LambdaOp(const Params& p) {
        p.require("expr");
        expr_ = Expression::parse(p.string("expr", ""));
    }
    std::string op() const override { return "Lambda"; }
    TransformTraits traits() const override {
        TransformTraits t;
        t.unknownRange = true;
        return t;
    }
    json params() const override { return {{"expr", expr_.text()}}; }
    std::string repr() const override { return "Lambda()"; }  // torchvision prints no code
    StageValue apply(const StageValue& in, Rng&, json&) const override {
        if (in.isImage()) needTensor("Lambda");
        return StageValue::fromTensor(expr_.evaluate(in.tensor));
    }
    ValueRange expectedRange(const ValueRange&, int) const override {
        return ValueRange::unknown();
    }

private:
    Expression expr_;
};

struct OpInfo {
    const char* name;
    std::vector<std::string> params;
};

const std::vector<OpInfo>& ops() {
    static const std::vector<OpInfo> v = {
        {"Resize", {"size", "interpolation", "max_size", "antialias", "mask_interpolation"}},
        {"CenterCrop", {"size"}},
        {"RandomCrop", {"size", "padding", "pad_if_needed", "fill", "padding_mode", "mask_fill"}},
        {"RandomResizedCrop",
         {"size", "scale", "ratio", "interpolation", "antialias", "mask_interpolation"}},
        {"RandomHorizontalFlip", {"p"}},
        {"RandomVerticalFlip", {"p"}},
        {"Pad", {"padding", "fill", "padding_mode", "mask_fill"}},
        {"Grayscale", {"num_output_channels"}},
        {"ToTensor", {}},
        {"PILToTensor", {}},
        {"ConvertImageDtype", {"dtype"}},
        {"Normalize", {"mean", "std", "inplace"}},
        {"Lambda", {"expr"}},
        {"TorchScript", {"path"}},
    };
    return v;
}

}  // namespace

std::vector<std::string> transformOps() {
    std::vector<std::string> r;
    for (const auto& o : ops()) r.push_back(o.name);
    return r;
}

std::shared_ptr<const Transform> createTransform(const std::string& op, const json& params,
                                                 const std::string& baseDir) {
    const OpInfo* info = nullptr;
    for (const auto& o : ops())
        if (op == o.name) info = &o;
    if (!info) throw Error("unknown op '" + op + "'; supported: " + joinNames(transformOps()));
    if (op == "TorchScript") return createTorchScriptTransform(params, baseDir);
    const Params p(params, info->params);
    if (op == "Resize") return std::make_shared<Resize>(p);
    if (op == "CenterCrop") return std::make_shared<CenterCrop>(p);
    if (op == "RandomCrop") return std::make_shared<RandomCrop>(p);
    if (op == "RandomResizedCrop") return std::make_shared<RandomResizedCrop>(p);
    if (op == "RandomHorizontalFlip") return std::make_shared<RandomFlip>(p, true);
    if (op == "RandomVerticalFlip") return std::make_shared<RandomFlip>(p, false);
    if (op == "Pad") return std::make_shared<Pad>(p);
    if (op == "Grayscale") return std::make_shared<Grayscale>(p);
    if (op == "ToTensor") return std::make_shared<ToTensorOp>(p);
    if (op == "PILToTensor") return std::make_shared<PILToTensorOp>(p);
    if (op == "ConvertImageDtype") return std::make_shared<ConvertImageDtype>(p);
    if (op == "Normalize") return std::make_shared<Normalize>(p);
    return std::make_shared<LambdaOp>(p);
}

bool fuseResizeCenterCrop(const Transform& resize, const Transform& crop, const Image& in,
                          Image& out) {
    const auto* r = dynamic_cast<const Resize*>(&resize);
    const auto* c = dynamic_cast<const CenterCrop*>(&crop);
    if (!r || !c || in.empty()) return false;
    int h, w;
    r->outputSize(in.height, in.width, h, w);
    const int th = c->size()[0], tw = c->size()[1];
    if (th > h || tw > w || h <= 0 || w <= 0) return false;  // padding case: not fused
    const int top = pyRound((h - th) / 2.0), left = pyRound((w - tw) / 2.0);
    if (h == in.height && w == in.width) return false;  // Resize is a no-op: plain crop path
    out = resizeImageRegion(in, w, h, r->filter(), left, top, tw, th);
    return true;
}

}  // namespace bs

namespace bs {

bool resizedSizeOf(const Transform& t, int inW, int inH, int& outW, int& outH) {
    const auto* r = dynamic_cast<const Resize*>(&t);
    if (!r) return false;
    r->outputSize(inH, inW, outH, outW);
    return true;
}

}  // namespace bs
