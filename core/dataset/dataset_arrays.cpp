// Array datasets: MNIST-style idx files, NumPy arrays and torch.save dumps.
// Each is loaded once into memory; samples are slices of it, so the
// concurrent loadRaw/loadTensor calls only read shared const data.
#include <ATen/core/ivalue.h>
#include <c10/util/Exception.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <dirent.h>
#include <sys/stat.h>
#include <zip.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>

#include "core/common/fileio.h"
#include "core/dataset/dataset_internal.h"
#include "core/dataset/npy.h"
#include "core/dataset/ptfile.h"
#include "core/common/safe_unpickle.h"

namespace bs {

namespace {

using namespace detail;

[[noreturn]] void fail(const std::string& name, const std::string& what) { throw Error(name + ": " + what); }

uint64_t fileSize(const std::string& path) { return regularFileSize(path); }

DecodeError noRaw(const std::string& file) {
    return DecodeError(DecodeErrorKind::Unreadable,
                       file + ": holds already-transformed tensors; there is no raw image");
}

void checkIndex(size_t i, size_t n, const std::string& file) {
    if (i >= n) throw DecodeError(DecodeErrorKind::Unreadable, file + ": sample index " + std::to_string(i) + " out of range");
}

// ---------------------------------------------------------------- idx

// An idx file: big-endian dims after a magic of 0x00 0x00 <type> <ndim>.
struct IdxFile {
    std::vector<uint32_t> dims;
    std::vector<uint8_t> data;
};

// `type` 0x08 (unsigned bytes) or 0x0C (big-endian int32, QMNIST's labels).
IdxFile readIdx(const std::string& path, uint8_t wantNdim, uint8_t type = 0x08) {
    const uint64_t size = fileSize(path);
    bool gzipped = false;
    {
        std::ifstream raw(path, std::ios::binary);
        unsigned char head[2] = {0, 0};
        raw.read(reinterpret_cast<char*>(head), 2);
        gzipped = raw.gcount() == 2 && head[0] == 0x1f && head[1] == 0x8b;
    }
    gzFile gz = gzopen(path.c_str(), "rb");  // reads uncompressed files as is
    if (!gz) fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
    std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(gz, &gzclose);
    auto readExact = [&](void* dst, unsigned len) -> unsigned {
        const int got = gzread(gz, dst, len);
        if (got < 0) {
            int code = 0;
            fail(path, std::string("corrupt gzip data (") + gzerror(gz, &code) + ")");
        }
        return unsigned(got);
    };
    unsigned char magic[4];
    if (readExact(magic, 4) != 4) fail(path, "too short for an idx header");
    const unsigned char expectType = type;
    const uint64_t elemSize = type == 0x0C ? 4 : 1;
    const uint32_t wantMagic = uint32_t(type) << 8 | wantNdim;
    const uint32_t gotMagic = uint32_t(magic[0]) << 24 | uint32_t(magic[1]) << 16 | uint32_t(magic[2]) << 8 | magic[3];
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != expectType || magic[3] != wantNdim) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "bad idx magic 0x%08X (expected 0x%08X)", gotMagic, wantMagic);
        fail(path, buf);
    }
    IdxFile out;
    uint64_t expected = 1;
    for (int i = 0; i < wantNdim; ++i) {
        unsigned char b[4];
        if (readExact(b, 4) != 4) fail(path, "truncated idx header");
        const uint32_t d = uint32_t(b[0]) << 24 | uint32_t(b[1]) << 16 | uint32_t(b[2]) << 8 | b[3];
        out.dims.push_back(d);
        // Checked before multiplying so the product cannot overflow.
        if (d != 0 && expected > (uint64_t(1) << 40) / d) fail(path, "idx header claims an absurd size");
        expected *= d;
    }
    expected *= elemSize;
    if (wantNdim == 3 && (out.dims[1] == 0 || out.dims[2] == 0 || out.dims[1] > 65535 || out.dims[2] > 65535))
        fail(path, "idx header has invalid image size " + std::to_string(out.dims[1]) + "x" + std::to_string(out.dims[2]));
    const uint64_t headerBytes = 4 + 4 * uint64_t(wantNdim);
    // Validate against what the file can hold before allocating.
    if (!gzipped && size - headerBytes != expected)
        fail(path, "data length does not match the header: header claims " + std::to_string(expected) +
                       " bytes, file holds " + std::to_string(size - headerBytes));
    if (gzipped && expected > size * 1040 + 1024)
        fail(path, "header claims " + std::to_string(expected) + " bytes, more than the compressed file can hold");
    const size_t chunk = size_t(1) << 22;
    while (out.data.size() < expected) {
        const size_t want = size_t(std::min<uint64_t>(chunk, expected - out.data.size()));
        const size_t at = out.data.size();
        out.data.resize(at + want);
        const unsigned got = readExact(out.data.data() + at, unsigned(want));
        if (got < want)
            fail(path, "data is truncated: header claims " + std::to_string(expected) + " bytes, found " +
                           std::to_string(at + got));
    }
    unsigned char extra;
    if (readExact(&extra, 1) != 0) fail(path, "data length does not match the header: extra bytes after the data");
    return out;
}

