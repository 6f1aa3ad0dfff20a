#!/usr/bin/python3
"""Benchmark datasets for batchscope, built from files already on the machine.

  imagenet: ImageNet-sized JPEGs (about 500x375, some portrait) cut from the
            scikit-image sample photos with random crops, resizes, flips and
            JPEG qualities, so decode and resize see varied real-photo content.
            One class folder per source photo (torchvision ImageFolder layout).
  fmnist:   Fashion-MNIST as 28x28 grayscale PNGs, one folder per class.

Usage: bench/make_datasets.py imagenet OUT [--count 1500] [--seed 0]
       bench/make_datasets.py fmnist OUT [--count 10000]
Deterministic for a given seed and count. Uses Debian's python3 (PIL, numpy).
"""
import argparse
import gzip
import os
import random
import sys

import numpy as np
from PIL import Image

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
FMNIST = "/usr/share/datasets/fashion-mnist"
# Photos large enough to crop a 500x375 view from; gray ones are converted to
# RGB (ImageNet has a few gray images too, but most are colour).
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "color.png", "hubble_deep_field.jpg",
          "ihc.png", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg",
          "camera.png", "cell.png", "coins.png", "moon.png", "grass.png", "gravel.png"]
# Output sizes seen most often in ImageNet (landscape, portrait, square-ish).
SIZES = [(500, 375), (500, 375), (500, 375), (500, 333), (375, 500), (333, 500), (500, 400),
         (400, 500), (500, 500), (480, 360), (640, 480), (450, 300)]
FMNIST_CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                  "Sneaker", "Bag", "Ankle_boot"]


def make_imagenet(out, count, seed):
    rng = random.Random(seed)
    sources = []
    for name in PHOTOS:
        im = Image.open(os.path.join(SKIMAGE, name))
        im.load()
        sources.append((os.path.splitext(name)[0], im.convert("RGB")))
    for cls, _ in sources:
        os.makedirs(os.path.join(out, cls), exist_ok=True)
    for i in range(count):
        cls, src = sources[i % len(sources)]
        w, h = SIZES[rng.randrange(len(SIZES))]
        # Crop a random window with the target aspect ratio covering 35-100%
        # of the largest such window, then resize it to the target size.
        sw, sh = src.size
        fit = min(sw / w, sh / h)
        s = fit * rng.uniform(0.35 ** 0.5, 1.0)
        cw, ch = max(8, int(w * s)), max(8, int(h * s))
        x, y = rng.randint(0, sw - cw), rng.randint(0, sh - ch)
        im = src.crop((x, y, x + cw, y + ch))
        im = im.resize((w, h), rng.choice([Image.BILINEAR, Image.BICUBIC, Image.LANCZOS]))
        if rng.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        if rng.random() < 0.2:
            im = im.transpose(Image.FLIP_TOP_BOTTOM)
        quality = rng.choice([75, 85, 90, 95])
        im.save(os.path.join(out, cls, "img_%06d.jpg" % i), "JPEG", quality=quality)
    print("wrote %d JPEGs in %d classes to %s" % (count, len(sources), out))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def make_fmnist(out, count):
    images = read_idx(os.path.join(FMNIST, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz"))
    for cls in FMNIST_CLASSES:
        os.makedirs(os.path.join(out, cls), exist_ok=True)
    count = min(count, len(images))
    for i in range(count):
        Image.fromarray(images[i], mode="L").save(
            os.path.join(out, FMNIST_CLASSES[labels[i]], "%05d.png" % i))
    print("wrote %d PNGs in %d classes to %s" % (count, len(FMNIST_CLASSES), out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("kind", choices=["imagenet", "fmnist"])
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.kind == "imagenet":
        make_imagenet(a.out, a.count or 1500, a.seed)
    else:
        make_fmnist(a.out, a.count or 10000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
