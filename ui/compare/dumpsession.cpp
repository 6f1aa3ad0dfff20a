#include "ui/compare/dumpsession.h"

#include <QPointer>
#include <QThreadPool>

#include <algorithm>
#include <atomic>
#include <cmath>

#include "ui/model/asyncslot.h"
#include "ui/model/model.h"

namespace bs::ui {

namespace {

constexpr int kThumb = 56;

// Black -> red -> orange -> pale yellow: monotonic in brightness, so a
// larger difference always reads brighter (also in grayscale prints).
}  // namespace

QRgb heatColor(double t) {
    if (!(t > 0)) return qRgb(0, 0, 0);
    t = std::min(t, 1.0);
    struct Stop {
        double t;
        int r, g, b;
    };
    static const Stop stops[] = {
        {0.0, 0, 0, 0}, {0.35, 180, 20, 20}, {0.7, 255, 150, 0}, {1.0, 255, 255, 210}};
    for (int i = 1; i < 4; ++i)
        if (t <= stops[i].t) {
            const Stop &a = stops[i - 1], &b = stops[i];
            const double f = (t - a.t) / (b.t - a.t);
            return qRgb(int(a.r + f * (b.r - a.r) + 0.5), int(a.g + f * (b.g - a.g) + 0.5),
                        int(a.b + f * (b.b - a.b) + 0.5));
        }
    return qRgb(255, 255, 210);
}

namespace {

// |user - reference| as a heatmap: the largest channel difference per pixel
// (or one channel), 0 -> black, `hi` -> white-yellow; NaN in magenta.
QImage renderHeat(const bs::Tensor& absDiff, int solo, double hi) {
    const Planes p = planesOf(absDiff);
    if (p.c <= 0 || p.h <= 0 || p.w <= 0 ||
        absDiff.values.size() < size_t(p.c) * size_t(p.h) * size_t(p.w))
        return {};
    QImage out(p.w, p.h, QImage::Format_RGB32);
    const size_t plane = size_t(p.h) * size_t(p.w);
    for (int y = 0; y < p.h; ++y) {
        auto* line = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 0; x < p.w; ++x) {
            const size_t px = size_t(y) * size_t(p.w) + size_t(x);
            float v = 0;
            bool nan = false;
            for (int c = 0; c < p.c; ++c) {
                if (solo >= 0 && c != solo) continue;
                const float d = absDiff.values[size_t(c) * plane + px];
                if (std::isnan(d))
                    nan = true;
                else
                    v = std::max(v, d);
            }
            line[x] = nan ? qRgb(255, 0, 255) : heatColor(hi > 0 ? v / hi : 0.0);
        }
    }
    return out;
}

// Joint per-channel min/max of both tensors: one mapping for both, so equal
// values look equal.
DisplayRange jointRange(const bs::Tensor& a, const bs::Tensor& b) {
    ChannelExtent joint = tensorExtent(a);
    if (!b.empty()) joinExtent(joint, tensorExtent(b));
    const std::vector<double>& mn = joint.min;
    const std::vector<double>& mx = joint.max;
    DisplayRange r = DisplayRange::uniform(0, 1, DisplayRange::Mode::Sample);
    for (int c = 0; c < 3 && !mn.empty(); ++c) {
        const size_t k = std::min(size_t(c), mn.size() - 1);
        double lo = mn[k], hi = mx[k];
        if (std::isnan(lo) || std::isnan(hi)) lo = 0, hi = 1;
        if (!(hi > lo)) hi = lo + 1;
        r.lo[size_t(c)] = lo;
        r.hi[size_t(c)] = hi;
    }
    r.origin = QStringLiteral("min/max of both tensors, same mapping for both");
    return r;
}

}  // namespace

DumpSession::DumpSession(QObject* parent) : QObject(parent), pool_(new QThreadPool(this)) {
    pool_->setMaxThreadCount(2);
    openSlot_ = new AsyncSlot(pool_, this);
    sampleSlot_ = new AsyncSlot(pool_, this);
    thumbSlot_ = new AsyncSlot(pool_, this);
    reportSlot_ = new AsyncSlot(pool_, this);
}

DumpSession::~DumpSession() {
    // Stop the comparison before the pool waits for its threads.
    for (AsyncSlot* s : {openSlot_, sampleSlot_, thumbSlot_, reportSlot_}) s->cancel();
    pool_->waitForDone();
}

bool DumpSession::idle() const {
    return !openSlot_->busy() && !sampleSlot_->busy() && !thumbSlot_->busy() &&
           !reportSlot_->busy();
}

size_t DumpSession::numBatches() const {
    return core_ ? core_->manifest().batches.size() : 0;
}

void DumpSession::open(const QString& dir, const QString& pipelineFile,
                       const QString& datasetRoot) {
    // Drop everything about the previous dump at once.
    for (AsyncSlot* s : {sampleSlot_, thumbSlot_, reportSlot_}) s->cancel();
    core_.reset();
    report_.reset();
    thumbs_.clear();
    thumbsBatch_ = size_t(-1);
    shown_.reset();
    bs::CompareOptions options;
    options.pipelineFile = pipelineFile.toStdString();
    options.datasetRoot = datasetRoot.toStdString();
    const std::string path = dir.toStdString();
    QPointer<DumpSession> self(this);
    openSlot_->submit([self, path, options](const std::atomic<bool>&) -> AsyncSlot::Continuation {
        std::shared_ptr<const bs::CompareSession> s;
        QString err;
        try {
            s = std::make_shared<const bs::CompareSession>(path, options);
        } catch (const std::exception& e) {
            err = QString::fromStdString(e.what());
        }
        return [self, s, err] {
            if (!self) return;
            if (!s) {
                Q_EMIT self->openFailed(err);
                return;
            }
            self->core_ = s;
            Q_EMIT self->opened();
        };
    });
}

