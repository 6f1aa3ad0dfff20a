#include "ui/model/session.h"

#include <QElapsedTimer>
#include <QThreadPool>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include "core/audit/anomaly.h"
#include "core/audit/audit.h"
#include "core/audit/report.h"
#include "core/dataset/dataset.h"
#include "core/dataset/webdataset.h"
#include "core/loader/loader.h"
#include "ui/model/stagerange.h"

namespace bs::ui {

namespace {

constexpr int kThumbSize = 112;
constexpr size_t kCacheBatches = 6;

QImage thumbnail(const QImage& full) {
    if (full.isNull()) return {};
    const int side = std::max(full.width(), full.height());
    // Small images (MNIST 28 px) are enlarged without smoothing so pixels stay
    // visible; large ones are smoothed down.
    const auto mode = side < kThumbSize ? Qt::FastTransformation : Qt::SmoothTransformation;
    return full.scaled(kThumbSize, kThumbSize, Qt::KeepAspectRatio, mode);
}

// Every row's extent, and the batch's from them: the batch is read once.
void measureRows(BatchView& v) {
    const bs::Batch& b = *v.batch;
    const Planes p = planesOf(b.data);
    const size_t plane = size_t(p.h) * p.w;
    v.rows.clear();
    v.extent = emptyExtent(p.c);
    if (b.data.empty() || b.data.values.size() < size_t(p.n) * p.c * plane) return;
    v.rows.reserve(size_t(p.n));
    for (size_t row = 0; row < size_t(p.n); ++row) {
        v.rows.push_back(planeExtent(b.data.values.data() + row * size_t(p.c) * plane, p.c, plane));
        joinExtent(v.extent, v.rows.back());
    }
}

// One thumbnail per stacked sample, in the display's overlay mode.
void renderThumbs(BatchView& v, const StageRange& best, const DisplaySettings& display,
                  const QString& label) {
    const bs::Batch& b = *v.batch;
    v.thumbs.assign(b.samples.size(), QImage());
    v.thumbsOverlaid = display.overlay;
    const Planes p = planesOf(b.data);
    const size_t plane = size_t(p.h) * p.w;
    if (v.rows.size() < size_t(p.n)) return;  // no (complete) batch tensor
    for (size_t row = 0; row < b.stacked.size() && int64_t(row) < p.n; ++row) {
        const float* data = b.data.values.data() + row * size_t(p.c) * plane;
        RenderOptions ro;
        ro.range = resolveStageRange(display, best, label, v.rows[row].min, v.rows[row].max,
                                     &v.extent.min, &v.extent.max);
        ro.solo = display.solo;
        ro.overlay = display.overlay;
        if (row == 0) v.range = ro.range;
        // Rendered straight at a whole fraction of the size (224 -> 112):
        // no full-size image to render and then smooth away.
        const int reduce = std::max(1, std::max(p.h, p.w) / kThumbSize);
        v.thumbs[b.stacked[row]] =
            thumbnail(renderPlanes(data, p.c, p.h, p.w, ro, nullptr, reduce, &v.rows[row]));
    }
}

// The anomaly engine's verdict on the samples of one batch. `results` are
// the batch's own samples with their stages; without them (a batch that was
// dropped from memory) the samples are computed again.
std::vector<bs::Finding> judgeSamples(const bs::Dataset& ds, const bs::Pipeline& pipeline,
                                      const BatchView& v, const bs::RandomContext& ctx,
                                      const std::atomic<bool>& cancel, bool& cancelled) {
    bs::AuditEngine engine(pipeline);
    // Paths for grouped findings, and which source modes are native (gray
    // IDX/NumPy is not a mode conversion).
    engine.observeDataset(ds);
    cancelled = false;
    if (v.results) {
        for (const auto& r : *v.results) engine.observeSample(r);
    } else {
        for (const auto& rec : v.batch->samples) {
            if (cancel.load()) {
                cancelled = true;
                return {};
            }
            bs::SampleOptions read;
            read.keep = bs::AuditEngine::stagesRead(pipeline, ds.hasRaw());
            engine.observeSample(bs::processSample(ds, pipeline, rec.index, ctx, read));
        }
    }
    engine.observeBatch(*v.batch);
    engine.finish();
    return engine.findings();
}

std::vector<int> findingsPerSample(const BatchView& v) {
    std::vector<int> n(v.batch->samples.size(), 0);
    for (const auto& f : v.findings)
        for (size_t i = 0; i < v.batch->samples.size(); ++i)
            if (f.index >= 0 && v.batch->samples[i].index == size_t(f.index)) ++n[i];
    return n;
}

StageRange finalBest(const bs::Pipeline& pipeline, bool rawInput) {
    const auto best = bestKnownRanges(pipeline, rawInput);
    return best.empty() ? StageRange() : best.back();
}

// Everything the sample view shows, from the sample's one result: the
// stage chosen in the display settings, and the strip of every stage.
void fillSampleView(SampleView& v, const bs::Pipeline& pipeline, const DisplaySettings& display) {
    const bs::SampleResult& r = *v.result;
    if (!r.record.error.empty()) v.error = QString::fromStdString(r.record.error);
    v.raw = toQImage(r.raw);
    if (!r.raw.empty()) v.rawHistogram = byteHistogram(r.raw);
    if (!r.output.empty()) renderShownStage(v, display, pipeline);
    renderStageStrip(v, display, pipeline);
}

}  // namespace

Session::Session(QObject* parent) : QObject(parent), pool_(new QThreadPool(this)) {
    pool_->setMaxThreadCount(std::max(2, QThread::idealThreadCount()));
    openSlot_ = new AsyncSlot(pool_, this);
    batchSlot_ = new AsyncSlot(pool_, this);
    sampleSlot_ = new AsyncSlot(pool_, this);
    renderSlot_ = new AsyncSlot(pool_, this);
    thumbSlot_ = new AsyncSlot(pool_, this);
    auditSlot_ = new AsyncSlot(pool_, this);
    judgeSlot_ = new AsyncSlot(pool_, this);
    for (AsyncSlot* s :
         {openSlot_, batchSlot_, sampleSlot_, renderSlot_, thumbSlot_, auditSlot_, judgeSlot_})
        connect(s, &AsyncSlot::idle, this, &Session::busyChanged);
}

Session::~Session() {
    for (AsyncSlot* s :
         {openSlot_, batchSlot_, sampleSlot_, renderSlot_, thumbSlot_, auditSlot_, judgeSlot_})
        s->cancel();
    pool_->waitForDone();
}

bool Session::idle() const {
    for (AsyncSlot* s :
         {openSlot_, batchSlot_, sampleSlot_, renderSlot_, thumbSlot_, auditSlot_, judgeSlot_})
        if (s->busy()) return false;
    return true;
}

QString Session::datasetSummary() const {
    if (!dataset_) return QStringLiteral("no dataset");
    const auto classes = dataset_->classes();
    QString s = QStringLiteral("%1 · %2 samples")
                    .arg(QString::fromStdString(bs::formatName(dataset_->format())))
                    .arg(qulonglong(dataset_->size()));
    if (!classes.empty()) s += QStringLiteral(" · %1 classes").arg(classes.size());
    return s;
}

void Session::setSplit(const QString& split) {
    if (split == split_ || path_.isEmpty()) return;
    split_ = split;
    openWithSplit(path_, split_);
}

void Session::open(const QString& path) {
    if (path != path_) split_.clear();
    openWithSplit(path, split_);
}

void Session::openWithSplit(const QString& path, const QString& split) {
    QPointer<QObject> self(this);
    const std::string p = path.toStdString();
    const std::string splitName = split.toStdString();
    const int generation = ++openGeneration_;
    openSlot_->submit([self, p, path, splitName,
                       generation](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        bs::OpenOptions opts;
        opts.split = splitName;
        QElapsedTimer last;
        last.start();
        opts.progress = [&](size_t listed) {
            // Throttled: a progress event per entry would flood the GUI thread.
            if (last.elapsed() > 100) {
                last.restart();
                postToGui(self, [self, listed] {
                    Q_EMIT static_cast<Session*>(self.data())->openProgress(listed);
                });
            }
            return !cancel.load();
        };
        // Sharded: the first shard is shown while the others are indexed.
        if (bs::webDatasetShardFileCount(p) > 1) {
            bs::OpenOptions first = opts;
            first.maxShards = 1;
            std::shared_ptr<const bs::Dataset> preview;
            try {
                preview = bs::openDataset(p, first);
            } catch (const std::exception&) {
                // The whole open below reports what is wrong.
            }
            if (preview && preview->format() == bs::DatasetFormat::WebDataset && !cancel.load())
                postToGui(self, [self, preview, path, generation] {
                    auto* s = static_cast<Session*>(self.data());
                    if (s->openGeneration_ == generation) s->install(preview, path, false);
                });
        }
        std::shared_ptr<const bs::Dataset> ds;
        QString error;
        try {
            ds = bs::openDataset(p, opts);
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        if (cancel.load()) return nullptr;
        Session* s = static_cast<Session*>(self.data());
        return [s, ds, error, path] {
            if (ds) {
                s->install(ds, path, true);
                return;
            }
            if (path == s->path_) s->indexing_ = false;  // the preview stays in view
            Q_EMIT s->openFailed(error.isEmpty() ? QStringLiteral("cannot open %1").arg(path)
                                                 : error);
        };
    });
    Q_EMIT busyChanged();
}

void Session::install(std::shared_ptr<const bs::Dataset> ds, const QString& path, bool complete) {
    const bool growing = indexing_ && path == path_ && dataset_;
    dataset_ = std::move(ds);
    indexing_ = !complete;
    if (growing) {
        // The preview's samples keep their indices in the whole dataset:
        // stay on the batch and the sample in view.
        rebuildLoader();
        Q_EMIT datasetGrew();
        requestBatch(wantedBatch_);
        if (selected_) requestSample(*selected_);
        return;
    }
    path_ = path;
    auditFindings_.clear();
    selected_.reset();
    sampleView_.reset();
    batchView_.reset();
    wantedBatch_ = 0;
    rebuildLoader();
    Q_EMIT opened();
    requestBatch(0);
}

void Session::setPipeline(const bs::Pipeline& pipeline) {
    pipeline_ = pipeline;
    if (!dataset_) return;
    rebuildLoader();
    requestBatch(wantedBatch_);
    if (selected_) requestSample(*selected_);
}

void Session::setLoaderSettings(const LoaderSettings& s) {
    if (s == loaderSettings_) return;
    const bool orderSame =
        s.batchSize == loaderSettings_.batchSize && s.shuffle == loaderSettings_.shuffle &&
        (!s.shuffle || (s.seed == loaderSettings_.seed && s.epoch == loaderSettings_.epoch));
    // Keep looking at the same sample when the batch layout changes.
    std::optional<size_t> keep = selected_;
    loaderSettings_ = s;
    if (!dataset_) return;
    rebuildLoader();
    size_t b = wantedBatch_;
    if (!orderSame && keep) {
        if (auto nb = batchOfIndex(*keep)) b = *nb;
    }
    requestBatch(std::min(b, numBatches() ? numBatches() - 1 : 0));
    if (selected_) requestSample(*selected_);
}

void Session::setDisplay(const DisplaySettings& d) {
    // The shown stage only concerns the sample view, not the thumbnails.
    const bool thumbs = d.mode != display_.mode || d.manualLo != display_.manualLo ||
                        d.manualHi != display_.manualHi || d.solo != display_.solo ||
                        d.overlay != display_.overlay;
    display_ = d;
    if (batchView_ && thumbs) renderBatch();
    if (sampleView_) renderSample();
}

void Session::rebuildLoader() {
    ++config_;
    cache_.clear();
    batchSlot_->cancel();
    runningBatch_.reset();
    ranges_ = expectedRanges(pipeline_, dataset_ ? dataset_->hasRaw() : true);
    loader_.reset();
    if (!dataset_) return;
    bs::LoaderOptions o;
    o.batchSize = std::max(1, loaderSettings_.batchSize);
    o.shuffle = loaderSettings_.shuffle;
    o.seed = loaderSettings_.seed;
    o.epoch = loaderSettings_.epoch;
    o.workers = std::max(0, loaderSettings_.workers);
    try {
        loader_ = std::make_shared<bs::Loader>(dataset_, pipeline_, o);
    } catch (const std::exception& e) {
        Q_EMIT pipelineError(QString::fromUtf8(e.what()));
    }
}

size_t Session::numBatches() const {
    return loader_ ? loader_->numBatches() : 0;
}

std::optional<size_t> Session::positionOfIndex(size_t index) const {
    if (!loader_) return std::nullopt;
    const auto& order = loader_->order();
    for (size_t i = 0; i < order.size(); ++i)
        if (order[i] == index) return i;
    return std::nullopt;
}

std::optional<size_t> Session::batchOfIndex(size_t index) const {
    auto p = positionOfIndex(index);
    if (!p) return std::nullopt;
    return *p / size_t(std::max(1, loaderSettings_.batchSize));
}

void Session::requestBatch(size_t b) {
    if (!loader_) return;
    const size_t n = numBatches();
    if (n == 0) return;
    b = std::min(b, n - 1);
    wantedBatch_ = b;
    forgetFarResults();
    auto it = cache_.find(b);
    if (it != cache_.end()) {
        deliverBatch(it->second);
        prefetchNext();
        return;
    }
    Q_EMIT batchLoading(b);
    if (runningBatch_ == b) return;  // a prefetch of it is already under way
    startBatchJob(b, false);
}

void Session::startBatchJob(size_t b, bool prefetch) {
    runningBatch_ = b;
    auto loader = loader_;
    const ChannelRanges expected = ranges_.empty() ? ChannelRanges{} : ranges_.back();
    const QString label = stageLabel(pipeline_, pipeline_.size());
    const StageRange best = finalBest(pipeline_, dataset_->hasRaw());
    const DisplaySettings display = display_;
    const quint64 cfg = config_;
    const size_t nb = numBatches();
    // The judge's stage values for every sample; everything for the one at
    // the row selected in the batch in view, which the window selects again.
    bs::KeepPlan plan;
    plan.stages = bs::AuditEngine::stagesRead(pipeline_, dataset_->hasRaw());
    const std::vector<size_t> indices = loader->batchIndices(b);
    if (!indices.empty()) plan.wholeIndex = indices[std::min(selectedRow_, indices.size() - 1)];
    batchSlot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        auto v = std::make_shared<BatchView>();
        v->config = cfg;
        v->number = b;
        v->numBatches = nb;
        QString error;
        try {
            // The samples are computed here once, stages kept, for everyone.
            auto results = std::make_shared<std::vector<bs::SampleResult>>();
            // The buffer serves a later batch once the cache drops this one.
            auto batch = bs::shareRecycled(loader->batch(b, &cancel, results.get(), &plan),
                                           std::weak_ptr<const bs::Loader>(loader));
            v->wholeIndex = plan.wholeIndex;
            if (cancel.load()) return nullptr;
            v->batch = batch;
            v->results = results;
            v->findingCount.assign(batch->samples.size(), 0);
            measureRows(*v);
            renderThumbs(*v, best, display, label);
            DisplayRange exp;
            const bool known = expectedDisplay(expected, exp);
            // The batch's extent was measured with the rows: one pass, not three.
            v->histogram = computeHistogramAuto(batch->data, known ? &exp : nullptr, &v->extent);
        } catch (const std::exception& e) {
            error = QString::fromUtf8(e.what());
        }
        return [this, v, error] {
            if (runningBatch_ == v->number) runningBatch_.reset();
            if (!error.isEmpty()) {
                Q_EMIT pipelineError(error);
                return;
            }
            if (v->config != config_) return;
            storeBatch(v);
            if (v->number == wantedBatch_) deliverBatch(v);
            prefetchNext();
        };
    });
    (void)prefetch;
}

