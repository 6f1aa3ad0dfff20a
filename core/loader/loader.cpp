#include "core/loader/loader.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <numeric>
#include <thread>

#include "core/common/allocator.h"
#include "core/common/timing.h"

namespace bs {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// splitmix64: a full-period mixer, so nearby (seed, epoch) pairs give
// unrelated shuffles.
uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

const char* decodeErrorKindName(DecodeErrorKind k) {
    switch (k) {
        case DecodeErrorKind::Truncated: return "truncated_image";
        case DecodeErrorKind::Oversized: return "oversized_image";
        case DecodeErrorKind::TimeLimit:  // the message says it was the limit
        case DecodeErrorKind::Unreadable: break;
    }
    return "unreadable_file";
}

// Fixed-size pool; tasks are plain closures. Worker ids start at 1 so that
// 0 keeps meaning "computed inline", as PyTorch's main-process loading.
class ThreadPool {
public:
    explicit ThreadPool(int n) {
        for (int i = 0; i < n; ++i) threads_.emplace_back([this, i] { work(i + 1); });
    }
    ~ThreadPool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        for (auto& t : threads_) t.join();
    }
    void submit(std::function<void(int worker)> task) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            tasks_.push_back(std::move(task));
        }
        wake_.notify_one();
    }

private:
    void work(int id) {
        for (;;) {
            std::function<void(int)> task;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
                if (tasks_.empty()) return;
                task = std::move(tasks_.front());
                tasks_.pop_front();
            }
            task(id);
        }
    }
    std::vector<std::thread> threads_;
    std::deque<std::function<void(int)>> tasks_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
};

}  // namespace

Target targetThroughStage(const Pipeline& pipeline, size_t i, const Target& in,
                          const std::vector<std::pair<int, int>>& sizes,
                          const nlohmann::json& drawn) {
    if (!pipeline.isEnabled(i) || i + 1 >= sizes.size()) return in;
    return pipeline.stage(i).applyToTarget(in, sizes[i].first, sizes[i].second, sizes[i + 1].first,
                                           sizes[i + 1].second, drawn);
}

// The targets through every stage the image went through, with the sizes and
// draws of that run: targets[k] for each kept stage value, outputTarget last.
static void moveTargets(const Pipeline& pipeline, const Pipeline::StageMask& keep,
                        SampleResult& result) {
    const nlohmann::json& drawn = result.record.drawn;
    const size_t n = drawn.size();
    Target cur = result.targets[0];
    if (!keep.empty()) result.targets.resize(n + 1);
    for (size_t i = 0; i < n; ++i) {
        cur = targetThroughStage(pipeline, i, cur, result.stageSizes, drawn[i]);
        if (i + 1 < keep.size() && keep[i + 1]) result.targets[i + 1] = cur;
    }
    result.outputTarget = std::move(cur);
}

SampleResult processSample(const Dataset& dataset, const Pipeline& pipeline, size_t index,
                           const RandomContext& ctx, bool keepStages, size_t stopAfter) {
    SampleOptions options;
    if (keepStages) options.keep = pipeline.keepAll();
    options.keepRaw = keepStages;
    options.stopAfter = stopAfter;
    return processSample(dataset, pipeline, index, ctx, options);
}

