// One decoder back end of core/decode (see decode.cpp for the dispatch).
#include "core/decode/decode.h"

#include <gif_lib.h>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/decode/backends.h"

namespace bs::decoding {

namespace {

// GIF (giflib), the first frame as Pillow 9.4 loads it: the canvas is the
// logical screen, grown to hold the frame; pixels outside the frame are the
// frame's transparency index if it has one, else index 0; colours come from
// the local palette, else the global one, over Pillow's gray ramp; without
// any palette the indices are gray levels (mode L).

struct GifInput {
    const uint8_t* data;
    size_t size;
    size_t pos;
};

int gifRead(GifFileType* gif, GifByteType* out, int n) {
    auto* in = static_cast<GifInput*>(gif->UserData);
    const size_t k = std::min(size_t(std::max(n, 0)), in->size - in->pos);
    std::memcpy(out, in->data + in->pos, k);
    in->pos += k;
    return int(k);
}

// giflib decodes some damaged LZW streams that Pillow's decoder refuses, so
// the first frame's codes are checked by Pillow's rules first: the code size
// is at most 12, the first code after a clear is a literal, no code is past
// the next free table entry, and codes count until the frame is full
// (what follows is never read). Sub-block sizes, zero included, are only
// lengths to Pillow, which waits for the next full block; running out of
// data is truncation. `at` is the offset of the first sub-block.
enum class GifCodes { Valid, Broken, BadCodeSize, EndsEarly };

GifCodes gifCodesLikePillow(const uint8_t* d, size_t size, size_t at, int bits, uint64_t pixels) {
    if (bits < 0 || bits > 12) return GifCodes::BadCodeSize;
    const int clear = 1 << bits, end = clear + 1;
    constexpr int kTable = 4096;
    std::vector<uint16_t> length(kTable, 1);  // pixels a code expands to
    int next = 0, codeSize = 0, codeMask = 0, last = -1;
    bool afterClear = true;
    auto reset = [&] {
        next = clear + 2;
        codeSize = bits + 1;
        codeMask = (1 << codeSize) - 1;
        afterClear = true;
    };
    reset();
    uint32_t bitBuffer = 0;
    int bitCount = 0;
    size_t block = 0;  // bytes left in the current sub-block
    uint64_t written = 0;
    while (written < pixels) {
        while (bitCount < codeSize) {
            if (block == 0) {
                if (at >= size || size - at < size_t(d[at]) + 1) return GifCodes::EndsEarly;
                block = d[at++];
                continue;
            }
            bitBuffer |= uint32_t(d[at++]) << bitCount;
            bitCount += 8;
            --block;
        }
        const int c = int(bitBuffer & uint32_t(codeMask));
        bitBuffer >>= codeSize;
        bitCount -= codeSize;
        if (c == clear) {
            if (!afterClear) reset();
            continue;
        }
        if (c == end) return GifCodes::EndsEarly;  // Pillow then reads on into the next bytes
        if (afterClear) {
            if (c > clear) return GifCodes::Broken;
            afterClear = false;
            last = c;
            written += 1;
            continue;
        }
        if (c > next) return GifCodes::Broken;
        const uint64_t n = c == next ? uint64_t(length[size_t(last)]) + 1 : length[size_t(c)];
        if (next < kTable) {
            length[size_t(next)] =
                uint16_t(std::min<uint64_t>(uint64_t(length[size_t(last)]) + 1, kTable));
            if (next == codeMask && codeSize < 12) {
                ++codeSize;
                codeMask = (1 << codeSize) - 1;
            }
            ++next;
        }
        last = c;
        written += n;
    }
    return GifCodes::Valid;
}

[[noreturn]] void giflibFailed(int code, const std::string& name) {
    // Running out of input means the file ends early.
    if (code == D_GIF_ERR_READ_FAILED || code == D_GIF_ERR_EOF_TOO_SOON) truncated(name);
    const char* why = GifErrorString(code);
    fail(DecodeErrorKind::Unreadable, name,
         std::string("broken GIF (") + (why ? why : "error") + ")");
}

// Records up to the first image; Pillow skips stray bytes between them and
// cannot identify a file that ends, or terminates, before an image. Returns
// the transparent index of the graphic control block, or -1.
int readUpToImage(GifFileType* gif, const GifInput& input, const std::string& name) {
    auto noImage = [&] {
        fail(DecodeErrorKind::Unreadable, name, "cannot identify image file (no GIF image)");
    };
    int transparency = -1;
    for (;;) {
        GifRecordType type = UNDEFINED_RECORD_TYPE;
        if (DGifGetRecordType(gif, &type) == GIF_ERROR) {
            if (gif->Error == D_GIF_ERR_WRONG_RECORD) continue;
            if (input.pos >= input.size) noImage();
            giflibFailed(gif->Error, name);
        }
        if (type == IMAGE_DESC_RECORD_TYPE) return transparency;
        if (type == TERMINATE_RECORD_TYPE) noImage();
        if (type != EXTENSION_RECORD_TYPE) continue;
        int code = 0;
        GifByteType* block = nullptr;
        if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) giflibFailed(gif->Error, name);
        // Graphic control: block[0] is the length, then flags and the index.
        if (code == GRAPHICS_EXT_FUNC_CODE && block) {
            if (block[0] < 4)
                fail(DecodeErrorKind::Unreadable, name,
                     "cannot identify image file (short GIF control block)");
            if (block[1] & 1) transparency = block[4];
        }
        while (block)
            if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) giflibFailed(gif->Error, name);
    }
}

