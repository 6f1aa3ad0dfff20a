// One decoder back end of core/decode (see decode.cpp for the dispatch).
#include "core/decode/decode.h"

// clang-format off
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <jerror.h>
#include <jpeglib.h>
// clang-format on

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

// What the walk has seen so far of the segments before SOS.
struct PillowHeaderWalk {
    bool haveFrame = false;
    int width = 0, height = 0;
    bool haveExif = false, shortIcc = false;
};

// SOFn: Pillow accepts 8-bit frames of 1, 3 or 4 components.
bool readFrameHeader(const uint8_t* s, size_t n, PillowHeaderWalk& walk, std::string& why) {
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
    if (walk.shortIcc) {
        why = "short ICC profile segment";
        return false;
    }
    walk.haveFrame = true;
    walk.height = (s[1] << 8) | s[2];
    walk.width = (s[3] << 8) | s[4];
    return true;
}

// DQT: every table in the segment must be complete (64 entries of 8 or 16
// bits after its precision/id byte).
bool checkQuantTables(const uint8_t* s, size_t n, std::string& why) {
    for (size_t k = 0; k < n;) {
        const size_t tableLen = 1 + (s[k] >> 4 == 0 ? 1 : 2) * 64;
        if (n - k < tableLen) {
            why = "bad quantization table marker";
            return false;
        }
        k += tableLen;
    }
    return true;
}

// One segment of `n` payload bytes at `s`, read as Pillow's marker handlers
// read it. False (with `why`) when Pillow would reject the file.
bool readPillowSegment(int code, const uint8_t* s, size_t n, PillowHeaderWalk& walk,
                       JpegHeader& out, std::string& why) {
    const bool sof =
        (code >= 0xFFC0 && code <= 0xFFCF && code != 0xFFC4 && code != 0xFFCC) || code == 0xFFDE;
    if (sof) return readFrameHeader(s, n, walk, why);
    if (code == 0xFFDB) return checkQuantTables(s, n, why);
    if ((code == 0xFFE0 && n >= 4 && std::memcmp(s, "JFIF", 4) == 0) ||
        (code == 0xFFEE && n >= 5 && std::memcmp(s, "Adobe", 5) == 0)) {
        if (n >= 7) return true;
        why = "short JFIF or Adobe segment";
        return false;
    }
    if (code == 0xFFE2 && n >= 12 && std::memcmp(s, "ICC_PROFILE", 12) == 0) {
        walk.shortIcc = walk.shortIcc || n < 14;
    } else if (code == 0xFFE1 && n >= 5 && std::memcmp(s, "Exif", 5) == 0 && !walk.haveExif) {
        walk.haveExif = true;  // Pillow keeps the first EXIF block
        out.exifOrientation = exifOrientation(s, n);
    }
    return true;
}

bool jpegHeaderLikePillow(const uint8_t* d, size_t size, JpegHeader& out, std::string& why) {
    PillowHeaderWalk walk;
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
            if (!readPillowSegment(code, d + pos, n, walk, out, why)) return false;
            pos += n;
            if (code == 0xFFDA) break;
        }
        // The next byte should be 0xFF; Pillow skips anything else.
        while (pos < size && d[pos] != 0xFF) ++pos;
        ++pos;
    }
    if (!walk.haveFrame || walk.width <= 0 || walk.height <= 0) {
        why = "not identified by this driver";
        return false;
    }
    return true;
}

}  // namespace

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

    Image out = Image::unfilled(w, h, 3);  // every row is read below, or we throw
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

}  // namespace bs::decoding
