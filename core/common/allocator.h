// How the process's heap treats the large, short-lived blocks of a loader:
// decoded images and stage values (hundreds of KiB per sample) and batch
// stacks (tens of MiB).
#pragma once

#include <cstddef>
#include <vector>

namespace bs {

// Keeps freed memory in the heap for the next sample instead of returning
// it to the kernel, so a steady loader stops paying page faults and zeroing
// for every block, and grows the heap once at start (untouched) with
// transparent huge pages asked for, so that its first filling costs one
// fault per 2 MiB instead of per 4 KiB. Runs by itself before main() in
// every program that links the loader; calling it again does nothing.
void keepFreedMemory();

// A zeroed buffer of n floats. One of several MiB (a batch stack) asks the
// kernel for transparent huge pages before it is first touched: a fresh
// 38 MiB block then costs about 20 page faults instead of about 9,500, which
// on a virtual machine was most of a fresh batch's cost. Smaller buffers
// are plain vectors.
std::vector<float> largeFloatBuffer(size_t n);

}  // namespace bs
