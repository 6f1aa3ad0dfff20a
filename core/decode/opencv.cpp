// One decoder back end of core/decode (see decode.cpp for the dispatch).
#include "core/decode/decode.h"

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/decode/backends.h"

namespace bs::decoding {

namespace {

// Other formats (OpenCV). Header sizes are read here first so that a lying
// header is refused before OpenCV allocates.

// Returns false when the header is too short to tell.
bool headerSize(const std::string& fmt, const uint8_t* d, size_t size, int64_t& w, int64_t& h) {
    if (fmt == "BMP") {
        if (size < 26) return false;
        const uint32_t hs = le32(d + 14);
        if (hs == 12) {
            w = le16(d + 18);
            h = le16(d + 20);
        } else {
            w = int32_t(le32(d + 18));
            h = int32_t(le32(d + 22));
            if (h < 0) h = -h;
        }
        return true;
    }
    if (fmt == "GIF") {
        if (size < 10) return false;
        w = le16(d + 6);
        h = le16(d + 8);
        return true;
    }
    if (fmt == "WEBP") {
        if (size < 30) return false;
        if (std::memcmp(d + 12, "VP8X", 4) == 0) {
            w = 1 + (d[24] | (d[25] << 8) | (d[26] << 16));
            h = 1 + (d[27] | (d[28] << 8) | (d[29] << 16));
        } else if (std::memcmp(d + 12, "VP8L", 4) == 0) {
            const uint32_t b = le32(d + 21);
            w = 1 + (b & 0x3FFF);
            h = 1 + ((b >> 14) & 0x3FFF);
        } else if (std::memcmp(d + 12, "VP8 ", 4) == 0) {
            w = le16(d + 26) & 0x3FFF;
            h = le16(d + 28) & 0x3FFF;
        } else {
            return false;
        }
        return true;
    }
    if (fmt == "TIFF") return size >= 8 && tiffSize(d, size, w, h);
    return false;
}

// Whether the file is shorter than its header says. Checked before OpenCV
// so a cut file is reported as truncated (as Pillow does) and OpenCV does
// not print its own complaint.
bool fileTruncated(const std::string& fmt, const uint8_t* d, size_t size, int64_t w, int64_t h) {
    if (fmt == "BMP") {
        if (size < 30) return true;
        const uint32_t hs = le32(d + 14);
        const int bpp = hs == 12 ? le16(d + 24) : le16(d + 28);
        const uint32_t compression = hs >= 40 && size >= 34 ? le32(d + 30) : 0;
        if (compression != 0 && compression != 3) return false;  // RLE: size unknown
        const uint64_t stride = (uint64_t(w) * bpp + 31) / 32 * 4;
        return uint64_t(le32(d + 10)) + stride * uint64_t(h) > size;
    }
    if (fmt == "WEBP") return uint64_t(le32(d + 4)) + 8 > size;
    if (fmt == "TIFF") return tiffTruncated(d, size);
    return false;
}

void silenceOpenCv() {
    static std::once_flag once;
    std::call_once(once,
                   [] { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT); });
}

int webpOrientation(const uint8_t* d, size_t size) {
    for (size_t pos = 12; pos + 8 <= size;) {
        const uint32_t len = le32(d + pos + 4);
        if (len > size - pos - 8) break;
        if (std::memcmp(d + pos, "EXIF", 4) == 0) return exifOrientation(d + pos + 8, len);
        pos += 8 + size_t(len) + (len & 1);
    }
    return 1;
}

// Pillow's BmpImagePlugin accepts only some headers that OpenCV reads:
// header sizes 12, 40, 64, 108 and 124; depths 1, 4, 8, 16, 24 and 32;
// compressions raw, RLE8, RLE4 and bit fields of a few known layouts; and
// 1..65536 palette entries. Returns false with the reason Pillow gives;
// `mode` receives Pillow's mode ("P", or "L"/"1" for a gray palette).
bool bmpHeaderLikePillow(const uint8_t* d, size_t size, std::string& mode, std::string& why) {
    if (size < 18) {
        why = "header cut off";
        return false;
    }
    const uint32_t headerSize = le32(d + 14);
    if (headerSize != 12 && headerSize != 40 && headerSize != 64 && headerSize != 108 &&
        headerSize != 124) {
        why = "Unsupported BMP header type (" + std::to_string(headerSize) + ")";
        return false;
    }
    if (size < 14 + size_t(headerSize)) {
        why = "header cut off";
        return false;
    }
    const uint8_t* h = d + 18;  // the header after its size field
    const bool os2 = headerSize == 12;
    const int bits = os2 ? le16(h + 6) : le16(h + 10);
    const uint32_t compression = os2 ? 0 : le32(h + 12);
    uint64_t colors = os2 ? 0 : le32(h + 28);
    if (bits != 1 && bits != 4 && bits != 8 && bits != 16 && bits != 24 && bits != 32) {
        why = "Unsupported BMP pixel depth (" + std::to_string(bits) + ")";
        return false;
    }
    if (compression == 3) {  // bit fields: masks in the header, or just after a 40-byte one
        const size_t at = 14 + 40;
        if (size < at + (headerSize >= 56 ? 16 : 12)) {
            why = "bit field masks cut off";
            return false;
        }
        const uint32_t r = le32(d + at), g = le32(d + at + 4), b = le32(d + at + 8);
        const uint32_t a = headerSize >= 56 ? le32(d + at + 12) : 0;
        bool known = false;
        if (bits == 32) {
            const uint32_t layouts[][4] = {
                {0xFF0000, 0xFF00, 0xFF, 0},          {0xFF000000, 0xFF0000, 0xFF00, 0},
                {0xFF000000, 0xFF0000, 0xFF00, 0xFF}, {0xFF, 0xFF00, 0xFF0000, 0xFF000000},
                {0xFF0000, 0xFF00, 0xFF, 0xFF000000}, {0, 0, 0, 0}};
            for (const auto& l : layouts)
                known = known || (l[0] == r && l[1] == g && l[2] == b && l[3] == a);
        } else if (bits == 24) {
            known = r == 0xFF0000 && g == 0xFF00 && b == 0xFF;
        } else if (bits == 16) {
            known = (r == 0xF800 && g == 0x7E0 && b == 0x1F) ||
                    (r == 0x7C00 && g == 0x3E0 && b == 0x1F);
        }
        if (!known) {
            why = "Unsupported BMP bitfields layout";
            return false;
        }
    } else if (compression > 2) {
        why = "Unsupported BMP compression (" + std::to_string(compression) + ")";
        return false;
    }
    mode = bits <= 8 ? "P" : "RGB";
    if (bits <= 8) {
        if (colors == 0) colors = uint64_t(1) << bits;
        if (colors > 65536) {
            why = "Unsupported BMP Palette size (" + std::to_string(colors) + ")";
            return false;
        }
        // A palette of exactly the gray levels (or black and white) is "L" ("1").
        const size_t entry = os2 ? 3 : 4, at = 14 + headerSize;
        bool gray = true;
        for (uint64_t i = 0; i < colors && gray; ++i) {
            const int want = colors == 2 ? (i ? 255 : 0) : int(i);
            const size_t e = at + size_t(i) * entry;
            gray = e + 3 <= size && d[e] == want && d[e + 1] == want && d[e + 2] == want;
        }
        if (gray) mode = colors == 2 ? "1" : "L";
    }
    return true;
}

// Pillow's PPM reader takes header tokens (width, height and, except for
// bitmaps, maxval) as whitespace-separated runs of at most 10 digits, with
// '#' comments, and refuses maxval outside 1..65535. OpenCV is more lenient
// (it reads "25g" as 25), so the header is read the way Pillow reads it,
// once, for validation, the size check and the truncation check.
struct PnmHeader {
    int64_t width = 0, height = 0, maxval = 1;
    size_t dataOffset = 0;  // after the one whitespace byte that ends the header
};

bool pnmHeaderLikePillow(const uint8_t* d, size_t size, PnmHeader& out, std::string& why) {
    auto space = [](uint8_t c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0b || c == 0x0c;
    };
    const bool bitmap = d[1] == '1' || d[1] == '4';
    size_t pos = 2;
    for (int k = 0; k < (bitmap ? 2 : 3); ++k) {
        for (;;) {
            while (pos < size && space(d[pos])) ++pos;
            if (pos < size && d[pos] == '#') {
                while (pos < size && d[pos] != '\n' && d[pos] != '\r') ++pos;
                continue;
            }
            break;
        }
        const size_t start = pos;
        while (pos < size && !space(d[pos]) && d[pos] != '#') ++pos;
        const size_t len = pos - start;
        if (len == 0 || len > 10) {
            why = len ? "header token too long" : "header ends early";
            return false;
        }
        int64_t v = 0;
        for (size_t i = start; i < pos; ++i) {
            if (!std::isdigit(d[i])) {
                why = "invalid header token '" +
                      std::string(reinterpret_cast<const char*>(d + start), len) + "'";
                return false;
            }
            v = v * 10 + (d[i] - '0');
        }
        if (k == 2 && (v < 1 || v > 65535)) {
            why = "maxval must be greater than 0 and less than 65536";
            return false;
        }
        (k == 0 ? out.width : k == 1 ? out.height : out.maxval) = v;
    }
    out.dataOffset = pos + 1;
    return true;
}

// Binary PNM (P5, P6) whose pixel data ends early; the text variants and
// bitmaps are left to the decoder.
bool pnmTruncated(const uint8_t* d, size_t size, const PnmHeader& h) {
    if (d[1] != '5' && d[1] != '6') return false;
    const uint64_t bytes =
        uint64_t(h.width) * uint64_t(h.height) * (d[1] == '6' ? 3 : 1) * (h.maxval > 255 ? 2 : 1);
    return h.dataOffset > size || bytes > size - h.dataOffset;
}

// OpenCV's decoders throw, and some only print; both end up in `error`.
cv::Mat imdecodeCaught(const uint8_t* data, size_t size, std::string& error) {
    try {
        // Borrows `data` for the duration of the call only.
        const cv::Mat buf(1, int(std::min<size_t>(size, 0x7fffffff)), CV_8U,
                          const_cast<uint8_t*>(data));
        return cv::imdecode(buf, cv::IMREAD_UNCHANGED | cv::IMREAD_IGNORE_ORIENTATION);
    } catch (const cv::Exception& e) {
        error = e.err;
    } catch (const std::exception& e) {
        error = e.what();
    }
    if (error.empty()) error = "unknown error";
    return {};
}

std::atomic<int> gAbandonedDecodes{0};

// A decode on a helper thread that the caller may stop waiting for.
struct DetachedDecode {
    std::mutex mutex;
    std::condition_variable finished;
    bool done = false;
    bool abandoned = false;
    std::vector<uint8_t> input;  // owned copy: the caller's buffer may go away
    cv::Mat result;
    std::string error;
};

// OpenCV cannot be interrupted, so under a time limit the decode runs on a
// helper thread; past the deadline the caller reports the file and goes on
// while the helper finishes on its own and frees everything.
cv::Mat imdecodeWithin(const uint8_t* data, size_t size, const Deadline& deadline, bool& timedOut,
                       std::string& error) {
    if (!deadline.active()) return imdecodeCaught(data, size, error);
    auto job = std::make_shared<DetachedDecode>();
    job->input.assign(data, data + size);
    try {
        std::thread([job] {
            std::string err;
            cv::Mat m = imdecodeCaught(job->input.data(), job->input.size(), err);
            std::lock_guard<std::mutex> lock(job->mutex);
            job->result = std::move(m);
            job->error = std::move(err);
            job->done = true;
            if (job->abandoned) --gAbandonedDecodes;
            job->finished.notify_all();
        }).detach();
    } catch (const std::system_error&) {
        return imdecodeCaught(data, size, error);  // no thread to spare: decode here
    }
    std::unique_lock<std::mutex> lock(job->mutex);
    if (!job->finished.wait_until(lock, deadline.at(), [&] { return job->done; })) {
        job->abandoned = true;
        ++gAbandonedDecodes;
        timedOut = true;
        return {};
    }
    error = job->error;
    return job->result;
}

}  // namespace

