// CSV manifests (path,label).
#include "core/dataset_internal.h"

namespace bs::detail {

std::unique_ptr<Dataset> openCsv(const std::string& file, const OpenOptions&) {
    throw Error(file + ": CSV manifests are not supported yet");
}

}  // namespace bs::detail
