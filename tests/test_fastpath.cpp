// The fused fast paths (Resize+CenterCrop on the kept region, ToTensor+
// Normalize through a table, SIMD resampling) must give exactly the bytes of
// the stage-by-stage path. Pipeline::run fuses only when intermediate stages
// are not kept, so running with and without keepStages compares the two.
#include <QtTest>

#include <cstring>
#include <random>

#include "core/pipeline/pipeline.h"

using namespace bs;

namespace {

Image randomImage(int w, int h, int c, unsigned seed, bool smooth) {
    Image im = Image::allocate(w, h, c);
    std::mt19937 rng(seed);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w * c; ++x)
            im.row(y)[x] = smooth ? uint8_t((x * 7 + y * 3 + (rng() % 9)) & 255) : uint8_t(rng());
    return im;
}

bool sameBits(const Tensor& a, const Tensor& b) {
    return a.shape == b.shape && a.dtype == b.dtype && a.values.size() == b.values.size() &&
           std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0;
}

}  // namespace

class TestFastpath : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void fusedEqualsStageByStage_data() {
        QTest::addColumn<QString>("pipeline");
        QTest::addColumn<int>("channels");
        const char* imagenet =
            R"([{"op":"Resize","size":256},{"op":"CenterCrop","size":224},{"op":"ToTensor"},
                {"op":"Normalize","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}])";
        QTest::newRow("imagenet eval rgb") << QString(imagenet) << 3;
        QTest::newRow("bicubic odd crop") << QString(
            R"([{"op":"Resize","size":[131,257],"interpolation":"bicubic"},{"op":"CenterCrop","size":[99,201]},
                {"op":"ToTensor"},{"op":"Normalize","mean":[0.5],"std":[0.25]}])") << 3;
        QTest::newRow("lanczos upscale") << QString(
            R"([{"op":"Resize","size":700,"interpolation":"lanczos"},{"op":"CenterCrop","size":333},
                {"op":"ToTensor"},{"op":"Normalize","mean":[0.1,0.2,0.3],"std":[0.9,0.8,0.7]}])") << 3;
        QTest::newRow("gray single mean") << QString(
            R"([{"op":"Resize","size":20},{"op":"CenterCrop","size":17},{"op":"ToTensor"},
                {"op":"Normalize","mean":[0.286],"std":[0.353]}])") << 1;
    }
    void fusedEqualsStageByStage() {
        QFETCH(QString, pipeline);
        QFETCH(int, channels);
        const Pipeline p = Pipeline::parse(pipeline.toStdString());
        const int sizes[][2] = {{500, 375}, {375, 500}, {641, 479}, {28, 28}, {333, 1}};
        unsigned seed = 1;
        for (const auto& s : sizes) {
            for (bool smooth : {false, true}) {
                const Image im = randomImage(s[0], s[1], channels, seed++, smooth);
                RandomContext ctx;
                const Pipeline::Result fast = p.run(StageValue::fromImage(im), ctx, false);
                const Pipeline::Result slow = p.run(StageValue::fromImage(im), ctx, true);
                QVERIFY(!fast.output.isImage());
                QCOMPARE(fast.output.tensor.shape, slow.output.tensor.shape);
                QVERIFY2(sameBits(fast.output.tensor, slow.output.tensor),
                         qPrintable(QString("%1x%2 smooth=%3").arg(s[0]).arg(s[1]).arg(smooth)));
            }
        }
    }

    // Normalize with the wrong number of values must still fail with its own
    // message (the fused path steps aside instead of guessing), also when
    // the caller wants only the output's shape.
    void fusedPathKeepsNormalizeErrors() {
        const Pipeline p = Pipeline::parse(
            R"([{"op":"ToTensor"},{"op":"Normalize","mean":[0.1,0.2],"std":[0.3,0.4]}])");
        const Image im = randomImage(8, 8, 3, 7, false);
        Pipeline::OutputRow shapeOnly;
        shapeOnly.shapeOnly = true;
        const Pipeline::OutputRow* rows[] = {nullptr, &shapeOnly};
        for (const Pipeline::OutputRow* row : rows) {
            try {
                p.run(StageValue::fromImage(im), RandomContext{}, Pipeline::StageMask(), p.size(),
                      row);
                QFAIL("a 2-value mean on a 3-channel image must be rejected");
            } catch (const PipelineError& e) {
                QCOMPARE(e.stage(), 1);
                QVERIFY(QString(e.what()).contains("mean has 2 values"));
            }
        }
    }

    // A shape-only run (the audit's scan, which reads only the output's
    // shape) gives the shape and dtype of the full run, computes no values
    // of a final fused ToTensor+Normalize, and computes the others as usual.
    void shapeOnlyRunSkipsTheFinalFusedValues() {
        Pipeline::OutputRow shapeOnly;
        shapeOnly.shapeOnly = true;
        const Image im = randomImage(120, 90, 3, 11, true);
        const Pipeline fused = Pipeline::parse(
            R"([{"op":"Resize","size":64},{"op":"CenterCrop","size":56},{"op":"ToTensor"},
                {"op":"Normalize","mean":[0.5,0.4,0.3],"std":[0.2,0.2,0.2]}])");
        const Pipeline::Result full = fused.run(StageValue::fromImage(im), RandomContext{}, false);
        const Pipeline::Result shape = fused.run(StageValue::fromImage(im), RandomContext{},
                                                 Pipeline::StageMask(), fused.size(), &shapeOnly);
        QCOMPARE(shape.output.tensor.shape, full.output.tensor.shape);
        QCOMPARE(shape.output.tensor.shape, (std::vector<int64_t>{3, 56, 56}));
        QCOMPARE(int(shape.output.tensor.dtype), int(full.output.tensor.dtype));
        QVERIFY(shape.outputInRow);
        QVERIFY(shape.output.tensor.values.empty());
        QCOMPARE(shape.sizes, full.sizes);
        // Not ending in the fused pair: the output is computed whole.
        const Pipeline unfused =
            Pipeline::parse(R"([{"op":"ToTensor"},{"op":"Lambda","expr":"x * 2"}])");
        const Pipeline::Result whole =
            unfused.run(StageValue::fromImage(im), RandomContext{}, Pipeline::StageMask(),
                        unfused.size(), &shapeOnly);
        QVERIFY(!whole.outputInRow);
        QCOMPARE(whole.output.tensor.values.size(), size_t(3 * 120 * 90));
    }
};

QTEST_GUILESS_MAIN(TestFastpath)
#include "test_fastpath.moc"
