// IDX, CSV, NumPy and .pt dataset readers: detection, contents against what
// Python reads, and malformed inputs (errors naming the file and problem).
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <zlib.h>

#include <atomic>
#include <thread>

#include "core/dataset/dataset.h"
#include "core/dataset/npy.h"
#include "core/dataset/ptfile.h"
#include "support/testsupport.h"

using bstest::expectError;

namespace {

QByteArray be32(uint32_t v) {
    QByteArray b(4, 0);
    for (int i = 0; i < 4; ++i) b[i] = char((v >> (24 - 8 * i)) & 0xFF);
    return b;
}

QByteArray idxImages(uint32_t n, uint32_t h, uint32_t w, int seed, uint32_t magic = 0x803) {
    QByteArray b = be32(magic) + be32(n) + be32(h) + be32(w);
    for (uint32_t i = 0; i < n * h * w; ++i) b.append(char((i * 7 + uint32_t(seed)) & 0xFF));
    return b;
}

QByteArray idxLabels(uint32_t n, int mod = 10) {
    QByteArray b = be32(0x801) + be32(n);
    for (uint32_t i = 0; i < n; ++i) b.append(char(i % uint32_t(mod)));
    return b;
}

void writeGz(const QString& path, const QByteArray& data) {
    gzFile f = gzopen(path.toLocal8Bit().constData(), "wb");
    QVERIFY(f);
    QCOMPARE(gzwrite(f, data.constData(), unsigned(data.size())), int(data.size()));
    gzclose(f);
}


auto opener(const QString& p) {
    return [p] { bs::openDataset(p.toStdString()); };
}

}  // namespace

class TestReaders : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void idxSynthetic();
    void idxMalformed();
    void fashionMnist();
    void csvManifest();
    void csvMalformed();
    void numpyDatasets();
    void tensorDumps();
    void tensorDumpsMalformed();
};

void TestReaders::idxSynthetic() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString d = tmp.path();
    bstest::writeFile(d + "/train-images-idx3-ubyte", idxImages(5, 3, 4, 1));
    writeGz(d + "/train-labels-idx1-ubyte.gz", idxLabels(5));
    writeGz(d + "/t10k-images-idx3-ubyte.gz", idxImages(2, 3, 4, 9));
    bstest::writeFile(d + "/t10k-labels-idx1-ubyte", idxLabels(2));

    auto ds = bs::openDataset(d.toStdString());
    QCOMPARE(ds->format(), bs::DatasetFormat::Idx);
    QCOMPARE(bs::formatName(ds->format()), std::string("idx"));
    QCOMPARE(ds->size(), size_t(5));
    QCOMPARE(QString::fromStdString(ds->path(3)), d + "/train-images-idx3-ubyte#3");
    // Unrecognised idx files: the labels are numbered (names come from the
    // format, never from the path).
    QCOMPARE(ds->classes().size(), size_t(5));
    QCOMPARE(ds->classes()[3], std::string("3"));
    bs::DecodeInfo info;
    bs::Image im = ds->loadRaw(2, &info);
    QCOMPARE(im.channels, 1);
    QCOMPARE(im.width, 4);
    QCOMPARE(im.height, 3);
    QCOMPARE(QString::fromStdString(info.sourceMode), QString("L"));
    for (uint32_t k = 0; k < 12; ++k) QCOMPARE(int(im.pixels[k]), int(((2 * 12 + k) * 7 + 1) & 0xFF));
    for (size_t i = 0; i < 5; ++i) QCOMPARE(ds->label(i), int64_t(i));
    QVERIFY_THROWS_EXCEPTION(bs::DecodeError, ds->loadRaw(5));

    // A path to one images file selects that split (gzip + raw labels).
    auto test = bs::openDataset((d + "/t10k-images-idx3-ubyte.gz").toStdString());
    QCOMPARE(test->size(), size_t(2));
    QCOMPARE(int(test->loadRaw(1).pixels[0]), int((12 * 7 + 9) & 0xFF));
    QCOMPARE(test->label(1), int64_t(1));

    // Concurrent loads return what sequential loads return.
    std::vector<bs::PixelBytes> seq;
    for (size_t i = 0; i < 5; ++i) seq.push_back(ds->loadRaw(i).pixels);
    std::atomic<int> mismatches{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int r = 0; r < 200; ++r)
                for (size_t i = 0; i < 5; ++i)
                    if (ds->loadRaw(i).pixels != seq[i]) ++mismatches;
        });
    for (auto& t : threads) t.join();
    QCOMPARE(mismatches.load(), 0);

    // Class names come from the format, never from the path: a folder that
    // merely says "fashion" keeps numbered labels, while torchvision's layout
    // root/FashionMNIST/raw/ names the dataset.
    QVERIFY(QDir(d).mkpath("fashion"));
    bstest::writeFile(d + "/fashion/train-images-idx3-ubyte", idxImages(1, 2, 2, 0));
    bstest::writeFile(d + "/fashion/train-labels-idx1-ubyte", idxLabels(1));
    QCOMPARE(bs::openDataset((d + "/fashion").toStdString())->classes().size(), size_t(1));
    QVERIFY(QDir(d).mkpath("tv/FashionMNIST/raw"));
    bstest::writeFile(d + "/tv/FashionMNIST/raw/train-images-idx3-ubyte", idxImages(1, 2, 2, 0));
    bstest::writeFile(d + "/tv/FashionMNIST/raw/train-labels-idx1-ubyte", idxLabels(1));
    QCOMPARE(bs::openDataset((d + "/tv/FashionMNIST/raw").toStdString())->classes()[9],
             std::string("Ankle boot"));
}