SampleResult processSample(const Dataset& dataset, const Pipeline& pipeline, size_t index,
                           const RandomContext& ctx, const SampleOptions& options) {
    const auto start = Clock::now();
    SampleResult result;
    SampleRecord& rec = result.record;
    rec.index = index;
    rec.epoch = ctx.epoch;
    try {
        rec.path = dataset.path(index);
        rec.label = dataset.label(index);
    } catch (const std::exception& e) {
        rec.error = e.what();
        rec.errorKind = "unreadable_file";
        return result;
    }

    StageValue input;
    try {
        if (dataset.hasRaw()) {
            const auto t0 = Clock::now();
            Image raw = dataset.loadRaw(index, &rec.decode);
            if (StageTimer* timer = pipeline.timer()) timer->addDecode(secondsSince(t0));
            if (options.keepRaw) result.raw = raw;  // copy only when a caller wants to look at it
            input = StageValue::fromImage(std::move(raw));
        } else {
            input = StageValue::fromTensor(dataset.loadTensor(index));
        }
        // The targets as read (targets[0], beside the input); the stages
        // move them after the run (moveTargets).
        if (dataset.targetSchema().kind != TargetSchema::Kind::None) {
            result.targets.push_back(dataset.loadTarget(index));
            if (pipeline.empty()) result.outputTarget = result.targets[0];
        }
    } catch (const DecodeError& e) {
        rec.error = e.what();
        rec.errorKind = decodeErrorKindName(e.kind());
        rec.seconds = secondsSince(start);
        return result;
    } catch (const std::exception& e) {
        rec.error = e.what();
        rec.errorKind = "unreadable_file";
        rec.seconds = secondsSince(start);
        return result;
    }

    try {
        RandomContext sampleCtx = ctx;
        sampleCtx.index = int64_t(index);
        Pipeline::Result r =
            pipeline.run(std::move(input), sampleCtx, options.keep, options.stopAfter, options.row);
        result.outputInRow = r.outputInRow;
        rec.drawn = nlohmann::json::array();
        for (auto& d : r.drawn) rec.drawn.push_back(std::move(d));
        if (r.output.isImage()) {
            result.output = asTensor(r.output);
        } else {
            result.output = std::move(r.output.tensor);
        }
        result.stages = std::move(r.stages);
        result.stageSizes = std::move(r.sizes);
        if (!result.targets.empty()) moveTargets(pipeline, options.keep, result);
    } catch (const PipelineError& e) {
        rec.error = e.what();
        rec.errorKind = "pipeline";
        rec.errorStage = e.stage();
    } catch (const std::exception& e) {
        rec.error = e.what();
        rec.errorKind = "pipeline";
    }
    rec.seconds = secondsSince(start);
    return result;
}

std::optional<Tensor> stackTensors(const std::vector<const Tensor*>& items,
                                   const std::vector<size_t>& indices, CollateError* error) {
    Tensor out;
    if (items.empty()) return out;
    const auto& first = items.front()->shape;
    bool same = true;
    for (const Tensor* t : items) same = same && t->shape == first;
    if (!same) {
        if (error) {
            error->indices = indices;
            error->shapes.clear();
            for (const Tensor* t : items) error->shapes.push_back(t->shape);
            std::string msg = "stack expects each tensor to be equal size, but got ";
            size_t shown = 0;
            for (size_t i = 0; i < items.size() && shown < 4; ++i) {
                if (items[i]->shape == first && i > 0) continue;
                msg += (shown ? ", " : "") + shapeToString(items[i]->shape) + " at index " +
                       std::to_string(indices[i]);
                ++shown;
            }
            error->message = msg;
        }
        return std::nullopt;
    }
    out.shape.push_back(int64_t(items.size()));
    out.shape.insert(out.shape.end(), first.begin(), first.end());
    out.dtype = items.front()->dtype;
    const size_t per = items.front()->values.size();
    out.values.reserve(per * items.size());  // each row written once: no zeroing first
    for (const Tensor* item : items)
        out.values.insert(out.values.end(), item->values.begin(), item->values.begin() + long(per));
    return out;
}

struct Loader::Impl {
    std::shared_ptr<const Dataset> dataset;
    Pipeline pipeline;
    LoaderOptions options;
    std::vector<size_t> order;
    std::unique_ptr<ThreadPool> pool;

    // Batch buffers handed back by next() (the caller's previous batch,
    // which next() overwrites anyway): reusing them spares a fresh
    // tens-of-MiB allocation, its page faults and zeroing, per batch.
    std::mutex recycleMutex;
    std::vector<std::vector<float>> recycled;
    std::vector<float> takeBuffer(size_t n) {
        std::lock_guard<std::mutex> lock(recycleMutex);
        for (auto it = recycled.begin(); it != recycled.end(); ++it) {
            if (it->capacity() < n) continue;
            std::vector<float> v = std::move(*it);
            recycled.erase(it);
            v.resize(n);  // rows are all overwritten; only growth is zeroed
            return v;
        }
        return std::vector<float>(n);
    }
    void giveBuffer(std::vector<float>&& v) {
        if (v.capacity() == 0) return;
        std::lock_guard<std::mutex> lock(recycleMutex);
        if (recycled.size() < 2) recycled.push_back(std::move(v));
    }

    // Shape of one sample of the last batch built: the next batch takes its
    // buffer up front and its samples write their outputs straight into
    // their rows (the fused ToTensor+Normalize), with no buffer of their own.
    std::mutex rowShapeMutex;
    std::vector<int64_t> rowShape;
    std::vector<int64_t> expectedRowShape() {
        std::lock_guard<std::mutex> lock(rowShapeMutex);
        return rowShape;
    }
    void setRowShape(std::vector<int64_t> shape) {
        std::lock_guard<std::mutex> lock(rowShapeMutex);
        rowShape = std::move(shape);
    }

