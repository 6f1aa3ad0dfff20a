// .npy / .npz reading and .npy writing, without numpy.
//
// Inputs are untrusted: the header is parsed strictly (a Python dict literal
// with exactly descr, fortran_order and shape) and the claimed size is checked
// against the bytes actually present before anything is allocated.
#include "core/dataset/npy.h"

#include <zip.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <sys/stat.h>

#include "core/common/fileio.h"

namespace bs {

namespace {

[[noreturn]] void fail(const std::string& name, const std::string& what) { throw Error(name + ": " + what); }

struct DtypeInfo {
    size_t itemsize = 0;
    char kind = 0;  // 'u', 'i', 'f', 'b'
};

DtypeInfo parseDescr(const std::string& d, const std::string& name) {
    // One-byte types carry '|' (numpy writes that) but '<' is accepted too;
    // wider types must be little-endian: batchscope does not byte-swap.
    if (d.size() < 3) fail(name, "unsupported dtype '" + d + "'");
    const char order = d[0];
    const std::string t = d.substr(1);
    DtypeInfo info;
    if (t == "u1") info = {1, 'u'};
    else if (t == "i1") info = {1, 'i'};
    else if (t == "b1") info = {1, 'b'};
    else if (t == "u2") info = {2, 'u'};
    else if (t == "i2") info = {2, 'i'};
    else if (t == "u4") info = {4, 'u'};
    else if (t == "i4") info = {4, 'i'};
    else if (t == "u8") info = {8, 'u'};
    else if (t == "i8") info = {8, 'i'};
    else if (t == "f2") info = {2, 'f'};
    else if (t == "f4") info = {4, 'f'};
    else if (t == "f8") info = {8, 'f'};
    else fail(name, "unsupported dtype '" + d + "' (supported: u1 i1 b1 u2 i2 u4 i4 u8 i8 f2 f4 f8)");
    if (info.itemsize == 1 ? (order != '|' && order != '<' && order != '=')
                           : (order != '<' && order != '='))
        fail(name, "unsupported byte order in dtype '" + d + "' (only little-endian is read)");
    return info;
}

// Strict parser for the header dict, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
public:
    HeaderParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}

    void parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape) {
        bool haveDescr = false, haveFortran = false, haveShape = false;
        ws();
        expect('{');
        while (true) {
            ws();
            if (peek() == '}') {
                ++p_;
                break;
            }
            const std::string key = str();
            ws();
            expect(':');
            ws();
            if (key == "descr" && !haveDescr) {
                descr = str();
                haveDescr = true;
            } else if (key == "fortran_order" && !haveFortran) {
                if (s_.compare(p_, 4, "True") == 0) {
                    fortran = true;
                    p_ += 4;
                } else if (s_.compare(p_, 5, "False") == 0) {
                    fortran = false;
                    p_ += 5;
                } else {
                    bad("fortran_order is not True/False");
                }
                haveFortran = true;
            } else if (key == "shape" && !haveShape) {
                shape = tuple();
                haveShape = true;
            } else {
                bad("unexpected or repeated key '" + key + "'");
            }
            ws();
            if (peek() == ',') {
                ++p_;
                continue;
            }
            ws();
            expect('}');
            break;
        }
        ws();
        if (p_ != s_.size()) bad("trailing characters after the dict");
        if (!haveDescr || !haveFortran || !haveShape) bad("descr, fortran_order or shape missing");
    }

private:
    [[noreturn]] void bad(const std::string& why) { fail(name_, "malformed .npy header: " + why); }
    char peek() const { return p_ < s_.size() ? s_[p_] : '\0'; }
    void ws() {
        while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\t' || s_[p_] == '\r')) ++p_;
    }
    void expect(char c) {
        if (peek() != c) bad(std::string("expected '") + c + "'");
        ++p_;
    }
    std::string str() {
        const char q = peek();
        if (q != '\'' && q != '"') bad("expected a string");
        ++p_;
        const size_t end = s_.find(q, p_);
        if (end == std::string::npos) bad("unterminated string");
        std::string out = s_.substr(p_, end - p_);
        p_ = end + 1;
        return out;
    }
    std::vector<int64_t> tuple() {
        std::vector<int64_t> out;
        expect('(');
        ws();
        if (peek() == ')') {
            ++p_;
            return out;
        }
        while (true) {
            ws();
            if (peek() < '0' || peek() > '9') bad("shape entry is not a non-negative integer");
            int64_t v = 0;
            while (peek() >= '0' && peek() <= '9') {
                const int d = peek() - '0';
                if (v > (std::numeric_limits<int64_t>::max() - d) / 10) bad("shape entry too large");
                v = v * 10 + d;
                ++p_;
            }
            if (peek() == 'L') ++p_;  // Python 2 long suffix
            out.push_back(v);
            ws();
            if (peek() == ',') {
                ++p_;
                ws();
                if (peek() == ')') {
                    ++p_;
                    return out;
                }
                continue;
            }
            expect(')');
            return out;
        }
    }

    const std::string& s_;
    const std::string& name_;
    size_t p_ = 0;
};

