// File checks shared by every reader of user-supplied paths.
#pragma once

#include <cstdint>
#include <string>

namespace bs {

// Size of the regular file at `path` (symlinks followed). Throws Error
// "<path>: ..." when it cannot be stat'ed or is not a regular file: opening
// a FIFO for reading blocks until a writer appears, and a device such as
// /dev/zero never ends, so readers must refuse them before opening.
uint64_t regularFileSize(const std::string& path);

}  // namespace bs
