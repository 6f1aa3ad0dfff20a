#include "core/audit/audit.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <future>
#include <memory>
#include <thread>

#include "core/loader/loader.h"

namespace bs {

using json = nlohmann::json;

json AuditRun::toJson() const {
    return {{"cancelled", cancelled}, {"scanned", scanned}, {"total", total}, {"seconds", seconds}};
}

namespace {

using Clock = std::chrono::steady_clock;

bool sameBits(const Tensor& a, const Tensor& b) {
    return a.shape == b.shape && a.dtype == b.dtype && a.values.size() == b.values.size() &&
           (a.values.empty() ||
            std::memcmp(a.values.data(), b.values.data(), a.values.size() * sizeof(float)) == 0);
}

bool sameStage(const StageValue& a, const StageValue& b) {
    if (a.kind != b.kind) return false;
    if (a.isImage())
        return a.image.width == b.image.width && a.image.height == b.image.height &&
               a.image.channels == b.image.channels && a.image.pixels == b.image.pixels;
    return sameBits(a.tensor, b.tensor);
}

// One batch's rows wherever they live: a Loader's stack, or the scan's
// per-sample outputs, compared in place so that the scan never stacks.
struct BatchRows {
    std::vector<size_t> indices;  // dataset index of each row
    std::vector<int64_t> labels;
    bool collateFailed = false;
    std::vector<int64_t> rowShape;
    DType dtype = DType::Float32;
    std::vector<const float*> rows;
    size_t per = 0;  // floats per row
};

// Which samples a batch stacked, their labels and whether collate failed;
// the rows are for the caller to point at.
BatchRows layoutOf(const Batch& batch) {
    BatchRows r;
    for (size_t p : batch.stacked) r.indices.push_back(batch.samples[p].index);
    r.labels = batch.labels;
    r.collateFailed = batch.collateError.has_value();
    return r;
}

BatchRows rowsOf(const Batch& batch) {
    BatchRows r = layoutOf(batch);
    if (r.collateFailed || batch.data.shape.empty()) return r;
    r.rowShape.assign(batch.data.shape.begin() + 1, batch.data.shape.end());
    r.dtype = batch.data.dtype;
    r.per = r.indices.empty() ? 0 : batch.data.values.size() / r.indices.size();
    for (size_t i = 0; i < r.indices.size(); ++i)
        r.rows.push_back(batch.data.values.data() + i * r.per);
    return r;
}

// The scan's batch: `results` holds the outputs of the batch's samples.
BatchRows rowsOf(const Batch& batch, const std::vector<SampleResult>& results) {
    BatchRows r = layoutOf(batch);
    if (r.collateFailed || batch.stacked.empty()) return r;
    const Tensor& first = results[batch.stacked.front()].output;
    r.rowShape = first.shape;
    r.dtype = first.dtype;
    r.per = first.values.size();
    for (size_t p : batch.stacked) r.rows.push_back(results[p].output.values.data());
    return r;
}

// First differing row of two batches (by bits), or -1 when equal.
struct BatchDiff {
    long row = -1;
    double maxAbs = 0;
    std::string what;
};

// Why two batches cannot be compared row by row, or "" when they can.
std::string layoutDifference(const BatchRows& a, const BatchRows& b) {
    if (a.indices != b.indices) return "different samples were stacked";
    if (a.labels != b.labels) return "labels differ";
    if (a.collateFailed != b.collateFailed) return "only one of them raised a collate error";
    if (!a.collateFailed && (a.rowShape != b.rowShape || a.dtype != b.dtype))
        return "row shapes differ: " + shapeToString(a.rowShape) + " vs " +
               shapeToString(b.rowShape);
    return "";
}

BatchDiff diffRows(const BatchRows& a, const BatchRows& b) {
    BatchDiff d;
    d.what = layoutDifference(a, b);
    if (!d.what.empty()) {
        d.row = 0;
        return d;
    }
    if (a.collateFailed) return d;
    for (size_t r = 0; r < a.rows.size() && r < b.rows.size(); ++r) {
        const float* x = a.rows[r];
        const float* y = b.rows[r];
        if (std::memcmp(x, y, a.per * sizeof(float)) == 0) continue;
        if (d.row < 0) d.row = long(r);
        for (size_t i = 0; i < a.per; ++i) {
            const double e = std::fabs(double(x[i]) - double(y[i]));
            if (!(e <= d.maxAbs)) d.maxAbs = e;
        }
    }
    if (d.row >= 0) d.what = "values differ";
    return d;
}

// Runs f(i) for i in [0, n) on `threads` threads (the caller's included).
template <class F>
void parallelFor(size_t n, int threads, F&& f) {
    if (threads <= 1 || n <= 1) {
        for (size_t i = 0; i < n; ++i) f(i);
        return;
    }
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t i = next++; i < n; i = next++) f(i);
    };
    std::vector<std::thread> pool;
    const int extra = std::min<int>(threads, int(n)) - 1;
    for (int t = 0; t < extra; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
}

// Batches whose Loader output is checked: spread over the full batches.
// A batch cut short by --limit is not one the Loader yields, so with a
// limit only the whole batches before it can be compared.
std::vector<size_t> loaderCheckBatches(size_t n, size_t datasetSize, size_t bs, int wantedCount) {
    const size_t numBatches = (n + bs - 1) / bs;
    const size_t fullBatches = n / bs ? n / bs : (n == datasetSize ? numBatches : 0);
    const size_t wanted = std::min(size_t(std::max(wantedCount, 0)), fullBatches);
    std::vector<size_t> out;
    for (size_t i = 0; i < wanted; ++i) {
        const size_t b = wanted == 1 ? 0 : i * (fullBatches - 1) / (wanted - 1);
        if (out.empty() || out.back() != b) out.push_back(b);
    }
    return out;
}

// What every batch of one audit shares: the data, the judge, the cores it
// may use and the caller's cancel flag.
struct AuditPass {
    const Dataset& dataset;
    const Pipeline& pipeline;
    AuditEngine& engine;
    const std::atomic<bool>* cancel;
    int threads;
    bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }
};

