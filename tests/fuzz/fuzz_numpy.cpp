// libFuzzer target: see entry_points.h (bsfuzz::numpy).
#include "tests/fuzz/entry_points.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    return bsfuzz::numpy(data, size);
}
