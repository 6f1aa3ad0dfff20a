// Deterministic file mutations for the robustness tests: the same seed gives
// the same bytes on every platform (own generator, no std distributions).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace bsrobust {

using Bytes = std::vector<uint8_t>;

class SplitMix {
public:
    explicit SplitMix(uint64_t seed) : s_(seed) {}
    uint64_t next() {
        uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [lo, hi] (hi >= lo); the modulo bias is irrelevant here.
    size_t range(size_t lo, size_t hi) { return lo + size_t(next() % (hi - lo + 1)); }
    uint8_t byte() { return uint8_t(next()); }

private:
    uint64_t s_;
};

// Length of the magic number that identifies each format.
inline size_t magicLength(const std::string& fmt) {
    if (fmt == "JPEG") return 3;
    if (fmt == "PNG") return 8;
    if (fmt == "BMP") return 2;
    if (fmt == "TIFF") return 4;
    if (fmt == "WEBP") return 12;
    if (fmt == "GIF") return 6;
    return 3;  // PPM / PGM: "P6\n"
}

inline void putBe16(Bytes& b, size_t at, uint32_t v) {
    if (at + 2 > b.size()) return;
    b[at] = uint8_t(v >> 8);
    b[at + 1] = uint8_t(v);
}
inline void putBe32(Bytes& b, size_t at, uint32_t v) {
    if (at + 4 > b.size()) return;
    for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (24 - 8 * i));
}
inline void putLe16(Bytes& b, size_t at, uint32_t v) {
    if (at + 2 > b.size()) return;
    b[at] = uint8_t(v);
    b[at + 1] = uint8_t(v >> 8);
}
inline void putLe32(Bytes& b, size_t at, uint32_t v) {
    if (at + 4 > b.size()) return;
    for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

// Rewrites the stored width/height with (w, h). Returns false when the
// format's size fields were not found (the mutation is then skipped).
inline bool setDimensions(Bytes& b, const std::string& fmt, uint32_t w, uint32_t h) {
    if (fmt == "PNG") {
        if (b.size() < 24) return false;
        putBe32(b, 16, w);
        putBe32(b, 20, h);
        return true;
    }
    if (fmt == "BMP") {
        if (b.size() < 26) return false;
        putLe32(b, 18, w);
        putLe32(b, 22, h);
        return true;
    }
    if (fmt == "GIF") {
        if (b.size() < 10) return false;
        putLe16(b, 6, std::min<uint32_t>(w, 65535));
        putLe16(b, 8, std::min<uint32_t>(h, 65535));
        return true;
    }
    if (fmt == "JPEG") {
        for (size_t i = 2; i + 9 < b.size(); ++i)
            if (b[i] == 0xFF && (b[i + 1] == 0xC0 || b[i + 1] == 0xC1 || b[i + 1] == 0xC2)) {
                putBe16(b, i + 5, std::min<uint32_t>(h, 65535));
                putBe16(b, i + 7, std::min<uint32_t>(w, 65535));
                return true;
            }
        return false;
    }
    if (fmt == "WEBP") {
        if (b.size() < 30) return false;
        if (std::memcmp(b.data() + 12, "VP8X", 4) == 0) {
            const uint32_t W = std::min<uint32_t>(w, 1u << 24) - 1, H = std::min<uint32_t>(h, 1u << 24) - 1;
            b[24] = uint8_t(W), b[25] = uint8_t(W >> 8), b[26] = uint8_t(W >> 16);
            b[27] = uint8_t(H), b[28] = uint8_t(H >> 8), b[29] = uint8_t(H >> 16);
            return true;
        }
        if (std::memcmp(b.data() + 12, "VP8 ", 4) == 0) {
            putLe16(b, 26, std::min<uint32_t>(w, 16383));
            putLe16(b, 28, std::min<uint32_t>(h, 16383));
            return true;
        }
        if (std::memcmp(b.data() + 12, "VP8L", 4) == 0) {
            const uint32_t W = std::min<uint32_t>(w, 16384) - 1, H = std::min<uint32_t>(h, 16384) - 1;
            uint32_t bits = uint32_t(b[21]) | uint32_t(b[22]) << 8 | uint32_t(b[23]) << 16 | uint32_t(b[24]) << 24;
            bits = (bits & 0xF0000000u) | W | (H << 14);
            putLe32(b, 21, bits);
            return true;
        }
        return false;
    }
    if (fmt == "TIFF") {
        if (b.size() < 8) return false;
        const bool le = b[0] == 'I';
        auto u16 = [&](size_t o) { return le ? uint32_t(b[o] | b[o + 1] << 8) : uint32_t(b[o] << 8 | b[o + 1]); };
        auto u32 = [&](size_t o) {
            return le ? uint32_t(b[o]) | uint32_t(b[o + 1]) << 8 | uint32_t(b[o + 2]) << 16 | uint32_t(b[o + 3]) << 24
                      : uint32_t(b[o]) << 24 | uint32_t(b[o + 1]) << 16 | uint32_t(b[o + 2]) << 8 | b[o + 3];
        };
        const size_t ifd = u32(4);
        if (ifd + 2 > b.size()) return false;
        const uint32_t n = u16(ifd);
        bool found = false;
        for (uint32_t i = 0; i < n; ++i) {
            const size_t e = ifd + 2 + size_t(i) * 12;
            if (e + 12 > b.size()) break;
            const uint32_t tag = u16(e), type = u16(e + 2);
            if (tag != 256 && tag != 257) continue;
            const uint32_t v = tag == 256 ? w : h;
            if (type == 3) {
                const uint32_t s = std::min<uint32_t>(v, 65535);
                le ? putLe16(b, e + 8, s) : putBe16(b, e + 8, s);
            } else {
                le ? putLe32(b, e + 8, v) : putBe32(b, e + 8, v);
            }
            found = true;
        }
        return found;
    }
    if (fmt == "PPM") {
        // "P6\n<w> <h>\n255\n" as Pillow writes it: rebuild the header.
        size_t pos = 3, lines = 0;
        while (pos < b.size() && lines < 2) {
            if (b[pos] == '\n') ++lines;
            ++pos;
        }
        if (lines < 2) return false;
        const std::string head = std::string(reinterpret_cast<const char*>(b.data()), 3) + std::to_string(w) + " " +
                                 std::to_string(h) + "\n255\n";
        Bytes out(head.begin(), head.end());
        out.insert(out.end(), b.begin() + long(pos), b.end());
        b = std::move(out);
        return true;
    }
    return false;
}

// Width and height the file claims (for "lying dimension" mutations that
// double the size: the data then no longer suffices).
struct Mutant {
    std::string name;  // short description used in the file name
    Bytes bytes;
};

// Mutations of one valid file: truncations, byte flips, header damage,
// garbage after the magic number, lying dimensions, trailing garbage.
inline std::vector<Mutant> mutate(const Bytes& src, const std::string& fmt, int srcW, int srcH, SplitMix& rng) {
    std::vector<Mutant> out;
    const size_t n = src.size();
    for (int k = 0; k < 4; ++k) {
        const size_t cut = rng.range(1, n - 1);
        out.push_back({"trunc" + std::to_string(cut), Bytes(src.begin(), src.begin() + long(cut))});
    }
    {
        const size_t cut = rng.range(1, std::min<size_t>(n - 1, 48));
        out.push_back({"trunchead" + std::to_string(cut), Bytes(src.begin(), src.begin() + long(cut))});
    }
    for (int flips : {1, 4, 32}) {
        Bytes b = src;
        for (int f = 0; f < flips; ++f) b[rng.range(0, n - 1)] ^= uint8_t(1 + rng.range(0, 254));
        out.push_back({"flip" + std::to_string(flips), std::move(b)});
    }
    {
        Bytes b = src;
        const size_t m = magicLength(fmt);
        for (int f = 0; f < 6; ++f) b[rng.range(m, std::min<size_t>(n - 1, 64))] = rng.byte();
        out.push_back({"header", std::move(b)});
        Bytes z = src;
        const size_t at = rng.range(m, std::min<size_t>(n - 1, 40));
        std::fill(z.begin() + long(at), z.begin() + long(std::min(n, at + 8)), uint8_t(0xFF));
        out.push_back({"headerff", std::move(z)});
    }
    for (size_t len : {size_t(16), n}) {
        const size_t m = magicLength(fmt);
        Bytes b(src.begin(), src.begin() + long(m));
        for (size_t i = 0; i < len; ++i) b.push_back(rng.byte());
        out.push_back({"garbage" + std::to_string(len), std::move(b)});
    }
    {
        Bytes b = src;
        if (setDimensions(b, fmt, 50000, 50000)) out.push_back({"huge", std::move(b)});
        Bytes c = src;
        if (setDimensions(c, fmt, uint32_t(srcW) * 2, uint32_t(srcH) * 3)) out.push_back({"bigger", std::move(c)});
        Bytes z = src;
        if (setDimensions(z, fmt, 0, uint32_t(srcH))) out.push_back({"zerowidth", std::move(z)});
    }
    {
        Bytes b = src;
        for (int i = 0; i < 100; ++i) b.push_back(rng.byte());
        out.push_back({"trailing", std::move(b)});
    }
    return out;
}

}  // namespace bsrobust
