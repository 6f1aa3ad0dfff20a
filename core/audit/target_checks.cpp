#include "core/audit/target_checks.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace bs {

namespace {

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

std::string boxText(const Box& b) {
    return "[" + num(b.x1) + ", " + num(b.y1) + ", " + num(b.x2) + ", " + num(b.y2) + "]";
}

bool finiteBox(const Box& b) {
    return std::isfinite(b.x1) && std::isfinite(b.y1) && std::isfinite(b.x2) && std::isfinite(b.y2);
}

}  // namespace

void checkMaskValues(const Target& t, const TargetSchema& schema, const std::string& where,
                     std::vector<TargetProblem>& out) {
    // Without a declared label set there is nothing to compare against.
    if (!t.hasMask() || schema.classIds.empty()) return;
    std::array<bool, 256> valid{};
    for (int64_t id : schema.classIds)
        if (id >= 0 && id < 256) valid[size_t(id)] = true;
    if (schema.ignoreIndex >= 0 && schema.ignoreIndex < 256)
        valid[size_t(schema.ignoreIndex)] = true;
    std::array<size_t, 256> counts{};
    for (uint8_t v : t.mask.pixels) ++counts[v];
    nlohmann::json bad = nlohmann::json::array();
    size_t pixels = 0;
    for (size_t v = 0; v < 256; ++v)
        if (counts[v] && !valid[v]) {
            bad.push_back(v);
            pixels += counts[v];
        }
    if (bad.empty()) return;
    out.push_back({"invalid_mask_values",
                   {{"values", bad}, {"pixels", pixels}, {"where", where}},
                   "Mask values " + bad.dump() + " (" + std::to_string(pixels) +
                       " pixels) are not class ids of the dataset" +
                       (schema.ignoreIndex >= 0
                            ? " nor its ignore index " + std::to_string(schema.ignoreIndex)
                            : "") +
                       " " + where + ": the mask was interpolated (resize it with NEAREST)."});
}

void checkMaskSize(const Target& t, int width, int height, const std::string& where,
                   std::vector<TargetProblem>& out) {
    if (!t.hasMask() || (t.mask.width == width && t.mask.height == height)) return;
    out.push_back(
        {"mask_size_mismatch",
         {{"mask", {t.mask.width, t.mask.height}}, {"image", {width, height}}, {"where", where}},
         "The mask is " + std::to_string(t.mask.width) + "x" + std::to_string(t.mask.height) +
             " but its image is " + std::to_string(width) + "x" + std::to_string(height) + " " +
             where + "."});
}

void checkDegenerateBoxes(const Target& t, const std::string& where,
                          std::vector<TargetProblem>& out) {
    for (size_t i = 0; i < t.boxes.size(); ++i) {
        const Box& b = t.boxes[i];
        if (finiteBox(b) && b.width() > 0 && b.height() > 0) continue;
        out.push_back({"degenerate_box",
                       {{"box", i}, {"xyxy", boxText(b)}, {"where", where}},
                       "Box " + std::to_string(i) + " " + boxText(b) + " " + where +
                           " has no area or a non-finite coordinate."});
    }
}

void checkBoxBounds(const Target& t, int width, int height, const std::string& where,
                    std::vector<TargetProblem>& out) {
    const double tol = kBoxTolerance;
    for (size_t i = 0; i < t.boxes.size(); ++i) {
        const Box& b = t.boxes[i];
        if (!finiteBox(b)) continue;  // degenerate_box's case
        const bool inside = std::min(b.x1, b.x2) >= -tol && std::min(b.y1, b.y2) >= -tol &&
                            std::max(b.x1, b.x2) <= width + tol &&
                            std::max(b.y1, b.y2) <= height + tol;
        if (inside) continue;
        out.push_back(
            {"box_out_of_bounds",
             {{"box", i}, {"xyxy", boxText(b)}, {"image", {width, height}}, {"where", where}},
             "Box " + std::to_string(i) + " " + boxText(b) + " extends outside its " +
                 std::to_string(width) + "x" + std::to_string(height) + " image " + where + "."});
    }
}

void checkBoxClasses(const Target& t, const TargetSchema& schema, const std::string& where,
                     std::vector<TargetProblem>& out) {
    if (schema.classIds.empty()) return;
    for (size_t i = 0; i < t.boxes.size(); ++i) {
        const int64_t label = t.boxes[i].label;
        if (std::find(schema.classIds.begin(), schema.classIds.end(), label) !=
            schema.classIds.end())
            continue;
        out.push_back({"unknown_class",
                       {{"box", i}, {"class", label}, {"where", where}},
                       "Box " + std::to_string(i) + " has class " + std::to_string(label) + " " +
                           where + ", which is not among the dataset's " +
                           std::to_string(schema.classIds.size()) + " categories."});
    }
}

std::vector<TargetProblem> checkTarget(const Target& t, const TargetSchema& schema, int width,
                                       int height, const std::string& where) {
    std::vector<TargetProblem> out;
    checkMaskValues(t, schema, where, out);
    checkMaskSize(t, width, height, where, out);
    checkDegenerateBoxes(t, where, out);
    checkBoxBounds(t, width, height, where, out);
    checkBoxClasses(t, schema, where, out);
    return out;
}

}  // namespace bs