// The samples of one batch, each computed alone on `pass.threads` threads and
// judged; `results` keeps what the batch needs (records, and the outputs
// when `keepOutputs`). False when cancelled mid-batch; `observed` counts
// the samples judged.
bool scanSamples(const AuditPass& pass, const std::vector<size_t>& indices,
                 const RandomContext& ctx, const SampleOptions& options, bool keepOutputs,
                 std::vector<SampleResult>& results, size_t& observed) {
    results.assign(indices.size(), SampleResult());
    std::vector<char> done(indices.size(), 0);
    // Without keepOutputs only the outputs' shapes are read (collation): a
    // final fused ToTensor+Normalize, which the judge derives from the
    // crop's byte counts, then computes no values (5% of a sample's time).
    Pipeline::OutputRow shapeOnly;
    shapeOnly.shapeOnly = true;
    SampleOptions sampleOptions = options;
    if (!keepOutputs) sampleOptions.row = &shapeOnly;
    parallelFor(indices.size(), pass.threads, [&](size_t i) {
        if (pass.cancelled()) return;
        SampleResult r = processSample(pass.dataset, pass.pipeline, indices[i], ctx, sampleOptions);
        pass.engine.observeSample(r);
        // Keep only what the batch needs; stage values are large.
        results[i].record = std::move(r.record);
        if (keepOutputs)
            results[i].output = std::move(r.output);
        else
            results[i].output.shape = std::move(r.output.shape);
        done[i] = 1;
    });
    observed = size_t(std::count(done.begin(), done.end(), 1));
    return observed == indices.size();
}

// Batch b of the scan from its samples' results. Its rows are not stacked:
// the shapes alone decide collation, and only differing shapes are run
// through stackTensors for default_collate's error. `results` keeps the
// outputs (the self-check compares them with the Loader's rows in place).
Batch assembleBatch(size_t b, const std::vector<size_t>& indices,
                    const std::vector<SampleResult>& results, const Dataset& dataset) {
    Batch batch;
    batch.number = b;
    std::vector<const Tensor*> rows;
    std::vector<size_t> rowIndices;
    for (size_t i = 0; i < results.size(); ++i) {
        if (!results[i].record.error.empty()) continue;
        batch.stacked.push_back(i);
        rows.push_back(&results[i].output);
        rowIndices.push_back(indices[i]);
        batch.labels.push_back(results[i].record.label);
    }
    bool sameShapes = true;
    for (const Tensor* t : rows) sameShapes = sameShapes && t->shape == rows.front()->shape;
    CollateError ce;
    if (!sameShapes && !stackTensors(rows, rowIndices, &ce)) batch.collateError = ce;
    for (size_t index : indices) {
        SampleRecord rec;
        rec.index = index;
        rec.path = dataset.path(index);
        batch.samples.push_back(rec);
    }
    return batch;
}