const std::vector<std::string> kFashionClasses = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                  "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const std::vector<std::string> kMnistClasses = {"0 - zero", "1 - one", "2 - two",   "3 - three", "4 - four",
                                                "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"};

class IdxDataset : public Dataset {
public:
    IdxDataset(std::string file, IdxFile images, std::vector<int64_t> labels, std::vector<std::string> classes)
        : file_(std::move(file)), labels_(std::move(labels)), classes_(std::move(classes)) {
        n_ = images.dims[0];
        h_ = int(images.dims[1]);
        w_ = int(images.dims[2]);
        pixels_ = std::move(images.data);
    }
    DatasetFormat format() const override { return DatasetFormat::Idx; }
    std::string root() const override { return file_; }
    size_t size() const override { return n_; }
    std::vector<std::string> classes() const override { return classes_; }
    std::string path(size_t i) const override { return file_ + "#" + std::to_string(i); }
    int64_t label(size_t i) const override { return i < labels_.size() ? labels_[i] : -1; }
    Image loadRaw(size_t i, DecodeInfo* info) const override {
        checkIndex(i, n_, file_);
        Image im = Image::allocate(w_, h_, 1);
        const size_t px = size_t(w_) * h_;
        std::memcpy(im.pixels.data(), pixels_.data() + i * px, px);
        if (info) {
            *info = DecodeInfo{};
            info->format = "IDX";
            info->sourceMode = "L";
            info->sourceWidth = w_;
            info->sourceHeight = h_;
        }
        return im;
    }

private:
    std::string file_;
    size_t n_ = 0;
    int h_ = 0, w_ = 0;
    std::vector<uint8_t> pixels_;
    std::vector<int64_t> labels_;
    std::vector<std::string> classes_;
};

// The class names of torchvision's MNIST-style datasets (torchvision/datasets/mnist.py).
const std::vector<std::string> kKmnistClasses = {"o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"};

std::vector<std::string> charClasses(const char* chars, bool withNa = false) {
    std::vector<std::string> out;
    if (withNa) out.push_back("N/A");
    for (const char* c = chars; *c; ++c) out.emplace_back(1, *c);
    return out;
}

const char* kDigits = "0123456789";
const char* kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const char* kLower = "abcdefghijklmnopqrstuvwxyz";

std::vector<std::string> emnistClasses(const std::string& split) {
    if (split == "letters") return charClasses(kLower, true);
    if (split == "digits" || split == "mnist") return charClasses(kDigits);
    if (split == "byclass") return charClasses((std::string(kDigits) + kUpper + kLower).c_str());
    // bymerge and balanced merge the letters whose cases look alike.
    return charClasses((std::string(kDigits) + kUpper + "abdefghnqrt").c_str());
}

std::vector<std::string> torchvisionIdxClasses(const std::string& cls, const std::string& emnistSplit) {
    if (cls == "FashionMNIST") return kFashionClasses;
    if (cls == "KMNIST") return kKmnistClasses;
    if (cls == "EMNIST") return emnistClasses(emnistSplit);
    return kMnistClasses;  // MNIST, QMNIST
}

// Fashion-MNIST and MNIST share file names and layout; their label files
// do not: the first labels of each published file tell them apart.
bool startsWithLabels(const std::vector<int64_t>& labels, std::initializer_list<int64_t> head) {
    return labels.size() >= head.size() && std::equal(head.begin(), head.end(), labels.begin());
}

