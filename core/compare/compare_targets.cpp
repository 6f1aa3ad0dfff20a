// compare's checks of the targets a user's loader yielded: the dumped masks
// and boxes judged on their own (the audit's target rules, against the
// dataset's label set when batchscope can open the dataset), and against
// the dataset's own targets: did they follow the geometric stages the image
// went through?
#include <cmath>
#include <map>

#include "core/audit/target_checks.h"
#include "core/compare/compare_findings.h"

namespace bs {

namespace {

// The finding stage for targets made by the user's code.
std::string userTargetStage(const DumpManifest& m) {
    if (!m.jointTransform.empty()) return "transforms";
    if (m.hasTargetTransform) return "target_transform";
    return "dataset";
}

// A dumped mask as 8-bit class ids. Values that are no id at all (a
// fraction, negative, above 255) are counted instead: an interpolated float
// mask, or ToTensor's division by 255.
struct MaskIds {
    Image ids;
    size_t nonIds = 0;
    bool scaledBy255 = true;  // every value times 255 is an integer
    std::vector<double> examples;
};

MaskIds maskIds(const Tensor& mask) {
    MaskIds out;
    const int h = int(mask.dim(0)), w = int(mask.dim(1));
    out.ids = Image::allocate(w, h, 1);
    for (size_t i = 0; i < mask.values.size() && i < out.ids.pixels.size(); ++i) {
        const double v = mask.values[i];
        if (v == std::floor(v) && v >= 0 && v <= 255) {
            out.ids.pixels[i] = uint8_t(v);
            continue;
        }
        ++out.nonIds;
        const double scaled = v * 255.0;
        if (!std::isfinite(v) || std::abs(scaled - std::round(scaled)) > 1e-3) out.scaledBy255 = false;
        if (out.examples.size() < 5) out.examples.push_back(v);
    }
    return out;
}

bool sameBoxes(const std::vector<Box>& a, const std::vector<Box>& b) {
    constexpr double kPixel = 0.5;
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (std::abs(a[i].x1 - b[i].x1) > kPixel || std::abs(a[i].y1 - b[i].y1) > kPixel ||
            std::abs(a[i].x2 - b[i].x2) > kPixel || std::abs(a[i].y2 - b[i].y2) > kPixel)
            return false;
    return true;
}

bool sameMask(const Image& a, const Image& b) {
    return a.width == b.width && a.height == b.height && a.pixels == b.pixels;
}

class TargetJudge {
public:
    explicit TargetJudge(const CompareSession& session)
        : s(session), stage(userTargetStage(session.manifest())) {
        if (s.hasDataset()) schema = s.dataset().targetSchema();
    }

    std::vector<Finding> run(const std::vector<SampleComparison>& samples) {
        for (const auto& sc : samples) {
            try {
                const DumpBatchData& data = s.batchData(sc.batch);
                if (sc.row < data.targets.size())
                    judge(sc, data.targets[sc.row], data.image(sc.row),
                          data.masksIntegral || schema.kind == TargetSchema::Kind::Mask);
            } catch (const std::exception&) {
                // An unreadable batch is reported by the image checks.
            }
        }
        std::vector<Finding> out;
        for (auto& [kind, f] : byKind) {
            f.message = std::to_string(f.count) + " dumped sample(s): " + f.message;
            out.push_back(std::move(f));
        }
        return out;
    }

private:
    const CompareSession& s;
    const std::string stage;
    TargetSchema schema;
    std::map<std::string, Finding> byKind;

    void add(const SampleComparison& sc, const std::string& kind, const std::string& at,
             const nlohmann::json& detail, const std::string& message) {
        Finding& f = byKind[kind];
        if (f.kind.empty()) f = makeFinding(kind, at, "first: index " + std::to_string(sc.index) +
                                                          ": " + message);
        addSample(f, findingSample(s, sc, detail));
    }