    struct BatchBuild;  // one batch of Loader::batch

    // Sequential iteration state.
    size_t nextBatch = 0;
    std::deque<std::future<Batch>> ahead;
    size_t aheadStart = 0;
};

Loader::Loader(std::shared_ptr<const Dataset> dataset, Pipeline pipeline, LoaderOptions options)
    : impl_(std::make_unique<Impl>()) {
    keepFreedMemory();
    if (!dataset) throw Error("loader needs a dataset");
    if (options.batchSize < 1) throw Error("batch size must be at least 1");
    if (options.workers < 0) throw Error("workers must be 0 or more");
    impl_->dataset = std::move(dataset);
    impl_->pipeline = std::move(pipeline);
    impl_->options = options;
    const size_t n = impl_->dataset->size();
    impl_->order.resize(n);
    std::iota(impl_->order.begin(), impl_->order.end(), size_t(0));
    if (options.shuffle) {
        // Fisher-Yates with a generator seeded from (seed, epoch): each epoch
        // has its own order, and the same pair always gives the same order.
        uint64_t state = mix(options.seed ^ mix(uint64_t(options.epoch) + 0x51ed27ULL));
        for (size_t i = n; i > 1; --i) {
            state = mix(state);
            const size_t j = size_t(state % i);
            std::swap(impl_->order[i - 1], impl_->order[j]);
        }
    }
    if (options.workers > 0) impl_->pool = std::make_unique<ThreadPool>(options.workers);
}

Loader::~Loader() {
    // Futures of prefetched batches use the pool: wait for them first.
    for (auto& f : impl_->ahead)
        if (f.valid()) f.wait();
}

const LoaderOptions& Loader::options() const { return impl_->options; }

const std::vector<size_t>& Loader::order() const { return impl_->order; }

size_t Loader::numBatches() const {
    const size_t n = impl_->order.size();
    const size_t bs = size_t(impl_->options.batchSize);
    return impl_->options.dropLast ? n / bs : (n + bs - 1) / bs;
}

std::vector<size_t> Loader::batchIndices(size_t b) const {
    if (b >= numBatches()) return {};
    const size_t bs = size_t(impl_->options.batchSize);
    const size_t begin = b * bs;
    const size_t end = std::min(begin + bs, impl_->order.size());
    return std::vector<size_t>(impl_->order.begin() + begin, impl_->order.begin() + end);
}

// One batch of Loader::batch. Its samples are collated as they finish:
// each output lands in row i of one (N, C, H, W) tensor, written there by
// the fused ToTensor+Normalize when the shape is the expected one (that of
// the previous batch), else copied by the thread that computed it while it
// is still in cache. Rows of failed samples are squeezed out at the end; a
// shape mismatch falls back to stackTensors (which only needs the shapes)
// for default_collate's error.
struct Loader::Impl::BatchBuild {
    BatchBuild(Impl& impl, std::vector<size_t> indices, const std::atomic<bool>* cancel,
               std::vector<SampleResult>* kept, const KeepPlan* plan);
    void computeAll();
    void collate(Batch& batch);
    void handOver(Batch& batch);

private:
    bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }
    // A sample kept whole hands back its own output tensor (the viewer shows
    // it); every other output lives in its batch row only (shape kept).
    bool whole(size_t i) const { return kept && (!plan || plan->wholeIndex == indices[i]); }
    void compute(size_t i);
    bool claimSlab(const Tensor& out);
    void place(size_t i);
    void computeOnPool();
    void listStacked(Batch& batch, std::vector<const Tensor*>& rows,
                     std::vector<size_t>& rowIndices);
    void squeezeRows(Batch& batch, const std::vector<size_t>& rowIndices);

    Impl& impl;
    const std::vector<size_t> indices;
    const std::atomic<bool>* cancel;
    std::vector<SampleResult>* kept;
    const KeepPlan* plan;
    StageTimer* timer;
    RandomContext ctx;
    std::vector<SampleResult> results;
    std::vector<int64_t> expected;  // the previous batch's row shape
    size_t expectedPer = 0;
    std::vector<float> rowsUpFront;  // never resized while samples run
    std::mutex slabMutex;
    Tensor slab;
    bool slabIsUpFront = false;
    size_t per = 0;
    bool mismatch = false;
    std::vector<char> placed;
};

