// Pillow-compatible resampling, written from Pillow's documented behaviour
// (separable convolution, support scaled by the downscale factor, 22-bit
// fixed-point coefficients for 8-bit images) and checked against Pillow 9.4
// by tests/test_parity.cpp.
#include "core/pipeline/resample.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BS_RESAMPLE_X86 1
#endif

namespace bs {

namespace {

// 32 bits minus 8 bits of sample minus 2 bits of headroom for sums of
// negative and positive lobes: what Pillow uses for 8-bit images.
constexpr int kPrecisionBits = 32 - 8 - 2;

double bilinearFilter(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

double bicubicFilter(double x) {
    // Pillow's bicubic uses a = -0.5 (torch's tensor bicubic uses -0.75).
    constexpr double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

double boxFilter(double x) {
    if (x > -0.5 && x <= 0.5) return 1.0;
    return 0.0;
}

double hammingFilter(double x) {
    if (x < 0.0) x = -x;
    if (x == 0.0) return 1.0;
    if (x >= 1.0) return 0.0;
    x = x * M_PI;
    // Pillow writes the window constants as float literals; their float
    // rounding is visible in the 8-bit output.
    return std::sin(x) / x * (double(0.54f) + double(0.46f) * std::cos(x));
}

double sinc(double x) {
    if (x == 0.0) return 1.0;
    x = x * M_PI;
    return std::sin(x) / x;
}

double lanczosFilter(double x) {
    if (-3.0 <= x && x < 3.0) return sinc(x) * sinc(x / 3);
    return 0.0;
}

struct FilterDef {
    double (*fn)(double);
    double support;
};

FilterDef filterDef(ResampleFilter f) {
    switch (f) {
        case ResampleFilter::Bilinear:
            return {bilinearFilter, 1.0};
        case ResampleFilter::Bicubic:
            return {bicubicFilter, 2.0};
        case ResampleFilter::Box:
            return {boxFilter, 0.5};
        case ResampleFilter::Hamming:
            return {hammingFilter, 1.0};
        case ResampleFilter::Lanczos:
            return {lanczosFilter, 3.0};
        case ResampleFilter::Nearest:
            break;
    }
    return {bilinearFilter, 1.0};
}

// Per output pixel: first input index, number of taps, and `ksize` fixed-point
// coefficients (only the first `count` are meaningful).
struct Coeffs {
    int ksize = 0;
    std::vector<int> first;
    std::vector<int> count;
    std::vector<int32_t> k;
};

Coeffs computeCoeffs(int inSize, int outSize, const FilterDef& fd) {
    const double scale = double(inSize) / outSize;
    const double filterscale = std::max(scale, 1.0);
    const double support = fd.support * filterscale;
    const double ss = 1.0 / filterscale;
    Coeffs c;
    c.ksize = int(std::ceil(support)) * 2 + 1;
    c.first.resize(outSize);
    c.count.resize(outSize);
    c.k.assign(size_t(outSize) * c.ksize, 0);
    std::vector<double> w(c.ksize);
    for (int xx = 0; xx < outSize; ++xx) {
        const double center = (xx + 0.5) * scale;
        int xmin = int(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = int(center + support + 0.5);
        if (xmax > inSize) xmax = inSize;
        xmax -= xmin;
        xmax = std::min(xmax, c.ksize);
        double ww = 0.0;
        for (int x = 0; x < xmax; ++x) {
            w[x] = fd.fn((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t* kk = &c.k[size_t(xx) * c.ksize];
        for (int x = 0; x < xmax; ++x) {
            const double v = ww != 0.0 ? w[x] / ww : w[x];
            // Round half away from zero, as a truncating cast of +-0.5.
            kk[x] = v < 0 ? int32_t(-0.5 + v * (1 << kPrecisionBits))
                          : int32_t(0.5 + v * (1 << kPrecisionBits));
        }
        c.first[xx] = xmin;
        c.count[xx] = std::max(xmax, 0);
    }
    return c;
}

inline uint8_t clip8(int32_t v) {
    v >>= kPrecisionBits;  // arithmetic shift: floor, as Pillow's lookup does
    return uint8_t(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Horizontal pass over input rows [rowBegin, rowEnd) producing output columns
// [x0, x0 + cols); `dst` holds (rowEnd - rowBegin) rows of `cols` pixels.
template <int C>
void horizontalPass(const Image& src, int rowBegin, int rowEnd, const Coeffs& cx, int x0, int cols,
                    uint8_t* dst) {
    constexpr int32_t half = 1 << (kPrecisionBits - 1);
    for (int y = rowBegin; y < rowEnd; ++y) {
        const uint8_t* in = src.row(y);
        uint8_t* out = dst + size_t(y - rowBegin) * cols * C;
        for (int xx = 0; xx < cols; ++xx) {
            const int ox = x0 + xx;
            const int32_t* k = &cx.k[size_t(ox) * cx.ksize];
            const uint8_t* p = in + size_t(cx.first[ox]) * C;
            const int n = cx.count[ox];
            if (C == 1) {
                int32_t s = half;
                for (int j = 0; j < n; ++j) s += int32_t(p[j]) * k[j];
                out[xx] = clip8(s);
            } else {
                int32_t s0 = half, s1 = half, s2 = half;
                for (int j = 0; j < n; ++j) {
                    const int32_t kj = k[j];
                    s0 += int32_t(p[j * 3 + 0]) * kj;
                    s1 += int32_t(p[j * 3 + 1]) * kj;
                    s2 += int32_t(p[j * 3 + 2]) * kj;
                }
                out[xx * 3 + 0] = clip8(s0);
                out[xx * 3 + 1] = clip8(s1);
                out[xx * 3 + 2] = clip8(s2);
            }
        }
    }
}

#ifdef BS_RESAMPLE_X86
// R, G, B and one byte of the next pixel (lane 3, multiplied but ignored).
__attribute__((target("sse4.1"))) inline __m128i load3(const uint8_t* q) {
    int32_t v;
    std::memcpy(&v, q, 4);
    return _mm_cvtepu8_epi32(_mm_cvtsi32_si128(v));
}

// One RGB output pixel of the horizontal pass with the three channel sums in
// one SSE4.1 register (R, G, B, unused lane). Same exact int32 arithmetic
// as horizontalPass<3>, so bit-identical. `end` bounds the 4-byte loads.
__attribute__((target("sse4.1"))) inline void pixel3Sse41(const uint8_t* p, const int32_t* k, int n,
                                                          const uint8_t* end, uint8_t* out) {
    constexpr int32_t half = 1 << (kPrecisionBits - 1);
    const int fast = p + size_t(n) * 3 + 1 <= end ? n : n - 1;
    __m128i acc0 = _mm_set1_epi32(half), acc1 = _mm_setzero_si128();
    int j = 0;
    for (; j + 1 < fast; j += 2) {
        acc0 = _mm_add_epi32(acc0, _mm_mullo_epi32(load3(p + j * 3), _mm_set1_epi32(k[j])));
        acc1 = _mm_add_epi32(acc1, _mm_mullo_epi32(load3(p + j * 3 + 3), _mm_set1_epi32(k[j + 1])));
    }
    for (; j < fast; ++j)
        acc0 = _mm_add_epi32(acc0, _mm_mullo_epi32(load3(p + j * 3), _mm_set1_epi32(k[j])));
    for (; j < n; ++j) {
        const __m128i v = _mm_setr_epi32(p[j * 3], p[j * 3 + 1], p[j * 3 + 2], 0);
        acc0 = _mm_add_epi32(acc0, _mm_mullo_epi32(v, _mm_set1_epi32(k[j])));
    }
    // clip8: arithmetic shift, then saturating packs clamp to 0..255.
    __m128i v = _mm_srai_epi32(_mm_add_epi32(acc0, acc1), kPrecisionBits);
    v = _mm_packs_epi32(v, v);
    v = _mm_packus_epi16(v, v);
    const uint32_t rgb = uint32_t(_mm_cvtsi128_si32(v));
    out[0] = uint8_t(rgb);
    out[1] = uint8_t(rgb >> 8);
    out[2] = uint8_t(rgb >> 16);
}

__attribute__((target("sse4.1"))) void horizontalPass3Sse41(const Image& src, int rowBegin,
                                                            int rowEnd, const Coeffs& cx, int x0,
                                                            int cols, uint8_t* dst) {
    const uint8_t* end = src.pixels.data() + src.pixels.size();
    for (int y = rowBegin; y < rowEnd; ++y) {
        const uint8_t* in = src.row(y);
        uint8_t* out = dst + size_t(y - rowBegin) * cols * 3;
        for (int xx = 0; xx < cols; ++xx) {
            const int ox = x0 + xx;
            pixel3Sse41(in + size_t(cx.first[ox]) * 3, &cx.k[size_t(ox) * cx.ksize], cx.count[ox],
                        end, out + xx * 3);
        }
    }
}

// The same with AVX2, two output pixels per register (8 lanes). Each pair
// runs the longer of its two tap counts with zero coefficients past a
// pixel's own count (adding 0 * sample changes no sum). This pass is
// Resize's hot loop.
__attribute__((target("avx2"))) void horizontalPass3Avx2(const Image& src, int rowBegin, int rowEnd,
                                                         const Coeffs& cx, int x0, int cols,
                                                         uint8_t* dst) {
    constexpr int32_t half = 1 << (kPrecisionBits - 1);
    const int pairs = cols / 2;
    int taps = 0;
    for (int xx = 0; xx < pairs * 2; ++xx) taps = std::max(taps, cx.count[x0 + xx]);
    // Coefficients per pair and tap, 4 lanes for each pixel; built once per
    // image, not per row.
    std::vector<int32_t> kk(size_t(pairs) * taps * 8, 0);
    for (int q = 0; q < pairs; ++q)
        for (int h = 0; h < 2; ++h) {
            const int ox = x0 + 2 * q + h;
            for (int j = 0; j < cx.count[ox]; ++j)
                for (int l = 0; l < 4; ++l)
                    kk[(size_t(q) * taps + j) * 8 + h * 4 + l] = cx.k[size_t(ox) * cx.ksize + j];
        }
    const uint8_t* end = src.pixels.data() + src.pixels.size();
    for (int y = rowBegin; y < rowEnd; ++y) {
        const uint8_t* in = src.row(y);
        uint8_t* out = dst + size_t(y - rowBegin) * cols * 3;
        for (int q = 0; q < pairs; ++q) {
            const int ox = x0 + 2 * q;
            const uint8_t* p0 = in + size_t(cx.first[ox]) * 3;
            const uint8_t* p1 = in + size_t(cx.first[ox + 1]) * 3;
            if (p0 + size_t(taps) * 3 + 1 > end || p1 + size_t(taps) * 3 + 1 > end) {
                // Near the end of the buffer: exact per-pixel taps only.
                for (int h = 0; h < 2; ++h)
                    pixel3Sse41(h ? p1 : p0, &cx.k[size_t(ox + h) * cx.ksize], cx.count[ox + h],
                                end, out + (2 * q + h) * 3);
                continue;
            }
            const int32_t* k = &kk[size_t(q) * taps * 8];
            __m256i acc = _mm256_set1_epi32(half);
            for (int j = 0; j < taps; ++j) {
                int32_t a, b;
                std::memcpy(&a, p0 + j * 3, 4);
                std::memcpy(&b, p1 + j * 3, 4);
                const __m128i v = _mm_insert_epi32(_mm_cvtsi32_si128(a), b, 1);
                const __m256i kv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + j * 8));
                acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(v), kv));
            }
            acc = _mm256_srai_epi32(acc, kPrecisionBits);
            __m128i w =
                _mm_packs_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            w = _mm_packus_epi16(w, w);  // R0 G0 B0 - R1 G1 B1 -
            const uint64_t px = uint64_t(_mm_cvtsi128_si64(w));
            uint8_t* o = out + q * 6;
            o[0] = uint8_t(px);
            o[1] = uint8_t(px >> 8);
            o[2] = uint8_t(px >> 16);
            o[3] = uint8_t(px >> 32);
            o[4] = uint8_t(px >> 40);
            o[5] = uint8_t(px >> 48);
        }
        if (cols & 1) {
            const int ox = x0 + cols - 1;
            pixel3Sse41(in + size_t(cx.first[ox]) * 3, &cx.k[size_t(ox) * cx.ksize], cx.count[ox],
                        end, out + (cols - 1) * 3);
        }
    }
}

// Vertical pass with AVX2: 16 output bytes at a time, their sums kept in
// registers across the taps. Same exact int32 sums as verticalPass.
__attribute__((target("avx2"))) void verticalPassAvx2(const uint8_t* src, size_t srcStride,
                                                      size_t srcColOffset, int rowOffset,
                                                      const Coeffs& cy, int y0, int rows,
                                                      size_t rowLen, uint8_t* dst) {
    constexpr int32_t half = 1 << (kPrecisionBits - 1);
    for (int yy = 0; yy < rows; ++yy) {
        const int oy = y0 + yy;
        const int32_t* k = &cy.k[size_t(oy) * cy.ksize];
        const int first = cy.first[oy] - rowOffset;
        const int n = cy.count[oy];
        const uint8_t* base = src + size_t(first) * srcStride + srcColOffset;
        uint8_t* out = dst + size_t(yy) * rowLen;
        size_t i = 0;
        for (; i + 16 <= rowLen; i += 16) {
            __m256i a0 = _mm256_set1_epi32(half), a1 = a0;
            for (int j = 0; j < n; ++j) {
                const __m128i v = _mm_loadu_si128(
                    reinterpret_cast<const __m128i*>(base + size_t(j) * srcStride + i));
                const __m256i kv = _mm256_set1_epi32(k[j]);
                a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(v), kv));
                a1 = _mm256_add_epi32(
                    a1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)), kv));
            }
            a0 = _mm256_srai_epi32(a0, kPrecisionBits);
            a1 = _mm256_srai_epi32(a1, kPrecisionBits);
            // packs works within 128-bit lanes: put the quarters back in order.
            const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(a0, a1), 0xD8);
            const __m128i b =
                _mm_packus_epi16(_mm256_castsi256_si128(w), _mm256_extracti128_si256(w, 1));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), b);
        }
        for (; i < rowLen; ++i) {
            int32_t a = half;
            for (int j = 0; j < n; ++j) a += int32_t(base[size_t(j) * srcStride + i]) * k[j];
            out[i] = clip8(a);
        }
    }
}
#endif

