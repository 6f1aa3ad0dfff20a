// The audit on VOC-, COCO- and YOLO-style datasets (target_fixtures.py):
// each planted fault is named with its kind and its file, and the clean
// copies raise no error-severity finding.
#include <QtTest>

#include <map>

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

}  // namespace

class TestTargetAudit : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    nlohmann::json fx_;
    std::map<std::string, std::vector<Finding>> audits_;  // by fixture key, audited once

    std::string at(const char* key) const { return fx_[key].get<std::string>(); }
    const std::vector<Finding>& auditOf(const char* key) {
        auto it = audits_.find(key);
        if (it == audits_.end()) it = audits_.emplace(key, audit(at(key))).first;
        return it->second;
    }

private Q_SLOTS:
    void initTestCase() {
        BSTEST_RUN_FIXTURE_SCRIPT(r, "tests/target/target_fixtures.py", {dir_.path()},
                                  "needs /usr/bin/python3 with Pillow and skimage");
        fx_ = nlohmann::json::parse(r.out.toStdString());
    }

    void cleanDatasetsRaiseNoError() {
        for (const char* key : {"voc_clean", "coco_clean", "yolo_clean"}) {
            const auto& fs = auditOf(key);
            for (const auto& f : fs)
                QVERIFY2(f.severity != Severity::Error, qPrintable(bstest::describeFindings(fs)));
        }
    }

    // Each planted fault is named with its kind and its file; an intact
    // file beside them is not.
    void plantedFaultsAreNamed_data() {
        QTest::addColumn<QByteArray>("dataset");
        QTest::addColumn<QByteArray>("kind");
        QTest::addColumn<QByteArray>("file");
        QTest::addColumn<bool>("isNamed");
        auto row = [](const char* dataset, const char* kind, const char* file, bool isNamed) {
            QTest::addRow("%s %s %s", dataset, kind, file)
                << QByteArray(dataset) << QByteArray(kind) << QByteArray(file) << isNamed;
        };
        // A bilinear-resized mask saved as L: values between the class ids.
        row("voc_faulty", "invalid_mask_values", "astronaut.jpg", true);
        row("voc_faulty", "mask_size_mismatch", "chelsea.jpg", true);
        row("voc_faulty", "missing_target", "coffee", true);  // image without mask
        row("voc_faulty", "missing_target", "ghost", true);   // listed, no image
        row("voc_faulty", "invalid_mask_values", "rocket.jpg", false);
        row("coco_faulty", "box_out_of_bounds", "astronaut.jpg", true);
        row("coco_faulty", "degenerate_box", "chelsea.jpg", true);
        row("coco_faulty", "unknown_class", "coffee.jpg", true);
        row("coco_faulty", "missing_target", "rocket.jpg", true);  // no annotation
        row("coco_faulty", "missing_target", "image id 7", true);  // annotation, no image
        row("coco_faulty", "box_out_of_bounds", "motorcycle_left.jpg", false);
        row("yolo_faulty", "box_out_of_bounds", "astronaut.jpg", true);
        row("yolo_faulty", "degenerate_box", "chelsea.jpg", true);
        row("yolo_faulty", "unknown_class", "coffee.jpg", true);
        row("yolo_faulty", "missing_target", "rocket", true);     // image, no label
        row("yolo_faulty", "missing_target", "ghost.txt", true);  // label, no image
    }

    void plantedFaultsAreNamed() {
        QFETCH(QByteArray, dataset);
        QFETCH(QByteArray, kind);
        QFETCH(QByteArray, file);
        QFETCH(bool, isNamed);
        const auto& fs = auditOf(dataset.constData());
        QVERIFY2(bool(named(fs, kind.toStdString(), file.toStdString())) == isNamed,
                 qPrintable(bstest::describeFindings(fs)));
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
