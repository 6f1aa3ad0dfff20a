// Detection of the target formats, and the generic image + mask folders.
#include "core/dataset/target_datasets.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "core/dataset/dataset_internal.h"
#include "core/dataset/target_dataset_base.h"

namespace bs {
namespace detail {

// Files under `dir` (relative paths, sub-folders walked), in Python's sorted
// order of the relative path.
std::vector<std::string> listFilesRecursive(const std::string& dir) {
    std::vector<std::string> out;
    std::vector<std::string> pending{""};
    while (!pending.empty()) {
        const std::string rel = pending.back();
        pending.pop_back();
        DIR* d = ::opendir((dir + (rel.empty() ? "" : "/" + rel)).c_str());
        if (!d) continue;
        while (dirent* e = ::readdir(d)) {
            const std::string n = e->d_name;
            if (n == "." || n == "..") continue;
            const std::string r = rel.empty() ? n : rel + "/" + n;
            if (isDirectory(dir + "/" + r))
                pending.push_back(r);
            else
                out.push_back(r);
        }
        ::closedir(d);
    }
    std::sort(out.begin(), out.end(), pyLess);
    return out;
}

namespace {

std::string stemOf(const std::string& rel) {
    const size_t dot = rel.find_last_of('.');
    return dot == std::string::npos ? rel : rel.substr(0, dot);
}

// classes.txt beside the folders: class i is line i (ignore index 255).
TargetSchema maskPairSchema(const std::string& dir) {
    TargetSchema s;
    s.kind = TargetSchema::Kind::Mask;
    std::ifstream in(dir + "/classes.txt");
    for (std::string l; std::getline(in, l);) {
        while (!l.empty() && (l.back() == '\r' || l.back() == ' ')) l.pop_back();
        if (l.empty()) continue;
        s.classIds.push_back(int64_t(s.classIds.size()));
        s.classNames.push_back(l);
    }
    if (!s.classIds.empty()) s.ignoreIndex = 255;
    return s;
}

std::string firstDirectory(const std::string& dir, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (isDirectory(dir + "/" + n)) return dir + "/" + n;
    return {};
}

// The VOC folder (JPEGImages + SegmentationClass) at or under `dir`.
std::string findVocFolder(const std::string& dir) {
    auto isVoc = [](const std::string& d) {
        return isDirectory(d + "/JPEGImages") && isDirectory(d + "/SegmentationClass");
    };
    if (isVoc(dir)) return dir;
    for (const std::string& devkit : {dir + "/VOCdevkit", dir}) {
        std::vector<std::string> names;
        if (DIR* d = ::opendir(devkit.c_str())) {
            while (dirent* e = ::readdir(d))
                if (std::string(e->d_name).rfind("VOC", 0) == 0) names.push_back(e->d_name);
            ::closedir(d);
        }
        std::sort(names.begin(), names.end());
        for (const auto& n : names)
            if (isVoc(devkit + "/" + n)) return devkit + "/" + n;
    }
    return {};
}

// instances_*.json in `dir` or dir/annotations, first in name order.
std::string findCocoFile(const std::string& dir) {
    for (const std::string& d : {dir + "/annotations", dir}) {
        std::vector<std::string> names;
        if (DIR* h = ::opendir(d.c_str())) {
            while (dirent* e = ::readdir(h)) {
                const std::string n = e->d_name;
                if (n.rfind("instances_", 0) == 0 && endsWith(n, ".json")) names.push_back(n);
            }
            ::closedir(h);
        }
        std::sort(names.begin(), names.end());
        if (!names.empty()) return d + "/" + names.front();
    }
    return {};
}

}  // namespace

std::unique_ptr<Dataset> openMaskPairFolder(const std::string& dir, const OpenOptions& options) {
    const std::string imgDir = firstDirectory(dir, {"images", "imgs", "image"});
    const std::string maskDir = firstDirectory(dir, {"masks", "mask", "annotations", "labels"});
    if (imgDir.empty() || maskDir.empty()) return nullptr;
    std::map<std::string, std::string> masks;  // stem -> relative path
    for (const auto& rel : listFilesRecursive(maskDir))
        if (hasImageExtension(rel)) masks.emplace(stemOf(rel), rel);
    if (masks.empty()) return nullptr;
    std::vector<std::string> images, maskPaths;
    std::vector<DatasetIssue> issues;
    for (const auto& rel : listFilesRecursive(imgDir)) {
        if (!hasImageExtension(rel)) continue;
        images.push_back(imgDir + "/" + rel);
        auto it = masks.find(stemOf(rel));
        maskPaths.push_back(it == masks.end() ? std::string() : maskDir + "/" + it->second);
        if (it == masks.end())
            issues.push_back(
                {"missing_target", images.back(),
                 "Image " + images.back() + " has no mask with the same name in " + maskDir + "."});
        else
            masks.erase(it);
    }
    for (const auto& [stem, rel] : masks)
        issues.push_back({"missing_target", maskDir + "/" + rel,
                          "Mask " + maskDir + "/" + rel + " has no image with the same name in " +
                              imgDir + "."});
    return std::make_unique<MaskDataset>(DatasetFormat::MaskPairs, dir, std::move(images),
                                         std::move(maskPaths), maskPairSchema(dir),
                                         std::move(issues), options.decode);
}

}  // namespace detail

std::unique_ptr<Dataset> openTargetDataset(const std::string& path, const OpenOptions& options) {
    using namespace detail;
    if (isRegularFile(path)) {
        if (!endsWith(lowerAscii(path), ".json")) return nullptr;
        const std::string images = cocoImageRoot(path);
        if (images.empty())
            throw Error(path + ": no image folder found beside it (expected " +
                        "<split>/ or images/ next to the file or to its folder)");
        return openCocoFile(images, path, options);
    }
    const std::string voc = findVocFolder(path);
    if (!voc.empty()) return openVocFolder(voc, "train", options);
    const std::string coco = findCocoFile(path);
    if (!coco.empty()) return openTargetDataset(coco, options);
    if (auto yolo = openYoloFolder(path, options)) return yolo;
    return openMaskPairFolder(path, options);
}

}  // namespace bs