// The two Loaders of the self-check, made once per audit so that their
// batch buffers are reused from one checked batch to the next.
struct CheckLoaders {
    Loader pooled, single;
    CheckLoaders(std::shared_ptr<const Dataset> dataset, const Pipeline& pipeline,
                 const LoaderOptions& inline0, int workers)
        : pooled(dataset, pipeline, withWorkers(inline0, workers)),
          single(dataset, pipeline, inline0) {}
    static LoaderOptions withWorkers(LoaderOptions o, int workers) {
        o.workers = workers;
        return o;
    }
};

// A mismatch between the worker Loader's batch b (`pooled`) and a
// reference batch (`reference`, described by `what`).
void reportMismatch(const AuditPass& pass, const Batch& pooled, const BatchRows& reference,
                    int workers, const std::string& what) {
    const BatchRows pooledRows = rowsOf(pooled);  // pointers into its rows: no copy
    const BatchDiff diff = diffRows(pooledRows, reference);
    if (diff.row < 0) return;
    const size_t b = pooled.number;
    const size_t row = size_t(diff.row);
    const size_t index = row < pooledRows.indices.size() ? pooledRows.indices[row]
                         : pooled.samples.empty()        ? 0
                                                         : pooled.samples.front().index;
    pass.engine.addFinding("loader_mismatch", "loader", index, pass.dataset.path(index),
                           {{"batch", b},
                            {"row", diff.row},
                            {"max_abs_diff", diff.maxAbs},
                            {"workers", workers},
                            {"reason", diff.what}},
                           "In " + what + " (" + diff.what + ", first at row " +
                               std::to_string(diff.row) + ", max difference " +
                               std::to_string(diff.maxAbs) + ").");
}

std::string loaderBatchName(size_t b, int workers) {
    return "the Loader's batch " + std::to_string(b) + " (" + std::to_string(workers) + " workers)";
}

// Loader self-check of batch b: the real Loader with the requested workers
// must give exactly the scan's batch (batching changed nothing). With
// `inlineBatch`, workers = 0 must also give the workers' batch: the two
// differ only in which thread runs a sample, so one batch shows it, and the
// others cost one Loader batch instead of two. False when cancelled.
bool checkLoader(const AuditPass& pass, const CheckLoaders& loaders, const Batch& batch,
                 const std::vector<SampleResult>& results, std::future<Batch>* inlineBatch) {
    const size_t b = batch.number;
    const int workers = loaders.pooled.options().workers;
    Batch lw = loaders.pooled.batch(b, pass.cancel);
    Batch l0 = inlineBatch ? inlineBatch->get() : Batch();
    if (pass.cancelled()) return false;
    reportMismatch(
        pass, lw, rowsOf(batch, results), workers,
        loaderBatchName(b, workers) + " differs from the stack of its samples computed alone");
    if (inlineBatch)
        reportMismatch(pass, lw, rowsOf(l0), workers,
                       "batch " + std::to_string(b) + " differs between " +
                           std::to_string(workers) + " workers and workers=0");
    loaders.pooled.recycle(std::move(lw));
    loaders.single.recycle(std::move(l0));
    return true;
}

