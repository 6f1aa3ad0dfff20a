"""Dump the first batches of a PyTorch DataLoader for `batchscope compare`.

Two lines in a training script:

    from batchscope_dump import dump_batches
    dump_batches(train_loader, "bs_dump", num_batches=4, also_epoch2=True, also_workers0=True)

The dump folder holds one ``<variant>_<k>.pt`` per batch (a dict with
``images``, ``labels``, ``indices`` and ``workers`` tensors) and a
``manifest.json`` describing the dataset (class, root, printed transform),
the loader (batch size, workers, seed) and every batch (indices, labels,
worker ids, epoch, variant).  Variants: ``main`` (the loader as configured,
epoch 0), ``epoch2`` (the same loader's second epoch), ``workers0`` (the
same batches again with ``num_workers=0``).

The user's loader is never iterated: the dump builds its own DataLoaders
over a wrapper dataset that returns ``(index, worker id, sample)`` and reuses
the loader's batch sampler, collate_fn and worker_init_fn.  Random number
generator states (torch, Python's ``random``, NumPy when imported, the
loader's generator) are saved before and restored after, so training that
follows the dump sees the same random streams as without it.

Only torch is required (torchvision is recorded when present).
"""

import json
import os
import platform
import random
import sys
import time
import traceback

import torch
import torch.utils.data as tud

__all__ = ["dump_batches"]
FORMAT_VERSION = 1


class _Failed:
    """Stands in for a sample whose __getitem__ raised (picklable, so it
    crosses from a worker process to the collate step)."""

    def __init__(self, exc_type, message, where):
        self.exc_type = exc_type
        self.message = message
        self.where = where


_OWN_FILE = os.path.abspath(__file__)


def _user_frame(tb):
    """file:line of the innermost traceback frame in the user's own code:
    not this file, not the standard library, not an installed package."""
    library = tuple(
        os.path.abspath(p) + os.sep
        for p in {sys.prefix, sys.exec_prefix, getattr(sys, "base_prefix", sys.prefix)}
    )
    frames = traceback.extract_tb(tb)
    for frame in reversed(frames):
        path = os.path.abspath(frame.filename)
        if path == _OWN_FILE or "-packages" + os.sep in path or path.startswith(library):
            continue
        return "%s:%d" % (path, frame.lineno)
    return "%s:%d" % (frames[-1].filename, frames[-1].lineno) if frames else None


def _worker_id():
    """The DataLoader worker running this call, -1 in the main process."""
    info = tud.get_worker_info()
    return info.id if info is not None else -1


class _IndexedDataset(tud.Dataset):
    """Returns (index, worker id, sample); worker id -1 in the main process.
    An exception of the user's __getitem__ becomes a _Failed sample."""

    def __init__(self, dataset):
        object.__setattr__(self, "dataset", dataset)

    # A worker_init_fn sees this wrapper as get_worker_info().dataset: its
    # attribute reads and writes (reseeding self.rng...) reach the user's dataset.
    def __getattr__(self, name):
        if name == "dataset":  # not yet set while unpickling in a spawned worker
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __setattr__(self, name, value):
        setattr(self.dataset, name, value)

    def __getstate__(self):
        return {"dataset": self.dataset}

    def __setstate__(self, state):
        object.__setattr__(self, "dataset", state["dataset"])

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        worker = _worker_id()
        try:
            sample = self.dataset[index]
        except Exception as e:  # the user's code: any exception is a finding
            sample = _Failed(type(e).__name__, str(e).split("\n")[0][:500], _user_frame(e.__traceback__))
        return int(index), worker, sample

    # DataLoader fetches a whole batch with one __getitems__ call when the
    # dataset has one (a batched read, often on a thread pool). Without this
    # method here, __getattr__ would hand the fetcher the user's method and
    # the batch would lose its indices; and a dump through __getitem__ alone
    # would not run the user's batched code at all.
    def __getitems__(self, indices):
        batched = getattr(self.dataset, "__getitems__", None)
        if not batched:
            return [self[i] for i in indices]
        worker = _worker_id()
        try:
            samples = list(batched(list(indices)))
        except Exception:  # one bad sample fails the whole call: name it by fetching one by one
            return [self[i] for i in indices]
        if len(samples) != len(indices):
            failed = _Failed("ValueError", "__getitems__ returned %d samples for %d indices"
                             % (len(samples), len(indices)), None)
            return [(int(i), worker, failed) for i in indices]
        return [(int(i), worker, s) for i, s in zip(indices, samples)]


