#!/usr/bin/python3
"""Regenerates the small committed seed corpora in tests/fuzz/corpus/<target>/.

Seeds are tiny valid files (a few hundred bytes) so the fuzzers start from
every branch of each format; deterministic output (fixed pixels)."""
import gzip, io, json, os, struct, sys, zipfile
import numpy as np
from PIL import Image

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

def pattern(w, h, mode):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 40) % 256, (y * 60) % 256, (x * y * 7) % 256) for y in range(h) for x in range(w)])
    return im.convert(mode) if mode != "RGB" else im

def save(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()

# image_decode: every format and the main modes.
t = "image_decode"
put(t, "rgb.jpg", save(pattern(8, 6, "RGB"), "JPEG", quality=80))
put(t, "gray.jpg", save(pattern(8, 6, "L"), "JPEG"))
put(t, "cmyk.jpg", save(pattern(4, 4, "CMYK"), "JPEG"))
put(t, "prog.jpg", save(pattern(8, 8, "RGB"), "JPEG", progressive=True))
put(t, "rgb.png", save(pattern(5, 4, "RGB"), "PNG"))
put(t, "rgba.png", save(pattern(5, 4, "RGBA"), "PNG"))
put(t, "pal.png", save(pattern(5, 4, "RGB").convert("P", palette=Image.ADAPTIVE, colors=4), "PNG"))
put(t, "gray16.png", save(Image.fromarray(np.arange(20, dtype=np.uint16).reshape(4, 5) * 3000), "PNG"))
put(t, "gray.png", save(pattern(9, 9, "L"), "PNG"))
put(t, "rgb.bmp", save(pattern(5, 3, "RGB"), "BMP"))
put(t, "pal.bmp", save(pattern(5, 3, "RGB").convert("P", palette=Image.ADAPTIVE, colors=4), "BMP"))
put(t, "rgb.tif", save(pattern(5, 3, "RGB"), "TIFF"))
put(t, "lzw.tif", save(pattern(5, 3, "L"), "TIFF", compression="tiff_lzw"))
put(t, "lossy.webp", save(pattern(6, 6, "RGB"), "WEBP", quality=50))
put(t, "lossless.webp", save(pattern(6, 6, "RGBA"), "WEBP", lossless=True))
put(t, "pal.gif", save(pattern(6, 4, "RGB").convert("P", palette=Image.ADAPTIVE, colors=4), "GIF"))
put(t, "rgb.ppm", save(pattern(4, 3, "RGB"), "PPM"))
put(t, "gray.pgm", save(pattern(4, 3, "L"), "PPM"))
put(t, "ascii.ppm", b"P3\n# c\n2 2\n255\n255 0 0 0 255 0\n0 0 255 9 9 9\n")

# numpy: .npy of several dtypes/layouts and an .npz with labels.
t = "numpy"
def npy(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()
put(t, "u8_nhw.npy", npy(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)))
put(t, "u8_nhwc.npy", npy(np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)))
put(t, "f4_nchw.npy", npy(np.linspace(0, 1, 2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)))
put(t, "f2.npy", npy(np.ones((1, 2, 2), dtype=np.float16)))
put(t, "i8.npy", npy(np.arange(8, dtype=np.int64).reshape(2, 2, 2)))
put(t, "b1.npy", npy(np.array([[[True, False]]])))
b = io.BytesIO()
np.savez(b, images=np.zeros((3, 2, 2), np.uint8), labels=np.array([0, 1, 2], np.int64))
put(t, "stored.npz", b.getvalue())
b = io.BytesIO()
np.savez_compressed(b, x=np.ones((2, 2, 2, 1), np.uint8), y=np.array([1, 0], np.uint8))
put(t, "deflated.npz", b.getvalue())

# idx: MNIST-style images files, raw and gzip.
t = "idx"
imgs = struct.pack(">IIII", 0x803, 2, 3, 3) + bytes(range(18))
put(t, "images-idx3-ubyte", imgs)
put(t, "images-idx3-ubyte.gz", gzip.compress(imgs, mtime=0))
put(t, "one.idx", struct.pack(">IIII", 0x803, 1, 1, 1) + b"\x80")

# csv: manifests next to a.png (exists) and b.txt (not an image).
t = "csv"
put(t, "plain.csv", b"a.png,0\na.png,1\n")
put(t, "header.csv", b"path,label\na.png,cat\n\"a.png\",dog\n")
put(t, "quoted.csv", b"\xef\xbb\xbffile,class\r\n\"a.png\",\"x\"\"y\"\r\nmissing.jpg,2\r\n")
put(t, "three.csv", b"id,target,extra\nb.txt,1,z\na.png,-1,w\n")

# pipeline_json: the ops of torchvision 0.14 batchscope knows.
t = "pipeline_json"
stages = [
    [{"op": "Resize", "size": 4}, {"op": "CenterCrop", "size": 3}, {"op": "ToTensor"},
     {"op": "Normalize", "mean": [0.5, 0.5, 0.5], "std": [0.2, 0.2, 0.2]}],
    [{"op": "RandomResizedCrop", "size": [4, 4]}, {"op": "RandomHorizontalFlip", "p": 0.5},
     {"op": "ColorJitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4, "hue": 0.1},
     {"op": "PILToTensor"}],
    [{"op": "Grayscale", "num_output_channels": 3}, {"op": "Pad", "padding": 2, "fill": 0},
     {"op": "RandomCrop", "size": 5, "padding": 1}, {"op": "ToTensor", "enabled": False},
     {"op": "ToTensor"}, {"op": "Lambda", "expr": "x.clamp(0, 1) * 2 - 1"}],
    [{"op": "RandomRotation", "degrees": 10}, {"op": "ToTensor"}, {"op": "RandomErasing", "p": 1.0}],
]
for i, s in enumerate(stages):
    put(t, "p%d.json" % i, json.dumps(s).encode())

# torchvision_text: what print(transforms.Compose([...])) shows.
t = "torchvision_text"
put(t, "imagenet.txt", b"""Compose(
    Resize(size=256, interpolation=bilinear, max_size=None, antialias=None)
    CenterCrop(size=(224, 224))
    ToTensor()
    Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
)""")
put(t, "augment.txt", b"""Compose(
    RandomResizedCrop(size=(32, 32), scale=(0.08, 1.0), ratio=(0.75, 1.3333), interpolation=bilinear), antialias=None)
    RandomHorizontalFlip(p=0.5)
    ColorJitter(brightness=[0.6, 1.4], contrast=[0.6, 1.4], saturation=[0.6, 1.4], hue=[-0.1, 0.1])
    Lambda()
    ToTensor()
)""")
put(t, "single.txt", b"Compose(\n    Grayscale(num_output_channels=1)\n    Pad(padding=4, fill=0, padding_mode=constant)\n    PILToTensor()\n)")
