// Targets through the pipeline: every geometric stage moves a mask and boxes
// exactly as torchvision 0.14 does (references written by
// make_pipeline_references.py with F.resize(..., NEAREST), F.center_crop,
// F.crop, F.resized_crop, F.hflip, F.vflip, F.pad and the detection
// references' box rules), and the audit names the stage that interpolated a
// mask.
#include <QtTest>

#include <fstream>

#include "core/audit/anomaly.h"
#include "core/audit/audit.h"
#include "core/loader/loader.h"
#include "support/testsupport.h"

using namespace bs;
using nlohmann::json;

namespace {

Image maskFromRows(const json& rows) {
    const int h = int(rows.size()), w = int(rows[0].size());
    Image m = Image::allocate(w, h, 1);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) m.row(y)[x] = rows[size_t(y)][size_t(x)].get<uint8_t>();
    return m;
}

std::vector<Box> boxesFrom(const json& boxes, const json& labels) {
    std::vector<Box> r;
    for (size_t i = 0; i < boxes.size(); ++i) {
        const json& b = boxes[i];
        r.push_back(Box{b[0].get<double>(), b[1].get<double>(), b[2].get<double>(),
                        b[3].get<double>(), labels[i].get<int64_t>(), false});
    }
    return r;
}

// The first differing mask pixel, or empty when equal.
std::string maskDiff(const Image& got, const Image& want) {
    if (got.width != want.width || got.height != want.height || got.channels != 1)
        return "size " + std::to_string(got.width) + "x" + std::to_string(got.height) + ", want " +
               std::to_string(want.width) + "x" + std::to_string(want.height);
    for (int y = 0; y < want.height; ++y)
        for (int x = 0; x < want.width; ++x)
            if (got.at(y, x, 0) != want.at(y, x, 0))
                return "pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") is " +
                       std::to_string(got.at(y, x, 0)) + ", want " +
                       std::to_string(want.at(y, x, 0));
    return {};
}

std::vector<Finding> audit(const std::string& path, const std::string& pipeline) {
    std::shared_ptr<const Dataset> ds = openDataset(path);
    const Pipeline p = Pipeline::parse(pipeline);
    AuditEngine engine(p);
    AuditOptions opt;
    opt.batchSize = 1;
    runAudit(ds, p, opt, engine);
    return engine.findings();
}

}  // namespace

class TestTargetPipeline : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    json fx_;

private Q_SLOTS:
    void parityWithTorchvision() {
        std::ifstream f(bstest::sourceDir().toStdString() +
                        "/tests/target/reference/pipeline_targets.json");
        QVERIFY(f.good());
        const json ref = json::parse(f);
        Target in;
        in.mask = maskFromRows(ref["mask"]);
        in.boxes = boxesFrom(ref["boxes"], ref["labels"]);
        const int W = ref["width"], H = ref["height"];
        QVERIFY(ref["cases"].size() >= 16);
        for (const json& c : ref["cases"]) {
            const std::string name = c["stage"].dump() + " drawn " + c["drawn"].dump();
            const auto t = Pipeline::makeTransform(c["stage"], 0);
            const Target out = t->applyToTarget(in, W, H, -1, -1, c["drawn"]);
            const std::string diff = maskDiff(out.mask, maskFromRows(c["mask"]));
            QVERIFY2(diff.empty(), (name + ": mask " + diff).c_str());
            const auto want = boxesFrom(c["boxes"], c["labels"]);
            QVERIFY2(out.boxes.size() == want.size(), (name + ": box count").c_str());
            QCOMPARE(out.droppedBoxes, c["dropped"].get<int>());
            for (size_t i = 0; i < want.size(); ++i) {
                const Box &g = out.boxes[i], &w = want[i];
                const double err = std::max({std::fabs(g.x1 - w.x1), std::fabs(g.y1 - w.y1),
                                             std::fabs(g.x2 - w.x2), std::fabs(g.y2 - w.y2)});
                QVERIFY2(err <= 1e-4, (name + ": box " + std::to_string(i)).c_str());
                QCOMPARE(g.label, w.label);
            }
        }
    }

    void photometricStagesKeepTargets() {
        Target in;
        in.mask = Image::allocate(5, 4, 1);
        in.mask.pixels.assign(20, 3);
        in.boxes = {Box{1, 1, 3, 2, 7, false}};
        const auto t =
            Pipeline::makeTransform({{"op", "Normalize"}, {"mean", 0.5}, {"std", 0.5}}, 0);
        const Target out = t->applyToTarget(in, 5, 4, 5, 4, json::object());
        QCOMPARE(out.mask.pixels, in.mask.pixels);
        QCOMPARE(out.boxes.size(), size_t(1));
        QCOMPARE(out.boxes[0].x2, 3.0);
    }

    void initTestCase() {
        BSTEST_RUN_FIXTURE_SCRIPT(r, "tests/target/target_fixtures.py", {dir_.path()},
                                  "needs /usr/bin/python3 with Pillow and skimage");
        fx_ = json::parse(r.out.toStdString());
    }

    // The loader moves the targets with the image: the output mask has the
    // output image's size, through a fused Resize+CenterCrop too.
    void loaderMovesTargets() {
        auto ds = openDataset(fx_["voc_clean"].get<std::string>());
        for (const char* text :
             {R"([{"op": "Resize", "size": [40, 60]}, {"op": "RandomHorizontalFlip", "p": 1.0},
                  {"op": "ToTensor"}])",
              R"([{"op": "Resize", "size": 48}, {"op": "CenterCrop", "size": 32},
                  {"op": "ToTensor"}])"}) {
            const Pipeline p = Pipeline::parse(text);
            const SampleResult s = processSample(*ds, p, 0, RandomContext{}, false);
            QVERIFY2(s.record.error.empty(), s.record.error.c_str());
            QVERIFY(s.outputTarget.hasMask());
            QCOMPARE(int64_t(s.outputTarget.mask.height), s.output.shape[1]);
            QCOMPARE(int64_t(s.outputTarget.mask.width), s.output.shape[2]);
        }
    }

    void bilinearMaskResizeIsNamedAtItsStage() {
        const std::string voc = fx_["voc_clean"].get<std::string>();
        const auto bad = audit(voc, R"([{"op": "Resize", "size": [40, 60],
                                          "mask_interpolation": "bilinear"}, {"op": "ToTensor"}])");
        bool found = false;
        for (const auto& f : bad)
            found = found || (f.kind == "invalid_mask_values" && f.stage == "1:Resize");
        QVERIFY2(found, qPrintable(bstest::describeFindings(bad)));
        const auto good = audit(voc, R"([{"op": "Resize", "size": [40, 60]}, {"op": "ToTensor"}])");
        for (const auto& f : good)
            QVERIFY2(f.kind != "invalid_mask_values", qPrintable(bstest::describeFindings(good)));
        for (const auto& f : good)
            QVERIFY2(f.kind != "mask_size_mismatch", qPrintable(bstest::describeFindings(good)));
    }
};

QTEST_GUILESS_MAIN(TestTargetPipeline)
#include "test_target_pipeline.moc"