void Session::storeBatch(std::shared_ptr<const BatchView> v) {
    cache_[v->number] = std::move(v);
    // Bounded cache: keep the batches nearest to the one in view.
    while (cache_.size() > kCacheBatches) {
        auto first = cache_.begin();
        auto last = std::prev(cache_.end());
        const size_t dFirst =
            wantedBatch_ > first->first ? wantedBatch_ - first->first : first->first - wantedBatch_;
        const size_t dLast =
            wantedBatch_ > last->first ? wantedBatch_ - last->first : last->first - wantedBatch_;
        cache_.erase(dFirst >= dLast ? first : last);
    }
    forgetFarResults();
}

void Session::forgetFarResults() {
    // Samples with all their stages weigh a few MiB each: only the batch in
    // view and the next one (prefetched, judged when shown) keep them.
    for (auto& [number, view] : cache_) {
        if (!view->results || number == wantedBatch_ || number == wantedBatch_ + 1) continue;
        if (batchView_ && batchView_->number == number && view == batchView_) continue;
        auto light = std::make_shared<BatchView>(*view);
        light->results.reset();
        view = light;
    }
}

std::shared_ptr<const bs::SampleResult> Session::keptResult(size_t index) const {
    auto v = batchView_;
    if (!v || !v->results || v->config != config_ || v->wholeIndex != index) return nullptr;
    for (size_t i = 0; i < v->results->size(); ++i)
        if ((*v->results)[i].record.index == index)
            // Aliasing: shares ownership of the batch's results.
            return std::shared_ptr<const bs::SampleResult>(v->results, &(*v->results)[i]);
    return nullptr;
}