Loader::Impl::BatchBuild::BatchBuild(Impl& impl, std::vector<size_t> indices,
                                     const std::atomic<bool>* cancel,
                                     std::vector<SampleResult>* kept, const KeepPlan* plan)
    : impl(impl),
      indices(std::move(indices)),
      cancel(cancel),
      kept(kept),
      plan(plan),
      timer(impl.pipeline.timer()),
      results(this->indices.size()),
      expected(impl.expectedRowShape()),
      placed(this->indices.size(), 0) {
    ctx.seed = impl.options.seed;
    ctx.epoch = impl.options.epoch;
    expectedPer = expected.empty() ? 0 : 1;
    for (int64_t d : expected) expectedPer *= size_t(std::max<int64_t>(d, 0));
    if (expectedPer) rowsUpFront = impl.takeBuffer(expectedPer * this->indices.size());
}

void Loader::Impl::BatchBuild::compute(size_t i) {
    SampleOptions so;
    if (whole(i)) {
        so.keep = impl.pipeline.keepAll();
        so.keepRaw = true;
        results[i] = processSample(*impl.dataset, impl.pipeline, indices[i], ctx, so);
        return;
    }
    if (kept) so.keep = plan->stages;
    Pipeline::OutputRow row;
    if (expectedPer) {
        row.data = rowsUpFront.data() + i * expectedPer;
        row.shape = expected;
        so.row = &row;
    }
    results[i] = processSample(*impl.dataset, impl.pipeline, indices[i], ctx, so);
}

// The batch tensor's shape from the first sample placed; false when `out`'s
// shape differs from it (then no sample is placed any more).
bool Loader::Impl::BatchBuild::claimSlab(const Tensor& out) {
    std::lock_guard<std::mutex> lock(slabMutex);
    if (mismatch) return false;
    if (slab.shape.empty()) {
        slab.shape.push_back(int64_t(indices.size()));
        slab.shape.insert(slab.shape.end(), out.shape.begin(), out.shape.end());
        slab.dtype = out.dtype;
        per = size_t(out.numel());
        slabIsUpFront = expectedPer && out.shape == expected;
        if (!slabIsUpFront) slab.values = impl.takeBuffer(per * indices.size());
    } else if (!std::equal(out.shape.begin(), out.shape.end(), slab.shape.begin() + 1,
                           slab.shape.end()) ||
               out.shape.size() + 1 != slab.shape.size()) {
        mismatch = true;
    }
    return !mismatch;
}

void Loader::Impl::BatchBuild::place(size_t i) {
    Tensor& out = results[i].output;
    if (!results[i].record.error.empty()) return;
    const auto t0 = Clock::now();
    if (!claimSlab(out)) return;
    // Rows are disjoint and no buffer is resized while samples are placed:
    // the copy needs no lock. A sample written in its row has the expected
    // shape, hence the slab is the up-front buffer.
    float* base = slabIsUpFront ? rowsUpFront.data() : slab.values.data();
    if (per && !results[i].outputInRow)
        std::memcpy(base + i * per, out.values.data(), per * sizeof(float));
    if (!whole(i)) std::vector<float>().swap(out.values);  // the shape stays (errors)
    placed[i] = 1;
    if (timer) timer->addCollate(secondsSince(t0));
}

void Loader::Impl::BatchBuild::computeOnPool() {
    std::mutex doneMutex;
    std::condition_variable doneCv;
    size_t remaining = indices.size();
    for (size_t i = 0; i < indices.size(); ++i) {
        impl.pool->submit([&, i](int worker) {
            if (!cancelled()) {
                compute(i);
                results[i].record.worker = worker;
                place(i);
            }
            std::lock_guard<std::mutex> lock(doneMutex);
            if (--remaining == 0) doneCv.notify_one();
        });
    }
    std::unique_lock<std::mutex> lock(doneMutex);
    doneCv.wait(lock, [&] { return remaining == 0; });
}

// Every sample computed and placed, on the pool or (workers = 0) here.
void Loader::Impl::BatchBuild::computeAll() {
    if (impl.pool) {
        computeOnPool();
    } else {
        for (size_t i = 0; i < indices.size(); ++i) {
            if (cancelled()) break;
            compute(i);
            place(i);
        }
    }
    if (slabIsUpFront)
        slab.values = std::move(rowsUpFront);
    else
        impl.giveBuffer(std::move(rowsUpFront));
}

// The successful samples, in order, and the labels of the batch; samples
// a cancel skipped are marked so.
void Loader::Impl::BatchBuild::listStacked(Batch& batch, std::vector<const Tensor*>& rows,
                                           std::vector<size_t>& rowIndices) {
    for (size_t i = 0; i < results.size(); ++i) {
        SampleRecord& rec = results[i].record;
        if (rec.path.empty() && rec.error.empty() && cancelled()) {
            rec.index = indices[i];
            rec.error = "cancelled";
            rec.errorKind = "cancelled";
        }
        if (rec.error.empty()) {
            batch.stacked.push_back(i);
            rows.push_back(&results[i].output);
            rowIndices.push_back(indices[i]);
            batch.labels.push_back(rec.label);
        }
    }
}

