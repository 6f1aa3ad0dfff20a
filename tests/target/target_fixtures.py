"""Builds VOC-, COCO- and YOLO-style datasets from skimage's real photos in
OUT/{voc,coco,yolo}_{clean,faulty}, with planted faults in the faulty
copies, and prints what was planted as JSON (the test reads it).

Usage: target_fixtures.py OUT
"""
import json
import os
import sys

import numpy as np
from PIL import Image
import skimage

DATA = os.path.join(os.path.dirname(skimage.__file__), "data")
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]


def photos():
    out = []
    for name in PHOTOS:
        im = Image.open(os.path.join(DATA, name)).convert("RGB")
        out.append((os.path.splitext(name)[0], im.resize((im.width // 4, im.height // 4))))
    return out


def voc_palette():
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal += [r, g, b]
    return pal


def class_mask(w, h, cls):
    """Background, one object of class `cls` with a 255 border."""
    m = np.zeros((h, w), np.uint8)
    m[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 255
    m[h // 4 + 2: 3 * h // 4 - 2, w // 4 + 2: 3 * w // 4 - 2] = cls
    return m


def save_palette(mask, path):
    p = Image.fromarray(mask, "L").convert("P")
    p.putpalette(voc_palette())
    p.save(path)


def write_voc(root, faulty):
    d = os.path.join(root, "VOCdevkit", "VOC2012")
    for sub in ["JPEGImages", "SegmentationClass", "ImageSets/Segmentation"]:
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    ids = []
    for k, (stem, im) in enumerate(photos()):
        im.save(os.path.join(d, "JPEGImages", stem + ".jpg"), quality=90)
        mask = class_mask(im.width, im.height, k + 1)
        mpath = os.path.join(d, "SegmentationClass", stem + ".png")
        if faulty and stem == "astronaut":
            # The bug: the mask resized bilinearly as an L image and back.
            L = Image.fromarray(mask, "L")
            L.resize((im.width // 2, im.height // 2), Image.BILINEAR).resize(
                (im.width, im.height), Image.BILINEAR).save(mpath)
        elif faulty and stem == "chelsea":
            save_palette(mask[: im.height // 2, : im.width // 2].copy(), mpath)
        elif faulty and stem == "coffee":
            pass  # no mask
        else:
            save_palette(mask, mpath)
        ids.append(stem)
    if faulty:
        ids.append("ghost")  # listed, no image
    for split in ["train", "trainval"]:
        with open(os.path.join(d, "ImageSets/Segmentation", split + ".txt"), "w") as f:
            f.write("\n".join(ids) + "\n")
    return d


def write_coco(root, faulty):
    img_dir = os.path.join(root, "train2017")
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(os.path.join(root, "annotations"), exist_ok=True)
    images, anns = [], []
    cats = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 17, "name": "cat"}]
    # Ids in reverse file order: CocoDetection sorts them.
    for k, (stem, im) in enumerate(photos()):
        iid = 100 - k
        im.save(os.path.join(img_dir, stem + ".jpg"), quality=90)
        images.append({"id": iid, "file_name": stem + ".jpg", "width": im.width, "height": im.height})
        w, h = im.width, im.height
        bbox = [w * 0.1, h * 0.2, w * 0.5, h * 0.4]
        cat = cats[k % 3]["id"]
        if faulty and stem == "astronaut":
            bbox = [w * 0.6, h * 0.2, w * 0.7, h * 0.4]  # ends at 1.3 w
        elif faulty and stem == "chelsea":
            bbox = [w * 0.1, h * 0.2, 0, h * 0.4]
        elif faulty and stem == "coffee":
            cat = 99
        if faulty and stem == "rocket":
            continue  # image without annotation
        anns.append({"id": len(anns) + 1, "image_id": iid, "bbox": bbox, "category_id": cat,
                     "iscrowd": 0, "area": bbox[2] * bbox[3]})
    if faulty:
        anns.append({"id": len(anns) + 1, "image_id": 7, "bbox": [1, 1, 5, 5], "category_id": 1,
                     "iscrowd": 0, "area": 25})
    doc = {"images": images, "annotations": anns, "categories": cats}
    with open(os.path.join(root, "annotations", "instances_train2017.json"), "w") as f:
        json.dump(doc, f)
    return root


def write_yolo(root, faulty):
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    os.makedirs(os.path.join(root, "labels"), exist_ok=True)
    with open(os.path.join(root, "data.yaml"), "w") as f:
        f.write("path: .\ntrain: images\nnames:\n  0: person\n  1: cat\n  2: rocket\n")
    for k, (stem, im) in enumerate(photos()):
        im.save(os.path.join(root, "images", stem + ".jpg"), quality=90)
        line = "%d 0.5 0.5 0.4 0.6" % (k % 3)
        if faulty and stem == "astronaut":
            line = "0 0.9 0.5 0.4 0.6"  # right edge at 1.1
        elif faulty and stem == "chelsea":
            line = "1 0.5 0.5 0.4 0"
        elif faulty and stem == "coffee":
            line = "7 0.5 0.5 0.4 0.6"
        if faulty and stem == "rocket":
            continue  # image without label file
        with open(os.path.join(root, "labels", stem + ".txt"), "w") as f:
            f.write(line + "\n")
    if faulty:
        with open(os.path.join(root, "labels", "ghost.txt"), "w") as f:
            f.write("0 0.5 0.5 0.1 0.1\n")
    return root


def main():
    out = sys.argv[1]
    result = {}
    for name, fn in [("voc", write_voc), ("coco", write_coco), ("yolo", write_yolo)]:
        for faulty in [False, True]:
            key = name + ("_faulty" if faulty else "_clean")
            result[key] = fn(os.path.join(out, key), faulty)
    result["samples"] = [stem for stem, _ in photos()]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
