// One decoder back end of core/decode (see decode.cpp for the dispatch).
#include "core/decode/decode.h"

#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/decode/backends.h"

namespace bs::decoding {

namespace {

// PNG

struct PngCtx {
    const uint8_t* data = nullptr;
    size_t size = 0;
    size_t pos = 0;
    bool shortRead = false;
    bool timedOut = false;
    const Deadline* deadline = nullptr;
    std::string error;
    std::vector<uint8_t> raw;
    std::vector<png_bytep> rows;
};

void pngRead(png_structp png, png_bytep out, png_size_t n) {
    auto* c = static_cast<PngCtx*>(png_get_io_ptr(png));
    if (n > c->size - c->pos) {
        c->shortRead = true;
        png_error(png, "image file is truncated");
    }
    std::memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

void pngError(png_structp png, png_const_charp msg) {
    auto* c = static_cast<PngCtx*>(png_get_error_ptr(png));
    c->error = msg ? msg : "unknown error";
    png_longjmp(png, 1);
}

void pngWarning(png_structp, png_const_charp) {}  // Pillow is silent too

// Called by libpng after every row of every pass: where the time limit bites.
void pngRowDone(png_structp png, png_uint_32, int) {
    auto* c = static_cast<PngCtx*>(png_get_io_ptr(png));
    if (c->deadline->passed()) {
        c->timedOut = true;
        png_error(png, "time limit");
    }
}

struct PngHeader {
    uint32_t width = 0, height = 0;
    int bitDepth = 8, colorType = 0;
    int palEntries = 0;
    png_color palette[256];
};

// Returns false on a libpng error (message in ctx.error). Kept free of
// objects with destructors because libpng reports errors by longjmp.
bool pngDecodeRaw(PngCtx& ctx, PngHeader& hdr, const DecodeOptions& opt, int64_t& tooMany) {
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, pngError, pngWarning);
    if (!png) {
        ctx.error = "out of memory";
        return false;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, nullptr, nullptr);
        ctx.error = "out of memory";
        return false;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, nullptr);
        return false;
    }
    png_set_read_fn(png, &ctx, pngRead);
    png_set_read_status_fn(png, pngRowDone);
    png_set_benign_errors(png, 1);
    // CRCs before IDAT were checked by decodePng; Pillow ignores the rest.
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    hdr.width = png_get_image_width(png, info);
    hdr.height = png_get_image_height(png, info);
    hdr.bitDepth = png_get_bit_depth(png, info);
    hdr.colorType = png_get_color_type(png, info);
    if (int64_t(hdr.width) * hdr.height > opt.maxPixels) {
        tooMany = int64_t(hdr.width) * hdr.height;
        png_destroy_read_struct(&png, &info, nullptr);
        return true;
    }
    if (hdr.colorType == PNG_COLOR_TYPE_PALETTE) {
        png_colorp pal = nullptr;
        int n = 0;
        if (png_get_PLTE(png, info, &pal, &n) && pal) {
            hdr.palEntries = std::min(n, 256);
            std::memcpy(hdr.palette, pal, sizeof(png_color) * hdr.palEntries);
        }
    }
    // Samples stay raw: 16-bit gray needs its full value (Pillow clips it),
    // every other 16-bit mode keeps the high byte; alpha and tRNS are dropped
    // by convert('RGB'); gamma is ignored like Pillow does.
    if (hdr.bitDepth < 8) png_set_packing(png);
    if (hdr.bitDepth == 16 && hdr.colorType != PNG_COLOR_TYPE_GRAY) png_set_strip_16(png);
    if (hdr.colorType & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const size_t rowBytes = png_get_rowbytes(png, info);
    ctx.raw.resize(rowBytes * hdr.height);
    ctx.rows.resize(hdr.height);
    for (uint32_t y = 0; y < hdr.height; ++y) ctx.rows[y] = ctx.raw.data() + rowBytes * y;
    png_read_image(png, ctx.rows.data());
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
}

// Pillow verifies the CRC of every chunk before the first IDAT while
// opening (and rejects the file as unidentifiable); it skips the CRCs of
// IDAT and later chunks. libpng is told to ignore CRCs, so Pillow's check
// is reproduced here.
void checkChunkCrcsBeforeIdat(const uint8_t* data, size_t size, const std::string& name) {
    for (size_t pos = 8; pos + 12 <= size;) {
        const uint32_t len = be32(data + pos);
        if (len > size - pos - 12) break;  // cut short: libpng reports truncation
        if (std::memcmp(data + pos + 4, "IDAT", 4) == 0) break;
        const uLong crc = crc32(crc32(0L, Z_NULL, 0), data + pos + 4, uInt(len + 4));
        if (uint32_t(crc) != be32(data + pos + 8 + len))
            fail(DecodeErrorKind::Unreadable, name,
                 "cannot identify image file (broken PNG: bad CRC in " +
                     std::string(reinterpret_cast<const char*>(data + pos + 4), 4) + " chunk)");
        pos += 12 + size_t(len);
    }
}

// EXIF lives in an eXIf chunk before the image data; the chunk list is
// scanned (cheap, no inflate). Leaves `info` alone when there is none.
void readExifChunk(const uint8_t* data, size_t size, DecodeInfo& info) {
    for (size_t pos = 8; pos + 12 <= size;) {
        const uint32_t len = be32(data + pos);
        if (len > size - pos - 12) break;
        if (std::memcmp(data + pos + 4, "eXIf", 4) == 0) {
            info.exifOrientation = exifOrientation(data + pos + 8, len);
            break;
        }
        if (std::memcmp(data + pos + 4, "IDAT", 4) == 0 ||
            std::memcmp(data + pos + 4, "IEND", 4) == 0)
            break;
        pos += 12 + size_t(len);
    }
}

// The raw samples of every colour type as RGB, as Pillow's convert('RGB')
// gives them; `info.sourceMode` names the mode Pillow opened.
void rawToRgb(const PngHeader* hdr, const uint8_t* raw, size_t n, uint8_t* o, DecodeInfo& info,
              const std::string& name) {
    switch (hdr->colorType) {
        case PNG_COLOR_TYPE_GRAY: {
            if (hdr->bitDepth == 16) {
                info.sourceMode = "I";
                for (size_t i = 0; i < n; ++i) {
                    const int v = (raw[i * 2] << 8) | raw[i * 2 + 1];
                    o[i * 3] = o[i * 3 + 1] = o[i * 3 + 2] = uint8_t(std::min(v, 255));
                }
                break;
            }
            // Low bit depths are stretched to 0..255 (x255, x85, x17).
            const int mul = hdr->bitDepth == 1   ? 255
                            : hdr->bitDepth == 2 ? 85
                            : hdr->bitDepth == 4 ? 17
                                                 : 1;
            info.sourceMode = hdr->bitDepth == 1 ? "1" : "L";
            for (size_t i = 0; i < n; ++i)
                o[i * 3] = o[i * 3 + 1] = o[i * 3 + 2] = uint8_t(raw[i] * mul);
            break;
        }
        case PNG_COLOR_TYPE_GRAY_ALPHA:
            info.sourceMode = "LA";
            for (size_t i = 0; i < n; ++i) o[i * 3] = o[i * 3 + 1] = o[i * 3 + 2] = raw[i];
            break;
        case PNG_COLOR_TYPE_PALETTE: {
            info.sourceMode = "P";
            // Pillow's palette starts as a gray ramp; PLTE overwrites the
            // first entries, so indices past PLTE map to gray.
            uint8_t lut[256][3];
            for (int i = 0; i < 256; ++i) lut[i][0] = lut[i][1] = lut[i][2] = uint8_t(i);
            for (int i = 0; i < hdr->palEntries; ++i) {
                lut[i][0] = hdr->palette[i].red;
                lut[i][1] = hdr->palette[i].green;
                lut[i][2] = hdr->palette[i].blue;
            }
            for (size_t i = 0; i < n; ++i) std::memcpy(o + i * 3, lut[raw[i]], 3);
            break;
        }
        case PNG_COLOR_TYPE_RGB:
        case PNG_COLOR_TYPE_RGB_ALPHA:
            info.sourceMode = hdr->colorType == PNG_COLOR_TYPE_RGB ? "RGB" : "RGBA";
            std::memcpy(o, raw, n * 3);
            break;
        default:
            fail(DecodeErrorKind::Unreadable, name, "unsupported PNG colour type");
    }
}

}  // namespace

