#include "core/dataset/torchvision_datasets.h"

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

std::unique_ptr<Dataset> openTorchvisionRoot(const std::string& root) {
    for (const char* cls : kIdxClasses) {
        const std::string raw = root + "/" + cls + "/raw";
        if (!detail::isDirectory(raw)) continue;
        if (std::string(cls) == "EMNIST" || std::string(cls) == "QMNIST")
            return detail::openTorchvisionIdx(root, cls, "train", "");
        if (detail::isRegularFile(raw + "/train-images-idx3-ubyte") ||
            detail::isRegularFile(raw + "/train-images-idx3-ubyte.gz"))
            return detail::openTorchvisionIdx(root, cls, "train", "");
        return detail::openTorchvisionIdx(root, cls, "test", "");
    }
    for (const char* cls : {"CIFAR10", "CIFAR100"})
        if (detail::isDirectory(root + "/" + cifarFolder(cls)))
            return openTorchvisionDataset(root, cls, "train");
    // The CIFAR folder itself.
    const std::string base = detail::baseName(root);
    if (base == "cifar-10-batches-py" || base == "cifar-100-python")
        return detail::openCifar(root, base == "cifar-100-python", true);
    return nullptr;
}

}  // namespace bs
