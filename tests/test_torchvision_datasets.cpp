// torchvision's built-in datasets by their root (KMNIST, EMNIST, QMNIST,
// CIFAR-10/100, FashionMNIST), checked against what torchvision itself reads
// from the same files (tests/torchvision_fixtures.py), and CIFAR pickles that
// would run code refused.
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include "core/dataset/torchvision_datasets.h"
#include "support/testsupport.h"

class TestTorchvisionDatasets : public QObject {
    Q_OBJECT

    QTemporaryDir root_;
    nlohmann::json reference_;

    // Size, class names, labels and pixels of two samples as torchvision gives them.
    void checkAgainstTorchvision(const bs::Dataset& ds, const std::string& key) {
        const auto& ref = reference_[key];
        QCOMPARE(ds.size(), ref["size"].get<size_t>());
        QCOMPARE(ds.classes(), ref["classes"].get<std::vector<std::string>>());
        for (const auto& s : ref["samples"]) {
            const size_t i = s["index"].get<size_t>();
            const bs::Image im = ds.loadRaw(i);
            int64_t sum = 0;
            for (uint8_t v : im.pixels) sum += v;
            QCOMPARE(sum, s["sum"].get<int64_t>());
            const auto first = s["first"].get<std::vector<int>>();
            for (size_t c = 0; c < first.size(); ++c) QCOMPARE(int(im.pixels[c]), first[c]);
            if (ref.contains("written_labels"))
                QCOMPARE(ds.label(i), ref["written_labels"][i].get<int64_t>());
            else
                QCOMPARE(ds.label(i), s["label"].get<int64_t>());
        }
    }

private Q_SLOTS:
    void initTestCase() {
        if (!bstest::torchvisionAvailable())
            BSTEST_SKIP("needs /usr/bin/python3 with torch and torchvision");
        const auto r = bstest::runPython(
            {bstest::sourceDir() + "/tests/torchvision_fixtures.py", root_.path()}, 300000);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err.right(1500)));
        reference_ = nlohmann::json::parse(r.out.toStdString());
    }

    void mnistFamilyBySplit() {
        const std::string root = root_.path().toStdString();
        checkAgainstTorchvision(*bs::openTorchvisionDataset(root, "KMNIST", "test"), "KMNIST/test");
        checkAgainstTorchvision(*bs::openTorchvisionDataset(root, "KMNIST", "train"),
                                "KMNIST/train");
        checkAgainstTorchvision(*bs::openTorchvisionDataset(root, "EMNIST", "test", "letters"),
                                "EMNIST/letters/test");
        checkAgainstTorchvision(*bs::openTorchvisionDataset(root, "QMNIST", "test"), "QMNIST/test");
        checkAgainstTorchvision(*bs::openTorchvisionDataset(root, "QMNIST", "train"),
                                "QMNIST/train");
    }

    // QMNIST: batchscope's label is column 0 of the int32 label table (the
    // class), as written; torchvision 0.14 on a little-endian machine reverses
    // the table's element order instead of each value's bytes and gives
    // byte-swapped values of another column. README states the difference.
    void qmnistLabelsDifferFromTorchvision014() {
        const auto ds = bs::openTorchvisionDataset(root_.path().toStdString(), "QMNIST", "test");
        const auto& ref = reference_["QMNIST/test"];
        int differ = 0;
        for (size_t i = 0; i < ds->size(); ++i) {
            QCOMPARE(ds->label(i), ref["written_labels"][i].get<int64_t>());
            differ += ds->label(i) != ref["torchvision_labels"][i].get<int64_t>();
        }
        QVERIFY2(differ > 0, "torchvision now reads QMNIST's classes: update README's note");
    }

    void cifarPickles() {
        const std::string root = root_.path().toStdString();
        checkAgainstTorchvision(*bs::openTorchvisionDataset(root, "CIFAR10", "train"),
                                "CIFAR10/train");
        checkAgainstTorchvision(*bs::openTorchvisionDataset(root, "CIFAR10", "test"),
                                "CIFAR10/test");
        checkAgainstTorchvision(*bs::openTorchvisionDataset(root, "CIFAR100", "test"),
                                "CIFAR100/test");
        // Every command opens the folder itself too.
        const auto ds = bs::openDataset(root + "/cifar-10-batches-py");
        QCOMPARE(ds->size(), reference_["CIFAR10/train"]["size"].get<size_t>());
        QVERIFY2(ds->path(7).find("data_batch_2#1") != std::string::npos, ds->path(7).c_str());
    }

    // The root with several layouts opens the first in torchvision's list
    // (KMNIST here), its train split.
    void rootDetection() {
        const auto ds = bs::openDataset(root_.path().toStdString());
        QCOMPARE(ds->classes(),
                 reference_["KMNIST/train"]["classes"].get<std::vector<std::string>>());
        QCOMPARE(ds->size(), reference_["KMNIST/train"]["size"].get<size_t>());
    }

    // `--split test` on the CLI: Fashion-MNIST laid out as torchvision
    // expects (symlinks to the Debian package's files), audited by its root.
    void cliSplitOfFashionRoot() {
        const QString fashion = "/usr/share/datasets/fashion-mnist";
        if (!QFileInfo::exists(fashion + "/t10k-images-idx3-ubyte.gz"))
            BSTEST_SKIP("Fashion-MNIST not installed");
        QTemporaryDir tmp;
        const QString raw = tmp.filePath("root/FashionMNIST/raw");
        QVERIFY(QDir().mkpath(raw));
        for (const char* f : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
            QVERIFY(QFile::link(fashion + "/" + f, raw + "/" + f));
        auto audit = [&](const QStringList& extra, const QString& name) {
            const QString report = tmp.filePath(name);
            const auto r =
                bstest::runCli(QStringList{"audit", tmp.filePath("root"), "--limit", "64",
                                           "--fail-on", "never", "--quiet", "--report", report} +
                               extra);
            if (r.exitCode != 0) qWarning("%s", qPrintable(r.err));
            return bstest::readJson(report);
        };
        const auto test = audit({"--split", "test"}, "test.json");
        QVERIFY2(test.contains("dataset"), "audit --split test wrote no report");
        QCOMPARE(test["dataset"]["samples"].get<int>(), 10000);
        QVERIFY2(
            test["dataset"]["path"].get<std::string>().find("t10k-images") != std::string::npos,
            test["dataset"].dump().c_str());
        const auto train = audit({}, "train.json");
        QVERIFY2(train.contains("dataset"), "audit wrote no report");
        QCOMPARE(train["dataset"]["samples"].get<int>(), 60000);
        // The test split's first label, as torchvision's reader reads it
        // (its FashionMNIST class wants the files unpacked).
        const QString npy = tmp.filePath("one.npy");
        const auto dump = bstest::runCli(
            {"dump", tmp.filePath("root"), "--split", "test", "--indices", "0", "--out", npy});
        QVERIFY2(dump.exitCode == 0, qPrintable(dump.err));
        const auto row = nlohmann::json::parse(dump.out.trimmed().toStdString());
        const auto py = bstest::runPython(
            {"-c",
             "import gzip, shutil, sys; from torchvision.datasets.mnist import read_label_file\n"
             "shutil.copyfileobj(gzip.open(sys.argv[1]), open(sys.argv[2], 'wb'))\n"
             "print(int(read_label_file(sys.argv[2])[0]))",
             raw + "/t10k-labels-idx1-ubyte.gz", tmp.filePath("labels")});
        QVERIFY2(py.exitCode == 0, qPrintable(py.err));
        QCOMPARE(row["label"].get<int>(), py.out.trimmed().toInt());
        // A bad split and a split of a folder that is no torchvision root.
        const auto bad = bstest::runCli({"audit", tmp.filePath("root"), "--split", "val"});
        QCOMPARE(bad.exitCode, 2);
        QVERIFY2(bad.err.contains("--split") && bad.err.count('\n') == 1, qPrintable(bad.err));
        const auto plain = bstest::runCli({"audit", raw, "--split", "test"});
        QCOMPARE(plain.exitCode, 2);
        QVERIFY2(plain.err.contains(raw) && plain.err.contains("torchvision"),
                 qPrintable(plain.err));
    }

    // CIFAR-10's test_batch and EMNIST's split by their root.
    void splitOfCifarAndEmnistRoots() {
        const auto cifarTest =
            bs::openDataset(root_.filePath("cifar-10-batches-py").toStdString(), [] {
                bs::OpenOptions o;
                o.split = "test";
                return o;
            }());
        QCOMPARE(cifarTest->size(), reference_["CIFAR10/test"]["size"].get<size_t>());
        QCOMPARE(cifarTest->label(0),
                 reference_["CIFAR10/test"]["samples"][0]["label"].get<int64_t>());
        // A root holding EMNIST's letters split only.
        QTemporaryDir only;
        QVERIFY(QFile::link(root_.filePath("EMNIST"), only.filePath("EMNIST")));
        const auto letters = bs::openDataset(only.path().toStdString());
        QCOMPARE(letters->classes(),
                 reference_["EMNIST/letters/train"]["classes"].get<std::vector<std::string>>());
        QCOMPARE(letters->size(), reference_["EMNIST/letters/train"]["size"].get<size_t>());
        bs::OpenOptions test;
        test.split = "test";
        checkAgainstTorchvision(*bs::openDataset(only.path().toStdString(), test),
                                "EMNIST/letters/test");
    }

    // CIFAR-100's coarse superclasses on request (fine stays the default).
    void cifar100CoarseLabels() {
        bs::OpenOptions coarse;
        coarse.split = "test";
        coarse.cifar100Labels = "coarse";
        const auto ds = bs::openDataset(root_.filePath("cifar-100-python").toStdString(), coarse);
        const auto& written = reference_["CIFAR100/test"]["written_coarse"];
        QCOMPARE(ds->size(), written.size());
        for (size_t i = 0; i < ds->size(); ++i) QCOMPARE(ds->label(i), written[i].get<int64_t>());
        QCOMPARE(ds->classes().size(), size_t(20));
        QCOMPARE(ds->classes().front(), std::string("coarse_00"));
        const auto r = bstest::runCli(
            {"audit", root_.filePath("cifar-10-batches-py"), "--cifar100-labels", "coarse"});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("CIFAR-100"), qPrintable(r.err));
    }

    // A CIFAR root holds both splits: an audit of the test split, split
    // into parts, merges into an HTML report of the test images (merge
    // reopens the dataset from the report, so the report must say which).
    void mergeHtmlReopensTheAuditedSplit() {
        QTemporaryDir out;
        const QString cifar = root_.filePath("cifar-100-python");
        QStringList parts;
        for (int i = 0; i < 2; ++i) {
            parts << out.filePath(QStringLiteral("part%1.json").arg(i));
            const auto r = bstest::runCli({"audit", cifar, "--split", "test", "--cifar100-labels",
                                           "coarse", "--shard", QStringLiteral("%1/2").arg(i),
                                           "--report", parts.back(), "--quiet"});
            QVERIFY2(r.exitCode == 0 || r.exitCode == 1, qPrintable(r.err));
        }
        const auto merged = bstest::runCli(QStringList{"merge"} + parts +
                                           QStringList{"--report", out.filePath("merged.json"),
                                                       "--html", out.filePath("merged.html"),
                                                       "--quiet", "--fail-on", "never"});
        QVERIFY2(merged.exitCode == 0, qPrintable(merged.err));
        QVERIFY(QFileInfo(out.filePath("merged.html")).size() > 0);
        const auto report = bstest::readJson(out.filePath("merged.json"));
        QCOMPARE(report["dataset"]["split"].get<std::string>(), std::string("test"));
        QCOMPARE(report["dataset"]["cifar100_labels"].get<std::string>(), std::string("coarse"));
        QCOMPARE(report["dataset"]["samples"].get<size_t>(),
                 reference_["CIFAR100/test"]["size"].get<size_t>());
        QCOMPARE(report["dataset"]["classes"].size(), size_t(20));
    }

    // A pickle whose data is os.system(...) is refused by name, and runs nothing.
    void hostilePickleIsRefused() {
        const QString hostile = root_.filePath("hostile");
        try {
            bs::openTorchvisionDataset(hostile.toStdString(), "CIFAR10", "train");
            QFAIL("a pickle calling os.system was accepted");
        } catch (const bs::Error& e) {
            const QString msg = e.what();
            QVERIFY2(msg.contains("data_batch_1") && msg.contains("refuses to call"), e.what());
            QVERIFY2(msg.contains("system"), e.what());
        }
        QVERIFY(!QFileInfo::exists(root_.filePath("pwned")));
        // A truncated batch is an error naming the file, not a crash.
        const QString cut = root_.filePath("cut/cifar-10-batches-py");
        QDir().mkpath(cut);
        QFile src(root_.filePath("cifar-10-batches-py/data_batch_1"));
        QVERIFY(src.open(QIODevice::ReadOnly));
        bstest::writeFile(cut + "/data_batch_1", src.readAll().left(2000));
        try {
            bs::openTorchvisionDataset(root_.filePath("cut").toStdString(), "CIFAR10", "train");
            QFAIL("a truncated pickle was accepted");
        } catch (const bs::Error& e) {
            QVERIFY2(QString(e.what()).contains("data_batch_1"), e.what());
        }
    }

    // Class names come from the format: Fashion-MNIST's published label
    // files are recognised by content wherever they are.
    void fashionNamesFromContent() {
        const QString fashion = "/usr/share/datasets/fashion-mnist";
        if (!QFileInfo::exists(fashion + "/t10k-labels-idx1-ubyte.gz"))
            BSTEST_SKIP("Fashion-MNIST not installed");
        QTemporaryDir plain;
        QFile::copy(fashion + "/t10k-images-idx3-ubyte.gz",
                    plain.filePath("t10k-images-idx3-ubyte.gz"));
        QFile::copy(fashion + "/t10k-labels-idx1-ubyte.gz",
                    plain.filePath("t10k-labels-idx1-ubyte.gz"));
        const auto ds = bs::openDataset(plain.path().toStdString());
        QCOMPARE(ds->classes().front(), std::string("T-shirt/top"));
        // A folder named "fashion" with other labels is not Fashion-MNIST.
        QTemporaryDir other;
        const QString named = other.filePath("fashion");
        QDir().mkpath(named);
        QFile::copy(root_.filePath("KMNIST/raw/t10k-images-idx3-ubyte"),
                    named + "/t10k-images-idx3-ubyte");
        QFile::copy(root_.filePath("KMNIST/raw/t10k-labels-idx1-ubyte"),
                    named + "/t10k-labels-idx1-ubyte");
        const auto digits = bs::openDataset(named.toStdString());
        QCOMPARE(digits->classes().front(), std::string("0"));
    }
};

QTEST_GUILESS_MAIN(TestTorchvisionDatasets)
#include "test_torchvision_datasets.moc"
