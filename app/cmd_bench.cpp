// `batchscope bench`: throughput of the real Loader on a dataset, with the
// share of time each stage takes, so a slow pipeline says where it is slow.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli.h"
#include "core/dataset/dataset.h"
#include "core/loader/loader.h"
#include "core/pipeline/pipeline.h"
#include "core/common/timing.h"

namespace bs::cli {

namespace {

const char* kBenchHelp = R"(Usage: batchscope bench PATH --pipeline FILE [options]

Runs the loader over the dataset (in order, like DataLoader(shuffle=False))
and prints the share of time spent decoding, in each transform and in
collating, the peak memory, and as the last line images_per_s=<number>.
Stage times are summed over worker threads; the rate is images produced
per second of wall time, from the loader's start to its last batch.

Options:
  --pipeline FILE    pipeline as JSON or torchvision's printed Compose text
                     (default: ToTensor)
  --batch-size N     samples per batch (default 64)
  --workers N        worker threads, 0 = inline (default 2)
  --epochs E         passes over the dataset (default 1)
  --limit N          use only the first N samples
)";

// The first `n` samples of another dataset.
class LimitedDataset : public Dataset {
public:
    LimitedDataset(std::shared_ptr<const Dataset> base, size_t n)
        : base_(std::move(base)), n_(std::min(n, base_->size())) {}
    DatasetFormat format() const override { return base_->format(); }
    std::string root() const override { return base_->root(); }
    size_t size() const override { return n_; }
    std::vector<std::string> classes() const override { return base_->classes(); }
    std::string path(size_t i) const override { return base_->path(i); }
    int64_t label(size_t i) const override { return base_->label(i); }
    bool hasRaw() const override { return base_->hasRaw(); }
    Image loadRaw(size_t i, DecodeInfo* info) const override { return base_->loadRaw(i, info); }
    Tensor loadTensor(size_t i) const override { return base_->loadTensor(i); }

private:
    std::shared_ptr<const Dataset> base_;
    size_t n_;
};

double peakRssMiB() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

int runBench(const std::vector<std::string>& argv) {
    Args args(argv, {"help"});
    if (const auto done = startDatasetCommand(
            args, "bench", kBenchHelp, {"pipeline", "batch-size", "workers", "epochs", "limit"}))
        return *done;
    try {
        const long long batchSize = args.getInt("batch-size", 64);
        const long long workers = args.getInt("workers", 2);
        const long long epochs = args.getInt("epochs", 1);
        const long long limit = args.getInt("limit", -1);
        if (batchSize < 1) return fail("bench", "--batch-size must be at least 1");
        if (workers < 0 || workers > 256) return fail("bench", "--workers must be 0..256");
        if (epochs < 1) return fail("bench", "--epochs must be at least 1");

        std::shared_ptr<const Dataset> dataset =
            openDataset(args.positional()[0], openOptionsFrom(args));
        if (limit >= 0) dataset = std::make_shared<LimitedDataset>(dataset, size_t(limit));
        if (dataset->size() == 0) return fail("bench", "the dataset has no samples");
        Pipeline pipeline = loadPipelineOrDefault(args.get("pipeline"), *dataset);
        auto timer = std::make_shared<StageTimer>(pipeline.size());
        pipeline.setTimer(timer);

        std::printf("dataset: %s (%s, %zu samples)\n", dataset->root().c_str(),
                    formatName(dataset->format()).c_str(), dataset->size());
        std::printf("pipeline: %zu stage(s), batch size %lld, workers %lld, epochs %lld\n",
                    pipeline.size(), batchSize, workers, epochs);

        size_t images = 0, errors = 0, batches = 0;
        const auto start = std::chrono::steady_clock::now();
        for (long long e = 0; e < epochs; ++e) {
            LoaderOptions opt;
            opt.batchSize = int(batchSize);
            opt.workers = int(workers);
            opt.epoch = e;
            Loader loader(dataset, pipeline, opt);
            Batch b;
            while (loader.next(b)) {
                ++batches;
                images += b.stacked.size();
                errors += b.samples.size() - b.stacked.size();
            }
        }
        const double wall =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

        const std::vector<double> secs = timer->seconds();
        double total = 0;
        for (double s : secs) total += s;
        std::printf("%-34s %10s %8s\n", "stage", "seconds", "share");
        auto row = [&](const std::string& name, double s) {
            std::printf("%-34s %10.3f %7.1f%%\n", name.c_str(), s, total > 0 ? 100 * s / total : 0);
        };
        row("decode", secs[0]);
        for (size_t i = 0; i < pipeline.size(); ++i) {
            // Numbered from 1, like the audit's stages and dump --stage K.
            std::string name = std::to_string(i + 1) + ":" + pipeline.stage(i).op();
            // A stage fused with the previous one gets no time of its own.
            const bool fusedNext = i + 1 < pipeline.size() && secs[i + 2] == 0 && secs[i + 1] > 0;
            const bool fusedPrev = i > 0 && secs[i + 1] == 0 && secs[i] > 0;
            if (fusedNext) name += "+" + pipeline.stage(i + 1).op() + " (fused)";
            if (fusedPrev) name += " (in previous)";
            if (!pipeline.isEnabled(i)) name += " (disabled)";
            row(name, secs[i + 1]);
        }
        row("collate", secs.back());
        std::printf("batches=%zu images=%zu errors=%zu wall_s=%.3f\n", batches, images, errors, wall);
        std::printf("peak_rss_mib=%.1f\n", peakRssMiB());
        std::printf("images_per_s=%.1f\n", wall > 0 ? double(images) / wall : 0.0);
        return errors && !images ? 1 : 0;
    } catch (const std::exception& e) {
        return fail("bench", e.what());
    }
}

}  // namespace bs::cli
