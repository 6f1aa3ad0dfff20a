// COCO segmentations as masks (core/target/coco_mask.h): run lengths in
// column-major order, the compressed RLE string (deltas from two runs back,
// negative deltas sign-extended), polygons, the semantic mask of
// torchvision's segmentation references (category ids, 255 on overlaps),
// and a COCO dataset whose annotations carry them. Expected values are
// worked out by hand from COCO's format description.
#include <QDir>
#include <QFile>
#include <QImage>
#include <QTemporaryDir>
#include <QtTest>

#include "core/dataset/dataset.h"
#include "core/target/coco_mask.h"
#include "support/testsupport.h"

using namespace bs;
using json = nlohmann::json;

namespace {

std::string rows(const Image& m) {
    std::string s;
    for (int y = 0; y < m.height; ++y) {
        for (int x = 0; x < m.width; ++x) s += char('0' + m.at(y, x, 0) % 10);
        s += '\n';
    }
    return s;
}

}  // namespace

class TestCocoMasks : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void compressedStrings_data() {
        QTest::addColumn<QString>("counts");
        QTest::addColumn<QList<int>>("runs");
        // From the fourth run on, each is stored as its difference from the
        // run two before it: '3' is 5 - 2; 'O' (31, sign bit 0x10) is -1.
        QTest::newRow("first three as they are") << "426" << QList<int>{4, 2, 6};
        QTest::newRow("positive delta") << "4263" << QList<int>{4, 2, 6, 5};
        QTest::newRow("negative delta") << ":23O" << QList<int>{10, 2, 3, 1};
        QTest::newRow("two characters") << "Q1" << QList<int>{33};          // 1 + (1 << 5)
        QTest::newRow("empty") << "" << QList<int>{};
    }
    void compressedStrings() {
        QFETCH(QString, counts);
        QFETCH(QList<int>, runs);
        const auto got = decodeCocoRleString(counts.toStdString());
        QCOMPARE(int(got.size()), int(runs.size()));
        for (int k = 0; k < runs.size(); ++k) QCOMPARE(int(got[size_t(k)]), runs[k]);
    }

    void malformedStringsThrow() {
        QVERIFY_THROWS_EXCEPTION(Error, decodeCocoRleString("Q"));    // continuation, then nothing
        QVERIFY_THROWS_EXCEPTION(Error, decodeCocoRleString("4\x01"));  // below '0'
        QVERIFY_THROWS_EXCEPTION(Error, decodeCocoRleString("0:I"));  // a third run of -7
        QVERIFY_THROWS_EXCEPTION(Error,
                                 decodeCocoRleString(std::string(13, 'o') + "0"));  // > 63 bits
    }

    // Column-major: the 2 foreground pixels after 4 background ones are
    // column 1, rows 1 and 2 of a 4 x 3 image.
    void runsAreColumnMajor() {
        const std::string expected = "0000\n0100\n0100\n";
        const Image listed = cocoInstanceMask(json{{"counts", {4, 2, 6}}, {"size", {3, 4}}}, 4, 3);
        QCOMPARE(rows(listed), expected);
        const Image compressed = cocoInstanceMask(json{{"counts", "426"}, {"size", {3, 4}}}, 4, 3);
        QCOMPARE(rows(compressed), expected);
        QVERIFY_THROWS_EXCEPTION(Error, cocoInstanceMask(json{{"counts", {4, 20}}}, 4, 3));
        QVERIFY_THROWS_EXCEPTION(Error,
                                 cocoInstanceMask(json{{"counts", {12}}, {"size", {4, 3}}}, 4, 3));
    }

    // A polygon's interior and its edge pixels (OpenCV's fillPoly).
    void polygonsAreFilled() {
        const Image m = cocoInstanceMask(json::array({json::array({1, 1, 3, 1, 3, 2, 1, 2})}), 5, 4);
        QCOMPARE(rows(m), std::string("00000\n01110\n01110\n00000\n"));
        QVERIFY_THROWS_EXCEPTION(Error, cocoInstanceMask(json::array({json::array({1, 1, 3})}), 5, 4));
    }

    void semanticMaskMarksOverlaps() {
        Image a = Image::allocate(3, 1, 1), b = Image::allocate(3, 1, 1);
        a.pixels = {1, 1, 0};
        b.pixels = {0, 1, 1};
        const Image m = semanticMask({a, b}, {7, 3}, 3, 1);
        QCOMPARE(m.pixels, (PixelBytes{7, 255, 3}));
    }

    // A COCO instances file with a polygon, an RLE and a box-only
    // annotation: the semantic mask comes with the boxes.
    void cocoDatasetGivesMasks() {
        QTemporaryDir dir;
        const QString images = dir.filePath("images");
        QVERIFY(QDir().mkpath(images));
        QImage im(6, 4, QImage::Format_RGB888);
        im.fill(Qt::gray);
        QVERIFY(im.save(images + "/a.png"));
        QVERIFY(im.save(images + "/b.png"));
        const json doc = {
            {"images",
             {{{"id", 1}, {"file_name", "a.png"}, {"width", 6}, {"height", 4}},
              {{"id", 2}, {"file_name", "b.png"}, {"width", 6}, {"height", 4}}}},
            {"categories", {{{"id", 5}, {"name", "cup"}}, {{"id", 9}, {"name", "pen"}}}},
            {"annotations",
             {{{"id", 1}, {"image_id", 1}, {"bbox", {0, 0, 2, 2}}, {"category_id", 5},
               {"segmentation", json::array({json::array({0, 0, 1, 0, 1, 1, 0, 1})})}},
              {{"id", 2}, {"image_id", 1}, {"bbox", {1, 1, 1, 1}}, {"category_id", 9},
               {"segmentation", {{"counts", {5, 1, 18}}, {"size", {4, 6}}}}},
              {{"id", 3}, {"image_id", 2}, {"bbox", {0, 0, 1, 1}}, {"category_id", 5}}}}};
        QFile f(dir.filePath("instances_x.json"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray::fromStdString(doc.dump()));
        f.close();
        const auto ds = openDataset(dir.filePath("instances_x.json").toStdString());
        QCOMPARE(ds->size(), size_t(2));
        const Target t = ds->loadTarget(0);
        QCOMPARE(int(t.boxes.size()), 2);
        QVERIFY(t.hasMask());
        // Pixel (1, 1) is in both instances: 255. Run [5, 1] is column 1, row 1.
        QCOMPARE(rows(t.mask), std::string("550000\n550000\n000000\n000000\n"));  // mod 10
        QCOMPARE(int(t.mask.at(1, 1, 0)), 255);
        QCOMPARE(int(t.mask.at(1, 0, 0)), 5);
        QVERIFY(!ds->loadTarget(1).hasMask());  // box only
        const TargetSchema schema = ds->targetSchema();
        QCOMPARE(schema.ignoreIndex, 255);
        QCOMPARE(schema.classIds.front(), int64_t(0));
    }
};

QTEST_GUILESS_MAIN(TestCocoMasks)
#include "test_coco_masks.moc"