// The first of several checked batches, scanned through the workers=0
// Loader instead of sample by sample: it computes each sample alone on this
// thread and hands back the results the judge reads (the stages of `keep`),
// so the batch is judged, and compared with the worker Loader's (computed
// beside it), without computing its samples a third time. The later checked
// batches still compare the worker Loader with samples computed outside any
// Loader. False when cancelled; `observed` counts the samples judged.
bool scanThroughInlineLoader(const AuditPass& pass, const CheckLoaders& loaders, size_t b,
                             const Pipeline::StageMask& keep, size_t& observed) {
    const std::atomic<bool>* cancel = pass.cancel;
    std::future<Batch> pooled = std::async(
        std::launch::async, [&loaders, b, cancel] { return loaders.pooled.batch(b, cancel); });
    KeepPlan plan;
    plan.stages = keep;
    std::vector<SampleResult> kept;
    Batch single = loaders.single.batch(b, cancel, &kept, &plan);
    // Judged on both cores: the worker Loader is mostly done by now.
    parallelFor(kept.size(), pass.threads, [&](size_t i) { pass.engine.observeSample(kept[i]); });
    observed = size_t(std::count_if(kept.begin(), kept.end(), [](const SampleResult& r) {
        return r.record.errorKind != "cancelled";  // skipped by observeSample
    }));
    Batch lw = pooled.get();
    if (pass.cancelled()) return false;
    pass.engine.observeBatch(single);
    const int workers = loaders.pooled.options().workers;
    reportMismatch(pass, lw, rowsOf(single), workers,
                   loaderBatchName(b, workers) +
                       " differs from the stack of its samples computed alone by workers=0");
    loaders.pooled.recycle(std::move(lw));
    loaders.single.recycle(std::move(single));
    return true;
}

// Batch b scanned sample by sample on the pass's threads and, when
// `checked`, compared with the Loader's (checkLoader). The only checked
// batch also runs through the workers=0 Loader, started before the scan so
// that it runs beside it rather than alone after the worker Loader is done
// (a core left idle). False when cancelled; `observed` counts the samples
// judged.
bool scanAndCheck(const AuditPass& pass, const CheckLoaders* loaders,
                  const std::vector<size_t>& indices, size_t b, const RandomContext& ctx,
                  const SampleOptions& options, bool checked, bool withInline, size_t& observed) {
    std::future<Batch> inlineBatch;
    const std::atomic<bool>* cancel = pass.cancel;
    if (withInline)
        inlineBatch = std::async(std::launch::async,
                                 [loaders, b, cancel] { return loaders->single.batch(b, cancel); });
    std::vector<SampleResult> results;
    if (!scanSamples(pass, indices, ctx, options, checked, results, observed))
        return false;  // an inline batch still running is awaited by its future
    const Batch batch = assembleBatch(b, indices, results, pass.dataset);
    pass.engine.observeBatch(batch);
    return !checked || checkLoader(pass, *loaders, batch, results,
                                   inlineBatch.valid() ? &inlineBatch : nullptr);
}

// The first stage (0 = decode) at which two runs of one sample differ, or
// -1 when they agree (or either failed).
int firstDifference(const SampleResult& a, const SampleResult& b) {
    if (!a.record.error.empty() || !b.record.error.empty()) return -1;
    const size_t ns = std::min(a.stages.size(), b.stages.size());
    for (size_t k = 1; k < ns; ++k)
        if (!sameStage(a.stages[k], b.stages[k])) return int(k);
    if (sameBits(a.output, b.output)) return -1;
    return ns ? int(ns - 1) : 0;
}

// Replays: the same RandomContext must give the same bits at every stage.
// The replays run on the pass's threads; findings are added in index order.
void replaySamples(const AuditPass& pass, uint64_t seed, size_t replays, size_t scanned) {
    RandomContext ctx;
    ctx.seed = seed;
    auto indexOf = [&](size_t i) { return replays == 1 ? 0 : i * (scanned - 1) / (replays - 1); };
    std::vector<int> differs(replays, -1);
    std::vector<std::string> paths(replays);
    parallelFor(replays, pass.threads, [&](size_t i) {
        if (pass.cancelled()) return;
        const SampleResult a = processSample(pass.dataset, pass.pipeline, indexOf(i), ctx, true);
        const SampleResult b = processSample(pass.dataset, pass.pipeline, indexOf(i), ctx, true);
        differs[i] = firstDifference(a, b);
        paths[i] = a.record.path;
    });
    for (size_t i = 0; i < replays; ++i) {
        if (differs[i] < 0) continue;
        const size_t stage = size_t(differs[i]);
        const std::string name = pass.engine.stageName(stage);
        pass.engine.addFinding(
            "nondeterministic_transform", stage ? name : "decode", indexOf(i), paths[i],
            {{"seed", seed}, {"epoch", 0}},
            name +
                " gave a different output when replayed with the same seed, "
                "epoch and index: it draws randomness batchscope does not control.");
    }
}