std::string knownIdxDataset(const std::vector<int64_t>& labels) {
    if ((labels.size() == 60000 && startsWithLabels(labels, {9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 0, 9})) ||
        (labels.size() == 10000 && startsWithLabels(labels, {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5})))
        return "FashionMNIST";
    if ((labels.size() == 60000 && startsWithLabels(labels, {5, 0, 4, 1, 9, 2, 1, 3, 1, 4})) ||
        (labels.size() == 10000 && startsWithLabels(labels, {7, 2, 1, 0, 4, 1, 4, 9, 5, 9})))
        return "MNIST";
    return {};
}

// Class names from the format: torchvision's folder layout
// (root/<Name>/raw/file) names the dataset; otherwise the published label
// files are recognised by content; otherwise the labels are numbered.
std::vector<std::string> idxClassNames(const std::string& file, const std::vector<int64_t>& labels,
                                       int64_t maxLabel) {
    const std::string rawDir = dirName(file);
    const std::string named = baseName(rawDir) == "raw" ? baseName(dirName(rawDir)) : std::string();
    if (named == "MNIST" || named == "FashionMNIST" || named == "KMNIST" || named == "QMNIST")
        return torchvisionIdxClasses(named, "");
    const std::string known = knownIdxDataset(labels);
    if (!known.empty()) return torchvisionIdxClasses(known, "");
    std::vector<std::string> classes;
    for (int64_t i = 0; i <= maxLabel; ++i) classes.push_back(std::to_string(i));
    return classes;
}

bool isIdxName(const std::string& name, const char* kind) {
    const std::string s = std::string("-") + kind;
    return endsWith(name, s) || endsWith(name, s + ".gz");
}

// ---------------------------------------------------------------- arrays

enum class Layout { NHWC, NCHW };

// Samples cut from one big array (NumPy or a tensor dump).
class ArrayDataset : public Dataset {
public:
    DatasetFormat fmt = DatasetFormat::Numpy;
    std::string file;
    std::vector<int64_t> shape;  // N, and C/H/W in `layout` order
    Layout layout = Layout::NHWC;
    int64_t n = 0, c = 1, h = 0, w = 0;
    bool uint8 = false;              // raw images available
    bool storedUint8 = false;        // tensor dtype to report
    std::vector<uint8_t> bytes;      // when uint8
    std::vector<float> values;       // otherwise
    std::vector<int64_t> labels;

    DatasetFormat format() const override { return fmt; }
    std::string root() const override { return file; }
    size_t size() const override { return size_t(n); }
    std::string path(size_t i) const override { return file + "#" + std::to_string(i); }
    int64_t label(size_t i) const override { return i < labels.size() ? labels[i] : -1; }
    bool hasRaw() const override { return uint8; }

    float at(size_t i, int64_t ch, int64_t y, int64_t x) const {
        const size_t idx = layout == Layout::NHWC ? ((size_t(i) * h + y) * w + x) * c + ch
                                                  : ((size_t(i) * c + ch) * h + y) * w + x;
        return uint8 ? float(bytes[idx]) : values[idx];
    }
    int64_t outChannels() const { return c == 4 ? 3 : c; }  // alpha dropped

    Image loadRaw(size_t i, DecodeInfo* info) const override {
        if (!uint8) throw noRaw(file);
        checkIndex(i, size_t(n), file);
        const int oc = int(outChannels());
        Image im = Image::allocate(int(w), int(h), oc);
        if (layout == Layout::NHWC && c == oc) {
            const size_t px = size_t(w) * h * c;
            std::memcpy(im.pixels.data(), bytes.data() + i * px, px);
        } else {
            for (int64_t y = 0; y < h; ++y)
                for (int64_t x = 0; x < w; ++x)
                    for (int ch = 0; ch < oc; ++ch)
                        im.pixels[(size_t(y) * w + x) * oc + ch] = uint8_t(at(i, ch, y, x));
        }
        if (info) {
            *info = DecodeInfo{};
            info->format = "NPY";
            info->sourceMode = c == 1 ? "L" : c == 3 ? "RGB" : "RGBA";
            info->sourceWidth = int(w);
            info->sourceHeight = int(h);
        }
        return im;
    }
    Tensor loadTensor(size_t i) const override {
        if (i >= size_t(n)) throw Error(file + ": sample index " + std::to_string(i) + " out of range");
        const int64_t oc = outChannels();
        Tensor t = Tensor::zeros({oc, h, w}, storedUint8 ? DType::UInt8 : DType::Float32);
        if (layout == Layout::NCHW && !uint8) {
            const size_t per = size_t(c) * h * w;
            std::copy(values.begin() + i * per, values.begin() + i * per + size_t(oc) * h * w, t.values.begin());
        } else {
            for (int64_t ch = 0; ch < oc; ++ch)
                for (int64_t y = 0; y < h; ++y)
                    for (int64_t x = 0; x < w; ++x) t.values[(size_t(ch) * h + y) * w + x] = at(i, ch, y, x);
        }
        return t;
    }
};