void horizontalPass3(const Image& src, int rowBegin, int rowEnd, const Coeffs& cx, int x0, int cols,
                     uint8_t* dst) {
#ifdef BS_RESAMPLE_X86
    static const bool avx2 = __builtin_cpu_supports("avx2");
    static const bool sse41 = __builtin_cpu_supports("sse4.1");
    if (avx2) return horizontalPass3Avx2(src, rowBegin, rowEnd, cx, x0, cols, dst);
    if (sse41) return horizontalPass3Sse41(src, rowBegin, rowEnd, cx, x0, cols, dst);
#endif
    horizontalPass<3>(src, rowBegin, rowEnd, cx, x0, cols, dst);
}

// Vertical pass: `src` rows of `rowLen` bytes, where row r is input row
// r + rowOffset; writes output rows [y0, y0 + rows).
void verticalPass(const uint8_t* src, size_t srcStride, size_t srcColOffset, int rowOffset,
                  const Coeffs& cy, int y0, int rows, size_t rowLen, uint8_t* dst) {
#ifdef BS_RESAMPLE_X86
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2)
        return verticalPassAvx2(src, srcStride, srcColOffset, rowOffset, cy, y0, rows, rowLen, dst);
#endif
    constexpr int32_t half = 1 << (kPrecisionBits - 1);
    std::vector<int32_t> acc(rowLen);
    for (int yy = 0; yy < rows; ++yy) {
        const int oy = y0 + yy;
        const int32_t* k = &cy.k[size_t(oy) * cy.ksize];
        const int first = cy.first[oy] - rowOffset;
        const int n = cy.count[oy];
        int32_t* a = acc.data();
        std::fill(acc.begin(), acc.end(), half);
        // Row-at-a-time accumulation keeps the inner loop contiguous so the
        // compiler vectorises it.
        for (int j = 0; j < n; ++j) {
            const uint8_t* in = src + size_t(first + j) * srcStride + srcColOffset;
            const int32_t kj = k[j];
            for (size_t i = 0; i < rowLen; ++i) a[i] += int32_t(in[i]) * kj;
        }
        uint8_t* out = dst + size_t(yy) * rowLen;
        for (size_t i = 0; i < rowLen; ++i) out[i] = clip8(a[i]);
    }
}

