// .npy/.npz reading against files numpy writes, writeNpy against numpy's
// reader, and malformed files: each must fail with the file and the problem.
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "core/dataset/npy.h"
#include "support/testsupport.h"

using bstest::expectError;

namespace {

QByteArray npyHeader(const QByteArray& dict, int major = 1) {
    QByteArray h = dict;
    const int pre = major == 1 ? 10 : 12;
    while ((pre + h.size() + 1) % 64) h.append(' ');
    h.append('\n');
    QByteArray out("\x93NUMPY", 6);
    out.append(char(major));
    out.append(char(0));
    if (major == 1) {
        out.append(char(h.size() & 0xFF));
        out.append(char(h.size() >> 8));
    } else {
        for (int i = 0; i < 4; ++i) out.append(char((h.size() >> (8 * i)) & 0xFF));
    }
    return out + h;
}


bool numpyAvailable() {
    auto r = bstest::runPython({"-c", "import numpy"}, 60000);
    return r.exitCode == 0;
}

// Runs the python `body` with numpy imported as np and `d` the folder
// `dir`, where it writes its files: python's error output, empty when none.
QString writeWithNumpy(const QString& dir, const char* body) {
    const QString script = QStringLiteral("import sys, numpy as np\nd = sys.argv[1]\n") + body;
    const auto r = bstest::runPython({"-c", script, dir});
    return r.exitCode == 0 ? QString() : r.err;
}

}  // namespace

class TestNpy : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void dtypesFromNumpy();
    void npzFromNumpy();
    void writeRoundTrip();
    void malformed();
};

void TestNpy::dtypesFromNumpy() {
    if (!numpyAvailable()) BSTEST_SKIP("numpy (/usr/bin/python3) is missing");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    // Each dtype from the same base sequence; versions 1, 2 and 3 of the format.
    const QString err = writeWithNumpy(tmp.path(), R"PY(
base = np.arange(24).reshape(2, 3, 4)
vals = {'u1': base * 10 % 256, 'i1': base - 12, 'u2': base * 1000, 'i2': base * -300,
        'u4': base * 100000, 'i4': base * -100000, 'u8': base * 7, 'i8': base * -(2**40),
        'f2': base * 0.5 - 3, 'f4': base * 0.25 - 3, 'f8': base / 3.0, 'b1': base % 3 == 0}
for k, v in vals.items():
    np.save(f'{d}/{k}.npy', v.astype(k))
for ver in [(2, 0), (3, 0)]:
    with open(f'{d}/v{ver[0]}.npy', 'wb') as f:
        np.lib.format.write_array(f, (base * 0.25 - 3).astype('<f4'), version=ver)
np.save(f'{d}/fortran.npy', np.asfortranarray(base.astype('<f4')))
np.save(f'{d}/scalar.npy', np.float32(2.5))
np.save(f'{d}/empty.npy', np.zeros((0, 5), np.float32))
np.save(f'{d}/big.npy', np.zeros((2, 3), '>f4'))
)PY");
    QVERIFY2(err.isEmpty(), qPrintable(err));

    struct Case {
        const char* name;
        double (*f)(int);
    };
    const Case cases[] = {
        {"u2", [](int i) { return double(i * 1000); }},
        {"i2", [](int i) { return double(i * -300); }},
        {"u4", [](int i) { return double(i * 100000); }},
        {"i4", [](int i) { return double(i * -100000); }},
        {"u8", [](int i) { return double(i * 7); }},
        {"i8", [](int i) { return double(i) * -1099511627776.0; }},
        {"i1", [](int i) { return double(i - 12); }},
        {"f2", [](int i) { return i * 0.5 - 3; }},
        {"f4", [](int i) { return i * 0.25 - 3; }},
        {"f8", [](int i) { return double(float(i / 3.0)); }},
        {"b1", [](int i) { return i % 3 == 0 ? 1.0 : 0.0; }},
        {"v2", [](int i) { return i * 0.25 - 3; }},
        {"v3", [](int i) { return i * 0.25 - 3; }},
    };
    const std::vector<int64_t> shape = {2, 3, 4};
    for (const auto& c : cases) {
        bs::NpyArray a = bs::readNpy((tmp.path() + "/" + c.name + ".npy").toStdString());
        QCOMPARE(a.shape, shape);
        QVERIFY2(a.bytes.empty(), c.name);
        QCOMPARE(a.values.size(), size_t(24));
        for (int i = 0; i < 24; ++i) QCOMPARE(double(a.values[size_t(i)]), double(float(c.f(i))));
    }
    bs::NpyArray u = bs::readNpy((tmp.path() + "/u1.npy").toStdString());
    QVERIFY(u.isUint8());
    QVERIFY(u.values.empty());
    QCOMPARE(u.bytes.size(), size_t(24));
    for (int i = 0; i < 24; ++i) QCOMPARE(int(u.bytes[size_t(i)]), i * 10 % 256);

    bs::NpyArray s = bs::readNpy((tmp.path() + "/scalar.npy").toStdString());
    QVERIFY(s.shape.empty());
    QCOMPARE(s.values, std::vector<float>{2.5f});
    bs::NpyArray e = bs::readNpy((tmp.path() + "/empty.npy").toStdString());
    QCOMPARE(e.shape, (std::vector<int64_t>{0, 5}));
    QVERIFY(e.values.empty());

    const QString fortran = tmp.path() + "/fortran.npy";
    expectError([&] { bs::readNpy(fortran.toStdString()); }, fortran, "fortran");
    const QString big = tmp.path() + "/big.npy";
    expectError([&] { bs::readNpy(big.toStdString()); }, big, "byte order");
}