// Decides the layout from the shape; throws for anything else.
void setGeometry(ArrayDataset& d, const std::vector<int64_t>& s, const std::string& name, bool allowNhwc) {
    const char* accepted = " (accepted: (N,H,W), (N,H,W,C) with C 1/3/4, (N,C,H,W) with C 1/3)";
    if (s.size() == 3) {
        d.layout = Layout::NHWC;
        d.n = s[0], d.h = s[1], d.w = s[2], d.c = 1;
    } else if (s.size() == 4) {
        const bool last = allowNhwc && (s[3] == 1 || s[3] == 3 || s[3] == 4);
        const bool first = s[1] == 1 || s[1] == 3;
        if (!last && !first) fail(name, "unsupported image array shape " + shapeToString(s) + accepted);
        // Ambiguous (e.g. 3x3 images): raw uint8 arrays are usually HWC,
        // transformed float arrays CHW as torch produces them.
        const bool nhwc = last && (!first || d.uint8);
        d.layout = nhwc ? Layout::NHWC : Layout::NCHW;
        d.n = s[0];
        d.c = nhwc ? s[3] : s[1];
        d.h = nhwc ? s[1] : s[2];
        d.w = nhwc ? s[2] : s[3];
    } else {
        fail(name, "unsupported image array shape " + shapeToString(s) + accepted);
    }
    if (d.n <= 0 || d.h <= 0 || d.w <= 0) fail(name, "image array " + shapeToString(s) + " is empty");
    if (d.h > 65535 || d.w > 65535) fail(name, "image size in " + shapeToString(s) + " is too large");
    d.shape = s;
}

std::vector<int64_t> labelsFromArray(const NpyArray& a, int64_t n, const std::string& name) {
    const bool flat = a.shape.size() == 1 || (a.shape.size() == 2 && a.shape[1] == 1);
    if (!flat || a.shape[0] != n)
        fail(name, "labels of shape " + shapeToString(a.shape) + " do not match " + std::to_string(n) + " images");
    std::vector<int64_t> out(static_cast<size_t>(n));
    for (size_t i = 0; i < out.size(); ++i) {
        if (a.isUint8()) {
            out[i] = a.bytes[i];
        } else {
            const float v = a.values[i];
            if (!std::isfinite(v) || v != std::floor(v)) fail(name, "labels are not integers");
            out[i] = int64_t(v);
        }
    }
    return out;
}

void fillFromNpy(ArrayDataset& d, NpyArray& a, const std::string& name) {
    d.uint8 = d.storedUint8 = a.isUint8();
    setGeometry(d, a.shape, name, true);
    d.bytes = std::move(a.bytes);
    d.values = std::move(a.values);
}

bool inList(const std::string& s, std::initializer_list<const char*> names) {
    const std::string l = lowerAscii(s);
    for (const char* n : names)
        if (l == n) return true;
    return false;
}

// ---------------------------------------------------------------- .pt

Tensor toBsTensor(const at::Tensor& t) {
    Tensor out;
    out.dtype = t.scalar_type() == at::kByte ? DType::UInt8 : DType::Float32;
    at::Tensor f = t.to(at::kFloat).contiguous();
    out.shape.assign(f.sizes().begin(), f.sizes().end());
    out.values.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
    return out;
}

