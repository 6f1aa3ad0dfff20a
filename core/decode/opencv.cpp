// Decoding that matches `PIL.Image.open(f).convert('RGB')` (Pillow 9.4).
//
// JPEG goes through libjpeg-turbo and PNG through libpng directly, because
// those are the libraries Pillow itself uses and their exact settings
// (ISLOW DCT, fancy upsampling; raw 16-bit samples) decide the pixels. Other
// formats go through OpenCV, except GIF (giflib; OpenCV 4.6 has no GIF
// reader). Each mode conversion below was checked against
// Pillow by tests/test_parity.cpp.
//
// CMYK -> RGB in Pillow 9.4 is multiplicative: R = (255-K) - (C*(255-K))/255
// with Pillow's rounded divide-by-255, not 255 - min(255, C + K).
#include "core/decode/decode.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gif_lib.h>
#include <png.h>
#include <tiffio.h>
#include <zlib.h>

// clang-format off
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <jerror.h>
#include <jpeglib.h>
// clang-format on

#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csetjmp>
#include <cstdarg>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace bs {

namespace {

[[noreturn]] void fail(DecodeErrorKind kind, const std::string& name, const std::string& what) {
    throw DecodeError(kind, name + ": " + what);
}

[[noreturn]] void truncated(const std::string& name) {
    fail(DecodeErrorKind::Truncated, name, "image file is truncated");
}

using Clock = std::chrono::steady_clock;

// The per-file time limit, fixed when decoding of a file starts.
class Deadline {
public:
    explicit Deadline(double seconds) : limit_(seconds) {
        if (seconds > 0)
            at_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(seconds));
    }
    bool active() const { return limit_ > 0; }
    bool passed() const { return active() && Clock::now() >= at_; }
    Clock::time_point at() const { return at_; }
    double seconds() const { return limit_; }

private:
    double limit_;
    Clock::time_point at_{};
};

[[noreturn]] void timeLimit(const std::string& name, const Deadline& d) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", d.seconds());
    fail(DecodeErrorKind::TimeLimit, name,
         std::string("decoding stopped by the per-file time limit of ") + secs +
             " s (a pathological file; raise it with --decode-time-limit)");
}

void checkPixels(const std::string& name, int64_t w, int64_t h, const DecodeOptions& opt) {
    if (w <= 0 || h <= 0)
        fail(DecodeErrorKind::Unreadable, name,
             "invalid image size " + std::to_string(w) + "x" + std::to_string(h));
    // Divide rather than multiply: header sizes up to 2^40 would overflow.
    if (w > opt.maxPixels / h)
        fail(DecodeErrorKind::Oversized, name,
             "image size " + std::to_string(w) + "x" + std::to_string(h) + " (" +
                 (w <= INT64_MAX / h ? std::to_string(w * h) : std::string("over 2^63")) +
                 " pixels) exceeds the limit of " + std::to_string(opt.maxPixels) + " pixels");
}

uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
uint32_t le32(const uint8_t* p) {
    return (uint32_t(p[3]) << 24) | (uint32_t(p[2]) << 16) | (uint32_t(p[1]) << 8) | p[0];
}
uint16_t le16(const uint8_t* p) {
    return uint16_t(p[0] | (p[1] << 8));
}

// ---------------------------------------------------------------------------
// EXIF / TIFF orientation: IFD0 tag 0x0112. `tiff` starts at the TIFF header.
int tiffOrientation(const uint8_t* tiff, size_t size) {
    if (size < 8) return 1;
    bool le;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        le = true;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        le = false;
    else
        return 1;
    auto u16 = [&](size_t o) -> uint32_t {
        return le ? uint32_t(tiff[o] | (tiff[o + 1] << 8)) : uint32_t((tiff[o] << 8) | tiff[o + 1]);
    };
    auto u32 = [&](size_t o) -> uint32_t { return le ? le32(tiff + o) : be32(tiff + o); };
    const uint32_t ifd = u32(4);
    if (ifd < 8 || size_t(ifd) + 2 > size) return 1;
    const uint32_t n = u16(ifd);
    for (uint32_t i = 0; i < n; ++i) {
        const size_t e = size_t(ifd) + 2 + size_t(i) * 12;
        if (e + 12 > size) break;
        if (u16(e) == 0x0112) {
            const uint32_t type = u16(e + 2);
            const uint32_t v = type == 3 ? u16(e + 8) : (type == 4 ? u32(e + 8) : 0);
            return v >= 1 && v <= 8 ? int(v) : 1;
        }
    }
    return 1;
}