// Every successful sample was placed in its own row; the rows of the
// stacked samples move together and the rest are dropped.
void Loader::Impl::BatchBuild::squeezeRows(Batch& batch, const std::vector<size_t>& rowIndices) {
    size_t r = 0;
    for (size_t i : batch.stacked) {
        if (!placed[i]) break;
        if (r != i)
            std::memmove(slab.values.data() + r * per, slab.values.data() + i * per,
                         per * sizeof(float));
        ++r;
    }
    if (r == batch.stacked.size()) {
        slab.shape[0] = int64_t(r);
        slab.values.resize(r * per);
        impl.setRowShape(std::vector<int64_t>(slab.shape.begin() + 1, slab.shape.end()));
        batch.data = std::move(slab);
    } else {
        // Not reachable (a successful sample is always placed unless the
        // shapes differ), but never stack freed buffers.
        batch.collateError =
            CollateError{"loader could not place every sample in the batch", rowIndices, {}};
    }
}

void Loader::Impl::BatchBuild::collate(Batch& batch) {
    std::vector<const Tensor*> rows;
    std::vector<size_t> rowIndices;
    listStacked(batch, rows, rowIndices);
    const auto collateStart = Clock::now();
    if (!mismatch && !rows.empty()) {
        squeezeRows(batch, rowIndices);
    } else {
        CollateError collateError;
        if (auto stacked = stackTensors(rows, rowIndices, &collateError)) {
            batch.data = std::move(*stacked);
        } else {
            batch.collateError = collateError;
        }
    }
    if (timer) timer->addCollate(secondsSince(collateStart));
}

// The records go into the batch; with `kept`, the whole results go back to
// the caller as well.
void Loader::Impl::BatchBuild::handOver(Batch& batch) {
    batch.samples.reserve(results.size());
    for (auto& r : results) {
        if (kept)
            batch.samples.push_back(r.record);
        else
            batch.samples.push_back(std::move(r.record));
    }
    if (kept) *kept = std::move(results);
}

Batch Loader::batch(size_t b, const std::atomic<bool>* cancel, std::vector<SampleResult>* kept,
                    const KeepPlan* plan) const {
    const auto start = Clock::now();
    Impl::BatchBuild build(*impl_, batchIndices(b), cancel, kept, plan);
    build.computeAll();
    Batch batch;
    batch.number = b;
    build.collate(batch);
    build.handOver(batch);
    batch.seconds = secondsSince(start);
    return batch;
}

void Loader::recycle(Batch&& done) const {
    impl_->giveBuffer(std::move(done.data.values));
}

size_t Loader::buffersWaiting() const {
    std::lock_guard<std::mutex> lock(impl_->recycleMutex);
    return impl_->recycled.size();
}

std::shared_ptr<const Batch> shareRecycled(Batch&& batch, std::weak_ptr<const Loader> loader) {
    // The Batch is made non-const here, so the deleter may move out of it.
    return std::shared_ptr<const Batch>(
        new Batch(std::move(batch)), [loader = std::move(loader)](const Batch* shared) {
            std::unique_ptr<Batch> owned(const_cast<Batch*>(shared));
            if (auto l = loader.lock()) l->recycle(std::move(*owned));
        });
}

bool Loader::next(Batch& out) {
    Impl& d = *impl_;
    const size_t total = numBatches();
    if (d.nextBatch >= total) return false;
    d.giveBuffer(std::move(out.data.values));
    out.data.values.clear();
    if (d.options.workers == 0 || d.options.prefetch <= 0) {
        out = batch(d.nextBatch++);
        return true;
    }
    // Keep up to `prefetch` batches in flight beyond the one being returned.
    if (d.ahead.empty()) d.aheadStart = d.nextBatch;
    while (d.aheadStart + d.ahead.size() < total &&
           d.ahead.size() < size_t(d.options.prefetch) + 1) {
        const size_t b = d.aheadStart + d.ahead.size();
        d.ahead.push_back(std::async(std::launch::async, [this, b] { return batch(b); }));
    }
    out = d.ahead.front().get();
    d.ahead.pop_front();
    ++d.aheadStart;
    ++d.nextBatch;
    return true;
}

}  // namespace bs
