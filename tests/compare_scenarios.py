"""Scenario dumps for tests/test_compare.cpp (run by the Qt test):

    python3 compare_scenarios.py PYTHON_DIR MODE DATA_ROOT OUT_DIR

writes 20 random 32x32 PNGs as an ImageFolder under DATA_ROOT and a
batchscope_dump of a loader over them to OUT_DIR. MODE picks the planted
problem (correct, offbyone, shared_state, lambda, wrong_normalize, bad_sampler,
random_ok, random_repeat, no_transform).
Images: 2 classes x 10.
"""
import os, random, sys
sys.path.insert(0, sys.argv[1])
import torch, torchvision
from torchvision import transforms as T
from PIL import Image
from batchscope_dump import dump_batches

mode, root, out = sys.argv[2], sys.argv[3], sys.argv[4]
rng = random.Random(7)
for c in ("cat", "dog"):
    os.makedirs(os.path.join(root, c), exist_ok=True)
    for i in range(10):
        data = bytes(rng.randrange(256) for _ in range(32 * 32 * 3))
        Image.frombytes("RGB", (32, 32), data).save(os.path.join(root, c, "%02d.png" % i))

norm = T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
tf = T.Compose([T.ToTensor(), norm])

class ShiftedFolder(torchvision.datasets.ImageFolder):
    # The classic off-by-one: index i serves sample i + 1.
    def __getitem__(self, i):
        return super().__getitem__((i + 1) % len(self))

class RunningNormFolder(torchvision.datasets.ImageFolder):
    # "Online" normalisation that mutates the shared transform: each worker
    # process mutates its own copy, so results depend on the worker split.
    calls = 0
    def __getitem__(self, i):
        self.calls += 1
        self.transform.transforms[1].mean = [0.5 + 0.002 * self.calls] * 3
        return super().__getitem__(i)

class ReseedingFolder(torchvision.datasets.ImageFolder):
    # Seeding per sample makes every epoch draw the same augmentation.
    def __getitem__(self, i):
        torch.manual_seed(i)
        return super().__getitem__(i)

def pil_collate(batch):
    # The conversion a loader without a dataset transform does in its collate_fn.
    return (torch.stack([T.functional.to_tensor(img) for img, _ in batch]),
            torch.tensor([label for _, label in batch]))

random_tf = T.Compose([T.RandomResizedCrop(24), T.RandomHorizontalFlip(), T.ToTensor()])
workers, sampler, shuffle, collate = 2, None, True, None
if mode == "correct":
    ds = torchvision.datasets.ImageFolder(root, transform=tf)
elif mode == "offbyone":
    ds = ShiftedFolder(root, transform=tf)
elif mode == "shared_state":
    ds = RunningNormFolder(root, transform=T.Compose([T.ToTensor(), T.Normalize((0.5,) * 3, (0.25,) * 3)]))
elif mode == "lambda":
    ds = torchvision.datasets.ImageFolder(root, transform=T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2)]))
elif mode == "wrong_normalize":
    ds = torchvision.datasets.ImageFolder(root, transform=T.Compose([T.ToTensor(), T.Normalize((0.4, 0.45, 0.4), (0.2, 0.2, 0.3))]))
elif mode == "random_ok":
    ds = torchvision.datasets.ImageFolder(root, transform=random_tf)
elif mode == "random_repeat":
    ds = ReseedingFolder(root, transform=random_tf)
elif mode == "bad_sampler":
    ds = torchvision.datasets.ImageFolder(root, transform=tf)
    order = list(range(20)); order[7] = 3  # 3 twice, 7 never
    sampler, shuffle, workers = order, False, 0
elif mode == "no_transform":
    ds = torchvision.datasets.ImageFolder(root)
    collate = pil_collate
else:
    sys.exit("unknown mode " + mode)

def make_loader():
    return torch.utils.data.DataLoader(ds, batch_size=4, shuffle=shuffle, sampler=sampler,
                                       num_workers=workers, collate_fn=collate)

torch.manual_seed(1234)
loader = make_loader()
state = torch.get_rng_state()
dump_batches(loader, out, num_batches=5, also_epoch2=True, also_workers0=True)
if not torch.equal(state, torch.get_rng_state()):
    sys.exit("dump_batches changed torch's RNG state")
if mode == "correct":
    # The dump must not change what the user's loader yields afterwards.
    with_dump = [b[0].clone() for b in loader]
    torch.manual_seed(1234)
    without = [b[0].clone() for b in make_loader()]
    if len(with_dump) != len(without) or not all(torch.equal(a, b) for a, b in zip(with_dump, without)):
        sys.exit("the loader yields different batches after dump_batches")
print("ok")
