#include "ui/model/model.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "core/audit/anomaly.h"

namespace bs::ui {

int defaultLoaderWorkers() {
    const unsigned cores = std::thread::hardware_concurrency();
    return int(std::clamp(cores, 1u, 4u));
}

std::vector<ChannelRanges> expectedRanges(const bs::Pipeline& pipeline, bool rawInput) {
    std::vector<ChannelRanges> out;
    ChannelRanges cur;
    for (auto& r : cur) r = rawInput ? bs::ValueRange::of(0, 255) : bs::ValueRange::unknown();
    out.push_back(cur);
    for (size_t i = 0; i < pipeline.size(); ++i) {
        ChannelRanges next;
        for (int c = 0; c < 3; ++c) {
            try {
                next[c] = pipeline.stage(i).expectedRange(cur[c], c);
            } catch (...) {
                next[c] = bs::ValueRange::unknown();
            }
        }
        cur = next;
        out.push_back(cur);
    }
    return out;
}

QString stageLabel(const bs::Pipeline& pipeline, size_t k) {
    if (k == 0) return QStringLiteral("input (decoded)");
    if (k > pipeline.size()) return {};
    return QStringLiteral("stage %1 %2")
        .arg(k)
        .arg(QString::fromStdString(pipeline.stage(k - 1).op()));
}

bool expectedDisplay(const ChannelRanges& e, DisplayRange& out) {
    out = DisplayRange();
    out.mode = DisplayRange::Mode::Expected;
    for (int c = 0; c < 3; ++c) {
        if (!e[c].known || !(e[c].hi > e[c].lo)) return false;
        out.lo[c] = e[c].lo;
        out.hi[c] = e[c].hi;
    }
    return true;
}

static bool minMaxRange(const std::vector<double>& mn, const std::vector<double>& mx,
                        DisplayRange& out) {
    if (mn.empty()) return false;
    for (int c = 0; c < 3; ++c) {
        const size_t k = std::min(size_t(c), mn.size() - 1);
        double lo = mn[k], hi = mx[k];
        if (std::isnan(lo) || std::isnan(hi)) lo = 0, hi = 1;
        if (!(hi > lo)) hi = lo + 1e-6;  // constant image: avoid a zero span
        out.lo[c] = lo;
        out.hi[c] = hi;
    }
    return true;
}

DisplayRange resolveRange(const DisplaySettings& d, const ChannelRanges& expected,
                          const QString& label, const std::vector<double>& sampleMin,
                          const std::vector<double>& sampleMax, const std::vector<double>* batchMin,
                          const std::vector<double>* batchMax) {
    DisplayRange r;
    switch (d.mode) {
        case DisplayRange::Mode::Manual:
            r = DisplayRange::uniform(d.manualLo,
                                      d.manualHi > d.manualLo ? d.manualHi : d.manualLo + 1e-6);
            r.origin = QStringLiteral("black/white points set by you");
            return r;
        case DisplayRange::Mode::Batch:
            if (batchMin && minMaxRange(*batchMin, *batchMax, r)) {
                r.mode = DisplayRange::Mode::Batch;
                r.origin = QStringLiteral("actual min/max of the batch");
                return r;
            }
            [[fallthrough]];
        case DisplayRange::Mode::Sample:
            minMaxRange(sampleMin, sampleMax, r);
            r.mode = DisplayRange::Mode::Sample;
            r.origin = QStringLiteral("actual min/max of the sample");
            return r;
        case DisplayRange::Mode::Expected:
            if (expectedDisplay(expected, r)) {
                r.origin = QStringLiteral("expected range after %1").arg(label);
                return r;
            }
            // Never silent: say that the expected range is unknown and what
            // is used instead.
            minMaxRange(sampleMin, sampleMax, r);
            r.mode = DisplayRange::Mode::Sample;
            r.origin = QStringLiteral("expected range after %1 is unknown; using sample min/max")
                           .arg(label);
            return r;
    }
    return r;
}

bool mapTensorToRaw(const bs::Pipeline& pipeline, const bs::SampleResult& s, double& x, double& y) {
    const size_t n = s.stages.size();
    if (n < 1 || s.stages.size() != pipeline.size() + 1) return false;
    const auto& drawn = s.record.drawn;
    for (size_t k = n - 1; k >= 1; --k) {
        const bs::StageValue& in = s.stages[k - 1];
        const bs::StageValue& out = s.stages[k];
        const nlohmann::json d =
            drawn.is_array() && k - 1 < drawn.size() ? drawn[k - 1] : nlohmann::json();
        if (!pipeline.isEnabled(k - 1)) continue;  // a disabled stage passes through
        try {
            if (!pipeline.stage(k - 1).mapToInput(x, y, in.width(), in.height(), out.width(),
                                                  out.height(), d))
                return false;
        } catch (...) {
            return false;
        }
    }
    return true;
}

std::vector<Finding> fromEngineFindings(
    const std::vector<bs::Finding>& in,
    const std::function<std::optional<size_t>(size_t)>& batchOf) {
    std::vector<Finding> out;
    for (const bs::Finding& f : in) {
        Finding base;
        base.severity = f.severity;
        base.kind = QString::fromStdString(f.kind);
        base.stageNumber = f.stageNumber;
        base.stageName = QString::fromStdString(f.stage);
        base.message = QString::fromStdString(f.message);
        if (f.count > f.samples.size() && !f.samples.empty())
            base.message +=
                QStringLiteral(" (%1 samples, first %2 listed)").arg(f.count).arg(f.samples.size());
        if (f.samples.empty()) {
            out.push_back(base);
            continue;
        }
        for (const auto& s : f.samples) {
            Finding r = base;
            r.index = qint64(s.index);
            r.path = QString::fromStdString(s.path);
            if (batchOf)
                if (auto b = batchOf(s.index)) r.batch = qint64(*b);
            out.push_back(r);
        }
    }
    return out;
}

}  // namespace bs::ui