Image decodeWithOpenCv(const uint8_t* data, size_t size, const std::string& name,
                       const std::string& fmt, const DecodeOptions& opt, const Deadline& deadline,
                       DecodeInfo& info) {
    std::string why, bmpMode;
    PnmHeader pnm;
    if (fmt == "PPM") {
        if (!pnmHeaderLikePillow(data, size, pnm, why))
            fail(DecodeErrorKind::Unreadable, name, "cannot decode PPM: " + why);
        checkPixels(name, pnm.width, pnm.height, opt);
        if (pnmTruncated(data, size, pnm)) truncated(name);
    }
    if (fmt == "BMP" && !bmpHeaderLikePillow(data, size, bmpMode, why))
        fail(DecodeErrorKind::Unreadable, name, "cannot decode BMP: " + why);
    int64_t hw = 0, hh = 0;
    if (headerSize(fmt, data, size, hw, hh)) {
        checkPixels(name, hw, hh, opt);
        if (fileTruncated(fmt, data, size, hw, hh)) truncated(name);
    }
    if (fmt == "TIFF") {
        info.exifOrientation = tiffOrientation(data, size);
        validateTiff(data, size, name, deadline);
    }
    if (fmt == "WEBP") info.exifOrientation = webpOrientation(data, size);
    silenceOpenCv();
    std::string error;
    bool timedOut = false;
    const cv::Mat m = imdecodeWithin(data, size, deadline, timedOut, error);
    if (timedOut) timeLimit(name, deadline);
    if (!error.empty())
        fail(DecodeErrorKind::Unreadable, name, "cannot decode " + fmt + " (" + error + ")");
    if (m.empty() || m.dims != 2)
        fail(DecodeErrorKind::Unreadable, name, "cannot decode " + fmt + " data");
    checkPixels(name, m.cols, m.rows, opt);
    const int ch = m.channels();
    const int depth = m.depth();
    info.format = fmt;
    info.sourceWidth = m.cols;
    info.sourceHeight = m.rows;
    info.bitDepth = depth == CV_16U ? 16 : depth == CV_32F ? 32 : 8;
    if (depth == CV_16U)
        info.sourceMode = ch == 1 ? "I;16" : ch == 4 ? "RGBA" : "RGB";
    else if (depth == CV_32F)
        info.sourceMode = "F";
    else
        info.sourceMode = ch == 1 ? "L" : ch == 4 ? "RGBA" : "RGB";
    // OpenCV expands palettes; Pillow keeps them as "P" (or "L"/"1" when gray).
    if (fmt == "BMP" && bmpMode != "RGB") info.sourceMode = bmpMode;
    if (fmt == "TIFF" && info.sourceMode == "I;16" && data[0] == 'M') info.sourceMode = "I;16B";
    if (depth != CV_8U && depth != CV_16U && depth != CV_32F)
        fail(DecodeErrorKind::Unreadable, name, "unsupported " + fmt + " sample type");
    if (ch != 1 && ch != 3 && ch != 4)
        fail(DecodeErrorKind::Unreadable, name, "unsupported " + fmt + " channel count");

    Image out = Image::allocate(m.cols, m.rows, 3);
    for (int y = 0; y < m.rows; ++y) {
        uint8_t* o = out.row(y);
        for (int x = 0; x < m.cols; ++x) {
            int v[3];
            for (int c = 0; c < 3; ++c) {
                // OpenCV is BGR(A); gray has one channel.
                const int sc = ch == 1 ? 0 : 2 - c;
                if (depth == CV_8U) {
                    v[c] = m.ptr<uint8_t>(y)[x * ch + sc];
                } else if (depth == CV_16U) {
                    const int s = m.ptr<uint16_t>(y)[x * ch + sc];
                    // Pillow clips 16-bit gray ("I;16") and keeps the high
                    // byte of 16-bit colour.
                    v[c] = ch == 1 ? std::min(s, 255) : s >> 8;
                } else {
                    const float f = m.ptr<float>(y)[x * ch + sc];
                    v[c] = f >= 255.f ? 255 : f > 0.f ? int(f) : 0;
                }
            }
            o[x * 3] = uint8_t(v[0]);
            o[x * 3 + 1] = uint8_t(v[1]);
            o[x * 3 + 2] = uint8_t(v[2]);
        }
    }
    return out;
}

}  // namespace bs::decoding

namespace bs {

int abandonedDecodesRunning() {
    return decoding::gAbandonedDecodes.load();
}

}  // namespace bs