void TestReaders::idxMalformed() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString d = tmp.path();
    auto dir = [&](const QString& name, const QByteArray& images, const QByteArray& labels, bool gz = false) {
        QDir(d).mkpath(name);
        const QString p = d + "/" + name + "/train-images-idx3-ubyte" + (gz ? ".gz" : "");
        if (gz) writeGz(p, images);
        else bstest::writeFile(p, images);
        bstest::writeFile(d + "/" + name + "/train-labels-idx1-ubyte", labels);
        return p;
    };
    QString p = dir("magic", idxImages(2, 2, 2, 0, 0x804), idxLabels(2));
    expectError(opener(QFileInfo(p).path()), p, "magic");
    p = dir("short", idxImages(3, 4, 4, 0).left(16 + 40), idxLabels(3));
    expectError(opener(QFileInfo(p).path()), p, "does not match");
    p = dir("shortgz", idxImages(3, 4, 4, 0).left(16 + 40), idxLabels(3), true);
    expectError(opener(QFileInfo(p).path()), p, "truncated");
    // Header claims 4e9 x 60000 x 60000 pixels in a tiny file.
    p = dir("lying", be32(0x803) + be32(4000000000u) + be32(60000) + be32(60000) + QByteArray(10, 1), idxLabels(1));
    expectError(opener(QFileInfo(p).path()), p, "absurd");
    p = dir("lyinggz", be32(0x803) + be32(100000) + be32(1000) + be32(1000) + QByteArray(10, 1), idxLabels(1), true);
    expectError(opener(QFileInfo(p).path()), p, "more than the compressed file");
    p = dir("extra", idxImages(2, 2, 2, 0) + "xx", idxLabels(2));
    expectError(opener(QFileInfo(p).path()), p, "header claims 8 bytes, file holds 10");
    p = dir("extragz", idxImages(2, 2, 2, 0) + "xx", idxLabels(2), true);
    expectError(opener(QFileInfo(p).path()), p, "extra bytes");
    p = dir("header", be32(0x803) + be32(1), idxLabels(1));
    expectError(opener(QFileInfo(p).path()), p, "header");
    dir("count", idxImages(3, 2, 2, 0), idxLabels(4));
    expectError(opener(d + "/count"), d + "/count/train-labels-idx1-ubyte", "4 labels");
    dir("lblmagic", idxImages(1, 2, 2, 0), be32(0x803) + be32(1) + "x");
    expectError(opener(d + "/lblmagic"), d + "/lblmagic/train-labels-idx1-ubyte", "magic");
    QDir(d).mkpath("badgz");
    QByteArray gz;
    {
        const QString g = d + "/badgz/train-images-idx3-ubyte.gz";
        writeGz(g, idxImages(20, 8, 8, 3));
        QFile f(g);
        QVERIFY(f.open(QIODevice::ReadOnly));
        gz = f.readAll();
    }
    for (int i = 30; i < gz.size() - 8; ++i) gz[i] = char(gz[i] ^ 0x5A);
    bstest::writeFile(d + "/badgz/train-images-idx3-ubyte.gz", gz);
    bstest::writeFile(d + "/badgz/train-labels-idx1-ubyte", idxLabels(20));
    try {
        bs::openDataset((d + "/badgz").toStdString());
        QFAIL("corrupt gzip opened");
    } catch (const bs::Error& e) {
        QVERIFY2(QString(e.what()).contains(d + "/badgz/train-images-idx3-ubyte.gz"), e.what());
    }
}