void Session::deliverBatch(std::shared_ptr<const BatchView> v) {
    batchView_ = std::move(v);
    Q_EMIT batchReady();
    if (!batchView_->judged) judgeBatch(batchView_);
}

void Session::judgeBatch(std::shared_ptr<const BatchView> cur) {
    // Judges the batch that was loaded for the grid: its samples were
    // computed with their stages by the batch job.
    auto ds = dataset_;
    const bs::Pipeline pipeline = pipeline_;
    bs::RandomContext ctx;
    ctx.seed = loaderSettings_.seed;
    ctx.epoch = loaderSettings_.epoch;
    judgeSlot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        std::vector<bs::Finding> found;
        try {
            bool cancelled = false;
            found = judgeSamples(*ds, pipeline, *cur, ctx, cancel, cancelled);
            if (cancelled) return nullptr;
        } catch (const std::exception&) {
            return nullptr;  // the batch stays unjudged
        }
        // Rows for the samples of this batch; dataset-wide kinds judged on
        // one batch alone would mislead, so only sample-level rows stay.
        std::set<size_t> inBatch;
        for (const auto& rec : cur->batch->samples) inBatch.insert(rec.index);
        const size_t number = cur->number;
        auto v = std::make_shared<BatchView>(*cur);
        v->findings.clear();
        for (auto& r : fromEngineFindings(found, [&](size_t i) -> std::optional<size_t> {
                 if (inBatch.count(i)) return number;
                 return std::nullopt;
             }))
            if (r.index >= 0 && inBatch.count(size_t(r.index))) v->findings.push_back(r);
        v->judged = true;
        v->findingCount = findingsPerSample(*v);
        return [this, v] {
            if (v->config != config_) return;
            auto it = cache_.find(v->number);
            if (batchView_ && batchView_->number == v->number) {
                // Keep thumbnails rendered meanwhile (display changes).
                auto merged = std::make_shared<BatchView>(*batchView_);
                merged->findings = v->findings;
                merged->findingCount = v->findingCount;
                merged->judged = true;
                batchView_ = merged;
                if (it != cache_.end()) it->second = merged;
                Q_EMIT findingsUpdated();
            } else if (it != cache_.end()) {
                it->second = v;
            }
        };
    });
}