// The colour of every index (a gray ramp past the map, as Pillow's
// palette starts); true when the map is itself the gray ramp (mode "L").
bool paletteLut(const ColorMapObject* map, uint8_t lut[256][3]) {
    for (int i = 0; i < 256; ++i) lut[i][0] = lut[i][1] = lut[i][2] = uint8_t(i);
    bool grayRamp = true;
    if (!map) return grayRamp;
    for (int i = 0; i < std::min(map->ColorCount, 256); ++i) {
        const GifColorType& c = map->Colors[i];
        grayRamp = grayRamp && c.Red == i && c.Green == i && c.Blue == i;
        lut[i][0] = c.Red;
        lut[i][1] = c.Green;
        lut[i][2] = c.Blue;
    }
    return grayRamp;
}

// The frame's LZW codes judged as Pillow's decoder judges them, before
// giflib (which is more lenient) decodes them.
void checkCodesLikePillow(const uint8_t* data, size_t size, size_t lzwAt, uint64_t pixels,
                          const std::string& name) {
    switch (gifCodesLikePillow(data, size, lzwAt, data[lzwAt - 1], pixels)) {
        case GifCodes::Valid:
            return;
        case GifCodes::EndsEarly:
            truncated(name);
        case GifCodes::BadCodeSize:
            fail(DecodeErrorKind::Unreadable, name, "broken GIF (bad LZW code size)");
        case GifCodes::Broken:
            fail(DecodeErrorKind::Unreadable, name, "broken data stream (invalid GIF LZW code)");
    }
}

// Frame rows in the order they are stored. Interlaced frames arrive in
// four passes: rows 0,8,..; 4,12,..; 2,6,..; 1,3,..
std::vector<int> storedRowOrder(int rows, bool interlaced) {
    std::vector<int> order;
    order.reserve(size_t(rows));
    if (interlaced) {
        const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        for (int p = 0; p < 4; ++p)
            for (int y = start[p]; y < rows; y += step[p]) order.push_back(y);
    } else {
        for (int y = 0; y < rows; ++y) order.push_back(y);
    }
    return order;
}

// The first frame's indices, placed at its offset in the `width`-wide
// canvas `index`.
void readFrame(GifFileType* gif, int64_t width, std::vector<uint8_t>& index,
               const Deadline& deadline, const std::string& name) {
    const GifImageDesc& frame = gif->Image;
    const int fw = frame.Width;
    std::vector<GifPixelType> line(static_cast<size_t>(fw));
    for (int y : storedRowOrder(frame.Height, frame.Interlace)) {
        if (deadline.passed()) timeLimit(name, deadline);
        if (DGifGetLine(gif, line.data(), fw) == GIF_ERROR) giflibFailed(gif->Error, name);
        std::memcpy(&index[size_t(frame.Top + y) * size_t(width) + size_t(frame.Left)], line.data(),
                    size_t(fw));
    }
}

}  // namespace

Image decodeGif(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opt,
                const Deadline& deadline, DecodeInfo& info) {
    GifInput input{data, size, 0};
    int error = 0;
    std::unique_ptr<GifFileType, void (*)(GifFileType*)> gif(
        DGifOpen(&input, gifRead, &error), [](GifFileType* g) { DGifCloseFile(g, nullptr); });
    if (!gif) giflibFailed(error, name);
    const int transparency = readUpToImage(gif.get(), input, name);
    if (DGifGetImageDesc(gif.get()) == GIF_ERROR) giflibFailed(gif->Error, name);
    // giflib has just read the LZW code size; the sub-blocks follow.
    const size_t lzwAt = input.pos;
    const GifImageDesc& frame = gif->Image;
    const int64_t w = std::max<int64_t>(gif->SWidth, int64_t(frame.Left) + frame.Width);
    const int64_t h = std::max<int64_t>(gif->SHeight, int64_t(frame.Top) + frame.Height);
    checkPixels(name, w, h, opt);
    const ColorMapObject* map = frame.ColorMap ? frame.ColorMap : gif->SColorMap;
    info.format = "GIF";
    info.sourceWidth = int(w);
    info.sourceHeight = int(h);
    info.bitDepth = 8;
    uint8_t lut[256][3];
    const bool grayRamp = paletteLut(map, lut);
    info.sourceMode = map && !grayRamp ? "P" : "L";

    std::vector<uint8_t> index(size_t(w) * size_t(h),
                               uint8_t(transparency >= 0 ? transparency : 0));
    if (frame.Width > 0 && frame.Height > 0) {
        checkCodesLikePillow(data, size, lzwAt, uint64_t(frame.Width) * uint64_t(frame.Height),
                             name);
        readFrame(gif.get(), w, index, deadline, name);
    }
    Image out = Image::allocate(int(w), int(h), 3);
    uint8_t* o = out.pixels.data();
    for (size_t i = 0; i < index.size(); ++i) std::memcpy(o + i * 3, lut[index[i]], 3);
    return out;
}

}  // namespace bs::decoding
