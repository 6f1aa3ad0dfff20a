#include "ui/model/stagerange.h"

#include <algorithm>
#include <cmath>

namespace bs::ui {

namespace {

bool allKnown(const ChannelRanges& r) {
    for (const auto& c : r)
        if (!c.known || !(c.hi > c.lo)) return false;
    return true;
}

QString opName(const bs::Pipeline& p, size_t transform) {
    return QString::fromStdString(p.stage(transform).op());
}

}  // namespace

bool impliedInputRange(const bs::Pipeline& pipeline, size_t transform, bs::ValueRange& out) {
    if (transform >= pipeline.size()) return false;
    const bs::NormalizeParams* n = pipeline.stage(transform).normalization();
    if (!n) return false;
    out = n->intendedInput();
    return out.known;
}

std::vector<StageRange> bestKnownRanges(const bs::Pipeline& pipeline, bool rawInput) {
    std::vector<StageRange> out;
    StageRange cur;
    for (auto& r : cur.range) r = rawInput ? bs::ValueRange::of(0, 255) : bs::ValueRange::unknown();
    cur.known = rawInput;
    cur.origin = rawInput ? QStringLiteral("8-bit decoded image") : QString();
    out.push_back(cur);
    for (size_t i = 0; i < pipeline.size(); ++i) {
        StageRange next;
        for (int c = 0; c < 3; ++c) {
            try {
                next.range[c] = pipeline.stage(i).expectedRange(cur.range[c], c);
            } catch (const std::exception&) {
                next.range[c] = bs::ValueRange::unknown();
            }
        }
        next.known = allKnown(next.range);
        next.origin =
            QStringLiteral("expected range after stage %1 %2").arg(i + 1).arg(opName(pipeline, i));
        bs::ValueRange implied;
        if (!next.known && impliedInputRange(pipeline, i + 1, implied)) {
            for (auto& r : next.range) r = implied;
            next.known = true;
            next.origin = QStringLiteral(
                              "stage %1 %2 gives no range; what stage %3 %4 expects as input "
                              "(its mean/std are on the [%5, %6] scale)")
                              .arg(i + 1)
                              .arg(opName(pipeline, i))
                              .arg(i + 2)
                              .arg(opName(pipeline, i + 1))
                              .arg(implied.lo)
                              .arg(implied.hi);
        }
        out.push_back(next);
        cur = next;
    }
    return out;
}

DisplayRange resolveStageRange(const DisplaySettings& d, const StageRange& best,
                               const QString& label, const std::vector<double>& sampleMin,
                               const std::vector<double>& sampleMax,
                               const std::vector<double>* batchMin,
                               const std::vector<double>* batchMax) {
    if (d.mode != DisplayRange::Mode::Expected)
        return resolveRange(d, best.range, label, sampleMin, sampleMax, batchMin, batchMax);
    DisplayRange r;
    if (best.known && expectedDisplay(best.range, r)) {
        r.origin = best.origin;
        return r;
    }
    // No stage says what to expect: the batch in view is the next best
    // reference (a sample far from its batch still looks different).
    DisplaySettings batch = d;
    batch.mode = batchMin ? DisplayRange::Mode::Batch : DisplayRange::Mode::Sample;
    r = resolveRange(batch, best.range, label, sampleMin, sampleMax, batchMin, batchMax);
    r.origin = QStringLiteral("expected range after %1 is unknown; %2").arg(label, r.origin);
    return r;
}

void renderShownStage(SampleView& v, const DisplaySettings& display, const bs::Pipeline& pipeline) {
    const bs::SampleResult& r = *v.result;
    const int last = int(r.stages.size()) - 1;
    const bool useStage = display.stage >= 0 && display.stage < last;
    v.stage = useStage ? display.stage : std::max(0, last);
    v.shown = useStage ? bs::asTensor(r.stages[size_t(v.stage)]) : r.output;
    v.stageName = stageLabel(pipeline, size_t(v.stage));
    if (v.best.empty()) v.best = bestKnownRanges(pipeline, !r.raw.empty());
    const StageRange best =
        size_t(v.stage) < v.best.size() ? v.best[size_t(v.stage)] : StageRange();
    const ChannelExtent extent = tensorExtent(v.shown);
    RenderOptions ro;
    ro.range = resolveStageRange(display, best, v.stageName, extent.min, extent.max);
    ro.solo = display.solo;
    ro.overlay = display.overlay;
    v.range = ro.range;
    v.tensor = renderTensor(v.shown, ro, &v.counts);
    DisplayRange exp;
    const bool known = best.known && expectedDisplay(best.range, exp);
    v.tensorHistogram = computeHistogramAuto(v.shown, known ? &exp : nullptr, &extent);
}

void renderStageStrip(SampleView& v, const DisplaySettings& display, const bs::Pipeline& pipeline) {
    const bs::SampleResult& r = *v.result;
    if (v.best.empty()) v.best = bestKnownRanges(pipeline, !r.raw.empty());
    v.strip.clear();
    v.stripLabels.clear();
    for (size_t k = 0; k < r.stages.size(); ++k) {
        const bs::StageValue& sv = r.stages[k];
        QImage img;
        if (sv.isImage()) {
            img = toQImage(sv.image);
        } else {
            const ChannelExtent extent = tensorExtent(sv.tensor);
            DisplaySettings d;
            if (display.mode == DisplayRange::Mode::Manual) d = display;
            d.solo = display.solo;
            RenderOptions ro;
            ro.range = resolveStageRange(d, k < v.best.size() ? v.best[k] : StageRange(),
                                         stageLabel(pipeline, k), extent.min, extent.max);
            ro.solo = display.solo;
            img = renderTensor(sv.tensor, ro);
        }
        const auto mode = img.height() < 80 ? Qt::FastTransformation : Qt::SmoothTransformation;
        v.strip.push_back(img.isNull() ? img : img.scaledToHeight(80, mode));
        QString lbl = k == 0 ? QStringLiteral("input")
                             : QStringLiteral("%1 %2").arg(k).arg(opName(pipeline, k - 1));
        lbl += QStringLiteral("\n%1×%2×%3").arg(sv.channels()).arg(sv.height()).arg(sv.width());
        v.stripLabels.push_back(lbl);
    }
}

bool mapStageToRaw(const bs::Pipeline& pipeline, const bs::SampleResult& s, size_t k, double& x,
                   double& y) {
    if (s.stages.size() != pipeline.size() + 1 || k >= s.stages.size()) return false;
    const auto& drawn = s.record.drawn;
    for (size_t j = k; j >= 1; --j) {
        if (!pipeline.isEnabled(j - 1)) continue;  // a disabled stage passes through
        const bs::StageValue& in = s.stages[j - 1];
        const bs::StageValue& out = s.stages[j];
        const nlohmann::json d =
            drawn.is_array() && j - 1 < drawn.size() ? drawn[j - 1] : nlohmann::json();
        try {
            if (!pipeline.stage(j - 1).mapToInput(x, y, in.width(), in.height(), out.width(),
                                                  out.height(), d))
                return false;
        } catch (const std::exception&) {
            return false;
        }
    }
    return true;
}

}  // namespace bs::ui
