#!/usr/bin/python3
"""Regenerates the parity fixtures of tests/test_parity.cpp.

Writes small deterministic test images of every mode batchscope decodes into
images/, and the reference tensors torchvision 0.14 + Pillow 9.4 produce into
references/ (decoded uint8 HWC .npy per image, pipeline outputs per
pipeline/image pair) with references/manifest.json describing each case.
Run with Debian's /usr/bin/python3 (torch, torchvision, PIL, numpy).
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "images")
REFS = os.path.join(HERE, "references")
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"


def pattern(w, h, seed=0):
    """Gradients, a hard diagonal edge, a checker block and a thin line:
    everything resampling filters react to."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1)).astype(np.int32)
    g = (y * 255 // max(h - 1, 1)).astype(np.int32)
    b = np.where(x * h > y * w, 230, 20)
    checker = ((x // 4 + y // 4) % 2 == 0) & (x < w // 3) & (y > h // 2)
    r = np.where(checker, 255, r)
    g = np.where(checker, 0, g)
    b = np.where(y == h // 3, 255 - b, b)
    b = (b + seed * 37) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def png_chunk(tag, data):
    c = struct.pack(">I", len(data)) + tag + data
    return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def write_png_raw(path, width, height, bit_depth, color_type, rows, extra=b""):
    """A minimal PNG writer for what Pillow cannot save (16-bit RGB, 2-bit
    gray, a palette shorter than the indices)."""
    raw = b"".join(b"\x00" + r for r in rows)
    data = b"\x89PNG\r\n\x1a\n"
    data += png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
    data += extra
    data += png_chunk(b"IDAT", zlib.compress(raw, 9))
    data += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def pack_bits(values, bits):
    out = bytearray()
    per = 8 // bits
    for i in range(0, len(values), per):
        byte = 0
        for j in range(per):
            v = values[i + j] if i + j < len(values) else 0
            byte |= (v & ((1 << bits) - 1)) << (8 - bits * (j + 1))
        out.append(byte)
    return bytes(out)


def adam7_png(path, arr, bit_depth, color_type):
    """An interlaced (Adam7) PNG, which Pillow cannot write: every pass is
    its own sub-image of unfiltered rows."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    h, w = arr.shape[:2]
    dtype = ">u2" if bit_depth == 16 else np.uint8
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = arr[y0::dy, x0::dx]
        if sub.shape[0] and sub.shape[1]:
            raw += b"".join(b"\x00" + r.astype(dtype).tobytes() for r in sub)
    data = b"\x89PNG\r\n\x1a\n"
    data += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1))
    data += png_chunk(b"IDAT", zlib.compress(raw, 9))
    data += png_chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def rle8_bmp(path, idx, palette):
    """An 8-bit run-length encoded BMP (BI_RLE8), which Pillow reads but
    cannot write: runs of equal indices, then absolute runs, bottom-up."""
    h, w = idx.shape
    body = bytearray()
    for row in idx[::-1]:
        x = 0
        while x < w:
            n = 1
            while x + n < w and n < 255 and row[x + n] == row[x]:
                n += 1
            if n >= 2:
                body += bytes([n, row[x]])
            else:  # an absolute run of up to 255 literal indices (>= 3, padded to even)
                m = 1
                while x + m < w and m < 255 and not (x + m + 1 < w and row[x + m] == row[x + m + 1]):
                    m += 1
                if m < 3:
                    body += b"".join(bytes([1, v]) for v in row[x:x + m])
                else:
                    body += bytes([0, m]) + bytes(row[x:x + m]) + (b"\x00" if m % 2 else b"")
                n = m
            x += n
        body += b"\x00\x00"  # end of line
    body += b"\x00\x01"  # end of bitmap
    pal = b"".join(bytes([b, g, r, 0]) for r, g, b in palette)
    offset = 14 + 40 + len(pal)
    header = b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(body), 2835, 2835, len(palette), 0)
    with open(path, "wb") as f:
        f.write(header + info + pal + bytes(body))


def ascii_ppm(path, arr):
    """A plain (P3) PPM: decimal samples, several per line."""
    h, w = arr.shape[:2]
    vals = arr.reshape(-1)
    lines = [" ".join(str(v) for v in vals[i:i + 15]) for i in range(0, len(vals), 15)]
    with open(path, "w") as f:
        f.write("P3\n# ascii\n%d %d\n255\n%s\n" % (w, h, "\n".join(lines)))


def write_gif_placed(path, im, screen, offset, **kw):
    """Saves `im` as GIF, then rewrites the logical screen size and the
    frame's position (Pillow always writes frame 0 at 0,0 on its own size)."""
    buf = io.BytesIO()
    im.save(buf, "GIF", **kw)
    d = bytearray(buf.getvalue())
    d[6:10] = struct.pack("<HH", *screen)
    pos = 13 + (3 << ((d[10] & 7) + 1) if d[10] & 0x80 else 0)
    while d[pos] != 0x2C:  # skip extensions up to the image descriptor
        pos += 2
        while d[pos]:
            pos += d[pos] + 1
        pos += 1
    d[pos + 1:pos + 5] = struct.pack("<HH", *offset)
    open(path, "wb").write(bytes(d))


def make_images():
    os.makedirs(IMAGES, exist_ok=True)
    p = pattern(67, 45)
    rgb = Image.fromarray(p, "RGB")
    out = {}

    def save(name, im, **kw):
        path = os.path.join(IMAGES, name)
        im.save(path, **kw)
        out[name] = path

    save("rgb_420.jpg", rgb, quality=90, subsampling=2)
    save("rgb_444.jpg", rgb, quality=95, subsampling=0)
    save("gray.jpg", rgb.convert("L"), quality=90)
    save("cmyk.jpg", rgb.convert("CMYK"), quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6
    save("exif_rot6.jpg", rgb, quality=90, exif=exif.tobytes())
    # CMYK without its Adobe marker: Pillow still reads it as inverted.
    buf = io.BytesIO()
    rgb.convert("CMYK").save(buf, "JPEG", quality=90)
    d = buf.getvalue()
    at = d.find(b"\xff\xee")
    d = d[:at] + d[at + 2 + ((d[at + 2] << 8) | d[at + 3]):]
    open(os.path.join(IMAGES, "cmyk_no_adobe.jpg"), "wb").write(d)
    out["cmyk_no_adobe.jpg"] = os.path.join(IMAGES, "cmyk_no_adobe.jpg")
    save("rgb.png", rgb)
    a = np.dstack([p, (np.arange(67)[None, :] * 3 + np.arange(45)[:, None]).astype(np.uint8)])
    save("rgba.png", Image.fromarray(a, "RGBA"))
    save("l.png", rgb.convert("L"))
    save("la.png", Image.fromarray(a[:, :, [0, 3]], "LA"))
    pal = rgb.quantize(colors=40)
    save("p_trns.png", pal, transparency=3)
    save("p_4bit.png", rgb.quantize(colors=12), bits=4)
    save("bilevel.png", rgb.convert("1"))
    g16 = (np.arange(67)[None, :] * 9 + np.arange(45)[:, None] * 3).astype(np.uint16)
    save("gray16.png", Image.fromarray(g16.astype(np.int32), "I"))
    # 16-bit RGB: Pillow keeps the high byte; low bytes are noise to catch
    # rounding instead of truncation.
    rgb16 = p.astype(np.uint16) * 257 + ((np.arange(p.size) * 97) % 256).reshape(p.shape).astype(np.uint16) - 128
    rows = [rgb16[y].astype(">u2").tobytes() for y in range(45)]
    write_png_raw(os.path.join(IMAGES, "rgb16.png"), 67, 45, 16, 2, rows)
    out["rgb16.png"] = os.path.join(IMAGES, "rgb16.png")
    g2 = (np.arange(67 * 45) % 4).tolist()
    rows = [pack_bits(g2[y * 67:(y + 1) * 67], 2) for y in range(45)]
    write_png_raw(os.path.join(IMAGES, "gray2.png"), 67, 45, 2, 0, rows)
    out["gray2.png"] = os.path.join(IMAGES, "gray2.png")
    # Palette of 5 entries but indices up to 9: Pillow maps them to gray.
    plte = png_chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 200, 100, 50]))
    idx = (np.arange(20 * 10) % 10).astype(np.uint8).reshape(10, 20)
    write_png_raw(os.path.join(IMAGES, "p_short.png"), 20, 10, 8, 3, [r.tobytes() for r in idx], plte)
    out["p_short.png"] = os.path.join(IMAGES, "p_short.png")
    save("rgb.bmp", rgb)
    save("p.bmp", rgb.quantize(colors=30))
    save("l.bmp", rgb.convert("L"))  # a gray palette: Pillow says L
    save("rgb.tif", rgb)
    save("gray16.tif", Image.fromarray(g16, "I;16"))
    save("lossy.webp", rgb, quality=80)
    save("lossless.webp", rgb, lossless=True)
    save("rgb.ppm", rgb)
    save("l.pgm", rgb.convert("L"))
    # GIF, first frame: palette (interlaced, Pillow's default, and not), a
    # gray ramp palette (mode L), and frames placed on a larger logical
    # screen (filled with the transparency index) or growing past it.
    save("p.gif", rgb.quantize(colors=64))
    save("p_progressive_rows.gif", rgb.quantize(colors=64), interlace=False)
    ramp = Image.fromarray(np.asarray(rgb.convert("L")), "L").convert("P")
    ramp.putpalette([v for i in range(256) for v in (i, i, i)])
    save("l.gif", ramp, optimize=False)  # an identity gray palette: Pillow says L
    small = rgb.crop((0, 0, 20, 10)).quantize(colors=16)
    write_gif_placed(os.path.join(IMAGES, "p_placed_trns.gif"), small, (31, 17), (5, 3), transparency=2)
    out["p_placed_trns.gif"] = os.path.join(IMAGES, "p_placed_trns.gif")
    write_gif_placed(os.path.join(IMAGES, "p_grows.gif"), small, (10, 6), (4, 2))
    out["p_grows.gif"] = os.path.join(IMAGES, "p_grows.gif")
    # Modes and encodings beyond the basics (each must equal Pillow too).
    def raw(name, writer, *args):
        path = os.path.join(IMAGES, name)
        writer(path, *args)
        out[name] = path

    save("pa.tif", rgb.quantize(colors=20).convert("PA"))
    raw("interlaced.png", adam7_png, p, 8, 2)
    save("progressive.jpg", rgb, quality=90, progressive=True)
    save("rgba_lossless.webp", Image.fromarray(a, "RGBA"), lossless=True)
    save("rgba_lossy.webp", Image.fromarray(a, "RGBA"), quality=80)
    save("cmyk.tif", rgb.convert("CMYK"))
    save("rgba.tif", Image.fromarray(a, "RGBA"))
    save("p.tif", rgb.quantize(colors=24))
    save("lzw.tif", rgb, compression="tiff_lzw")
    save("deflate.tif", rgb, compression="tiff_adobe_deflate")
    save("packbits.tif", rgb, compression="packbits")
    save("rgba32.bmp", Image.fromarray(a, "RGBA"))  # 32 bits per pixel
    q = rgb.quantize(colors=16)
    pal = q.getpalette()[:48]
    raw("rle8.bmp", rle8_bmp, np.asarray(q), [tuple(pal[i:i + 3]) for i in range(0, 48, 3)])
    save("gray16.pgm", Image.fromarray(g16.astype(np.int32) * 20, "I"))  # maxval 65535
    save("bilevel.pbm", rgb.convert("1"))
    raw("ascii.ppm", ascii_ppm, p)
    rgba16 = np.dstack([rgb16, (a[:, :, 3].astype(np.uint16) * 257 + 77)])
    raw("rgba16.png", write_png_raw, 67, 45, 16, 6, [rgba16[y].astype(">u2").tobytes() for y in range(45)])
    la16 = rgba16[:, :, [1, 3]]
    raw("la16.png", write_png_raw, 67, 45, 16, 4, [la16[y].astype(">u2").tobytes() for y in range(45)])
    # Real photos, downsized with Pillow so the files stay small.
    chelsea = Image.open(os.path.join(SKIMAGE, "chelsea.png")).convert("RGB")
    save("photo_chelsea.jpg", chelsea.resize((301, 200), Image.BICUBIC), quality=88)
    coffee = Image.open(os.path.join(SKIMAGE, "coffee.png")).convert("RGB")
    save("photo_coffee.png", coffee.resize((150, 100), Image.LANCZOS))
    return out


IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}

# name -> (stages, images it runs on)
COMMON = ["rgb.png", "photo_chelsea.jpg", "l.png"]
PIPELINES = {
    "resize_int_bilinear": ([{"op": "Resize", "size": 24}], COMMON),
    "resize_hw_nearest": ([{"op": "Resize", "size": [20, 37], "interpolation": "nearest"}], COMMON),
    "resize_hw_bicubic": ([{"op": "Resize", "size": [31, 17], "interpolation": "bicubic"}], COMMON),
    "resize_up_bicubic": ([{"op": "Resize", "size": 90, "interpolation": "bicubic"}], ["rgb.png", "p_trns.png"]),
    "resize_up_bilinear": ([{"op": "Resize", "size": [70, 101]}], ["rgb.png", "gray.jpg"]),
    "resize_up_nearest": ([{"op": "Resize", "size": 77, "interpolation": "nearest"}], ["rgb.png"]),
    "resize_max_size": ([{"op": "Resize", "size": 30, "max_size": 40}], COMMON),
    "centercrop": ([{"op": "CenterCrop", "size": 32}], COMMON),
    "centercrop_larger": ([{"op": "CenterCrop", "size": [52, 71]}], ["rgb.png", "l.png"]),
    "resize_centercrop": ([{"op": "Resize", "size": 40}, {"op": "CenterCrop", "size": 33}], COMMON),
    "pad_constant": ([{"op": "Pad", "padding": 3, "fill": 7}], ["rgb.png"]),
    "pad_edge": ([{"op": "Pad", "padding": [2, 4], "padding_mode": "edge"}], ["rgb.png"]),
    "pad_reflect": ([{"op": "Pad", "padding": [1, 2, 3, 4], "padding_mode": "reflect"}], ["rgb.png"]),
    "pad_symmetric": ([{"op": "Pad", "padding": [4, 3, 2, 1], "padding_mode": "symmetric"}], ["rgb.png"]),
    "hflip": ([{"op": "RandomHorizontalFlip", "p": 1.0}], ["rgb.png"]),
    "vflip": ([{"op": "RandomVerticalFlip", "p": 1.0}], ["rgb.png"]),
    "grayscale1": ([{"op": "Grayscale", "num_output_channels": 1}], ["rgb.png", "photo_chelsea.jpg"]),
    "grayscale3": ([{"op": "Grayscale", "num_output_channels": 3}], ["rgb.png"]),
    "totensor": ([{"op": "ToTensor"}], ["rgb.png", "rgba.png"]),
    "piltotensor_convert": ([{"op": "PILToTensor"}, {"op": "ConvertImageDtype", "dtype": "float32"}], ["rgb.png"]),
    "normalize": ([{"op": "ToTensor"}, dict(op="Normalize", **IMAGENET)], ["rgb.png"]),
    "tensor_resize_bilinear": ([{"op": "ToTensor"}, {"op": "Resize", "size": [20, 30]}], ["rgb.png", "photo_chelsea.jpg"]),
    "tensor_resize_bicubic": ([{"op": "ToTensor"}, {"op": "Resize", "size": [50, 80], "interpolation": "bicubic"}], ["rgb.png"]),
    "tensor_resize_nearest": ([{"op": "ToTensor"}, {"op": "Resize", "size": 23, "interpolation": "nearest"}], ["rgb.png"]),
    "resize_hw_box": ([{"op": "Resize", "size": [29, 41], "interpolation": "box"}], COMMON),
    "resize_hw_hamming": ([{"op": "Resize", "size": [29, 41], "interpolation": "hamming"}], COMMON),
    "resize_hw_lanczos": ([{"op": "Resize", "size": [29, 41], "interpolation": "lanczos"}], COMMON),
    "resize_up_lanczos": ([{"op": "Resize", "size": 83, "interpolation": "lanczos"}], ["rgb.png"]),
    # Random stages whose parameters leave one possible draw: the box is
    # the whole image (scale 1, ratio exactly W/H of the 67x45 input), the
    # crop is the whole padded image. torchvision's own random classes run.
    "rrc_given_box": ([{"op": "RandomResizedCrop", "size": [30, 20], "scale": [1.0, 1.0],
                        "ratio": [67 / 45, 67 / 45], "interpolation": "bicubic"}], ["rgb.png"]),
    "randomcrop_given_box": ([{"op": "RandomCrop", "size": [51, 71], "padding": [2, 3], "padding_mode": "reflect"}],
                             ["rgb.png"]),
    "imagenet_eval": ([{"op": "Resize", "size": 256}, {"op": "CenterCrop", "size": 224}, {"op": "ToTensor"},
                       dict(op="Normalize", **IMAGENET)], ["photo_chelsea.jpg"]),
}

INTERP = {"nearest": T.InterpolationMode.NEAREST, "bilinear": T.InterpolationMode.BILINEAR,
          "bicubic": T.InterpolationMode.BICUBIC, "box": T.InterpolationMode.BOX,
          "hamming": T.InterpolationMode.HAMMING, "lanczos": T.InterpolationMode.LANCZOS}


def build(stage):
    op = stage["op"]
    kw = {k: v for k, v in stage.items() if k != "op"}
    if "interpolation" in kw:
        kw["interpolation"] = INTERP[kw["interpolation"]]
    if op == "ConvertImageDtype":
        return T.ConvertImageDtype(torch.float32)
    if op == "Pad" and isinstance(kw.get("padding"), list):
        kw["padding"] = list(kw["padding"])
    return getattr(T, op)(**kw)


def main():
    print("torch", torch.__version__, "torchvision", torchvision.__version__, "PIL", Image.__version__)
    images = make_images()
    os.makedirs(REFS, exist_ok=True)
    manifest = {"decode": [], "pipelines": []}
    for name in sorted(images):
        im = Image.open(images[name])
        mode = im.mode
        orientation = im.getexif().get(0x0112, 1)
        arr = np.asarray(im.convert("RGB"))
        ref = "decode_" + name.replace(".", "_") + ".npy"
        np.save(os.path.join(REFS, ref), arr)
        manifest["decode"].append({"image": name, "reference": ref, "mode": mode, "format": im.format,
                                   "width": im.width, "height": im.height, "exif_orientation": orientation})
    for pname, (stages, names) in PIPELINES.items():
        with open(os.path.join(REFS, pname + ".json"), "w") as f:
            json.dump(stages, f, indent=1)
        tf = T.Compose([build(s) for s in stages])
        for name in names:
            out = tf(Image.open(images[name]).convert("RGB"))
            if isinstance(out, torch.Tensor):
                arr = out.numpy().astype(np.float32)
                kind = "tensor"
            else:
                arr = np.asarray(out)
                kind = "image"
            ref = pname + "__" + name.replace(".", "_") + ".npy"
            np.save(os.path.join(REFS, ref), arr)
            std = next((s["std"] for s in stages if s["op"] == "Normalize"), None)
            manifest["pipelines"].append({"pipeline": pname + ".json", "image": name, "reference": ref,
                                          "kind": kind, "shape": list(arr.shape), "std": std})
    with open(os.path.join(REFS, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = lambda d: sum(os.path.getsize(os.path.join(d, x)) for x in os.listdir(d))
    print("images: %d files, %d bytes; references: %d files, %d bytes" % (
        len(os.listdir(IMAGES)), total(IMAGES), len(os.listdir(REFS)), total(REFS)))


if __name__ == "__main__":
    sys.exit(main())
