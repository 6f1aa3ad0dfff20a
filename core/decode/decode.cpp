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

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/decode/backends.h"

namespace bs {

namespace decoding {

[[noreturn]] void fail(DecodeErrorKind kind, const std::string& name, const std::string& what) {
    throw DecodeError(kind, name + ": " + what);
}

[[noreturn]] void truncated(const std::string& name) {
    fail(DecodeErrorKind::Truncated, name, "image file is truncated");
}

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

}  // namespace decoding

namespace {

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

using namespace decoding;

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