bool labelsFrom(const c10::IValue& v, std::vector<int64_t>& out) {
    if (v.isTensor()) {
        const at::Tensor t = v.toTensor();
        if (t.dim() > 1 || t.is_floating_point() || t.is_complex()) return false;
        at::Tensor l = t.to(at::kLong).contiguous().reshape({-1});
        out.assign(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
        return true;
    }
    if (v.isIntList()) {
        out = v.toIntVector();
        return true;
    }
    if (v.isList()) {
        out.clear();
        for (const c10::IValue& e : v.toListRef()) {
            if (!e.isInt()) return false;
            out.push_back(e.toInt());
        }
        return true;
    }
    return false;
}

void collectTensors(const c10::IValue& v, std::vector<Tensor>& out, int depth) {
    if (depth > 16) return;
    if (v.isTensor()) {
        out.push_back(toBsTensor(v.toTensor()));
    } else if (v.isTuple()) {
        for (const auto& e : v.toTupleRef().elements()) collectTensors(e, out, depth + 1);
    } else if (v.isList()) {
        for (const auto& e : v.toListRef()) collectTensors(e, out, depth + 1);
    } else if (v.isGenericDict()) {
        for (const auto& kv : v.toGenericDict()) collectTensors(kv.value(), out, depth + 1);
    }
}

}  // namespace

// ---------------------------------------------------------------- public

PtContents readPtFile(const std::string& path) {
    const uint64_t size = fileSize(path);
    std::vector<char> data(static_cast<size_t>(size));
    {
        std::ifstream in(path, std::ios::binary);
        if (!in || !in.read(data.data(), std::streamsize(size))) fail(path, "cannot be read");
    }
    // Validate the container ourselves: libtorch's reader is not meant for
    // hostile input, and the legacy (non-zip) format it cannot read anyway.
    {
        zip_error_t ze;
        zip_error_init(&ze);
        zip_source_t* src = zip_source_buffer_create(data.data(), data.size(), 0, &ze);
        zip_t* z = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : nullptr;
        if (!z) {
            if (src) zip_source_free(src);
            zip_error_fini(&ze);
            fail(path, "not a torch.save zip archive (corrupt, truncated, or saved in the legacy format; "
                       "re-save with torch.save in torch >= 1.6)");
        }
        bool havePkl = false;
        const zip_int64_t n = zip_get_num_entries(z, 0);
        for (zip_int64_t i = 0; i < n && !havePkl; ++i) {
            const char* nm = zip_get_name(z, zip_uint64_t(i), 0);
            if (nm && endsWith(nm, "/data.pkl")) havePkl = true;
        }
        zip_discard(z);  // also frees the source
        zip_error_fini(&ze);
        if (!havePkl) fail(path, "zip archive without a */data.pkl member: not a torch.save file");
    }
    const c10::IValue v = safePickleLoad(data, path);
    PtContents out;
    try {
        collectTensors(v, out.tensors, 0);
        auto imagesFrom = [&](const c10::IValue& iv) {
            if (iv.isTensor()) out.images = toBsTensor(iv.toTensor());
        };
        if (v.isTensor()) {
            imagesFrom(v);
        } else if (v.isTuple() || v.isList()) {
            std::vector<c10::IValue> items;
            if (v.isTuple())
                for (const auto& e : v.toTupleRef().elements()) items.push_back(e);
            else
                for (const auto& e : v.toListRef()) items.push_back(e);
            if (!items.empty() && items[0].isTensor() && items[0].toTensor().dim() >= 2) {
                imagesFrom(items[0]);
                if (items.size() >= 2) labelsFrom(items[1], out.labels);
            }
        } else if (v.isGenericDict()) {
            for (const auto& kv : v.toGenericDict()) {
                if (!kv.key().isString()) continue;
                const std::string k = kv.key().toStringRef();
                if (inList(k, {"images", "data", "x", "inputs", "input"})) imagesFrom(kv.value());
                else if (inList(k, {"labels", "targets", "target", "y"})) labelsFrom(kv.value(), out.labels);
            }
        }
    } catch (const c10::Error& e) {
        std::string m = e.what_without_backtrace();
        fail(path, "unexpected contents (" + m.substr(0, m.find('\n')) + ")");
    }
    if (out.tensors.empty()) fail(path, "holds no tensors");
    return out;
}

std::vector<Tensor> readPtTensors(const std::string& path) { return readPtFile(path).tensors; }

