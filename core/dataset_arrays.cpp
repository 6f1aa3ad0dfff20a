// Array datasets: MNIST idx files, NumPy arrays and torch.save dumps.
#include "core/dataset_internal.h"

namespace bs::detail {

std::string findIdxImages(const std::string&) { return {}; }
std::unique_ptr<Dataset> openIdx(const std::string& file, const OpenOptions&) {
    throw Error(file + ": idx files are not supported yet");
}
std::unique_ptr<Dataset> openNumpy(const std::string& file, const OpenOptions&) {
    throw Error(file + ": NumPy arrays are not supported yet");
}
std::unique_ptr<Dataset> openTensorDump(const std::string& file, const OpenOptions&) {
    throw Error(file + ": tensor dumps are not supported yet");
}

}  // namespace bs::detail
