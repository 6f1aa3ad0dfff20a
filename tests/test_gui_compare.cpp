// The compare window (issue 8) on a dump written by a real torchvision
// loader with a planted wrong Normalize: the heatmap, the reported
// difference (equal to core's diffTensors), findings that jump to their
// sample, and stepping through batches.
#include <QElapsedTimer>
#include <QListWidget>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest>

#include <algorithm>
#include <cmath>

#include "core/compare/compare.h"
#include "support/testsupport.h"
#include "ui/compare/compareview.h"
#include "ui/widgets/imageview.h"

using bs::ui::CompareView;

namespace {

bool waitReady(CompareView& v, int timeoutMs = 120000) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < timeoutMs) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
        if (v.idle() && v.reportReady() && v.shownIndex() >= 0) {
            QCoreApplication::processEvents();  // queued continuations
            if (v.idle()) return true;
        }
        QTest::qWait(5);
    }
    return false;
}

// Largest channel difference per pixel, as the heatmap shows it.
std::vector<double> pixelMax(const bs::Tensor& absDiff) {
    const int64_t c = absDiff.shape[0], hw = absDiff.shape[1] * absDiff.shape[2];
    std::vector<double> m(size_t(hw), 0.0);
    for (int64_t k = 0; k < c; ++k)
        for (int64_t p = 0; p < hw; ++p)
            m[size_t(p)] = std::max(m[size_t(p)], double(absDiff.values[size_t(k * hw + p)]));
    return m;
}

}  // namespace

class TestGuiCompare : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    QString dump_, stated_;