int exifOrientation(const uint8_t* p, size_t size) {
    // APP1 / eXIf / WebP EXIF payloads, with or without the "Exif\0\0" prefix.
    if (size >= 6 && std::memcmp(p, "Exif\0\0", 6) == 0) return tiffOrientation(p + 6, size - 6);
    return tiffOrientation(p, size);
}

// ---------------------------------------------------------------------------
// JPEG (libjpeg API, so that a progress monitor can enforce the time limit)

// One decode's libjpeg state. libjpeg reports errors by longjmp, so the
// functions that set the jump point below keep only trivially destructible
// locals; the C++ caller owns this struct and the output buffer.
struct JpegJob {
    jpeg_decompress_struct cinfo;
    jpeg_error_mgr err;
    jpeg_progress_mgr progress;
    std::jmp_buf jump;
    const Deadline* deadline = nullptr;
    bool timedOut = false;
    bool prematureEnd = false;  // libjpeg padded a stream that ended early
    char message[JMSG_LENGTH_MAX];

    JpegJob() {
        std::memset(&cinfo, 0, sizeof cinfo);
        message[0] = 0;
    }
    ~JpegJob() { jpeg_destroy_decompress(&cinfo); }  // no-op before create
    JpegJob(const JpegJob&) = delete;
    JpegJob& operator=(const JpegJob&) = delete;
};

JpegJob* jobOf(j_common_ptr c) {
    return static_cast<JpegJob*>(c->client_data);
}

void jpegErrorExit(j_common_ptr c) {
    JpegJob* job = jobOf(c);
    c->err->format_message(c, job->message);
    std::longjmp(job->jump, 1);
}

// Warnings (corrupt-data notes) are ignored, as Pillow ignores them, except
// the padding of a stream that ended early: Pillow calls that truncated.
void jpegEmitMessage(j_common_ptr c, int level) {
    if (level >= 0) return;
    if (c->err->msg_code == JWRN_JPEG_EOF) jobOf(c)->prematureEnd = true;
    ++c->err->num_warnings;
}

// libjpeg calls this between scans and rows; it is the one place a long
// decode can be stopped.
void jpegProgress(j_common_ptr c) {
    JpegJob* job = jobOf(c);
    if (job->deadline->passed()) {
        job->timedOut = true;
        std::longjmp(job->jump, 1);
    }
}

bool jpegReadHeader(JpegJob& job, const uint8_t* data, size_t size) {
    job.cinfo.err = jpeg_std_error(&job.err);
    job.err.error_exit = jpegErrorExit;
    job.err.emit_message = jpegEmitMessage;
    // Before create, which keeps client_data: its own errors reach jpegErrorExit.
    job.cinfo.client_data = &job;
    if (setjmp(job.jump)) return false;
    jpeg_create_decompress(&job.cinfo);
    job.progress.progress_monitor = jpegProgress;
    job.cinfo.progress = &job.progress;
    jpeg_mem_src(&job.cinfo, data, (unsigned long)size);
    jpeg_read_header(&job.cinfo, TRUE);
    return true;
}

// Decodes into `rows` (one pointer per output row, width * components
// bytes each) with libjpeg's defaults: accurate integer DCT and fancy
// upsampling, as Pillow uses.
bool jpegReadPixels(JpegJob& job, J_COLOR_SPACE space, JSAMPARRAY rows) {
    if (setjmp(job.jump)) return false;
    job.cinfo.out_color_space = space;
    jpeg_start_decompress(&job.cinfo);
    while (job.cinfo.output_scanline < job.cinfo.output_height)
        jpeg_read_scanlines(&job.cinfo, rows + job.cinfo.output_scanline,
                            job.cinfo.output_height - job.cinfo.output_scanline);
    jpeg_finish_decompress(&job.cinfo);
    return true;
}

