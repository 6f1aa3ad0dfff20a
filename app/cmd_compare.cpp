// `batchscope compare`: batches dumped from the user's own PyTorch loader
// (python/batchscope_dump.py) against batchscope's reproduction.
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "core/audit/anomaly.h"
#include "core/compare/compare.h"

namespace bs::cli {

namespace {

const char* kCompareHelp = R"(Usage: batchscope compare DUMP [options]

DUMP is a folder written by python/batchscope_dump.py (manifest.json and one
.pt per batch). compare judges what the user's loader yields:
  - every dumped tensor goes through the anomaly engine (nan_or_inf,
    extreme_values, collapsed_range, unscaled_input, double_normalization,
    normalization_mismatch, constant_image), named at the stage of the
    reproduced pipeline, or at "output" when the pipeline is user code;
  - where batchscope can reproduce the pipeline (the manifest's dataset root
    and printed transform), every sample is compared tensor by tensor:
    index_mismatch, label_mismatch, channel_swap, pipeline_divergence;
    otherwise one unreproducible_pipeline finding says what could not be read;
  - samples the dump took out: getitem_error, invalid_sample (stage dataset),
    collate_error (stage collate), with index and path;
  - epochs and workers: duplicate_in_epoch, missing_in_epoch,
    nondeterministic_loader, repeated_augmentation, and the helper's worker
    RNG probe: worker_rng_shared, epoch_rng_repeated.
Findings are printed one per line and, with --report, written as JSON in the
audit's format. torchvision's MNIST, FashionMNIST, KMNIST, EMNIST, QMNIST and
CIFAR10/100 are opened from their root with the split the manifest records.

Options:
  --dataset ROOT   dataset root (default: the root recorded in the manifest)
  --pipeline FILE  pipeline as JSON or torchvision text (default: the
                   manifest's printed transform); use it to replace stages
                   batchscope cannot read (Lambda, custom classes)
  --report FILE    write the full report (findings + per-sample diffs) as JSON
  --tolerance T    absolute tolerance per value (default 0.001)
  --neighbourhood K  index_mismatch search radius before the full scan (default 8)
  --fail-on LEVEL  exit 1 when a finding is at least LEVEL: error (default),
                   warning, info, or never
  --quiet          print only the summary line

Exit status: 0 clean, 1 findings at --fail-on level, 2 usage or input error.
)";

}  // namespace

int runCompare(const std::vector<std::string>& argv) {
    Args args(argv, {"help", "quiet"});
    if (args.has("help")) {
        std::fputs(kCompareHelp, stdout);
        return 0;
    }
    for (const auto& u : args.unknown(
             {"dataset", "pipeline", "report", "tolerance", "fail-on", "neighbourhood", "quiet"}))
        return fail("compare", "unknown option " + u + " (see batchscope compare --help)");
    if (args.positional().size() != 1) return fail("compare", "expects exactly one DUMP folder");

    try {
        CompareOptions options;
        options.datasetRoot = args.get("dataset");
        options.pipelineFile = args.get("pipeline");
        options.tolerance = args.getDouble("tolerance", options.tolerance);
        if (!(options.tolerance >= 0)) throw Error("--tolerance must be >= 0");
        options.neighbourhood = int(args.getInt("neighbourhood", options.neighbourhood));
        const std::string failOn = args.get("fail-on", "error");
        const bool never = failOn == "never" || failOn == "none";
        const Severity threshold = never ? Severity::Error : parseSeverity(failOn);

        CompareSession session(args.positional()[0], options);
        const CompareReport report = session.run();

        if (args.has("report")) {
            std::ofstream out(args.get("report"));
            if (!out) throw Error(args.get("report") + ": cannot write the report");
            out << report.toJson().dump(1) << "\n";
            if (!out) throw Error(args.get("report") + ": write failed");
        }
        if (!args.has("quiet"))
            for (const auto& f : report.findings)
                std::printf("%s %s [%s] %s\n", severityName(f.severity).c_str(), f.kind.c_str(),
                            f.stage.c_str(), f.message.c_str());
        const auto& s = report.summary;
        std::printf(
            "compared %zu samples in %zu batches (%zu pixel-compared, %zu matching, "
            "max |diff| %g): %d error(s), %d warning(s), %d info\n",
            s["samples"].get<size_t>(), s["batches"].get<size_t>(),
            s["pixel_compared"].get<size_t>(), s["matching"].get<size_t>(),
            s["max_abs"].get<double>(), s["errors"].get<int>(), s["warnings"].get<int>(),
            s["info"].get<int>());
        return !never && report.hasAtLeast(threshold) ? 1 : 0;
    } catch (const std::exception& e) {
        return fail("compare", e.what());
    }
}

}  // namespace bs::cli
