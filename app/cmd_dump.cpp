// `batchscope dump`: pipeline outputs of chosen samples as one .npy, for
// comparing with Python side by side.
#include <cstdio>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "core/dataset/dataset.h"
#include "core/loader/loader.h"
#include "core/dataset/npy.h"
#include "core/pipeline/pipeline.h"

namespace bs::cli {

namespace {

const char* kDumpHelp = R"(Usage: batchscope dump PATH --indices 0,5,9 --out OUT.npy [options]

Writes the samples at the given dataset indices, in that order, through the
pipeline, stacked into one NumPy file, and prints one JSON object per sample
(index, path, label, shape, random parameters drawn, source mode) on stdout.

Options:
  --pipeline FILE  pipeline as JSON or as torchvision's printed Compose text
                   (default: ToTensor for image datasets, none for tensor dumps)
  --indices LIST   comma-separated dataset indices (ranges like 10-15 allowed)
  --out FILE       output .npy
  --stage K        stop after the first K transforms; 0 = decoded images.
                   Image-valued stages are written as uint8 (N,H,W,C),
                   tensor-valued stages as float32 (N,C,H,W).
  --seed S         random seed (default 0)
  --epoch E        epoch for random transforms (default 0)
)";

std::vector<size_t> parseIndices(const std::string& text) {
    std::vector<size_t> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        try {
            const auto dash = item.find('-', 1);
            size_t used = 0;
            if (dash != std::string::npos) {
                const long long a = std::stoll(item.substr(0, dash), &used);
                const long long b = std::stoll(item.substr(dash + 1));
                if (a < 0 || b < a) throw std::invalid_argument(item);
                for (long long i = a; i <= b; ++i) out.push_back(size_t(i));
            } else {
                const long long a = std::stoll(item, &used);
                if (a < 0 || used != item.size()) throw std::invalid_argument(item);
                out.push_back(size_t(a));
            }
        } catch (const std::exception&) {
            throw Error("--indices: '" + item + "' is not an index or a range like 3-7");
        }
    }
    if (out.empty()) throw Error("--indices is empty");
    return out;
}

}  // namespace

Pipeline loadPipelineOrDefault(const std::string& file, const Dataset& dataset) {
    if (!file.empty()) return Pipeline::loadFile(file);
    if (!dataset.hasRaw()) return Pipeline();
    return Pipeline::fromJson(nlohmann::json::parse(R"([{"op":"ToTensor"}])"));
}

int runDump(const std::vector<std::string>& argv) {
    Args args(argv, {"help"});
    if (const auto done = startDatasetCommand(
            args, "dump", kDumpHelp, {"pipeline", "indices", "out", "stage", "seed", "epoch"}))
        return *done;
    if (!args.has("indices")) return fail("dump", "--indices is required");
    if (!args.has("out")) return fail("dump", "--out is required");

    try {
        const std::vector<size_t> indices = parseIndices(args.get("indices"));
        const std::shared_ptr<Dataset> dataset =
            openDataset(args.positional()[0], openOptionsFrom(args));
        const Pipeline pipeline = loadPipelineOrDefault(args.get("pipeline"), *dataset);
        const long long stage = args.getInt("stage", -1);
        if (stage < -1 || stage > (long long)pipeline.size())
            throw Error("--stage must be between 0 and " + std::to_string(pipeline.size()) +
                        " (the pipeline has " + std::to_string(pipeline.size()) + " stages)");
        const size_t stopAfter = stage < 0 ? pipeline.size() : size_t(stage);
        RandomContext ctx;
        ctx.seed = uint64_t(args.getInt("seed", 0));
        ctx.epoch = args.getInt("epoch", 0);

        // Each sample is produced alone, exactly as the loader produces it.
        std::vector<Tensor> rows;
        std::vector<bool> rowIsImage;
        std::vector<nlohmann::json> lines;
        for (size_t idx : indices) {
            if (idx >= dataset->size())
                throw Error("index " + std::to_string(idx) + " is out of range (the dataset has " +
                            std::to_string(dataset->size()) + " samples)");
            SampleResult r = processSample(*dataset, pipeline, idx, ctx, true, stopAfter);
            if (!r.record.error.empty())
                throw Error("sample " + std::to_string(idx) + " (" + r.record.path +
                            "): " + r.record.error);
            const StageValue& last = r.stages.back();
            rowIsImage.push_back(last.isImage());
            rows.push_back(last.isImage() ? asTensor(last) : last.tensor);
            nlohmann::json line = {{"index", idx},
                                   {"path", r.record.path},
                                   {"label", r.record.label},
                                   {"shape", rows.back().shape},
                                   {"drawn", r.record.drawn}};
            if (dataset->hasRaw()) {
                line["source_mode"] = r.record.decode.sourceMode;
                line["exif_orientation"] = r.record.decode.exifOrientation;
            }
            lines.push_back(std::move(line));
        }

        std::vector<const Tensor*> ptrs;
        for (const auto& t : rows) ptrs.push_back(&t);
        CollateError collate;
        auto stacked = stackTensors(ptrs, indices, &collate);
        if (!stacked) throw Error("cannot stack the samples: " + collate.message);

        if (rowIsImage.front()) {
            // Images go out as PIL/numpy would hold them: uint8 (N,H,W,C).
            Tensor& t = *stacked;
            const int64_t n = t.shape[0], c = t.shape[1], h = t.shape[2], w = t.shape[3];
            std::vector<float> nhwc(t.values.size());
            for (int64_t i = 0; i < n; ++i)
                for (int64_t ch = 0; ch < c; ++ch)
                    for (int64_t p = 0; p < h * w; ++p)
                        nhwc[(i * h * w + p) * c + ch] = t.values[(i * c + ch) * h * w + p];
            writeNpy(args.get("out"), {n, h, w, c}, nhwc, true);
        } else {
            writeNpy(args.get("out"), stacked->shape, stacked->values, false);
        }
        for (const auto& line : lines) std::printf("%s\n", line.dump().c_str());
        return 0;
    } catch (const std::exception& e) {
        return fail("dump", e.what(), 1);
    }
}

}  // namespace bs::cli