void TestReaders::fashionMnist() {
    const QString dir = "/usr/share/datasets/fashion-mnist";
    if (!QFile::exists(dir + "/train-images-idx3-ubyte.gz")) BSTEST_SKIP("Fashion-MNIST not installed in /usr/share/datasets");
    auto ds = bs::openDataset(dir.toStdString());
    QCOMPARE(ds->format(), bs::DatasetFormat::Idx);
    QCOMPARE(ds->size(), size_t(60000));
    QCOMPARE(ds->classes()[0], std::string("T-shirt/top"));
    bs::Image im = ds->loadRaw(59999);
    QCOMPARE(im.width, 28);
    QCOMPARE(im.height, 28);
    QCOMPARE(im.channels, 1);

    const char* script =
        "import gzip, sys, numpy as np\n"
        "d = sys.argv[1]\n"
        "x = np.frombuffer(gzip.open(d + '/train-images-idx3-ubyte.gz').read(), np.uint8, offset=16)\n"
        "y = np.frombuffer(gzip.open(d + '/train-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)\n"
        "x = x.reshape(-1, 784).astype(np.int64)\n"
        "w = np.arange(1, 785, dtype=np.int64)\n"
        "print(' '.join(map(str, y[:20])))\n"
        "print(int((x * w).sum()), int(x[59999].sum()), int(x[123, 400]))\n";
    auto r = bstest::runPython({"-c", script, dir});
    if (r.exitCode == -2) BSTEST_SKIP("python3/numpy missing: Fashion-MNIST contents not cross-checked");
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const QStringList lines = r.out.trimmed().split('\n');
    QCOMPARE(lines.size(), 2);
    const QStringList labels = lines[0].split(' ');
    for (int i = 0; i < 20; ++i) QCOMPARE(ds->label(size_t(i)), labels[i].toLongLong());
    int64_t weighted = 0, last = 0;
    for (size_t i = 0; i < ds->size(); ++i) {
        bs::Image s = ds->loadRaw(i);
        for (int k = 0; k < 784; ++k) weighted += int64_t(s.pixels[size_t(k)]) * (k + 1);
    }
    for (uint8_t v : im.pixels) last += v;
    const QStringList sums = lines[1].split(' ');
    QCOMPARE(weighted, sums[0].toLongLong());
    QCOMPARE(last, sums[1].toLongLong());
    QCOMPARE(int64_t(ds->loadRaw(123).pixels[400]), sums[2].toLongLong());

    auto test = bs::openDataset((dir + "/t10k-labels-idx1-ubyte.gz").toStdString());
    QCOMPARE(test->size(), size_t(10000));
}

