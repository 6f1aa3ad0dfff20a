// Internal to core/compare: how compare's checks build findings, shared by
// the image checks (compare.cpp) and the target checks (compare_targets.cpp).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/audit/anomaly.h"
#include "core/compare/compare.h"

namespace bs {

constexpr size_t kCompareMaxListed = 20;  // samples listed per finding

// A finding of `kind` (severity from the vocabulary) at `stage`.
Finding makeFinding(const std::string& kind, const std::string& stage, std::string message = {});
// The dumped sample `sc` as a finding's sample: index, path, where it was dumped.
FindingSample findingSample(const CompareSession& s, const SampleComparison& sc,
                            nlohmann::json detail = nlohmann::json::object());
// Counts the sample; lists the first kCompareMaxListed.
void addSample(Finding& f, FindingSample sample);

// The checks of the targets the user's loader yielded (masks, boxes) on
// their own and against the dataset's targets moved by the pipeline.
std::vector<Finding> judgeDumpedTargets(const CompareSession& s,
                                        const std::vector<SampleComparison>& samples);

}  // namespace bs