    // `masks`: the dumped masks are class ids (an integer tensor, or a
    // dataset with masks); otherwise they are left alone.
    void judge(const SampleComparison& sc, const DumpedTarget& dumped, const Tensor& image,
               bool masks) {
        if (image.shape.size() < 2) return;
        const int width = int(image.shape.back()), height = int(image.shape[image.shape.size() - 2]);
        Target t;
        t.boxes = dumped.boxes;
        MaskIds ids;
        if (masks && dumped.hasMask()) {
            ids = maskIds(dumped.mask);
            t.mask = ids.ids;
        }
        const std::string where = "in the loader's output (" + stage + ")";
        for (const auto& p : checkTarget(t, schema, width, height, where))
            add(sc, p.kind, stage, p.detail, p.message);
        if (ids.nonIds) reportNonIds(sc, ids, where);
        if (s.hasDataset() && sc.index >= 0) checkFollowsImage(sc, dumped, t, width, height);
    }

    void reportNonIds(const SampleComparison& sc, const MaskIds& ids, const std::string& where) {
        const std::string why =
            ids.scaledBy255
                ? "the mask was divided by 255 (ToTensor or ConvertImageDtype on a mask; use "
                  "PILToTensor or torch.as_tensor(np.array(mask)))"
                : "the mask was interpolated (resize it with NEAREST)";
        add(sc, "invalid_mask_values", stage,
            {{"non_integer_values", ids.examples}, {"pixels", ids.nonIds}, {"where", where}},
            std::to_string(ids.nonIds) + " mask values are not class ids (e.g. " +
                nlohmann::json(ids.examples).dump() + ") " + where + ": " + why + ".");
    }

    // The geometric stages of batchscope's pipeline, as "k:Op" (from 1).
    std::string geometricStages() const {
        std::string names;
        for (size_t k = 0; k < s.pipeline().size(); ++k)
            if (s.pipeline().stage(k).traits().geometric)
                names += (names.empty() ? "" : ", ") + std::to_string(k + 1) + ":" +
                         s.pipeline().stage(k).op();
        return names;
    }

    // target_not_transformed: the user's boxes or mask are still as the
    // dataset reads them while the image moved: known exactly when the
    // pipeline is reproduced, else from the image's size having changed.
    void checkFollowsImage(const SampleComparison& sc, const DumpedTarget& dumped, const Target& ids,
                           int width, int height) {
        CompareSession::TargetReproduction tr;
        try {
            tr = s.reproduceTarget(sc.index, sc.epoch);
        } catch (const std::exception&) {
            return;  // the image checks report a sample that cannot be reproduced
        }
        const bool exact = s.reproducible();
        const bool resized = width != tr.rawWidth || height != tr.rawHeight;
        const std::string geometric = geometricStages();
        const std::string at = exact && !geometric.empty() ? geometric : stage;
        const std::string how =
            exact ? geometric
                  : "a resize (" + std::to_string(tr.rawWidth) + "x" + std::to_string(tr.rawHeight) +
                        " to " + std::to_string(width) + "x" + std::to_string(height) + ")";
        auto detail = [&](const char* target) {
            return nlohmann::json{{"target", target},
                                  {"image_size", {width, height}},
                                  {"raw_image_size", {tr.rawWidth, tr.rawHeight}}};
        };
        if (!dumped.boxes.empty() && sameBoxes(dumped.boxes, tr.raw.boxes) &&
            (exact ? !sameBoxes(tr.expected.boxes, tr.raw.boxes) : resized))
            add(sc, "target_not_transformed", at, detail("boxes"),
                "the boxes are as annotated while the image went through " + how +
                    ": transform boxes with the image (transforms.v2, or the detection "
                    "references' joint transforms).");
        if (ids.hasMask() && tr.raw.hasMask() && sameMask(ids.mask, tr.raw.mask) &&
            (exact ? !sameMask(tr.expected.mask, tr.raw.mask) : resized))
            add(sc, "target_not_transformed", at, detail("mask"),
                "the mask is as read from its file while the image went through " + how +
                    ": apply the geometric stages to the mask too (with NEAREST).");
    }
};

}  // namespace

std::vector<Finding> judgeDumpedTargets(const CompareSession& s,
                                        const std::vector<SampleComparison>& samples) {
    return TargetJudge(s).run(samples);
}

}  // namespace bs
