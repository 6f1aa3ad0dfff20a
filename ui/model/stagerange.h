// The stage the sample view shows and the range it is displayed against.
//
// The best-known expected range of a stage value: what the stage's own maths
// predicts from its input; where that is unknown (after a Lambda or a
// TorchScript module), what the next stage is written for (Normalize with
// mean/std on the [0, 1] scale expects [0, 1]); stages after it follow from
// there. Every range carries the sentence that says where it comes from.
#pragma once

#include <QString>

#include <vector>

#include "ui/model/model.h"

namespace bs::ui {

// One entry per stage value: 0 = the decoded input, k = after transform k.
std::vector<StageRange> bestKnownRanges(const bs::Pipeline& pipeline, bool rawInput);

// The input range a stage is written for, when its parameters say so (a
// Normalize whose mean/std are on the [0, 1] or the [0, 255] scale).
bool impliedInputRange(const bs::Pipeline& pipeline, size_t transform, bs::ValueRange& out);

// The display mapping for one stage value under the user's settings: the
// best-known range in "expected" mode; where no stage says what to expect,
// the range of the whole batch (final stage only), else the sample's own.
DisplayRange resolveStageRange(const DisplaySettings& d, const StageRange& best,
                               const QString& stageLabel, const std::vector<double>& sampleMin,
                               const std::vector<double>& sampleMax,
                               const std::vector<double>* batchMin = nullptr,
                               const std::vector<double>* batchMax = nullptr);

// Renders the stage `display.stage` of `v.result` (the final one when -1 or
// out of reach) into v.tensor, with its range, counts and histogram.
void renderShownStage(SampleView& v, const DisplaySettings& display, const bs::Pipeline& pipeline);
// The stage strip: every stage value, each against its own best-known range
// (or the fixed range when that is the display mode).
void renderStageStrip(SampleView& v, const DisplaySettings& display, const bs::Pipeline& pipeline);

// Maps a point of stage value `k` back to the raw image (as mapTensorToRaw
// does for the final tensor). False in padding or without stages.
bool mapStageToRaw(const bs::Pipeline& pipeline, const bs::SampleResult& sample, size_t k,
                   double& x, double& y);

}  // namespace bs::ui
