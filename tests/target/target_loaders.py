"""Real detection / segmentation loaders over the datasets of
target_fixtures.py, dumped with batchscope_dump for tests/test_compare_targets.cpp:

    target_loaders.py PYTHON_DIR FIXTURES MODE OUT_DIR

MODE (the planted problem, or none):
  voc_joint_bilinear   a user dataset whose joint transform resizes the mask
                       tensor with the image's default (bilinear) interpolation
  voc_joint_nearest    the same with NEAREST (clean)
  voc_tv_mask_kept     torchvision VOCSegmentation: the image is resized, the
                       mask only turned into a tensor
  voc_tv_mask_resized  the same with the mask resized by NEAREST (clean)
  voc_tv_mask_totensor the mask through ToTensor (divided by 255)
  coco_boxes_kept      a user COCO dataset: the image is resized, the boxes not
  gray_targets         not a segmentation loader: (image, its grey version)
                       pairs, float (N, 1, H, W) targets over a plain image
                       folder (clean: nothing to judge as a mask)
  coco_boxes_raw       no resize, images of different sizes, the detection
                       collate tuple(zip(*batch)), a CocoDetection-like class
                       that does not keep its annotation path (clean)
"""
import json
import os
import sys

sys.path.insert(0, sys.argv[1])
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image
from batchscope_dump import dump_batches

fixtures, mode, out = sys.argv[2], sys.argv[3], sys.argv[4]
SIZE = (56, 72)  # no integer ratio to any photo: interpolation must mix edges


class JointVoc(torch.utils.data.Dataset):
    """A home-made VOC reader, as many training scripts have one."""

    def __init__(self, root, interpolation):
        self.root = root
        with open(os.path.join(root, "ImageSets", "Segmentation", "train.txt")) as f:
            self.ids = [line.strip() for line in f if line.strip()]
        self.interpolation = interpolation

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        image = Image.open(os.path.join(self.root, "JPEGImages", self.ids[i] + ".jpg")).convert("RGB")
        mask = Image.open(os.path.join(self.root, "SegmentationClass", self.ids[i] + ".png"))
        image = F.to_tensor(F.resize(image, SIZE))
        mask = F.resize(F.pil_to_tensor(mask), SIZE, interpolation=self.interpolation)
        return image, mask[0].long()


class CocoBoxes(torch.utils.data.Dataset):
    """A home-made COCO reader returning torchvision-style target dicts."""

    def __init__(self, root, ann_file, transform):
        self.root, self.ann_file, self.transform = root, ann_file, transform
        with open(ann_file) as f:
            doc = json.load(f)
        self.images = {im["id"]: im for im in doc["images"]}
        self.ids = sorted(self.images)
        self.anns = {}
        for a in doc["annotations"]:
            self.anns.setdefault(a["image_id"], []).append(a)

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        info = self.images[self.ids[i]]
        image = Image.open(os.path.join(self.root, info["file_name"])).convert("RGB")
        anns = self.anns.get(self.ids[i], [])
        boxes = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                               a["bbox"][1] + a["bbox"][3]] for a in anns], dtype=torch.float32)
        labels = torch.tensor([a["category_id"] for a in anns], dtype=torch.int64)
        return self.transform(image), {"boxes": boxes.reshape(-1, 4), "labels": labels}


class CocoLike(CocoBoxes):
    """Keeps what torchvision's CocoDetection keeps (root, coco, ids) and not
    the annotation file's path, as pycocotools' COCO does not: the dump finds
    the file beside the image root."""

    def __init__(self, root, ann_file, transform):
        super().__init__(root, ann_file, transform)
        del self.ann_file
        self.coco = object()


class GrayPairs(torch.utils.data.Dataset):
    """An autoencoder-style dataset: the target is an image, not a mask."""

    def __init__(self, root):
        self.root = root
        self.files = sorted(os.listdir(root))

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        image = F.to_tensor(F.resize(Image.open(os.path.join(self.root, self.files[i])).convert("RGB"), SIZE))
        return image, image.mean(0, keepdim=True)


def detection_collate(batch):
    return tuple(zip(*batch))


voc = os.path.join(fixtures, "voc_clean")
voc_year = os.path.join(voc, "VOCdevkit", "VOC2012")
coco = os.path.join(fixtures, "coco_clean")
collate, batch_size = None, 2
if mode == "voc_joint_bilinear":
    ds = JointVoc(voc_year, T.InterpolationMode.BILINEAR)
elif mode == "voc_joint_nearest":
    ds = JointVoc(voc_year, T.InterpolationMode.NEAREST)
elif mode.startswith("voc_tv_"):
    target = {
        "voc_tv_mask_kept": T.PILToTensor(),
        "voc_tv_mask_resized": T.Compose([T.Resize(SIZE, interpolation=T.InterpolationMode.NEAREST),
                                          T.PILToTensor()]),
        "voc_tv_mask_totensor": T.Compose([T.Resize(SIZE, interpolation=T.InterpolationMode.NEAREST),
                                           T.ToTensor()]),
    }[mode]
    ds = torchvision.datasets.VOCSegmentation(voc, year="2012", image_set="train",
                                              transform=T.Compose([T.Resize(SIZE), T.ToTensor()]),
                                              target_transform=target)
    batch_size = 1 if mode == "voc_tv_mask_kept" else 2  # raw masks differ in size
elif mode == "coco_boxes_kept":
    ds = CocoBoxes(os.path.join(coco, "train2017"),
                   os.path.join(coco, "annotations", "instances_train2017.json"),
                   T.Compose([T.Resize(SIZE), T.ToTensor()]))
    collate = detection_collate
elif mode == "gray_targets":
    ds = GrayPairs(os.path.join(coco, "train2017"))
elif mode == "coco_boxes_raw":
    ds = CocoLike(os.path.join(coco, "train2017"),
                   os.path.join(coco, "annotations", "instances_train2017.json"), T.ToTensor())
    collate = detection_collate
else:
    sys.exit("unknown mode " + mode)

loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0,
                                     **({"collate_fn": collate} if collate else {}))
dump_batches(loader, out, num_batches=3, probe_rng=False)
print("ok")
