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

import torch
import torch.utils.data as tud

__all__ = ["dump_batches"]
FORMAT_VERSION = 1


class _IndexedDataset(tud.Dataset):
    """Returns (index, worker id, sample); worker id -1 in the main process."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        info = tud.get_worker_info()
        return int(index), (info.id if info is not None else -1), self.dataset[index]


class _IndexedCollate:
    """Applies the user's collate_fn to the samples only (a class, not a
    closure, so that spawn-based worker start methods can pickle it)."""

    def __init__(self, collate_fn):
        self.collate_fn = collate_fn

    def __call__(self, items):
        indices = torch.tensor([it[0] for it in items], dtype=torch.int64)
        workers = torch.tensor([it[1] for it in items], dtype=torch.int64)
        return indices, workers, self.collate_fn([it[2] for it in items])


def _split_batch(batch):
    """Finds the image tensor and the label tensor in a collated batch."""
    if torch.is_tensor(batch):
        return batch, None
    if isinstance(batch, dict):
        images = labels = None
        for key in ("image", "images", "img", "input", "inputs", "x"):
            if torch.is_tensor(batch.get(key)):
                images = batch[key]
                break
        if images is None:
            images = next((v for v in batch.values() if torch.is_tensor(v) and v.dim() >= 3), None)
        for key in ("label", "labels", "target", "targets", "y"):
            if torch.is_tensor(batch.get(key)):
                labels = batch[key]
                break
        return images, labels
    if isinstance(batch, (list, tuple)) and batch:
        images = batch[0] if torch.is_tensor(batch[0]) else None
        labels = batch[1] if len(batch) > 1 and torch.is_tensor(batch[1]) else None
        return images, labels
    return None, None


def _base_dataset(dataset):
    """Unwraps torch.utils.data.Subset; returns (base dataset, index map)."""
    index_map = None
    while isinstance(dataset, tud.Subset):
        inner = [int(i) for i in dataset.indices]
        index_map = inner if index_map is None else [inner[i] for i in index_map]
        dataset = dataset.dataset
    return dataset, index_map


def _describe_dataset(dataset):
    base, index_map = _base_dataset(dataset)
    desc = {
        "class": type(base).__name__,
        "module": type(base).__module__,
        "length": len(dataset),
        "root": None,
        "transform": None,
        "target_transform": None,
    }
    root = getattr(base, "root", None)
    if isinstance(root, (str, os.PathLike)):
        desc["root"] = os.path.abspath(os.fspath(root))
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


def _dump_variant(loader, num_workers, variant, epochs, num_batches, out_dir, index_map):
    dump_loader = _make_loader(loader, num_workers)
    sampler = getattr(loader.batch_sampler, "sampler", None)
    records = []
    for epoch_no, (epoch, epoch_variant) in enumerate(epochs):
        if sampler is not None:
            _set_epoch(sampler, epoch)
        for k, (indices, workers, batch) in enumerate(dump_loader):
            if k >= num_batches:
                break
            images, labels = _split_batch(batch)
            if images is None:
                raise TypeError(
                    "batchscope_dump: cannot find an image tensor in the collated batch "
                    "(expected a tensor, a (images, labels) pair or a dict with 'image')"
                )
            name = "%s_%03d.pt" % (epoch_variant, k)
            payload = {
                "images": images.detach().cpu().contiguous(),
                "indices": indices,
                "workers": workers,
            }
            if labels is not None:
                payload["labels"] = labels.detach().cpu().contiguous()
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
                "shape": list(images.shape),
                "dtype": str(images.dtype).replace("torch.", ""),
            }
            if index_map is not None:
                record["loader_indices"] = idx
            records.append(record)
    return records


def dump_batches(
    loader,
    out_dir,
    num_batches=4,
    also_epoch2=False,
    also_workers0=False,
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
    try:
        epochs = [(0, "main")] + ([(1, "epoch2")] if also_epoch2 else [])
        batches = _dump_variant(
            loader, loader.num_workers, "main", epochs, num_batches, out_dir, index_map
        )
        if also_workers0:
            # Same random state as the main run, so a shuffling sampler yields
            # the same indices and the two dumps are comparable sample by sample.
            states.restore()
            batches += _dump_variant(
                loader, 0, "workers0", [(0, "workers0")], num_batches, out_dir, index_map
            )
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
    }
    path = os.path.join(out_dir, "manifest.json")
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1)
    return path
