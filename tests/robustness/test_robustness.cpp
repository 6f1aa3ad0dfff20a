// Hostile inputs (issue 7): mutated images of every format audited by the
// CLI and decoded in-process, corrupt array/tensor/pipeline/TorchScript files, and a
// folder of 200,000 entries with symlink loops and unreadable entries.
//
// Oracle for images: Pillow 9.4 (`Image.open(p).convert('RGB')`, with
// LOAD_TRUNCATED_IMAGES False). Every file Pillow cannot load must be named
// by an unreadable_file / truncated_image / oversized_image finding, and the
// dataset must be byte-identical after the audit.
#include <QCryptographicHash>
#include <QDir>
#include <QDirIterator>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/dataset/dataset.h"
#include "core/decode/decode.h"
#include "core/dataset/npy.h"
#include "core/pipeline/pipeline.h"
#include "core/dataset/ptfile.h"
#include "mutate.h"
#include "support/testsupport.h"

using bsrobust::Bytes;

namespace {

const uint64_t kDefaultMutationSeed = 20240607;

// Base images: two per format, small, written by Pillow (the reference
// writer); GIF is kept apart because torchvision's ImageFolder skips it.
const char* kMakeBases = R"PY(
import sys, os
from PIL import Image
out = sys.argv[1]
def pattern(w, h):
    im = Image.new("RGB", (w, h))
    im.putdata([((x * 9) % 256, (y * 13) % 256, ((x ^ y) * 5) % 256) for y in range(h) for x in range(w)])
    return im
a, b = pattern(48, 40), pattern(33, 21)
specs = [
    ("JPEG", "jpg", a, {}), ("JPEG", "jpg", b.convert("L"), {"progressive": True}),
    ("PNG", "png", a, {}), ("PNG", "png", b.convert("P", palette=Image.ADAPTIVE, colors=16), {}),
    ("BMP", "bmp", a, {}), ("BMP", "bmp", b.convert("P", palette=Image.ADAPTIVE, colors=16), {}),
    ("TIFF", "tif", a, {}), ("TIFF", "tif", b.convert("L"), {"compression": "tiff_lzw"}),
    ("WEBP", "webp", a, {"quality": 70}), ("WEBP", "webp", b, {"lossless": True}),
    ("GIF", "gif", a.convert("P", palette=Image.ADAPTIVE, colors=32), {}),
    ("GIF", "gif", b.convert("P", palette=Image.ADAPTIVE, colors=8), {}),
    ("PPM", "ppm", a, {}), ("PPM", "pgm", b.convert("L"), {}),
]
for i, (fmt, ext, im, kw) in enumerate(specs):
    name = "%s_%d.%s" % (fmt, i, ext)
    im.save(os.path.join(out, name), fmt, **kw)
    print("%s %s %d %d" % (name, fmt, im.width, im.height))
)PY";

// Pillow's verdict per file: "ok" or the exception.
const char* kPillowVerdict = R"PY(
import sys, os, json, warnings
from PIL import Image, ImageFile
ImageFile.LOAD_TRUNCATED_IMAGES = False
warnings.simplefilter("ignore")
res = {}
for root, dirs, files in os.walk(sys.argv[1]):
    for f in files:
        p = os.path.join(root, f)
        try:
            with Image.open(p) as im:
                im.convert("RGB")
            res[p] = "ok"
        except Exception as e:
            res[p] = type(e).__name__ + ": " + str(e)[:200]
json.dump(res, open(sys.argv[2], "w"))
)PY";

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

// Every file under `dir` (relative path -> SHA-256), links not followed.
std::map<QString, QByteArray> hashTree(const QString& dir) {
    return bstest::mapTree(dir, QDir::Files, [](const QString& p) {
        return QCryptographicHash::hash(readAll(p), QCryptographicHash::Sha256);
    });
}

void writeBytes(const QString& path, const Bytes& b) {
    QFile f(path);
    QVERIFY2(f.open(QIODevice::WriteOnly), qPrintable(path));
    f.write(reinterpret_cast<const char*>(b.data()), qint64(b.size()));
}

Bytes toBytes(const QByteArray& a) { return Bytes(a.begin(), a.end()); }

QJsonObject readJson(const QString& path) { return QJsonDocument::fromJson(readAll(path)).object(); }

