// torchvision's built-in datasets, opened from the root the user passes to
// them: MNIST, FashionMNIST, KMNIST, EMNIST, QMNIST (root/<Name>/raw/ idx
// files) and CIFAR10/CIFAR100 (root/cifar-10-batches-py, root/cifar-100-python
// pickles). Class names come from the format (torchvision's lists, CIFAR's
// meta file), never from the path.
#pragma once

#include <memory>
#include <string>

#include "core/dataset/dataset.h"

namespace bs {

// True for the class names openTorchvisionDataset knows.
bool isTorchvisionDatasetClass(const std::string& cls);

// `split`: "train" (torchvision's default) or "test"; QMNIST also "test10k",
// "test50k", "nist". `emnistSplit`: EMNIST's split ("balanced" when empty).
// Throws Error naming the missing or bad file.
std::unique_ptr<Dataset> openTorchvisionDataset(const std::string& root, const std::string& cls,
                                                const std::string& split = "train",
                                                const std::string& emnistSplit = "");

// `split` ("train" or "test") of the first torchvision layout found under
// `root`, or null when `root` holds none (openDataset's folder detection).
// An empty split is train, or test when the root holds only the test files.
// EMNIST: its "balanced" split when present, else the first split found.
// `coarse`: CIFAR-100's 20 superclasses instead of its 100 fine labels
// (an error for any other layout).
std::unique_ptr<Dataset> openTorchvisionRoot(const std::string& root, const std::string& split = "",
                                             bool coarse = false);
// True when openTorchvisionRoot finds a layout under `root`.
bool isTorchvisionRoot(const std::string& root);
// The split openTorchvisionRoot opens when none is asked for ("train", or
// "test" when only the test files are there); empty when `root` is no
// torchvision layout. Looks at file names only.
std::string torchvisionDefaultSplit(const std::string& root);

namespace detail {
std::unique_ptr<Dataset> openTorchvisionIdx(const std::string& root, const std::string& cls,
                                            const std::string& split,
                                            const std::string& emnistSplit);
// CIFAR-10 / CIFAR-100 from their python pickle folder (the folder itself).
std::unique_ptr<Dataset> openCifar(const std::string& folder, bool cifar100, bool train,
                                   bool coarse = false);
}  // namespace detail

}  // namespace bs
