// The entry points the libFuzzer targets exercise, shared with the
// regression test (tests/robustness/test_fuzz_regressions.cpp) so that every
// crashing input kept in tests/fuzz/regressions/<target>/ is replayed by
// the normal test suite through exactly the code the fuzzer ran.
//
// Contract checked: any input ends as a value or a bs::Error. Any other
// exception escapes (libFuzzer reports it as a crash; the regression test
// fails), as do crashes, leaks and sanitizer reports.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/dataset/dataset.h"
#include "core/decode/decode.h"
#include "core/dataset/npy.h"
#include "core/pipeline/pipeline.h"

namespace bsfuzz {

// A private scratch folder for the file-based readers (idx, npz, csv read by
// path). Created once per process under $TMPDIR.
inline const std::string& scratchDir() {
    static const std::string dir = [] {
        const char* t = std::getenv("TMPDIR");
        std::string tmpl = std::string(t && *t ? t : "/tmp") + "/bsfuzz-XXXXXX";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        if (!::mkdtemp(buf.data())) std::abort();
        return std::string(buf.data());
    }();
    return dir;
}

inline void writeScratch(const std::string& path, const uint8_t* data, size_t size) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) std::abort();
    size_t done = 0;
    while (done < size) {
        const ssize_t w = ::write(fd, data + done, size - done);
        if (w <= 0) std::abort();
        done += size_t(w);
    }
    ::close(fd);
}

// Touches every sample a reader hands out cheaply: first, last and middle.
inline void touchSamples(const bs::Dataset& ds) {
    const size_t n = ds.size();
    const size_t picks[3] = {0, n / 2, n ? n - 1 : 0};
    for (size_t k = 0; k < 3 && n; ++k) {
        try {
            (void)ds.path(picks[k]);
            (void)ds.label(picks[k]);
            if (ds.hasRaw()) {
                bs::DecodeInfo info;
                bs::Image im = ds.loadRaw(picks[k], &info);
                if (im.pixels.size() != size_t(im.width) * im.height * im.channels) std::abort();
            } else {
                (void)ds.loadTensor(picks[k]);
            }
        } catch (const bs::Error&) {
        }
    }
    (void)ds.issues();
}

// `data` written to `path` (whose name picks the reader), opened with
// openDataset and sampled; the file is removed afterwards.
inline int openScratchDataset(const std::string& path, const uint8_t* data, size_t size) {
    writeScratch(path, data, size);
    try {
        auto ds = bs::openDataset(path);
        touchSamples(*ds);
    } catch (const bs::Error&) {
    }
    ::unlink(path.c_str());
    return 0;
}

// Image bytes through the decoder (format sniffed from the content).
inline int imageDecode(const uint8_t* data, size_t size) {
    try {
        bs::DecodeOptions opt;
        opt.maxPixels = 1 << 22;  // keeps the fuzzer's memory bounded; the limit logic is the same
        bs::DecodeInfo info;
        bs::Image im = bs::decodeImageBuffer(data, size, "fuzz", opt, &info);
        if (im.channels != 3 || im.pixels.size() != size_t(im.width) * im.height * 3) std::abort();
        if (int64_t(im.width) * im.height > opt.maxPixels) std::abort();
    } catch (const bs::Error&) {
    }
    return 0;
}

// .npy from memory, and .npy / .npz through openDataset (shape checks,
// sample slicing). An input starting with "PK" is treated as an .npz.
inline int numpy(const uint8_t* data, size_t size) {
    const bool zip = size >= 2 && data[0] == 'P' && data[1] == 'K';
    if (!zip) {
        try {
            (void)bs::readNpyBuffer(data, size, "fuzz.npy");
        } catch (const bs::Error&) {
        }
    }
    return openScratchDataset(scratchDir() + (zip ? "/fuzz.npz" : "/fuzz.npy"), data, size);
}