void DumpSession::requestSample(size_t b, int r, int solo, bool expected) {
    if (!core_ || b >= numBatches()) return;
    auto s = core_;
    QPointer<DumpSession> self(this);
    sampleSlot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        auto out = std::make_shared<CompareShown>();
        out->batch = b;
        out->row = r;
        const auto& info = s->manifest().batches[b];
        out->epoch = info.epoch;
        out->index = size_t(r) < info.indices.size() ? info.indices[size_t(r)] : -1;
        try {
            out->user = s->userSample(b, size_t(r));
        } catch (const std::exception& e) {
            out->userError = QString::fromStdString(e.what());
        }
        if (cancel) return nullptr;
        try {
            out->repro = s->reproduce(out->index, info.epoch);
        } catch (const std::exception& e) {
            out->reproError = QString::fromStdString(e.what());
        }
        if (cancel) return nullptr;
        const double tol = s->options().tolerance;
        if (!out->user.empty() && !out->repro.empty()) {
            out->diff = bs::diffTensors(out->user, out->repro, tol);
            out->compared = out->diff.shapeMatch;
            if (out->compared)
                out->absDiff = bs::absDifference(out->user, out->repro);
            else
                out->note = QStringLiteral("shapes differ: user %1, batchscope %2")
                                .arg(QString::fromStdString(bs::shapeToString(out->user.shape)),
                                     QString::fromStdString(bs::shapeToString(out->repro.shape)));
        }
        if (!s->reproducible() && out->note.isEmpty())
            out->note = s->unknownStages().empty()
                            ? QStringLiteral(
                                  "random pipeline: a different draw than the user's "
                                  "is expected")
                            : QStringLiteral(
                                  "the pipeline has stages batchscope cannot "
                                  "reproduce");
        // One mapping for both tensors.
        DisplayRange range = jointRange(out->user, out->repro);
        if (expected) {
            DisplayRange e;
            const auto ranges = expectedRanges(s->pipeline(), true);
            if (!ranges.empty() && expectedDisplay(ranges.back(), e)) {
                e.origin = QStringLiteral("expected range of batchscope's pipeline");
                range = e;
            } else {
                range.origin = QStringLiteral("expected range unknown: ") + range.origin;
            }
        }
        out->range = range;
        RenderOptions ro;
        ro.range = range;
        ro.solo = solo;
        if (!out->user.empty()) out->userImage = renderTensor(out->user, ro);
        if (!out->repro.empty()) out->reproImage = renderTensor(out->repro, ro);
        if (out->compared) {
            out->heatHi = std::max(out->diff.maxAbs, tol);
            out->heatImage = renderHeat(out->absDiff, solo, out->heatHi);
        }
        return [self, out] {
            if (!self) return;
            self->shown_ = out;
            Q_EMIT self->sampleReady();
        };
    });
}

void DumpSession::requestThumbs(size_t b) {
    if (!core_ || b >= numBatches()) return;
    auto s = core_;
    QPointer<DumpSession> self(this);
    thumbSlot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        std::vector<QImage> thumbs;
        try {
            const auto& data = s->batchData(b);
            const size_t n = data.rows();
            for (size_t r = 0; r < n && !cancel; ++r) {
                const bs::Tensor t = data.image(r);
                RenderOptions ro;
                ro.range = jointRange(t, bs::Tensor());
                thumbs.push_back(renderTensor(t, ro).scaled(
                    kThumb, kThumb, Qt::KeepAspectRatio,
                    t.shape.size() >= 2 && t.shape.back() < kThumb ? Qt::FastTransformation
                                                                   : Qt::SmoothTransformation));
            }
        } catch (const std::exception&) {
            // The sample view reports the error.
        }
        return [self, b, thumbs] {
            if (!self) return;
            self->thumbs_ = thumbs;
            self->thumbsBatch_ = b;
            Q_EMIT self->thumbsReady();
        };
    });
}

void DumpSession::startReport() {
    auto s = core_;
    if (!s) return;
    QPointer<DumpSession> self(this);
    auto last = std::make_shared<std::atomic<qint64>>(-1);
    reportSlot_->submit([=](const std::atomic<bool>& cancel) -> AsyncSlot::Continuation {
        auto report = std::make_shared<bs::CompareReport>(s->run([&](size_t done, size_t total) {
            // Throttle: one GUI update per percent.
            const qint64 pct = total ? qint64(done * 100 / total) : 0;
            if (pct != last->exchange(pct))
                postToGui(QPointer<QObject>(self.data()), [self, done, total] {
                    if (self) Q_EMIT self->reportProgress(done, total);
                });
            return !cancel.load();
        }));
        if (cancel) return nullptr;
        return [self, report, s] {
            if (!self || self->core_ != s) return;
            self->report_ = report;
            Q_EMIT self->reportReady();
        };
    });
}

}  // namespace bs::ui
