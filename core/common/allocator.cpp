#include "core/common/allocator.h"

#include <malloc.h>

#include <mutex>

namespace bs {

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

namespace {
// Before main(), hence before any thread (a test harness's watchdog, a
// GUI's pool) can take an arena of its own: a limit set later only stops
// new arenas, and threads would share the ones that exist.
const bool kTunedAtStart = (keepFreedMemory(), true);
}  // namespace

}  // namespace bs
