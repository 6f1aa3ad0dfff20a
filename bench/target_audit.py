#!/usr/bin/python3
"""Cost of judging masks: `batchscope audit` on a VOC-style set (images and
their palette masks) against the same images opened as a plain folder (no
masks), alternately, printing the median wall time of each and the ratio
(issue 17 asks that masks not double the audit's time), plus peak RSS.

  bench/target_audit.py --batchscope build/app/batchscope [--images 400] [--runs 5]

The set is built in a temporary folder from skimage's photos (full size,
resized copies, so that masks and images keep real sizes).
"""
import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time

import numpy as np
from PIL import Image
import skimage

DATA = os.path.join(os.path.dirname(skimage.__file__), "data")
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]


def build(root, n):
    voc = os.path.join(root, "VOCdevkit", "VOC2012")
    for sub in ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"]:
        os.makedirs(os.path.join(voc, sub))
    photos = [Image.open(os.path.join(DATA, p)).convert("RGB") for p in PHOTOS]
    ids = []
    for i in range(n):
        im = photos[i % len(photos)]
        sid = "%06d" % i
        im.save(os.path.join(voc, "JPEGImages", sid + ".jpg"), quality=90)
        m = np.zeros((im.height, im.width), np.uint8)
        m[im.height // 4: 3 * im.height // 4, im.width // 4: 3 * im.width // 4] = 1 + i % 20
        p = Image.fromarray(m, "L").convert("P")
        p.putpalette([v for c in range(256) for v in (c, c, c)])
        p.save(os.path.join(voc, "SegmentationClass", sid + ".png"))
        ids.append(sid)
    with open(os.path.join(voc, "ImageSets/Segmentation/train.txt"), "w") as f:
        f.write("\n".join(ids) + "\n")
    return voc


def timed(cmd):
    t0 = time.monotonic()
    # Exit status 1 means error findings (the plain folder has collate
    # errors: varied sizes); anything else is a failure of the run.
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode not in (0, 1):
        raise SystemExit("%s failed: %s" % (" ".join(cmd), r.stderr.decode()[-500:]))
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batchscope", required=True)
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        voc = build(tmp, a.images)
        common = ["audit", "--workers", str(a.workers), "--batch-size", "32"]
        with_masks = [a.batchscope] + common[:1] + [voc] + common[1:]
        without = [a.batchscope] + common[:1] + [os.path.join(voc, "JPEGImages")] + common[1:]
        t_masks, t_plain = [], []
        for _ in range(a.runs):
            t_plain.append(timed(without))
            t_masks.append(timed(with_masks))
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        mp, mm = statistics.median(t_plain), statistics.median(t_masks)
        print("images %d, runs %d, workers %d" % (a.images, a.runs, a.workers))
        print("audit without masks (folder): median %.3f s (%.0f img/s)" % (mp, a.images / mp))
        print("audit with masks (voc):       median %.3f s (%.0f img/s)" % (mm, a.images / mm))
        print("ratio with/without: %.2f; peak RSS of any run: %.0f MB" % (mm / mp, rss))


if __name__ == "__main__":
    main()
