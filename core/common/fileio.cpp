#include "core/common/fileio.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/common/types.h"

namespace bs {

uint64_t regularFileSize(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
    if (!S_ISREG(st.st_mode))
        throw Error(path + ": not a regular file (" +
                    (S_ISDIR(st.st_mode)    ? "a folder"
                     : S_ISFIFO(st.st_mode) ? "a named pipe"
                     : S_ISSOCK(st.st_mode) ? "a socket"
                                            : "a device") +
                    ")");
    return uint64_t(st.st_size);
}

nlohmann::json parseUntrustedJson(const std::string& text, const std::string& what) {
    constexpr int kMaxDepth = 100;
    try {
        return nlohmann::json::parse(text, [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
            if (depth > kMaxDepth)
                throw Error("nested deeper than " + std::to_string(kMaxDepth) + " levels");
            return true;
        });
    } catch (const nlohmann::json::exception& e) {
        throw Error(what + ": not valid JSON (" + e.what() + ")");
    } catch (const Error& e) {
        throw Error(what + ": " + e.what());
    }
}

}  // namespace bs