void TestReaders::csvManifest() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString d = tmp.path();
    QDir(d).mkpath("imgs/sub");
    bstest::writePatternImage(d + "/imgs/a.png", 5, 4, 1);
    bstest::writePatternImage(d + "/imgs/sub/b, c.png", 3, 2, 2);
    bstest::writePatternImage(d + "/abs.png", 2, 2, 3);
    // Header, relative/absolute/quoted paths, class names, CRLF endings.
    bstest::writeFile(d + "/m.csv", ("filename,class\r\nimgs/a.png,dog\r\n\"imgs/sub/b, c.png\",cat\r\n" + d +
                                     "/abs.png,dog\r\n\r\nimgs/missing.png,\"bird\"\r\n")
                                        .toUtf8());
    auto ds = bs::openDataset((d + "/m.csv").toStdString());
    QCOMPARE(ds->format(), bs::DatasetFormat::Csv);
    QCOMPARE(ds->size(), size_t(4));
    QCOMPARE(ds->classes(), (std::vector<std::string>{"bird", "cat", "dog"}));
    QCOMPARE(ds->label(0), int64_t(2));
    QCOMPARE(ds->label(1), int64_t(1));
    QCOMPARE(ds->label(3), int64_t(0));
    QCOMPARE(QString::fromStdString(ds->path(1)), d + "/imgs/sub/b, c.png");
    QCOMPARE(QString::fromStdString(ds->path(2)), d + "/abs.png");
    QCOMPARE(ds->loadRaw(1).width, 3);
    try {
        ds->loadRaw(3);
        QFAIL("missing file decoded");
    } catch (const bs::DecodeError& e) {
        QCOMPARE(e.kind(), bs::DecodeErrorKind::Unreadable);
        QVERIFY2(QString(e.what()).contains("missing.png"), e.what());
    }
    bool reported = false;
    for (const auto& i : ds->issues()) reported |= QString::fromStdString(i.path).endsWith("missing.png");
    QVERIFY(reported);

    // No header, integer labels, the first path exists.
    bstest::writeFile(d + "/n.csv", "imgs/a.png,3\nimgs/a.png,0\n");
    auto n = bs::openDataset((d + "/n.csv").toStdString());
    QCOMPARE(n->size(), size_t(2));
    QCOMPARE(n->label(0), int64_t(3));
    QVERIFY(n->classes().empty());
    // No header and a class-name label: detected because the path exists.
    bstest::writeFile(d + "/c.csv", "imgs/a.png,zebra\nabs.png,ant\n");
    auto c = bs::openDataset((d + "/c.csv").toStdString());
    QCOMPARE(c->size(), size_t(2));
    QCOMPARE(c->label(0), int64_t(1));
    // Header with columns in another order.
    bstest::writeFile(d + "/o.csv", "label,path\n4,imgs/a.png\n");
    auto o = bs::openDataset((d + "/o.csv").toStdString());
    QCOMPARE(o->size(), size_t(1));
    QCOMPARE(o->label(0), int64_t(4));
    QCOMPARE(QString::fromStdString(o->path(0)), d + "/imgs/a.png");
}

void TestReaders::csvMalformed() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString d = tmp.path();
    auto csv = [&](const QString& name, const QByteArray& text) {
        bstest::writeFile(d + "/" + name, text);
        return d + "/" + name;
    };
    expectError(opener(csv("fields.csv", "path,label\na.png,1\nb.png\n")), d + "/fields.csv:3", "expected 2 fields");
    expectError(opener(csv("quote.csv", "path,label\na.png,1\n\"b.png,2\n")), d + "/quote.csv:3", "unterminated");
    expectError(opener(csv("after.csv", "path,label\n\"a.png\"x,1\n")), d + "/after.csv:2", "closing quote");
    expectError(opener(csv("neg.csv", "path,label\na.png,-5\n")), d + "/neg.csv:2", "negative label");
    expectError(opener(csv("empty.csv", "")), d + "/empty.csv", "no rows");
    expectError(opener(csv("onlyhdr.csv", "path,label\n")), d + "/onlyhdr.csv", "no rows");
    expectError(opener(csv("nopath.csv", "path,label\n,3\n")), d + "/nopath.csv:2", "empty path");
    expectError(opener(csv("binary.csv", QByteArray("a.png,1\n\0\0\0", 11))), d + "/binary.csv:2", "binary");
}