inline uint8_t mulDiv255(int a, int b) {
    // Rounded a*b/255 as Pillow computes it.
    const int t = a * b + 128;
    return uint8_t(((t >> 8) + t) >> 8);
}

// True when the marker structure runs from SOI to an EOI marker within
// the data. Pillow feeds libjpeg in suspending mode and calls a stream
// that ends before EOI truncated; libjpeg pads such a stream with a fake
// EOI and, at a scan boundary of a progressive file, does not even warn.
constexpr int kMaxJpegScans = 500;

// `scans` receives the number of SOS markers seen.
bool jpegReachesEoi(const uint8_t* d, size_t size, int& scans) {
    scans = 0;
    size_t pos = 2;
    while (pos < size) {
        // Find the next marker, skipping fill bytes and stray data the way
        // libjpeg's marker reader does.
        while (pos < size && d[pos] != 0xFF) ++pos;
        while (pos < size && d[pos] == 0xFF) ++pos;
        if (pos >= size) return false;
        const uint8_t marker = d[pos++];
        if (marker == 0xD9) return true;
        if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;
        if (pos + 2 > size) return false;
        const size_t len = (size_t(d[pos]) << 8) | d[pos + 1];
        if (len < 2) return true;  // corrupt, not short: the decoder judges it
        pos += len;
        if (pos > size) return false;
        if (marker == 0xDA) {
            ++scans;
            // Entropy-coded data runs to the next marker other than a
            // stuffed zero or a restart marker.
            // memchr: this walk covers every byte of the file.
            for (;;) {
                const void* ff = pos < size ? std::memchr(d + pos, 0xFF, size - pos) : nullptr;
                if (!ff) return false;
                pos = size_t(static_cast<const uint8_t*>(ff) - d);
                if (pos + 1 >= size) return false;
                const uint8_t next = d[pos + 1];
                if (next != 0x00 && !(next >= 0xD0 && next <= 0xD7)) break;
                pos += 2;
            }
        }
    }
    return false;
}

// What Pillow's JpegImagePlugin reads from the markers before SOS, and
// whether it accepts them. Pillow walks the header in Python with rules of
// its own, stricter than libjpeg's: marker codes it does not know (0xFF01,
// 0xFF02..0xFFBF) end the walk with "no marker found", only 8-bit precision
// and 1, 3 or 4 components are accepted, quantization tables must be
// complete, and a short JFIF or Adobe segment fails to parse. Fill bytes
// (0xFF 0xFF), escaped 0xFF 0x00 and junk between segments are skipped.
struct JpegHeader {
    int exifOrientation = 1;
    bool endsEarly = false;  // a segment or the walk ran past the end
};