QString runScript(const QString& dir, const char* name, const char* code, QStringList args) {
    const QString script = dir + "/" + name;
    QFile f(script);
    if (!f.open(QIODevice::WriteOnly)) return "cannot write script";
    f.write(code);
    f.close();
    args.prepend(script);
    auto r = bstest::runPython(args);
    return r.exitCode == 0 ? QString() : r.err;
}

// Files named by a loading finding in the report, canonicalised.
std::set<QString> filesWithLoadFindings(const QJsonObject& report) {
    std::set<QString> out;
    for (const auto& fv : report["findings"].toArray()) {
        const QJsonObject f = fv.toObject();
        const QString kind = f["kind"].toString();
        if (kind != "unreadable_file" && kind != "truncated_image" && kind != "oversized_image") continue;
        if (f.contains("path")) out.insert(QFileInfo(f["path"].toString()).canonicalFilePath());
        for (const auto& sv : f["samples"].toArray())
            out.insert(QFileInfo(sv.toObject()["path"].toString()).canonicalFilePath());
    }
    return out;
}

}  // namespace

class TestRobustness : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void mutatedImages();
    void corruptArraysTensorsAndPipelines();
    void hugeFolderWithLoopsAndUnreadableEntries();
    void pipesAndDevicesDoNotBlock();
};