void TestReaders::numpyDatasets() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString d = tmp.path();
    // uint8 (N,H,W,C) with alpha + sibling labels: raw images, alpha dropped.
    std::vector<float> rgba;
    for (int i = 0; i < 2 * 3 * 2 * 4; ++i) rgba.push_back(float(i * 5 % 256));
    bs::writeNpy((d + "/rgba.npy").toStdString(), {2, 3, 2, 4}, rgba, true);
    bs::writeNpy((d + "/rgba_labels.npy").toStdString(), {2}, {7.f, 1.f});
    auto ds = bs::openDataset((d + "/rgba.npy").toStdString());
    QCOMPARE(ds->format(), bs::DatasetFormat::Numpy);
    QVERIFY(ds->hasRaw());
    QCOMPARE(ds->size(), size_t(2));
    QCOMPARE(ds->label(0), int64_t(7));
    QCOMPARE(QString::fromStdString(ds->path(1)), d + "/rgba.npy#1");
    bs::Image im = ds->loadRaw(1);
    QCOMPARE(im.channels, 3);
    QCOMPARE(im.width, 2);
    QCOMPARE(im.height, 3);
    // pixel (y=2, x=1) of sample 1, channel 2
    QCOMPARE(int(im.at(2, 1, 2)), int(rgba[((1 * 3 + 2) * 2 + 1) * 4 + 2]));

    // float (N,C,H,W): no raw side, loadTensor gives the stored C,H,W.
    std::vector<float> f;
    for (int i = 0; i < 3 * 3 * 4 * 5; ++i) f.push_back(float(i) * 0.01f - 0.5f);
    QDir(d).mkpath("float");
    bs::writeNpy((d + "/float/t.npy").toStdString(), {3, 3, 4, 5}, f);
    bs::writeNpy((d + "/float/labels.npy").toStdString(), {3}, {0.f, 1.f, 2.f});
    auto t = bs::openDataset((d + "/float/t.npy").toStdString());
    QVERIFY(!t->hasRaw());
    QVERIFY_THROWS_EXCEPTION(bs::DecodeError, t->loadRaw(0));
    bs::Tensor s = t->loadTensor(2);
    QCOMPARE(s.shape, (std::vector<int64_t>{3, 4, 5}));
    QCOMPARE(s.values, std::vector<float>(f.begin() + 120, f.end()));
    QCOMPARE(t->label(2), int64_t(2));

    // (N,H,W) uint8 gray, and uint8 NCHW transposed to an HWC image.
    bs::writeNpy((d + "/g.npy").toStdString(), {1, 2, 3}, {1, 2, 3, 4, 5, 6}, true);
    auto g = bs::openDataset((d + "/g.npy").toStdString());
    QCOMPARE(g->loadRaw(0).channels, 1);
    QCOMPARE(g->loadRaw(0).pixels, (bs::PixelBytes{1, 2, 3, 4, 5, 6}));
    QCOMPARE(g->label(0), int64_t(-1));
    std::vector<float> chw;
    for (int i = 0; i < 3 * 2 * 5; ++i) chw.push_back(float(i));
    bs::writeNpy((d + "/chw.npy").toStdString(), {1, 3, 2, 5}, chw, true);
    bs::Image c = bs::openDataset((d + "/chw.npy").toStdString())->loadRaw(0);
    QCOMPARE(c.channels, 3);
    QCOMPARE(c.width, 5);
    QCOMPARE(int(c.at(1, 4, 2)), 2 * 10 + 1 * 5 + 4);

    // Bad shapes and mismatching labels.
    bs::writeNpy((d + "/flat.npy").toStdString(), {6}, {1, 2, 3, 4, 5, 6});
    expectError(opener(d + "/flat.npy"), d + "/flat.npy", "shape");
    bs::writeNpy((d + "/five.npy").toStdString(), {1, 5, 2, 2}, std::vector<float>(20, 0.f));
    expectError(opener(d + "/five.npy"), d + "/five.npy", "shape");
    QDir(d).mkpath("m");
    bs::writeNpy((d + "/m/x.npy").toStdString(), {2, 2, 2}, std::vector<float>(8, 0.f));
    bs::writeNpy((d + "/m/x_labels.npy").toStdString(), {3}, {1, 2, 3});
    expectError(opener(d + "/m/x.npy"), d + "/m/x_labels.npy", "do not match");

    if (bstest::runPython({"-c", "import numpy"}).exitCode != 0) BSTEST_SKIP("numpy missing: .npz datasets not checked");
    auto r = bstest::runPython({"-c",
                                "import sys, numpy as np\n"
                                "x = (np.arange(4 * 6 * 7 * 3) % 256).astype(np.uint8).reshape(4, 6, 7, 3)\n"
                                "np.savez_compressed(sys.argv[1] + '/d.npz', x=x, y=np.array([3, 1, 4, 1]))\n",
                                d});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    auto z = bs::openDataset((d + "/d.npz").toStdString());
    QCOMPARE(z->size(), size_t(4));
    QCOMPARE(z->label(2), int64_t(4));
    bs::Image zi = z->loadRaw(3);
    QCOMPARE(zi.width, 7);
    QCOMPARE(int(zi.at(5, 6, 1)), int((((3 * 6 + 5) * 7 + 6) * 3 + 1) % 256));
}