float halfToFloat(uint16_t h) {
    const int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
    float v;
    if (exp == 0) v = std::ldexp(float(mant), -24);
    else if (exp == 31) v = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
    else v = std::ldexp(float(mant + 1024), exp - 25);
    return sign ? -v : v;
}

template <typename T>
void convert(const uint8_t* src, size_t n, std::vector<float>& out) {
    out.resize(n);
    for (size_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, src + i * sizeof(T), sizeof(T));
        out[i] = float(v);
    }
}

std::vector<uint8_t> readWholeFile(const std::string& path) {
    regularFileSize(path);  // a FIFO would block fopen
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
    std::unique_ptr<FILE, int (*)(FILE*)> guard(f, &std::fclose);
    struct stat st;
    if (::fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) fail(path, "not a regular file");
    std::vector<uint8_t> data(size_t(st.st_size));
    if (!data.empty() && std::fread(data.data(), 1, data.size(), f) != data.size())
        fail(path, "read error");
    return data;
}

}  // namespace

NpyArray readNpyBuffer(const uint8_t* data, size_t size, const std::string& name) {
    static const char magic[] = "\x93NUMPY";
    if (size < 10 || std::memcmp(data, magic, 6) != 0) fail(name, "not a .npy file (bad magic)");
    const int major = data[6];
    size_t headerLen, offset;
    if (major == 1) {
        headerLen = size_t(data[8]) | size_t(data[9]) << 8;
        offset = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) fail(name, "truncated .npy header");
        headerLen = size_t(data[8]) | size_t(data[9]) << 8 | size_t(data[10]) << 16 | size_t(data[11]) << 24;
        offset = 12;
    } else {
        fail(name, "unsupported .npy version " + std::to_string(major));
    }
    if (headerLen > size - offset) fail(name, "truncated .npy header");
    const std::string header(reinterpret_cast<const char*>(data + offset), headerLen);
    offset += headerLen;

    NpyArray a;
    bool fortran = false;
    HeaderParser(header, name).parse(a.dtype, fortran, a.shape);
    if (fortran) fail(name, "fortran_order arrays are not supported (save with np.ascontiguousarray)");
    const DtypeInfo dt = parseDescr(a.dtype, name);

    // Overflow-safe element count, compared with what is actually there.
    const size_t present = size - offset;
    size_t numel = 1;
    bool tooBig = false;
    for (int64_t d : a.shape) {
        if (d == 0) {
            numel = 0;
            tooBig = false;
            break;
        }
        if (!tooBig && numel > std::numeric_limits<size_t>::max() / dt.itemsize / size_t(d)) tooBig = true;
        if (!tooBig) numel *= size_t(d);
    }
    if (tooBig || numel * dt.itemsize != present)
        fail(name, "header claims shape " + shapeToString(a.shape) + " of " + a.dtype + " but the file holds " +
                       std::to_string(present) + " data bytes");
    const uint8_t* src = data + offset;
    if (dt.kind == 'u' && dt.itemsize == 1) {
        a.bytes.assign(src, src + numel);
        a.dtype = "|u1";
        return a;
    }
    switch (dt.kind) {
        case 'b':
            a.values.resize(numel);
            for (size_t i = 0; i < numel; ++i) a.values[i] = src[i] ? 1.f : 0.f;
            break;
        case 'i':
            if (dt.itemsize == 1) convert<int8_t>(src, numel, a.values);
            else if (dt.itemsize == 2) convert<int16_t>(src, numel, a.values);
            else if (dt.itemsize == 4) convert<int32_t>(src, numel, a.values);
            else convert<int64_t>(src, numel, a.values);
            break;
        case 'u':
            if (dt.itemsize == 2) convert<uint16_t>(src, numel, a.values);
            else if (dt.itemsize == 4) convert<uint32_t>(src, numel, a.values);
            else convert<uint64_t>(src, numel, a.values);
            break;
        case 'f':
            if (dt.itemsize == 4) {
                convert<float>(src, numel, a.values);
            } else if (dt.itemsize == 8) {
                convert<double>(src, numel, a.values);
            } else {
                a.values.resize(numel);
                for (size_t i = 0; i < numel; ++i) {
                    uint16_t h;
                    std::memcpy(&h, src + 2 * i, 2);
                    a.values[i] = halfToFloat(h);
                }
            }
            break;
    }
    return a;
}