bool jpegHeaderLikePillow(const uint8_t* d, size_t size, JpegHeader& out, std::string& why) {
    bool haveFrame = false;
    int width = 0, height = 0;
    bool haveExif = false, shortIcc = false;
    size_t pos = 3;  // Pillow has read FF D8 FF and treats the third byte as the 0xFF
    for (;;) {
        if (pos >= size) {
            out.endsEarly = true;
            why = "no start of scan";
            return false;
        }
        const int code = 0xFF00 | d[pos++];
        if (code == 0xFFFF) continue;  // fill byte: the second 0xFF starts a marker
        if (code == 0xFF00 || code < 0xFFC0) {
            if (code != 0xFF00) {
                why = "no marker found";
                return false;
            }
            // Escaped 0xFF: skip bytes up to the next 0xFF.
            while (pos < size && d[pos] != 0xFF) ++pos;
            ++pos;
            continue;
        }
        const bool standalone = code == 0xFFC8 || (code >= 0xFFD0 && code <= 0xFFD9) ||
                                (code >= 0xFFF0 && code <= 0xFFFD);
        if (!standalone) {
            if (pos + 2 > size) {
                out.endsEarly = true;
                why = "segment length cut off";
                return false;
            }
            const int len = (d[pos] << 8) | d[pos + 1];
            pos += 2;
            const size_t n = len > 2 ? size_t(len - 2) : 0;
            if (n > size - pos) {
                out.endsEarly = true;
                why = "Truncated File Read";
                return false;
            }
            const uint8_t* s = d + pos;
            const bool sof =
                (code >= 0xFFC0 && code <= 0xFFCF && code != 0xFFC4 && code != 0xFFCC) ||
                code == 0xFFDE;
            if (sof) {
                if (n < 6) {
                    why = "short frame header";
                    return false;
                }
                if (s[0] != 8) {
                    why = "cannot handle " + std::to_string(s[0]) + "-bit layers";
                    return false;
                }
                if (s[5] != 1 && s[5] != 3 && s[5] != 4) {
                    why = "cannot handle " + std::to_string(s[5]) + "-layer images";
                    return false;
                }
                // Pillow reads byte 13 of the first ICC fragment here.
                if (shortIcc) {
                    why = "short ICC profile segment";
                    return false;
                }
                haveFrame = true;
                height = (s[1] << 8) | s[2];
                width = (s[3] << 8) | s[4];
            } else if (code == 0xFFDB) {
                for (size_t k = 0; k < n;) {
                    const size_t tableLen = 1 + (s[k] >> 4 == 0 ? 1 : 2) * 64;
                    if (n - k < tableLen) {
                        why = "bad quantization table marker";
                        return false;
                    }
                    k += tableLen;
                }
            } else if ((code == 0xFFE0 && n >= 4 && std::memcmp(s, "JFIF", 4) == 0) ||
                       (code == 0xFFEE && n >= 5 && std::memcmp(s, "Adobe", 5) == 0)) {
                if (n < 7) {
                    why = "short JFIF or Adobe segment";
                    return false;
                }
            } else if (code == 0xFFE2 && n >= 12 && std::memcmp(s, "ICC_PROFILE", 12) == 0) {
                shortIcc = shortIcc || n < 14;
            } else if (code == 0xFFE1 && n >= 5 && std::memcmp(s, "Exif", 5) == 0 && !haveExif) {
                haveExif = true;  // Pillow keeps the first EXIF block
                out.exifOrientation = exifOrientation(s, n);
            }
            pos += n;
            if (code == 0xFFDA) break;
        }
        // The next byte should be 0xFF; Pillow skips anything else.
        while (pos < size && d[pos] != 0xFF) ++pos;
        ++pos;
    }
    if (!haveFrame || width <= 0 || height <= 0) {
        why = "not identified by this driver";
        return false;
    }
    return true;
}

