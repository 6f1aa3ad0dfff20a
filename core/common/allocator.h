// How the process's heap treats the large, short-lived blocks of a loader:
// decoded images and stage values (hundreds of KiB per sample) and batch
// stacks (tens of MiB).
//
// No transparent huge pages are asked for anywhere. On the KVM guests this
// project is measured on, the virtio balloon has free page reporting: free
// 2 MiB blocks go back to the host, so a huge page is zeroed on memory the
// host must fault in again, while small pages come back warm from the
// guest's free lists. Without the advice (heap grown by 240 MiB at start,
// batch stacks advised), runs a few seconds apart: `bench` 1,003 -> 1,325
// images/s, `audit` 743 -> 895, the GUI 284 -> 218 ms CPU per batch
// (medians; bench/README.md, "Huge pages").
#pragma once

namespace bs {

// Keeps freed memory in the heap for the next sample instead of returning
// it to the kernel, so a steady loader stops paying page faults and zeroing
// for every block. Runs by itself before main() in every program that links
// the loader; calling it again does nothing.
void keepFreedMemory();

}  // namespace bs