void TestRobustness::mutatedImages() {
    if (!bstest::torchvisionAvailable()) BSTEST_SKIP("python3 with PIL is needed as the oracle");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    // To look at the mutants after a failure: BATCHSCOPE_KEEP_MUTANTS=1.
    if (qEnvironmentVariableIsSet("BATCHSCOPE_KEEP_MUTANTS")) {
        tmp.setAutoRemove(false);
        qInfo("robustness: mutants kept in %s", qPrintable(tmp.path()));
    }
    // Mutate every base with one fixed seed: same files on every run.
    // BATCHSCOPE_MUTATION_SEED explores other mutants by hand.
    const uint64_t seed = qEnvironmentVariableIsSet("BATCHSCOPE_MUTATION_SEED")
                              ? qEnvironmentVariable("BATCHSCOPE_MUTATION_SEED").toULongLong()
                              : kDefaultMutationSeed;
    const QString bases = tmp.path() + "/bases", ds = tmp.path() + "/dataset", gifs = tmp.path() + "/gif";
    QVERIFY(QDir().mkpath(bases) && QDir().mkpath(ds) && QDir().mkpath(gifs));
    {
        const QString script = tmp.path() + "/bases.py";
        QFile f(script);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(kMakeBases);
        f.close();
        auto r = bstest::runPython({script, bases});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        bsrobust::SplitMix rng(seed);
        int written = 0;
        for (const QString& line : r.out.split('\n', Qt::SkipEmptyParts)) {
            const QStringList p = line.split(' ');
            QCOMPARE(p.size(), 4);
            const QString name = p[0], fmt = p[1];
            const QString ext = QFileInfo(name).suffix();
            const QString dir = fmt == "GIF" ? gifs : ds + "/" + fmt.toLower();
            QVERIFY(QDir().mkpath(dir));
            const Bytes src = toBytes(readAll(bases + "/" + name));
            QVERIFY(src.size() > 64);
            QVERIFY(QFile::copy(bases + "/" + name, dir + "/" + name));
            ++written;
            for (const auto& m : bsrobust::mutate(src, fmt.toStdString(), p[2].toInt(), p[3].toInt(), rng)) {
                writeBytes(dir + "/" + QFileInfo(name).completeBaseName() + "_" +
                               QString::fromStdString(m.name) + "." + ext,
                           m.bytes);
                ++written;
            }
        }
        QVERIFY2(written >= 200, qPrintable(QString::number(written)));
        qInfo("robustness: %d image files (14 valid bases + mutants)", written);
    }
    const auto before = hashTree(tmp.path() + "/dataset");
    const auto gifsBefore = hashTree(gifs);

    // Pillow's verdicts.
    const QString verdictFile = tmp.path() + "/pillow.json";
    QString err = runScript(tmp.path(), "verdict.py", kPillowVerdict, {tmp.path(), verdictFile});
    QVERIFY2(err.isEmpty(), qPrintable(err));
    const QJsonObject verdict = readJson(verdictFile);
    std::set<QString> pillowBad;
    int pillowOk = 0;
    for (auto it = verdict.begin(); it != verdict.end(); ++it) {
        const QString p = QFileInfo(it.key()).canonicalFilePath();
        if (!p.contains("/dataset/") && !p.contains("/gif/")) continue;
        if (it.value().toString() == "ok")
            ++pillowOk;
        else
            pillowBad.insert(p);
    }
    QVERIFY2(pillowBad.size() > 100, "the mutations should break most files");
    QVERIFY2(pillowOk >= 14, "the valid bases must load in Pillow");

    // 1. In-process: every file decodes or throws DecodeError, nothing else;
    // every Pillow-unloadable file throws.
    int decoded = 0, refused = 0, refusedButPillowOk = 0;
    std::map<std::string, int> byKind;
    QStringList disagreements;  // decoded here although Pillow refuses them
    QStringList stricter;       // refused here although Pillow loads them
    double slowest = 0;
    QString slowestFile;
    for (const QString& root : {ds, gifs}) {
        QDirIterator it(root, QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString p = QFileInfo(it.next()).canonicalFilePath();
            QElapsedTimer t;
            t.start();
            bool ok = false;
            try {
                bs::DecodeInfo info;
                bs::Image im = bs::decodeImageFile(p.toStdString(), {}, &info);
                QCOMPARE(im.channels, 3);
                QCOMPARE(im.pixels.size(), size_t(im.width) * im.height * 3);
                ok = true;
                ++decoded;
            } catch (const bs::DecodeError& e) {
                ++refused;
                ++byKind[e.kind() == bs::DecodeErrorKind::Truncated   ? "truncated"
                         : e.kind() == bs::DecodeErrorKind::Oversized ? "oversized"
                                                                      : "unreadable"];
                QVERIFY2(QString::fromStdString(e.what()).contains(QFileInfo(p).fileName()),
                         "the error names the file");
            } catch (const std::exception& e) {
                QFAIL(qPrintable(p + ": non-DecodeError exception: " + e.what()));
            }
            const double s = t.nsecsElapsed() / 1e9;
            if (s > slowest) slowest = s, slowestFile = p;
            if (pillowBad.count(p)) {
                if (ok) disagreements << QFileInfo(p).fileName() + " (Pillow: " + verdict[p].toString() + ")";
            } else if (!ok) {
                ++refusedButPillowOk;
                stricter << QFileInfo(p).fileName();
            }
        }
    }
    qInfo("robustness: decoded %d, refused %d (unreadable %d, truncated %d, oversized %d); "
          "Pillow refused %zu; refused although Pillow loads: %d; slowest decode %.3f s (%s)",
          decoded, refused, byKind["unreadable"], byKind["truncated"], byKind["oversized"], pillowBad.size(),
          refusedButPillowOk, slowest, qPrintable(QFileInfo(slowestFile).fileName()));

    qInfo("robustness: refused although Pillow loads: %s", qPrintable(stricter.join(", ")));
    // No file Pillow refuses may decode here.
    QVERIFY2(disagreements.isEmpty(),
             qPrintable("decodes although Pillow refuses: " + disagreements.join("; ")));
    // The other direction, as the README states it: with the committed seed
    // no file Pillow loads is refused here; with other seeds (explored by
    // hand) the only ones allowed are TIFFs whose tag directory libtiff
    // rejects while Pillow reads the bytes as raw pixels.
    if (seed == kDefaultMutationSeed)
        QVERIFY2(stricter.isEmpty(),
                 qPrintable("refused although Pillow loads them: " + stricter.join(", ")));
    for (const QString& name : stricter)
        QVERIFY2(name.startsWith("TIFF_"), qPrintable("refused although Pillow loads it: " + name));

    // 2. The CLI audit over the ImageFolder of mutants.
    const QString report = tmp.path() + "/report.json";
    auto r = bstest::runCli({"audit", ds, "--report", report, "--fail-on", "never", "--quiet", "--workers", "2",
                             "--max-samples-per-finding", "100000"});
    QVERIFY2(r.exitCode == 0 || r.exitCode == 1,
             qPrintable(QString("audit exit %1: %2").arg(r.exitCode).arg(r.err.left(2000))));
    QJsonParseError perr;
    const QJsonDocument doc = QJsonDocument::fromJson(readAll(report), &perr);
    QVERIFY2(perr.error == QJsonParseError::NoError && doc.isObject(), qPrintable(perr.errorString()));
    const QJsonObject rep = doc.object();
    QVERIFY(rep["findings"].isArray());
    QVERIFY(rep["dataset"].toObject()["samples"].toInt() > 200);
    const std::set<QString> named = filesWithLoadFindings(rep);
    int checked = 0;
    for (const QString& p : pillowBad) {
        if (!p.contains("/dataset/")) continue;
        ++checked;
        QVERIFY2(named.count(p), qPrintable(p + " (Pillow: " + verdict[p].toString() +
                                            ") is not named by any loading finding"));
    }
    QVERIFY(checked > 80);

    // 3. Nothing written: same files, same bytes.
    QVERIFY2(hashTree(tmp.path() + "/dataset") == before, "the audit changed the dataset");
    QVERIFY(hashTree(gifs) == gifsBefore);
}