private Q_SLOTS:
    void initTestCase() {
        if (!bstest::torchvisionAvailable())
            BSTEST_SKIP(
                "needs /usr/bin/python3 with torch, torchvision and PIL (python3-torch, "
                "python3-torchvision, python3-pil) to write the dump");
        QVERIFY(tmp_.isValid());
        dump_ = tmp_.filePath("dump");
        // The user's loader normalises with mean (0.4, 0.45, 0.4), std (0.2, 0.2, 0.3); the
        // stated pipeline says 0.5 / 0.25.
        const auto r = bstest::runPython(
            {bstest::sourceDir() + "/tests/compare_scenarios.py", bstest::sourceDir() + "/python",
             "wrong_normalize", tmp_.filePath("data"), dump_},
            300000);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err.right(800) + r.out.right(200)));
        stated_ = tmp_.filePath("stated.txt");
        bstest::writeFile(stated_,
                          "Compose(\n    ToTensor()\n    Normalize(mean=(0.5, 0.5, 0.5), "
                          "std=(0.25, 0.25, 0.25))\n)\n");
    }

    void detectsDumpFolders() {
        QVERIFY(CompareView::isDumpFolder(dump_));
        QVERIFY(!CompareView::isDumpFolder(tmp_.filePath("data")));  // an ImageFolder
        QVERIFY(!CompareView::isDumpFolder(stated_));                // a file
    }

    void wrongNormalizeShowsDivergence() {
        CompareView v;
        v.resize(1400, 900);
        v.show();
        v.open(dump_, stated_);
        QVERIFY2(waitReady(v), qPrintable(v.readouts().errorText()));
        QVERIFY2(v.readouts().errorText().isEmpty(), qPrintable(v.readouts().errorText()));

        bs::CompareOptions o;
        o.pipelineFile = stated_.toStdString();
        const bs::CompareSession ref(dump_.toStdString(), o);
        const auto& batches = ref.manifest().batches;
        QCOMPARE(v.numBatches(), batches.size());
        QCOMPARE(v.currentBatch(), size_t(0));
        QCOMPARE(v.listedIndices(), batches[0].indices);
        QCOMPARE(v.shownIndex(), batches[0].indices[0]);

        // The shown numbers are core's.
        const bs::Tensor user = ref.userSample(0, 0);
        const bs::Tensor repro = ref.reproduce(batches[0].indices[0], batches[0].epoch);
        const auto d = bs::diffTensors(user, repro, ref.options().tolerance);
        QVERIFY(d.shapeMatch);
        QVERIFY2(d.maxAbs > 0.1, qPrintable(QString::number(d.maxAbs)));
        QCOMPARE(v.shownMaxAbs(), d.maxAbs);
        QCOMPARE(v.shownMeanAbs(), d.meanAbs);
        QCOMPARE(v.shownArgmax(), d.argmax);
        const QString where = QStringLiteral("channel %1, y %2, x %3")
                                  .arg(d.argmax[0])
                                  .arg(d.argmax[1])
                                  .arg(d.argmax[2]);
        QVERIFY2(v.diffText().contains(where), qPrintable(v.diffText()));
        QVERIFY2(v.diffText().contains("DIFFERS"), qPrintable(v.diffText()));
        QVERIFY2(v.readouts().rangeText().contains("both tensors"),
                 qPrintable(v.readouts().rangeText()));

        // Heatmap: non-zero wherever the difference is noticeable, brightest at
        // the maximum, brighter where the difference is larger.
        const QImage heat = v.diffView()->image();
        QCOMPARE(heat.size(), QSize(32, 32));
        const auto m = pixelMax(bs::absDifference(user, repro));
        int lit = 0, expectedLit = 0, maxGray = 0;
        size_t darkest = 0;
        for (size_t p = 0; p < m.size(); ++p) {
            const int g = qGray(heat.pixel(int(p % 32), int(p / 32)));
            maxGray = std::max(maxGray, g);
            if (m[p] < m[darkest]) darkest = p;
            if (m[p] > 0.05 * d.maxAbs) {
                ++expectedLit;
                if (g > 0) ++lit;
            }
        }
        QVERIFY(expectedLit > 500);  // the wrong Normalize changes nearly every pixel
        QCOMPARE(lit, expectedLit);
        const int gMax = qGray(heat.pixel(int(d.argmax[2]), int(d.argmax[1])));
        QCOMPARE(gMax, maxGray);
        QVERIFY(qGray(heat.pixel(int(darkest % 32), int(darkest / 32))) < gMax);

        // Findings: the divergence at the Normalize stage, and selecting one of
        // its samples in another batch shows that sample.
        QTreeWidgetItem* div = nullptr;
        for (int i = 0; i < v.findings()->topLevelItemCount(); ++i)
            if (v.findings()->topLevelItem(i)->text(1) == "pipeline_divergence")
                div = v.findings()->topLevelItem(i);
        QVERIFY(div);
        QCOMPARE(div->text(2), QString("2:Normalize"));
        QCOMPARE(div->text(3), QString("60"));
        QTreeWidgetItem* other = nullptr;
        for (int i = 0; i < div->childCount() && !other; ++i)
            if (div->child(i)->data(0, Qt::UserRole).toInt() > 0) other = div->child(i);
        QVERIFY(other);
        const int ob = other->data(0, Qt::UserRole).toInt();
        const int orow = other->data(0, Qt::UserRole + 1).toInt();
        v.findings()->setCurrentItem(other);
        QVERIFY(waitReady(v));
        QCOMPARE(v.currentBatch(), size_t(ob));
        QCOMPARE(v.currentRow(), orow);
        QCOMPARE(v.shownIndex(), batches[size_t(ob)].indices[size_t(orow)]);
        QVERIFY2(other->text(1).startsWith(QStringLiteral("index %1 ").arg(v.shownIndex())),
                 qPrintable(other->text(1)));

        // Stepping: Right goes to the next dumped batch, Left back.
        v.goToBatch(0);
        QVERIFY(waitReady(v));
        QCOMPARE(v.currentBatch(), size_t(0));
        QTest::keyClick(&v, Qt::Key_Right);
        QVERIFY(waitReady(v));
        QCOMPARE(v.currentBatch(), size_t(1));
        QCOMPARE(v.listedIndices(), batches[1].indices);
        QCOMPARE(v.shownIndex(), batches[1].indices[size_t(v.currentRow())]);
        QTest::keyClick(&v, Qt::Key_Down);
        QVERIFY(waitReady(v));
        QCOMPARE(v.currentRow(), 1);
        QCOMPARE(v.shownIndex(), batches[1].indices[1]);
        const auto d11 = bs::diffTensors(ref.userSample(1, 1),
                                         ref.reproduce(batches[1].indices[1], batches[1].epoch),
                                         ref.options().tolerance);
        QCOMPARE(v.shownMaxAbs(), d11.maxAbs);
        QTest::keyClick(&v, Qt::Key_Left);
        QVERIFY(waitReady(v));
        QCOMPARE(v.currentBatch(), size_t(0));
        QCOMPARE(v.shownIndex(), batches[0].indices[1]);

        // Probe: the three values at a pixel, from the tensors.
        v.probe(int(d.argmax[2]), int(d.argmax[1]));
        QVERIFY2(v.readouts().probeText().contains(
                     QStringLiteral("x %1, y %2").arg(d.argmax[2]).arg(d.argmax[1])),
                 qPrintable(v.readouts().probeText()));
    }

    // Against its own printed transform the same dump compares clean: black
    // heatmap and no error finding.
    void ownTransformIsClean() {
        CompareView v;
        v.resize(1200, 800);
        v.show();
        v.open(dump_);
        QVERIFY2(waitReady(v), qPrintable(v.readouts().errorText()));
        QVERIFY(v.shownMaxAbs() < 1e-5);
        QVERIFY2(v.diffText().contains("matches"), qPrintable(v.diffText()));
        const QImage heat = v.diffView()->image();
        QVERIFY(!heat.isNull());
        int maxGray = 0;
        for (int y = 0; y < heat.height(); ++y)
            for (int x = 0; x < heat.width(); ++x)
                maxGray = std::max(maxGray, qGray(heat.pixel(x, y)));
        QVERIFY2(maxGray <= 2, qPrintable(QString::number(maxGray)));
        for (int i = 0; i < v.findings()->topLevelItemCount(); ++i)
            QVERIFY2(v.findings()->topLevelItem(i)->text(0) != "error",
                     qPrintable(v.findings()->topLevelItem(i)->text(1)));
    }
};

QTEST_MAIN(TestGuiCompare)
#include "test_gui_compare.moc"
