# Writes an ImageFolder with one planted fault of each file-level kind (used by
# tests/test_audit_cli.cpp). Run with Debian's /usr/bin/python3 (PIL, numpy).
import os, sys, struct, zlib
from PIL import Image
import numpy as np
root = sys.argv[1]
def d(*p):
    path = os.path.join(root, *p); os.makedirs(os.path.dirname(path), exist_ok=True); return path
rng = np.random.RandomState(0)
def photo(w=64, h=48, seed=0):
    r = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([(x * 4 + seed * 13) % 256, (y * 5 + seed * 7) % 256, ((x + y) * 3 + seed) % 256], -1)
    a = (a + r.randint(0, 20, a.shape)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(a, 'RGB')
# cat: clean ones + faults
for i in range(4): photo(seed=i).save(d('cat', f'ok{i}.png'))
photo(seed=10).save(d('cat', 'full.jpg'), quality=90)
data = open(d('cat', 'full.jpg'), 'rb').read()
open(d('cat', 'truncated.jpg'), 'wb').write(data[: len(data) // 2])
os.remove(d('cat', 'full.jpg'))
open(d('cat', 'zero.png'), 'wb').close()
open(d('cat', 'text.png'), 'w').write('this is not a png\n')
def chunk(t, b): return struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 30000, 30000, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(b'\0' * 100)) + chunk(b'IEND', b'')
open(d('cat', 'huge.png'), 'wb').write(png)
# dog: mode conversions, exif, constant, duplicates
for i in range(4): photo(seed=20 + i).save(d('dog', f'ok{i}.png'))
photo(seed=30).convert('CMYK').save(d('dog', 'cmyk.jpg'), quality=95)
photo(seed=31).convert('P').save(d('dog', 'palette.png'))
photo(seed=32).convert('RGBA').save(d('dog', 'rgba.png'))
photo(seed=33).convert('L').save(d('dog', 'gray.png'))
ex = Image.Exif(); ex[0x0112] = 6
photo(seed=34).save(d('dog', 'rotated.jpg'), quality=95, exif=ex.tobytes())
Image.new('RGB', (40, 30), (7, 7, 7)).save(d('dog', 'constant.png'))
photo(seed=0).save(d('dog', 'dup_of_cat_ok0.png'))        # conflicting (cat/ok0 has label 0)
photo(seed=21).save(d('dog', 'zz_same_as_ok1.png'))       # exact (dog/ok1)
os.makedirs(d('empty', 'x'), exist_ok=True); os.rmdir(os.path.join(root, 'empty', 'x'))
for i in range(2): photo(seed=40 + i).save(d('.ipynb_checkpoints', f'c{i}.png'))
