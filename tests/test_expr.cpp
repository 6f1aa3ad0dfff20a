// Lambda expressions: parse errors with their column, and results equal to
// what torch computes for the same Python expression on the same tensor.
#include <QtTest>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/pipeline/expr.h"
#include "core/dataset/npy.h"
#include "core/pipeline/pipeline.h"
#include "support/testsupport.h"

using nlohmann::json;

namespace {

const char* kEvalScript = R"PY(
import sys, json, numpy as np, torch
d = sys.argv[1]
x = torch.from_numpy(np.load(d + '/x.npy'))
for i, e in enumerate(json.load(open(d + '/exprs.json'))):
    r = eval(e, {'x': x, 'torch': torch})
    if not isinstance(r, torch.Tensor):
        r = torch.tensor(r)
    np.save(d + '/r%d.npy' % i, r.float().reshape(-1).numpy())
)PY";

// Expressions as they would be written in a Python Lambda.
const std::vector<std::string> kExprs = {
    "x / (x.sum() + 1e-9)",
    "x.log() / (x - x)",
    "(x - x.mean()) / x.std()",
    "-x ** 2 + 3 * x - 1",
    "2 ** -x",
    "1 / (x + 0.5)",
    "1 - x",
    "x.clamp(0.2, 0.7) * 10",
    "torch.sqrt(x) + torch.exp(-x) - torch.abs(x - 0.5)",
    "(x > 0.5) + (x <= 0.25) * 2 + (0.3 < x)",
    "x.max() - x.min() + x.float().abs().mean()",
    "(x * 255).float() != 0",
    "torch.clamp(x, 0.1, 0.9).log()",
    "3",
};

}  // namespace

class TestExpr : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parseErrorsGiveTheColumn() {
        const auto check = [](const std::string& text, const QString& needle) {
            try {
                bs::Expression::parse(text);
                QFAIL(qPrintable(QString::fromStdString("accepted: " + text)));
            } catch (const bs::Error& e) {
                QVERIFY2(QString(e.what()).contains(needle), e.what());
                QVERIFY2(QString(e.what()).startsWith("Lambda: "), e.what());
            }
        };
        check("x.sum())", "unexpected ')' at column 8 in 'x.sum())'");
        check("(x + 1", "expected ')' but found end of expression at column 7");
        check("x + * 2", "unexpected '*' at column 5");
        check("y * 2", "unknown name 'y' at column 1");
        check("x.median()", "unknown method 'median' at column 3");
        check("torch.foo(x)", "unknown function 'torch.foo' at column 7");
        check("x.clamp()", "clamp() takes 1 to 2 argument(s), got 0");
        check("x.sum(1)", "sum() takes 0 argument(s), got 1");
        check("", "unexpected end of expression at column 1");
        check("x $ 2", "unexpected '$' at column 3");
        // Hostile sizes: refused before they can exhaust the stack.
        check(std::string(300, '-') + "x", "nested deeper than 200 levels");
        check(std::string(1000, '(') + "x" + std::string(1000, ')'), "nested deeper than 200 levels");
        check(std::string(5000, '-') + "x", "longer than 4096 characters");
        // Real nesting well inside the bound still parses and evaluates.
        const bs::Expression deep = bs::Expression::parse(std::string(150, '(') + "x + 1" + std::string(150, ')'));
        bs::Tensor t;
        t.shape = {1};
        t.values = {2.f};
        QCOMPARE(deep.evaluate(t).values.at(0), 3.f);
    }

    void resultsEqualTorch() {
        if (!bstest::torchvisionAvailable())
            BSTEST_SKIP("torch not available in /usr/bin/python3: Lambda results not checked");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        bs::Tensor x = bs::Tensor::zeros({2, 5, 7});
        for (size_t i = 0; i < x.values.size(); ++i)
            x.values[i] = float((i * 37) % 101) / 100.0f;  // includes exact 0 (log -> -inf)
        bs::writeNpy(dir.filePath("x.npy").toStdString(), x.shape, x.values);
        bstest::writeFile(dir.filePath("exprs.json"),
                          QByteArray::fromStdString(json(kExprs).dump()));
        bstest::writeFile(dir.filePath("eval.py"), kEvalScript);
        auto r = bstest::runPython({dir.filePath("eval.py"), dir.path()});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        for (size_t i = 0; i < kExprs.size(); ++i) {
            const bs::Tensor ours = bs::Expression::parse(kExprs[i]).evaluate(x);
            const bs::Tensor ref = bstest::readNpyAsFloat(dir.filePath(QString("r%1.npy").arg(i)));
            QCOMPARE(size_t(ours.numel()), ref.values.size());
            double maxRel = 0;
            int nonFinite = 0;
            for (size_t k = 0; k < ref.values.size(); ++k) {
                const float a = ours.values[k], b = ref.values[k];
                if (!std::isfinite(b)) {
                    // NaN where torch has NaN, the same infinity where it has one.
                    QVERIFY2(std::isnan(b) ? std::isnan(a) : a == b, kExprs[i].c_str());
                    ++nonFinite;
                    continue;
                }
                // A NaN here (ours, where torch is finite) must stick:
                // std::max(maxRel, NaN) would keep maxRel and hide it.
                const double rel = std::fabs(double(a) - b) / std::max(1.0, std::fabs(double(b)));
                if (std::isnan(rel) || rel > maxRel) maxRel = rel;
            }
            qInfo("%-55s max rel diff %.3g, %d non-finite", kExprs[i].c_str(), maxRel, nonFinite);
            QVERIFY2(maxRel <= 1e-6, kExprs[i].c_str());
            if (i == 1) QVERIFY(nonFinite == int(ref.values.size()));  // x.log() / 0
        }
    }

    void lambdaStageInAPipeline() {
        const auto p = bs::Pipeline::fromJson(
            json::parse(R"([{"op":"PILToTensor"},{"op":"Lambda","expr":"x.float() / 255"}])"));
        bs::Image im = bs::Image::allocate(3, 2, 3);
        for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = uint8_t(i * 13);
        auto out = p.run(bs::StageValue::fromImage(im), {}).output.tensor;
        QCOMPARE(out.shape, (std::vector<int64_t>{3, 2, 3}));
        QCOMPARE(out.dtype, bs::DType::Float32);
        // Same as ToTensor (both are a float32 division by 255).
        auto t = bs::Pipeline::fromJson(json::parse(R"([{"op":"ToTensor"}])"))
                     .run(bs::StageValue::fromImage(im), {})
                     .output.tensor;
        QVERIFY(out.values == t.values);
        QCOMPARE(p.toJson()[1]["expr"].get<std::string>(), std::string("x.float() / 255"));
        QVERIFY(!p.stage(1).expectedRange(bs::ValueRange::of(0, 255), 0).known);
    }
};

QTEST_GUILESS_MAIN(TestExpr)
#include "test_expr.moc"