Image decodeJpeg(const uint8_t* data, size_t size, const std::string& name,
                 const DecodeOptions& opt, const Deadline& deadline, DecodeInfo& info) {
    JpegHeader header;
    std::string why;
    if (!jpegHeaderLikePillow(data, size, header, why)) {
        if (header.endsEarly) truncated(name);
        fail(DecodeErrorKind::Unreadable, name, "cannot identify image file (" + why + ")");
    }
    info.exifOrientation = header.exifOrientation;

    // The scan count is known from the markers alone, before any decoding.
    int scans = 0;
    const bool reachesEoi = jpegReachesEoi(data, size, scans);

    JpegJob job;
    job.deadline = &deadline;
    if (!jpegReadHeader(job, data, size)) {
        if (job.prematureEnd) truncated(name);
        fail(DecodeErrorKind::Unreadable, name,
             std::string("broken JPEG header (") + job.message + ")");
    }
    const int w = int(job.cinfo.image_width), h = int(job.cinfo.image_height);
    checkPixels(name, w, h, opt);
    // Pillow names the mode after the component count and refuses others.
    const int nc = job.cinfo.num_components;
    if (nc != 1 && nc != 3 && nc != 4)
        fail(DecodeErrorKind::Unreadable, name,
             "cannot handle " + std::to_string(nc) + "-layer JPEG images");
    info.format = "JPEG";
    info.sourceWidth = w;
    info.sourceHeight = h;
    info.bitDepth = 8;  // Pillow refuses other precisions (see the header walk)
    const bool cmyk = nc == 4;
    info.sourceMode = nc == 4 ? "CMYK" : nc == 1 ? "L" : "RGB";

    if (!reachesEoi) truncated(name);
    // Every progressive scan re-reads the whole coefficient buffer, so a file
    // of thousands of tiny scans decodes for minutes: the known pathological
    // JPEG. Real progressive files have about ten; libjpeg-turbo suggests 500
    // as the limit for untrusted input. Refused before decoding; slower
    // files below that count are stopped by the time limit.
    if (scans > kMaxJpegScans)
        fail(DecodeErrorKind::Unreadable, name,
             "pathological JPEG: " + std::to_string(scans) + " scans (limit " +
                 std::to_string(kMaxJpegScans) + "), refused before decoding");

    Image out = Image::allocate(w, h, 3);
    std::vector<uint8_t> cmykBuf;
    uint8_t* dst = out.pixels.data();
    if (cmyk) {
        cmykBuf.resize(size_t(w) * h * 4);
        dst = cmykBuf.data();
    }
    std::vector<JSAMPROW> rows(static_cast<size_t>(h));
    for (int y = 0; y < h; ++y) rows[size_t(y)] = dst + size_t(y) * size_t(w) * (cmyk ? 4 : 3);
    // Gray sources are replicated to RGB by libjpeg, as convert('RGB') does.
    if (!jpegReadPixels(job, cmyk ? JCS_CMYK : JCS_RGB, rows.data())) {
        if (job.timedOut) timeLimit(name, deadline);
        // libjpeg pads a file that ends early; Pillow reports it truncated.
        if (job.prematureEnd) truncated(name);
        fail(DecodeErrorKind::Unreadable, name,
             std::string("broken JPEG data (") + job.message + ")");
    }
    // A padded stream only warns; other warnings (extraneous bytes) leave a
    // complete image that Pillow accepts.
    if (job.prematureEnd) truncated(name);
    if (cmyk) {
        // libjpeg returns the samples as stored. Pillow reads every CMYK
        // JPEG as inverted ("CMYK;I", Adobe's convention), with or without
        // an Adobe marker, and so does this.
        const size_t n = size_t(w) * h;
        uint8_t* o = out.pixels.data();
        for (size_t i = 0; i < n; ++i) {
            const uint8_t* p = &cmykBuf[i * 4];
            int c = p[0], m = p[1], y = p[2], k = p[3];
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
            const int nk = 255 - k;
            o[i * 3 + 0] = uint8_t(std::max(0, nk - mulDiv255(c, nk)));
            o[i * 3 + 1] = uint8_t(std::max(0, nk - mulDiv255(m, nk)));
            o[i * 3 + 2] = uint8_t(std::max(0, nk - mulDiv255(y, nk)));
        }
    }
    return out;
}

// ---------------------------------------------------------------------------
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

Image decodePng(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opt,
                const Deadline& deadline, DecodeInfo& info) {
    if (size < 33) truncated(name);
    // Pillow verifies the CRC of every chunk before the first IDAT while
    // opening (and rejects the file as unidentifiable); it skips the CRCs
    // of IDAT and later chunks. libpng is told to ignore CRCs below, so
    // reproduce Pillow's check here.
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
    // Refuse a huge IHDR before libpng allocates anything.
    checkPixels(name, be32(data + 16), be32(data + 20), opt);
    // EXIF lives in an eXIf chunk; scan the chunk list (cheap, no inflate).
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

    Image out = Image::allocate(w, h, 3);
    uint8_t* o = out.pixels.data();
    const size_t n = size_t(w) * h;
    const uint8_t* raw = ctx.raw.data();
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
    return out;
}

// ---------------------------------------------------------------------------
// Other formats (OpenCV). Header sizes are read here first so that a lying
// header is refused before OpenCV allocates.

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

// ---------------------------------------------------------------------------
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