// An MNIST images file (raw or gzip, detected by content) through openDataset.
inline int idx(const uint8_t* data, size_t size) {
    return openScratchDataset(scratchDir() + "/fuzz-images-idx3-ubyte", data, size);
}

// A CSV manifest next to one real image (a.png) and one non-image (b.txt),
// so rows can resolve to existing files.
inline int csv(const uint8_t* data, size_t size) {
    const std::string& dir = scratchDir();
    static const bool images = [&] {
        // 1x1 grayscale PNG.
        static const uint8_t png[] = {
            0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
            0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3a,
            0x7e, 0x9b, 0x55, 0x00, 0x00, 0x00, 0x0a, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60,
            0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x48, 0xaf, 0xa4, 0x71, 0x00, 0x00, 0x00, 0x00, 0x49,
            0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
        writeScratch(dir + "/a.png", png, sizeof png);
        writeScratch(dir + "/b.txt", reinterpret_cast<const uint8_t*>("text"), 4);
        return true;
    }();
    (void)images;
    const std::string path = dir + "/fuzz.csv";
    writeScratch(path, data, size);
    try {
        auto ds = bs::openDataset(path);
        // Only decode files inside the scratch folder: a fuzzed absolute path
        // must not make the fuzzer read arbitrary system files.
        for (size_t i = 0; i < ds->size() && i < 4; ++i) {
            (void)ds->label(i);
            if (ds->path(i).rfind(dir + "/", 0) != 0 || ds->path(i).find("..") != std::string::npos) continue;
            try {
                (void)ds->loadRaw(i);
            } catch (const bs::Error&) {
            }
        }
        (void)ds->classes();
        (void)ds->issues();
    } catch (const bs::Error&) {
    }
    ::unlink(path.c_str());
    return 0;
}

// A small RGB image run through a parsed pipeline; pipelines whose output
// would be huge are not run (a legitimate Resize(100000) must be allowed to
// allocate, the fuzzer's memory limit is not the contract).
inline void runSmall(const bs::Pipeline& p) {
    if (p.empty()) return;
    const nlohmann::json j = p.toJson();
    const std::string dumped = j.dump();
    // Skip pipelines with any number above 4096 (sizes, paddings).
    for (size_t i = 0; i < dumped.size();) {
        if (dumped[i] >= '0' && dumped[i] <= '9') {
            size_t k = i;
            double v = 0;
            while (k < dumped.size() && dumped[k] >= '0' && dumped[k] <= '9') v = v * 10 + (dumped[k++] - '0');
            if (v > 4096 || (k < dumped.size() && (dumped[k] == 'e' || dumped[k] == 'E'))) return;
            i = k;
        } else {
            ++i;
        }
    }
    bs::Image im = bs::Image::allocate(7, 5, 3);
    for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = uint8_t(i * 37);
    try {
        auto r = p.run(bs::StageValue::fromImage(im), bs::RandomContext{1, 0, 2}, true);
        (void)r;
    } catch (const bs::Error&) {
    }
}

inline int pipelineJson(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        bs::Pipeline p = bs::Pipeline::parse(text, "/nonexistent-bsfuzz");
        (void)p.repr();
        // The JSON a pipeline writes must parse back.
        bs::Pipeline again = bs::Pipeline::fromJson(p.toJson(), "/nonexistent-bsfuzz");
        if (again.size() != p.size()) std::abort();
        runSmall(p);
    } catch (const bs::Error&) {
    }
    return 0;
}

inline int torchvisionText(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        std::vector<std::string> unknown;
        bs::Pipeline p = bs::Pipeline::fromTorchvisionText(text, "/nonexistent-bsfuzz", &unknown);
        (void)p.repr();
        runSmall(p);
    } catch (const bs::Error&) {
    }
    try {
        (void)bs::Pipeline::fromTorchvisionText(text, "/nonexistent-bsfuzz");
    } catch (const bs::Error&) {
    }
    return 0;
}

}  // namespace bsfuzz