// Pillow's NEAREST resize is an affine nearest-neighbour transform: source
// coordinate of output pixel x is floor(x0 + (x + 0.5) * scale), the
// position accumulated by repeated addition as Pillow does.
std::vector<int> nearestTable(int inSize, int outSize) {
    std::vector<int> t(outSize);
    const double a = double(inSize) / outSize;
    double xo = a * 0.5;
    for (int x = 0; x < outSize; ++x) {
        int xin = xo < 0.0 ? -1 : int(xo);
        t[x] = std::clamp(xin, 0, inSize - 1);
        xo += a;
    }
    return t;
}

void checkImage(const Image& src, int width, int height) {
    if (src.channels != 1 && src.channels != 3)
        throw Error("resize: image must have 1 or 3 channels, got " + std::to_string(src.channels));
    if (src.width <= 0 || src.height <= 0 ||
        src.pixels.size() != size_t(src.width) * src.height * src.channels)
        throw Error("resize: empty or inconsistent input image");
    if (width <= 0 || height <= 0)
        throw Error("resize: output size must be positive, got " + std::to_string(width) + "x" +
                    std::to_string(height));
}

}  // namespace

ResampleFilter parseResampleFilter(const std::string& name) {
    std::string s;
    for (char ch : name) s += char(std::tolower(static_cast<unsigned char>(ch)));
    const std::string prefix = "interpolationmode.";
    if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
    if (s == "nearest") return ResampleFilter::Nearest;
    if (s == "bilinear" || s == "linear") return ResampleFilter::Bilinear;
    if (s == "bicubic" || s == "cubic") return ResampleFilter::Bicubic;
    if (s == "box") return ResampleFilter::Box;
    if (s == "hamming") return ResampleFilter::Hamming;
    if (s == "lanczos") return ResampleFilter::Lanczos;
    throw Error("unknown interpolation '" + name +
                "' (expected nearest, bilinear, bicubic, box, hamming or lanczos)");
}

