#!/usr/bin/python3
"""Side-by-side throughput: torchvision's ImageFolder + DataLoader against
`batchscope bench`, on the same folder, pipeline, batch size and workers.

The two run alternately (torchvision, batchscope, torchvision, ...) so that
load from other processes and the page cache affect both alike; each prints
images per second of wall time from the loader's start to its last batch
(dataset listing and process start-up excluded on both sides). The medians
and their ratio are printed last.

  bench/compare_torchvision.py --make imagenet --pipeline bench/imagenet_eval.json
  bench/compare_torchvision.py --folder /tmp/bench-fmnist --pipeline bench/fmnist.json

Uses Debian's python3-torch / python3-torchvision.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torchvision
from torchvision import transforms as T

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def find_batchscope():
    for path in sorted(glob.glob(os.path.join(ROOT, "build*", "app", "batchscope")),
                       key=os.path.getmtime, reverse=True):
        if os.access(path, os.X_OK):
            return path
    return None


def torchvision_pipeline(stages):
    """The JSON pipeline (op = torchvision class, keys = its arguments) as a Compose."""
    out = []
    for s in stages:
        s = dict(s)
        op = s.pop("op")
        s.pop("enabled", None)
        if "interpolation" in s:
            s["interpolation"] = T.InterpolationMode(s["interpolation"].lower().split(".")[-1])
        out.append(getattr(T, op)(**s))
    return T.Compose(out)


def run_torchvision(folder, compose, batch_size, workers, limit):
    ds = torchvision.datasets.ImageFolder(folder, transform=compose)
    if limit:
        ds = torch.utils.data.Subset(ds, range(min(limit, len(ds))))
    start = time.perf_counter()
    n = 0
    for x, _ in torch.utils.data.DataLoader(ds, batch_size=batch_size, num_workers=workers):
        n += x.shape[0]
    return n / (time.perf_counter() - start)


def run_batchscope(exe, folder, pipeline, batch_size, workers, limit):
    cmd = [exe, "bench", folder, "--pipeline", pipeline, "--batch-size", str(batch_size),
           "--workers", str(workers)]
    if limit:
        cmd += ["--limit", str(limit)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    last = out.strip().splitlines()[-1]
    if not last.startswith("images_per_s="):
        raise RuntimeError("unexpected batchscope output:\n" + out)
    return float(last.split("=", 1)[1]), out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--folder", help="an ImageFolder to read")
    src.add_argument("--make", choices=["imagenet", "fmnist"],
                     help="build that dataset with bench/make_datasets.py in a temporary folder")
    ap.add_argument("--count", type=int, help="images to build with --make")
    ap.add_argument("--pipeline", required=True, help="JSON pipeline (e.g. bench/imagenet_eval.json)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N samples")
    ap.add_argument("--batchscope", default=find_batchscope(), help="path of the batchscope binary")
    a = ap.parse_args()
    if not a.batchscope:
        ap.error("no built batchscope found; pass --batchscope")
    if a.rounds < 3:
        ap.error("--rounds must be at least 3")

    tmp = None
    folder = a.folder
    if a.make:
        tmp = tempfile.TemporaryDirectory(prefix="batchscope-bench-")
        folder = os.path.join(tmp.name, a.make)
        cmd = [sys.executable, os.path.join(HERE, "make_datasets.py"), a.make, folder]
        if a.count:
            cmd += ["--count", str(a.count)]
        subprocess.run(cmd, check=True)

    with open(a.pipeline) as f:
        compose = torchvision_pipeline(json.load(f))
    print("folder: %s\npipeline: %s\nbatch size %d, workers %d, %d rounds, %d cores" %
          (folder, compose, a.batch_size, a.workers, a.rounds, os.cpu_count()))
    tv, bs = [], []
    last = ""
    for r in range(a.rounds):
        tv.append(run_torchvision(folder, compose, a.batch_size, a.workers, a.limit))
        rate, last = run_batchscope(a.batchscope, folder, a.pipeline, a.batch_size, a.workers,
                                    a.limit)
        bs.append(rate)
        print("round %d: torchvision %.1f images/s, batchscope %.1f images/s" % (r + 1, tv[-1], bs[-1]),
              flush=True)
    print("batchscope's last report:\n" + last.rstrip())
    mt, mb = statistics.median(tv), statistics.median(bs)
    print("torchvision_median_images_per_s=%.1f" % mt)
    print("batchscope_median_images_per_s=%.1f" % mb)
    print("ratio=%.2f" % (mb / mt))
    return 0


if __name__ == "__main__":
    sys.exit(main())
