// Statistics: per-channel moments and extremes against a plain double
// reference, non-finite counting, histograms, Chan merging, pixel hashes,
// and the time for a 64x3x224x224 batch (printed, not asserted).
#include <QtTest>

#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include "core/audit/stats.h"

using namespace bs;

namespace {

struct Ref {
    double min = INFINITY, max = -INFINITY, mean = 0, var = 0;
    int64_t count = 0, nan = 0, pinf = 0, ninf = 0;
};

Ref reference(const float* p, size_t n) {
    Ref r;
    long double sum = 0;
    for (size_t i = 0; i < n; ++i) {
        const float v = p[i];
        if (std::isnan(v)) ++r.nan;
        else if (std::isinf(v)) ++(v > 0 ? r.pinf : r.ninf);
        else {
            ++r.count;
            sum += v;
            r.min = std::min(r.min, double(v));
            r.max = std::max(r.max, double(v));
        }
    }
    if (!r.count) return r;
    r.mean = double(sum / r.count);
    long double sq = 0;
    for (size_t i = 0; i < n; ++i)
        if (std::isfinite(p[i])) sq += (p[i] - r.mean) * (p[i] - r.mean);
    r.var = double(sq / r.count);
    return r;
}

Tensor randomTensor(std::vector<int64_t> shape, double offset, double scale, unsigned seed) {
    Tensor t = Tensor::zeros(std::move(shape));
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, 1.f);
    for (auto& v : t.values) v = float(offset + scale * dist(rng));
    return t;
}

}  // namespace

