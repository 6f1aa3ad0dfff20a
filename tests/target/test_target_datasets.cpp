// The target formats (VOC segmentation, COCO detection, YOLO, image + mask
// folders) on datasets built from skimage's photos by target_fixtures.py:
// detection by openDataset, sample order, masks read as palette indices,
// boxes converted to absolute corners, missing targets reported as issues,
// unreadable label lines as one-line errors naming the file.
#include <QDir>
#include <QFile>
#include <QtTest>
#include <set>

#include "core/dataset/dataset.h"
#include "core/dataset/target_datasets.h"
#include "support/testsupport.h"

using namespace bs;

namespace {

std::set<int> maskValues(const Image& m) {
    return std::set<int>(m.pixels.begin(), m.pixels.end());
}

size_t countIssues(const Dataset& ds, const std::string& kind) {
    size_t n = 0;
    for (const auto& i : ds.issues()) n += i.kind == kind;
    return n;
}

bool endsWith(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

class TestTargetDatasets : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    nlohmann::json fx_;
    std::vector<std::string> stems_;

    std::string at(const char* key) const { return fx_[key].get<std::string>(); }

private Q_SLOTS:
    void initTestCase() {
        BSTEST_RUN_FIXTURE_SCRIPT(r, "tests/target/target_fixtures.py", {dir_.path()},
                                  "needs /usr/bin/python3 with Pillow and skimage");
        fx_ = nlohmann::json::parse(r.out.toStdString());
        stems_ = fx_["samples"].get<std::vector<std::string>>();
    }

    // VOC: the ids of train.txt in order, masks as palette indices.
    void vocMasksAreIndices() {
        const auto ds = openDataset(dir_.path().toStdString() + "/voc_clean");  // VOCdevkit parent
        QCOMPARE(formatName(ds->format()), std::string("voc"));
        QCOMPARE(ds->size(), stems_.size());
        QCOMPARE(ds->classes().size(), size_t(21));
        QCOMPARE(ds->classes()[15], std::string("person"));
        QCOMPARE(ds->targetSchema().ignoreIndex, 255);
        for (size_t k = 0; k < ds->size(); ++k) {
            QVERIFY(endsWith(ds->path(k), "/JPEGImages/" + stems_[k] + ".jpg"));
            QCOMPARE(ds->label(k), int64_t(-1));
            const Target t = ds->loadTarget(k);
            const Image im = ds->loadRaw(k);
            QCOMPARE(t.mask.channels, 1);
            QCOMPARE(t.mask.width, im.width);
            // The fixture's mask: background 0, a border 255, object k + 1.
            QCOMPARE(maskValues(t.mask), (std::set<int>{0, int(k) + 1, 255}));
            QCOMPARE(int(t.mask.at(im.height / 2, im.width / 2, 0)), int(k) + 1);
        }
        QCOMPARE(countIssues(*ds, "missing_target"), size_t(0));
    }

    void vocSegmentationLikeTorchvision() {
        const auto ds =
            openVocSegmentation(dir_.path().toStdString() + "/voc_faulty", "2012", "trainval");
        // "ghost" is listed without an image: skipped and reported; coffee
        // has no mask: kept, reported, empty target.
        QCOMPARE(ds->size(), stems_.size());
        QCOMPARE(countIssues(*ds, "missing_target"), size_t(2));
        QVERIFY(!ds->loadTarget(2).hasMask());
        QVERIFY_THROWS_EXCEPTION(
            Error, openVocSegmentation(dir_.path().toStdString() + "/voc_faulty", "2012", "val"));
    }

    // COCO: sorted image ids; bbox [x, y, w, h] -> [x, y, x + w, y + h].
    void cocoBoxesInSortedIdOrder() {
        const int64_t cats[] = {1, 3, 17};
        for (const std::string& path :
             {at("coco_clean"), at("coco_clean") + "/annotations/instances_train2017.json"}) {
            const auto ds = openDataset(path);
            QCOMPARE(formatName(ds->format()), std::string("coco"));
            QCOMPARE(ds->size(), stems_.size());
            QCOMPARE(ds->classes(), (std::vector<std::string>{"person", "car", "cat"}));
            for (size_t i = 0; i < ds->size(); ++i) {
                const size_t k = stems_.size() - 1 - i;  // fixture ids are 100 - k
                QVERIFY(endsWith(ds->path(i), "/train2017/" + stems_[k] + ".jpg"));
                const Image im = ds->loadRaw(i);
                const Target t = ds->loadTarget(i);
                QCOMPARE(t.boxes.size(), size_t(1));
                const Box& b = t.boxes[0];
                QVERIFY(std::abs(b.x1 - im.width * 0.1) < 1e-9 &&
                        std::abs(b.y1 - im.height * 0.2) < 1e-9);
                QVERIFY(std::abs(b.x2 - im.width * 0.6) < 1e-9 &&
                        std::abs(b.y2 - im.height * 0.6) < 1e-9);
                QCOMPARE(b.label, cats[k % 3]);
            }
        }
        const auto faulty = openDataset(at("coco_faulty"));
        QCOMPARE(countIssues(*faulty, "missing_target"), size_t(2));
    }

    // YOLO: normalised centre form -> absolute corners; names from data.yaml.
    void yoloBoxes() {
        const auto ds = openDataset(at("yolo_clean"));
        QCOMPARE(formatName(ds->format()), std::string("yolo"));
        QCOMPARE(ds->classes(), (std::vector<std::string>{"person", "cat", "rocket"}));
        QCOMPARE(ds->size(), stems_.size());
        for (size_t i = 0; i < ds->size(); ++i) {
            const Image im = ds->loadRaw(i);
            const Target t = ds->loadTarget(i);
            QCOMPARE(t.boxes.size(), size_t(1));
            QVERIFY(std::abs(t.boxes[0].x1 - 0.3 * im.width) < 1e-9);
            QVERIFY(std::abs(t.boxes[0].y2 - 0.8 * im.height) < 1e-9);
        }
        const auto faulty = openDataset(at("yolo_faulty"));
        QCOMPARE(countIssues(*faulty, "missing_target"), size_t(2));
    }

    void yoloUnreadableLineNamesTheFile() {
        const QString root = dir_.path() + "/yolo_bad";
        QDir().mkpath(root + "/images");
        QDir().mkpath(root + "/labels");
        QVERIFY(QFile::copy(QString::fromStdString(at("yolo_clean")) + "/images/chelsea.jpg",
                            root + "/images/chelsea.jpg"));
        bstest::writeFile(root + "/labels/chelsea.txt", "0 0.5 0.5 0.2 0.2\n0 0.5 zero 0.2\n");
        const auto ds = openDataset(root.toStdString());
        try {
            ds->loadTarget(0);
            QFAIL("a malformed label line must throw");
        } catch (const DecodeError& e) {
            const std::string msg = e.what();
            QVERIFY2(msg.find("labels/chelsea.txt:2:") != std::string::npos, msg.c_str());
            QVERIFY(msg.find('\n') == std::string::npos);
        }
    }

    // images/ + masks/ with the same stems; classes.txt gives the label set.
    void maskPairs() {
        const QString root = dir_.path() + "/pairs";
        QDir().mkpath(root + "/images");
        QDir().mkpath(root + "/masks");
        const QString voc = QString::fromStdString(at("voc_clean"));
        for (const auto& s : stems_) {
            const QString stem = QString::fromStdString(s);
            QVERIFY(QFile::copy(voc + "/JPEGImages/" + stem + ".jpg",
                                root + "/images/" + stem + ".jpg"));
            if (s != "coffee")
                QVERIFY(QFile::copy(voc + "/SegmentationClass/" + stem + ".png",
                                    root + "/masks/" + stem + ".png"));
        }
        bstest::writeFile(root + "/classes.txt", "bg\na\nb\nc\nd\ne\n");
        const auto ds = openDataset(root.toStdString());
        QCOMPARE(formatName(ds->format()), std::string("maskpairs"));
        QCOMPARE(ds->size(), stems_.size());
        QCOMPARE(ds->targetSchema().classIds.size(), size_t(6));
        QCOMPARE(countIssues(*ds, "missing_target"), size_t(1));
        size_t withMask = 0;
        for (size_t i = 0; i < ds->size(); ++i) withMask += ds->loadTarget(i).hasMask();
        QCOMPARE(withMask, stems_.size() - 1);
    }
};

QTEST_GUILESS_MAIN(TestTargetDatasets)
#include "test_target_datasets.moc"
