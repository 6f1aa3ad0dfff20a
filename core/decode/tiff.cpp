// One decoder back end of core/decode (see decode.cpp for the dispatch).
#include "core/decode/decode.h"

#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/decode/backends.h"

namespace bs::decoding {

namespace {

// TIFF validation. OpenCV decodes TIFF pixels but ignores some libtiff
// errors (a damaged LZW strip still yields an image), while Pillow's libtiff
// decoder fails on any of them. So every strip or tile of the first page is
// decoded once with libtiff, as Pillow does, with the errors captured per
// handle. This pass also checks the time limit between strips.

struct TiffMemory {
    const uint8_t* data;
    uint64_t size;
    uint64_t pos = 0;
    std::string error;
};

tmsize_t tiffRead(thandle_t h, void* buf, tmsize_t n) {
    auto* m = static_cast<TiffMemory*>(h);
    if (n <= 0 || m->pos >= m->size) return 0;
    const uint64_t k = std::min<uint64_t>(uint64_t(n), m->size - m->pos);
    std::memcpy(buf, m->data + m->pos, size_t(k));
    m->pos += k;
    return tmsize_t(k);
}
tmsize_t tiffWrite(thandle_t, void*, tmsize_t) {
    return -1;
}  // read-only
toff_t tiffSeek(thandle_t h, toff_t off, int whence) {
    auto* m = static_cast<TiffMemory*>(h);
    const uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
    if (off > UINT64_MAX - base) return toff_t(-1);
    m->pos = base + off;
    return m->pos;
}
int tiffClose(thandle_t) {
    return 0;
}
toff_t tiffSize(thandle_t h) {
    return static_cast<TiffMemory*>(h)->size;
}
int tiffMap(thandle_t, void**, toff_t*) {
    return 0;
}
void tiffUnmap(thandle_t, void*, toff_t) {}

// libtiff reports some damage it recovers from as errors too; the return
// codes decide, as in Pillow, and the last message explains a failure.
int tiffOnError(TIFF*, void* user, const char* module, const char* fmt, va_list ap) {
    auto* m = static_cast<TiffMemory*>(user);
    {
        char buf[512];
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        m->error = std::string(module ? module : "libtiff") + ": " + buf;
    }
    return 1;  // handled: nothing printed
}
int tiffOnWarning(TIFF*, void*, const char*, const char*, va_list) {
    return 1;
}

// Throws DecodeError when libtiff cannot decode the first page.

}  // namespace

bool tiffSize(const uint8_t* t, size_t size, int64_t& w, int64_t& h) {
    const bool le = t[0] == 'I';
    auto u16 = [&](size_t o) -> uint32_t {
        return le ? uint32_t(t[o] | (t[o + 1] << 8)) : uint32_t((t[o] << 8) | t[o + 1]);
    };
    auto u32 = [&](size_t o) -> uint32_t { return le ? le32(t + o) : be32(t + o); };
    const uint32_t ifd = u32(4);
    if (ifd < 8 || size_t(ifd) + 2 > size) return false;
    const uint32_t n = u16(ifd);
    w = h = -1;
    for (uint32_t i = 0; i < n; ++i) {
        const size_t e = size_t(ifd) + 2 + size_t(i) * 12;
        if (e + 12 > size) break;
        const uint32_t tag = u16(e), type = u16(e + 2);
        const int64_t v = type == 3 ? u16(e + 8) : type == 4 ? u32(e + 8) : -1;
        if (tag == 256) w = v;
        if (tag == 257) h = v;
    }
    return w >= 0 && h >= 0;
}

// Pillow reads uncompressed strips itself: strip i needs rows_i * stride
// bytes at its offset, whatever StripByteCounts says (often missing or
// wrong in damaged files). Compressed strips and tiles go through libtiff,
// which reads StripByteCounts bytes. A file too short for that is
// truncated; malformed entries are left to the decoders to judge.
bool tiffTruncated(const uint8_t* t, size_t size) {
    const bool le = t[0] == 'I';
    auto u16 = [&](size_t o) -> uint32_t {
        return le ? uint32_t(t[o] | (t[o + 1] << 8)) : uint32_t((t[o] << 8) | t[o + 1]);
    };
    auto u32 = [&](size_t o) -> uint32_t { return le ? le32(t + o) : be32(t + o); };
    const uint32_t ifd = u32(4);
    if (size_t(ifd) + 2 > size) return true;
    const uint32_t n = u16(ifd);
    if (size_t(ifd) + 2 + size_t(n) * 12 > size) return true;
    // SHORT or LONG values of entry `e`; false when malformed.
    auto values = [&](size_t e, std::vector<uint64_t>& out) -> bool {
        const uint32_t type = u16(e + 2), count = u32(e + 4);
        const size_t unit = type == 3 ? 2 : type == 4 ? 4 : 0;
        if (!unit || count == 0 || count > (1u << 24)) return false;
        size_t at = e + 8;
        if (unit * count > 4) {
            at = u32(e + 8);
            if (at + unit * size_t(count) > size) return false;
        }
        for (uint32_t i = 0; i < count; ++i)
            out.push_back(unit == 2 ? u16(at + i * 2) : u32(at + i * 4));
        return true;
    };
    std::vector<uint64_t> offsets, counts;
    std::map<uint32_t, uint64_t> scalar;  // first value of the other tags used
    bool tiled = false;
    for (uint32_t i = 0; i < n; ++i) {
        const size_t e = size_t(ifd) + 2 + size_t(i) * 12;
        const uint32_t tag = u16(e);
        std::vector<uint64_t> v;
        if (!values(e, v)) continue;
        if (tag == 273 || tag == 324)
            offsets = std::move(v);
        else if (tag == 279 || tag == 325)
            counts = std::move(v);
        else
            scalar.emplace(tag, v.front());
        tiled = tiled || tag == 324;
    }
    auto get = [&](uint32_t tag, uint64_t fallback) {
        auto it = scalar.find(tag);
        return it == scalar.end() ? fallback : it->second;
    };
    const uint64_t compression = get(259, 1), planar = get(284, 1);
    const uint64_t w = get(256, 0), h = get(257, 0);
    if (compression == 1 && !tiled && planar == 1 && w > 0 && h > 0 && w < (1u << 24)) {
        const uint64_t stride = (w * get(277, 1) * get(258, 1) + 7) / 8;
        uint64_t rps = get(278, h);
        if (rps == 0 || rps > h) rps = h;
        for (size_t i = 0; i < offsets.size() && i * rps < h; ++i)
            if (offsets[i] + std::min(rps, h - i * rps) * stride > size) return true;
        return false;
    }
    for (size_t i = 0; i < offsets.size() && i < counts.size(); ++i)
        if (offsets[i] + counts[i] > size) return true;
    return false;
}

void validateTiff(const uint8_t* data, size_t size, const std::string& name,
                  const Deadline& deadline) {
    TiffMemory mem{data, size, 0, {}};
    std::unique_ptr<TIFFOpenOptions, void (*)(TIFFOpenOptions*)> opts(TIFFOpenOptionsAlloc(),
                                                                      TIFFOpenOptionsFree);
    if (!opts) throw std::bad_alloc();
    TIFFOpenOptionsSetErrorHandlerExtR(opts.get(), tiffOnError, &mem);
    TIFFOpenOptionsSetWarningHandlerExtR(opts.get(), tiffOnWarning, &mem);
    // A lying strip size must not make libtiff allocate gigabytes.
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts.get(), tmsize_t(1) << 30);
    std::unique_ptr<TIFF, void (*)(TIFF*)> tif(
        TIFFClientOpenExt(name.c_str(), "rm", &mem, tiffRead, tiffWrite, tiffSeek, tiffClose,
                          tiffSize, tiffMap, tiffUnmap, opts.get()),
        TIFFClose);
    auto broken = [&](const std::string& what) {
        fail(DecodeErrorKind::Unreadable, name,
             "broken TIFF data (" + (mem.error.empty() ? what : mem.error) + ")");
    };
    if (!tif) broken("cannot read the header");
    const bool tiled = TIFFIsTiled(tif.get());
    const uint64_t chunkBytes = tiled ? TIFFTileSize64(tif.get()) : TIFFStripSize64(tif.get());
    const uint32_t chunks = tiled ? TIFFNumberOfTiles(tif.get()) : TIFFNumberOfStrips(tif.get());
    if (chunkBytes == 0 || chunks == 0) broken("no image data");
    if (chunkBytes > (uint64_t(1) << 30)) broken("a strip or tile larger than 1 GiB");
    std::vector<uint8_t> scratch(static_cast<size_t>(chunkBytes));
    for (uint32_t i = 0; i < chunks; ++i) {
        if (deadline.passed()) timeLimit(name, deadline);
        const tmsize_t got =
            tiled ? TIFFReadEncodedTile(tif.get(), i, scratch.data(), tmsize_t(chunkBytes))
                  : TIFFReadEncodedStrip(tif.get(), i, scratch.data(), tmsize_t(chunkBytes));
        if (got < 0) broken("cannot decode strip or tile " + std::to_string(i));
    }
}

}  // namespace bs::decoding
