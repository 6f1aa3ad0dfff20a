// Checks shared by every reader of user-supplied files.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace bs {

// Size of the regular file at `path` (symlinks followed). Throws Error
// "<path>: ..." when it cannot be stat'ed or is not a regular file: opening
// a FIFO for reading blocks until a writer appears, and a device such as
// /dev/zero never ends, so readers must refuse them before opening.
uint64_t regularFileSize(const std::string& path);

// Parses JSON text from a user file. Throws Error "<what>: ..." for invalid
// JSON (number overflow included) and for nesting deeper than 100 levels:
// nlohmann's serializer recurses, so a file of 200,000 nested brackets
// would overflow the stack when a message quotes it. batchscope's own
// formats are a few levels deep.
nlohmann::json parseUntrustedJson(const std::string& text, const std::string& what);

}  // namespace bs
