// compare on real detection / segmentation loaders (target_loaders.py over
// the datasets of target_fixtures.py, dumped by python/batchscope_dump.py):
// the dumped masks and boxes are read, judged on their own against the
// dataset's label set, and checked against the dataset's targets moved by
// batchscope's pipeline.
#include <QTemporaryDir>
#include <QtTest>

#include "core/compare/compare.h"
#include "support/testsupport.h"

using namespace bs;

namespace {

std::string describe(const CompareReport& r) {
    return bstest::describeFindings(r.findings).toStdString();
}

const Finding* find(const CompareReport& r, const std::string& kind) {
    return bstest::findKind(r.findings, kind);
}

}  // namespace

class TestCompareTargets : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;

    // Dumps the loader of `mode` and compares it.
    CompareReport compare(const QString& mode, std::unique_ptr<CompareSession>* keep = nullptr) {
        const QString out = dir_.filePath(mode);
        const auto r = bstest::runPython({bstest::sourceDir() + "/tests/target/target_loaders.py",
                                          bstest::sourceDir() + "/python", dir_.filePath("fx"),
                                          mode, out},
                                         300000);
        if (r.exitCode != 0) {
            QTest::qFail(qPrintable("target_loaders.py " + mode + ": " + r.err.right(1500)),
                         __FILE__, __LINE__);
            return {};
        }
        auto session = std::make_unique<CompareSession>(out.toStdString());
        CompareReport report = session->run();
        if (keep) *keep = std::move(session);
        return report;
    }

    void expectNoTargetError(const CompareReport& r) {
        for (const char* kind : {"invalid_mask_values", "mask_size_mismatch", "box_out_of_bounds",
                                 "degenerate_box", "unknown_class", "target_not_transformed"})
            QVERIFY2(!find(r, kind), (std::string(kind) + " in:\n" + describe(r)).c_str());
        QVERIFY2(!r.hasAtLeast(Severity::Error), describe(r).c_str());
    }

private Q_SLOTS:
    void initTestCase() {
        const char* needs = "needs /usr/bin/python3 with torch, torchvision, Pillow and skimage";
        if (!bstest::torchvisionAvailable()) BSTEST_SKIP(needs);
        BSTEST_RUN_FIXTURE_SCRIPT(r, "tests/target/target_fixtures.py", {dir_.filePath("fx")},
                                  needs);
    }

    // The example: a joint transform that resizes the mask tensor
    // with the image's default (bilinear) interpolation, in user code.
    void jointBilinearMaskIsInvalidValues() {
        std::unique_ptr<CompareSession> s;
        const auto r = compare("voc_joint_bilinear", &s);
        QVERIFY(s);
        QVERIFY2(!s->reproducible(), "a user __getitem__ holds the transform");
        QVERIFY(s->hasDataset());  // the VOC folder from the dataset's root
        const DumpBatchData& batch = s->batchData(0);
        QVERIFY(batch.hasMasks);
        QCOMPARE(int(batch.targets.size()), 2);
        QCOMPARE(batch.targets[0].mask.shape, (std::vector<int64_t>{56, 72}));
        const Finding* f = find(r, "invalid_mask_values");
        QVERIFY2(f, describe(r).c_str());
        QCOMPARE(f->severity, Severity::Error);
        QCOMPARE(f->stage, std::string("dataset"));
        QVERIFY2(f->message.find("interpolated") != std::string::npos, f->message.c_str());
        // Values between the class ids and the 255 border, not in VOC's set.
        const auto& values = f->samples.front().detail["values"];
        QVERIFY(!values.empty());
        for (const auto& v : values) QVERIFY(v.get<int>() > 20 && v.get<int>() < 255);
        QVERIFY2(!find(r, "mask_size_mismatch"), describe(r).c_str());
    }

    void jointNearestMaskIsClean() { expectNoTargetError(compare("voc_joint_nearest")); }

    // torchvision's VOCSegmentation, reproduced exactly: the image is
    // resized, the mask kept at its file's size.
    void torchvisionMaskNotResized() {
        std::unique_ptr<CompareSession> s;
        const auto r = compare("voc_tv_mask_kept", &s);
        QVERIFY(s);
        QVERIFY2(s->reproducible(), s->unreproducibleReason().c_str());
        QCOMPARE(r.summary["matching"].get<int>(), r.summary["samples"].get<int>());
        const Finding* f = find(r, "target_not_transformed");
        QVERIFY2(f, describe(r).c_str());
        QCOMPARE(f->stage, std::string("1:Resize"));
        QCOMPARE(f->samples.front().detail["target"].get<std::string>(), std::string("mask"));
        QVERIFY2(find(r, "mask_size_mismatch"), describe(r).c_str());
    }

    void torchvisionMaskResizedIsClean() {
        std::unique_ptr<CompareSession> s;
        const auto r = compare("voc_tv_mask_resized", &s);
        QVERIFY(s && s->reproducible());
        QCOMPARE(r.summary["matching"].get<int>(), r.summary["samples"].get<int>());
        expectNoTargetError(r);
    }

    // ToTensor on a mask divides the class ids by 255.
    void maskThroughToTensorIsScaled() {
        const auto r = compare("voc_tv_mask_totensor");
        const Finding* f = find(r, "invalid_mask_values");
        QVERIFY2(f, describe(r).c_str());
        QCOMPARE(f->stage, std::string("target_transform"));
        QVERIFY2(f->message.find("divided by 255") != std::string::npos, f->message.c_str());
    }

    // A user COCO dataset that resizes the image and returns the boxes as
    // annotated; the detection collate returns tuples.
    void cocoBoxesNotMoved() {
        std::unique_ptr<CompareSession> s;
        const auto r = compare("coco_boxes_kept", &s);
        QVERIFY(s && s->hasDataset());
        QVERIFY(s->batchData(0).hasBoxes);
        const Finding* f = find(r, "target_not_transformed");
        QVERIFY2(f, describe(r).c_str());
        QCOMPARE(f->severity, Severity::Error);
        QCOMPARE(f->samples.front().detail["target"].get<std::string>(), std::string("boxes"));
        QCOMPARE(int(f->count), 5);
    }

    // A float (N, 1, H, W) target over a dataset without masks is a
    // regression target (here the grey image), not a mask to judge.
    void floatImageTargetsAreNotMasks() {
        std::unique_ptr<CompareSession> s;
        const auto r = compare("gray_targets", &s);
        QVERIFY(s);
        QVERIFY(s->batchData(0).hasMasks && !s->batchData(0).masksIntegral);
        expectNoTargetError(r);
    }

    // Images of different sizes in one batch (image_list), boxes as annotated.
    void cocoRawDetectionBatchIsClean() {
        std::unique_ptr<CompareSession> s;
        const auto r = compare("coco_boxes_raw", &s);
        QVERIFY(s);
        const DumpBatchData& batch = s->batchData(0);
        QCOMPARE(int(batch.imageList.size()), 2);
        QVERIFY(batch.imageList[0].shape != batch.imageList[1].shape);
        QCOMPARE(int(batch.targets.size()), 2);
        QCOMPARE(int(batch.targets[0].boxes.size()), 1);
        QVERIFY(batch.targets[0].boxes[0].label > 0);
        QCOMPARE(s->userSample(0, 1).shape, batch.imageList[1].shape);
        expectNoTargetError(r);
    }
};

QTEST_GUILESS_MAIN(TestCompareTargets)
#include "test_compare_targets.moc"