void TestNpy::npzFromNumpy() {
    if (!numpyAvailable()) BSTEST_SKIP("numpy (/usr/bin/python3) is missing");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString err = writeWithNumpy(tmp.path(), R"PY(
x = (np.arange(2 * 5 * 6) % 251).astype(np.uint8).reshape(2, 5, 6)
y = np.array([3, 7], np.int64)
np.savez(f'{d}/plain.npz', images=x, labels=y)
np.savez_compressed(f'{d}/packed.npz', images=x, labels=y, extra=np.linspace(0, 1, 5))
)PY");
    QVERIFY2(err.isEmpty(), qPrintable(err));
    for (const char* name : {"plain", "packed"}) {
        auto members = bs::readNpz((tmp.path() + "/" + name + ".npz").toStdString());
        QVERIFY(members.size() >= 2);
        const bs::NpyArray* images = nullptr;
        const bs::NpyArray* labels = nullptr;
        const bs::NpyArray* extra = nullptr;
        for (const auto& [k, v] : members) {
            if (k == "images") images = &v;
            if (k == "labels") labels = &v;
            if (k == "extra") extra = &v;
        }
        QVERIFY(images && labels);
        QCOMPARE(images->shape, (std::vector<int64_t>{2, 5, 6}));
        for (int i = 0; i < 60; ++i) QCOMPARE(int(images->bytes[size_t(i)]), i % 251);
        QCOMPARE(labels->values, (std::vector<float>{3.f, 7.f}));
        if (std::string(name) == "packed") {
            QVERIFY(extra);
            QCOMPARE(extra->values.size(), size_t(5));
            QCOMPARE(extra->values[4], 1.f);
        }
    }
    // Truncated archive: the central directory is gone.
    QFile f(tmp.path() + "/packed.npz");
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray all = f.readAll();
    const QString cut = tmp.path() + "/cut.npz";
    bstest::writeFile(cut, all.left(all.size() / 2));
    expectError([&] { bs::readNpz(cut.toStdString()); }, cut, "npz");
}

void TestNpy::writeRoundTrip() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString pf = tmp.path() + "/f.npy", pu = tmp.path() + "/u.npy";
    std::vector<float> v;
    for (int i = 0; i < 2 * 3 * 4 * 5; ++i) v.push_back(float(i) * 0.37f - 20.f);
    bs::writeNpy(pf.toStdString(), {2, 3, 4, 5}, v);
    bs::NpyArray a = bs::readNpy(pf.toStdString());
    QCOMPARE(a.dtype, std::string("<f4"));
    QCOMPARE(a.shape, (std::vector<int64_t>{2, 3, 4, 5}));
    QCOMPARE(a.values, v);
    std::vector<float> u = {-3.f, 0.4f, 0.5f, 1.5f, 254.6f, 300.f};
    bs::writeNpy(pu.toStdString(), {6}, u, true);
    bs::NpyArray b = bs::readNpy(pu.toStdString());
    QVERIFY(b.isUint8());
    QCOMPARE(b.bytes, (std::vector<uint8_t>{0, 0, 1, 2, 255, 255}));  // round half away, clamp
    QVERIFY_THROWS_EXCEPTION(bs::Error, bs::writeNpy((tmp.path() + "/no/dir/x.npy").toStdString(), {1}, {1.f}));
    QVERIFY_THROWS_EXCEPTION(bs::Error, bs::writeNpy(pf.toStdString(), {2, 2}, {1.f}));

    if (!numpyAvailable()) BSTEST_SKIP("numpy (/usr/bin/python3) is missing: numpy's reader not checked");
    auto r = bstest::runPython({"-c",
                                "import sys, numpy as np\n"
                                "a = np.load(sys.argv[1]); b = np.load(sys.argv[2])\n"
                                "assert a.dtype == np.float32 and a.shape == (2, 3, 4, 5)\n"
                                "exp = (np.arange(120, dtype=np.float32) * np.float32(0.37) - np.float32(20)).reshape(2, 3, 4, 5)\n"
                                "assert (a == exp).all(), 'values'\n"
                                "assert b.dtype == np.uint8 and b.tolist() == [0, 0, 1, 2, 255, 255]\n",
                                pf, pu});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
}

