#include "core/fileio.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "core/types.h"

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

}  // namespace bs
