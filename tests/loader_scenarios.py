"""User-written loaders for tests/test_compare_loaders.cpp (run by the Qt test):

    python3 loader_scenarios.py PYTHON_DIR MODE DATA_DIR OUT_DIR

Each MODE builds a DataLoader the way a training script does (a torchvision
dataset, a custom Dataset, a Compose with a Lambda...) over real data,
Fashion-MNIST's test split (torchvision's layout, unpacked into
DATA_DIR/FashionMNIST/raw from /usr/share/datasets/fashion-mnist) or
scikit-image's photos as an ImageFolder (DATA_DIR/photos), and dumps it with
batchscope_dump to OUT_DIR. Prints "ok" on success.
"""
import contextlib
import gzip
import os
import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, sys.argv[1])
import numpy as np
import torch
import torchvision
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

from batchscope_dump import dump_batches

mode, data, out = sys.argv[2], sys.argv[3], sys.argv[4]
FASHION = "/usr/share/datasets/fashion-mnist"
PHOTOS = ("astronaut.png", "coffee.png", "chelsea.png", "rocket.png", "motorcycle_left.png",
          "motorcycle_right.png", "hubble_deep_field.jpg", "immunohistochemistry.png")


def fashion_root():
    raw = os.path.join(data, "FashionMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    # torchvision checks that all four files exist, whatever the split.
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        target = os.path.join(raw, name)
        if not os.path.exists(target):
            with gzip.open(os.path.join(FASHION, name + ".gz")) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    return data


def photo_root():
    """Two classes of 48x48 crops of scikit-image's colour photos."""
    import skimage.data
    root = os.path.join(data, "photos")
    src_dir = skimage.data.data_dir
    k = 0
    for name in PHOTOS:
        path = os.path.join(src_dir, name)
        if not os.path.exists(path):
            continue
        img = Image.open(path).convert("RGB")
        for y in range(4):
            cls = os.path.join(root, "class_%d" % (k % 2))
            os.makedirs(cls, exist_ok=True)
            w, h = img.size
            box = (w // 4 + 15 * y, h // 4, w // 4 + 15 * y + 96, h // 4 + 96)
            img.crop(box).resize((48, 48)).save(os.path.join(cls, "%02d.png" % k))
            k += 1
    return root


def fashion(transform, cls=torchvision.datasets.FashionMNIST):
    return cls(fashion_root(), train=False, transform=transform, download=False)


FMEAN, FSTD = (0.2860,), (0.3530,)


# ---------------------------------------------------------------- user datasets


class UserFashion(torchvision.datasets.FashionMNIST):
    """torchvision finds the files under root/<class name>/raw: subclasses
    point it back at FashionMNIST's folder, as users do."""

    @property
    def raw_folder(self):
        return os.path.join(self.root, "FashionMNIST", "raw")


class FolderWithMissingFiles(torchvision.datasets.ImageFolder):
    """The classic: return None when a file cannot be read."""

    def __getitem__(self, i):
        if i % 7 == 3:
            return None, 0
        return super().__getitem__(i)


class FolderThatRaises(torchvision.datasets.ImageFolder):
    def __getitem__(self, i):
        if i % 5 == 2:
            raise FileNotFoundError("no such file: %s" % self.samples[i][0])
        return super().__getitem__(i)


class FolderOfMixedSizes(torchvision.datasets.ImageFolder):
    """Some samples are not resized: the batch cannot be stacked."""

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        return (x[:, :40, :40] if i % 6 == 1 else x), y


class BgrFolder(torchvision.datasets.ImageFolder):
    """Reads like cv2.imread: BGR channel order, no cvtColor."""

    def __getitem__(self, i):
        path, y = self.samples[i]
        bgr = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB"))[:, :, ::-1])
        return self.transform(bgr), y


class FashionFromArrays(Dataset):
    """Transform written inside __getitem__ (no transform attribute)."""

    def __init__(self, root, divide_by_sum=False):
        base = torchvision.datasets.FashionMNIST(root, train=False)
        self.data, self.targets = base.data, base.targets
        self.divide_by_sum = divide_by_sum

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        x = self.data[i].float().unsqueeze(0) / 255.0
        if self.divide_by_sum:
            x = x / (x.sum() + 1e-9)
        else:
            x = (x - FMEAN[0]) / FSTD[0]
        return x, int(self.targets[i])


class NoisyFashion(UserFashion):
    """Augmentation noise from a generator made in __init__: copied into
    every worker process, and again every epoch."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rng = np.random.default_rng(0)

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        noise = torch.from_numpy(self.rng.normal(0, 0.05, size=tuple(x.shape)).astype(np.float32))
        return x + noise, y


class ShiftedFashion(UserFashion):
    def __getitem__(self, i):
        return super().__getitem__((i + 1) % len(self))


class SharedBufferFashion(UserFashion):
    """One buffer for every sample, no copy and no lock: the batch holds
    the last sample written several times."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffer = torch.zeros(1, 28, 28)

    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        self.buffer.copy_(x)
        return self.buffer, y


class ThreadedFashion(UserFashion):
    """Reads the raw IDX file itself and fetches a whole batch at once on a
    thread pool (__getitems__, which DataLoader calls when it exists), to
    hide read latency. All threads share the one file handle opened in
    __init__: seek() and read() are two calls, and without a lock another
    thread's seek() can move the offset in between, so a sample gets
    another image's pixels. With locked=True the pair is guarded."""

    def __init__(self, *args, locked=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.images = open(os.path.join(self.raw_folder, "t10k-images-idx3-ubyte"), "rb", buffering=0)
        self.lock = threading.Lock() if locked else contextlib.nullcontext()
        self.pool = None

    def _read(self, i):
        with self.lock:
            self.images.seek(16 + 28 * 28 * i)
            pixels = self.images.read(28 * 28)
        return self.transform(Image.frombytes("L", (28, 28), pixels)), int(self.targets[i])

    def __getitem__(self, i):
        return self._read(i)

    def __getitems__(self, indices):
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=8)
        return list(self.pool.map(self._read, indices))


def seed_numpy_by_worker(worker_id):
    np.random.seed(worker_id)  # the same seeds in every epoch


class GlobalNumpyNoiseFashion(UserFashion):
    def __getitem__(self, i):
        x, y = super().__getitem__(i)
        return x + torch.from_numpy(np.random.normal(0, 0.05, size=tuple(x.shape)).astype(np.float32)), y


# ---------------------------------------------------------------- modes

to01 = T.ToTensor()
norm = T.Compose([T.ToTensor(), T.Normalize(FMEAN, FSTD)])
workers, batch_size, init_fn, persistent = 2, 32, None, False
if mode == "fashion_clean":
    ds = fashion(norm)
elif mode == "fashion_random_clean":
    ds = fashion(T.Compose([T.RandomHorizontalFlip(), T.RandomRotation(10), T.ToTensor(),
                            T.Normalize(FMEAN, FSTD)]))
elif mode == "divide_by_sum":
    ds = fashion(T.Compose([T.ToTensor(), T.Lambda(lambda x: x / (x.sum() + 1e-9))]))
elif mode == "divide_by_sum_getitem":
    ds = FashionFromArrays(fashion_root(), divide_by_sum=True)
elif mode == "getitem_clean":
    ds = FashionFromArrays(fashion_root())
elif mode == "double_normalize":
    ds = fashion(T.Compose([T.ToTensor(), T.Normalize(FMEAN, FSTD), T.Normalize(FMEAN, FSTD)]))
elif mode == "unscaled":
    ds = fashion(T.Compose([T.PILToTensor(), T.Lambda(lambda x: x.float()), T.Lambda(lambda x: x * 255),
                            T.Normalize(FMEAN, FSTD)]))
elif mode == "offbyone":
    ds = fashion(norm, ShiftedFashion)
elif mode == "shared_buffer":
    ds, workers = fashion(norm, SharedBufferFashion), 0
elif mode in ("thread_race", "thread_locked"):
    ds = ThreadedFashion(fashion_root(), train=False, transform=norm, locked=mode == "thread_locked")
    workers = 0
elif mode == "worker_rng":
    ds = fashion(to01, NoisyFashion)
elif mode == "worker_rng_fixed":
    ds = fashion(to01, NoisyFashion)
    init_fn = lambda w: setattr(torch.utils.data.get_worker_info().dataset, "rng",
                                np.random.default_rng(torch.utils.data.get_worker_info().seed))
elif mode == "epoch_rng":
    ds, init_fn = fashion(to01, GlobalNumpyNoiseFashion), seed_numpy_by_worker
elif mode == "divide_by_zero":
    # Scaling by the image's minimum: Fashion-MNIST's backgrounds are 0.
    ds = fashion(T.Compose([T.ToTensor(), T.Lambda(lambda x: x / x.min())]))
elif mode == "tiny_std":
    # The std typed a hundred times too small.
    ds = fashion(T.Compose([T.ToTensor(), T.Normalize(FMEAN, (0.003530,))]))
elif mode == "mean_std_255":
    # Statistics of the 0..255 pixels applied to ToTensor's [0, 1] output.
    ds = fashion(T.Compose([T.ToTensor(), T.Normalize((72.94,), (90.02,))]))
elif mode == "photos_clean":
    ds = torchvision.datasets.ImageFolder(photo_root(), transform=T.Compose([T.ToTensor(), T.Normalize((0.5,) * 3, (0.25,) * 3)]))
    batch_size = 4
elif mode == "photos_random":
    ds = torchvision.datasets.ImageFolder(photo_root(), transform=T.Compose([
        T.RandomResizedCrop(32), T.RandomHorizontalFlip(), T.ColorJitter(0.2, 0.2), T.ToTensor()]))
    batch_size = 4
elif mode == "channel_swap":
    ds, batch_size = BgrFolder(photo_root(), transform=T.ToTensor()), 4
elif mode == "none_sample":
    ds, batch_size = FolderWithMissingFiles(photo_root(), transform=T.ToTensor()), 4
elif mode == "getitem_raises":
    ds, batch_size = FolderThatRaises(photo_root(), transform=T.ToTensor()), 4
elif mode == "mixed_sizes":
    ds, batch_size = FolderOfMixedSizes(photo_root(), transform=T.ToTensor()), 4
else:
    sys.exit("unknown mode " + mode)

torch.manual_seed(1234)
np_state = np.random.get_state()
loader = DataLoader(ds, batch_size=batch_size, shuffle=True, num_workers=workers,
                    worker_init_fn=init_fn, persistent_workers=persistent and workers > 0)
torch_state = torch.get_rng_state()
dump_batches(loader, out, num_batches=4, also_epoch2=True, also_workers0=workers > 0)
if not torch.equal(torch_state, torch.get_rng_state()):
    sys.exit("dump_batches changed torch's RNG state")
if not all(np.array_equal(a, b) for a, b in zip(np_state[1:2], np.random.get_state()[1:2])):
    sys.exit("dump_batches changed NumPy's RNG state")
print("ok")