void Session::prefetchNext() {
    // Only when idle: a user request always has priority over prefetch.
    if (!loader_ || batchSlot_->busy()) return;
    const size_t next = wantedBatch_ + 1;
    if (next >= numBatches() || cache_.count(next)) return;
    startBatchJob(next, true);
}

void Session::renderBatch() {
    auto cur = batchView_;
    if (!cur || !cur->batch) return;
    cache_.clear();  // cached thumbnails were made with the old display settings
    cache_[cur->number] = cur;
    const StageRange best = finalBest(pipeline_, dataset_ ? dataset_->hasRaw() : true);
    const QString label = stageLabel(pipeline_, pipeline_.size());
    const DisplaySettings display = display_;
    thumbSlot_->submit([=](const std::atomic<bool>&) -> AsyncSlot::Continuation {
        auto v = std::make_shared<BatchView>(*cur);
        renderThumbs(*v, best, display, label);  // min/max were measured with the batch
        return [this, v] {
            if (v->config != config_) return;
            cache_[v->number] = v;
            if (batchView_ && batchView_->number == v->number) deliverBatch(v);
        };
    });
}

void Session::requestSample(size_t index) {
    if (!dataset_) return;
    selected_ = index;
    if (auto v = batchView_; v && v->batch)
        for (size_t i = 0; i < v->batch->samples.size(); ++i)
            if (v->batch->samples[i].index == index) selectedRow_ = i;
    auto ds = dataset_;
    const bs::Pipeline pipeline = pipeline_;
    const auto ranges = ranges_;
    const DisplaySettings display = display_;
    const quint64 cfg = config_;
    bs::RandomContext ctx;
    ctx.seed = loaderSettings_.seed;
    ctx.epoch = loaderSettings_.epoch;
    ctx.index = int64_t(index);
    // A sample of the batch in view was computed with it: reuse its result.
    std::shared_ptr<const bs::SampleResult> kept = keptResult(index);
    sampleSlot_->submit([=](const std::atomic<bool>&) -> AsyncSlot::Continuation {
        auto v = std::make_shared<SampleView>();
        v->config = cfg;
        v->index = index;
        v->ranges = ranges;
        try {
            v->result = kept ? kept
                             : std::make_shared<const bs::SampleResult>(
                                   bs::processSample(*ds, pipeline, index, ctx, true));
            fillSampleView(*v, pipeline, display);
        } catch (const std::exception& e) {
            v->error = QString::fromUtf8(e.what());
        }
        return [this, v] {
            if (v->config != config_) return;
            sampleView_ = v;
            Q_EMIT sampleReady();
        };
    });
}