Image decodePng(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opt,
                const Deadline& deadline, DecodeInfo& info) {
    if (size < 33) truncated(name);
    checkChunkCrcsBeforeIdat(data, size, name);
    // Refuse a huge IHDR before libpng allocates anything.
    checkPixels(name, be32(data + 16), be32(data + 20), opt);
    readExifChunk(data, size, info);

    PngCtx ctx;
    ctx.data = data;
    ctx.size = size;
    ctx.deadline = &deadline;
    auto hdr = std::make_unique<PngHeader>();
    int64_t tooMany = 0;
    if (!pngDecodeRaw(ctx, *hdr, opt, tooMany)) {
        if (ctx.timedOut) timeLimit(name, deadline);
        if (ctx.shortRead) truncated(name);
        fail(DecodeErrorKind::Unreadable, name, "broken PNG file (" + ctx.error + ")");
    }
    checkPixels(name, hdr->width, hdr->height, opt);
    const int w = int(hdr->width), h = int(hdr->height);
    info.format = "PNG";
    info.sourceWidth = w;
    info.sourceHeight = h;
    info.bitDepth = hdr->bitDepth;

    const bool oneChannel = hdr->colorType == PNG_COLOR_TYPE_PALETTE ||
                            (hdr->colorType == PNG_COLOR_TYPE_GRAY && hdr->bitDepth == 8);
    if (opt.maskValues && oneChannel) {
        // Raw samples are the palette indices / gray values (no lookup).
        info.sourceMode = hdr->colorType == PNG_COLOR_TYPE_PALETTE ? "P" : "L";
        Image mask = Image::allocate(w, h, 1);
        std::memcpy(mask.pixels.data(), ctx.raw.data(), size_t(w) * h);
        return mask;
    }
    Image out = Image::allocate(w, h, 3);
    rawToRgb(hdr.get(), ctx.raw.data(), size_t(w) * size_t(h), out.pixels.data(), info, name);
    return out;
}

}  // namespace bs::decoding