def _image_of(sample):
    """The element of one sample that becomes the batch's image tensor."""
    if isinstance(sample, dict):
        for key in _IMAGE_KEYS:
            if key in sample:
                return sample[key]
        return next(iter(sample.values()), None)
    if isinstance(sample, (list, tuple)):
        return sample[0] if sample else None
    return sample


def _invalid_reason(sample):
    """Why a sample cannot go into a batch of tensors, or None."""
    parts = list(sample.values()) if isinstance(sample, dict) else (
        list(sample) if isinstance(sample, (list, tuple)) else [sample])
    image = _image_of(sample)
    if image is None or any(p is None for p in parts):
        return "None"
    np = sys.modules.get("numpy")
    if not torch.is_tensor(image) and not (np is not None and isinstance(image, np.ndarray)):
        return type(image).__name__
    return None


def _shape_of(sample):
    image = _image_of(sample)
    return list(image.shape) if hasattr(image, "shape") else None


class _IndexedCollate:
    """Applies the user's collate_fn to the samples only (a class, not a
    closure, so that spawn-based worker start methods can pickle it). Bad
    samples are taken out of the batch and reported instead of killing the
    dump: failed __getitem__ calls, None or non-tensor samples, and samples
    whose shape cannot be stacked with the others."""

    def __init__(self, collate_fn):
        self.collate_fn = collate_fn

    def __call__(self, items):
        problems = []
        good = []
        for index, worker, sample in items:
            if isinstance(sample, _Failed):
                problems.append({"kind": "getitem_error", "index": index, "worker": worker,
                                 "type": sample.exc_type, "message": sample.message,
                                 "where": sample.where})
            else:
                good.append((index, worker, sample))
        batch = self._collate(good, problems)
        return batch, problems

    def _collate(self, good, problems):
        if not good:
            return None
        try:
            return self._stack(good)
        except Exception as first:
            error = "%s: %s" % (type(first).__name__, str(first).split("\n")[0][:300])
        # The user's collate refused the batch: find the samples responsible.
        kept = []
        for it in good:
            why = _invalid_reason(it[2])
            if why is None:
                kept.append(it)
            else:
                problems.append({"kind": "invalid_sample", "index": it[0], "worker": it[1],
                                 "type": why, "message": error})
        shapes = {}
        for it in kept:
            shapes.setdefault(str(_shape_of(it[2])), []).append(it)
        if len(shapes) > 1:
            # Keep the most common shape; the others cannot be stacked with it.
            major = max(shapes.values(), key=len)
            odd = [it for it in kept if it not in major]
            problems.append({"kind": "collate_error", "indices": [it[0] for it in kept],
                             "shapes": [_shape_of(it[2]) for it in kept],
                             "dropped": [it[0] for it in odd], "message": error})
            kept = major
        if not kept:
            return None
        try:
            return self._stack(kept)
        except Exception as e:
            problems.append({"kind": "collate_error", "indices": [it[0] for it in kept],
                             "shapes": [_shape_of(it[2]) for it in kept],
                             "dropped": [it[0] for it in kept],
                             "message": "%s: %s" % (type(e).__name__, str(e).split("\n")[0][:300])})
            return None

    def _stack(self, items):
        indices = torch.tensor([it[0] for it in items], dtype=torch.int64)
        workers = torch.tensor([it[1] for it in items], dtype=torch.int64)
        return indices, workers, self.collate_fn([it[2] for it in items])


_IMAGE_KEYS = ("image", "images", "img", "input", "inputs", "x")
_LABEL_KEYS = ("label", "labels", "target", "targets", "y")
_MASK_KEYS = ("mask", "masks", "label_mask", "segmentation", "seg", "semantic")
_BOX_KEYS = ("boxes", "bboxes", "box")


def _image_batch(value):
    """The collated images: a tensor, or a list/tuple of per-sample tensors
    (the detection collate `tuple(zip(*batch))`); None otherwise."""
    if torch.is_tensor(value):
        return value
    if isinstance(value, (list, tuple)) and value and all(torch.is_tensor(v) and v.dim() >= 2 for v in value):
        return list(value)
    return None