std::string resampleFilterName(ResampleFilter f) {
    switch (f) {
        case ResampleFilter::Nearest:
            return "nearest";
        case ResampleFilter::Bilinear:
            return "bilinear";
        case ResampleFilter::Bicubic:
            return "bicubic";
        case ResampleFilter::Box:
            return "box";
        case ResampleFilter::Hamming:
            return "hamming";
        case ResampleFilter::Lanczos:
            return "lanczos";
    }
    return "bilinear";
}

Image resizeImage(const Image& src, int width, int height, ResampleFilter filter) {
    return resizeImageRegion(src, width, height, filter, 0, 0, width, height);
}

Image resizeImageRegion(const Image& src, int width, int height, ResampleFilter filter, int x0,
                        int y0, int cols, int rows) {
    checkImage(src, width, height);
    if (x0 < 0 || y0 < 0 || cols <= 0 || rows <= 0 || x0 + cols > width || y0 + rows > height)
        throw Error("resize: region " + std::to_string(cols) + "x" + std::to_string(rows) + "+" +
                    std::to_string(x0) + "+" + std::to_string(y0) + " outside the " +
                    std::to_string(width) + "x" + std::to_string(height) + " output");
    const int C = src.channels;
    Image out = Image::unfilled(cols, rows, C);  // each branch below writes every pixel

    if (width == src.width && height == src.height) {  // Pillow returns a copy
        for (int y = 0; y < rows; ++y)
            std::memcpy(out.row(y), src.row(y0 + y) + size_t(x0) * C, size_t(cols) * C);
        return out;
    }

    if (filter == ResampleFilter::Nearest) {
        const std::vector<int> tx = nearestTable(src.width, width);
        const std::vector<int> ty = nearestTable(src.height, height);
        for (int y = 0; y < rows; ++y) {
            const uint8_t* in = src.row(ty[y0 + y]);
            uint8_t* o = out.row(y);
            if (C == 1) {
                for (int x = 0; x < cols; ++x) o[x] = in[tx[x0 + x]];
            } else {
                for (int x = 0; x < cols; ++x) {
                    const uint8_t* p = in + size_t(tx[x0 + x]) * 3;
                    o[x * 3] = p[0];
                    o[x * 3 + 1] = p[1];
                    o[x * 3 + 2] = p[2];
                }
            }
        }
        return out;
    }

    const FilterDef fd = filterDef(filter);
    const bool needH = width != src.width;
    const bool needV = height != src.height;

    if (needH) {
        // Input rows the vertical pass will read for the requested output rows.
        int rowBegin = y0, rowEnd = y0 + rows;
        Coeffs cy;
        if (needV) {
            cy = computeCoeffs(src.height, height, fd);
            rowBegin = cy.first[y0];
            rowEnd = cy.first[y0 + rows - 1] + cy.count[y0 + rows - 1];
            for (int y = y0; y < y0 + rows; ++y) {
                rowBegin = std::min(rowBegin, cy.first[y]);
                rowEnd = std::max(rowEnd, cy.first[y] + cy.count[y]);
            }
        }
        const Coeffs cx = computeCoeffs(src.width, width, fd);
        if (!needV) {
            if (C == 1)
                horizontalPass<1>(src, rowBegin, rowEnd, cx, x0, cols, out.pixels.data());
            else
                horizontalPass3(src, rowBegin, rowEnd, cx, x0, cols, out.pixels.data());
            return out;
        }
        PixelBytes tmp(size_t(rowEnd - rowBegin) * cols * C);  // written by the pass
        if (C == 1)
            horizontalPass<1>(src, rowBegin, rowEnd, cx, x0, cols, tmp.data());
        else
            horizontalPass3(src, rowBegin, rowEnd, cx, x0, cols, tmp.data());
        verticalPass(tmp.data(), size_t(cols) * C, 0, rowBegin, cy, y0, rows, size_t(cols) * C,
                     out.pixels.data());
        return out;
    }
    // Width unchanged: Pillow skips the horizontal pass and filters the
    // input columns directly.
    const Coeffs cy = computeCoeffs(src.height, height, fd);
    verticalPass(src.pixels.data(), size_t(src.width) * C, size_t(x0) * C, 0, cy, y0, rows,
                 size_t(cols) * C, out.pixels.data());
    return out;
}