Image decodeGif(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opt,
                const Deadline& deadline, DecodeInfo& info) {
    GifInput input{data, size, 0};
    int error = 0;
    std::unique_ptr<GifFileType, void (*)(GifFileType*)> gif(
        DGifOpen(&input, gifRead, &error), [](GifFileType* g) { DGifCloseFile(g, nullptr); });
    auto giflibFailed = [&](int code) {
        // Running out of input means the file ends early.
        if (code == D_GIF_ERR_READ_FAILED || code == D_GIF_ERR_EOF_TOO_SOON) truncated(name);
        const char* why = GifErrorString(code);
        fail(DecodeErrorKind::Unreadable, name,
             std::string("broken GIF (") + (why ? why : "error") + ")");
    };
    if (!gif) giflibFailed(error);
    // Records up to the first image; Pillow skips stray bytes between them
    // and cannot identify a file that ends, or terminates, before an image.
    auto noImage = [&] {
        fail(DecodeErrorKind::Unreadable, name, "cannot identify image file (no GIF image)");
    };
    int transparency = -1;
    for (;;) {
        GifRecordType type = UNDEFINED_RECORD_TYPE;
        if (DGifGetRecordType(gif.get(), &type) == GIF_ERROR) {
            if (gif->Error == D_GIF_ERR_WRONG_RECORD) continue;
            if (input.pos >= input.size) noImage();
            giflibFailed(gif->Error);
        }
        if (type == IMAGE_DESC_RECORD_TYPE) break;
        if (type == TERMINATE_RECORD_TYPE) noImage();
        if (type != EXTENSION_RECORD_TYPE) continue;
        int code = 0;
        GifByteType* block = nullptr;
        if (DGifGetExtension(gif.get(), &code, &block) == GIF_ERROR) giflibFailed(gif->Error);
        // Graphic control: block[0] is the length, then flags and the index.
        if (code == GRAPHICS_EXT_FUNC_CODE && block) {
            if (block[0] < 4)
                fail(DecodeErrorKind::Unreadable, name,
                     "cannot identify image file (short GIF control block)");
            if (block[1] & 1) transparency = block[4];
        }
        while (block)
            if (DGifGetExtensionNext(gif.get(), &block) == GIF_ERROR) giflibFailed(gif->Error);
    }
    if (DGifGetImageDesc(gif.get()) == GIF_ERROR) giflibFailed(gif->Error);
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
    for (int i = 0; i < 256; ++i) lut[i][0] = lut[i][1] = lut[i][2] = uint8_t(i);
    bool grayRamp = true;
    if (map) {
        for (int i = 0; i < std::min(map->ColorCount, 256); ++i) {
            const GifColorType& c = map->Colors[i];
            grayRamp = grayRamp && c.Red == i && c.Green == i && c.Blue == i;
            lut[i][0] = c.Red;
            lut[i][1] = c.Green;
            lut[i][2] = c.Blue;
        }
    }
    info.sourceMode = map && !grayRamp ? "P" : "L";

    std::vector<uint8_t> index(size_t(w) * size_t(h),
                               uint8_t(transparency >= 0 ? transparency : 0));
    const int fw = frame.Width, fh = frame.Height;
    if (fw > 0 && fh > 0) {
        switch (
            gifCodesLikePillow(data, size, lzwAt, data[lzwAt - 1], uint64_t(fw) * uint64_t(fh))) {
            case GifCodes::Valid:
                break;
            case GifCodes::EndsEarly:
                truncated(name);
            case GifCodes::BadCodeSize:
                fail(DecodeErrorKind::Unreadable, name, "broken GIF (bad LZW code size)");
            case GifCodes::Broken:
                fail(DecodeErrorKind::Unreadable, name,
                     "broken data stream (invalid GIF LZW code)");
        }
        // Interlaced frames arrive in four passes: rows 0,8,..; 4,12,..; 2,6,..; 1,3,..
        std::vector<int> order;
        order.reserve(size_t(fh));
        if (frame.Interlace) {
            const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
            for (int p = 0; p < 4; ++p)
                for (int y = start[p]; y < fh; y += step[p]) order.push_back(y);
        } else {
            for (int y = 0; y < fh; ++y) order.push_back(y);
        }
        std::vector<GifPixelType> line(static_cast<size_t>(fw));
        for (int y : order) {
            if (deadline.passed()) timeLimit(name, deadline);
            if (DGifGetLine(gif.get(), line.data(), fw) == GIF_ERROR) giflibFailed(gif->Error);
            std::memcpy(&index[size_t(frame.Top + y) * size_t(w) + size_t(frame.Left)], line.data(),
                        size_t(fw));
        }
    }
    Image out = Image::allocate(int(w), int(h), 3);
    uint8_t* o = out.pixels.data();
    for (size_t i = 0; i < index.size(); ++i) std::memcpy(o + i * 3, lut[index[i]], 3);
    return out;
}