void TestReaders::tensorDumps() {
    if (!bstest::torchvisionAvailable()) BSTEST_SKIP("torch (/usr/bin/python3) is missing: .pt dumps not generated");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const char* script =
        "import sys, torch\n"
        "d = sys.argv[1]\n"
        "x = torch.arange(4 * 3 * 5 * 6, dtype=torch.float32).reshape(4, 3, 5, 6) * 0.25 - 7\n"
        "torch.save(x, d + '/bare.pt')\n"
        "torch.save((x, torch.tensor([2, 0, 1, 9])), d + '/pair.pth')\n"
        "torch.save({'labels': [5, 6, 7, 8], 'images': x[:, :1].double(), 'meta': torch.ones(2)}, d + '/dict.pt')\n"
        "torch.save([(x[:, 0] * 4 + 28).to(torch.uint8), torch.tensor([1, 1, 1, 1])], d + '/gray.pt')\n"
        "torch.save({'a': torch.zeros(3), 'b': torch.ones(2, 2)}, d + '/notimages.pt')\n";
    auto r = bstest::runPython({"-c", script, tmp.path()});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    auto expected = [](int64_t i) { return float(i) * 0.25f - 7.f; };

    auto bare = bs::openDataset((tmp.path() + "/bare.pt").toStdString());
    QCOMPARE(bare->format(), bs::DatasetFormat::TensorDump);
    QCOMPARE(bs::formatName(bare->format()), std::string("pt"));
    QVERIFY(!bare->hasRaw());
    QCOMPARE(bare->size(), size_t(4));
    QCOMPARE(bare->label(0), int64_t(-1));
    bs::Tensor t = bare->loadTensor(1);
    QCOMPARE(t.shape, (std::vector<int64_t>{3, 5, 6}));
    for (int64_t i = 0; i < 90; ++i) QCOMPARE(t.values[size_t(i)], expected(90 + i));

    auto pair = bs::openDataset((tmp.path() + "/pair.pth").toStdString());
    QCOMPARE(pair->label(3), int64_t(9));
    QCOMPARE(pair->loadTensor(3).values[89], expected(359));

    auto dict = bs::openDataset((tmp.path() + "/dict.pt").toStdString());
    QCOMPARE(dict->label(1), int64_t(6));
    bs::Tensor dt = dict->loadTensor(2);
    QCOMPARE(dt.shape, (std::vector<int64_t>{1, 5, 6}));
    QCOMPARE(dt.values[7], expected(2 * 90 + 7));

    auto gray = bs::openDataset((tmp.path() + "/gray.pt").toStdString());
    bs::Tensor gt = gray->loadTensor(0);
    QCOMPARE(gt.shape, (std::vector<int64_t>{1, 5, 6}));
    QCOMPARE(gt.dtype, bs::DType::UInt8);
    QCOMPARE(gt.values[3], float(uint8_t(expected(3) * 4 + 28)));

    // The reusable reader: every tensor, in order.
    const auto all = bs::readPtTensors((tmp.path() + "/notimages.pt").toStdString());
    QCOMPARE(all.size(), size_t(2));
    QCOMPARE(all[1].shape, (std::vector<int64_t>{2, 2}));
    QCOMPARE(all[1].values[3], 1.f);
    expectError(opener(tmp.path() + "/notimages.pt"), tmp.path() + "/notimages.pt", "no image tensor");
}

