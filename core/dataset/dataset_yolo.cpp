// YOLO: images/<rel>.<ext> with labels/<rel>.txt, one `class cx cy w h` line
// per box in coordinates normalised to the image size; class names from
// data.yaml (`names`) or classes.txt.
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/dataset/dataset_internal.h"
#include "core/dataset/target_dataset_base.h"
#include "core/dataset/target_datasets.h"

namespace bs {
namespace detail {

std::vector<std::string> listFilesRecursive(const std::string& dir);  // target_datasets.cpp

namespace {

class YoloDataset : public TargetDatasetBase {
public:
    YoloDataset(std::string root, std::vector<std::string> images, std::vector<std::string> labels,
                TargetSchema schema, std::vector<DatasetIssue> issues, DecodeOptions decode)
        : TargetDatasetBase(DatasetFormat::Yolo, std::move(root), std::move(images),
                            std::move(schema), std::move(issues), decode),
          labels_(std::move(labels)) {}
    Target loadTarget(size_t i) const override {
        Target t;
        if (labels_[checked(i)].empty()) return t;
        // Normalised coordinates need the image size.
        DecodeInfo info;
        const Image im = loadRaw(i, &info);
        t.boxes = readLabels(labels_[i], im.width, im.height);
        return t;
    }

private:
    static std::vector<Box> readLabels(const std::string& file, int w, int h) {
        std::ifstream in(file);
        if (!in)
            throw DecodeError(DecodeErrorKind::Unreadable, file + ": cannot read the label file");
        std::vector<Box> boxes;
        std::string line;
        for (int n = 1; std::getline(in, line); ++n) {
            std::istringstream ls(line);
            int64_t cls;
            double cx, cy, bw, bh;
            std::string extra;
            if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
            if (!(ls >> cls >> cx >> cy >> bw >> bh) || (ls >> extra))
                throw DecodeError(DecodeErrorKind::Unreadable,
                                  file + ":" + std::to_string(n) +
                                      ": expected 'class cx cy w h', got '" + line + "'");
            boxes.push_back(Box{(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w,
                                (cy + bh / 2) * h, cls, false});
        }
        return boxes;
    }
    std::vector<std::string> labels_;
};

std::string trim(std::string s) {
    const char* ws = " \t\r'\"";
    s.erase(0, s.find_first_not_of(ws));
    const size_t e = s.find_last_not_of(ws);
    return e == std::string::npos ? std::string() : s.substr(0, e + 1);
}

// data.yaml `names`: a flow list [a, b], a block list (- a) or a map (0: a).
std::vector<std::string> yamlNames(const std::string& file) {
    std::ifstream in(file);
    std::vector<std::string> names;
    std::string line;
    bool inNames = false;
    while (std::getline(in, line)) {
        if (line.rfind("names:", 0) == 0) {
            const std::string rest = trim(line.substr(6));
            if (!rest.empty() && rest[0] == '[') {
                std::stringstream items(rest.substr(1, rest.find(']') - 1));
                for (std::string item; std::getline(items, item, ',');) names.push_back(trim(item));
                return names;
            }
            inNames = true;
            continue;
        }
        if (!inNames) continue;
        if (line.empty() || (line[0] != ' ' && line[0] != '-' && line[0] != '\t')) break;
        const std::string item = trim(line);
        if (item.rfind("- ", 0) == 0)
            names.push_back(trim(item.substr(2)));
        else if (item.find(':') != std::string::npos)
            names.push_back(trim(item.substr(item.find(':') + 1)));
    }
    return names;
}

TargetSchema yoloSchema(const std::string& dir) {
    TargetSchema s;
    s.kind = TargetSchema::Kind::Boxes;
    std::vector<std::string> names;
    if (isRegularFile(dir + "/data.yaml"))
        names = yamlNames(dir + "/data.yaml");
    else if (isRegularFile(dir + "/classes.txt")) {
        std::ifstream in(dir + "/classes.txt");
        for (std::string l; std::getline(in, l);)
            if (!trim(l).empty()) names.push_back(trim(l));
    }
    for (size_t i = 0; i < names.size(); ++i) {
        s.classIds.push_back(int64_t(i));
        s.classNames.push_back(names[i]);
    }
    return s;
}

std::string stemOf(const std::string& rel) {
    const size_t dot = rel.find_last_of('.');
    const size_t slash = rel.find_last_of('/');
    return dot == std::string::npos || (slash != std::string::npos && dot < slash)
               ? rel
               : rel.substr(0, dot);
}

}  // namespace

std::unique_ptr<Dataset> openYoloFolder(const std::string& dir, const OpenOptions& options) {
    const std::string imgDir = dir + "/images", lblDir = dir + "/labels";
    if (!isDirectory(imgDir) || !isDirectory(lblDir)) return nullptr;
    std::set<std::string> labelStems;
    for (const auto& rel : listFilesRecursive(lblDir))
        if (endsWith(lowerAscii(rel), ".txt")) labelStems.insert(stemOf(rel));
    if (labelStems.empty()) return nullptr;
    std::vector<std::string> images, labels;
    std::vector<DatasetIssue> issues;
    for (const auto& rel : listFilesRecursive(imgDir)) {
        if (!hasImageExtension(rel)) continue;
        const std::string stem = stemOf(rel);
        images.push_back(imgDir + "/" + rel);
        const bool has = labelStems.erase(stem) > 0;
        labels.push_back(has ? lblDir + "/" + stem + ".txt" : std::string());
        if (!has)
            issues.push_back({"missing_target", images.back(),
                              "Image " + images.back() + " has no label file (" + lblDir + "/" +
                                  stem + ".txt does not exist)."});
    }
    for (const auto& stem : labelStems)
        issues.push_back(
            {"missing_target", lblDir + "/" + stem + ".txt",
             "Label file " + lblDir + "/" + stem + ".txt has no image in " + imgDir + "."});
    return std::make_unique<YoloDataset>(dir, std::move(images), std::move(labels), yoloSchema(dir),
                                         std::move(issues), options.decode);
}

}  // namespace detail
}  // namespace bs
