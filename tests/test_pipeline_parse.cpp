// Reading pipelines: JSON stages and the text torchvision prints for a
// Compose, with errors that name the stage (or line/column) and what is
// accepted.
#include <QtTest>

#include <nlohmann/json.hpp>

#include "core/pipeline/pipeline.h"
#include "support/testsupport.h"

using nlohmann::json;

namespace {

// Expects a PipelineError for stage `stage` whose message contains every needle.
void expectError(const std::function<void()>& f, int stage, const QStringList& needles) {
    try {
        f();
    } catch (const bs::PipelineError& e) {
        const QString msg = e.what();
        QCOMPARE(e.stage(), stage);
        for (const auto& n : needles) QVERIFY2(msg.contains(n), qPrintable(msg + " lacks " + n));
        QVERIFY2(!msg.contains('\n'), qPrintable(msg));
        return;
    }
    QFAIL("no PipelineError");
}

// moc's parser trips over raw strings inside the class: keep them out here.
const char* kComposeScript = R"PY(
import torch, torchvision.transforms as T
from torchvision.transforms import InterpolationMode as IM
c = T.Compose([T.Resize(256), T.Resize((224, 200), interpolation=IM.NEAREST, antialias=True),
  T.Resize(100, interpolation=IM.BICUBIC, max_size=150), T.CenterCrop(224), T.CenterCrop((3, 4)),
  T.RandomCrop(32, padding=4), T.RandomCrop((32, 30), padding=(1, 2)), T.RandomCrop(8),
  T.RandomResizedCrop(224), T.RandomResizedCrop((100, 120), scale=(0.123456, 1.0), ratio=(0.3333, 1.5),
  interpolation=IM.BICUBIC), T.RandomHorizontalFlip(), T.RandomVerticalFlip(0.3), T.Pad(3),
  T.Pad((1, 2, 3, 4), fill=5, padding_mode='edge'), T.Pad((2, 1), padding_mode='reflect'),
  T.Grayscale(), T.Grayscale(3), T.ToTensor(), T.PILToTensor(), T.ConvertImageDtype(torch.float32),
  T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), T.Normalize([1e-05], [2.5])])
open(__import__('sys').argv[1], 'w').write(repr(c))
open(__import__('sys').argv[2], 'w').write(repr(T.RandomResizedCrop(64)))
)PY";
const char* kBadLambda = R"J([{"op":"Lambda","expr":"x.sum())"}])J";

}  // namespace