void TestReaders::tensorDumpsMalformed() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString d = tmp.path();
    bstest::writeFile(d + "/random.pt", QByteArray(300, 'z'));
    expectError(opener(d + "/random.pt"), d + "/random.pt", "not a torch.save zip archive");
    bstest::writeFile(d + "/empty.pt", QByteArray());
    expectError(opener(d + "/empty.pt"), d + "/empty.pt", "not a torch.save");
    if (!bstest::torchvisionAvailable()) BSTEST_SKIP("torch (/usr/bin/python3) is missing: damaged dumps not generated");
    const char* script =
        "import sys, torch, zipfile\n"
        "d = sys.argv[1]\n"
        "torch.save(torch.ones(2, 3, 4, 4), d + '/ok.pt')\n"
        "data = open(d + '/ok.pt', 'rb').read()\n"
        "open(d + '/cut.pt', 'wb').write(data[:len(data) // 2])\n"
        "torch.save(torch.ones(2, 3, 4, 4), d + '/legacy.pt', _use_new_zipfile_serialization=False)\n"
        "with zipfile.ZipFile(d + '/nopkl.pt', 'w') as z: z.writestr('archive/other.txt', 'x')\n"
        "torch.save((torch.ones(2, 1, 3, 3), torch.tensor([1, 2, 3])), d + '/count.pt')\n"
        "torch.save(torch.ones(5), d + '/vector.pt')\n"
        "b = bytearray(data)\n"
        "i = b.find(b'data.pkl') + 40\n"
        "b[i:i + 30] = b'\\xff' * 30\n"
        "open(d + '/garbled.pt', 'wb').write(bytes(b))\n";
    auto r = bstest::runPython({"-c", script, d});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QCOMPARE(bs::openDataset((d + "/ok.pt").toStdString())->size(), size_t(2));
    expectError(opener(d + "/cut.pt"), d + "/cut.pt", "not a torch.save zip archive");
    expectError(opener(d + "/legacy.pt"), d + "/legacy.pt", "legacy");
    expectError(opener(d + "/nopkl.pt"), d + "/nopkl.pt", "data.pkl");
    expectError(opener(d + "/count.pt"), d + "/count.pt", "3 labels");
    expectError(opener(d + "/vector.pt"), d + "/vector.pt", "shape");
    // 30 bytes of the pickle stream overwritten (inside the name of the
    // rebuild function): it must be refused, naming the file and the reason.
    expectError(opener(d + "/garbled.pt"), d + "/garbled.pt", "cannot be unpickled");
}

QTEST_GUILESS_MAIN(TestReaders)
#include "test_readers.moc"
