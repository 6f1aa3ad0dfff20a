// Each transform against torchvision 0.14 + Pillow 9.4 on small generated
// inputs: python reads the same input array, applies the torchvision code of
// the case and writes its output; random stages are replayed in python with
// the parameters batchscope recorded.
#include <QtTest>

#include <cmath>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "core/dataset/npy.h"
#include "core/pipeline/pipeline.h"
#include "support/testsupport.h"

using nlohmann::json;

namespace {

const char* kRunner = R"PY(
import sys, json, numpy as np, torch
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode as IM
d = sys.argv[1]
for c in json.load(open(d + '/cases.json')):
    arr = np.load(d + '/' + c['input'])
    img = Image.fromarray(arr if arr.shape[2] == 3 else arr[:, :, 0])
    out = eval(c['py'])(img)
    if isinstance(out, torch.Tensor):
        out = out.numpy().astype(np.float32)
    else:
        out = np.asarray(out).astype(np.uint8)
    np.save(d + '/' + c['name'] + '.out.npy', out)
)PY";

// A deterministic image with smooth gradients, edges and noise, so that
// resampling and rounding differences would show.
bs::Image makeImage(int w, int h, int c, unsigned seed) {
    bs::Image im = bs::Image::allocate(w, h, c);
    std::mt19937 gen(seed);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int k = 0; k < c; ++k) {
                int v = (x * 255 / std::max(1, w - 1) + k * 60 + ((x / 5 + y / 4) % 2) * 90 +
                         int(gen() % 40)) %
                        256;
                im.pixels[(size_t(y) * w + x) * c + k] = uint8_t(v);
            }
    return im;
}

std::vector<float> flatten(const bs::StageValue& v) {
    if (!v.isImage()) return v.tensor.values;
    return std::vector<float>(v.image.pixels.begin(), v.image.pixels.end());
}
std::vector<int64_t> shapeOf(const bs::StageValue& v) {
    if (!v.isImage()) return v.tensor.shape;
    if (v.image.channels == 1) return {v.image.height, v.image.width};
    return {v.image.height, v.image.width, v.image.channels};
}

enum class Tol { Exact, Geometric, Normalized };

struct Case {
    QString name;
    json pipeline;
    QString py;  // python callable taking the PIL image; {top} etc. filled from drawn
    Tol tol;
    QString input = "rgb.npy";
    bs::StageValue ours{};
};

}  // namespace

class TestTransforms : public QObject {
    Q_OBJECT

private:
    bs::Image rgb_ = makeImage(37, 29, 3, 1);
    bs::Image gray_ = makeImage(23, 31, 1, 2);
    bs::Image tiny_ = makeImage(6, 5, 3, 3);

    const bs::Image& inputFor(const QString& name) {
        return name == "gray.npy" ? gray_ : name == "tiny.npy" ? tiny_ : rgb_;
    }