class TestPipelineParse : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void jsonStages() {
        const auto p = bs::Pipeline::parse(R"([
            {"op": "Resize", "size": 256},
            {"op": "CenterCrop", "size": [224, 200]},
            {"op": "ToTensor"},
            {"op": "Normalize", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}])");
        QCOMPARE(p.size(), size_t(4));
        QCOMPARE(QString::fromStdString(p.stage(1).op()), QString("CenterCrop"));
        QVERIFY(!p.isRandom());
        QCOMPARE(QString::fromStdString(p.repr()),
                 QString("Compose(\n    Resize(size=256, interpolation=bilinear, max_size=None, "
                         "antialias=None)\n    CenterCrop(size=(224, 200))\n    ToTensor()\n    "
                         "Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])\n)"));
        // toJson -> fromJson is the identity (the UI saves pipelines this way).
        const auto again = bs::Pipeline::fromJson(p.toJson());
        QCOMPARE(again.toJson().dump(), p.toJson().dump());
        QCOMPARE(again.repr(), p.repr());
        // The {"transforms": [...]} wrapper and "enabled".
        const auto q = bs::Pipeline::parse(
            R"({"transforms": [{"op": "RandomHorizontalFlip", "p": 0.25, "enabled": false}, {"op": "PILToTensor"}]})");
        QCOMPARE(q.size(), size_t(2));
        QVERIFY(!q.isEnabled(0));
        QVERIFY(!q.isRandom());  // the only random stage is disabled
        QCOMPARE(q.toJson()[0]["enabled"].get<bool>(), false);
        QCOMPARE(q.toJson()[0]["p"].get<double>(), 0.25);
        QVERIFY(bs::Pipeline::supportedOps().size() >= 14);
    }

    void jsonErrorsNameStageAndAccepted() {
        using P = bs::Pipeline;
        expectError([] { P::parse(R"([{"op":"ToTensor"},{"op":"Blur","radius":2}])"); }, 1,
                    {"stage 2", "unknown op 'Blur'", "Resize", "Normalize"});
        expectError(
            [] {
                P::parse(
                    R"([{"op":"ToTensor"},{"op":"ToTensor"},{"op":"Normalize","mean":[0.5],"std":[0.5],"eps":1}])");
            },
            2, {"stage 3 (Normalize)", "unknown parameter 'eps'", "accepted: mean, std, inplace"});
        expectError(
            [] { P::parse(R"([{"op":"Resize","size":"big"}])"); }, 0,
            {"stage 1 (Resize)", "'size'", "an int or a list [h, w]", "\"big\"", "accepted:"});
        expectError([] { P::parse(R"([{"op":"Resize","size":[1,2,3]}])"); }, 0, {"'size'"});
        expectError([] { P::parse(R"([{"op":"CenterCrop"}])"); }, 0,
                    {"stage 1 (CenterCrop)", "missing required parameter 'size'"});
        expectError([] { P::parse(R"([{"op":"ToTensor"},{"op":"Normalize","mean":[0.5]}])"); }, 1,
                    {"missing required parameter 'std'"});
        expectError([] { P::parse(R"([{"op":"Pad","padding":2,"padding_mode":"wrap"}])"); }, 0,
                    {"'padding_mode'", "symmetric"});
        expectError([] { P::parse(R"([{"op":"Resize","size":32,"interpolation":"cubic"}])"); }, 0,
                    {"'interpolation'", "bicubic"});
        expectError([] { P::parse(R"([{"op":"Resize","size":[32,32],"max_size":40}])"); }, 0,
                    {"max_size"});
        expectError([] { P::parse(R"([{"op":"Grayscale","num_output_channels":2}])"); }, 0,
                    {"1 or 3"});
        expectError([] { P::parse(R"([{"size":3}])"); }, 0, {"missing \"op\"", "supported ops"});
        expectError([] { P::parse(R"([{"op":"ToTensor","enabled":"no"}])"); }, 0, {"enabled"});
        expectError([] { P::parse(R"({"op":"ToTensor"})"); }, -1, {"array of stages"});
        expectError([] { P::parse(R"([{"op":"ToTensor"},)"); }, -1, {"pipeline JSON"});
        // 200,000 nested brackets would overflow the stack when quoted back.
        expectError([] { P::parse(std::string(200000, '[') + std::string(200000, ']')); }, -1,
                    {"pipeline JSON", "nested deeper than 100 levels"});
        expectError([] { P::parse(kBadLambda); }, 0,
                    {"stage 1 (Lambda)", "unexpected ')' at column 8"});
    }

    // The exact text print(Compose([...])) shows in torchvision 0.14 parses,
    // and batchscope prints it back identically.
    void torchvisionTextOfRealComposeObjects() {
        if (!bstest::torchvisionAvailable())
            BSTEST_SKIP(
                "torchvision not available in /usr/bin/python3: printed Compose text not checked");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString script = kComposeScript;
        bstest::writeFile(dir.filePath("gen.py"), script.toUtf8());
        auto r = bstest::runPython(
            {dir.filePath("gen.py"), dir.filePath("compose.txt"), dir.filePath("single.txt")});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QFile f(dir.filePath("compose.txt"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const std::string text = f.readAll().toStdString();
        const auto p = bs::Pipeline::loadFile(dir.filePath("compose.txt").toStdString());
        QCOMPARE(p.size(), size_t(22));
        QVERIFY(p.isRandom());
        QCOMPARE(QString::fromStdString(p.repr()), QString::fromStdString(text));
        // Parameters went to the right places.
        const json j = p.toJson();
        QCOMPARE(j[1]["size"].dump(), std::string("[224,200]"));
        QCOMPARE(j[1]["interpolation"].get<std::string>(), std::string("nearest"));
        QCOMPARE(j[2]["max_size"].get<int>(), 150);
        QCOMPARE(j[9]["scale"][0].get<double>(), 0.1235);  // what the text holds
        QCOMPARE(j[13]["padding_mode"].get<std::string>(), std::string("edge"));
        QCOMPARE(j[13]["fill"].get<double>(), 5.0);
        QCOMPARE(j[19]["dtype"].get<std::string>(), std::string("float32"));
        // A single transform without Compose.
        QFile s(dir.filePath("single.txt"));
        QVERIFY(s.open(QIODevice::ReadOnly));
        const std::string single = s.readAll().toStdString();
        const auto one = bs::Pipeline::parse(single);
        QCOMPARE(one.size(), size_t(1));
        QCOMPARE(one.stage(0).repr(), single);
    }

    void torchvisionTextErrorsAndLenientMode() {
        const std::string text =
            "Compose(\n    Resize(size=32, interpolation=bilinear, max_size=None, antialias=None)\n"
            "    ColorJitter(brightness=(0.6, 1.4), contrast=None, saturation=None, hue=None)\n"
            "    ToTensor()\n    Lambda()\n)";
        expectError([&] { bs::Pipeline::parse(text); }, 1,
                    {"unknown transform 'ColorJitter'", "line 3"});
        const std::string withLambda = "Compose(\n    ToTensor()\n    Lambda()\n)";
        expectError([&] { bs::Pipeline::parse(withLambda); }, 1,
                    {"Lambda", "not in the printed text", "{\"op\": \"Lambda\", \"expr\""});
        std::vector<std::string> unknown;
        const auto p = bs::Pipeline::fromTorchvisionText(text, ".", &unknown);
        QCOMPARE(p.size(), size_t(2));
        QCOMPARE(unknown, (std::vector<std::string>{"ColorJitter", "Lambda"}));
        expectError([] { bs::Pipeline::parse("Compose(\n    CenterCrop(size=(3, 4)\n"); }, 0,
                    {"line"});
        expectError([] { bs::Pipeline::parse("Compose(\n    CenterCrop(size=(3, 4), 7)\n)"); }, 0,
                    {"line 2, column 29", "parameter name"});
        expectError(
            [] { bs::Pipeline::parse("Compose(\n    Normalize(mean=[0.5], std=[0.5], eps=1)\n)"); },
            0, {"stage 1 (Normalize)", "unknown parameter 'eps'"});
        expectError([] { bs::Pipeline::parse("   "); }, -1, {"empty"});
    }

    void loadFileDetectsFormatAndBaseDir() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        bstest::writeFile(dir.filePath("p.json"), R"([{"op":"ToTensor"}])");
        bstest::writeFile(dir.filePath("p.txt"), R"([{"op":"PILToTensor"}])");
        bstest::writeFile(dir.filePath("p.tv"), "Compose(\n    CenterCrop(size=(5, 5))\n)");
        bstest::writeFile(dir.filePath("bad.json"), "CenterCrop(size=(5, 5))");
        QCOMPARE(bs::Pipeline::loadFile(dir.filePath("p.json").toStdString()).stage(0).op(),
                 std::string("ToTensor"));
        QCOMPARE(bs::Pipeline::loadFile(dir.filePath("p.txt").toStdString()).stage(0).op(),
                 std::string("PILToTensor"));
        QCOMPARE(bs::Pipeline::loadFile(dir.filePath("p.tv").toStdString()).stage(0).op(),
                 std::string("CenterCrop"));
        expectError([&] { bs::Pipeline::loadFile(dir.filePath("bad.json").toStdString()); }, -1,
                    {"bad.json", "pipeline JSON"});
        expectError([&] { bs::Pipeline::loadFile(dir.filePath("none.json").toStdString()); }, -1,
                    {"cannot read"});
        // TorchScript paths resolve against the pipeline file's folder.
        bstest::writeFile(dir.filePath("ts.json"),
                          R"([{"op":"ToTensor"},{"op":"TorchScript","path":"missing.pt"}])");
        expectError([&] { bs::Pipeline::loadFile(dir.filePath("ts.json").toStdString()); }, 1,
                    {"stage 2 (TorchScript)", QDir(dir.path()).filePath("missing.pt")});
    }
};

QTEST_GUILESS_MAIN(TestPipelineParse)
#include "test_pipeline_parse.moc"