// ---------------------------------------------------------------------------
// Tensor resize: torch.nn.functional.interpolate (align_corners=False, no
// antialias) on the last two dimensions, in float arithmetic like ATen's CPU
// kernels.

namespace {

struct Taps {
    int n = 0;
    std::vector<int64_t> idx;  // out * n
    std::vector<float> w;      // out * n
};

Taps linearTaps(int64_t in, int64_t out) {
    Taps t;
    t.n = 2;
    t.idx.resize(size_t(out) * 2);
    t.w.resize(size_t(out) * 2);
    const float scale = float(in) / float(out);
    for (int64_t i = 0; i < out; ++i) {
        float real = scale * (float(i) + 0.5f) - 0.5f;
        if (real < 0.f) real = 0.f;
        int64_t i0 = std::min(int64_t(std::floor(real)), in - 1);
        float lambda = std::min(std::max(real - float(i0), 0.f), 1.f);
        const int64_t i1 = i0 < in - 1 ? i0 + 1 : i0;
        t.idx[i * 2] = i0;
        t.idx[i * 2 + 1] = i1;
        t.w[i * 2] = 1.f - lambda;
        t.w[i * 2 + 1] = lambda;
    }
    return t;
}

Taps cubicTaps(int64_t in, int64_t out) {
    constexpr float A = -0.75f;
    auto cc1 = [](float x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };
    auto cc2 = [](float x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };
    Taps t;
    t.n = 4;
    t.idx.resize(size_t(out) * 4);
    t.w.resize(size_t(out) * 4);
    const float scale = float(in) / float(out);
    for (int64_t i = 0; i < out; ++i) {
        const float real = scale * (float(i) + 0.5f) - 0.5f;
        const int64_t i0 = int64_t(std::floor(real));
        const float x = real - float(i0);
        const float w[4] = {cc2(x + 1.f), cc1(x), cc1(1.f - x), cc2(2.f - x)};
        for (int j = 0; j < 4; ++j) {
            t.idx[i * 4 + j] = std::max<int64_t>(std::min<int64_t>(i0 - 1 + j, in - 1), 0);
            t.w[i * 4 + j] = w[j];
        }
    }
    return t;
}

Taps nearestTaps(int64_t in, int64_t out) {
    Taps t;
    t.n = 1;
    t.idx.resize(size_t(out));
    t.w.assign(size_t(out), 1.f);
    const float scale = float(in) / float(out);
    for (int64_t i = 0; i < out; ++i) {
        if (out == in)
            t.idx[i] = i;
        else if (out == 2 * in)
            t.idx[i] = i >> 1;
        else
            t.idx[i] = std::min(int64_t(std::floor(float(i) * scale)), in - 1);
    }
    return t;
}

Taps tensorTaps(ResampleFilter f, int64_t in, int64_t out) {
    switch (f) {
        case ResampleFilter::Nearest:
            return nearestTaps(in, out);
        case ResampleFilter::Bilinear:
            return linearTaps(in, out);
        case ResampleFilter::Bicubic:
            return cubicTaps(in, out);
        default:
            break;
    }
    throw Error("resize of a tensor supports nearest, bilinear and bicubic only, not " +
                resampleFilterName(f));
}

}  // namespace