def _as_tensor(value, dtype=None):
    if torch.is_tensor(value):
        return value.detach().cpu()
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    try:
        return torch.as_tensor(value, dtype=dtype)
    except Exception:
        return None


def _sample_boxes(target):
    """(boxes (K, 4) as x1 y1 x2 y2, labels (K,)) of one sample's target, or
    None: a dict with "boxes" (torchvision's detection references), or
    CocoDetection's raw list of annotation dicts ("bbox" as x, y, w, h)."""
    if isinstance(target, dict):
        key = next((k for k in _BOX_KEYS if k in target), None)
        if key is None:
            return None
        boxes = _as_tensor(target[key], torch.float64)
        if boxes is None:
            return None
        boxes = boxes.reshape(-1, 4).to(torch.float64)
        labels = _as_tensor(target.get("labels", target.get("category_id", [])), torch.int64)
        labels = labels.reshape(-1).to(torch.int64) if labels is not None else torch.zeros(0, dtype=torch.int64)
        if labels.numel() != boxes.shape[0]:
            labels = torch.full((boxes.shape[0],), -1, dtype=torch.int64)
        return boxes, labels
    if isinstance(target, (list, tuple)) and all(isinstance(a, dict) and "bbox" in a for a in target):
        rows = [[float(v) for v in a["bbox"]] for a in target]
        boxes = torch.tensor(rows, dtype=torch.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        labels = torch.tensor([int(a.get("category_id", -1)) for a in target], dtype=torch.int64)
        return boxes, labels
    return None


def _mask_batch(value):
    """Per-sample masks (H, W) from a collated mask tensor (N, H, W) or
    (N, 1, H, W), or a list of per-sample mask tensors; None otherwise."""
    if torch.is_tensor(value) and value.dim() in (3, 4):
        if value.dim() == 4 and value.shape[1] != 1:
            return None
        return [m.reshape(m.shape[-2], m.shape[-1]) for m in value]
    if isinstance(value, (list, tuple)) and value and all(
            torch.is_tensor(v) and v.dim() in (2, 3) and (v.dim() == 2 or v.shape[0] == 1) for v in value):
        return [v.reshape(v.shape[-2], v.shape[-1]) for v in value]
    return None


def _ragged(tensors, values_key, shapes_key):
    """Per-sample tensors of different shapes as two plain tensors: the
    values, flattened one after another, and the shapes (one row each).
    libtorch's unpickler reads tensors and dicts but not every list a
    pickle may hold (a one-element list uses an opcode it lacks)."""
    rank = max((t.dim() for t in tensors), default=1)
    shapes = torch.tensor([[1] * (rank - t.dim()) + list(t.shape) for t in tensors],
                          dtype=torch.int64).reshape(len(tensors), rank)
    values = torch.cat([t.detach().cpu().reshape(-1) for t in tensors]) if tensors else torch.zeros(0)
    return {values_key: values.contiguous(), shapes_key: shapes}


def _targets_of(value):
    """The batch's targets from the element beside the images: masks, or
    boxes per sample. Returns a dict for the payload, or None."""
    masks = _mask_batch(value)
    if masks is not None:
        return _ragged([m.to(torch.float64) if m.is_floating_point() else m for m in masks],
                       "mask_values", "mask_shapes")
    if isinstance(value, dict):  # a collated target dict: {"boxes": [...], "labels": [...]}
        boxes = value.get(next((k for k in _BOX_KEYS if k in value), None))
        if isinstance(boxes, (list, tuple)):
            labels = value.get("labels", [None] * len(boxes))
            value = [{"boxes": b, "labels": l if l is not None else []} for b, l in zip(boxes, labels)]
    if isinstance(value, (list, tuple)) and value:
        per_sample = [_sample_boxes(t) for t in value]
        if all(p is not None for p in per_sample):
            return {"boxes": torch.cat([p[0] for p in per_sample]).reshape(-1, 4).contiguous(),
                    "box_labels": torch.cat([p[1] for p in per_sample]).contiguous(),
                    "box_counts": torch.tensor([p[0].shape[0] for p in per_sample], dtype=torch.int64)}
    return None


def _split_batch(batch):
    """Finds the images, the label tensor and the targets (masks or boxes)
    in a collated batch."""
    if torch.is_tensor(batch):
        return batch, None, None
    if isinstance(batch, dict):
        images = labels = targets = None
        for key in _IMAGE_KEYS:
            if _image_batch(batch.get(key)) is not None:
                images = _image_batch(batch[key])
                break
        if images is None:
            images = next((v for v in batch.values() if torch.is_tensor(v) and v.dim() >= 3), None)
        for key in _MASK_KEYS + _BOX_KEYS:
            if key in batch:
                targets = _targets_of(batch[key] if key in _MASK_KEYS else
                                      {"boxes": batch[key], "labels": batch.get("labels")})
                if targets is not None:
                    break
        for key in _LABEL_KEYS:
            value = batch.get(key)
            if torch.is_tensor(value) and value.dim() == 1:
                labels = value
                break
            if targets is None and value is not None:
                targets = _targets_of(value)
        return images, labels, targets
    if isinstance(batch, (list, tuple)) and batch:
        images = _image_batch(batch[0])
        labels = targets = None
        if len(batch) > 1:
            second = batch[1]
            if torch.is_tensor(second) and second.dim() <= 1:
                labels = second
            else:
                targets = _targets_of(second)
        return images, labels, targets
    return None, None, None


def _images_payload(images):
    """A stacked tensor when every image has the same shape, else a list
    (detection batches of different sizes)."""
    if torch.is_tensor(images):
        return {"images": images.detach().cpu().contiguous()}
    if len({tuple(t.shape) for t in images}) == 1:
        return {"images": torch.stack([t.detach().cpu() for t in images]).contiguous()}
    return _ragged(images, "image_values", "image_shapes")


def _base_dataset(dataset):
    """Unwraps torch.utils.data.Subset; returns (base dataset, index map)."""
    index_map = None
    while isinstance(dataset, tud.Subset):
        inner = [int(i) for i in dataset.indices]
        index_map = inner if index_map is None else [inner[i] for i in index_map]
        dataset = dataset.dataset
    return dataset, index_map


def _torchvision_base(cls):
    """Name of the nearest torchvision.datasets class in `cls`'s MRO."""
    for c in cls.__mro__:
        if c.__module__.startswith("torchvision.datasets") and c.__name__ not in (
                "VisionDataset", "DatasetFolder"):
            return c.__name__
    return None


def _getitem_origin(cls):
    """Where the dataset's __getitem__ is written: the class defining it and
    its file:line; user_code True when that is not torch/torchvision."""
    for c in cls.__mro__:
        if "__getitem__" in c.__dict__:
            fn = c.__dict__["__getitem__"]
            code = getattr(fn, "__code__", None)
            module = c.__module__
            return {
                "class": c.__name__,
                "module": module,
                "where": "%s:%d" % (code.co_filename, code.co_firstlineno) if code else None,
                "user_code": not (module.startswith("torchvision.") or module.startswith("torch.")),
            }
    return None


def _split_of(base):
    """torchvision's split attributes: train (bool), split (EMNIST), what (QMNIST)."""
    split = {}
    train = getattr(base, "train", None)
    if isinstance(train, bool):
        split["train"] = train
    for key in ("split", "what"):
        value = getattr(base, key, None)
        if isinstance(value, str):
            split[key] = value
    return split


_ROOT_ATTRS = ("root", "root_dir", "data_root", "data_dir", "dataset_dir")
_ANNOTATION_ATTRS = ("ann_file", "annFile", "annotation_file", "annotations_file", "ann_path")


def _coco_annotation_file(base, root):
    """The annotation file of a COCO-style dataset: an attribute naming it,
    else the instances_*.json near the image root that lists as many images
    as the dataset has (pycocotools' COCO does not keep the path)."""
    for attr in _ANNOTATION_ATTRS:
        value = getattr(base, attr, None)
        if isinstance(value, (str, os.PathLike)) and os.path.isfile(value):
            return os.path.abspath(os.fspath(value))
    if root is None or getattr(base, "coco", None) is None:
        return None
    wanted = len(getattr(base, "ids", []))
    parent = os.path.dirname(root)
    for folder in (root, parent, os.path.join(parent, "annotations")):
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                with open(path) as f:
                    if len(json.load(f).get("images", [])) == wanted:
                        return os.path.abspath(path)
            except (OSError, ValueError, AttributeError):
                continue
    return None


def _target_source(base, root):
    """What `compare` needs to read the targets the way the dataset does:
    VOCSegmentation's year and image set, a COCO annotation file."""
    out = {}
    for attr in ("year", "image_set"):
        value = getattr(base, attr, None)
        if isinstance(value, str):
            out[attr] = value
    annotation = _coco_annotation_file(base, root)
    if annotation is not None:
        out["annotation_file"] = annotation
    return out


def _describe_dataset(dataset):
    base, index_map = _base_dataset(dataset)
    desc = {
        "class": type(base).__name__,
        "module": type(base).__module__,
        "torchvision_class": _torchvision_base(type(base)),
        "getitem": _getitem_origin(type(base)),
        "length": len(dataset),
        "root": None,
        "transform": None,
        "target_transform": None,
    }
    desc.update(_split_of(base))
    for attr in _ROOT_ATTRS:
        root = getattr(base, attr, None)
        if isinstance(root, (str, os.PathLike)):
            desc["root"] = os.path.abspath(os.fspath(root))
            break
    desc.update(_target_source(base, desc["root"]))
    joint = getattr(base, "transforms", None)
    if joint is not None and type(joint).__name__ != "StandardTransform":
        desc["joint_transform"] = str(joint)  # transforms=: image and target together
    transform = getattr(base, "transform", None)
    if transform is not None:
        desc["transform"] = str(transform)
    target_transform = getattr(base, "target_transform", None)
    if target_transform is not None:
        desc["target_transform"] = str(target_transform)
    classes = getattr(base, "classes", None)
    if isinstance(classes, (list, tuple)) and all(isinstance(c, str) for c in classes):
        desc["classes"] = list(classes)
    if index_map is not None:
        desc["subset_indices"] = index_map
    return desc, index_map


def _versions():
    out = {"torch": torch.__version__, "python": platform.python_version()}
    try:
        import torchvision

        out["torchvision"] = torchvision.__version__
    except ImportError:
        out["torchvision"] = None
    try:
        import PIL

        out["pillow"] = PIL.__version__
    except ImportError:
        out["pillow"] = None
    return out


class _RngStates:
    """Snapshot of every random stream a DataLoader iteration consumes."""

    def __init__(self, generator):
        self.generator = generator
        self.torch = torch.get_rng_state()
        self.python = random.getstate()
        self.numpy = None
        np = sys.modules.get("numpy")
        if np is not None:
            self.numpy = np.random.get_state()
        self.gen = generator.get_state() if generator is not None else None

    def restore(self):
        torch.set_rng_state(self.torch)
        random.setstate(self.python)
        if self.numpy is not None:
            sys.modules["numpy"].random.set_state(self.numpy)
        if self.gen is not None:
            self.generator.set_state(self.gen)


def _make_loader(loader, num_workers):
    kwargs = dict(
        batch_sampler=loader.batch_sampler,
        num_workers=num_workers,
        collate_fn=_IndexedCollate(loader.collate_fn),
        pin_memory=False,
        timeout=loader.timeout if num_workers > 0 else 0,
        worker_init_fn=loader.worker_init_fn,
        generator=loader.generator,
    )
    if num_workers > 0:
        kwargs["multiprocessing_context"] = loader.multiprocessing_context
        if getattr(loader, "prefetch_factor", None) is not None:
            kwargs["prefetch_factor"] = loader.prefetch_factor
    return tud.DataLoader(_IndexedDataset(loader.dataset), **kwargs)


def _set_epoch(sampler, epoch):
    # DistributedSampler and friends reshuffle per epoch only through set_epoch.
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def _record_problems(problems, index_map, where):
    """Problems of one batch as manifest entries, indices mapped to the base dataset."""
    def base(i):
        return i if index_map is None else index_map[i]

    out = []
    for p in problems:
        entry = dict(p, **where)
        if "index" in entry:
            entry["index"] = base(entry["index"])
        for key in ("indices", "dropped"):
            if key in entry:
                entry[key] = [base(i) for i in entry[key]]
        out.append(entry)
    return out


def _dump_variant(loader, num_workers, variant, epochs, num_batches, out_dir, index_map, problems):
    dump_loader = _make_loader(loader, num_workers)
    sampler = getattr(loader.batch_sampler, "sampler", None)
    records = []
    for epoch_no, (epoch, epoch_variant) in enumerate(epochs):
        if sampler is not None:
            _set_epoch(sampler, epoch)
        for k, (collated, batch_problems) in enumerate(dump_loader):
            if k >= num_batches:
                break
            where = {"variant": epoch_variant, "epoch": epoch, "batch": k}
            problems += _record_problems(batch_problems, index_map, where)
            if collated is None:
                continue  # every sample of the batch failed; named in problems
            indices, workers, batch = collated
            images, labels, targets = _split_batch(batch)
            if images is None:
                raise TypeError(
                    "batchscope_dump: cannot find an image tensor in the collated batch "
                    "(expected a tensor, a (images, labels) pair, (images, masks), "
                    "(images, target dicts) or a dict with 'image')"
                )
            name = "%s_%03d.pt" % (epoch_variant, k)
            payload = dict(_images_payload(images), indices=indices, workers=workers)
            if labels is not None:
                payload["labels"] = labels.detach().cpu().contiguous()
            if targets is not None:
                payload.update(targets)
            torch.save(payload, os.path.join(out_dir, name))
            idx = [int(i) for i in indices.tolist()]
            record = {
                "file": name,
                "variant": epoch_variant,
                "epoch": epoch,
                "batch": k,
                "indices": idx if index_map is None else [index_map[i] for i in idx],
                "labels": labels.tolist() if labels is not None and labels.dim() == 1 else None,
                "workers": [int(w) for w in workers.tolist()],
                "shape": list(payload["images"].shape) if "images" in payload else None,
                "shapes": payload["image_shapes"].tolist() if "image_shapes" in payload else None,
                "dtype": str((images if torch.is_tensor(images) else images[0]).dtype).replace("torch.", ""),
                "targets": None if targets is None else ("masks" if "masks" in targets else "boxes"),
            }
            if index_map is not None:
                record["loader_indices"] = idx
            records.append(record)
    return records


# ---------------------------------------------------------------- RNG probe


class _RepeatSampler(tud.Sampler):
    """Serves one index `times` times, one per batch of size 1: batch j goes
    to worker j % num_workers, so every worker sees the index at the same
    positions of its stream."""

    def __init__(self, index, times):
        self.index = index
        self.times = times

    def __iter__(self):
        return iter([[self.index]] * self.times)

    def __len__(self):
        return self.times


class _ProbeCollate:
    def __call__(self, items):
        index, worker, sample = items[0]
        image = None if isinstance(sample, _Failed) else _image_of(sample)
        return worker, image.detach().cpu().clone() if torch.is_tensor(image) else None


def _probe_epoch(dump_loader):
    streams = {}
    for worker, image in dump_loader:
        streams.setdefault(worker, []).append(image)
    return streams


def _same(a, b):
    return a is not None and b is not None and a.shape == b.shape and torch.equal(a, b)


def probe_worker_rng(loader, index=0, positions=2):
    """Serves dataset[index] at the same `positions` of every worker's stream,
    in two epochs of worker processes started like the user's loader, and
    says whether the samples are random, shared across workers, repeated
    across epochs. Returns a dict for the manifest (ran False and a reason
    when the probe cannot tell)."""
    workers = loader.num_workers
    result = {"ran": False, "index": index, "workers": workers, "positions": positions}
    if workers < 1:
        result["reason"] = "num_workers=0: no worker processes to compare"
        return result
    start = time.perf_counter()
    kwargs = dict(
        batch_sampler=_RepeatSampler(index, workers * positions),
        num_workers=workers,
        collate_fn=_ProbeCollate(),
        worker_init_fn=loader.worker_init_fn,
        generator=loader.generator,
        multiprocessing_context=loader.multiprocessing_context,
        persistent_workers=getattr(loader, "persistent_workers", False),
    )
    probe_loader = tud.DataLoader(_IndexedDataset(loader.dataset), **kwargs)
    epochs = [_probe_epoch(probe_loader), _probe_epoch(probe_loader)]
    result["seconds"] = time.perf_counter() - start
    first = epochs[0]
    if any(img is None for stream in first.values() for img in stream):
        result["reason"] = "the probed sample is not a tensor (or failed)"
        return result
    ids = sorted(first)
    # Random: a worker asked twice for the same index gets different tensors.
    random_ = any(not _same(first[w][0], first[w][1]) for w in ids if len(first[w]) > 1)
    shared = len(ids) > 1 and all(
        _same(first[ids[0]][p], first[w][p]) for w in ids[1:] for p in range(positions))
    second = epochs[1]
    repeated = sorted(second) == ids and all(
        _same(first[w][p], second[w][p]) for w in ids for p in range(positions))
    result.update({"ran": True, "random": random_, "worker_ids": ids,
                   "shared_across_workers": bool(random_ and shared),
                   "repeated_across_epochs": bool(random_ and repeated)})
    return result


def dump_batches(
    loader,
    out_dir,
    num_batches=4,
    also_epoch2=False,
    also_workers0=False,
    probe_rng=True,
):
    """Writes the first `num_batches` batches of `loader` to `out_dir`.

    loader        a torch.utils.data.DataLoader over a map-style dataset
                  (automatic batching: batch_size or batch_sampler set)
    out_dir       created if missing; existing dump files are overwritten
    also_epoch2   also dump the first batches of a second epoch (variant
                  "epoch2"): checks random augmentation and sampler order
    also_workers0 also dump the same batches with num_workers=0 (variant
                  "workers0"): checks the loader is deterministic across
                  worker processes
    probe_rng     serve one sample at the same position of every worker's
                  stream in two epochs (a few samples per worker): finds a
                  random generator copied into every worker or every epoch

    Returns the path of manifest.json.
    """
    if not isinstance(loader, tud.DataLoader):
        raise TypeError("batchscope_dump: expected a torch.utils.data.DataLoader")
    if isinstance(loader.dataset, tud.IterableDataset):
        raise TypeError("batchscope_dump: iterable datasets have no indices to compare")
    if loader.batch_sampler is None:
        raise ValueError("batchscope_dump: the loader has automatic batching disabled")
    num_batches = int(num_batches)
    if num_batches < 1:
        raise ValueError("batchscope_dump: num_batches must be at least 1")
    os.makedirs(out_dir, exist_ok=True)

    dataset_desc, index_map = _describe_dataset(loader.dataset)
    sampler = getattr(loader.batch_sampler, "sampler", None)
    saved_epoch = getattr(sampler, "epoch", None)
    states = _RngStates(loader.generator)
    generator_seed = loader.generator.initial_seed() if loader.generator is not None else None
    problems = []
    probe = None
    try:
        epochs = [(0, "main")] + ([(1, "epoch2")] if also_epoch2 else [])
        batches = _dump_variant(
            loader, loader.num_workers, "main", epochs, num_batches, out_dir, index_map, problems
        )
        if also_workers0:
            # Same random state as the main run, so a shuffling sampler yields
            # the same indices and the two dumps are comparable sample by sample.
            states.restore()
            batches += _dump_variant(
                loader, 0, "workers0", [(0, "workers0")], num_batches, out_dir, index_map, problems
            )
        if probe_rng:
            states.restore()
            first = next((b["loader_indices" if index_map else "indices"][0] for b in batches), 0)
            probe = probe_worker_rng(loader, index=first)
    finally:
        states.restore()
        if saved_epoch is not None:
            _set_epoch(sampler, saved_epoch)

    manifest = {
        "format": "batchscope-dump",
        "version": FORMAT_VERSION,
        "dataset": dataset_desc,
        "loader": {
            "batch_size": loader.batch_size,
            "num_workers": loader.num_workers,
            "drop_last": loader.drop_last,
            "sampler": type(sampler).__name__ if sampler is not None else None,
            "batch_sampler": type(loader.batch_sampler).__name__,
            "collate_fn": getattr(loader.collate_fn, "__name__", type(loader.collate_fn).__name__),
            "seed": torch.initial_seed(),
            "generator_seed": generator_seed,
        },
        "versions": _versions(),
        "batches": batches,
        "problems": problems,
        "rng_probe": probe,
    }
    path = os.path.join(out_dir, "manifest.json")
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1)
    return path
