// A torch.save file whose data.pkl is damaged inside a valid zip made
// libtorch's unpickler free an invalid pointer and abort the process (found
// by the robustness suite). Opening it must give an error and nothing else.
#include <QtTest>

#include "core/dataset/dataset.h"
#include "core/dataset/ptfile.h"
#include "support/testsupport.h"

class TestHostilePt : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void damagedPickleIsAnErrorNotACrash() {
        const QString file = bstest::sourceDir() + "/tests/regressions/unpickler_bad_free.pt";
        QVERIFY(QFileInfo::exists(file));
        bstest::expectError([&] { bs::readPtFile(file.toStdString()); }, file, "corrupt");
        bstest::expectError([&] { bs::openDataset(file.toStdString()); }, file, "corrupt");
    }

    void validDumpStillLoads() {
        if (!bstest::torchvisionAvailable()) BSTEST_SKIP("python3-torch is needed to write a .pt file");
        QTemporaryDir dir;
        const QString file = dir.path() + "/ok.pt";
        auto r = bstest::runPython({"-c",
                                    "import torch,sys; torch.save((torch.arange(24.).reshape(2,3,2,2), "
                                    "torch.tensor([4,7])), sys.argv[1])",
                                    file});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const bs::PtContents c = bs::readPtFile(file.toStdString());
        QCOMPARE(c.images.shape, (std::vector<int64_t>{2, 3, 2, 2}));
        QCOMPARE(c.images.values[23], 23.f);
        QCOMPARE(c.labels, (std::vector<int64_t>{4, 7}));
    }
};

QTEST_GUILESS_MAIN(TestHostilePt)
#include "test_hostile_pt.moc"
