#include "ui/model/model.h"

#include <cmath>

#include "core/audit/anomaly.h"

namespace bs::ui {

QString Finding::severityName(Severity s) {
    switch (s) {
        case Severity::Error:
            return QStringLiteral("error");
        case Severity::Warning:
            return QStringLiteral("warning");
        default:
            return QStringLiteral("info");
    }
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

std::vector<Finding> batchFindings(const bs::Batch& batch, const bs::Pipeline& pipeline,
                                   const ChannelRanges& expected,
                                   std::vector<OverlayCounts>* perSample) {
    std::vector<Finding> out;
    if (perSample) perSample->assign(batch.samples.size(), {});
    DisplayRange exp;
    const bool known = expectedDisplay(expected, exp);
    const int last = int(pipeline.size()) - 1;
    const QString lastName =
        last >= 0 ? QString::fromStdString(pipeline.stage(size_t(last)).op()) : QString();
    for (const auto& rec : batch.samples) {
        if (rec.error.empty()) continue;
        Finding f;
        f.severity = Finding::Severity::Error;
        f.kind = QString::fromStdString(rec.errorKind.empty() ? "error" : rec.errorKind);
        f.batch = qint64(batch.number);
        f.index = qint64(rec.index);
        f.stage = rec.errorStage;
        if (rec.errorStage >= 0 && size_t(rec.errorStage) < pipeline.size())
            f.stageName = QString::fromStdString(pipeline.stage(size_t(rec.errorStage)).op());
        f.message = QString::fromStdString(rec.error);
        f.path = QString::fromStdString(rec.path);
        out.push_back(f);
    }
    if (batch.collateError) {
        Finding f;
        f.severity = Finding::Severity::Error;
        f.kind = QStringLiteral("collate");
        f.batch = qint64(batch.number);
        f.message = QString::fromStdString(batch.collateError->message);
        out.push_back(f);
    }
    const Planes p = planesOf(batch.data);
    const size_t plane = size_t(p.h) * p.w;
    if (batch.data.values.size() < size_t(p.n) * p.c * plane) return out;
    RenderOptions ro;
    ro.range = exp;
    for (size_t row = 0; row < batch.stacked.size() && int64_t(row) < p.n; ++row) {
        const auto& rec = batch.samples[batch.stacked[row]];
        OverlayCounts cnt;
        const float* data = batch.data.values.data() + row * size_t(p.c) * plane;
        if (known) {
            // Classify only; the picture is not needed here. Counting with
            // the renderer keeps findings and overlay consistent.
            renderPlanes(data, p.c, p.h, p.w, ro, &cnt);
        } else {
            for (size_t i = 0; i < plane * size_t(p.c); ++i) {
                if (std::isnan(data[i]))
                    ++cnt.nan;
                else if (std::isinf(data[i]))
                    ++cnt.inf;
            }
        }
        if (perSample) (*perSample)[batch.stacked[row]] = cnt;
        auto add = [&](Finding::Severity sev, const QString& kind, const QString& msg) {
            Finding f;
            f.severity = sev;
            f.kind = kind;
            f.batch = qint64(batch.number);
            f.index = qint64(rec.index);
            f.stage = last;
            f.stageName = lastName;
            f.message = msg;
            f.path = QString::fromStdString(rec.path);
            out.push_back(f);
        };
        if (cnt.nan)
            add(Finding::Severity::Error, "nan",
                QStringLiteral("%1 pixels are NaN after %2").arg(cnt.nan).arg(lastName));
        if (cnt.inf)
            add(Finding::Severity::Error, "inf",
                QStringLiteral("%1 pixels are infinite after %2").arg(cnt.inf).arg(lastName));
        if (cnt.below || cnt.above)
            add(Finding::Severity::Warning, "out_of_range",
                QStringLiteral("%1 pixels below and %2 above the expected range %3 after %4")
                    .arg(cnt.below)
                    .arg(cnt.above)
                    .arg(exp.spanText())
                    .arg(lastName));
    }
    return out;
}

std::vector<Finding> fromEngineFindings(
    const void* engineFindings, const std::function<std::optional<size_t>(size_t)>& batchOf) {
    // Typed as void* in the header so that model.h (read by moc through
    // session.h) stays free of the engine's header.
    const auto& in = *static_cast<const std::vector<bs::Finding>*>(engineFindings);
    std::vector<Finding> out;
    for (const bs::Finding& f : in) {
        Finding base;
        base.severity = f.severity == bs::Severity::Error     ? Finding::Severity::Error
                        : f.severity == bs::Severity::Warning ? Finding::Severity::Warning
                                                              : Finding::Severity::Info;
        base.kind = QString::fromStdString(f.kind);
        const QString stage = QString::fromStdString(f.stage);
        bool ok = false;
        const int k = stage.section(':', 0, 0).toInt(&ok);
        if (ok && k >= 1) {
            base.stage = k - 1;
            base.stageName = stage.section(':', 1);
        } else {
            base.stageName = stage;
        }
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
