// TorchScript stage: a module scripted and saved by python is loaded from a
// path relative to the pipeline file and gives python's output.
#include <QtTest>

#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/dataset/npy.h"
#include "core/pipeline/pipeline.h"
#include "support/testsupport.h"

using nlohmann::json;

namespace {

const char* kScript = R"PY(
import sys, numpy as np, torch
d = sys.argv[1]
torch.manual_seed(0)
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 3, padding=1)
    def forward(self, x):
        y = self.conv(x.unsqueeze(0)).squeeze(0)
        return torch.tanh(y) * 2 + x.mean()
m = torch.jit.script(M())
m.save(d + '/models/m.pt')
x = torch.from_numpy(np.load(d + '/x.npy'))
with torch.no_grad():
    np.save(d + '/ref.npy', m(x).numpy())
)PY";

}  // namespace

class TestTorchScript : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void scriptedModuleMatchesPython() {
        if (!bstest::torchvisionAvailable())
            BSTEST_SKIP("torch not available in /usr/bin/python3: TorchScript stage not checked");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QVERIFY(QDir(dir.path()).mkpath("models"));
        bs::Tensor x = bs::Tensor::zeros({3, 9, 11});
        for (size_t i = 0; i < x.values.size(); ++i) x.values[i] = float((i * 29) % 97) / 97.0f;
        bs::writeNpy(dir.filePath("x.npy").toStdString(), x.shape, x.values);
        bstest::writeFile(dir.filePath("make.py"), kScript);
        auto r = bstest::runPython({dir.filePath("make.py"), dir.path()});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        bstest::writeFile(dir.filePath("pipe.json"),
                          R"([{"op":"TorchScript","path":"models/m.pt"}])");
        const auto p = bs::Pipeline::loadFile(dir.filePath("pipe.json").toStdString());
        QCOMPARE(p.toJson()[0]["path"].get<std::string>(), std::string("models/m.pt"));
        const auto out = p.run(bs::StageValue::fromTensor(x), {}).output.tensor;
        const bs::Tensor ref = bstest::readNpyAsFloat(dir.filePath("ref.npy"));
        QCOMPARE(out.shape, ref.shape);
        auto d = bstest::compare(out.values.data(), ref.values.data(), ref.values.size(), 1e-6);
        qInfo("TorchScript vs python: max |diff| %.3g", d.maxAbs);
        QVERIFY(d.maxAbs <= 1e-6);
        QVERIFY(!p.stage(0).expectedRange(bs::ValueRange::of(0, 1), 0).known);

        // Concurrent use from several threads (loader workers) is safe.
        std::vector<std::thread> threads;
        std::atomic<int> same{0};
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&] {
                for (int k = 0; k < 5; ++k)
                    same +=
                        p.run(bs::StageValue::fromTensor(x), {}).output.tensor.values == out.values;
            });
        for (auto& t : threads) t.join();
        QCOMPARE(same.load(), 20);

        // On an image the stage asks for a tensor first.
        try {
            p.run(bs::StageValue::fromImage(bs::Image::allocate(4, 4, 3)), {});
            QFAIL("image accepted");
        } catch (const bs::PipelineError& e) {
            QCOMPARE(e.stage(), 0);
            QVERIFY2(QString(e.what()).contains("needs a tensor"), e.what());
        }
        // A wrong input shape is a one-line PipelineError, not a crash.
        try {
            p.run(bs::StageValue::fromTensor(bs::Tensor::zeros({1, 4, 4})), {});
            QFAIL("wrong channel count accepted");
        } catch (const bs::PipelineError& e) {
            QCOMPARE(e.stage(), 0);
            QVERIFY2(QString(e.what()).startsWith("stage 1 (TorchScript)"), e.what());
            QVERIFY2(!QString(e.what()).contains('\n'), e.what());
        }
        // Not a TorchScript file.
        bstest::writeFile(dir.filePath("models/bad.pt"), "not a zip");
        try {
            bs::Pipeline::parse(R"([{"op":"TorchScript","path":"models/bad.pt"}])",
                                dir.path().toStdString());
            QFAIL("bad module accepted");
        } catch (const bs::PipelineError& e) {
            QVERIFY2(QString(e.what()).contains("cannot load TorchScript module"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestTorchScript)
#include "test_torchscript.moc"