namespace detail {

std::string findIdxImages(const std::string& dir) {
    for (const std::string& d : {dir, dir + "/raw"}) {
        DIR* h = ::opendir(d.c_str());
        if (!h) continue;
        std::vector<std::string> names;
        while (dirent* e = ::readdir(h)) names.emplace_back(e->d_name);
        ::closedir(h);
        std::sort(names.begin(), names.end());
        std::string train, test, any;
        for (const auto& n : names) {
            if (!isIdxName(n, "images-idx3-ubyte") || !isRegularFile(d + "/" + n)) continue;
            // Prefer the raw file over .gz when both exist (it sorts first).
            if (n.find("train") != std::string::npos) {
                if (train.empty()) train = n;
            } else if (n.find("t10k") != std::string::npos || n.find("test") != std::string::npos) {
                if (test.empty()) test = n;
            } else if (any.empty()) {
                any = n;
            }
        }
        const std::string pick = !train.empty() ? train : !test.empty() ? test : any;
        if (!pick.empty()) return d + "/" + pick;
    }
    return {};
}

std::unique_ptr<Dataset> openIdx(const std::string& fileIn, const OpenOptions&) {
    std::string file = fileIn;
    auto swapKind = [](const std::string& path, const char* from, const char* to) {
        const std::string base = baseName(path);
        const size_t at = base.rfind(from);
        if (at == std::string::npos) return std::string();
        std::string nb = base;
        nb.replace(at, std::strlen(from), to);
        return dirName(path) + "/" + nb;
    };
    auto withOrWithoutGz = [](const std::string& p) {
        if (isRegularFile(p)) return p;
        const std::string alt = endsWith(p, ".gz") ? p.substr(0, p.size() - 3) : p + ".gz";
        return isRegularFile(alt) ? alt : std::string();
    };
    if (baseName(file).find("labels-idx1-ubyte") != std::string::npos) {
        const std::string img = withOrWithoutGz(swapKind(file, "labels-idx1-ubyte", "images-idx3-ubyte"));
        if (img.empty()) fail(file, "is an idx labels file; the matching images file was not found");
        file = img;
    }
    IdxFile images = readIdx(file, 3);
    if (images.dims[0] == 0) fail(file, "holds no images");
    std::vector<int64_t> labels;
    const std::string labelsFile = withOrWithoutGz(swapKind(file, "images-idx3-ubyte", "labels-idx1-ubyte"));
    int64_t maxLabel = -1;
    if (!labelsFile.empty()) {
        IdxFile l = readIdx(labelsFile, 1);
        if (l.dims[0] != images.dims[0])
            fail(labelsFile, "holds " + std::to_string(l.dims[0]) + " labels but " + baseName(file) + " holds " +
                                 std::to_string(images.dims[0]) + " images");
        labels.assign(l.data.begin(), l.data.end());
        for (auto v : labels) maxLabel = std::max(maxLabel, v);
    }
    std::vector<std::string> classes = idxClassNames(file, labels, maxLabel);
    return std::make_unique<IdxDataset>(file, std::move(images), std::move(labels), std::move(classes));
}

std::string withOrWithoutGzFile(const std::string& p) {
    if (isRegularFile(p)) return p;
    if (isRegularFile(p + ".gz")) return p + ".gz";
    return {};
}

// torchvision's MNIST, FashionMNIST, KMNIST, EMNIST and QMNIST at
// root/<cls>/raw/, with their file names per split (torchvision/datasets/mnist.py).
std::unique_ptr<Dataset> openTorchvisionIdx(const std::string& root, const std::string& cls,
                                            const std::string& split, const std::string& emnistSplit) {
    const std::string raw = root + "/" + cls + "/raw/";
    const bool test = split == "test" || split == "test10k" || split == "test50k";
    std::string images, labels;
    if (cls == "EMNIST") {
        const std::string stem = raw + "emnist-" + (emnistSplit.empty() ? "balanced" : emnistSplit) + "-" +
                                 (test ? "test" : "train");
        images = stem + "-images-idx3-ubyte";
        labels = stem + "-labels-idx1-ubyte";
    } else if (cls == "QMNIST") {
        const std::string stem = split == "nist" ? raw + "xnist" : raw + "qmnist-" + (test ? "test" : "train");
        images = stem + "-images-idx3-ubyte";
        labels = stem + "-labels-idx2-int";
    } else {
        images = raw + (test ? "t10k" : "train") + "-images-idx3-ubyte";
        labels = raw + (test ? "t10k" : "train") + "-labels-idx1-ubyte";
    }
    const std::string imagesFile = withOrWithoutGzFile(images), labelsFile = withOrWithoutGzFile(labels);
    if (imagesFile.empty()) fail(images, "not found (torchvision's " + cls + " layout, split " + split + ")");
    if (labelsFile.empty()) fail(labels, "not found (torchvision's " + cls + " layout, split " + split + ")");
    IdxFile im = readIdx(imagesFile, 3);
    std::vector<int64_t> y;
    if (cls == "QMNIST") {
        // int32 rows of 8 columns; torchvision's compat target is column 0.
        IdxFile l = readIdx(labelsFile, 2, 0x0C);
        const size_t cols = l.dims.size() > 1 && l.dims[1] > 0 ? l.dims[1] : 1;
        for (size_t r = 0; r < l.dims[0]; ++r) {
            const uint8_t* p = l.data.data() + r * cols * 4;
            y.push_back(int64_t(int32_t(uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3])));
        }
    } else {
        IdxFile l = readIdx(labelsFile, 1);
        y.assign(l.data.begin(), l.data.end());
    }
    if (y.size() != im.dims[0])
        fail(labelsFile, "holds " + std::to_string(y.size()) + " labels but " + baseName(imagesFile) + " holds " +
                             std::to_string(im.dims[0]) + " images");
    if (split == "test10k" || split == "test50k") {  // QMNIST's halves of its test file
        const size_t px = size_t(im.dims[1]) * im.dims[2];
        const size_t first = split == "test10k" ? 0 : std::min<size_t>(10000, im.dims[0]);
        const size_t last = split == "test10k" ? std::min<size_t>(10000, im.dims[0]) : im.dims[0];
        im.data = std::vector<uint8_t>(im.data.begin() + first * px, im.data.begin() + last * px);
        im.dims[0] = uint32_t(last - first);
        y = std::vector<int64_t>(y.begin() + first, y.begin() + last);
    }
    return std::make_unique<IdxDataset>(imagesFile, std::move(im), std::move(y),
                                        torchvisionIdxClasses(cls, emnistSplit));
}