Tensor resizeTensor(const Tensor& src, int width, int height, ResampleFilter filter) {
    if (src.shape.size() < 2)
        throw Error("resize: tensor must have at least 2 dimensions, got " +
                    shapeToString(src.shape));
    if (width <= 0 || height <= 0)
        throw Error("resize: output size must be positive, got " + std::to_string(width) + "x" +
                    std::to_string(height));
    const int64_t H = src.shape[src.shape.size() - 2];
    const int64_t W = src.shape.back();
    if (H <= 0 || W <= 0 || int64_t(src.values.size()) != src.numel())
        throw Error("resize: empty or inconsistent tensor " + shapeToString(src.shape));
    const int64_t planes = src.numel() / (H * W);
    const Taps tx = tensorTaps(filter, W, width);
    const Taps ty = tensorTaps(filter, H, height);

    Tensor out;
    out.shape = src.shape;
    out.shape[out.shape.size() - 2] = height;
    out.shape.back() = width;
    out.dtype = src.dtype;
    out.values.resize(size_t(planes * height * width));
    for (int64_t p = 0; p < planes; ++p) {
        const float* in = src.values.data() + p * H * W;
        float* o = out.values.data() + p * int64_t(height) * width;
        for (int y = 0; y < height; ++y) {
            for (int x = 0; x < width; ++x) {
                // Height outermost, as ATen nests its separable interpolation.
                float acc = 0.f;
                for (int j = 0; j < ty.n; ++j) {
                    const float* r = in + ty.idx[size_t(y) * ty.n + j] * W;
                    float t = 0.f;
                    for (int i = 0; i < tx.n; ++i) {
                        const float v =
                            r[tx.idx[size_t(x) * tx.n + i]] * tx.w[size_t(x) * tx.n + i];
                        t = i == 0 ? v : t + v;
                    }
                    const float v = t * ty.w[size_t(y) * ty.n + j];
                    acc = j == 0 ? v : acc + v;
                }
                o[size_t(y) * width + x] = acc;
            }
        }
    }
    if (src.dtype == DType::UInt8) {
        // torchvision interpolates uint8 tensors in float, clamps bicubic
        // overshoot, then rounds half to even before casting back.
        for (float& v : out.values) {
            if (filter == ResampleFilter::Bicubic) v = std::min(std::max(v, 0.f), 255.f);
            v = std::nearbyint(v);
            v = std::min(std::max(v, 0.f), 255.f);
        }
    }
    return out;
}

}  // namespace bs
