// Image decoding that reproduces torchvision's default loader,
// `PIL.Image.open(path).convert('RGB')` (Pillow 9.4), pixel for pixel.
//
// Per source mode (as Pillow names it) the result is:
//   RGB          as stored (JPEG: libjpeg-turbo ISLOW DCT, fancy upsampling)
//   L            gray replicated to R=G=B
//   P / PA       palette looked up; palette alpha dropped
//   RGBA / LA    alpha dropped, colour kept (no compositing on a background)
//   CMYK         Pillow's conversion R = (255-K) - C*(255-K)/255 (rounded), after
//                inverting Adobe-marked JPEG data, as Pillow 9.4 does
//   1            0 -> 0, 1 -> 255
//   I;16 / I     16/32-bit gray clipped (not scaled) to 0..255, as Pillow does
//   16-bit RGB   high byte of each sample
//   GIF          first frame, on the logical screen as Pillow builds it
// EXIF orientation is read but NOT applied (Pillow does not apply it either).
#pragma once

#include <cstdint>
#include <string>

#include "core/common/types.h"

namespace bs {

// Pillow's Image.MAX_IMAGE_PIXELS: images above twice it raise; above it
// warn. torchvision users hit the warning as an error in strict setups, and
// an inspector must not allocate gigabytes on a lying header, so batchscope
// refuses anything above this count before decoding.
constexpr int64_t kDefaultMaxPixels = 178956970;

// Generous for real photos (a 100-megapixel JPEG decodes in about 1 s on
// one core) and short enough that a pathological file cannot stall a scan.
constexpr double kDefaultDecodeTimeLimit = 10.0;

// Files above this are refused before being read: no image format torchvision
// loads needs more (OpenCV's decoders stop at 2 GiB as well).
constexpr int64_t kMaxImageFileBytes = int64_t(1) << 31;

struct DecodeOptions {
    int64_t maxPixels = kDefaultMaxPixels;
    // Seconds one file may take to decode; 0 for no limit. JPEG and PNG are
    // stopped in place; the other formats (OpenCV cannot be interrupted) are
    // abandoned to finish on a helper thread while the caller goes on.
    double timeLimitSeconds = kDefaultDecodeTimeLimit;
    // Masks (decodeMaskFile): a palette PNG keeps its indices and an 8-bit
    // gray PNG its values, in one channel, as np.array(Image.open(mask)).
    bool maskValues = false;
};

struct DecodeInfo {
    std::string format;      // "JPEG", "PNG", "BMP", "TIFF", "WEBP", "GIF", "PPM"
    std::string sourceMode;  // Pillow's mode name before convert('RGB')
    int sourceWidth = 0;
    int sourceHeight = 0;
    int bitDepth = 8;         // bits per sample in the file
    int exifOrientation = 1;  // 1..8; 1 when absent
};

// TimeLimit: the file was stopped by DecodeOptions::timeLimitSeconds (it is
// reported as unreadable, with the reason in the message).
enum class DecodeErrorKind { Unreadable, Truncated, Oversized, TimeLimit };

class DecodeError : public Error {
public:
    DecodeError(DecodeErrorKind kind, const std::string& message) : Error(message), kind_(kind) {}
    DecodeErrorKind kind() const { return kind_; }

private:
    DecodeErrorKind kind_;
};

// Decodes a file to 8-bit RGB. Throws DecodeError; never crashes on any
// input. The file is opened read-only.
Image decodeImageFile(const std::string& path, const DecodeOptions& options = {},
                      DecodeInfo* info = nullptr);

// Same from memory; `name` only appears in error messages.
Image decodeImageBuffer(const uint8_t* data, size_t size, const std::string& name,
                        const DecodeOptions& options = {}, DecodeInfo* info = nullptr);

// A segmentation mask as one 8-bit channel of class ids: palette PNG
// indices (VOC's SegmentationClass), gray values, or an RGB file whose three
// channels are equal. Throws DecodeError naming the file for colour masks.
Image decodeMaskFile(const std::string& path, const DecodeOptions& options = {},
                     DecodeInfo* info = nullptr);

// torchvision's IMG_EXTENSIONS test, case-insensitive:
// .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp
bool hasImageExtension(const std::string& path);

// Decodes abandoned after their time limit that are still running on a
// helper thread. A process that exits while one runs must leave with
// std::_Exit (after flushing its output), not through static destructors.
int abandonedDecodesRunning();

}  // namespace bs