NpyArray readNpy(const std::string& path) {
    const std::vector<uint8_t> data = readWholeFile(path);
    return readNpyBuffer(data.data(), data.size(), path);
}

std::vector<std::pair<std::string, NpyArray>> readNpz(const std::string& path) {
    regularFileSize(path);
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        std::string msg = zip_error_strerror(&ze);
        zip_error_fini(&ze);
        fail(path, "not a readable .npz archive (" + msg + ")");
    }
    std::unique_ptr<zip_t, void (*)(zip_t*)> guard(z, [](zip_t* p) { zip_discard(p); });
    std::vector<std::pair<std::string, NpyArray>> out;
    struct stat fst;
    const uint64_t fileSize = ::stat(path.c_str(), &fst) == 0 ? uint64_t(fst.st_size) : 0;
    const zip_int64_t n = zip_get_num_entries(z, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
        zip_stat_t st;
        if (zip_stat_index(z, zip_uint64_t(i), 0, &st) != 0) fail(path, "cannot read the archive directory");
        std::string member = st.name ? st.name : "";
        if (member.size() < 4 || member.compare(member.size() - 4, 4, ".npy") != 0) continue;
        const std::string label = path + " member " + member;
        if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) fail(label, "size unknown");
        if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
            fail(label, "unsupported compression method");
        // Deflate cannot expand more than ~1032x; a bigger claim is a lie.
        const uint64_t maxSize = st.comp_method == ZIP_CM_STORE ? st.comp_size : st.comp_size * 1040 + 1024;
        if (st.size > maxSize || st.comp_size > fileSize)
            fail(label, "claims " + std::to_string(st.size) + " bytes, more than the archive can hold");
        zip_file_t* f = zip_fopen_index(z, zip_uint64_t(i), 0);
        if (!f) fail(label, std::string("cannot open (") + zip_strerror(z) + ")");
        std::vector<uint8_t> buf(size_t(st.size));
        const zip_int64_t got = buf.empty() ? 0 : zip_fread(f, buf.data(), buf.size());
        std::string ferr = got < 0 ? zip_file_strerror(f) : "";
        zip_fclose(f);
        if (got < 0) fail(label, "cannot be read (" + ferr + ")");
        if (zip_uint64_t(got) != st.size) fail(label, "is truncated");
        out.emplace_back(member.substr(0, member.size() - 4), readNpyBuffer(buf.data(), buf.size(), label));
    }
    if (out.empty()) fail(path, "the .npz archive holds no .npy arrays");
    return out;
}

void writeNpy(const std::string& path, const std::vector<int64_t>& shape, const std::vector<float>& values,
              bool asUint8) {
    size_t numel = 1;
    for (int64_t d : shape) {
        if (d < 0) fail(path, "negative dimension in shape " + shapeToString(shape));
        numel *= size_t(d);
    }
    if (numel != values.size())
        fail(path, "shape " + shapeToString(shape) + " does not match " + std::to_string(values.size()) + " values");
    std::string dims;
    for (size_t i = 0; i < shape.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape[i]);
    if (shape.size() == 1) dims += ",";
    std::string header = std::string("{'descr': '") + (asUint8 ? "|u1" : "<f4") +
                         "', 'fortran_order': False, 'shape': (" + dims + "), }";
    // numpy pads so that the data starts on a 64-byte boundary.
    const size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header.push_back('\n');
    if (header.size() > 65535) fail(path, "shape too long for a .npy header");

    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) fail(path, std::string("cannot write (") + std::strerror(errno) + ")");
    std::unique_ptr<FILE, int (*)(FILE*)> guard(f, &std::fclose);
    const uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(header.size() & 0xFF),
                             uint8_t(header.size() >> 8)};
    bool ok = std::fwrite(pre, 1, 10, f) == 10 && std::fwrite(header.data(), 1, header.size(), f) == header.size();
    if (asUint8) {
        std::vector<uint8_t> b(values.size());
        for (size_t i = 0; i < values.size(); ++i) {
            const float v = values[i];
            b[i] = std::isnan(v) ? 0 : uint8_t(std::lround(std::min(255.f, std::max(0.f, v))));
        }
        ok = ok && (b.empty() || std::fwrite(b.data(), 1, b.size(), f) == b.size());
    } else {
        // Host is little-endian (x86-64 / arm64 Linux), as '<f4' requires.
        ok = ok && (values.empty() || std::fwrite(values.data(), 4, values.size(), f) == values.size());
    }
    if (!ok || std::fflush(f) != 0) fail(path, std::string("write error (") + std::strerror(errno) + ")");
}

}  // namespace bs
