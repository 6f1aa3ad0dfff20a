#!/usr/bin/python3
"""Writes tests/target/reference/pipeline_targets.json: a small mask and
boxes through each geometric stage with fixed parameters, computed with
Debian's torchvision 0.14 functional API (masks as PIL L images resampled
NEAREST unless stated; boxes as references/detection/transforms.py moves
them). Random stages are given their drawn parameters, which the C++ test
passes to Transform::applyToTarget as `drawn`.

Run: /usr/bin/python3 tests/target/make_pipeline_references.py
"""
import json
import os

import numpy as np
import torch
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

W, H = 23, 17


def input_mask():
    rng = np.random.RandomState(17)
    m = rng.randint(0, 6, size=(H, W)).astype(np.uint8)
    m[0, :] = 255  # an ignore border on one side
    return m


BOXES = [[1.5, 2.0, 9.0, 12.5], [12.0, 1.0, 22.0, 6.0], [0.0, 14.0, 4.0, 17.0],
         [18.0, 10.0, 23.0, 16.0]]
LABELS = [1, 2, 3, 4]


def clip_and_drop(boxes, labels, w, h):
    b = boxes.clone()
    b[:, 0::2] = b[:, 0::2].clamp(0, w)
    b[:, 1::2] = b[:, 1::2].clamp(0, h)
    keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return b[keep], [l for l, k in zip(labels, keep.tolist()) if k], int((~keep).sum())


def shifted(boxes, dx, dy):
    b = boxes.clone()
    b[:, 0::2] += dx
    b[:, 1::2] += dy
    return b


def scaled(boxes, sx, sy):
    b = boxes.clone()
    b[:, 0::2] *= sx
    b[:, 1::2] *= sy
    return b


def case(stage, drawn, mask_img, boxes, labels, dropped=0):
    arr = np.asarray(mask_img)
    return {"stage": stage, "drawn": drawn, "mask": arr.tolist(),
            "boxes": boxes.tolist(), "labels": labels, "dropped": dropped}


def center_crop_offsets(th, tw):
    # F.center_crop: pad when smaller, then top = int(round((h - th) / 2.0)).
    pl = (tw - W) // 2 if tw > W else 0
    pt = (th - H) // 2 if th > H else 0
    w = W + (pl + (tw - W + 1) // 2 if tw > W else 0)
    h = H + (pt + (th - H + 1) // 2 if th > H else 0)
    return pl - int(round((w - tw) / 2.0)), pt - int(round((h - th) / 2.0))


def main():
    mask = Image.fromarray(input_mask(), "L")
    boxes = torch.tensor(BOXES, dtype=torch.float64)
    cases = []

    for size in ([11, 31], [9], [40, 8]):
        out = F.resize(mask, size, InterpolationMode.NEAREST)
        b = scaled(boxes, out.width / W, out.height / H)
        cases.append(case({"op": "Resize", "size": size}, {}, out, b, LABELS))
    out = F.resize(mask, [11, 31], InterpolationMode.BILINEAR)
    cases.append(case({"op": "Resize", "size": [11, 31], "mask_interpolation": "bilinear"}, {},
                      out, scaled(boxes, 31 / W, 11 / H), LABELS))

    for th, tw in ([9, 13], [21, 27]):
        dx, dy = center_crop_offsets(th, tw)
        b, labels, dropped = clip_and_drop(shifted(boxes, dx, dy), LABELS, tw, th)
        cases.append(case({"op": "CenterCrop", "size": [th, tw]}, {},
                          F.center_crop(mask, [th, tw]), b, labels, dropped))

    top, left, th, tw = 3, 5, 9, 12
    b, labels, dropped = clip_and_drop(shifted(boxes, -left, -top), LABELS, tw, th)
    cases.append(case({"op": "RandomCrop", "size": [th, tw]},
                      {"top": top, "left": left, "height": th, "width": tw,
                       "padding": [0, 0, 0, 0]},
                      F.crop(mask, top, left, th, tw), b, labels, dropped))
    b, labels, dropped = clip_and_drop(shifted(boxes, 2 - 1, 2 - 0), LABELS, tw, th)
    cases.append(case({"op": "RandomCrop", "size": [th, tw], "padding": 2},
                      {"top": 0, "left": 1, "height": th, "width": tw, "padding": [2, 2, 2, 2]},
                      F.crop(F.pad(mask, 2), 0, 1, th, tw), b, labels, dropped))
    # The segmentation references pad the target with 255 (their ignore index).
    cases.append(case({"op": "RandomCrop", "size": [th, tw], "padding": 2, "mask_fill": 255},
                      {"top": 0, "left": 1, "height": th, "width": tw, "padding": [2, 2, 2, 2]},
                      F.crop(F.pad(mask, 2, fill=255), 0, 1, th, tw), b, labels, dropped))

    top, left, h, w = 2, 4, 8, 12
    b, labels, dropped = clip_and_drop(shifted(boxes, -left, -top), LABELS, w, h)
    cases.append(case({"op": "RandomResizedCrop", "size": [10, 14]},
                      {"top": top, "left": left, "height": h, "width": w},
                      F.resized_crop(mask, top, left, h, w, [10, 14], InterpolationMode.NEAREST),
                      scaled(b, 14 / w, 10 / h), labels, dropped))

    b = boxes.clone()
    b[:, [0, 2]] = W - boxes[:, [2, 0]]  # references/detection/transforms.py
    cases.append(case({"op": "RandomHorizontalFlip", "p": 0.5}, {"flipped": True},
                      F.hflip(mask), b, LABELS))
    cases.append(case({"op": "RandomHorizontalFlip", "p": 0.5}, {"flipped": False}, mask,
                      boxes, LABELS))
    b = boxes.clone()
    b[:, [1, 3]] = H - boxes[:, [3, 1]]
    cases.append(case({"op": "RandomVerticalFlip", "p": 0.5}, {"flipped": True},
                      F.vflip(mask), b, LABELS))

    cases.append(case({"op": "Pad", "padding": [1, 2, 3, 4]}, {}, F.pad(mask, [1, 2, 3, 4]),
                      shifted(boxes, 1, 2), LABELS))
    cases.append(case({"op": "Pad", "padding": [1, 2, 3, 4], "mask_fill": 255}, {},
                      F.pad(mask, [1, 2, 3, 4], fill=255), shifted(boxes, 1, 2), LABELS))
    cases.append(case({"op": "Pad", "padding": [2, 1], "padding_mode": "reflect"}, {},
                      F.pad(mask, [2, 1], padding_mode="reflect"), shifted(boxes, 2, 1), LABELS))

    ref = {"width": W, "height": H, "mask": input_mask().tolist(), "boxes": BOXES,
           "labels": LABELS, "cases": cases}
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference",
                       "pipeline_targets.json")
    with open(out, "w") as f:
        json.dump(ref, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