void Session::renderSample() {
    auto cur = sampleView_;
    if (!cur || !cur->result) return;
    const DisplaySettings display = display_;
    const bs::Pipeline pipeline = pipeline_;
    renderSlot_->submit([=](const std::atomic<bool>&) -> AsyncSlot::Continuation {
        auto v = std::make_shared<SampleView>(*cur);
        if (!v->result->output.empty()) renderShownStage(*v, display, pipeline);
        renderStageStrip(*v, display, pipeline);
        return [this, v] {
            if (!sampleView_ || sampleView_->index != v->index || sampleView_->config != v->config)
                return;
            sampleView_ = v;
            Q_EMIT sampleReady();
        };
    });
}

void Session::startAudit() {
    if (!dataset_ || indexing_) return;
    auditing_ = true;
    auditFindings_.clear();
    auditSummary_.clear();
    auto ds = dataset_;
    const bs::Pipeline pipeline = pipeline_;
    bs::AuditOptions opts;
    opts.batchSize = std::max(1, loaderSettings_.batchSize);
    opts.workers = std::max(0, loaderSettings_.workers);
    opts.seed = loaderSettings_.seed;
    const quint64 cfg = config_;
    auto loader = loader_;
    QPointer<QObject> self(this);
    auditSlot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        std::vector<bs::Finding> found;
        QString summary;
        bs::AuditRun run;
        std::shared_ptr<const nlohmann::json> report;
        try {
            bs::AuditEngine engine(pipeline);
            QElapsedTimer last;
            last.start();
            run = bs::runAudit(
                ds, pipeline, opts, engine,
                [&](const bs::AuditProgress& p) {
                    // Throttled: one queued event per 100 ms is plenty for a bar.
                    if (last.elapsed() < 100 && p.done < p.total) return;
                    last.restart();
                    const qulonglong done = p.done, total = p.total;
                    postToGui(self, [self, done, total] {
                        Q_EMIT static_cast<Session*>(self.data())->auditProgress(done, total);
                    });
                },
                &cancel);
            found = engine.findings();
            // Kept for the exports, which then need not audit again.
            bs::ReportContext rc;
            rc.dataset = ds.get();
            rc.pipeline = &pipeline;
            rc.options = opts;
            rc.run = run;
            report = std::make_shared<const nlohmann::json>(bs::buildReport(engine, rc));
            summary = QStringLiteral("%1 of %2 samples in %3 s")
                          .arg(run.scanned)
                          .arg(run.total)
                          .arg(run.seconds, 0, 'f', 1);
        } catch (const std::exception& e) {
            summary = QString::fromUtf8(e.what());
        }
        // The batch of an index follows the loader's order (positions / size).
        std::vector<size_t> batchOfIndex;
        if (loader) {
            const auto& order = loader->order();
            batchOfIndex.assign(order.size(), 0);
            for (size_t p = 0; p < order.size(); ++p)
                if (order[p] < batchOfIndex.size())
                    batchOfIndex[order[p]] = p / size_t(opts.batchSize);
        }
        auto rows = std::make_shared<std::vector<Finding>>(
            fromEngineFindings(found, [&](size_t i) -> std::optional<size_t> {
                if (i < batchOfIndex.size()) return batchOfIndex[i];
                return std::nullopt;
            }));
        const bool cancelled = run.cancelled;
        return [this, rows, cancelled, cfg, summary, report] {
            auditing_ = false;
            auditSummary_ = summary;
            auditReport_ = cancelled ? nullptr : report;
            auditConfig_ = cfg;
            if (cfg == config_) auditFindings_ = std::move(*rows);
            Q_EMIT auditFinished(cancelled);
        };
    });
}

std::shared_ptr<const nlohmann::json> Session::finishedAuditReport() const {
    if (auditing_ || auditConfig_ != config_) return nullptr;
    return auditReport_;
}

void Session::cancelAudit() {
    // The driver stops after the batch in flight; what was scanned so far is
    // still reported (auditFinished(true) follows).
    if (auditing_) auditSlot_->requestStop();
}

}  // namespace bs::ui