std::unique_ptr<Dataset> openNumpy(const std::string& file, const OpenOptions&) {
    auto d = std::make_unique<ArrayDataset>();
    d->fmt = DatasetFormat::Numpy;
    d->file = file;
    if (endsWith(lowerAscii(file), ".npz")) {
        auto members = readNpz(file);
        NpyArray* images = nullptr;
        NpyArray* labels = nullptr;
        std::string imagesName, labelsName;
        for (auto& [name, arr] : members) {
            if (!images && inList(name, {"images", "image", "x", "data", "inputs", "input", "arr_0"}) &&
                arr.shape.size() >= 3) {
                images = &arr;
                imagesName = name;
            } else if (!labels && inList(name, {"labels", "label", "y", "targets", "target"})) {
                labels = &arr;
                labelsName = name;
            }
        }
        if (!images)
            for (auto& [name, arr] : members)
                if (&arr != labels && (arr.shape.size() == 3 || arr.shape.size() == 4)) {
                    images = &arr;
                    imagesName = name;
                    break;
                }
        if (!images) fail(file, "no 3-d or 4-d image array among the .npz members");
        fillFromNpy(*d, *images, file + " member " + imagesName);
        if (labels) d->labels = labelsFromArray(*labels, d->n, file + " member " + labelsName);
    } else {
        NpyArray a = readNpy(file);
        fillFromNpy(*d, a, file);
        const std::string base = baseName(file);
        const std::string stem = base.substr(0, base.size() - 4);
        for (const std::string& cand : {dirName(file) + "/" + stem + "_labels.npy", dirName(file) + "/labels.npy"}) {
            if (cand == file || !isRegularFile(cand)) continue;
            d->labels = labelsFromArray(readNpy(cand), d->n, cand);
            break;
        }
    }
    return d;
}

std::unique_ptr<Dataset> openTensorDump(const std::string& file, const OpenOptions&) {
    PtContents pt = readPtFile(file);
    if (pt.images.shape.empty())
        fail(file, "no image tensor found (expected a tensor, (images, labels) or a dict with 'images'/'labels')");
    auto d = std::make_unique<ArrayDataset>();
    d->fmt = DatasetFormat::TensorDump;
    d->file = file;
    d->uint8 = false;
    d->storedUint8 = pt.images.dtype == DType::UInt8;
    setGeometry(*d, pt.images.shape, file, false);
    d->values = std::move(pt.images.values);
    if (!pt.labels.empty()) {
        if (int64_t(pt.labels.size()) != d->n)
            fail(file, std::to_string(pt.labels.size()) + " labels do not match " + std::to_string(d->n) + " images");
        d->labels = std::move(pt.labels);
    }
    return d;
}

}  // namespace detail
}  // namespace bs
