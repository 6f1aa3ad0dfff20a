#include "ui/render/sampletargets.h"

#include "core/loader/loader.h"
#include "ui/render/render.h"

namespace bs::ui {

namespace {

// targets[0] sits beside stages[0], the decoded input.
const bs::Target* rawTarget(const bs::SampleResult& r) {
    return r.targets.empty() || r.targets.front().empty() ? nullptr : &r.targets.front();
}

QSize rawSpace(const bs::SampleResult& r) {
    if (!r.raw.empty()) return {r.raw.width, r.raw.height};
    const bs::Target* t = rawTarget(r);
    return t && t->hasMask() ? QSize(t->mask.width, t->mask.height) : QSize();
}

// The tensor's own size; the output mask's when the tensor was not kept.
QSize tensorSpace(const bs::SampleResult& r) {
    const Planes p = planesOf(r.output);
    if (p.w > 0 && p.h > 0) return {p.w, p.h};
    const bs::Target& t = r.outputTarget;
    return t.hasMask() ? QSize(t.mask.width, t.mask.height) : QSize();
}

QImage overlay(const QImage& img, const bs::Target* t, QSize space, const bs::TargetSchema& schema,
               const TargetOverlaySettings& s) {
    if (img.isNull() || !t || t->empty() || space.isEmpty()) return img;
    return paintTarget(img, *t, space, schema, s);
}

}  // namespace

QImage overlayRaw(const QImage& img, const bs::SampleResult& r, const bs::TargetSchema& schema,
                  const TargetOverlaySettings& s) {
    return overlay(img, rawTarget(r), rawSpace(r), schema, s);
}

QImage overlayTensor(const QImage& img, const bs::SampleResult& r, const bs::TargetSchema& schema,
                     const TargetOverlaySettings& s) {
    return overlay(img, &r.outputTarget, tensorSpace(r), schema, s);
}

QImage overlayStage(const QImage& img, const bs::SampleResult& r, size_t stage,
                    const bs::TargetSchema& schema, const TargetOverlaySettings& s) {
    const bs::Target* t = stage < r.targets.size() ? &r.targets[stage] : &r.outputTarget;
    return overlay(img, t, img.size(), schema, s);
}

QString rawClassText(const bs::SampleResult& r, int x, int y, const bs::TargetSchema& schema) {
    const bs::Target* t = rawTarget(r);
    return t ? probeClassText(*t, rawSpace(r), x, y, schema) : QString();
}

QString tensorClassText(const bs::SampleResult& r, int x, int y, const bs::TargetSchema& schema) {
    return probeClassText(r.outputTarget, tensorSpace(r), x, y, schema);
}

}  // namespace bs::ui
