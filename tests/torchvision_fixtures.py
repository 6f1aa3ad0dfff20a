"""Small torchvision-layout datasets for tests/test_torchvision_datasets.cpp:

    python3 torchvision_fixtures.py ROOT

writes KMNIST, EMNIST (letters) and QMNIST idx files under ROOT/<Name>/raw,
CIFAR-10 (protocol-2 pickles, as Python 2 wrote them) under
ROOT/cifar-10-batches-py and CIFAR-100 (protocol 4) under ROOT/cifar-100-python,
a pickle that would run a command under ROOT/hostile/cifar-10-batches-py,
then prints what torchvision's own classes read from them, as JSON.
"""
import json
import os
import pickle
import struct
import sys

import numpy as np
import torchvision.datasets as D
import torchvision.datasets.cifar

root = sys.argv[1]
rng = np.random.default_rng(3)


def idx(path, array, type_code=0x08):
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, type_code, array.ndim))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(">i4" if type_code == 0x0C else np.uint8).tobytes())


written = {}  # labels as written, per images file stem


def mnist_like(name, stems, n, classes, label_file=None):
    raw = os.path.join(root, name, "raw")
    os.makedirs(raw, exist_ok=True)
    for stem in stems:
        idx(os.path.join(raw, stem + "-images-idx3-ubyte"), rng.integers(0, 256, (n, 28, 28)))
        labels = rng.integers(0, classes, n)
        written[stem] = [int(v) for v in labels]
        if label_file == "int":
            table = np.stack([labels] + [rng.integers(0, 1000, n) for _ in range(7)], axis=1)
            idx(os.path.join(raw, stem + "-labels-idx2-int"), table, 0x0C)
        else:
            idx(os.path.join(raw, stem + "-labels-idx1-ubyte"), labels)


mnist_like("KMNIST", ["train", "t10k"], 12, 10)
mnist_like("EMNIST", ["emnist-letters-train", "emnist-letters-test"], 9, 27)
mnist_like("QMNIST", ["qmnist-train", "qmnist-test"], 15, 10, label_file="int")


def cifar(folder, files, n, meta_name, meta, protocol, fine):
    os.makedirs(folder, exist_ok=True)
    for name in files:
        batch = {"batch_label": name, "data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
                 "filenames": ["img_%d.png" % i for i in range(n)]}
        if fine:
            batch["fine_labels"] = [int(v) for v in rng.integers(0, 100, n)]
            batch["coarse_labels"] = [int(v) for v in rng.integers(0, 20, n)]
            written["coarse:" + name] = batch["coarse_labels"]
        else:
            batch["labels"] = [int(v) for v in rng.integers(0, 10, n)]
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(batch, f, protocol=protocol)
    with open(os.path.join(folder, meta_name), "wb") as f:
        pickle.dump(meta, f, protocol=protocol)


cifar10_names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
cifar(os.path.join(root, "cifar-10-batches-py"),
      ["data_batch_%d" % i for i in range(1, 6)] + ["test_batch"], 6, "batches.meta",
      {"label_names": cifar10_names, "num_vis": 3072}, 2, False)
cifar(os.path.join(root, "cifar-100-python"), ["train", "test"], 7, "meta",
      {"fine_label_names": ["fine_%02d" % i for i in range(100)],
       "coarse_label_names": ["coarse_%02d" % i for i in range(20)]}, 4, True)


class Hostile:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(root, "pwned"),))


hostile = os.path.join(root, "hostile", "cifar-10-batches-py")
os.makedirs(hostile, exist_ok=True)
for name in ["data_batch_%d" % i for i in range(1, 6)] + ["batches.meta"]:
    with open(os.path.join(hostile, name), "wb") as f:
        pickle.dump({"data": Hostile(), "labels": [1]}, f, protocol=2)


# torchvision checks CIFAR's md5 sums; these files are made up.
torchvision.datasets.cifar.check_integrity = lambda *args, **kwargs: True
CIFAR10, CIFAR100 = D.CIFAR10, D.CIFAR100


def describe(ds):
    rows = []
    for i in (0, len(ds) - 1):
        img, y = ds[i]
        a = np.asarray(img)
        rows.append({"index": i, "label": int(y), "sum": int(a.astype(np.int64).sum()),
                     "first": [int(v) for v in a.reshape(a.shape[0], a.shape[1], -1)[0, 0]]})
    return {"size": len(ds), "classes": list(ds.classes), "samples": rows}


out = {
    "KMNIST/test": describe(D.KMNIST(root, train=False)),
    "KMNIST/train": describe(D.KMNIST(root, train=True)),
    "EMNIST/letters/test": describe(D.EMNIST(root, split="letters", train=False)),
    "EMNIST/letters/train": describe(D.EMNIST(root, split="letters", train=True)),
    "QMNIST/test": describe(D.QMNIST(root, what="test")),
    "QMNIST/train": describe(D.QMNIST(root, what="train")),
    "CIFAR10/train": describe(CIFAR10(root, train=True)),
    "CIFAR10/test": describe(CIFAR10(root, train=False)),
    "CIFAR100/test": describe(CIFAR100(root, train=False)),
}
# torchvision 0.14 reverses the element order of int32 idx files instead of
# their bytes (read_sn3_pascalvincent_tensor), so QMNIST's targets come out
# wrong; the labels as written (column 0, big-endian) are the reference.
out["QMNIST/test"]["written_labels"] = written["qmnist-test"]
out["QMNIST/train"]["written_labels"] = written["qmnist-train"]
# torchvision 0.14's CIFAR100 has no coarse labels: as written.
out["CIFAR100/test"]["written_coarse"] = written["coarse:test"]
# What torchvision 0.14 itself gives as targets (README: the difference).
out["QMNIST/test"]["torchvision_labels"] = [int(y) for _, y in D.QMNIST(root, what="test")]
print(json.dumps(out))
