#!/usr/bin/python3
"""Decode-only rate of Pillow (torchvision's loader: open + convert('RGB'))
and of OpenCV's imdecode on one core, over the image files of a folder, for
comparing with batchscope bench's decode share.

  bench/decode_rate.py /tmp/bench-imagenet [--limit 500]
"""
import argparse
import glob
import os
import time

import numpy as np
from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--limit", type=int, default=500)
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.folder, "**", "*.*"), recursive=True))[: a.limit]
    blobs = [open(f, "rb").read() for f in files]  # file reading is not decoding
    import io
    start = time.perf_counter()
    for b in blobs:
        Image.open(io.BytesIO(b)).convert("RGB").load()
    pil = len(blobs) / (time.perf_counter() - start)
    print("pillow_decode_images_per_s=%.1f" % pil)
    try:
        import cv2
        cv2.setNumThreads(1)
        start = time.perf_counter()
        for b in blobs:
            cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)
        print("opencv_decode_images_per_s=%.1f" % (len(blobs) / (time.perf_counter() - start)))
    except ImportError:
        pass


if __name__ == "__main__":
    main()