void checkOptions(const Dataset* dataset, const AuditOptions& options) {
    if (!dataset) throw Error("audit needs a dataset");
    if (options.batchSize < 1) throw Error("batch size must be at least 1");
    if (options.workers < 0) throw Error("workers must be 0 or more");
    if (options.epochs < 1) throw Error("epochs must be at least 1");
}

}  // namespace

AuditRun runAudit(std::shared_ptr<const Dataset> dataset, const Pipeline& pipeline,
                  const AuditOptions& options, AuditEngine& engine,
                  const std::function<void(const AuditProgress&)>& progress,
                  const std::atomic<bool>* cancel) {
    checkOptions(dataset.get(), options);
    const auto start = Clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

    AuditRun run;
    engine.observeDataset(*dataset);
    const size_t n = options.limit ? std::min(options.limit, dataset->size()) : dataset->size();
    run.total = n;
    const size_t bs = size_t(options.batchSize);
    const size_t numBatches = (n + bs - 1) / bs;
    const AuditPass pass{*dataset, pipeline, engine, cancel, std::max(1, options.workers)};
    const std::vector<size_t> checkBatches =
        loaderCheckBatches(n, dataset->size(), bs, engine.settings().loaderCheckBatches);

    // Only the stage values the checks read are kept; the others stay fused
    // (and epochs > 1 only feed the draws).
    SampleOptions scanFirst, scanLater;
    scanFirst.keep = engine.stagesRead();

    AuditProgress pr;
    pr.total = n * size_t(options.epochs);
    std::unique_ptr<CheckLoaders> checkers;  // made at the first checked batch
    for (int64_t epoch = 0; epoch < options.epochs && !pass.cancelled(); ++epoch) {
        LoaderOptions lo;
        lo.batchSize = options.batchSize;
        lo.seed = options.seed;
        lo.epoch = epoch;
        lo.workers = 0;
        const Loader order(dataset, pipeline, lo);
        RandomContext ctx;
        ctx.seed = options.seed;
        ctx.epoch = epoch;
        for (size_t b = 0; b < numBatches && !pass.cancelled(); ++b) {
            std::vector<size_t> indices = order.batchIndices(b);
            if (indices.size() > n - std::min(n, b * bs)) indices.resize(n - b * bs);
            const bool checked = epoch == 0 && std::find(checkBatches.begin(), checkBatches.end(),
                                                         b) != checkBatches.end();
            if (checked && !checkers)
                checkers = std::make_unique<CheckLoaders>(
                    dataset, pipeline, lo, options.workers > 0 ? options.workers : 2);
            // A checked batch is scanned and compared with the Loaders.
            pr.phase = checked ? "loader-check" : "scan";
            if (checked && progress) progress(pr);
            const bool firstChecked = checked && b == checkBatches.front();
            const bool inlineScan = firstChecked && checkBatches.size() > 1;
            size_t observed = 0;
            const bool whole =
                inlineScan ? scanThroughInlineLoader(pass, *checkers, b, scanFirst.keep, observed)
                           : scanAndCheck(pass, checkers.get(), indices, b, ctx,
                                          epoch == 0 ? scanFirst : scanLater, checked, firstChecked,
                                          observed);
            pr.phase = "scan";
            // Cancelled mid-batch: the samples already observed still count,
            // so the report's run and summary agree.
            if (epoch == 0) run.scanned += observed;
            if (!whole) break;
            pr.done += indices.size();
            pr.epoch = epoch;
            pr.seconds = elapsed();
            if (progress) progress(pr);
        }
    }

    const size_t replays =
        std::min(size_t(std::max(engine.settings().replaySamples, 0)), run.scanned);
    if (!pass.cancelled() && replays > 0) {
        pr.phase = "replay";
        if (progress) progress(pr);
        replaySamples(pass, options.seed, replays, run.scanned);
    }
    run.cancelled = pass.cancelled();
    run.seconds = elapsed();
    engine.finish();
    return run;
}

}  // namespace bs
