#include "ui/model/session.h"

#include <QElapsedTimer>
#include <QThreadPool>

#include <chrono>
#include <set>

#include "core/audit/anomaly.h"
#include "core/audit/audit.h"
#include "core/dataset/dataset.h"
#include "core/loader/loader.h"

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

void renderThumbs(BatchView& v, const ChannelRanges& expected, const DisplaySettings& display,
                  const QString& label) {
    const bs::Batch& b = *v.batch;
    v.thumbs.assign(b.samples.size(), QImage());
    v.thumbsOverlay.assign(b.samples.size(), QImage());
    const Planes p = planesOf(b.data);
    const size_t plane = size_t(p.h) * p.w;
    if (b.data.values.size() < size_t(p.n) * p.c * plane) return;
    for (size_t row = 0; row < b.stacked.size() && int64_t(row) < p.n; ++row) {
        const float* data = b.data.values.data() + row * size_t(p.c) * plane;
        bs::Tensor one;  // min/max of this row only, for the "sample" mode
        std::vector<double> mn, mx;
        one.shape = {p.c, p.h, p.w};
        one.values.assign(data, data + size_t(p.c) * plane);
        channelMinMax(one, mn, mx);
        RenderOptions ro;
        ro.range = resolveRange(display, expected, label, mn, mx, &v.batchMin, &v.batchMax);
        ro.solo = display.solo;
        if (row == 0) v.range = ro.range;
        v.thumbs[b.stacked[row]] = thumbnail(renderPlanes(data, p.c, p.h, p.w, ro));
        ro.overlay = true;
        v.thumbsOverlay[b.stacked[row]] = thumbnail(renderPlanes(data, p.c, p.h, p.w, ro));
    }
}

QImage stripImage(const QImage& full) {
    if (full.isNull()) return {};
    const auto mode = full.height() < 80 ? Qt::FastTransformation : Qt::SmoothTransformation;
    return full.scaledToHeight(80, mode);
}

void renderSampleTensor(SampleView& v, const DisplaySettings& display, const QString& label) {
    const bs::SampleResult& r = *v.result;
    std::vector<double> mn, mx;
    channelMinMax(r.output, mn, mx);
    RenderOptions ro;
    const ChannelRanges& exp = v.ranges.empty() ? ChannelRanges{} : v.ranges.back();
    ro.range = resolveRange(display, exp, label, mn, mx);
    ro.solo = display.solo;
    ro.overlay = display.overlay;
    v.range = ro.range;
    v.tensor = renderTensor(r.output, ro, &v.counts);
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

void Session::open(const QString& path) {
    QPointer<QObject> self(this);
    const std::string p = path.toStdString();
    openSlot_->submit([self, p, path](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        bs::OpenOptions opts;
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
            if (!ds) {
                Q_EMIT s->openFailed(error.isEmpty() ? QStringLiteral("cannot open %1").arg(path)
                                                     : error);
                return;
            }
            s->dataset_ = ds;
            s->path_ = path;
            s->auditFindings_.clear();
            s->selected_.reset();
            s->sampleView_.reset();
            s->batchView_.reset();
            s->wantedBatch_ = 0;
            s->rebuildLoader();
            Q_EMIT s->opened();
            s->requestBatch(0);
        };
    });
    Q_EMIT busyChanged();
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
    display_ = d;
    if (batchView_) renderBatch();
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
    const bs::Pipeline pipeline = pipeline_;
    const ChannelRanges expected = ranges_.empty() ? ChannelRanges{} : ranges_.back();
    const QString label = stageLabel(pipeline_, pipeline_.size());
    const DisplaySettings display = display_;
    const quint64 cfg = config_;
    const size_t nb = numBatches();
    batchSlot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        auto v = std::make_shared<BatchView>();
        v->config = cfg;
        v->number = b;
        v->numBatches = nb;
        QString error;
        try {
            auto batch = std::make_shared<bs::Batch>(loader->batch(b, &cancel));
            if (cancel.load()) return nullptr;
            v->batch = batch;
            std::vector<OverlayCounts> counts;
            v->findings = batchFindings(*batch, pipeline, expected, &counts);
            v->counts = counts;
            v->findingCount.assign(batch->samples.size(), 0);
            for (const auto& f : v->findings)
                for (size_t i = 0; i < batch->samples.size(); ++i)
                    if (f.index >= 0 && batch->samples[i].index == size_t(f.index))
                        ++v->findingCount[i];
            channelMinMax(batch->data, v->batchMin, v->batchMax);
            renderThumbs(*v, expected, display, label);
            DisplayRange exp;
            const bool known = expectedDisplay(expected, exp);
            v->histogram = computeHistogramAuto(batch->data, 128, known ? &exp : nullptr);
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
            cache_[v->number] = v;
            // Bounded cache: keep the batches nearest to the one in view.
            while (cache_.size() > kCacheBatches) {
                auto first = cache_.begin();
                auto last = std::prev(cache_.end());
                const size_t dFirst = wantedBatch_ > first->first ? wantedBatch_ - first->first
                                                                  : first->first - wantedBatch_;
                const size_t dLast = wantedBatch_ > last->first ? wantedBatch_ - last->first
                                                                : last->first - wantedBatch_;
                cache_.erase(dFirst >= dLast ? first : last);
            }
            if (v->number == wantedBatch_) deliverBatch(v);
            prefetchNext();
        };
    });
    (void)prefetch;
}

