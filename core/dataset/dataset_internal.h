// Internal to core: the per-format openers behind openDataset and the small
// helpers they share. Not part of the public contract.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/dataset/dataset.h"

namespace bs {
namespace detail {

std::unique_ptr<Dataset> openIdx(const std::string& imagesFile, const OpenOptions& options);
// Finds MNIST-style images files in `dir` (or dir/raw); empty when none.
std::string findIdxImages(const std::string& dir);
std::unique_ptr<Dataset> openCsv(const std::string& file, const OpenOptions& options);
std::unique_ptr<Dataset> openNumpy(const std::string& file, const OpenOptions& options);
std::unique_ptr<Dataset> openTensorDump(const std::string& file, const OpenOptions& options);

// Python's os.path.abspath: made absolute against the working directory and
// normalised lexically ("." / ".." / "//" / trailing "/"), links untouched.
std::string absolutePath(const std::string& path);
// Lower-cased ASCII copy (file extensions, header words).
std::string lowerAscii(std::string s);
bool endsWith(const std::string& s, const std::string& suffix);
// Python str ordering of file names decoded with surrogateescape (what
// sorted() does on os.walk output): code-point order.
bool pyLess(const std::string& a, const std::string& b);
// The byte string whose byte order is that Python order.
std::string pyKey(const std::string& s);
std::string baseName(const std::string& path);
std::string dirName(const std::string& path);
bool isRegularFile(const std::string& path);
bool isDirectory(const std::string& path);

}  // namespace detail
}  // namespace bs
