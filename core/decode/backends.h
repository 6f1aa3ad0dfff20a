// What the decoder back ends (one file per format: jpeg.cpp, png.cpp,
// gif.cpp, tiff.cpp, opencv.cpp) share with each other and with the dispatch
// in decode.cpp. Internal to core/decode.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/decode/decode.h"

namespace bs::decoding {

[[noreturn]] void fail(DecodeErrorKind kind, const std::string& name, const std::string& what);
[[noreturn]] void truncated(const std::string& name);

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

[[noreturn]] void timeLimit(const std::string& name, const Deadline& d);
void checkPixels(const std::string& name, int64_t w, int64_t h, const DecodeOptions& opt);

uint32_t be32(const uint8_t* p);
uint32_t le32(const uint8_t* p);
uint16_t le16(const uint8_t* p);

// EXIF / TIFF orientation: IFD0 tag 0x0112. `tiff` starts at the TIFF header.
int tiffOrientation(const uint8_t* tiff, size_t size);
// APP1 / eXIf / WebP EXIF payloads, with or without the "Exif\0\0" prefix.
int exifOrientation(const uint8_t* p, size_t size);

// The back ends. Each throws DecodeError.
Image decodeJpeg(const uint8_t* data, size_t size, const std::string& name,
                 const DecodeOptions& opt, const Deadline& deadline, DecodeInfo& info);
Image decodePng(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opt,
                const Deadline& deadline, DecodeInfo& info);
Image decodeGif(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& opt,
                const Deadline& deadline, DecodeInfo& info);
// BMP, PPM/PGM, TIFF and WebP; `fmt` as sniffed.
Image decodeWithOpenCv(const uint8_t* data, size_t size, const std::string& name,
                       const std::string& fmt, const DecodeOptions& opt, const Deadline& deadline,
                       DecodeInfo& info);

// TIFF pieces the OpenCV back end reads (tiff.cpp).
bool tiffSize(const uint8_t* t, size_t size, int64_t& w, int64_t& h);
bool tiffTruncated(const uint8_t* t, size_t size);
void validateTiff(const uint8_t* data, size_t size, const std::string& name,
                  const Deadline& deadline);

}  // namespace bs::decoding
