#include "core/dataset/torchvision_datasets.h"

#include <dirent.h>

#include <set>

#include "core/dataset/dataset_internal.h"

namespace bs {

namespace {

const char* const kIdxClasses[] = {"MNIST", "FashionMNIST", "KMNIST", "EMNIST", "QMNIST"};

bool isIdxClass(const std::string& cls) {
    for (const char* c : kIdxClasses)
        if (cls == c) return true;
    return false;
}

// torchvision's folder of each CIFAR class.
std::string cifarFolder(const std::string& cls) {
    return cls == "CIFAR100" ? "cifar-100-python" : "cifar-10-batches-py";
}

}  // namespace

bool isTorchvisionDatasetClass(const std::string& cls) {
    return isIdxClass(cls) || cls == "CIFAR10" || cls == "CIFAR100";
}

std::unique_ptr<Dataset> openTorchvisionDataset(const std::string& rootIn, const std::string& cls,
                                                const std::string& split,
                                                const std::string& emnistSplit) {
    const std::string root = detail::absolutePath(rootIn);
    const std::string s = split.empty() ? "train" : split;
    if (isIdxClass(cls)) return detail::openTorchvisionIdx(root, cls, s, emnistSplit);
    if (cls == "CIFAR10" || cls == "CIFAR100") {
        const std::string folder = root + "/" + cifarFolder(cls);
        if (!detail::isDirectory(folder))
            throw Error(folder + ": not found (torchvision's " + cls + " layout)");
        return detail::openCifar(folder, cls == "CIFAR100", s != "test");
    }
    throw Error(cls + ": not a torchvision dataset class batchscope reads");
}

namespace {

bool hasFile(const std::string& path) {
    return detail::isRegularFile(path) || detail::isRegularFile(path + ".gz");
}

// EMNIST's splits present in raw/ (emnist-<split>-train-images-idx3-ubyte...),
// "balanced" (torchvision's usual choice) first, then by name.
std::string emnistSplitIn(const std::string& raw) {
    std::set<std::string> found;
    if (DIR* d = ::opendir(raw.c_str())) {
        while (const dirent* e = ::readdir(d)) {
            const std::string name = e->d_name;
            const size_t at = name.find("-images-idx3-ubyte");
            if (name.rfind("emnist-", 0) != 0 || at == std::string::npos) continue;
            const size_t dash = name.rfind('-', at - 1);
            if (dash > 7) found.insert(name.substr(7, dash - 7));
        }
        ::closedir(d);
    }
    if (found.empty() || found.count("balanced")) return "balanced";
    return *found.begin();
}

// The train images file of `cls` under raw/: the split when none is asked for.
std::string trainImagesFile(const std::string& raw, const std::string& cls,
                            const std::string& emnistSplit) {
    if (cls == "EMNIST") return raw + "/emnist-" + emnistSplit + "-train-images-idx3-ubyte";
    if (cls == "QMNIST") return raw + "/qmnist-train-images-idx3-ubyte";
    return raw + "/train-images-idx3-ubyte";
}

const char* idxRootClass(const std::string& root) {
    for (const char* cls : kIdxClasses)
        if (detail::isDirectory(root + "/" + cls + "/raw")) return cls;
    return nullptr;
}

const char* cifarRootClass(const std::string& root) {
    for (const char* cls : {"CIFAR10", "CIFAR100"})
        if (detail::isDirectory(root + "/" + cifarFolder(cls))) return cls;
    return nullptr;
}

bool isCifarFolder(const std::string& base) {
    return base == "cifar-10-batches-py" || base == "cifar-100-python";
}

}  // namespace

bool isTorchvisionRoot(const std::string& root) {
    return idxRootClass(root) || cifarRootClass(root) || isCifarFolder(detail::baseName(root));
}

std::string torchvisionDefaultSplit(const std::string& root) {
    if (const char* cls = idxRootClass(root)) {
        const std::string raw = root + "/" + cls + "/raw";
        const std::string emnist = std::string(cls) == "EMNIST" ? emnistSplitIn(raw) : "";
        return hasFile(trainImagesFile(raw, cls, emnist)) ? "train" : "test";
    }
    return isTorchvisionRoot(root) ? "train" : "";
}

std::unique_ptr<Dataset> openTorchvisionRoot(const std::string& root, const std::string& split,
                                             bool coarse) {
    if (!split.empty() && split != "train" && split != "test")
        throw Error(root + ": split '" + split + "' is neither train nor test");
    const char* cifar = cifarRootClass(root);
    const std::string base = detail::baseName(root);
    const bool cifar100 = idxRootClass(root) == nullptr &&
                          (cifar ? std::string(cifar) == "CIFAR100" : base == "cifar-100-python");
    if (coarse && !cifar100) throw Error(root + ": coarse labels exist only in CIFAR-100");
    if (coarse)
        return detail::openCifar(cifar ? root + "/cifar-100-python" : root, true, split != "test",
                                 true);
    if (const char* cls = idxRootClass(root)) {
        const std::string raw = root + "/" + cls + "/raw";
        const std::string emnist = std::string(cls) == "EMNIST" ? emnistSplitIn(raw) : "";
        std::string s = split;
        if (s.empty()) s = hasFile(trainImagesFile(raw, cls, emnist)) ? "train" : "test";
        return detail::openTorchvisionIdx(root, cls, s, emnist);
    }
    if (const char* cls = cifarRootClass(root))
        return openTorchvisionDataset(root, cls, split.empty() ? "train" : split);
    // The CIFAR folder itself.
    if (isCifarFolder(base))
        return detail::openCifar(root, base == "cifar-100-python", split != "test");
    return nullptr;
}

}  // namespace bs
