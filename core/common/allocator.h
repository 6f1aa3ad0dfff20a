// How the process's heap treats the large, short-lived blocks of a loader:
// decoded images and stage values (hundreds of KiB per sample) and batch
// stacks (tens of MiB).
#pragma once

namespace bs {

// Keeps freed memory in the heap for the next sample instead of returning
// it to the kernel, so a steady loader stops paying page faults and zeroing
// for every block. Runs by itself before main() in every program that links
// the loader; calling it again does nothing.
void keepFreedMemory();

}  // namespace bs
