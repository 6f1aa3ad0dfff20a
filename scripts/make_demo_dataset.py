#!/usr/bin/python3
"""Builds resources/demo, the built-in demo dataset, from python3-skimage's
sample photos. The result is committed; rerun only to change it.

It is an ImageFolder with a few real photos and planted problems, so that the
first thing a new user sees is batchscope naming each one:
  objects/broken.jpg     truncated JPEG (skimage's truncated.jpg)
  people/notes.png       a text file with an image extension
  animals/rotated.jpg    EXIF orientation 6 (torchvision ignores it)
  objects/cat.jpg        the same pixels as animals/chelsea.jpg, other label
  science/camera.png     grayscale source, converted to RGB
  objects/logo.png       RGBA source, alpha dropped
  science/palette.png    palette source
and resources/demo-pipeline.json normalizes each image by its own sum
(`x / (x.sum() + 1e-9)`), a transform bug that collapses the value range.
"""
import json
import os
import shutil

from PIL import Image

SK = "/usr/lib/python3/dist-packages/skimage/data"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources")
OUT = os.path.join(ROOT, "demo")


def small(name, size=200):
    im = Image.open(os.path.join(SK, name))
    im.thumbnail((size, size), Image.Resampling.LANCZOS)
    return im


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for d in ("animals", "objects", "people", "science"):
        os.makedirs(os.path.join(OUT, d))
    save = lambda im, rel, **kw: im.save(os.path.join(OUT, rel), **kw)
    save(small("astronaut.png").convert("RGB"), "people/astronaut.jpg", quality=90)
    cat = small("chelsea.png").convert("RGB")
    save(cat, "animals/chelsea.jpg", quality=90)
    shutil.copy(os.path.join(OUT, "animals/chelsea.jpg"), os.path.join(OUT, "objects/cat.jpg"))
    exif = Image.Exif()
    exif[0x0112] = 6
    save(small("coffee.png").convert("RGB"), "animals/rotated.jpg", quality=90, exif=exif)
    save(small("coffee.png").convert("RGB").rotate(90, expand=True), "objects/coffee.jpg", quality=90)
    save(small("rocket.jpg").convert("RGB"), "objects/rocket.jpg", quality=90)
    save(small("motorcycle_left.png").convert("RGB"), "objects/motorcycle.jpg", quality=90)
    save(small("logo.png"), "objects/logo.png")
    save(small("hubble_deep_field.jpg").convert("RGB"), "science/hubble.jpg", quality=90)
    save(small("retina.jpg").convert("RGB"), "science/retina.jpg", quality=90)
    save(small("camera.png"), "science/camera.png")
    save(small("coins.png"), "science/coins.png")
    shutil.copy(os.path.join(SK, "palette_color.png"), os.path.join(OUT, "science/palette.png"))
    shutil.copy(os.path.join(SK, "truncated.jpg"), os.path.join(OUT, "objects/broken.jpg"))
    with open(os.path.join(OUT, "people/notes.png"), "w") as f:
        f.write("meeting notes, not an image\n")
    pipeline = [
        {"op": "Resize", "size": 144},
        {"op": "CenterCrop", "size": 128},
        {"op": "ToTensor"},
        {"op": "Lambda", "expr": "x / (x.sum() + 1e-9)"},
        {"op": "Normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    ]
    with open(os.path.join(ROOT, "demo-pipeline.json"), "w") as f:
        json.dump(pipeline, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
