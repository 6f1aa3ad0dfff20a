// How the process's heap treats the large, short-lived blocks of a loader:
// decoded images and stage values (hundreds of KiB per sample) and batch
// stacks (tens of MiB).
#pragma once

#include <cstddef>
#include <vector>

namespace bs {

// Keeps freed memory in the heap for the next sample instead of returning
// it to the kernel, so a steady loader stops paying page faults and zeroing
// for every block. Runs by itself before main() in every program that links
// the loader; calling it again does nothing.
void keepFreedMemory();

// Grows the heap by about `bytes` at once, untouched, with transparent huge
// pages asked for, and hands the room back to malloc (keepFreedMemory's
// trim threshold keeps it). For a run that fills a fresh heap and ends (a
// CLI audit): in 4 KiB pages its first batch spent ~0.1 s in page faults
// on a VM, in 2 MiB pages a few hundred faults. Not for the GUI: there the
// kernel's compaction for huge pages cost more CPU per batch (measured
// 172-195 ms against 151-165 ms) than the faults it saves in a long run.
// Untouched pages cost no memory.
void growHeapWithHugePages(size_t bytes);

// A zeroed buffer of n floats. One of several MiB (a batch stack) asks the
// kernel for transparent huge pages before it is first touched: a fresh
// 38 MiB block then costs about 20 page faults instead of about 9,500, which
// on a virtual machine was most of a fresh batch's cost. Smaller buffers
// are plain vectors.
std::vector<float> largeFloatBuffer(size_t n);

}  // namespace bs
