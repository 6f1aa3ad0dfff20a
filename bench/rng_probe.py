#!/usr/bin/python3
"""Cost of batchscope_dump's worker RNG probe (python/batchscope_dump.py).

The probe serves one dataset index `positions` times to every worker, in
two epochs of the user's worker processes, so its cost is two worker
start-ups plus 2 x workers x positions samples. This prints, per worker
count, the median over ROUNDS of: the probe alone, a whole dump without the
probe and with it (4 batches of 64, epoch 2 and num_workers=0 variants), on
Fashion-MNIST's test split through torchvision's FashionMNIST.

  bench/rng_probe.py [--workers 1 2 4] [--rounds 5]

Needs /usr/share/datasets/fashion-mnist (dataset-fashion-mnist) and
Debian's python3-torch / python3-torchvision.
"""
import argparse
import gzip
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

import torch  # noqa: E402
import torchvision  # noqa: E402
from torchvision import transforms as T  # noqa: E402

from batchscope_dump import dump_batches, probe_worker_rng  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def fashion_root(tmp):
    raw = os.path.join(tmp, "FashionMNIST", "raw")
    os.makedirs(raw)
    for split in ("train", "t10k"):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            name = "%s-%s" % (split, kind)
            with gzip.open(os.path.join(FASHION, name + ".gz")) as src, open(os.path.join(raw, name), "wb") as dst:
                shutil.copyfileobj(src, dst)
    return tmp


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ds = torchvision.datasets.FashionMNIST(
            fashion_root(tmp), train=False,
            transform=T.Compose([T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.286,), (0.353,))]))
        print("workers  probe_s  dump_without_s  dump_with_s  overhead")
        for workers in args.workers:
            loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True, num_workers=workers)
            probe, without, with_ = [], [], []
            for r in range(args.rounds):
                out = os.path.join(tmp, "dump%d_%d" % (workers, r))
                probe.append(timed(lambda: probe_worker_rng(loader)))
                without.append(timed(lambda: dump_batches(loader, out + "a", 4, True, True, probe_rng=False)))
                with_.append(timed(lambda: dump_batches(loader, out + "b", 4, True, True, probe_rng=True)))
            p, a, b = (statistics.median(v) for v in (probe, without, with_))
            print("%7d  %7.3f  %14.3f  %11.3f  %+7.0f%%" % (workers, p, a, b, 100 * (b - a) / a))


if __name__ == "__main__":
    main()
