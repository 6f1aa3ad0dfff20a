#include "core/common/allocator.h"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>

#include <mutex>

namespace bs {

namespace {

constexpr uintptr_t kHugePage = 2u << 20;

// Asks for transparent huge pages on the whole 2 MiB pages of [p, p + bytes).
// Advice is only a hint; a failure changes nothing.
void adviseHugePages(void* p, size_t bytes) {
#ifdef MADV_HUGEPAGE
    const uintptr_t begin = reinterpret_cast<uintptr_t>(p);
    const uintptr_t first = (begin + kHugePage - 1) & ~(kHugePage - 1);
    const uintptr_t last = (begin + bytes) & ~(kHugePage - 1);
    if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

}  // namespace

// With glibc's defaults, blocks of a few hundred KiB and up are mmap'ed and
// unmapped on free, and a thread's secondary arena deletes each of its 64 MiB
// heaps as soon as it is empty, whatever the trim threshold. A GUI that keeps
// a batch's stage values (about 150 MiB) and frees the previous batch's then
// faults all of it in again: measured, a third of its CPU time. One arena
// (the main one honours the trim threshold) and high thresholds keep that
// memory for reuse. Workers take the arena's lock a few dozen times per
// sample, against milliseconds of work.
void keepFreedMemory() {
#ifdef M_MMAP_THRESHOLD
    static std::once_flag once;
    std::call_once(once, [] {
        mallopt(M_ARENA_MAX, 1);
        mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
        mallopt(M_TRIM_THRESHOLD, 512 << 20);
    });
#endif
}

void growHeapWithHugePages(size_t bytes) {
#ifdef __SANITIZE_ADDRESS__
    bytes = 0;  // AddressSanitizer's malloc has no glibc heap to grow
#endif
    keepFreedMemory();                    // the trim threshold must keep what is handed back
    constexpr size_t kBlock = 30u << 20;  // under the mmap threshold: from the heap
    std::vector<void*> blocks;
    for (size_t grown = 0; grown < bytes; grown += kBlock) {
        void* p = malloc(kBlock);
        if (!p) break;
        adviseHugePages(p, kBlock);
        blocks.push_back(p);
    }
    for (void* p : blocks) free(p);
}

std::vector<float> largeFloatBuffer(size_t n) {
    std::vector<float> v;
    if (n * sizeof(float) >= 4 * kHugePage) {
        v.reserve(n);  // mapped, not yet touched
        adviseHugePages(v.data(), n * sizeof(float));
    }
    v.resize(n);
    return v;
}

namespace {
// Before main(), hence before any thread (a test harness's watchdog, a
// GUI's pool) can take an arena of its own: a limit set later only stops
// new arenas, and threads would share the ones that exist.
const bool kTunedAtStart = (keepFreedMemory(), true);
}  // namespace

}  // namespace bs
