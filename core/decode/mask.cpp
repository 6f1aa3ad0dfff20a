// Masks: class ids per pixel, read without any colour conversion.
#include "core/decode/decode.h"

#include "core/decode/backends.h"

namespace bs {

Image decodeMaskFile(const std::string& path, const DecodeOptions& options, DecodeInfo* info) {
    DecodeOptions opt = options;
    opt.maskValues = true;
    DecodeInfo local;
    Image im = decodeImageFile(path, opt, &local);
    if (info) *info = local;
    if (im.channels == 1) return im;
    // Non-PNG or non-palette files come back RGB: accept them when gray.
    Image mask = Image::allocate(im.width, im.height, 1);
    const size_t n = size_t(im.width) * im.height;
    for (size_t i = 0; i < n; ++i) {
        const uint8_t* p = im.pixels.data() + i * 3;
        if (p[0] != p[1] || p[1] != p[2])
            decoding::fail(DecodeErrorKind::Unreadable, path,
                           "colour mask (mode " + local.sourceMode +
                               "); expected a palette or grayscale mask of class ids");
        mask.pixels[i] = p[0];
    }
    return mask;
}

}  // namespace bs
