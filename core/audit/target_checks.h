// The judge's rules for targets (masks and boxes), one check per function.
// Each appends what it finds; the anomaly engine turns them into findings.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/target/target.h"

namespace bs {

struct TargetProblem {
    std::string kind;  // a target kind of core/audit/findings.cpp
    nlohmann::json detail;
    std::string message;  // one plain sentence
};

// Boxes may stick out of the image by this many pixels (rounding of
// annotation tools) before box_out_of_bounds.
constexpr double kBoxTolerance = 1.0;

// invalid_mask_values: mask values outside classIds ∪ {ignoreIndex}.
void checkMaskValues(const Target& t, const TargetSchema& schema, const std::string& where,
                     std::vector<TargetProblem>& out);
// mask_size_mismatch: the mask is not width x height.
void checkMaskSize(const Target& t, int width, int height, const std::string& where,
                   std::vector<TargetProblem>& out);
// degenerate_box: width or height <= 0, or a NaN/Inf coordinate.
void checkDegenerateBoxes(const Target& t, const std::string& where,
                          std::vector<TargetProblem>& out);
// box_out_of_bounds: a (finite) box outside [0, width] x [0, height] beyond kBoxTolerance.
void checkBoxBounds(const Target& t, int width, int height, const std::string& where,
                    std::vector<TargetProblem>& out);
// unknown_class: a box label not among the schema's class ids.
void checkBoxClasses(const Target& t, const TargetSchema& schema, const std::string& where,
                     std::vector<TargetProblem>& out);

// Every check above on the targets of one image of width x height.
std::vector<TargetProblem> checkTarget(const Target& t, const TargetSchema& schema, int width,
                                       int height, const std::string& where);

}  // namespace bs
