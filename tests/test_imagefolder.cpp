// ImageFolder / flat-folder listing: order must equal torchvision's
// ImageFolder, and trees torchvision refuses must still open with issues.
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "core/dataset/dataset.h"
#include "support/testsupport.h"

namespace {

// Creates a file from raw bytes (names may be non-UTF-8, so no QString).
void touchRaw(const std::string& path, const QByteArray& content = "x") {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    QVERIFY2(fd >= 0, path.c_str());
    QVERIFY(::write(fd, content.constData(), content.size()) == content.size());
    ::close(fd);
}

void mkdirs(const QString& root, const QStringList& dirs) {
    for (const auto& d : dirs) QVERIFY(QDir(root).mkpath(d));
}

int countKind(const std::vector<bs::DatasetIssue>& issues, const std::string& kind) {
    int n = 0;
    for (const auto& i : issues) n += i.kind == kind;
    return n;
}

QString hex(const std::string& s) { return QString::fromLatin1(QByteArray::fromStdString(s).toHex()); }

// The message of the bs::Error that opening `path` throws; none when it opens.
std::optional<std::string> openError(const std::string& path) {
    try {
        bs::openDataset(path);
        return std::nullopt;
    } catch (const bs::Error& e) {
        return std::string(e.what());
    }
}

}  // namespace

class TestImageFolder : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void orderMatchesTorchvision();
    void emptyHiddenAndSkipped();
    void symlinkLoopAndUnreadable();
    void flatFolder();
    void errors();
    void progressAndCancel();
};

void TestImageFolder::orderMatchesTorchvision() {
    if (!bstest::torchvisionAvailable()) BSTEST_SKIP("torchvision (/usr/bin/python3) is missing: cannot compare order");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString r = tmp.path() + "/root";
    mkdirs(r, {"B", "a/Sub", "a/sub2/inner", "a/sub2-b", "a/sub-dir", "_c/deep/er", ".hidden", "Ünï"});
    const std::string R = r.toStdString();
    const char* files[] = {"B/img10.png", "B/img2.png", "B/Img3.JPG", "a/Sub/x.JPG", "a/sub2/y.png",
                           "a/sub2/inner/k.webp", "a/sub2-b/m.tif", "a/sub-dir/n.TIFF", "a/Z.jpeg",
                           "a/z.PNG", "a/readme.txt", "a/.dot.png", "a/noext", "_c/deep/er/q.bmp",
                           "_c/w.pgm", ".hidden/h.png", "Ünï/é.ppm", "Ünï/e.ppm"};
    for (const char* f : files) touchRaw(R + "/" + f);
    // Non-UTF-8 and truncated-UTF-8 names: Python sorts them as surrogates.
    touchRaw(R + "/a/\xff.png");
    touchRaw(R + "/a/z\xe2\x82.png");
    touchRaw(R + "/a/\xef\xbf\xbd.png");  // U+FFFD sorts above the surrogates
    touchRaw(R + "/a/\xed\x9f\xbf.png");  // U+D7FF sorts below them
    // A link to another class folder is followed (not a loop).
    QVERIFY(::symlink((R + "/B").c_str(), (R + "/_c/linkB").c_str()) == 0);

    const char* script = R"PY(
import sys, os, json, torchvision
ds = torchvision.datasets.ImageFolder(sys.argv[1])
print(json.dumps({'classes': [os.fsencode(c).hex() for c in ds.classes],
                  'samples': [[os.fsencode(p).hex(), t] for p, t in ds.samples]}))
)PY";
    auto res = bstest::runPython({"-c", script, r});
    QVERIFY2(res.exitCode == 0, qPrintable(res.err));
    const QJsonObject ref = QJsonDocument::fromJson(res.out.toUtf8()).object();

    auto ds = bs::openDataset(R);
    QCOMPARE(ds->format(), bs::DatasetFormat::ImageFolder);
    QCOMPARE(ds->root(), R);
    const QJsonArray classes = ref["classes"].toArray();
    QCOMPARE(int(ds->classes().size()), classes.size());
    for (int i = 0; i < classes.size(); ++i) QCOMPARE(hex(ds->classes()[size_t(i)]), classes[i].toString());
    const QJsonArray samples = ref["samples"].toArray();
    QVERIFY(samples.size() > 20);
    QCOMPARE(int(ds->size()), samples.size());
    for (int i = 0; i < samples.size(); ++i) {
        const QJsonArray s = samples[i].toArray();
        QCOMPARE(hex(ds->path(size_t(i))), s[0].toString());
        QCOMPARE(ds->label(size_t(i)), int64_t(s[1].toInt()));
    }
    QCOMPARE(countKind(ds->issues(), "hidden_class"), 1);
    QVERIFY(countKind(ds->issues(), "skipped_file") >= 2);  // readme.txt, noext
    // QDir cannot remove names that are not valid UTF-8.
    ::unlink((R + "/a/\xff.png").c_str());
    ::unlink((R + "/a/z\xe2\x82.png").c_str());
}