// ---------------------------------------------------------------------------
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

std::string sniffFormat(const uint8_t* d, size_t size) {
    if (size >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return "JPEG";
    if (size >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return "PNG";
    if (size >= 2 && d[0] == 'B' && d[1] == 'M') return "BMP";
    if (size >= 4 && (std::memcmp(d, "II*\0", 4) == 0 || std::memcmp(d, "MM\0*", 4) == 0))
        return "TIFF";
    if (size >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0)
        return "WEBP";
    if (size >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0))
        return "GIF";
    if (size >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && std::isspace(d[2])) return "PPM";
    return {};
}

}  // namespace

Image decodeImageBuffer(const uint8_t* data, size_t size, const std::string& name,
                        const DecodeOptions& options, DecodeInfo* info) {
    DecodeInfo local;
    DecodeInfo& di = info ? *info : local;
    di = DecodeInfo{};
    if (!data || size == 0) fail(DecodeErrorKind::Unreadable, name, "empty file");
    const std::string fmt = sniffFormat(data, size);
    if (fmt.empty()) fail(DecodeErrorKind::Unreadable, name, "cannot identify image file");
    try {
        const Deadline deadline(options.timeLimitSeconds);
        if (fmt == "JPEG") return decodeJpeg(data, size, name, options, deadline, di);
        if (fmt == "PNG") return decodePng(data, size, name, options, deadline, di);
        if (fmt == "GIF") return decodeGif(data, size, name, options, deadline, di);
        return decodeWithOpenCv(data, size, name, fmt, options, deadline, di);
    } catch (const DecodeError&) {
        throw;
    } catch (const std::bad_alloc&) {
        fail(DecodeErrorKind::Unreadable, name, "out of memory while decoding");
    } catch (const std::exception& e) {
        fail(DecodeErrorKind::Unreadable, name, e.what());
    }
}

Image decodeImageFile(const std::string& path, const DecodeOptions& options, DecodeInfo* info) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (fstat below
    // then refuses it); it changes nothing for regular files.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        fail(DecodeErrorKind::Unreadable, path,
             std::string("cannot open (") + std::strerror(errno) + ")");
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        fail(DecodeErrorKind::Unreadable, path, "not a regular file");
    if (st.st_size == 0) fail(DecodeErrorKind::Unreadable, path, "empty file");
    if (st.st_size > kMaxImageFileBytes)
        fail(DecodeErrorKind::Oversized, path,
             "file of " + std::to_string(st.st_size) + " bytes exceeds the limit of " +
                 std::to_string(kMaxImageFileBytes) + " bytes for one image");
    std::vector<uint8_t> buf(size_t(st.st_size));
    size_t got = 0;
    while (got < buf.size()) {
        const ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            fail(DecodeErrorKind::Unreadable, path,
                 std::string("read error (") + std::strerror(errno) + ")");
        if (r == 0) break;  // file shrank while reading
        got += size_t(r);
    }
    buf.resize(got);
    return decodeImageBuffer(buf.data(), buf.size(), path, options, info);
}

int abandonedDecodesRunning() {
    return gAbandonedDecodes.load();
}

bool hasImageExtension(const std::string& path) {
    static const char* const kExts[] = {".jpg", ".jpeg", ".png",  ".ppm", ".bmp",
                                        ".pgm", ".tif",  ".tiff", ".webp"};
    std::string lower;
    const size_t dot = path.find_last_of('.');
    const size_t slash = path.find_last_of('/');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return false;
    for (size_t i = dot; i < path.size(); ++i)
        lower += char(std::tolower(static_cast<unsigned char>(path[i])));
    for (const char* e : kExts)
        if (lower == e) return true;
    return false;
}

}  // namespace bs