// Valid .npy/.npz/idx/csv/.pt/pipeline files, then the same kinds of
// damage; each must open or throw bs::Error, and never be modified.
void TestRobustness::corruptArraysTensorsAndPipelines() {
    if (!bstest::torchvisionAvailable()) BSTEST_SKIP("python3 with torch/numpy is needed to write the originals");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString src = tmp.path() + "/src";
    QVERIFY(QDir().mkpath(src));
    const char* make = R"PY(
import sys, os, io, gzip, struct, zipfile, json
import numpy as np, torch
d = sys.argv[1]
x = (np.arange(6 * 8 * 8 * 3) % 251).astype(np.uint8).reshape(6, 8, 8, 3)
np.save(os.path.join(d, "images.npy"), x)
np.savez(os.path.join(d, "stored.npz"), images=x, labels=np.arange(6))
np.savez_compressed(os.path.join(d, "deflated.npz"), x=x[..., 0], y=np.arange(6))
np.save(os.path.join(d, "float.npy"), np.linspace(0, 1, 4 * 3 * 5 * 5, dtype=np.float32).reshape(4, 3, 5, 5))
hdr = struct.pack(">IIII", 0x803, 6, 8, 8) + x[..., 0].tobytes()
open(os.path.join(d, "a-images-idx3-ubyte"), "wb").write(hdr)
open(os.path.join(d, "b-images-idx3-ubyte.gz"), "wb").write(gzip.compress(hdr, mtime=0))
torch.save(torch.rand(5, 3, 6, 6), os.path.join(d, "tensor.pt"))
torch.save((torch.rand(4, 1, 6, 6), torch.tensor([0, 1, 2, 3])), os.path.join(d, "pair.pt"))
torch.save({"images": torch.zeros(2, 3, 4, 4, dtype=torch.uint8), "labels": [1, 0]}, os.path.join(d, "dict.pt"))
open(os.path.join(d, "manifest.csv"), "w").write("path,label\nimages.npy,cat\nmissing.png,dog\n")
json.dump([{"op": "Resize", "size": 8}, {"op": "CenterCrop", "size": 6}, {"op": "ToTensor"},
           {"op": "Normalize", "mean": [0.5] * 3, "std": [0.25] * 3}], open(os.path.join(d, "pipe.json"), "w"))
open(os.path.join(d, "pipe.txt"), "w").write("Compose(\n    Resize(size=8, interpolation=bilinear, max_size=None, antialias=None)\n    RandomHorizontalFlip(p=0.5)\n    ToTensor()\n)\n")
# A TorchScript module for the pipeline's TorchScript stage, and copies whose
# members (code, pickles, constants) are damaged inside a valid zip.
import random
class Affine(torch.nn.Module):
    def forward(self, x):
        return x * 2.0 - 0.5
torch.jit.script(Affine()).save(os.path.join(d, "module.torchscript"))
rts = random.Random(11)
zts = zipfile.ZipFile(os.path.join(d, "module.torchscript"))
members = [i.filename for i in zts.infolist()]
for k in range(24):
    target = members[k % len(members)]
    zout = zipfile.ZipFile(os.path.join(d, "ts%d_module.torchscript" % k), "w", zipfile.ZIP_STORED)
    for m in members:
        data = bytearray(zts.read(m))
        if m == target and data:
            for _ in range(1 + (k // len(members)) * 4):
                data[rts.randrange(len(data))] = rts.randrange(256)
        zout.writestr(m, bytes(data))
    zout.close()
# data.pkl with flipped bytes but a valid zip (CRC recomputed): reaches the unpickler.
rnd = random.Random(7)
for name in ("tensor.pt", "pair.pt", "dict.pt"):
    zin = zipfile.ZipFile(os.path.join(d, name))
    for k in range(6):
        out = os.path.join(d, "pkl%d_%s" % (k, name))
        zout = zipfile.ZipFile(out, "w", zipfile.ZIP_STORED)
        for info in zin.infolist():
            data = bytearray(zin.read(info))
            if info.filename.endswith("data.pkl"):
                if k < 4:
                    for _ in range(1 + k * 3):
                        data[rnd.randrange(len(data))] ^= rnd.randrange(1, 256)
                elif k == 4:
                    data = data[: rnd.randrange(1, len(data))]
                else:
                    data = bytes(rnd.randrange(256) for _ in range(len(data)))
            elif k == 3 and "/data/" in info.filename:
                data = data[: len(data) // 2]  # storage shorter than the tensor claims
            zout.writestr(info.filename, bytes(data))
        zout.close()
)PY";
    QString err = runScript(tmp.path(), "make.py", make, {src});
    QVERIFY2(err.isEmpty(), qPrintable(err));

    // The originals open.
    for (const char* ok : {"images.npy", "stored.npz", "deflated.npz", "float.npy", "a-images-idx3-ubyte",
                           "b-images-idx3-ubyte.gz", "tensor.pt", "pair.pt", "dict.pt", "manifest.csv"}) {
        try {
            auto d = bs::openDataset((src + "/" + ok).toStdString());
            QVERIFY(d->size() > 0);
        } catch (const std::exception& e) {
            QFAIL(qPrintable(QString(ok) + ": " + e.what()));
        }
    }

    // Mutants next to the originals (same extensions, so openDataset picks
    // the same reader).
    const QString mut = tmp.path() + "/mut";
    QVERIFY(QDir().mkpath(mut));
    bsrobust::SplitMix rng(99);
    int files = 0;
    for (const QFileInfo& fi : QDir(src).entryInfoList(QDir::Files)) {
        if (fi.suffix() == "py") continue;
        const QString name = fi.fileName();
        const Bytes b = toBytes(readAll(fi.filePath()));
        auto put = [&](const QString& tag, const Bytes& bytes) {
            // Keep the reader-selecting suffix ("-images-idx3-ubyte", ".npz"...).
            writeBytes(mut + "/" + tag + "_" + name, bytes);
            ++files;
        };
        put("orig", b);
        if (name.startsWith("pkl") || name.startsWith("ts")) continue;  // damaged inside the zip
        for (int k = 0; k < 4; ++k) {
            const size_t cut = rng.range(1, b.size() - 1);
            put(QString("trunc%1").arg(cut), Bytes(b.begin(), b.begin() + long(cut)));
        }
        for (int flips : {1, 8, 64}) {
            Bytes c = b;
            for (int f = 0; f < flips; ++f) c[rng.range(0, c.size() - 1)] ^= uint8_t(1 + rng.range(0, 254));
            put(QString("flip%1").arg(flips), c);
        }
        Bytes h = b;
        for (size_t i = 0; i < std::min<size_t>(h.size(), 24); i += 3) h[i] = rng.byte();
        put("header", h);
    }
    // Lying headers: an npy claiming terabytes, an idx claiming more images
    // than it holds.
    {
        const std::string hdr = "{'descr': '|u1', 'fortran_order': False, 'shape': (100000000, 1000, 1000, 3), }";
        Bytes npy = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(hdr.size() + 1), 0};
        npy.insert(npy.end(), hdr.begin(), hdr.end());
        npy.push_back('\n');
        npy.resize(npy.size() + 64, 7);
        writeBytes(mut + "/lying.npy", npy);
        Bytes idx = {0, 0, 8, 3, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28};
        idx.resize(idx.size() + 28 * 28 * 2, 1);
        writeBytes(mut + "/lying-images-idx3-ubyte", idx);
        files += 2;
    }
    const auto before = hashTree(mut);
    int opened = 0, refused = 0, torchscriptRan = 0;
    std::set<QString> ptRefused;
    for (const QFileInfo& fi : QDir(mut).entryInfoList(QDir::Files, QDir::Name)) {
        const std::string p = fi.filePath().toStdString();
        const QString name = fi.fileName();
        try {
            if (name.endsWith(".json") || name.endsWith(".txt")) {
                bs::Pipeline pl = bs::Pipeline::loadFile(p);
                bs::Image im = bs::Image::allocate(10, 9, 3);
                (void)pl.run(bs::StageValue::fromImage(im), {});
            } else if (name.endsWith(".torchscript")) {
                const nlohmann::json stages = {{{"op", "ToTensor"}},
                                               {{"op", "TorchScript"}, {"path", p}}};
                bs::Pipeline pl = bs::Pipeline::fromJson(stages);
                (void)pl.run(bs::StageValue::fromImage(bs::Image::allocate(10, 9, 3)), {});
                ++torchscriptRan;
            } else {
                auto d = bs::openDataset(p);
                for (size_t i : {size_t(0), d->size() - 1}) {
                    if (d->hasRaw())
                        (void)d->loadRaw(i);
                    else
                        (void)d->loadTensor(i);
                }
            }
            ++opened;
        } catch (const bs::Error& e) {
            ++refused;
            if (name.endsWith(".pt")) ptRefused.insert(name);
            QVERIFY2(std::string(e.what()).find('\n') == std::string::npos || name.endsWith(".json") || name.endsWith(".txt"),
                     qPrintable(name + ": multi-line error: " + e.what()));
        } catch (const std::exception& e) {
            QFAIL(qPrintable(name + ": escaped as a non-bs::Error exception: " + e.what()));
        }
    }
    qInfo(
        "robustness: %d corrupt array/tensor/pipeline/TorchScript files: %d opened, %d refused "
        "with "
        "bs::Error; %d TorchScript modules ran",
        files, opened, refused, torchscriptRan);
    QVERIFY(torchscriptRan >= 1);  // at least the original module
    QVERIFY(files > 100);
    QVERIFY(refused > files / 3);
    // A truncated zip and a data.pkl cut short are always refused.
    for (const QString& n : {QString("orig_pkl4_tensor.pt"), QString("orig_pkl5_pair.pt")})
        QVERIFY2(ptRefused.count(n), qPrintable(n + " was accepted"));
    try {
        (void)bs::openDataset((mut + "/lying.npy").toStdString());
        QFAIL("lying .npy header accepted");
    } catch (const bs::Error& e) {
        QVERIFY(QString(e.what()).contains("lying.npy"));
    }
    QVERIFY2(hashTree(mut) == before, "a reader modified its input");
}

namespace {

std::string baseNameOf(const std::string& p) { return p.substr(p.find_last_of('/') + 1); }

void touch(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
}

}  // namespace

// Over 200,000 entries: 20 classes of 9,999 files (a few non-UTF-8 and
// 250-byte names, one non-image per 10), plus symlink loops, a dangling and
// a self-referencing link, an unreadable class sub-folder and unreadable
// files. Listing must finish, in torchvision's order, with the loops and
// unreadable folder reported.
void TestRobustness::hugeFolderWithLoopsAndUnreadableEntries() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const std::string root = tmp.path().toStdString() + "/big";
    QVERIFY(::mkdir(root.c_str(), 0755) == 0);
    // QDir cannot delete the non-UTF-8 names, so the tree is removed by
    // bytes here, on every exit from this test (a failed QVERIFY included).
    struct RemoveTree {
        std::string root;
        ~RemoveTree() {
            ::chmod((root + "/class4/locked").c_str(), 0755);
            std::error_code ignored;
            std::filesystem::remove_all(root, ignored);
        }
    } removeTree{root};
    const bool isRoot = ::geteuid() == 0;
    size_t entries = 0, images = 0;
    QElapsedTimer t;
    t.start();
    for (int c = 0; c < 20; ++c) {
        const std::string cls = root + "/class" + std::to_string(c);
        QVERIFY(::mkdir(cls.c_str(), 0755) == 0);
        ++entries;
        for (int i = 0; i < 9999; ++i) {
            std::string name;
            if (i % 1000 == 7)
                name = "caf\xe9_latin1_" + std::to_string(i);  // not UTF-8
            else if (i % 1000 == 9)
                name = std::string(240, 'L') + std::to_string(i);
            else
                name = "img_" + std::to_string((i * 7919) % 100000);
            name += i % 10 == 3 ? ".txt" : ".jpg";
            touch(cls + "/" + name);
            ++entries;
            if (i % 10 != 3) ++images;
        }
    }
    // Loops: a link to the class's parent and to itself, a self link, a dangling link.
    QVERIFY(::mkdir((root + "/class1/sub").c_str(), 0755) == 0);
    QVERIFY(::symlink("..", (root + "/class1/sub/up").c_str()) == 0);
    QVERIFY(::symlink(".", (root + "/class2/here").c_str()) == 0);
    QVERIFY(::symlink("self.jpg", (root + "/class3/self.jpg").c_str()) == 0);
    QVERIFY(::symlink("/nonexistent/x.png", (root + "/class3/dangling.png").c_str()) == 0);
    images += 2;  // both are image names: listed, then unreadable when loaded (as in torchvision)
    // Unreadable: a sub-folder with images and two files.
    const std::string locked = root + "/class4/locked";
    QVERIFY(::mkdir(locked.c_str(), 0755) == 0);
    for (int i = 0; i < 5; ++i) touch(locked + "/hidden" + std::to_string(i) + ".png");
    QVERIFY(::chmod(locked.c_str(), 0) == 0);
    touch(root + "/class5/noperm.jpg");
    QVERIFY(::chmod((root + "/class5/noperm.jpg").c_str(), 0) == 0);
    images += 1;
    entries += 5 + 1 + 5 + 1;
    qInfo("robustness: created %zu entries in %.1f s (running as %s)", entries, t.elapsed() / 1000.0,
          isRoot ? "root: chmod 000 does not stop reads" : "non-root");
    QVERIFY(entries >= 200000);

    t.restart();
    std::unique_ptr<bs::Dataset> ds;
    size_t progressCalls = 0;
    bs::OpenOptions opt;
    opt.progress = [&](size_t) { return ++progressCalls > 0; };
    try {
        ds = bs::openDataset(root, opt);
    } catch (const std::exception& e) {
        ::chmod(locked.c_str(), 0755);
        QFAIL(e.what());
    }
    const double openSeconds = t.elapsed() / 1000.0;
    ::chmod(locked.c_str(), 0755);  // so QTemporaryDir can clean up
    QVERIFY(ds->format() == bs::DatasetFormat::ImageFolder);
    QCOMPARE(ds->classes().size(), size_t(20));
    QVERIFY(progressCalls >= 100);
    // The loops are cut (each class appears once, not 40 times), and the
    // locked folder's 5 images are in only when its permissions do not bite.
    const size_t expected = images + (isRoot ? 5 : 0);
    QCOMPARE(ds->size(), expected);
    std::set<std::string> kinds;
    bool loopUp = false, loopHere = false, lockedReported = false;
    for (const auto& is : ds->issues()) {
        kinds.insert(is.kind);
        if (is.kind == "symlink_loop" && is.path.find("/class1/sub/up") != std::string::npos) loopUp = true;
        if (is.kind == "symlink_loop" && is.path.find("/class2/here") != std::string::npos) loopHere = true;
        if (is.kind == "unreadable_file" && is.path == locked) lockedReported = true;
    }
    QVERIFY2(loopHere, "class2/here -> . is not reported as a loop");
    QVERIFY2(loopUp, "class1/sub/up -> .. is not reported as a loop");
    QVERIFY(kinds.count("skipped_file"));
    if (!isRoot) QVERIFY2(lockedReported, "the unreadable folder is not reported");
    // Order of class0 (non-UTF-8 and long names included) equals Python's
    // sorted() of the surrogateescape-decoded names; labels ascend.
    {
        const QString order = tmp.path() + "/order.txt";
        auto r = bstest::runPython({"-c",
                                    "import os,sys\n"
                                    "d=sys.argv[1]\n"
                                    "names=[n for n in sorted(os.listdir(d)) if n.endswith('.jpg')]\n"
                                    "open(sys.argv[2],'wb').write(b'\\n'.join(os.fsencode(n) for n in names))",
                                    QString::fromStdString(root + "/class0"), order});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QList<QByteArray> want = readAll(order).split('\n');
        std::vector<std::string> got;
        for (size_t i = 0; i < ds->size() && ds->label(i) == 0; ++i)
            got.push_back(baseNameOf(ds->path(i)));
        QCOMPARE(got.size(), size_t(want.size()));
        for (size_t i = 0; i < got.size(); ++i) QCOMPARE(QByteArray::fromStdString(got[i]), want[int(i)]);
    }
    int64_t lastLabel = -1;
    for (size_t i = 0; i < ds->size(); ++i) {
        const int64_t l = ds->label(i);
        QVERIFY(l >= lastLabel);
        lastLabel = l;
    }
    // Loading the hostile entries gives decode errors, not crashes.
    int unreadable = 0;
    for (size_t i = 0; i < ds->size(); ++i) {
        const std::string p = ds->path(i);
        if (p.find("self.jpg") == std::string::npos && p.find("dangling.png") == std::string::npos &&
            p.find("noperm.jpg") == std::string::npos)
            continue;
        try {
            (void)ds->loadRaw(i);
        } catch (const bs::DecodeError& e) {
            ++unreadable;
            QCOMPARE(int(e.kind()), int(bs::DecodeErrorKind::Unreadable));
        }
    }
    QCOMPARE(unreadable, 3);  // noperm.jpg is empty, so even root cannot decode it
    qInfo("robustness: opened %zu samples from %zu entries in %.2f s; %zu issues", ds->size(), entries,
          openSeconds, ds->issues().size());
}