    // Runs our side, then python, then compares every case.
    void runCases(std::vector<Case>& cases, const bs::RandomContext& ctx) {
        if (!bstest::torchvisionAvailable())
            BSTEST_SKIP("torchvision/PIL not available in /usr/bin/python3: parity not checked");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const auto save = [&](const QString& n, const bs::Image& im) {
            bs::writeNpy(dir.filePath(n).toStdString(), {im.height, im.width, im.channels},
                         std::vector<float>(im.pixels.begin(), im.pixels.end()), true);
        };
        save("rgb.npy", rgb_);
        save("gray.npy", gray_);
        save("tiny.npy", tiny_);
        json list = json::array();
        for (auto& c : cases) {
            const bs::Pipeline p = bs::Pipeline::fromJson(c.pipeline);
            auto r = p.run(bs::StageValue::fromImage(inputFor(c.input)), ctx);
            c.ours = r.output;
            QString py = c.py;
            for (const auto& d : r.drawn)
                for (auto it = d.begin(); it != d.end(); ++it)
                    py.replace(
                        "{" + QString::fromStdString(it.key()) + "}",
                        QString::fromStdString(it.value().is_boolean()
                                                   ? (it.value().get<bool>() ? "True" : "False")
                                                   : it.value().dump()));
            list.push_back({{"name", c.name.toStdString()},
                            {"py", py.toStdString()},
                            {"input", c.input.toStdString()}});
        }
        bstest::writeFile(dir.filePath("cases.json"), QByteArray::fromStdString(list.dump()));
        bstest::writeFile(dir.filePath("run.py"), kRunner);
        auto pr = bstest::runPython({dir.filePath("run.py"), dir.path()});
        QVERIFY2(pr.exitCode == 0, qPrintable(pr.err));
        for (auto& c : cases) {
            const bs::Tensor ref = bstest::readNpyAsFloat(dir.filePath(c.name + ".out.npy"));
            const auto ours = flatten(c.ours);
            QVERIFY2(ref.shape == shapeOf(c.ours),
                     qPrintable(c.name + ": shape " +
                                QString::fromStdString(bs::shapeToString(shapeOf(c.ours))) +
                                " vs torchvision " +
                                QString::fromStdString(bs::shapeToString(ref.shape))));
            const double tol = c.tol == Tol::Normalized ? 1e-5 : 0.0;
            auto d = bstest::compare(ours.data(), ref.values.data(), ours.size(), tol);
            qInfo("%s: max |diff| %.3g, %.4f%% over %.0g", qPrintable(c.name), d.maxAbs,
                  d.fractionOver * 100, tol);
            if (c.tol == Tol::Geometric) {
                QVERIFY2(d.maxAbs <= 1.0, qPrintable(c.name));
                QVERIFY2(d.fractionOver <= 0.001, qPrintable(c.name));
            } else {
                QVERIFY2(d.maxAbs <= tol, qPrintable(c.name));
            }
        }
    }

private Q_SLOTS:
    void deterministicOpsMatchTorchvision() {
        std::vector<Case> cases = {
            {"resize_int", json::parse(R"([{"op":"Resize","size":17}])"), "T.Resize(17)",
             Tol::Geometric},
            {"resize_hw_nearest",
             json::parse(R"([{"op":"Resize","size":[20,15],"interpolation":"nearest"}])"),
             "T.Resize((20, 15), interpolation=IM.NEAREST)", Tol::Geometric},
            {"resize_bicubic_up",
             json::parse(
                 R"([{"op":"Resize","size":41,"interpolation":"InterpolationMode.BICUBIC"}])"),
             "T.Resize(41, interpolation=IM.BICUBIC)", Tol::Geometric},
            {"resize_max_size", json::parse(R"([{"op":"Resize","size":10,"max_size":12}])"),
             "T.Resize(10, max_size=12)", Tol::Geometric},
            {"resize_gray", json::parse(R"([{"op":"Resize","size":13}])"), "T.Resize(13)",
             Tol::Geometric, "gray.npy"},
            {"centercrop", json::parse(R"([{"op":"CenterCrop","size":16}])"), "T.CenterCrop(16)",
             Tol::Exact},
            {"centercrop_odd", json::parse(R"([{"op":"CenterCrop","size":[8,7]}])"),
             "T.CenterCrop((8, 7))", Tol::Exact},
            {"centercrop_pad", json::parse(R"([{"op":"CenterCrop","size":[34,44]}])"),
             "T.CenterCrop((34, 44))", Tol::Exact},
            {"resize_centercrop",
             json::parse(R"([{"op":"Resize","size":20},{"op":"CenterCrop","size":16}])"),
             "T.Compose([T.Resize(20), T.CenterCrop(16)])", Tol::Geometric},
            {"pad_const", json::parse(R"([{"op":"Pad","padding":3,"fill":7}])"), "T.Pad(3, fill=7)",
             Tol::Exact},
            {"pad_fill_rgb", json::parse(R"([{"op":"Pad","padding":[1,2],"fill":[10,20,30]}])"),
             "T.Pad((1, 2), fill=(10, 20, 30))", Tol::Exact},
            {"pad_edge", json::parse(R"([{"op":"Pad","padding":[1,2,3,4],"padding_mode":"edge"}])"),
             "T.Pad((1, 2, 3, 4), padding_mode='edge')", Tol::Exact},
            {"pad_reflect",
             json::parse(R"([{"op":"Pad","padding":[4,2],"padding_mode":"reflect"}])"),
             "T.Pad((4, 2), padding_mode='reflect')", Tol::Exact},
            {"pad_reflect_wide",
             json::parse(R"([{"op":"Pad","padding":13,"padding_mode":"reflect"}])"),
             "T.Pad(13, padding_mode='reflect')", Tol::Exact, "tiny.npy"},
            {"pad_symmetric_wide",
             json::parse(R"([{"op":"Pad","padding":[9,12,2,0],"padding_mode":"symmetric"}])"),
             "T.Pad((9, 12, 2, 0), padding_mode='symmetric')", Tol::Exact, "tiny.npy"},
            {"pad_negative_edge",
             json::parse(R"([{"op":"Pad","padding":[-2,1,3,-1],"padding_mode":"edge"}])"),
             "T.Pad((-2, 1, 3, -1), padding_mode='edge')", Tol::Exact},
            {"grayscale1", json::parse(R"([{"op":"Grayscale"}])"), "T.Grayscale()", Tol::Exact},
            {"grayscale3", json::parse(R"([{"op":"Grayscale","num_output_channels":3}])"),
             "T.Grayscale(3)", Tol::Exact},
            {"totensor", json::parse(R"([{"op":"ToTensor"}])"), "T.ToTensor()", Tol::Exact},
            {"totensor_gray", json::parse(R"([{"op":"ToTensor"}])"), "T.ToTensor()", Tol::Exact,
             "gray.npy"},
            {"piltotensor", json::parse(R"([{"op":"PILToTensor"}])"), "T.PILToTensor()",
             Tol::Exact},
            {"convert_dtype",
             json::parse(
                 R"([{"op":"PILToTensor"},{"op":"ConvertImageDtype","dtype":"torch.float32"}])"),
             "T.Compose([T.PILToTensor(), T.ConvertImageDtype(torch.float32)])", Tol::Exact},
            {"normalize",
             json::parse(
                 R"([{"op":"ToTensor"},{"op":"Normalize","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}])"),
             "T.Compose([T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])",
             Tol::Normalized},
            {"normalize_scalar",
             json::parse(R"([{"op":"ToTensor"},{"op":"Normalize","mean":0.5,"std":[0.25]}])"),
             "T.Compose([T.ToTensor(), T.Normalize(0.5, [0.25])])", Tol::Normalized},
            {"tensor_grayscale",
             json::parse(R"([{"op":"ToTensor"},{"op":"Grayscale","num_output_channels":3}])"),
             "T.Compose([T.ToTensor(), T.Grayscale(3)])", Tol::Exact},
            {"tensor_grayscale_uint8", json::parse(R"([{"op":"PILToTensor"},{"op":"Grayscale"}])"),
             "T.Compose([T.PILToTensor(), T.Grayscale()])", Tol::Exact},
            {"tensor_resize", json::parse(R"([{"op":"ToTensor"},{"op":"Resize","size":[11,19]}])"),
             "T.Compose([T.ToTensor(), T.Resize((11, 19))])", Tol::Normalized},
            {"tensor_resize_aa",
             json::parse(R"([{"op":"ToTensor"},{"op":"Resize","size":12,"antialias":true}])"),
             "T.Compose([T.ToTensor(), T.Resize(12, antialias=True)])", Tol::Normalized},
            {"tensor_resize_uint8_bicubic",
             json::parse(
                 R"([{"op":"PILToTensor"},{"op":"Resize","size":45,"interpolation":"bicubic"}])"),
             "T.Compose([T.PILToTensor(), T.Resize(45, interpolation=IM.BICUBIC)])", Tol::Exact},
            {"tensor_resize_nearest",
             json::parse(
                 R"([{"op":"ToTensor"},{"op":"Resize","size":[50,9],"interpolation":"nearest"}])"),
             "T.Compose([T.ToTensor(), T.Resize((50, 9), interpolation=IM.NEAREST)])", Tol::Exact},
            {"tensor_crop_pad",
             json::parse(
                 R"([{"op":"ToTensor"},{"op":"CenterCrop","size":[31,20]},{"op":"Pad","padding":[3,1],"padding_mode":"reflect"},{"op":"Pad","padding":2,"padding_mode":"symmetric"},{"op":"Pad","padding":1,"fill":0.5}])"),
             "T.Compose([T.ToTensor(), T.CenterCrop((31, 20)), T.Pad((3, 1), "
             "padding_mode='reflect'), T.Pad(2, padding_mode='symmetric'), T.Pad(1, fill=0.5)])",
             Tol::Exact},
        };
        runCases(cases, {});
    }

    // The comparison every case above relies on: a NaN difference must fail
    // a maxAbs check even when later elements are equal.
    void compareHelperKeepsNaN() {
        const float ours[] = {5.f, std::nanf(""), 0.f}, ref[] = {0.f, 0.f, 0.f};
        const bstest::Diff d = bstest::compare(ours, ref, 3, 0.0);
        QVERIFY2(!(d.maxAbs <= 10.0), qPrintable(QString::number(d.maxAbs)));
        QCOMPARE(d.fractionOver, 2.0 / 3.0);
    }

    // The drawn boxes follow `scale` and `ratio`: replaying recorded boxes in
    // torchvision cannot see a draw that ignores them, their distribution can.
    // torchvision draws the area fraction uniformly in scale and log(w/h)
    // uniformly in log(ratio), then rounds w and h (hence the 3% slack).
    void randomResizedCropDrawsFollowScaleAndRatio() {
        const bs::Pipeline p = bs::Pipeline::fromJson(json::parse(
            R"([{"op":"RandomResizedCrop","size":8,"scale":[0.3,0.5],"ratio":[0.5,2.0]}])"));
        const bs::StageValue in = bs::StageValue::fromImage(makeImage(200, 150, 3, 5));
        const int draws = 2000;
        double areaSum = 0, minLogRatio = 1e9, maxLogRatio = -1e9;
        int belowMidArea = 0, wide = 0;
        for (int i = 0; i < draws; ++i) {
            const json d = p.run(in, {7, 0, i}).drawn.at(0);
            const int top = d["top"], left = d["left"], h = d["height"], w = d["width"];
            QVERIFY(top >= 0 && left >= 0 && top + h <= 150 && left + w <= 200);
            const double area = double(w) * h / (200.0 * 150.0), logRatio = std::log(double(w) / h);
            QVERIFY2(area >= 0.3 * 0.97 && area <= 0.5 * 1.03,
                     qPrintable(QString("draw %1: area fraction %2 outside scale [0.3, 0.5]").arg(i).arg(area)));
            QVERIFY2(logRatio >= std::log(0.5 * 0.97) && logRatio <= std::log(2.0 * 1.03),
                     qPrintable(QString("draw %1: w/h %2 outside ratio [0.5, 2]").arg(i).arg(double(w) / h)));
            areaSum += area;
            belowMidArea += area < 0.4;
            wide += w > h;
            minLogRatio = std::min(minLogRatio, logRatio);
            maxLogRatio = std::max(maxLogRatio, logRatio);
        }
        qInfo("RandomResizedCrop: mean area %.3f, %d/%d below 0.4, w/h from %.2f to %.2f, %d wide",
              areaSum / draws, belowMidArea, draws, std::exp(minLogRatio), std::exp(maxLogRatio), wide);
        // The whole ranges are used, evenly (binomial bounds over 6 sigma).
        QVERIFY(std::fabs(areaSum / draws - 0.4) < 0.02);
        QVERIFY(belowMidArea > draws * 0.4 && belowMidArea < draws * 0.6);
        QVERIFY(std::exp(minLogRatio) < 0.55 && std::exp(maxLogRatio) > 1.8);
        QVERIFY(wide > draws * 0.35 && wide < draws * 0.65);
    }

    // RandomCrop's offsets are uniform over every position the padded input
    // allows: each one is drawn, none outside.
    void randomCropDrawsEveryOffset() {
        const bs::Pipeline p = bs::Pipeline::fromJson(
            json::parse(R"([{"op":"RandomCrop","size":[20,25],"padding":[4,2]}])"));
        const bs::StageValue in = bs::StageValue::fromImage(rgb_);  // 37x29, padded 45x33
        std::set<int> tops, lefts;
        for (int i = 0; i < 1000; ++i) {
            const json d = p.run(in, {3, 1, i}).drawn.at(0);
            QCOMPARE(d["height"].get<int>(), 20);
            QCOMPARE(d["width"].get<int>(), 25);
            tops.insert(d["top"].get<int>());
            lefts.insert(d["left"].get<int>());
        }
        QCOMPARE(tops.size(), size_t(33 - 20 + 1));
        QCOMPARE(lefts.size(), size_t(45 - 25 + 1));
        QCOMPARE(*tops.begin(), 0);
        QCOMPARE(*tops.rbegin(), 33 - 20);
        QCOMPARE(*lefts.rbegin(), 45 - 25);
    }

    // Random stages replayed in python with the parameters we recorded.
    void randomOpsReplayWithTorchvision() {
        for (int index : {0, 1, 2, 3, 4, 5}) {
            std::vector<Case> cases = {
                {"rrc", json::parse(R"([{"op":"RandomResizedCrop","size":16}])"),
                 "lambda im: F.resized_crop(im, {top}, {left}, {height}, {width}, [16, 16])",
                 Tol::Geometric},
                {"rrc_bicubic",
                 json::parse(
                     R"([{"op":"RandomResizedCrop","size":[12,20],"scale":[0.3,0.9],"ratio":[0.5,2.0],"interpolation":"bicubic"}])"),
                 "lambda im: F.resized_crop(im, {top}, {left}, {height}, {width}, [12, 20], "
                 "interpolation=IM.BICUBIC)",
                 Tol::Geometric},
                {"rrc_tensor",
                 json::parse(R"([{"op":"ToTensor"},{"op":"RandomResizedCrop","size":10}])"),
                 "lambda im: F.resized_crop(F.to_tensor(im), {top}, {left}, {height}, {width}, "
                 "[10, 10])",
                 Tol::Normalized},
                {"randomcrop",
                 json::parse(
                     R"([{"op":"RandomCrop","size":[20,25],"padding":[4,2],"padding_mode":"reflect"}])"),
                 "lambda im: F.crop(F.pad(im, [4, 2], padding_mode='reflect'), {top}, {left}, "
                 "{height}, {width})",
                 Tol::Exact},
                {"randomcrop_pad_if_needed",
                 json::parse(
                     R"([{"op":"RandomCrop","size":[40,30],"pad_if_needed":true,"fill":9}])"),
                 "lambda im: F.crop(F.pad(im, [0, 11], fill=9), {top}, {left}, {height}, {width})",
                 Tol::Exact},
                {"hflip", json::parse(R"([{"op":"RandomHorizontalFlip"}])"),
                 "lambda im: F.hflip(im) if {flipped} else im", Tol::Exact},
                {"vflip_tensor",
                 json::parse(R"([{"op":"ToTensor"},{"op":"RandomVerticalFlip","p":0.5}])"),
                 "lambda im: F.vflip(F.to_tensor(im)) if {flipped} else F.to_tensor(im)",
                 Tol::Exact},
            };
            runCases(cases, {7, 1, index});
            if (QTest::currentTestFailed()) return;
        }
    }

    void randomDrawsAreReproducibleAndRecorded() {
        const auto p = bs::Pipeline::fromJson(json::parse(
            R"([{"op":"RandomResizedCrop","size":8},{"op":"RandomHorizontalFlip"},{"op":"ToTensor"}])"));
        QVERIFY(p.isRandom());
        const auto in = bs::StageValue::fromImage(rgb_);
        std::set<std::string> distinct;
        int flips = 0;
        for (int64_t index = 0; index < 40; ++index) {
            const bs::RandomContext ctx{42, 3, index};
            auto a = p.run(in, ctx), b = p.run(in, ctx);
            QCOMPARE(a.drawn.size(), size_t(3));
            QCOMPARE(json(a.drawn).dump(), json(b.drawn).dump());
            QVERIFY(a.output.tensor.values == b.output.tensor.values);
            for (const char* k : {"top", "left", "height", "width"})
                QVERIFY2(a.drawn[0].contains(k), k);
            const int top = a.drawn[0]["top"], h = a.drawn[0]["height"];
            QVERIFY(top >= 0 && h > 0 && top + h <= rgb_.height);
            QVERIFY(a.drawn[1].contains("flipped"));
            flips += a.drawn[1]["flipped"].get<bool>();
            distinct.insert(a.drawn[0].dump());
        }
        // 40 samples: the draws must vary with the index (not a constant
        // stream) and the flip must happen sometimes, not always.
        QVERIFY2(distinct.size() > 20, qPrintable(QString::number(distinct.size())));
        QVERIFY(flips > 5 && flips < 35);
        // Another epoch or seed draws differently.
        const auto e0 = p.run(in, {42, 3, 0}).drawn[0].dump();
        QVERIFY(p.run(in, {42, 4, 0}).drawn[0].dump() != e0 ||
                p.run(in, {43, 3, 0}).drawn[0].dump() != e0);
    }

    void fusedResizeCenterCropEqualsStagewise() {
        const auto p = bs::Pipeline::fromJson(json::parse(
            R"([{"op":"Resize","size":23,"interpolation":"bicubic"},{"op":"CenterCrop","size":[19,21]},{"op":"ToTensor"}])"));
        const auto in = bs::StageValue::fromImage(makeImage(57, 44, 3, 9));
        auto fused = p.run(in, {}, false);
        auto staged = p.run(in, {}, true);
        QCOMPARE(staged.stages.size(), size_t(4));
        QCOMPARE(fused.output.tensor.shape, (std::vector<int64_t>{3, 19, 21}));
        QVERIFY(fused.output.tensor.values == staged.output.tensor.values);
        QCOMPARE(fused.drawn.size(), size_t(3));
    }

    void disabledStageIsSkipped() {
        auto p = bs::Pipeline::fromJson(
            json::parse(R"([{"op":"CenterCrop","size":5,"enabled":false},{"op":"ToTensor"}])"));
        QVERIFY(!p.isEnabled(0));
        auto r = p.run(bs::StageValue::fromImage(rgb_), {}, true);
        QCOMPARE(r.output.tensor.shape, (std::vector<int64_t>{3, 29, 37}));
        QCOMPARE(r.stages.size(), size_t(3));
        QCOMPARE(p.toJson()[0]["enabled"].get<bool>(), false);
        p.setEnabled(0, true);
        QCOMPARE(p.run(bs::StageValue::fromImage(rgb_), {}).output.tensor.shape,
                 (std::vector<int64_t>{3, 5, 5}));
    }

    void stopAfterRunsAPrefix() {
        const auto p = bs::Pipeline::fromJson(json::parse(
            R"([{"op":"CenterCrop","size":9},{"op":"ToTensor"},{"op":"Normalize","mean":0.5,"std":0.5}])"));
        auto r = p.run(bs::StageValue::fromImage(rgb_), {}, false, 1);
        QVERIFY(r.output.isImage());
        QCOMPARE(r.output.image.width, 9);
        QCOMPARE(r.drawn.size(), size_t(1));
    }

    void stageErrorsNameTheStage() {
        const auto in = bs::StageValue::fromImage(rgb_);
        const auto expectError = [&](const char* pipe, int stage, const char* needle) {
            try {
                bs::Pipeline::fromJson(json::parse(pipe)).run(in, {});
                QFAIL(qPrintable(QString("no error for ") + pipe));
            } catch (const bs::PipelineError& e) {
                QCOMPARE(e.stage(), stage);
                QVERIFY2(QString(e.what()).contains(needle), e.what());
                QVERIFY2(!QString(e.what()).contains('\n'), e.what());
            }
        };
        expectError(
            R"([{"op":"ToTensor"},{"op":"CenterCrop","size":4},{"op":"Normalize","mean":[0.5,0.5],"std":[1,1]}])",
            2, "stage 3 (Normalize): mean has 2 values but the tensor has 3 channel(s)");
        expectError(R"([{"op":"Normalize","mean":0.5,"std":0.5}])", 0, "needs a tensor");
        expectError(R"([{"op":"Lambda","expr":"x * 2"}])", 0,
                    "put ToTensor or PILToTensor before it");
        expectError(R"([{"op":"ToTensor"},{"op":"ToTensor"}])", 1, "stage 2 (ToTensor)");
        expectError(R"([{"op":"PILToTensor"},{"op":"Normalize","mean":0.5,"std":0.5}])", 1,
                    "float tensor");
        expectError(R"([{"op":"RandomCrop","size":100}])", 0, "larger than the input");
        expectError(R"([{"op":"Pad","padding":1,"fill":[1,2]}])", 0, "fill");
        // std == 0 is refused when the pipeline is read.
        try {
            bs::Pipeline::fromJson(
                json::parse(R"([{"op":"ToTensor"},{"op":"Normalize","mean":[0.5],"std":[0.0]}])"));
            QFAIL("std 0 accepted");
        } catch (const bs::PipelineError& e) {
            QCOMPARE(e.stage(), 1);
            QVERIFY2(QString(e.what()).contains("division by zero"), e.what());
        }
    }

    void expectedRangesFollowTheStages() {
        const auto p = bs::Pipeline::fromJson(json::parse(
            R"([{"op":"Resize","size":8},{"op":"ToTensor"},{"op":"Normalize","mean":[0.5,0.4,0.3],"std":[0.5,0.2,0.1]},{"op":"Lambda","expr":"x"}])"));
        bs::ValueRange r = bs::ValueRange::of(0, 255);
        r = p.stage(0).expectedRange(r, 1);
        QCOMPARE(r.hi, 255.0);
        r = p.stage(1).expectedRange(r, 1);
        QCOMPARE(r.hi, 1.0);
        r = p.stage(2).expectedRange(r, 1);
        QVERIFY(std::fabs(r.lo - (0 - 0.4f) / 0.2f) < 1e-6 &&
                std::fabs(r.hi - (1 - 0.4f) / 0.2f) < 1e-6);
        QVERIFY(!p.stage(3).expectedRange(r, 1).known);
        const auto q = bs::Pipeline::fromJson(
            json::parse(R"([{"op":"PILToTensor"},{"op":"ConvertImageDtype"}])"));
        r = q.stage(0).expectedRange(bs::ValueRange::of(0, 255), 0);
        QCOMPARE(r.hi, 255.0);
        QCOMPARE(q.stage(1).expectedRange(r, 0).hi, 1.0);
    }

    // mapToInput must land on the input pixel the output pixel came from:
    // checked on crops, pads and flips by comparing pixel values.
    void mapToInputFindsTheSourcePixel() {
        const char* pipes[] = {
            R"([{"op":"CenterCrop","size":[12,15]}])",
            R"([{"op":"CenterCrop","size":[40,50]}])",
            R"([{"op":"Pad","padding":[3,4,5,6],"padding_mode":"reflect"}])",
            R"([{"op":"Pad","padding":[-3,2],"padding_mode":"symmetric"}])",
            R"([{"op":"RandomCrop","size":20,"padding":5,"padding_mode":"edge"}])",
            R"([{"op":"RandomHorizontalFlip","p":1.0}])",
            R"([{"op":"RandomVerticalFlip","p":1.0}])",
        };
        for (const char* pj : pipes) {
            const auto p = bs::Pipeline::fromJson(json::parse(pj));
            auto r = p.run(bs::StageValue::fromImage(rgb_), {1, 0, 3});
            const bs::Image& out = r.output.image;
            int inside = 0;
            for (int y = 0; y < out.height; ++y)
                for (int x = 0; x < out.width; ++x) {
                    double mx = x, my = y;
                    if (!p.stage(0).mapToInput(mx, my, rgb_.width, rgb_.height, out.width,
                                               out.height, r.drawn[0]))
                        continue;
                    ++inside;
                    const int ix = int(std::lround(mx)), iy = int(std::lround(my));
                    QVERIFY2(ix >= 0 && iy >= 0 && ix < rgb_.width && iy < rgb_.height, pj);
                    for (int c = 0; c < 3; ++c) QVERIFY2(out.at(y, x, c) == rgb_.at(iy, ix, c), pj);
                }
            QVERIFY2(inside > 0, pj);
        }
        // Resize maps pixel centres by the scale factor.
        const auto p = bs::Pipeline::fromJson(json::parse(R"([{"op":"Resize","size":[10,20]}])"));
        double x = 0, y = 9;
        QVERIFY(p.stage(0).mapToInput(x, y, 40, 5, 20, 10, json::object()));
        QCOMPARE(x, 0.5);
        QCOMPARE(y, 4.25);
    }
};

QTEST_GUILESS_MAIN(TestTransforms)
#include "test_transforms.moc"
