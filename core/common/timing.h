// Optional per-stage time accounting for `batchscope bench`: where a loader
// spends its time (decode, each transform, collate), summed over all worker
// threads. Off unless a StageTimer is attached, so normal runs pay nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace bs {

class StageTimer {
public:
    // Slots: 0 = decode, 1..transforms = each transform, last = collate.
    explicit StageTimer(size_t transforms)
        : n_(transforms + 2), ns_(new std::atomic<uint64_t>[transforms + 2]) {
        for (size_t i = 0; i < n_; ++i) ns_[i] = 0;
    }
    size_t transforms() const { return n_ - 2; }
    void addDecode(double s) { add(0, s); }
    void addStage(size_t i, double s) { add(1 + std::min(i, n_ - 3), s); }
    void addCollate(double s) { add(n_ - 1, s); }
    // Seconds per slot in the order above.
    std::vector<double> seconds() const {
        std::vector<double> out(n_);
        for (size_t i = 0; i < n_; ++i) out[i] = double(ns_[i].load()) * 1e-9;
        return out;
    }

private:
    void add(size_t slot, double s) {
        ns_[slot].fetch_add(uint64_t(s * 1e9), std::memory_order_relaxed);
    }
    size_t n_;
    std::unique_ptr<std::atomic<uint64_t>[]> ns_;
};

inline double secondsBetween(std::chrono::steady_clock::time_point a,
                             std::chrono::steady_clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

}  // namespace bs