// Opening a named pipe for reading waits for a writer, and /dev/zero never
// ends: every reader must refuse such entries instead of hanging. Run
// through the CLI with a timeout first, so a regression fails rather than
// hangs the suite.
void TestRobustness::pipesAndDevicesDoNotBlock() {
    QTemporaryDir tmp;
    const std::string root = tmp.path().toStdString() + "/data";
    QVERIFY(QDir().mkpath(QString::fromStdString(root + "/a")));
    bstest::writePatternImage(QString::fromStdString(root + "/a/real.png"), 16, 12, 1);
    QVERIFY(::mkfifo((root + "/a/pipe.png").c_str(), 0644) == 0);
    QVERIFY(::symlink("/dev/zero", (root + "/a/zero.jpg").c_str()) == 0);
    const std::string loose = tmp.path().toStdString();
    for (const char* name : {"/pipe.npy", "/pipe.csv", "/pipe.json"})
        QVERIFY(::mkfifo((loose + name).c_str(), 0644) == 0);

    const QString report = tmp.path() + "/r.json";
    auto r = bstest::runCli({"audit", QString::fromStdString(root), "--quiet", "--report", report}, 60000);
    QCOMPARE(r.exitCode, 1);
    const std::set<QString> named = filesWithLoadFindings(readJson(report));
    // (Named paths are canonical: the link's is /dev/zero.)
    for (const char* bad : {"/a/pipe.png", "/a/zero.jpg"})
        QVERIFY2(named.count(QFileInfo(QString::fromStdString(root + bad)).canonicalFilePath()), bad);
    r = bstest::runCli({"audit", QString::fromStdString(loose + "/pipe.npy")}, 60000);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("not a regular file"), qPrintable(r.err));

    // In-process, each reader names the entry.
    auto ds = bs::openDataset(root);
    QCOMPARE(ds->size(), size_t(3));
    for (size_t i = 0; i < ds->size(); ++i) {
        if (ds->path(i).find("real.png") != std::string::npos) continue;
        bstest::expectError([&] { (void)ds->loadRaw(i); }, QString::fromStdString(ds->path(i)),
                            "not a regular file");
    }
    for (const char* name : {"/pipe.npy", "/pipe.csv"})
        bstest::expectError([&] { (void)bs::openDataset(loose + name); }, QString::fromStdString(loose + name),
                            "not a regular file");
    bstest::expectError([&] { (void)bs::Pipeline::loadFile(loose + "/pipe.json"); },
                        QString::fromStdString(loose + "/pipe.json"), "not a regular file");
}

QTEST_GUILESS_MAIN(TestRobustness)
#include "test_robustness.moc"