void TestNpy::malformed() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    auto make = [&](const QString& name, const QByteArray& bytes) {
        const QString p = tmp.path() + "/" + name;
        bstest::writeFile(p, bytes);
        return p;
    };
    auto read = [](const QString& p) { return [p] { bs::readNpy(p.toStdString()); }; };
    const QByteArray f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

    expectError(read(make("magic.npy", "PK\x03\x04 not numpy at all")), tmp.path() + "/magic.npy", "magic");
    expectError(read(make("short.npy", npyHeader(f4) + QByteArray(20, 0))), tmp.path() + "/short.npy",
                "holds 20 data bytes");
    expectError(read(make("long.npy", npyHeader(f4) + QByteArray(28, 0))), tmp.path() + "/long.npy",
                "holds 28 data bytes");
    expectError(read(make("huge.npy", npyHeader("{'descr': '<f8', 'fortran_order': False, "
                                                "'shape': (1000000, 1000000, 1000000), }") +
                                          QByteArray(64, 0))),
                tmp.path() + "/huge.npy", "header claims");
    expectError(read(make("overflow.npy", npyHeader("{'descr': '<f8', 'fortran_order': False, "
                                                    "'shape': (4294967296, 4294967296, 4294967296), }"))),
                tmp.path() + "/overflow.npy", "header claims");
    expectError(read(make("fortran.npy",
                          npyHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }") + QByteArray(24, 0))),
                tmp.path() + "/fortran.npy", "fortran");
    expectError(read(make("nokey.npy", npyHeader("{'descr': '<f4', 'shape': (2, 3), }") + QByteArray(24, 0))),
                tmp.path() + "/nokey.npy", "header");
    expectError(read(make("junk.npy", npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
                                                "'evil': __import__('os'), }") +
                                          QByteArray(24, 0))),
                tmp.path() + "/junk.npy", "header");
    expectError(read(make("negdim.npy",
                          npyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 3), }") + QByteArray(24, 0))),
                tmp.path() + "/negdim.npy", "header");
    expectError(read(make("dtype.npy",
                          npyHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }") + QByteArray(48, 0))),
                tmp.path() + "/dtype.npy", "dtype");
    expectError(read(make("objects.npy",
                          npyHeader("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }") + QByteArray(16, 0))),
                tmp.path() + "/objects.npy", "dtype");
    expectError(read(make("version.npy", QByteArray("\x93NUMPY\x09\x00\x10\x00", 10) + QByteArray(80, ' '))),
                tmp.path() + "/version.npy", "version");
    QByteArray cutHeader = npyHeader(f4);
    cutHeader.truncate(30);
    expectError(read(make("cuthdr.npy", cutHeader)), tmp.path() + "/cuthdr.npy", "truncated");
    expectError(read(tmp.path() + "/absent.npy"), tmp.path() + "/absent.npy", "cannot open");

    // Version 2 header with a 4-byte length works.
    const QString v2 = make("v2.npy", npyHeader(f4, 2) + QByteArray(24, 0));
    QCOMPARE(bs::readNpy(v2.toStdString()).values.size(), size_t(6));

    const QString notZip = make("bad.npz", "definitely not a zip file");
    expectError([&] { bs::readNpz(notZip.toStdString()); }, notZip, "npz");
}

QTEST_GUILESS_MAIN(TestNpy)
#include "test_npy.moc"