void TestImageFolder::emptyHiddenAndSkipped() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString r = tmp.path();
    mkdirs(r, {"cat", "dog/sub", "empty", "textonly", ".ipynb_checkpoints"});
    bstest::writePatternImage(r + "/cat/c1.png", 6, 4, 1);
    bstest::writePatternImage(r + "/dog/sub/d1.png", 5, 3, 2);
    bstest::writeFile(r + "/textonly/notes.txt", "hello");
    for (int i = 0; i < 50; ++i) bstest::writeFile(r + QString("/cat/junk%1.txt").arg(i), "j");
    bstest::writeFile(r + "/stray.png", "not really");

    auto ds = bs::openDataset(r.toStdString());
    QCOMPARE(ds->format(), bs::DatasetFormat::ImageFolder);
    const std::vector<std::string> want = {".ipynb_checkpoints", "cat", "dog", "empty", "textonly"};
    QCOMPARE(ds->classes(), want);
    QCOMPARE(ds->size(), size_t(2));
    QCOMPARE(ds->label(0), int64_t(1));
    QCOMPARE(ds->label(1), int64_t(2));
    QCOMPARE(QString::fromStdString(ds->path(1)), r + "/dog/sub/d1.png");
    const auto issues = ds->issues();
    QCOMPARE(countKind(issues, "empty_class"), 3);  // .ipynb_checkpoints, empty, textonly
    QCOMPARE(countKind(issues, "hidden_class"), 1);
    // 51 text files + the stray root image: listed individually up to a bound,
    // then one summary issue.
    const int skipped = countKind(issues, "skipped_file");
    QVERIFY2(skipped > 5 && skipped < 40, qPrintable(QString::number(skipped)));
    bool summary = false;
    for (const auto& i : issues)
        if (i.kind == "skipped_file" && i.message.find("52 in total") != std::string::npos) summary = true;
    QVERIFY(summary);
    for (const auto& i : issues) QVERIFY(!i.message.empty() && !i.path.empty());

    bs::DecodeInfo info;
    bs::Image im = ds->loadRaw(0, &info);
    QCOMPARE(im.width, 6);
    QCOMPARE(im.height, 4);
    QCOMPARE(im.channels, 3);
}

void TestImageFolder::symlinkLoopAndUnreadable() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString r = tmp.path();
    mkdirs(r, {"a/inner", "b", "locked"});
    touchRaw((r + "/a/inner/1.png").toStdString());
    touchRaw((r + "/b/2.png").toStdString());
    touchRaw((r + "/locked/3.png").toStdString());
    QVERIFY(::symlink((r + "/a").toStdString().c_str(), (r + "/a/inner/up").toStdString().c_str()) == 0);
    const bool canLock = ::geteuid() != 0;
    if (canLock) QVERIFY(::chmod((r + "/locked").toStdString().c_str(), 0) == 0);

    auto ds = bs::openDataset(r.toStdString());
    if (canLock) ::chmod((r + "/locked").toStdString().c_str(), 0755);
    QCOMPARE(ds->format(), bs::DatasetFormat::ImageFolder);
    QCOMPARE(countKind(ds->issues(), "symlink_loop"), 1);
    if (canLock) {
        QCOMPARE(ds->size(), size_t(2));
        QCOMPARE(countKind(ds->issues(), "unreadable_file"), 1);
        QCOMPARE(countKind(ds->issues(), "empty_class"), 1);
    } else {
        QCOMPARE(ds->size(), size_t(3));
    }
    QCOMPARE(QString::fromStdString(ds->path(0)), r + "/a/inner/1.png");
}

