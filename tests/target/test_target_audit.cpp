// The audit on VOC-, COCO- and YOLO-style datasets (target_fixtures.py):
// each planted fault is named with its kind and its file, and the clean
// copies raise no error-severity finding.
#include <QtTest>

#include "core/audit/anomaly.h"
#include "core/audit/audit.h"
#include "support/testsupport.h"

using namespace bs;

namespace {

std::vector<Finding> audit(const std::string& path) {
    std::shared_ptr<const Dataset> ds = openDataset(path);
    const Pipeline p = Pipeline::parse("ToTensor()");
    AuditEngine engine(p);
    AuditOptions opt;
    opt.batchSize = 4;  // images of varied sizes share batches
    runAudit(ds, p, opt, engine);
    return engine.findings();
}

// The finding of `kind` that names a path ending in `file` (in its samples
// or its message); null when none.
const Finding* named(const std::vector<Finding>& fs, const std::string& kind,
                     const std::string& file) {
    for (const auto& f : fs) {
        if (f.kind != kind) continue;
        if (f.message.find(file) != std::string::npos) return &f;
        for (const auto& s : f.samples)
            if (s.path.find(file) != std::string::npos) return &f;
    }
    return nullptr;
}

std::string kinds(const std::vector<Finding>& fs) {
    std::string s;
    for (const auto& f : fs) s += f.kind + "[" + f.stage + "] " + f.message + "\n";
    return s;
}

}  // namespace

class TestTargetAudit : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    nlohmann::json fx_;

    std::string at(const char* key) const { return fx_[key].get<std::string>(); }

    void expectClean(const char* key) {
        const auto fs = audit(at(key));
        for (const auto& f : fs) QVERIFY2(f.severity != Severity::Error, kinds(fs).c_str());
    }

private Q_SLOTS:
    void initTestCase() {
        const auto r = bstest::runPython(
            {bstest::sourceDir() + "/tests/target/target_fixtures.py", dir_.path()}, 300000);
        if (r.exitCode == -2) BSTEST_SKIP("needs /usr/bin/python3 with Pillow and skimage");
        QVERIFY2(r.exitCode == 0, qPrintable(r.err.right(1500)));
        fx_ = nlohmann::json::parse(r.out.toStdString());
    }

    void cleanDatasetsRaiseNoError() {
        expectClean("voc_clean");
        expectClean("coco_clean");
        expectClean("yolo_clean");
    }

    void vocFaults() {
        const auto fs = audit(at("voc_faulty"));
        const std::string all = kinds(fs);
        // A bilinear-resized mask saved as L: values between the class ids.
        QVERIFY2(named(fs, "invalid_mask_values", "astronaut.jpg"), all.c_str());
        QVERIFY2(named(fs, "mask_size_mismatch", "chelsea.jpg"), all.c_str());
        QVERIFY2(named(fs, "missing_target", "coffee"), all.c_str());  // image without mask
        QVERIFY2(named(fs, "missing_target", "ghost"), all.c_str());   // listed, no image
        QVERIFY(!named(fs, "invalid_mask_values", "rocket.jpg"));
    }

    void cocoFaults() {
        const auto fs = audit(at("coco_faulty"));
        const std::string all = kinds(fs);
        QVERIFY2(named(fs, "box_out_of_bounds", "astronaut.jpg"), all.c_str());
        QVERIFY2(named(fs, "degenerate_box", "chelsea.jpg"), all.c_str());
        QVERIFY2(named(fs, "unknown_class", "coffee.jpg"), all.c_str());
        QVERIFY2(named(fs, "missing_target", "rocket.jpg"), all.c_str());  // no annotation
        QVERIFY2(named(fs, "missing_target", "image id 7"), all.c_str());  // annotation, no image
        QVERIFY(!named(fs, "box_out_of_bounds", "motorcycle_left.jpg"));
    }

    void yoloFaults() {
        const auto fs = audit(at("yolo_faulty"));
        const std::string all = kinds(fs);
        QVERIFY2(named(fs, "box_out_of_bounds", "astronaut.jpg"), all.c_str());
        QVERIFY2(named(fs, "degenerate_box", "chelsea.jpg"), all.c_str());
        QVERIFY2(named(fs, "unknown_class", "coffee.jpg"), all.c_str());
        QVERIFY2(named(fs, "missing_target", "rocket"), all.c_str());     // image, no label
        QVERIFY2(named(fs, "missing_target", "ghost.txt"), all.c_str());  // label, no image
    }

    // The same kinds through the CLI, as `batchscope audit` prints them.
    void cliNamesTheKinds() {
        const auto r =
            bstest::runCli({"audit", QString::fromStdString(at("coco_faulty")), "--workers", "1"});
        for (const char* kind :
             {"box_out_of_bounds", "degenerate_box", "unknown_class", "missing_target"})
            QVERIFY2(r.out.contains(kind) || r.err.contains(kind), qPrintable(r.out + r.err));
    }
};

QTEST_GUILESS_MAIN(TestTargetAudit)
#include "test_target_audit.moc"
