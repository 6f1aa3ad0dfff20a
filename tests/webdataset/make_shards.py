"""Builds the WebDataset fixtures of the shard tests in OUT (a temp dir).

OUT/folder        an ImageFolder: real photos from skimage (files copied as
                  they are, some JPEG, some RGBA/palette/grey PNG) and
                  Fashion-MNIST digits written as grey PNGs, in 3 classes;
                  sample 0 appears again last in class 'a' (a duplicate)
OUT/shards        the same samples as 4 WebDataset shards, in ImageFolder
                  order (key.<ext> + key.cls; the duplicate's two copies sit
                  in shards 0 and 1), classes.txt beside them
OUT/gz, OUT/zst  the same shards as .tar.gz and .tar.zst (zst when the zstd
                  command exists), classes.txt beside them
OUT/damaged       a good shard, a shard cut in the middle of a member, and a
                  shard with a non-image member named .png, a key with no
                  image, a key with two images; then good samples again
Usage: make_shards.py OUT
"""
import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile

from PIL import Image

PHOTOS = "/usr/lib/python3/dist-packages/skimage/data"
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def fashion(count):
    with gzip.open(FASHION, "rb") as f:
        data = f.read()
    out = []
    for i in range(count):
        off = 16 + i * 784
        out.append(Image.frombytes("L", (28, 28), data[off:off + 784]))
    return out


def png_bytes(img):
    b = io.BytesIO()
    img.save(b, format="PNG")
    return b.getvalue()


def build_folder(root):
    photos = ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg",
              "green_palette.png", "horse.png", "coins.png", "color.png", "brick.png", "grass.png"]
    classes = {"a": [], "b": [], "c": []}
    for i, name in enumerate(photos):
        with open(os.path.join(PHOTOS, name), "rb") as f:
            data = f.read()
        # Photos are large: keep the test quick with a thumbnail in the same mode.
        img = Image.open(io.BytesIO(data))
        img.thumbnail((96, 96))
        ext = "jpg" if name.endswith(".jpg") else "png"
        b = io.BytesIO()
        img.save(b, format="JPEG" if ext == "jpg" else "PNG")
        classes["abc"[i % 3]].append(("p%02d.%s" % (i, ext), b.getvalue()))
    for i, img in enumerate(fashion(30)):
        classes["abc"[i % 3]].append(("f%02d.png" % i, png_bytes(img)))
    # The duplicate: the first sample of class a (index 0) again, last in class a.
    first = sorted(classes["a"])[0]
    classes["a"].append(("z_dup." + first[0].rsplit(".", 1)[1], first[1]))
    samples = []
    for label, cls in enumerate(sorted(classes)):
        os.makedirs(os.path.join(root, cls))
        for name, data in sorted(classes[cls]):
            with open(os.path.join(root, cls, name), "wb") as f:
                f.write(data)
            samples.append((cls, name, data, label))
    return samples


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def add_sample(tar, cls, name, data, label):
    stem, ext = name.rsplit(".", 1)
    key = "%s_%s" % (cls, stem)
    add(tar, key + "." + ext, data)
    add(tar, key + ".cls", str(label).encode())


def build_shards(root, samples):
    os.makedirs(root)
    n = len(samples)
    # Shard 0 ends just after the first photo of class a; the duplicate
    # (last of class a) lies in shard 1.
    cuts = [0, 1, n // 2, 3 * n // 4, n]
    for s in range(4):
        with tarfile.open(os.path.join(root, "shard-%06d.tar" % s), "w", format=tarfile.USTAR_FORMAT) as tar:
            for cls, name, data, label in samples[cuts[s]:cuts[s + 1]]:
                add_sample(tar, cls, name, data, label)
    with open(os.path.join(root, "classes.txt"), "w") as f:
        f.write("a\nb\nc\n")


def build_long_names(root, samples, tar_format):
    """One shard whose member names pass tar's 100-character field: the
    format adds a header (PAX 'x' or GNU 'L') before each member's own."""
    os.makedirs(root)
    folder = "/".join(["a_rather_long_folder_name_%d" % i for i in range(5)])
    with tarfile.open(os.path.join(root, "shard-000000.tar"), "w", format=tar_format) as tar:
        for cls, name, data, label in samples:
            stem, ext = name.rsplit(".", 1)
            key = "%s/%s_%s" % (folder, cls, stem)
            add(tar, key + "." + ext, data)
            add(tar, key + ".cls", str(label).encode())
    with open(os.path.join(root, "classes.txt"), "w") as f:
        f.write("a\nb\nc\n")


def build_damaged(root, samples):
    os.makedirs(root)
    good = samples[:6]
    with tarfile.open(os.path.join(root, "d-000000.tar"), "w", format=tarfile.USTAR_FORMAT) as tar:
        for s in good[:3]:
            add_sample(tar, *s)
    # Truncated: written whole, then cut inside the data of its 3rd member.
    full = os.path.join(root, "d-000001.tar")
    with tarfile.open(full, "w", format=tarfile.USTAR_FORMAT) as tar:
        for s in good[3:6]:
            add_sample(tar, *s)
    with tarfile.open(full) as tar:
        members = tar.getmembers()
    cut = members[2].offset_data + members[2].size // 2
    with open(full, "r+b") as f:
        f.truncate(cut)
    with tarfile.open(os.path.join(root, "d-000002.tar"), "w", format=tarfile.USTAR_FORMAT) as tar:
        add(tar, "notimage.png", b"this is text, not a PNG\n")
        add(tar, "notimage.cls", b"1")
        add(tar, "noimage.cls", b"2")
        add(tar, "twice.png", samples[0][2])
        add(tar, "twice.jpg", samples[1][2])
        add(tar, "twice.cls", b"0")
        for s in samples[6:9]:
            add_sample(tar, *s)


def build_compressed(shards, gz, zst):
    os.makedirs(gz)
    have_zstd = shutil.which("zstd") is not None
    if have_zstd:
        os.makedirs(zst)
    for name in sorted(os.listdir(shards)):
        src = os.path.join(shards, name)
        if not name.endswith(".tar"):
            shutil.copy(src, gz)
            if have_zstd:
                shutil.copy(src, zst)
            continue
        with open(src, "rb") as f, gzip.open(os.path.join(gz, name + ".gz"), "wb") as g:
            g.write(f.read())
        if have_zstd:
            subprocess.run(["zstd", "-q", "-o", os.path.join(zst, name + ".zst"), src], check=True)


def main():
    out = sys.argv[1]
    samples = build_folder(os.path.join(out, "folder"))
    build_shards(os.path.join(out, "shards"), samples)
    build_compressed(os.path.join(out, "shards"), os.path.join(out, "gz"), os.path.join(out, "zst"))
    build_long_names(os.path.join(out, "pax"), samples, tarfile.PAX_FORMAT)
    build_long_names(os.path.join(out, "gnu"), samples, tarfile.GNU_FORMAT)
    build_damaged(os.path.join(out, "damaged"), samples)
    print(len(samples))


if __name__ == "__main__":
    main()