void Session::deliverBatch(std::shared_ptr<const BatchView> v) {
    batchView_ = std::move(v);
    Q_EMIT batchReady();
    if (!batchView_->judged) judgeBatch(batchView_);
}

void Session::judgeBatch(std::shared_ptr<const BatchView> cur) {
    // The anomaly engine needs every intermediate stage, which the loader's
    // batch does not keep: the batch's samples are recomputed with
    // keepStages here, after the batch is already on screen.
    auto ds = dataset_;
    const bs::Pipeline pipeline = pipeline_;
    bs::RandomContext ctx;
    ctx.seed = loaderSettings_.seed;
    ctx.epoch = loaderSettings_.epoch;
    const size_t bsz = size_t(std::max(1, loaderSettings_.batchSize));
    judgeSlot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        std::vector<bs::Finding> found;
        try {
            bs::AuditEngine engine(pipeline);
            // Paths for grouped findings, and which source modes are native
            // (gray IDX/NumPy is not a mode conversion).
            engine.observeDataset(*ds);
            for (const auto& rec : cur->batch->samples) {
                if (cancel.load()) return nullptr;
                engine.observeSample(bs::processSample(*ds, pipeline, rec.index, ctx, true));
            }
            engine.observeBatch(*cur->batch);
            engine.finish();
            found = engine.findings();
        } catch (const std::exception&) {
            return nullptr;  // the batch's own findings stay
        }
        // Engine rows for the samples of this batch; dataset-wide kinds judged
        // on one batch alone would mislead, so only sample-level rows stay.
        std::set<size_t> inBatch;
        for (const auto& rec : cur->batch->samples) inBatch.insert(rec.index);
        const size_t number = cur->number;
        auto rows = fromEngineFindings(&found, [&](size_t i) -> std::optional<size_t> {
            if (inBatch.count(i)) return number;
            return std::nullopt;
        });
        auto v = std::make_shared<BatchView>(*cur);
        std::set<std::pair<QString, qint64>> seen;
        for (const auto& f : v->findings) seen.insert({f.kind, f.index});
        for (auto& r : rows) {
            if (r.index < 0 || !inBatch.count(size_t(r.index))) continue;
            if (seen.count({r.kind, r.index})) continue;
            // Load errors are already listed by the batch itself.
            bool dup = false;
            for (const auto& f : v->findings)
                if (f.index == r.index && f.stage < 0 && r.stage < 0 &&
                    f.severity == Finding::Severity::Error)
                    dup = true;
            if (dup) continue;
            seen.insert({r.kind, r.index});
            v->findings.push_back(r);
        }
        v->judged = true;
        v->findingCount.assign(v->batch->samples.size(), 0);
        for (const auto& f : v->findings)
            for (size_t i = 0; i < v->batch->samples.size(); ++i)
                if (f.index >= 0 && v->batch->samples[i].index == size_t(f.index))
                    ++v->findingCount[i];
        (void)bsz;
        return [this, v] {
            if (v->config != config_) return;
            auto it = cache_.find(v->number);
            if (it != cache_.end()) it->second = v;
            if (batchView_ && batchView_->number == v->number) {
                // Keep thumbnails rendered meanwhile (display changes).
                auto merged = std::make_shared<BatchView>(*batchView_);
                merged->findings = v->findings;
                merged->findingCount = v->findingCount;
                merged->judged = true;
                batchView_ = merged;
                if (it != cache_.end()) it->second = merged;
                Q_EMIT findingsUpdated();
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
    const ChannelRanges expected = ranges_.empty() ? ChannelRanges{} : ranges_.back();
    const QString label = stageLabel(pipeline_, pipeline_.size());
    const DisplaySettings display = display_;
    thumbSlot_->submit([=](const std::atomic<bool>&) -> AsyncSlot::Continuation {
        auto v = std::make_shared<BatchView>(*cur);
        renderThumbs(*v, expected, display, label);
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
    auto ds = dataset_;
    const bs::Pipeline pipeline = pipeline_;
    const auto ranges = ranges_;
    const DisplaySettings display = display_;
    const quint64 cfg = config_;
    bs::RandomContext ctx;
    ctx.seed = loaderSettings_.seed;
    ctx.epoch = loaderSettings_.epoch;
    ctx.index = int64_t(index);
    sampleSlot_->submit([=](const std::atomic<bool>&) -> AsyncSlot::Continuation {
        auto v = std::make_shared<SampleView>();
        v->config = cfg;
        v->index = index;
        v->ranges = ranges;
        try {
            auto r = std::make_shared<bs::SampleResult>(
                bs::processSample(*ds, pipeline, index, ctx, true));
            v->result = r;
            if (!r->record.error.empty()) v->error = QString::fromStdString(r->record.error);
            v->raw = toQImage(r->raw);
            if (!r->raw.empty())
                v->rawHistogram =
                    computeHistogram(bs::asTensor(bs::StageValue::fromImage(r->raw)), 256, 0, 256);
            if (!r->output.empty()) {
                renderSampleTensor(*v, display, stageLabel(pipeline, pipeline.size()));
                DisplayRange exp;
                const bool known = !ranges.empty() && expectedDisplay(ranges.back(), exp);
                v->tensorHistogram = computeHistogramAuto(r->output, 128, known ? &exp : nullptr);
            }
            for (size_t k = 0; k < r->stages.size(); ++k) {
                const bs::StageValue& sv = r->stages[k];
                QImage img;
                if (sv.isImage()) {
                    img = toQImage(sv.image);
                } else {
                    std::vector<double> mn, mx;
                    channelMinMax(sv.tensor, mn, mx);
                    RenderOptions ro;
                    DisplaySettings d;
                    ro.range = resolveRange(d, k < ranges.size() ? ranges[k] : ChannelRanges{},
                                            stageLabel(pipeline, k), mn, mx);
                    img = renderTensor(sv.tensor, ro);
                }
                v->strip.push_back(stripImage(img));
                QString lbl = k == 0 ? QStringLiteral("input")
                                     : QString::fromStdString(pipeline.stage(k - 1).op());
                lbl += QStringLiteral("\n%1×%2×%3")
                           .arg(sv.channels())
                           .arg(sv.height())
                           .arg(sv.width());
                v->stripLabels.push_back(lbl);
            }
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
    const QString label = stageLabel(pipeline_, pipeline_.size());
    renderSlot_->submit([=](const std::atomic<bool>&) -> AsyncSlot::Continuation {
        auto v = std::make_shared<SampleView>(*cur);
        if (!v->result->output.empty()) renderSampleTensor(*v, display, label);
        return [this, v] {
            if (!sampleView_ || sampleView_->index != v->index || sampleView_->config != v->config)
                return;
            sampleView_ = v;
            Q_EMIT sampleReady();
        };
    });
}

void Session::startAudit() {
    if (!dataset_) return;
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
            fromEngineFindings(&found, [&](size_t i) -> std::optional<size_t> {
                if (i < batchOfIndex.size()) return batchOfIndex[i];
                return std::nullopt;
            }));
        const bool cancelled = run.cancelled;
        return [this, rows, cancelled, cfg, summary] {
            auditing_ = false;
            auditSummary_ = summary;
            if (cfg == config_) auditFindings_ = std::move(*rows);
            Q_EMIT auditFinished(cancelled);
        };
    });
}

void Session::cancelAudit() {
    // The driver stops after the batch in flight; what was scanned so far is
    // still reported (auditFinished(true) follows).
    if (auditing_) auditSlot_->requestStop();
}

}  // namespace bs::ui