class TestStats : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void planeMatchesReference_data() {
        QTest::addColumn<double>("offset");
        QTest::addColumn<double>("scale");
        QTest::addColumn<int>("n");
        QTest::newRow("unit") << 0.0 << 1.0 << 50176;
        QTest::newRow("bytes") << 128.0 << 40.0 << 150528;
        QTest::newRow("large offset small spread") << 1000.0 << 0.01 << 10007;
        QTest::newRow("tiny values") << 1e-6 << 1e-7 << 4099;
        QTest::newRow("short tail only") << 3.0 << 2.0 << 13;
    }
    void planeMatchesReference() {
        QFETCH(double, offset);
        QFETCH(double, scale);
        QFETCH(int, n);
        const Tensor t = randomTensor({n}, offset, scale, 7);
        const ChannelStats s = planeStats(t.values.data(), t.values.size());
        const Ref r = reference(t.values.data(), t.values.size());
        QCOMPARE(s.count, r.count);
        QCOMPARE(s.min, r.min);
        QCOMPARE(s.max, r.max);
        QVERIFY2(std::fabs(s.mean - r.mean) <= 1e-6 * std::max(1.0, std::fabs(r.mean)) + 1e-5 * scale,
                 qPrintable(QString("mean %1 vs %2").arg(s.mean, 0, 'g', 12).arg(r.mean, 0, 'g', 12)));
        QVERIFY2(std::fabs(s.stddev() - std::sqrt(r.var)) <= 1e-4 * std::sqrt(r.var),
                 qPrintable(QString("std %1 vs %2").arg(s.stddev(), 0, 'g', 12).arg(std::sqrt(r.var), 0, 'g', 12)));
    }

    void nonFiniteAreCountedAndExcluded() {
        Tensor t = randomTensor({1, 64, 64}, 0.5, 0.1, 3);
        t.values[5] = std::numeric_limits<float>::quiet_NaN();
        t.values[70] = std::numeric_limits<float>::infinity();
        t.values[71] = std::numeric_limits<float>::infinity();
        t.values[4000] = -std::numeric_limits<float>::infinity();
        t.values[0] = std::numeric_limits<float>::quiet_NaN();  // also the shift candidate
        const ValueStats vs = tensorStats(t);
        QCOMPARE(vs.channels.size(), size_t(1));
        const ChannelStats& s = vs.channels[0];
        QCOMPARE(s.nan, int64_t(2));
        QCOMPARE(s.posInf, int64_t(2));
        QCOMPARE(s.negInf, int64_t(1));
        QCOMPARE(s.count, int64_t(64 * 64 - 5));
        const Ref r = reference(t.values.data(), t.values.size());
        QCOMPARE(s.min, r.min);
        QCOMPARE(s.max, r.max);
        QVERIFY(std::fabs(s.mean - r.mean) < 1e-6);
        QVERIFY(std::isfinite(s.stddev()));
    }

    void batchIsAggregatedPerChannel() {
        // (N, C, H, W): channel c of every sample goes to channel c.
        Tensor t = Tensor::zeros({2, 3, 2, 2});
        for (int n = 0; n < 2; ++n)
            for (int c = 0; c < 3; ++c)
                for (int i = 0; i < 4; ++i) t.values[size_t((n * 3 + c) * 4 + i)] = float(c * 10 + n * 4 + i);
        const ValueStats vs = tensorStats(t);
        QCOMPARE(vs.channels.size(), size_t(3));
        for (int c = 0; c < 3; ++c) {
            QCOMPARE(vs.channels[size_t(c)].count, int64_t(8));
            QCOMPARE(vs.channels[size_t(c)].min, double(c * 10));
            QCOMPARE(vs.channels[size_t(c)].max, double(c * 10 + 7));
            QCOMPARE(vs.channels[size_t(c)].mean, c * 10 + 3.5);
            QVERIFY(std::fabs(vs.channels[size_t(c)].variance() - 5.25) < 1e-9);  // 0..7
        }
    }

    void imageStatsEqualTensorStats() {
        Image im = Image::allocate(37, 23, 3);
        std::mt19937 rng(11);
        for (auto& p : im.pixels) p = uint8_t(rng() % 256);
        const ValueStats a = imageStats(im);
        const ValueStats b = tensorStats(asTensor(StageValue::fromImage(im)));
        QCOMPARE(a.channels.size(), size_t(3));
        for (size_t c = 0; c < 3; ++c) {
            QCOMPARE(a.channels[c].min, b.channels[c].min);
            QCOMPARE(a.channels[c].max, b.channels[c].max);
            QVERIFY(std::fabs(a.channels[c].mean - b.channels[c].mean) < 1e-9);
            QVERIFY(std::fabs(a.channels[c].stddev() - b.channels[c].stddev()) < 1e-6);
        }
        Image gray = Image::allocate(5, 4, 1);
        gray.pixels.assign(20, 9);
        const ValueStats g = imageStats(gray);
        QCOMPARE(g.channels.size(), size_t(1));
        QCOMPARE(g.channels[0].spread(), 0.0);
        QCOMPARE(g.channels[0].mean, 9.0);
    }

    void histogramBins() {
        Histogram h = makeHistogram(0.0, 1.0);
        const float v[] = {-0.5f, 0.0f, 0.001f, 0.5f, 0.999f, 1.0f, 1.5f,
                           std::numeric_limits<float>::quiet_NaN()};
        h.add(v, 8);
        QCOMPARE(h.below, uint64_t(1));
        QCOMPARE(h.above, uint64_t(1));
        QCOMPARE(h.bins[0], uint64_t(2));    // 0 and 0.001
        QCOMPARE(h.bins[128], uint64_t(1));  // 0.5
        QCOMPARE(h.bins[255], uint64_t(2));  // 0.999 and the closed upper end 1.0
        QCOMPARE(h.total(), uint64_t(7));    // NaN not counted

        Image im = Image::allocate(4, 1, 3);
        const uint8_t px[] = {0, 10, 255, 128, 10, 255, 255, 10, 0, 7, 10, 255};
        std::copy(std::begin(px), std::end(px), im.pixels.begin());
        const auto hs = channelHistograms(StageValue::fromImage(im), 0, 255);
        QCOMPARE(hs.size(), size_t(3));
        QCOMPARE(hs[0].bins[0], uint64_t(1));
        QCOMPARE(hs[0].bins[128], uint64_t(1));
        QCOMPARE(hs[0].bins[255], uint64_t(1));
        QCOMPARE(hs[0].bins[7], uint64_t(1));
        QCOMPARE(hs[1].bins[10], uint64_t(4));
        QCOMPARE(hs[2].total(), uint64_t(4));
        // Auto range: each channel over its own extremes.
        const auto autoH = channelHistogramsAuto(StageValue::fromImage(im));
        QCOMPARE(autoH[1].lo, 9.5);  // constant channel widened by 0.5
        QCOMPARE(autoH[1].hi, 10.5);
        QCOMPARE(autoH[0].lo, 0.0);
        QCOMPARE(autoH[0].hi, 255.0);
    }

    void histogramMatchesScalarReference() {
        // Random values with the edge cases sprinkled in (odd length: the
        // vector loop and its tail), against a plain per-value binning.
        std::mt19937 rng(3);
        std::uniform_real_distribution<float> dist(-1.5f, 2.5f);
        std::vector<float> v(1003);
        for (auto& x : v) x = dist(rng);
        const float edges[] = {-0.5f, 0.f, 2.f, 1.99999f, 2.00001f, std::nanf(""), INFINITY, -INFINITY};
        for (size_t i = 0; i < v.size(); i += 17) v[i] = edges[(i / 17) % 8];
        Histogram h = makeHistogram(0.0, 2.0);
        h.add(v.data(), v.size());
        std::array<uint64_t, Histogram::kBins> bins{};
        uint64_t below = 0, above = 0;
        for (float x : v) {
            if (std::isnan(x)) continue;
            if (x < 0.f) ++below;
            else if (x > 2.f) ++above;
            else ++bins[size_t(std::min(int(double(x) / 2.0 * 256.0), 255))];
        }
        QCOMPARE(h.below, below);
        QCOMPARE(h.above, above);
        for (int b = 0; b < Histogram::kBins; ++b) QCOMPARE(h.bins[size_t(b)], bins[size_t(b)]);
    }

    void byteCountsGiveImageStatsAndHistograms() {
        std::mt19937 rng(11);
        for (int channels : {1, 3, 4}) {
            Image im = Image::allocate(37, 23, channels);
            for (auto& p : im.pixels) p = uint8_t(rng() % 200 + 20);
            const ByteCounts bc = countBytes(im);
            QCOMPARE(bc.channels.size(), size_t(channels));
            QCOMPARE(bc.pixels, uint64_t(37 * 23));
            const ValueStats vs = bc.stats();
            for (int c = 0; c < channels; ++c) {
                std::vector<float> plane;
                for (size_t i = size_t(c); i < im.pixels.size(); i += size_t(channels))
                    plane.push_back(float(im.pixels[i]));
                const Ref r = reference(plane.data(), plane.size());
                const ChannelStats& s = vs.channels[size_t(c)];
                QCOMPARE(s.count, r.count);
                QCOMPARE(s.min, r.min);
                QCOMPARE(s.max, r.max);
                QVERIFY(std::fabs(s.mean - r.mean) < 1e-9);
                QVERIFY(std::fabs(s.variance() - r.var) < 1e-6);
                // Histogram from the counts = histogram of the pixels.
                Histogram fromCounts = makeHistogram(10, 100);
                fromCounts.addCounts(bc.channels[size_t(c)]);
                Histogram direct = makeHistogram(10, 100);
                direct.addInterleaved(im.pixels.data() + c, plane.size(), channels);
                QCOMPARE(fromCounts.bins, direct.bins);
                QCOMPARE(fromCounts.above, direct.above);
                QCOMPARE(fromCounts.below, uint64_t(std::count_if(plane.begin(), plane.end(),
                                                                   [](float x) { return x < 10; })));
            }
        }
        Image bad = Image::allocate(4, 4, 3);
        bad.pixels.resize(10);  // too few bytes for its size
        QVERIFY(countBytes(bad).channels.empty());
    }

    void perChannelRangesEqualOneRangeAtATime() {
        const Tensor t = randomTensor({2, 3, 5, 7}, 0.5, 0.4, 4);
        const std::vector<std::pair<double, double>> ranges = {{0, 1}, {-1, 2}, {0.25, 0.75}};
        const auto hs = channelHistograms(StageValue::fromTensor(t), ranges);
        QCOMPARE(hs.size(), size_t(3));
        for (size_t c = 0; c < 3; ++c) {
            const auto one = channelHistograms(StageValue::fromTensor(t), ranges[c].first, ranges[c].second);
            QCOMPARE(hs[c].lo, ranges[c].first);
            QCOMPARE(hs[c].bins, one[c].bins);
            QCOMPARE(hs[c].below, one[c].below);
            QCOMPARE(hs[c].above, one[c].above);
            QCOMPARE(hs[c].total(), uint64_t(2 * 5 * 7));
        }
    }

    void runningStatsMergeEqualsWhole() {
        const Tensor a = randomTensor({3, 20, 20}, 0.4, 0.2, 1);
        const Tensor b = randomTensor({3, 30, 10}, 0.6, 0.3, 2);
        const Tensor c = randomTensor({3, 7, 9}, -1.0, 2.0, 3);
        RunningStats left, right, all;
        left.add(tensorStats(a));
        right.add(tensorStats(b));
        right.add(tensorStats(c));
        left.merge(right);
        Tensor cat;
        for (int ch = 0; ch < 3; ++ch) {
            std::vector<float> vals;
            for (const Tensor* t : {&a, &b, &c}) {
                const size_t plane = size_t(t->shape[1] * t->shape[2]);
                vals.insert(vals.end(), t->values.begin() + ch * plane, t->values.begin() + (ch + 1) * plane);
            }
            const Ref r = reference(vals.data(), vals.size());
            const ChannelStats& s = left.channels()[size_t(ch)];
            QCOMPARE(s.count, r.count);
            QVERIFY(std::fabs(s.mean - r.mean) < 1e-6);
            QVERIFY(std::fabs(s.variance() - r.var) < 1e-5);
            QCOMPARE(s.min, r.min);
            QCOMPARE(s.max, r.max);
        }
        QCOMPARE(left.samples(), int64_t(3));
    }

    void hashesSeeEveryPixelAndDims() {
        Image a = Image::allocate(31, 17, 3);
        std::mt19937 rng(5);
        for (auto& p : a.pixels) p = uint8_t(rng());
        Image b = a;
        QCOMPARE(hashImage(a), hashImage(b));
        b.pixels[b.pixels.size() - 1] ^= 1;  // last byte, in the tail loop
        QVERIFY(hashImage(a) != hashImage(b));
        b = a;
        b.pixels[40] ^= 0x80;  // inside the 32-byte blocks
        QVERIFY(hashImage(a) != hashImage(b));
        // Same bytes, other dimensions.
        Image c = a;
        c.width = 17;
        c.height = 31;
        QVERIFY(hashImage(a) != hashImage(c));
    }

    // The one-pass counts and hash equal countBytes and hashImage, for any
    // pixel count (whole 32-pixel chunks, a pixel tail, a byte tail) and
    // channel count.
    void countAndHashEqualsTheTwoPasses() {
        std::mt19937 rng(17);
        const std::pair<int, int> sizes[] = {{1, 1},   {31, 1},  {32, 1},    {33, 1},
                                             {37, 23}, {64, 64}, {500, 375}, {3, 11}};
        for (int channels : {1, 3, 4})
            for (const auto& [w, h] : sizes) {
                Image im = Image::allocate(w, h, channels);
                for (auto& p : im.pixels) p = uint8_t(rng());
                uint64_t hash = 0;
                const ByteCounts both = countAndHashBytes(im, hash);
                const ByteCounts counts = countBytes(im);
                QCOMPARE(hash, hashImage(im));
                QCOMPARE(both.pixels, counts.pixels);
                QCOMPARE(both.channels.size(), counts.channels.size());
                for (size_t c = 0; c < counts.channels.size(); ++c)
                    QCOMPARE(both.channels[c], counts.channels[c]);
            }
        Image bad = Image::allocate(4, 4, 3);
        bad.pixels.resize(10);  // too few bytes for its size
        uint64_t hash = 0;
        QVERIFY(countAndHashBytes(bad, hash).channels.empty());
        QCOMPARE(hash, hashImage(bad));
    }

    void batchStatsTime() {
        // 64x3x224x224 float batch, like an ImageNet batch after Normalize.
        const Tensor t = randomTensor({64, 3, 224, 224}, 0.0, 1.0, 9);
        ValueStats vs;
        const int reps = 5;
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < reps; ++i) vs = tensorStats(t);
        const double ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
        std::vector<Histogram> h;
        const StageValue batch = StageValue::fromTensor(t);  // the 38 MB copy is not timed
        const auto t1 = std::chrono::steady_clock::now();
        h = channelHistograms(batch, -3, 3);
        const double hms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
        qInfo("tensorStats 64x3x224x224: %.2f ms per batch; 256-bin histograms: %.2f ms", ms, hms);
        QCOMPARE(vs.channels.size(), size_t(3));
        QCOMPARE(vs.channels[0].count, int64_t(64) * 224 * 224);
        QVERIFY(std::fabs(vs.channels[1].mean) < 0.01);
        QVERIFY(std::fabs(vs.channels[2].stddev() - 1.0) < 0.01);
        QCOMPARE(h[0].total(), uint64_t(64) * 224 * 224);
    }
};

QTEST_GUILESS_MAIN(TestStats)
#include "test_stats.moc"