void TestImageFolder::flatFolder() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString r = tmp.path();
    mkdirs(r, {"emptysub"});
    bstest::writePatternImage(r + "/b.png", 3, 3, 1);
    bstest::writePatternImage(r + "/A.png", 4, 2, 2);
    bstest::writePatternImage(r + "/a.jpg", 8, 8, 3);
    bstest::writeFile(r + "/list.txt", "x");
    auto ds = bs::openDataset((r + "/./emptysub/..").toStdString());
    QCOMPARE(ds->format(), bs::DatasetFormat::FlatFolder);
    QCOMPARE(bs::formatName(ds->format()), std::string("folder"));
    QCOMPARE(ds->root(), r.toStdString());
    QCOMPARE(ds->size(), size_t(3));
    QCOMPARE(QString::fromStdString(ds->path(0)), r + "/A.png");
    QCOMPARE(QString::fromStdString(ds->path(1)), r + "/a.jpg");
    QCOMPARE(QString::fromStdString(ds->path(2)), r + "/b.png");
    for (size_t i = 0; i < 3; ++i) QCOMPARE(ds->label(i), int64_t(-1));
    QVERIFY(ds->classes().empty());
    QCOMPARE(countKind(ds->issues(), "skipped_file"), 1);
    QCOMPARE(ds->loadRaw(0).width, 4);

    // Relative paths are made absolute against the working directory.
    const QString old = QDir::currentPath();
    QDir::setCurrent(r);
    auto rel = bs::openDataset("emptysub/..");
    QDir::setCurrent(old);
    QCOMPARE(rel->root(), r.toStdString());
    QCOMPARE(rel->path(2), ds->path(2));
}

void TestImageFolder::errors() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const std::string missing = (tmp.path() + "/nope").toStdString();
    const auto m = openError(missing);
    QVERIFY2(m, "missing path opened");
    QVERIFY2(m->find(missing) != std::string::npos, m->c_str());
    QVERIFY2(m->find("ImageFolder") != std::string::npos && m->find(".csv") != std::string::npos,
             m->c_str());
    QVERIFY(QDir(tmp.path()).mkpath("empty/cls"));
    bstest::writeFile(tmp.path() + "/empty/cls/a.txt", "x");
    const auto empty = openError((tmp.path() + "/empty").toStdString());
    QVERIFY2(empty, "folder without images opened");
    QVERIFY2(empty->find("no image files") != std::string::npos, empty->c_str());
    bstest::writeFile(tmp.path() + "/data.xyz", "x");
    const auto unknown = openError((tmp.path() + "/data.xyz").toStdString());
    QVERIFY2(unknown, "unknown file opened");
    QVERIFY2(unknown->find("data.xyz") != std::string::npos, unknown->c_str());
    // A sample that is not a decodable image fails at load time, not open time.
    QVERIFY(QDir(tmp.path()).mkpath("bad/c"));
    bstest::writeFile(tmp.path() + "/bad/c/x.png", "garbage");
    auto ds = bs::openDataset((tmp.path() + "/bad").toStdString());
    QCOMPARE(ds->size(), size_t(1));
    QVERIFY_THROWS_EXCEPTION(bs::DecodeError, ds->loadRaw(0));
}

void TestImageFolder::progressAndCancel() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const std::string r = tmp.path().toStdString();
    QVERIFY(QDir(tmp.path()).mkpath("k0"));
    QVERIFY(QDir(tmp.path()).mkpath("k1"));
    for (int i = 0; i < 2500; ++i) touchRaw(r + "/k" + std::to_string(i % 2) + "/" + std::to_string(i) + ".jpg", "");
    size_t calls = 0, last = 0;
    bs::OpenOptions opt;
    opt.progress = [&](size_t n) {
        ++calls;
        const bool increasing = n > last;
        last = n;
        return increasing;  // a non-increasing count cancels, failing the test
    };
    auto ds = bs::openDataset(r, opt);
    QCOMPARE(ds->size(), size_t(2500));
    QVERIFY(calls >= 2);
    // Sorted as strings, as Python does: "10.jpg" < "100.jpg" < "1000.jpg" < "1002.jpg".
    QCOMPARE(ds->path(0), r + "/k0/0.jpg");
    QCOMPARE(ds->path(1), r + "/k0/10.jpg");

    opt.progress = [](size_t) { return false; };
    try {
        bs::openDataset(r, opt);
        QFAIL("cancel ignored");
    } catch (const bs::Error& e) {
        QCOMPARE(std::string(e.what()), std::string("cancelled"));
    }
}

QTEST_GUILESS_MAIN(TestImageFolder)
#include "test_imagefolder.moc"
