#include "core/compare/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include "core/common/fileio.h"
#include "core/common/safe_unpickle.h"

#include "core/common/torch_bridge.h"
#include "core/compare/compare_findings.h"
#include "core/dataset/target_datasets.h"
#include "core/dataset/torchvision_datasets.h"
#include "core/loader/loader.h"

namespace fs = std::filesystem;

namespace bs {

namespace {

std::vector<int64_t> intList(const nlohmann::json& j) {
    std::vector<int64_t> out;
    if (!j.is_array()) return out;
    for (const auto& v : j)
        if (v.is_number()) out.push_back(v.get<int64_t>());
    return out;
}

// A dump is written by user-side Python: a key may be missing or null.
std::string str(const nlohmann::json& j, const char* key, const std::string& fallback = {}) {
    auto it = j.find(key);
    return (it != j.end() && it->is_string()) ? it->get<std::string>() : fallback;
}

std::vector<int64_t> tensorInts(const at::Tensor& t) {
    at::Tensor c = t.reshape({-1}).to(at::kLong).contiguous();
    const int64_t* d = c.data_ptr<int64_t>();
    return std::vector<int64_t>(d, d + c.numel());
}

std::string fmt(double v, int precision = 4) {
    std::ostringstream os;
    os.precision(precision);
    os << v;
    return os.str();
}

std::string fmtList(const std::vector<double>& v, int precision = 4) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt(v[i], precision);
    return s + "]";
}

std::string stageLabel(int k, const std::string& op) {
    return std::to_string(k) + ":" + op;
}

// Name of one printed stage: "Normalize" for "Normalize(mean=...)", the class
// for "<__main__.AddNoise object at 0x7f...>".
std::string printedStageName(const std::string& text) {
    if (!text.empty() && text[0] == '<') {
        std::string inner = text.substr(1);
        inner = inner.substr(0, inner.find(' '));
        const auto dot = inner.rfind('.');
        return dot == std::string::npos ? inner : inner.substr(dot + 1);
    }
    size_t end = 0;
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) ||
                                 text[end] == '_' || text[end] == '.'))
        ++end;
    std::string name = text.substr(0, end);
    const auto dot = name.rfind('.');
    return dot == std::string::npos ? name : name.substr(dot + 1);
}

// Per-channel least-squares fit user ~ a * source + b over (C, H, W) tensors
// of the same shape (a tensor of another rank is one channel).
struct AffineFit {
    bool ok = false;
    std::vector<double> a, b;
    double residual = std::numeric_limits<double>::infinity();
};

AffineFit fitAffine(const Tensor& user, const Tensor& source, double tolerance) {
    AffineFit fit;
    if (user.shape != source.shape || user.values.empty()) return fit;
    const size_t channels = user.shape.size() == 3 ? size_t(user.shape[0]) : 1;
    const size_t plane = user.values.size() / channels;
    fit.residual = 0;
    for (size_t c = 0; c < channels; ++c) {
        const float* u = user.values.data() + c * plane;
        const float* s = source.values.data() + c * plane;
        double mu = 0, ms = 0;
        for (size_t i = 0; i < plane; ++i) {
            mu += u[i];
            ms += s[i];
        }
        mu /= double(plane);
        ms /= double(plane);
        double var = 0, cov = 0;
        for (size_t i = 0; i < plane; ++i) {
            var += (s[i] - ms) * (s[i] - ms);
            cov += (s[i] - ms) * (u[i] - mu);
        }
        // A flat source channel cannot tell scale from offset: assume scale 1.
        const double a = var > 1e-12 ? cov / var : 1.0;
        const double b = mu - a * ms;
        for (size_t i = 0; i < plane; ++i)
            fit.residual = std::max(fit.residual, std::abs(u[i] - (a * s[i] + b)));
        fit.a.push_back(a);
        fit.b.push_back(b);
    }
    fit.ok = fit.residual <= tolerance;
    return fit;
}

std::vector<double> numbers(const nlohmann::json& j, size_t n) {
    std::vector<double> out;
    if (j.is_number()) out.assign(n, j.get<double>());
    if (j.is_array())
        for (const auto& v : j)
            if (v.is_number()) out.push_back(v.get<double>());
    if (out.size() == 1 && n > 1) out.assign(n, out[0]);
    return out;
}

// A coarse signature of a (C, H, W) tensor: channel means over a 4x4 grid.
std::vector<float> signature(const Tensor& t) {
    std::vector<float> sig;
    if (t.shape.size() != 3) {
        double m = 0;
        for (float v : t.values) m += v;
        sig.push_back(float(t.values.empty() ? 0 : m / double(t.values.size())));
        return sig;
    }
    const int64_t C = t.shape[0], H = t.shape[1], W = t.shape[2];
    for (int64_t c = 0; c < C; ++c)
        for (int gy = 0; gy < 4; ++gy)
            for (int gx = 0; gx < 4; ++gx) {
                const int64_t y0 = H * gy / 4, y1 = std::max(H * (gy + 1) / 4, y0 + 1);
                const int64_t x0 = W * gx / 4, x1 = std::max(W * (gx + 1) / 4, x0 + 1);
                double s = 0;
                int64_t n = 0;
                for (int64_t y = y0; y < std::min(y1, H); ++y)
                    for (int64_t x = x0; x < std::min(x1, W); ++x, ++n)
                        s += t.values[size_t((c * H + y) * W + x)];
                sig.push_back(float(n ? s / double(n) : 0));
            }
    return sig;
}

double signatureDistance(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d += std::abs(double(a[i]) - double(b[i]));
    return d;
}

// Why a sample diverges, as found by localise().
struct Cause {
    int stage = -1;  // transform number from 1, -1 when not localised
    std::string key;
    std::string message;
    nlohmann::json evidence = nlohmann::json::object();
};

}  // namespace

// ---------------------------------------------------------------- reading

DumpManifest readDumpManifest(const std::string& dumpDir) {
    DumpManifest m;
    std::error_code ec;
    m.dir = fs::absolute(dumpDir, ec).lexically_normal().string();
    const std::string path = (fs::path(m.dir) / "manifest.json").string();
    regularFileSize(path);
    std::ifstream in(path);
    if (!in) throw Error(path + ": cannot open (is this a folder written by batchscope_dump.py?)");
    std::ostringstream text;
    text << in.rdbuf();
    m.raw = parseUntrustedJson(text.str(), path);
    if (!m.raw.is_object() || !m.raw.contains("batches") || !m.raw["batches"].is_array())
        throw Error(path + ": no \"batches\" list; not a batchscope dump manifest");
    const auto& ds = m.raw.value("dataset", nlohmann::json::object());
    if (ds.is_object()) {
        m.datasetClass = str(ds, "class");
        m.datasetRoot = str(ds, "root");
        m.transformText = str(ds, "transform");
        m.hasTargetTransform = ds.contains("target_transform") && !ds["target_transform"].is_null();
        if (ds.contains("length") && ds["length"].is_number())
            m.datasetLength = ds["length"].get<int64_t>();
        m.torchvisionClass = str(ds, "torchvision_class");
        if (ds.contains("train") && ds["train"].is_boolean())
            m.split = ds["train"].get<bool>() ? "train" : "test";
        if (!str(ds, "what").empty()) m.split = str(ds, "what");
        m.emnistSplit = str(ds, "split");
        m.vocYear = str(ds, "year");
        m.vocImageSet = str(ds, "image_set");
        m.annotationFile = str(ds, "annotation_file");
        m.jointTransform = str(ds, "joint_transform");
        const auto& gi = ds.value("getitem", nlohmann::json());
        if (gi.is_object()) {
            m.getitemClass = str(gi, "class");
            m.getitemWhere = str(gi, "where");
            m.getitemUserCode = gi.value("user_code", false);
        }
    }
    for (const auto& p : m.raw.value("problems", nlohmann::json::array()))
        if (p.is_object() && p.contains("kind") && p["kind"].is_string()) m.problems.push_back(p);
    m.rngProbe = m.raw.value("rng_probe", nlohmann::json());
    const auto& ld = m.raw.value("loader", nlohmann::json::object());
    if (ld.is_object()) {
        if (ld.contains("batch_size") && ld["batch_size"].is_number())
            m.batchSize = ld["batch_size"].get<int64_t>();
        if (ld.contains("num_workers") && ld["num_workers"].is_number())
            m.numWorkers = ld["num_workers"].get<int64_t>();
        if (ld.contains("seed") && ld["seed"].is_number_unsigned())
            m.seed = ld["seed"].get<uint64_t>();
        m.sampler = str(ld, "sampler");
    }
    for (const auto& b : m.raw["batches"]) {
        if (!b.is_object()) throw Error(path + ": a batch entry is not an object");
        DumpBatchInfo info;
        info.file = str(b, "file");
        if (info.file.empty() || info.file.find('/') != std::string::npos ||
            info.file.find("..") != std::string::npos)
            throw Error(path + ": batch entry with a missing or unsafe \"file\"");
        info.variant = str(b, "variant");
        if (info.variant.empty()) info.variant = "main";
        info.epoch = b.value("epoch", int64_t(0));
        info.batch = b.value("batch", int64_t(m.batches.size()));
        info.indices = intList(b.value("indices", nlohmann::json()));
        info.labels = intList(b.value("labels", nlohmann::json()));
        info.workers = intList(b.value("workers", nlohmann::json()));
        m.batches.push_back(std::move(info));
    }
    return m;
}

namespace {

// Per-sample tensors flattened one after another (`values`) with one shape
// row each (`shapes`), as batchscope_dump.py writes ragged data.
std::vector<at::Tensor> unflatten(const at::Tensor& values, const at::Tensor& shapes,
                                  const std::string& what) {
    if (shapes.dim() != 2) throw Error(what + " shapes are not a (N, rank) tensor");
    const at::Tensor flat = values.reshape({-1});
    const at::Tensor dims = shapes.to(at::kLong).contiguous();
    std::vector<at::Tensor> out;
    int64_t offset = 0;
    for (int64_t r = 0; r < dims.size(0); ++r) {
        std::vector<int64_t> shape(dims.data_ptr<int64_t>() + r * dims.size(1),
                                   dims.data_ptr<int64_t>() + (r + 1) * dims.size(1));
        int64_t n = 1;
        for (int64_t d : shape) {
            // Checked before multiplying: a hostile shape must not overflow n.
            if (d < 0 || (d > 0 && n > flat.numel() / d)) throw Error(what + " shape out of range");
            n *= d;
        }
        if (offset + n > flat.numel()) throw Error(what + " values end before their shapes");
        out.push_back(flat.narrow(0, offset, n).reshape(shape));
        offset += n;
    }
    return out;
}

// Per-row boxes from the batch's "boxes" (K, 4), "box_labels" (K) and
// "box_counts" (boxes per row).
void readBoxes(const at::Tensor& boxes, const at::Tensor& labels, const at::Tensor& counts,
               DumpBatchData& out) {
    out.hasBoxes = true;
    const at::Tensor b = boxes.to(at::kDouble).reshape({-1, 4}).contiguous();
    const at::Tensor l = labels.defined() ? labels.to(at::kLong).reshape({-1}).contiguous()
                                          : at::full({b.size(0)}, -1, at::kLong);
    const std::vector<int64_t> perRow = tensorInts(counts);
    out.targets.resize(std::max(out.targets.size(), perRow.size()));
    int64_t k = 0;
    for (size_t r = 0; r < perRow.size(); ++r)
        for (int64_t j = 0; j < perRow[r]; ++j, ++k) {
            if (k >= b.size(0)) throw Error("box_counts add up to more boxes than \"boxes\" holds");
            const double* p = b.data_ptr<double>() + 4 * k;
            Box box{p[0], p[1], p[2], p[3]};
            if (k < l.numel()) box.label = l.data_ptr<int64_t>()[k];
            out.targets[r].boxes.push_back(box);
        }
}

void readMasks(const std::vector<at::Tensor>& masks, DumpBatchData& out) {
    out.hasMasks = true;
    out.targets.resize(std::max(out.targets.size(), masks.size()));
    for (size_t r = 0; r < masks.size(); ++r) {
        const at::Tensor m = masks[r];
        if (m.dim() < 2) continue;
        out.targets[r].mask = fromAten(m.reshape({m.size(-2), m.size(-1)}));
    }
}

}  // namespace

size_t DumpBatchData::rows() const {
    return imageList.empty() ? size_t(images.dim(0)) : imageList.size();
}

Tensor DumpBatchData::image(size_t row) const {
    if (imageList.empty()) return tensorRow(images, row);
    if (row >= imageList.size())
        throw Error("row " + std::to_string(row) + " outside a batch of " +
                    std::to_string(imageList.size()) + " images");
    return imageList[row];
}

DumpBatchData readDumpBatchFile(const std::string& path) {
    regularFileSize(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    DumpBatchData out;
    try {
        const c10::IValue v = safePickleLoad(bytes, "data.pkl");
        if (v.isTensor()) {
            out.images = fromAten(v.toTensor());
            return out;
        }
        if (!v.isGenericDict()) throw Error("expected a dict of tensors");
        std::map<std::string, at::Tensor> t;  // every tensor of the dict by key
        for (const auto& kv : v.toGenericDict())
            if (kv.key().isString() && kv.value().isTensor())
                t[kv.key().toStringRef()] = kv.value().toTensor();
        for (const auto& [key, value] : t) {
            if (key == "images")
                out.images = fromAten(value);
            else if (key == "indices")
                out.indices = tensorInts(value);
            else if (key == "labels" && value.dim() == 1)
                out.labels = tensorInts(value);
            else if (key == "workers")
                out.workers = tensorInts(value);
        }
        if (t.count("image_values") && t.count("image_shapes"))
            for (const auto& image : unflatten(t["image_values"], t["image_shapes"], "image"))
                out.imageList.push_back(fromAten(image));
        if (t.count("mask_values") && t.count("mask_shapes")) {
            readMasks(unflatten(t["mask_values"], t["mask_shapes"], "mask"), out);
            out.masksIntegral = !t["mask_values"].is_floating_point();
        }
        if (t.count("boxes") && t.count("box_counts"))
            readBoxes(t["boxes"], t.count("box_labels") ? t["box_labels"] : at::Tensor(),
                      t["box_counts"], out);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    } catch (const std::exception& e) {
        std::string msg = e.what();
        msg = msg.substr(0, msg.find('\n'));
        throw Error(path + ": not a readable torch.save file (" + msg + ")");
    }
    if (out.images.empty() && out.imageList.empty()) throw Error(path + ": no \"images\" tensor");
    return out;
}

Tensor tensorRow(const Tensor& batch, size_t row) {
    if (batch.shape.empty() || int64_t(row) >= batch.shape[0])
        throw Error("row " + std::to_string(row) + " outside a batch of shape " +
                    shapeToString(batch.shape));
    Tensor t;
    t.dtype = batch.dtype;
    t.shape.assign(batch.shape.begin() + 1, batch.shape.end());
    if (t.shape.empty()) t.shape = {1};
    const size_t n = batch.values.size() / size_t(batch.shape[0]);
    t.values.assign(batch.values.begin() + row * n, batch.values.begin() + (row + 1) * n);
    return t;
}

// ---------------------------------------------------------------- diffs

nlohmann::json TensorDiff::toJson() const {
    nlohmann::json j = {{"shape_match", shapeMatch}, {"numel", numel}};
    if (shapeMatch) {
        j["max_abs"] = maxAbs;
        j["mean_abs"] = meanAbs;
        j["over_tolerance"] = over;
        j["argmax"] = argmax;
    }
    return j;
}

TensorDiff diffTensors(const Tensor& user, const Tensor& reference, double tolerance) {
    TensorDiff d;
    d.numel = int64_t(user.values.size());
    d.shapeMatch = user.shape == reference.shape && user.values.size() == reference.values.size();
    if (!d.shapeMatch) {
        d.maxAbs = std::numeric_limits<double>::infinity();
        d.meanAbs = std::numeric_limits<double>::infinity();
        d.over = d.numel;
        return d;
    }
    size_t arg = 0;
    double sum = 0;
    for (size_t i = 0; i < user.values.size(); ++i) {
        const float u = user.values[i], r = reference.values[i];
        double e = std::abs(double(u) - double(r));
        if (std::isnan(u) != std::isnan(r)) e = std::numeric_limits<double>::infinity();
        if (std::isnan(u) && std::isnan(r)) e = 0;
        if (e > d.maxAbs) {
            d.maxAbs = e;
            arg = i;
        }
        if (e > tolerance) ++d.over;
        sum += std::isfinite(e) ? e : 0;
    }
    d.meanAbs = user.values.empty() ? 0 : sum / double(user.values.size());
    d.argmax.assign(user.shape.size(), 0);
    size_t rest = arg;
    for (size_t k = user.shape.size(); k-- > 0;) {
        d.argmax[k] = int64_t(rest % size_t(user.shape[k]));
        rest /= size_t(user.shape[k]);
    }
    return d;
}

Tensor absDifference(const Tensor& user, const Tensor& reference) {
    Tensor t;
    if (user.shape != reference.shape || user.values.size() != reference.values.size()) return t;
    t.shape = user.shape;
    t.values.resize(user.values.size());
    for (size_t i = 0; i < t.values.size(); ++i)
        t.values[i] = std::abs(user.values[i] - reference.values[i]);
    return t;
}

// ---------------------------------------------------------------- compose text

std::vector<std::string> splitComposeText(const std::string& text) {
    std::string body = text;
    const auto trim = [](std::string s) {
        const auto b = s.find_first_not_of(" \t\r\n");
        if (b == std::string::npos) return std::string();
        const auto e = s.find_last_not_of(" \t\r\n");
        return s.substr(b, e - b + 1);
    };
    body = trim(body);
    if (body.rfind("Compose(", 0) == 0 && !body.empty() && body.back() == ')')
        body = body.substr(8, body.size() - 9);
    else
        return body.empty() ? std::vector<std::string>{} : std::vector<std::string>{body};
    // Stages are separated by newlines at bracket depth 0; "<obj at 0x..>"
    // reprs of custom classes sit on one line.
    std::vector<std::string> out;
    std::string cur;
    int depth = 0;
    for (char ch : body) {
        if (ch == '(' || ch == '[' || ch == '{') ++depth;
        if (ch == ')' || ch == ']' || ch == '}') depth = std::max(0, depth - 1);
        if (ch == '\n' && depth == 0) {
            if (!trim(cur).empty()) out.push_back(trim(cur));
            cur.clear();
        } else {
            cur += ch;
        }
    }
    if (!trim(cur).empty()) out.push_back(trim(cur));
    return out;
}

// ---------------------------------------------------------------- report

nlohmann::json SampleComparison::toJson() const {
    nlohmann::json j = {{"batch", batch},       {"row", row},
                        {"index", index},       {"variant", variant},
                        {"epoch", epoch},       {"worker", worker},
                        {"label", label},       {"pixel_compared", pixelCompared},
                        {"diff", diff.toJson()}};
    if (matchedIndex >= 0) j["matched_index"] = matchedIndex;
    if (divergenceStage >= 0) j["divergence_stage"] = divergenceStage;
    if (!error.empty()) j["error"] = error;
    return j;
}

nlohmann::json CompareReport::toJson() const {
    nlohmann::json j = context;
    j["command"] = "compare";
    j["summary"] = summary;
    j["findings"] = nlohmann::json::array();
    for (const auto& f : findings) j["findings"].push_back(f.toJson());
    j["samples"] = nlohmann::json::array();
    for (const auto& s : samples) j["samples"].push_back(s.toJson());
    return j;
}

bool CompareReport::hasAtLeast(Severity severity) const {
    for (const auto& f : findings)
        if (int(f.severity) >= int(severity)) return true;
    return false;
}

// ---------------------------------------------------------------- session

namespace {

// Stands in for a dataset batchscope could not open: no samples, so every
// reproduction fails and only the checks on the user's tensors run.
class NoDataset : public Dataset {
public:
    DatasetFormat format() const override { return DatasetFormat::TensorDump; }
    std::string root() const override { return {}; }
    size_t size() const override { return 0; }
    std::string path(size_t) const override { return {}; }
    int64_t label(size_t) const override { return -1; }
    bool hasRaw() const override { return false; }
    Image loadRaw(size_t, DecodeInfo*) const override { throw Error("no dataset"); }
};

// The manifest's dataset: torchvision's class and split when it is one of
// the built-in datasets, else the layout found at the root.
std::unique_ptr<Dataset> openManifestDataset(const DumpManifest& m, const std::string& root) {
    if (m.torchvisionClass == "VOCSegmentation")
        return openVocSegmentation(root, m.vocYear.empty() ? "2012" : m.vocYear,
                                   m.vocImageSet.empty() ? "train" : m.vocImageSet);
    if (!m.annotationFile.empty()) return openCocoDetection(root, m.annotationFile);
    if (isTorchvisionDatasetClass(m.torchvisionClass))
        return openTorchvisionDataset(root, m.torchvisionClass, m.split, m.emnistSplit);
    return openDataset(root);
}

}  // namespace

CompareSession::CompareSession(const std::string& dumpDir, const CompareOptions& options)
    : manifest_(readDumpManifest(dumpDir)), options_(options) {
    const std::string root =
        !options_.datasetRoot.empty() ? options_.datasetRoot : manifest_.datasetRoot;
    // A dataset batchscope cannot open is not fatal: the user's tensors are
    // still judged on their own (unreproducible_pipeline says why).
    if (root.empty()) {
        datasetError_ = "the dataset (" + manifest_.datasetClass +
                        ") has no root attribute; give it with --dataset ROOT";
    } else {
        try {
            dataset_ = openManifestDataset(manifest_, root);
        } catch (const std::exception& e) {
            datasetError_ = e.what();
        }
    }
    if (!dataset_) dataset_ = std::make_unique<NoDataset>();

    if (!options_.pipelineFile.empty()) {
        pipeline_ = Pipeline::loadFile(options_.pipelineFile);
        pipelineSource_ = options_.pipelineFile;
    } else if (manifest_.transformText.empty()) {
        pipeline_ = Pipeline::fromJson(nlohmann::json::parse(R"([{"op":"ToTensor"}])"));
        pipelineSource_ = "default";
    } else {
        // Stage by stage, so that one stage batchscope cannot reproduce is
        // named instead of failing the whole text.
        const auto parts = splitComposeText(manifest_.transformText);
        std::string known;
        for (size_t i = 0; i < parts.size(); ++i) {
            const std::string name = printedStageName(parts[i]);
            std::string why;
            if (parts[i][0] == '<') {
                why = "a custom class without a torchvision-style repr";
            } else if (name == "Lambda") {
                why = "a Python lambda: its code is not in the printed transform";
            } else {
                try {
                    Pipeline::fromTorchvisionText("Compose(\n    " + parts[i] + "\n)");
                } catch (const std::exception& e) {
                    why = e.what();
                }
            }
            if (why.empty()) {
                known += "    " + parts[i] + "\n";
            } else {
                UnknownStage u;
                u.position = int(i) + 1;
                u.name = name.empty() ? parts[i] : name;
                u.text = parts[i];
                unknown_.push_back(u);
                (void)why;
            }
        }
        // The whole text when every stage is known (keeps cross-stage parsing
        // such as Resize + CenterCrop intact); the known stages otherwise,
        // used for shapes and ranges only.
        pipeline_ = unknown_.empty() ? Pipeline::fromTorchvisionText(manifest_.transformText)
                                     : Pipeline::fromTorchvisionText("Compose(\n" + known + ")");
        pipelineSource_ = "manifest";
    }
}

CompareSession::~CompareSession() = default;

bool CompareSession::reproducible() const {
    return unreproducibleReason().empty() && !pipeline_.isRandom();
}

std::string CompareSession::unreproducibleReason() const {
    if (!datasetError_.empty()) return "batchscope cannot open the dataset: " + datasetError_;
    if (!unknown_.empty()) {
        std::string names;
        for (const auto& u : unknown_)
            names += (names.empty() ? "" : ", ") + stageLabel(u.position, u.name);
        return "the printed transform has stages batchscope cannot read (" + names + ")";
    }
    if (!manifest_.jointTransform.empty() && options_.pipelineFile.empty())
        return "the dataset's transforms= callable (" + manifest_.jointTransform.substr(0, 80) +
               ") transforms image and target together in user code";
    if (pipelineSource_ == "default" && manifest_.getitemUserCode)
        return "the dataset has no transform attribute and its __getitem__ is user code (" +
               manifest_.getitemClass + " at " + manifest_.getitemWhere +
               "): the transform lives there";
    return {};
}

const DumpBatchData& CompareSession::batchData(size_t batch) const {
    if (batch >= manifest_.batches.size())
        throw Error("batch " + std::to_string(batch) + " is not in the dump");
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = batchCache_.find(batch);
        if (it != batchCache_.end()) return it->second;
    }
    DumpBatchData d =
        readDumpBatchFile((fs::path(manifest_.dir) / manifest_.batches[batch].file).string());
    std::lock_guard<std::mutex> lock(mutex_);
    return batchCache_.emplace(batch, std::move(d)).first->second;
}

Tensor CompareSession::userSample(size_t batch, size_t row) const {
    return batchData(batch).image(row);
}

SampleResult CompareSession::compute(int64_t index, int64_t epoch, bool keepStages) const {
    if (index < 0 || size_t(index) >= dataset_->size())
        throw Error("index " + std::to_string(index) + " outside the dataset (" +
                    std::to_string(dataset_->size()) + " samples)");
    RandomContext ctx{manifest_.seed, epoch, index};
    SampleResult r = processSample(*dataset_, pipeline_, size_t(index), ctx, keepStages);
    if (!r.record.error.empty()) throw Error(r.record.error);
    return r;
}

std::vector<StageValue> CompareSession::reproduceStages(int64_t index, int64_t epoch) const {
    return compute(index, epoch, true).stages;
}

CompareSession::TargetReproduction CompareSession::reproduceTarget(int64_t index,
                                                                   int64_t epoch) const {
    SampleResult r = compute(index, epoch, false);
    TargetReproduction t;
    if (!r.targets.empty()) t.raw = std::move(r.targets.front());
    t.expected = std::move(r.outputTarget);
    if (!r.stageSizes.empty()) std::tie(t.rawWidth, t.rawHeight) = r.stageSizes.front();
    return t;
}

Tensor CompareSession::reproduce(int64_t index, int64_t epoch) const {
    const bool cacheable = epoch == 0 || !pipeline_.isRandom();
    if (cacheable) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = reproCache_.find(index);
        if (it != reproCache_.end()) return it->second;
    }
    SampleResult r = compute(index, epoch, false);
    if (cacheable) {
        std::lock_guard<std::mutex> lock(mutex_);
        reproCache_[index] = r.output;
    }
    return r.output;
}

// ---------------------------------------------------------------- localisation

namespace {

// Finds what explains a dumped sample that differs from its reproduction:
// another index, or the first stage where the user's loader departs.
struct Reproduction {
    Reproduction(const CompareSession& session, double tolerance)
        : s(session), tol(tolerance), stagesJson(session.pipeline().toJson()) {}
    const CompareSession& s;
    double tol;
    nlohmann::json stagesJson;                           // pipeline.toJson()
    std::vector<std::pair<int, Pipeline>> withoutStage;  // (transform number, pipeline)
    bool variantsBuilt = false;
    std::vector<std::vector<float>> signatures;  // by dataset index, empty = failed
    bool signaturesBuilt = false;

    std::string opName(int k) const {  // transform number from 1
        return k >= 1 && size_t(k) <= s.pipeline().size() ? s.pipeline().stage(size_t(k) - 1).op()
                                                          : std::string();
    }

    void buildVariants() {
        if (variantsBuilt) return;
        variantsBuilt = true;
        for (size_t k = 0; k < stagesJson.size(); ++k) {
            nlohmann::json rest = nlohmann::json::array();
            for (size_t j = 0; j < stagesJson.size(); ++j)
                if (j != k) rest.push_back(stagesJson[j]);
            try {
                withoutStage.emplace_back(int(k) + 1, Pipeline::fromJson(rest));
            } catch (const std::exception&) {
            }
        }
    }

    void buildSignatures() {
        if (signaturesBuilt) return;
        signaturesBuilt = true;
        const size_t n = std::min(s.dataset().size(), s.options().maxSearch);
        signatures.resize(n);
        RandomContext ctx{s.manifest().seed, 0, 0};
        for (size_t i = 0; i < n; ++i) {
            ctx.index = int64_t(i);
            SampleResult r = processSample(s.dataset(), s.pipeline(), i, ctx, false);
            if (r.record.error.empty()) signatures[i] = signature(r.output);
        }
    }

    bool matches(const Tensor& user, int64_t index) const {
        try {
            return diffTensors(user, s.reproduce(index), tol).within(tol);
        } catch (const std::exception&) {
            return false;
        }
    }

    // The index whose reproduction matches `user`, or -1: the neighbourhood
    // first, then the closest signatures of a scan.
    int64_t findMatch(const Tensor& user, int64_t index) {
        const int64_t n = int64_t(s.dataset().size());
        for (int64_t d = 1; d <= s.options().neighbourhood; ++d)
            for (int64_t j : {index - d, index + d})
                if (j >= 0 && j < n && matches(user, j)) return j;
        buildSignatures();
        const auto sig = signature(user);
        std::vector<std::pair<double, int64_t>> ranked;
        for (size_t i = 0; i < signatures.size(); ++i)
            if (!signatures[i].empty() && int64_t(i) != index)
                ranked.emplace_back(signatureDistance(sig, signatures[i]), int64_t(i));
        const size_t top = std::min<size_t>(3, ranked.size());
        std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end());
        for (size_t i = 0; i < top; ++i)
            if (matches(user, ranked[i].second)) return ranked[i].second;
        return -1;
    }

    Cause localise(const Tensor& user, int64_t index, int64_t epoch) {
        Cause c;
        std::vector<StageValue> stages;
        try {
            stages = s.reproduceStages(index, epoch);
        } catch (const std::exception& e) {
            c.key = "unreproducible";
            c.message = e.what();
            return c;
        }
        if (skippedStage(user, stages, index, epoch, c) || affineOfOutput(user, stages, c) ||
            otherShape(user, stages, c) || afterEarlierStage(user, stages, c))
            return c;
        c.key = "unlocalised";
        c.message =
            "no single stage explains the difference (a different interpolation, a "
            "custom step in __getitem__, or different source files)";
        return c;
    }

    // 1. The user's loader skips one stage.
    bool skippedStage(const Tensor& user, const std::vector<StageValue>& stages, int64_t index,
                      int64_t epoch, Cause& c) {
        buildVariants();
        for (const auto& [k, p] : withoutStage) {
            try {
                RandomContext ctx{s.manifest().seed, epoch, index};
                const Tensor out = asTensor(p.run(stages.front(), ctx).output);
                if (!diffTensors(user, out, tol).within(tol)) continue;
                c.stage = k;
                c.key = "without:" + std::to_string(k);
                c.message = "the dumped tensors match the stated pipeline without stage " +
                            stageLabel(k, opName(k)) + ": the training loader does not apply it";
                c.evidence["missing_stage"] = s.pipeline().stage(size_t(k) - 1).repr();
                return true;
            } catch (const std::exception&) {
            }
        }
        return false;
    }

    // 2. A per-channel scale/offset of the final output: a value stage
    // (Normalize, ToTensor's scaling) with other parameters.
    bool affineOfOutput(const Tensor& user, const std::vector<StageValue>& stages, Cause& c) const {
        const Tensor reference = asTensor(stages.back());
        if (user.shape != reference.shape) return false;
        const AffineFit fit = fitAffine(user, reference, tol);
        if (!fit.ok) return false;
        int norm = -1, scaler = -1;
        for (size_t k = 0; k < s.pipeline().size(); ++k) {
            const std::string op = s.pipeline().stage(k).op();
            if (op == "Normalize") norm = int(k) + 1;
            if (op == "ToTensor" || op == "ConvertImageDtype" || op == "PILToTensor")
                scaler = int(k) + 1;
        }
        bool by255 = true;
        for (double a : fit.a)
            by255 = by255 && (std::abs(a - 255.0) < 0.01 || std::abs(a - 1 / 255.0) < 1e-6);
        c.evidence["scale"] = fit.a;
        c.evidence["offset"] = fit.b;
        c.evidence["fit_residual"] = fit.residual;
        if (by255 && scaler > 0) {
            c.stage = scaler;
            c.key = "scale255:" + std::to_string(scaler);
            c.message = "the dumped tensors are the reproduction scaled by " + fmt(fit.a[0]) +
                        ": the 0..1 scaling of stage " + stageLabel(scaler, opName(scaler)) +
                        " differs";
        } else if (norm > 0) {
            explainNormalize(fit, norm, c);
        } else {
            c.stage = scaler;
            c.key = "affine:" + std::to_string(scaler);
            c.message = "the dumped tensors are a per-channel scale " + fmtList(fit.a) +
                        " and offset " + fmtList(fit.b) + " of the reproduction" +
                        (scaler > 0 ? " (stage " + stageLabel(scaler, opName(scaler)) + ")"
                                    : std::string());
        }
        return true;
    }

    // The Normalize parameters the dumped tensors imply.
    void explainNormalize(const AffineFit& fit, int norm, Cause& c) const {
        const auto params = stagesJson[size_t(norm) - 1];
        const size_t C = fit.a.size();
        const auto mean = numbers(params.value("mean", nlohmann::json()), C);
        const auto stdv = numbers(params.value("std", nlohmann::json()), C);
        c.stage = norm;
        c.key = "affine:" + std::to_string(norm);
        if (mean.size() != C || stdv.size() != C) {
            c.message =
                "the dumped tensors are a per-channel scale/offset of the reproduction: stage " +
                stageLabel(norm, "Normalize") + " differs";
            return;
        }
        std::vector<double> m2(C), s2(C);
        for (size_t i = 0; i < C; ++i) {
            s2[i] = stdv[i] / fit.a[i];
            m2[i] = mean[i] - fit.b[i] * s2[i];
        }
        c.evidence["stated_mean"] = mean;
        c.evidence["stated_std"] = stdv;
        c.evidence["implied_mean"] = m2;
        c.evidence["implied_std"] = s2;
        c.message = "the divergence starts at stage " + stageLabel(norm, "Normalize") +
                    ": the dumped tensors match Normalize(mean=" + fmtList(m2) +
                    ", std=" + fmtList(s2) + ") instead of the stated mean=" + fmtList(mean) +
                    ", std=" + fmtList(stdv);
    }

    // 3. Different output size: the geometry differs.
    bool otherShape(const Tensor& user, const std::vector<StageValue>& stages, Cause& c) const {
        const Tensor reference = asTensor(stages.back());
        if (user.shape == reference.shape) return false;
        int lastGeom = -1;
        for (size_t k = 1; k < stages.size(); ++k)
            if (stages[k].height() != stages[k - 1].height() ||
                stages[k].width() != stages[k - 1].width())
                lastGeom = int(k);
        c.stage = lastGeom;
        c.key = "shape:" + std::to_string(lastGeom);
        c.message = "the dumped tensor has shape " + shapeToString(user.shape) +
                    ", the stated pipeline gives " + shapeToString(reference.shape) +
                    (lastGeom > 0 ? "; the size is set by stage " + stageLabel(lastGeom, opName(lastGeom))
                                  : std::string());
        return true;
    }

    // 4. An earlier stage's output explains the dump up to scale/offset: the
    // divergence starts after it.
    bool afterEarlierStage(const Tensor& user, const std::vector<StageValue>& stages, Cause& c) const {
        for (size_t k = stages.size() - 1; k-- > 0;) {
            const Tensor st = asTensor(stages[k]);
            if (st.shape != user.shape || !fitAffine(user, st, tol).ok) continue;
            c.stage = int(k) + 1;
            c.key = "after:" + std::to_string(k);
            c.message = "the dumped tensors follow the stated pipeline up to stage " +
                        (k ? stageLabel(int(k), opName(int(k))) : std::string("0 (decoded)")) +
                        "; the divergence starts at stage " + stageLabel(int(k) + 1, opName(int(k) + 1));
            return true;
        }
        return false;
    }
};

// The reproduction with its channels in reversed order: what a loader that
// reads BGR (cv2.imread without cvtColor) gives.
Tensor reversedChannels(const Tensor& t) {
    Tensor r = t;
    if (t.shape.size() != 3 || t.shape[0] < 2) return r;
    const size_t C = size_t(t.shape[0]), plane = t.values.size() / C;
    for (size_t c = 0; c < C; ++c)
        std::copy(t.values.begin() + (C - 1 - c) * plane, t.values.begin() + (C - c) * plane,
                  r.values.begin() + c * plane);
    return r;
}

bool isChannelSwap(const Tensor& user, const Tensor& reference, double tol) {
    if (user.shape != reference.shape || user.shape.size() != 3 || user.shape[0] != 3) return false;
    if (diffTensors(user, reference, tol).within(tol)) return false;  // grey: no evidence
    return diffTensors(user, reversedChannels(reference), tol).within(tol);
}

// The value checks of the anomaly engine, the ones that judge tensors (the
// dataset-level ones need the whole dataset and belong to `audit`).
bool isValueKind(const std::string& kind) {
    return kind == "nan_or_inf" || kind == "extreme_values" || kind == "collapsed_range" ||
           kind == "unscaled_input" || kind == "double_normalization" ||
           kind == "normalization_mismatch" || kind == "constant_image";
}

// The printed transform's last stage when it is a Normalize batchscope can
// read: (position from 1, pipeline of that one stage).
std::optional<std::pair<int, Pipeline>> trailingNormalize(const std::string& transformText) {
    const auto parts = splitComposeText(transformText);
    if (parts.empty() || printedStageName(parts.back()) != "Normalize") return std::nullopt;
    try {
        return std::make_pair(int(parts.size()),
                              Pipeline::fromTorchvisionText("Compose(\n    " + parts.back() + "\n)"));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// ---------------------------------------------------------------- the checks

// One compare run: each check is a method adding findings to `report`.
class CompareRun {
public:
    CompareRun(const CompareSession& session, std::function<bool(size_t, size_t)> progress)
        : s(session), m(session.manifest()), tol(session.options().tolerance),
          repro(session, session.options().tolerance), progress_(std::move(progress)) {
        for (const auto& b : m.batches) total += b.indices.size();
        for (size_t k = 0; k < s.pipeline().size(); ++k)
            if (s.pipeline().stage(k).isRandom())
                randomStages.push_back(stageLabel(int(k) + 1, s.pipeline().stage(k).op()));
    }

    CompareReport run() {
        checkPipelineLimits();
        checkDatasetSize();
        checkLoaderProblems();
        compareSamples();
        reportSampleFindings();
        checkTargets();
        judgeValues();
        checkEpochCoverage();
        checkWorkersAgree();
        checkRepeatedAugmentation();
        checkWorkerRngProbe();
        summarise();
        return std::move(report);
    }

private:
    const CompareSession& s;
    const DumpManifest& m;
    const double tol;
    Reproduction repro;
    std::function<bool(size_t, size_t)> progress_;
    CompareReport report;
    std::vector<std::string> randomStages;
    size_t total = 0, done = 0, localised = 0, pixelCompared = 0, matched = 0;
    bool cancelled = false;
    double worstAbs = 0;
    std::map<std::string, Finding> divergences;  // by cause key
    Finding indexMismatch = makeFinding("index_mismatch", "dataset");
    Finding labelMismatch = makeFinding("label_mismatch", "dataset");
    Finding failed = makeFinding("unreproducible_sample", "file");
    Finding channelSwap = makeFinding("channel_swap", "transform");
    Finding userCodeDiffers = makeFinding("unreproducible_pipeline", "dataset");
    std::vector<ValueRange> ranges;  // expected output range per channel
    // variant -> index -> (batch, row), for the cross-dump checks.
    std::map<std::string, std::map<int64_t, std::pair<size_t, size_t>>> where;
    // Samples judged by the anomaly engine: against the reproduction's
    // stages (names the stage) or alone (the loader's output).
    std::vector<std::pair<size_t, size_t>> judgeReproduced, judgeAlone;

    bool reproducibleNow() const { return s.reproducible(); }
    bool random() const { return s.pipeline().isRandom(); }

    void checkPipelineLimits() {
        const std::string why = s.unreproducibleReason();
        if (!why.empty()) reportUnreproducible(why);
        if (s.unknownStages().empty() && s.hasDataset() && random()) reportRandomPipeline();
        if (s.pipelineSource() == "default" && why.empty())
            report.findings.push_back(makeFinding(
                "no_transform", "dataset",
                "the dumped dataset has no transform attribute; compared against ToTensor() "
                "(give the real pipeline with --pipeline FILE)"));
    }

    // One finding: what could not be reproduced, and that the tensors are
    // judged on their own.
    void reportUnreproducible(const std::string& why) {
        Finding f = makeFinding("unreproducible_pipeline", "dataset");
        f.message = "compare cannot reproduce " + m.datasetClass + "'s samples: " + why +
                    ". Tensor equality is not checked; the dumped tensors are judged on their "
                    "own (value checks, indices, labels, epochs, workers, RNG)";
        f.evidence = {{"dataset_class", m.datasetClass}, {"reason", why}};
        if (!m.transformText.empty()) f.evidence["printed_transform"] = m.transformText;
        if (!m.getitemClass.empty())
            f.evidence["getitem"] = {{"class", m.getitemClass}, {"where", m.getitemWhere},
                                     {"user_code", m.getitemUserCode}};
        nlohmann::json unknown = nlohmann::json::array();
        for (const auto& u : s.unknownStages())
            unknown.push_back({{"position", u.position}, {"name", u.name}, {"printed", u.text}});
        if (!unknown.empty()) {
            f.evidence["unknown_stages"] = unknown;
            f.message += "; to compare them, replace the unread stages in a pipeline file (a "
                         "Lambda expression or a TorchScript file) and pass --pipeline FILE";
        }
        if (!s.hasDataset()) f.evidence["dataset_error"] = why;
        report.findings.push_back(std::move(f));
    }

    void reportRandomPipeline() {
        std::string names;
        for (const auto& r : randomStages) names += (names.empty() ? "" : ", ") + r;
        Finding f = makeFinding("random_pipeline", randomStages.front(),
                                "random stages (" + names +
                                    ") cannot be reproduced draw for draw (torch's RNG): compared "
                                    "shapes and value ranges only, pixel comparison skipped");
        f.evidence = {{"random_stages", randomStages}};
        report.findings.push_back(std::move(f));
    }

    // Masks and boxes of detection / segmentation loaders (compare_targets.cpp).
    void checkTargets() {
        for (auto& f : judgeDumpedTargets(s, report.samples)) report.findings.push_back(std::move(f));
    }

    void checkDatasetSize() {
        const size_t n = s.dataset().size();
        if (!s.hasDataset() || m.datasetLength < 0 || size_t(m.datasetLength) == n) return;
        Finding f = makeFinding(
            "dataset_size_mismatch", "dataset",
            "the dumped dataset has " + std::to_string(m.datasetLength) + " samples, batchscope finds " +
                std::to_string(n) + " in " + s.dataset().root() +
                ": indices may not refer to the same files");
        f.evidence = {{"dumped", m.datasetLength}, {"found", n}};
        report.findings.push_back(std::move(f));
    }

    // ------------------------------------------------ samples the helper took out

    void checkLoaderProblems() {
        std::map<std::string, Finding> byKind;
        std::set<std::string> seen;  // the workers0 dump repeats main's problems
        for (const auto& p : m.problems) {
            const std::string kind = p.value("kind", std::string());
            if (!findingKind(kind)) continue;
            const std::string key = kind + "|" + p.value("index", nlohmann::json()).dump() + "|" +
                                    p.value("indices", nlohmann::json()).dump() + "|" +
                                    std::to_string(p.value("epoch", 0));
            if (!seen.insert(key).second) continue;
            Finding& f = byKind[kind];
            if (f.kind.empty()) f = makeFinding(kind, kind == "collate_error" ? "collate" : "dataset");
            addSample(f, problemSample(p));
        }
        for (auto& [kind, f] : byKind) {
            f.message = problemMessage(f);
            report.findings.push_back(std::move(f));
        }
    }

    FindingSample problemSample(const nlohmann::json& p) const {
        FindingSample fs;
        const auto indices = intList(p.value("indices", nlohmann::json()));
        const int64_t index = p.contains("index") && p["index"].is_number()
                                  ? p["index"].get<int64_t>()
                                  : (indices.empty() ? 0 : indices.front());
        fs.index = size_t(std::max<int64_t>(index, 0));
        if (s.hasDataset() && fs.index < s.dataset().size()) {
            try {
                fs.path = s.dataset().path(fs.index);
            } catch (const std::exception&) {
            }
        }
        fs.detail = p;
        return fs;
    }

    std::string problemMessage(const Finding& f) const {
        const nlohmann::json& d = f.samples.front().detail;
        const std::string first = " (first: index " + std::to_string(f.samples.front().index);
        const std::string cls = m.datasetClass.empty() ? "the dataset" : m.datasetClass;
        if (f.kind == "getitem_error")
            return std::to_string(f.count) + " call(s) of " + cls + ".__getitem__ raised" + first +
                   ", " + str(d, "type", "Exception") + ": " + str(d, "message") + " at " +
                   str(d, "where", "?") + "); the dump skipped them, training would stop there";
        if (f.kind == "invalid_sample")
            return std::to_string(f.count) + " sample(s) of " + cls +
                   " are not tensors the batch can hold" + first + " gave " + str(d, "type", "?") +
                   "; the collate said: " + str(d, "message") +
                   "). A __getitem__ returning None for a missing file is the usual cause";
        std::string shapes = d.value("shapes", nlohmann::json::array()).dump();
        return std::to_string(f.count) + " batch(es) could not be stacked: indices " +
               d.value("indices", nlohmann::json::array()).dump() + " have shapes " + shapes +
               " (" + str(d, "message") +
               "); resize to one size in the transform, or write a collate_fn that pads";
    }

    // ------------------------------------------------ sample by sample

    void compareSamples() {
        for (size_t b = 0; b < m.batches.size() && !cancelled; ++b) {
            const DumpBatchData* data = readBatch(b);
            if (!data) continue;
            const DumpBatchInfo& info = m.batches[b];
            const std::vector<int64_t>& indices = data->indices.empty() ? info.indices : data->indices;
            const size_t rows = data->rows();
            for (size_t r = 0; r < rows && r < indices.size() && !cancelled; ++r) {
                SampleComparison sc = describeSample(*data, b, r, indices[r]);
                compareSample(sc, data->image(r));
                report.samples.push_back(std::move(sc));
                ++done;
                if (progress_ && !progress_(done, total)) cancelled = true;
            }
        }
    }

    const DumpBatchData* readBatch(size_t b) {
        try {
            return &s.batchData(b);
        } catch (const std::exception& e) {
            Finding f = makeFinding("unreadable_dump", "file", e.what());
            f.count = m.batches[b].indices.size();
            report.findings.push_back(std::move(f));
            done += m.batches[b].indices.size();
            return nullptr;
        }
    }

    SampleComparison describeSample(const DumpBatchData& data, size_t b, size_t r, int64_t index) {
        const DumpBatchInfo& info = m.batches[b];
        SampleComparison sc;
        sc.batch = b;
        sc.row = r;
        sc.index = index;
        sc.variant = info.variant;
        sc.epoch = info.epoch;
        sc.worker = r < info.workers.size() ? info.workers[r] : -1;
        sc.label = r < data.labels.size()   ? data.labels[r]
                   : r < info.labels.size() ? info.labels[r]
                                            : -1;
        where[info.variant][sc.index] = {b, r};
        return sc;
    }

    void compareSample(SampleComparison& sc, const Tensor& user) {
        const bool judged = sc.variant == "main" &&
                            judgeReproduced.size() + judgeAlone.size() < s.options().maxJudged;
        if (!s.unreproducibleReason().empty()) {  // judged alone, nothing to compare with
            if (judged) judgeAlone.emplace_back(sc.batch, sc.row);
            checkLabel(sc, false);
            return;
        }
        Tensor reference;
        try {
            reference = s.reproduce(sc.index, sc.epoch);
        } catch (const std::exception& e) {
            sc.error = e.what();
            addSample(failed, findingSample(s, sc, {{"error", sc.error}}));
            if (judged) judgeAlone.emplace_back(sc.batch, sc.row);
            return;
        }
        sc.diff = diffTensors(user, reference, tol);
        bool labelExplained = false;
        bool explainedByReproduction = true;
        if (reproducibleNow()) {
            sc.pixelCompared = true;
            ++pixelCompared;
            if (std::isfinite(sc.diff.maxAbs)) worstAbs = std::max(worstAbs, sc.diff.maxAbs);
            if (sc.diff.within(tol))
                ++matched;
            else
                explainedByReproduction = explainDifference(sc, user, reference, labelExplained);
        } else {
            explainedByReproduction = checkShapeAndRange(sc, user, reference);
        }
        if (judged)
            (explainedByReproduction ? judgeReproduced : judgeAlone).emplace_back(sc.batch, sc.row);
        checkLabel(sc, labelExplained);
    }

    // A reproduced sample that differs: another index, reversed channels, the
    // user's own __getitem__, or a stage of the pipeline. Returns true when
    // the reproduction's stages still describe the user's values.
    bool explainDifference(SampleComparison& sc, const Tensor& user, const Tensor& reference,
                           bool& labelExplained) {
        if (isChannelSwap(user, reference, tol)) {
            addSample(channelSwap, findingSample(s, sc, sc.diff.toJson()));
            return true;
        }
        sc.matchedIndex = repro.findMatch(user, sc.index);
        if (sc.matchedIndex >= 0) {
            addIndexMismatch(sc, labelExplained);
            return true;
        }
        if (m.getitemUserCode) {
            addSample(userCodeDiffers, findingSample(s, sc, sc.diff.toJson()));
            return false;
        }
        addDivergence(sc, user);
        return false;
    }

    void addIndexMismatch(const SampleComparison& sc, bool& labelExplained) {
        nlohmann::json d = {{"matched_index", sc.matchedIndex},
                            {"offset", sc.matchedIndex - sc.index},
                            {"dumped_label", sc.label}};
        try {
            d["matched_path"] = s.dataset().path(size_t(sc.matchedIndex));
            d["matched_label"] = s.dataset().label(size_t(sc.matchedIndex));
            labelExplained = sc.label == d["matched_label"].get<int64_t>();
        } catch (const std::exception&) {
        }
        addSample(indexMismatch, findingSample(s, sc, d));
    }

    void addDivergence(SampleComparison& sc, const Tensor& user) {
        if (localised >= s.options().maxLocalise) {
            Finding& f = divergences["not_localised"];
            if (f.kind.empty())
                f = makeFinding("pipeline_divergence", "pipeline",
                                "further samples differ (not localised: over the limit of " +
                                    std::to_string(s.options().maxLocalise) + ")");
            addSample(f, findingSample(s, sc, sc.diff.toJson()));
            return;
        }
        ++localised;
        const Cause cause = repro.localise(user, sc.index, sc.epoch);
        sc.divergenceStage = cause.stage;
        Finding& f = divergences[cause.key];
        if (f.kind.empty()) {
            f = makeFinding("pipeline_divergence",
                            cause.stage > 0 ? stageLabel(cause.stage, repro.opName(cause.stage))
                                            : "pipeline",
                            cause.message);
            f.evidence = cause.evidence;
            f.evidence["cause"] = cause.key;
        }
        addSample(f, findingSample(s, sc, sc.diff.toJson()));
    }

    // Random pipelines still fix the output shape and value range.
    bool checkShapeAndRange(const SampleComparison& sc, const Tensor& user, const Tensor& reference) {
        if (!sc.diff.shapeMatch) {
            Finding& f = divergences["shape"];
            if (f.kind.empty())
                f = makeFinding("pipeline_divergence", "pipeline",
                                "the dumped tensor has shape " + shapeToString(user.shape) +
                                    ", the stated pipeline gives " + shapeToString(reference.shape));
            addSample(f, findingSample(s, sc));
            return false;
        }
        if (user.shape.size() != 3) return true;
        expectedRange(int(user.shape[0]));
        const size_t plane = user.values.size() / size_t(user.shape[0]);
        for (size_t c = 0; c < ranges.size(); ++c) {
            if (!ranges[c].known) continue;
            const auto [lo, hi] = std::minmax_element(user.values.begin() + c * plane,
                                                      user.values.begin() + (c + 1) * plane);
            const double slack = tol + 1e-6 * (ranges[c].hi - ranges[c].lo);
            if (*lo >= ranges[c].lo - slack && *hi <= ranges[c].hi + slack) continue;
            Finding& f = divergences["range"];
            if (f.kind.empty())
                f = makeFinding("pipeline_divergence", "pipeline",
                                "dumped values fall outside the range the stated pipeline can produce");
            addSample(f, findingSample(s, sc,
                                       {{"channel", c},
                                        {"observed", {*lo, *hi}},
                                        {"expected", {ranges[c].lo, ranges[c].hi}}}));
            return false;
        }
        return true;
    }

    void expectedRange(int channels) {
        if (int(ranges.size()) == channels) return;
        ranges.assign(size_t(channels), ValueRange::of(0, 255));
        for (size_t k = 0; k < s.pipeline().size(); ++k)
            for (int c = 0; c < channels; ++c)
                ranges[size_t(c)] = s.pipeline().stage(k).expectedRange(ranges[size_t(c)], c);
    }

    void checkLabel(const SampleComparison& sc, bool labelExplained) {
        if (m.hasTargetTransform || sc.label < 0 || labelExplained || sc.matchedIndex >= 0) return;
        if (!s.hasDataset() || sc.index < 0 || size_t(sc.index) >= s.dataset().size()) return;
        try {
            const int64_t expected = s.dataset().label(size_t(sc.index));
            if (expected >= 0 && expected != sc.label)
                addSample(labelMismatch,
                          findingSample(s, sc, {{"dumped_label", sc.label}, {"dataset_label", expected}}));
        } catch (const std::exception&) {
        }
    }

    void reportSampleFindings() {
        if (indexMismatch.count) reportIndexMismatch();
        for (auto& [key, f] : divergences) {
            f.message = std::to_string(f.count) + " dumped sample(s) differ from the reproduction " +
                        "beyond tolerance " + fmt(tol) + "; " + f.message;
            if (!f.samples.empty() && f.samples.front().detail.contains("max_abs"))
                f.message += " (first: index " + std::to_string(f.samples.front().index) +
                             ", max |diff| " + fmt(f.samples.front().detail["max_abs"].get<double>()) +
                             " at " + f.samples.front().detail["argmax"].dump() + ")";
            report.findings.push_back(f);
        }
        if (channelSwap.count) {
            channelSwap.message = std::to_string(channelSwap.count) +
                                  " dumped sample(s) are the reproduction with the channel order "
                                  "reversed (BGR for RGB): an image read by cv2.imread without "
                                  "cv2.cvtColor(img, cv2.COLOR_BGR2RGB), or an [..., ::-1]";
            report.findings.push_back(channelSwap);
        }
        if (userCodeDiffers.count) reportUserCodeDiffers();
        if (labelMismatch.count) {
            labelMismatch.message = std::to_string(labelMismatch.count) +
                                    " dumped label(s) differ from the dataset's label for the same "
                                    "index (class order or target mapping differs)";
            report.findings.push_back(labelMismatch);
        }
        if (failed.count) {
            failed.message = std::to_string(failed.count) +
                             " dumped sample(s) could not be reproduced: " +
                             failed.samples.front().detail.value("error", std::string());
            report.findings.push_back(failed);
        }
    }

    void reportIndexMismatch() {
        const auto& d = indexMismatch.samples.front().detail;
        std::map<int64_t, size_t> offsets;
        // Offsets modulo the dataset size: `(i + 1) % len(self)` wraps around.
        const int64_t n = int64_t(std::max<size_t>(s.dataset().size(), 1));
        for (const auto& sc : report.samples)
            if (sc.matchedIndex >= 0) {
                int64_t o = ((sc.matchedIndex - sc.index) % n + n) % n;
                if (o > n / 2) o -= n;
                ++offsets[o];
            }
        const auto common = std::max_element(offsets.begin(), offsets.end(),
                                             [](auto& a, auto& b) { return a.second < b.second; });
        const size_t sameBatch = samplesHoldingBatchNeighbours();
        indexMismatch.message =
            std::to_string(indexMismatch.count) + " dumped sample(s) are not dataset[index] but " +
            "another sample: index " + std::to_string(indexMismatch.samples.front().index) +
            " holds dataset[" + std::to_string(d["matched_index"].get<int64_t>()) + "]" +
            mismatchCause(common->first, common->second, sameBatch);
        if (sameBatch)
            indexMismatch.message += "; " + std::to_string(sameBatch) +
                                     " of them hold another sample of their own batch: one "
                                     "buffer or object shared between calls (returned without a "
                                     "copy, or written by threads without a lock)";
        indexMismatch.evidence = {{"offsets", nlohmann::json::object()},
                                  {"holding_a_batch_neighbour", sameBatch}};
        for (const auto& [o, c] : offsets) indexMismatch.evidence["offsets"][std::to_string(o)] = c;
        report.findings.push_back(indexMismatch);
    }

    // What the pattern of held indices points at. One offset for all is a
    // shifted lookup; mostly batch neighbours is one shared buffer (said by
    // the caller); some but not all samples at no common offset is what
    // reads that race look like (only the reads that lost the race are wrong).
    std::string mismatchCause(int64_t commonOffset, size_t withCommonOffset,
                              size_t holdingBatchNeighbours) const {
        const size_t n = indexMismatch.count;
        if (withCommonOffset == n && commonOffset != 0)
            return " (always index " + std::string(commonOffset > 0 ? "+" : "") +
                   std::to_string(commonOffset) +
                   ": an off-by-one or a wrong lookup in __getitem__)";
        const size_t compared = report.samples.size();
        if (n < compared && 2 * withCommonOffset < n && 2 * holdingBatchNeighbours < n)
            return " (only " + std::to_string(n) + " of " + std::to_string(compared) +
                   " samples, at no common offset: reads that race, through a file handle, buffer "
                   "or cache shared by threads (or by worker processes that inherited an open "
                   "file) without a lock, or a cache keyed by the wrong value)";
        return " (a wrong lookup in __getitem__ or a different file order)";
    }

    // Samples whose tensor is another index of the same dumped batch.
    size_t samplesHoldingBatchNeighbours() const {
        size_t n = 0;
        for (const auto& sc : report.samples) {
            if (sc.matchedIndex < 0) continue;
            const auto& idx = m.batches[sc.batch].indices;
            if (std::find(idx.begin(), idx.end(), sc.matchedIndex) != idx.end()) ++n;
        }
        return n;
    }

    // The user's __getitem__ changes what the printed transform gives: said
    // once, not blamed on the pipeline.
    void reportUserCodeDiffers() {
        Finding& f = userCodeDiffers;
        f.severity = Severity::Warning;
        f.message = std::to_string(f.count) + " dumped sample(s) differ from dataset[index] " +
                    "through the printed transform: " + m.getitemClass + ".__getitem__ (" +
                    m.getitemWhere +
                    ") is user code that changes them, so compare cannot reproduce it. The "
                    "tensors are judged on their own instead";
        f.evidence = {{"dataset_class", m.datasetClass},
                      {"getitem", {{"class", m.getitemClass}, {"where", m.getitemWhere}}},
                      {"printed_transform", m.transformText}};
        report.findings.push_back(f);
    }

    // ------------------------------------------------ the anomaly engine

    void judgeValues() {
        judgeReproducedSamples();
        judgeSamplesAlone();
    }

    // Reproduced samples: the reproduction's intermediate stages go through
    // the engine, which names the stage as `audit` does.
    void judgeReproducedSamples() {
        if (judgeReproduced.empty()) return;
        AuditEngine engine(s.pipeline());
        for (const auto& [b, r] : judgeReproduced) {
            const int64_t index = m.batches[b].indices.size() > r ? m.batches[b].indices[r] : -1;
            if (index < 0 || size_t(index) >= s.dataset().size()) continue;
            RandomContext ctx{m.seed, 0, index};
            engine.observeSample(processSample(s.dataset(), s.pipeline(), size_t(index), ctx, true));
        }
        takeValueFindings(engine, {});
    }

    // Unreproduced samples: the dataset's decoded input (when batchscope can
    // read it) then the user's tensor, as one stage of unknown code; a
    // printed trailing Normalize is inverted so that its input is judged too.
    void judgeSamplesAlone() {
        if (judgeAlone.empty()) return;
        const auto norm = trailingNormalize(m.transformText);
        nlohmann::json stages = nlohmann::json::array({{{"op", "Lambda"}, {"expr", "x"}}});
        if (norm) stages.push_back(norm->second.toJson()[0]);
        const Pipeline virtualPipeline = Pipeline::fromJson(stages);
        AuditEngine engine(virtualPipeline);
        for (const auto& [b, r] : judgeAlone) {
            const auto sample = aloneSample(b, r, norm ? &norm->second : nullptr);
            if (sample) engine.observeSample(*sample);
        }
        std::map<std::string, std::string> rename = {{"1:Lambda", "output"}};
        if (norm) rename["2:Normalize"] = stageLabel(norm->first, "Normalize");
        takeValueFindings(engine, rename);
        if (!norm) judgeSpreadWithoutInput();
    }

    // Without the dataset's input to compare with, a float image tensor
    // whose values span less than kMinSpread is squeezed: loaders feed
    // networks [0, 1] or standardised values, spanning about 1 or more.
    void judgeSpreadWithoutInput() {
        constexpr double kMinSpread = 0.02;  // 5 grey levels of 255
        if (s.hasDataset()) return;          // the engine had the input
        Finding f = makeFinding("collapsed_range", "output");
        double lo = INFINITY, hi = -INFINITY;
        for (const auto& [b, r] : judgeAlone) {
            const Tensor user = s.batchData(b).image(r);
            if (user.dtype != DType::Float32 || user.values.empty()) continue;
            const auto [mn, mx] = std::minmax_element(user.values.begin(), user.values.end());
            const double spread = double(*mx) - double(*mn);
            if (!(spread > 0) || spread >= kMinSpread) continue;
            lo = std::min(lo, double(*mn));
            hi = std::max(hi, double(*mx));
            SampleComparison sc;
            sc.batch = b;
            sc.row = r;
            sc.index = m.batches[b].indices[r];
            sc.variant = m.batches[b].variant;
            addSample(f, findingSample(s, sc, {{"observed", {*mn, *mx}}, {"spread", spread}}));
        }
        if (!f.count) return;
        f.message = "the loader's output tensors of " + std::to_string(f.count) +
                    " sample(s) lie within [" + fmt(lo) + ", " + fmt(hi) + "] (spread under " +
                    fmt(kMinSpread) + " where an image in [0, 1] or standardised spans about 1): " +
                    m.datasetClass + "'s code squeezes the data into a sliver (a division by the "
                    "sum, or a scale applied twice)";
        f.evidence = {{"observed", {lo, hi}}, {"min_spread", kMinSpread},
                      {"judged", "the loader's output tensors (no dataset input to compare with)"}};
        report.findings.push_back(std::move(f));
    }

    std::optional<SampleResult> aloneSample(size_t b, size_t r, const Pipeline* norm) const {
        if (m.batches[b].indices.size() <= r) return std::nullopt;
        const Tensor user = s.batchData(b).image(r);
        SampleResult res;
        res.record.index = size_t(std::max<int64_t>(m.batches[b].indices[r], 0));
        res.output = user;
        try {
            res.raw = s.dataset().loadRaw(res.record.index);
            res.record.path = s.dataset().path(res.record.index);
        } catch (const std::exception&) {
            // Without the raw input, the user's tensor stands for it: only
            // the checks of a trailing Normalize and NaN/Inf apply.
        }
        // Without the raw input the first stage is the identity: only a
        // trailing Normalize's input is judged (and NaN/Inf, in judgeNonFinite).
        const Tensor pre = norm ? unnormalize(user, *norm) : user;
        res.stages.push_back(res.raw.empty() ? StageValue::fromTensor(finiteCopy(pre))
                                             : StageValue::fromImage(res.raw));
        res.record.decode.sourceMode = res.raw.channels == 1 ? "L" : "RGB";
        res.record.decode.bitDepth = 8;
        if (norm) res.stages.push_back(StageValue::fromTensor(pre));
        res.stages.push_back(StageValue::fromTensor(user));
        return res;
    }

    // Non-finite values as 0: a stand-in input, so that NaN/Inf in the
    // output are blamed on the loader's code.
    static Tensor finiteCopy(Tensor t) {
        for (float& v : t.values)
            if (!std::isfinite(v)) v = 0;
        return t;
    }

    // x * std + mean: the input a Normalize must have had to give `user`.
    static Tensor unnormalize(const Tensor& user, const Pipeline& norm) {
        const nlohmann::json p = norm.toJson()[0];
        Tensor t = user;
        if (user.shape.size() != 3) return t;
        const size_t C = size_t(user.shape[0]), plane = user.values.size() / C;
        const auto mean = numbers(p.value("mean", nlohmann::json()), C);
        const auto sd = numbers(p.value("std", nlohmann::json()), C);
        if (mean.size() != C || sd.size() != C) return t;
        for (size_t c = 0; c < C; ++c)
            for (size_t i = 0; i < plane; ++i)
                t.values[c * plane + i] = float(user.values[c * plane + i] * sd[c] + mean[c]);
        return t;
    }

    void takeValueFindings(AuditEngine& engine, const std::map<std::string, std::string>& rename) {
        engine.finish();
        for (Finding f : engine.findings()) {
            if (!isValueKind(f.kind)) continue;
            auto it = rename.find(f.stage);
            if (it != rename.end()) {
                f.stage = it->second;
                // "output" is no transform; "4:Normalize" is the user's 4th.
                f.stageNumber = it->second == "output" ? 0 : std::atoi(it->second.c_str());
                f.message = rewordStage(f.message, it);
                f.evidence["judged"] = it->second == "output" ? "the loader's output tensors"
                                                              : "the input " + it->second +
                                                                    " must have had to give them";
            }
            report.findings.push_back(std::move(f));
        }
    }

    static std::string rewordStage(std::string message,
                                   std::map<std::string, std::string>::const_iterator it) {
        const std::string to = it->second == "output" ? "the loader's output" : it->second;
        for (size_t at = message.find(it->first); at != std::string::npos; at = message.find(it->first, at))
            message.replace(at, it->first.size(), to);
        return message;
    }

    // ------------------------------------------------ epochs, workers, RNG

    void checkEpochCoverage() {
        std::map<std::string, std::vector<int64_t>> perVariant;
        for (const auto& b : m.batches)
            for (int64_t i : b.indices) perVariant[b.variant].push_back(i);
        for (const auto& [variant, list] : perVariant) {
            std::map<int64_t, int> seen;
            for (int64_t i : list) ++seen[i];
            checkDuplicates(variant, seen);
            checkMissing(variant, list, seen);
        }
    }

    void checkDuplicates(const std::string& variant, const std::map<int64_t, int>& seen) {
        Finding dup = makeFinding("duplicate_in_epoch", "loader");
        for (const auto& [i, n] : seen)
            if (n > 1) addSample(dup, {size_t(std::max<int64_t>(i, 0)), "", {{"times", n}, {"variant", variant}}});
        if (!dup.count) return;
        dup.message = std::to_string(dup.count) + " index(es) served more than once in the " + variant +
                      " epoch's dumped batches (first: " + std::to_string(dup.samples.front().index) +
                      "): a sampler or indexing bug";
        report.findings.push_back(dup);
    }

    // Missing: only decidable over a whole epoch, or a sequential prefix.
    void checkMissing(const std::string& variant, const std::vector<int64_t>& list,
                      const std::map<int64_t, int>& seen) {
        const int64_t length = m.datasetLength >= 0 ? m.datasetLength : int64_t(s.dataset().size());
        // Samples the helper took out were served, just not dumped.
        std::set<int64_t> takenOut;
        for (const auto& p : m.problems) {
            if (p.contains("index") && p["index"].is_number()) takenOut.insert(p["index"].get<int64_t>());
            for (int64_t i : intList(p.value("dropped", nlohmann::json()))) takenOut.insert(i);
        }
        const int64_t served = int64_t(list.size() + takenOut.size());
        std::vector<int64_t> expected;
        if (served >= length)
            for (int64_t i = 0; i < length; ++i) expected.push_back(i);
        else if (m.sampler == "SequentialSampler")
            for (int64_t i = 0; i < int64_t(list.size()); ++i) expected.push_back(i);
        Finding miss = makeFinding("missing_in_epoch", "loader");
        for (int64_t i : expected)
            if (!seen.count(i) && !takenOut.count(i)) addSample(miss, {size_t(i), "", {{"variant", variant}}});
        if (!miss.count) return;
        miss.message = std::to_string(miss.count) + " index(es) never served in the " + variant +
                       " epoch's dumped batches (first: " + std::to_string(miss.samples.front().index) + ")";
        report.findings.push_back(miss);
    }

    // Workers vs num_workers=0: the same indices must give the same tensors
    // when the pipeline is deterministic.
    void checkWorkersAgree() {
        if (!where.count("main") || !where.count("workers0") || !s.unknownStages().empty() || random())
            return;
        Finding f = makeFinding("nondeterministic_loader", "loader");
        double worst = 0;
        size_t pairs = 0;
        for (const auto& [index, pos] : where["workers0"]) {
            auto it = where["main"].find(index);
            if (it == where["main"].end()) continue;
            ++pairs;
            const TensorDiff d = diffTensors(s.userSample(it->second.first, it->second.second),
                                             s.userSample(pos.first, pos.second), tol);
            if (d.within(tol)) continue;
            SampleComparison sc;
            sc.batch = it->second.first;
            sc.row = it->second.second;
            sc.index = index;
            sc.variant = "main";
            const auto& info = m.batches[sc.batch];
            sc.worker = sc.row < info.workers.size() ? info.workers[sc.row] : -1;
            if (std::isfinite(d.maxAbs)) worst = std::max(worst, d.maxAbs);
            addSample(f, findingSample(s, sc, d.toJson()));
        }
        if (!f.count) return;
        f.message = std::to_string(f.count) + " of " + std::to_string(pairs) +
                    " sample(s) differ between the num_workers=" + std::to_string(m.numWorkers) +
                    " dump and the num_workers=0 dump under a deterministic pipeline (max |diff| " +
                    fmt(worst) +
                    "): state shared or mutated across workers, or unseeded randomness in "
                    "__getitem__";
        if (m.rngProbe.is_object() && m.rngProbe.value("random", false))
            f.message += " (the worker probe found " + m.datasetClass +
                         "'s samples random: expected when its __getitem__ augments)";
        f.evidence = {{"pairs", pairs}, {"max_abs", worst}};
        report.findings.push_back(f);
    }

    // Random augmentation that repeats across epochs.
    void checkRepeatedAugmentation() {
        if (!random() || !where.count("main") || !where.count("epoch2")) return;
        bool discreteOnly = true;
        for (size_t k = 0; k < s.pipeline().size(); ++k)
            if (s.pipeline().stage(k).isRandom() && !s.pipeline().stage(k).traits().discreteDraws)
                discreteOnly = false;
        Finding f = makeFinding("repeated_augmentation", randomStages.front());
        size_t pairs = 0;
        for (const auto& [index, pos] : where["epoch2"]) {
            auto it = where["main"].find(index);
            if (it == where["main"].end()) continue;
            ++pairs;
            const TensorDiff d = diffTensors(s.userSample(it->second.first, it->second.second),
                                             s.userSample(pos.first, pos.second), 0);
            if (!d.shapeMatch || d.maxAbs != 0) continue;
            SampleComparison sc;
            sc.batch = pos.first;
            sc.row = pos.second;
            sc.index = index;
            sc.variant = "epoch2";
            sc.epoch = 1;
            addSample(f, findingSample(s, sc));
        }
        // Flips alone repeat by chance half the time: only all-identical is suspicious.
        const bool suspicious = discreteOnly ? (pairs >= 4 && f.count == pairs) : f.count > 0;
        if (!suspicious) return;
        f.message = std::to_string(f.count) + " of " + std::to_string(pairs) +
                    " sample(s) came out identical in epochs 1 and 2 despite random stages: "
                    "the random state is reset each epoch (a fixed seed in worker_init_fn "
                    "or __getitem__)";
        f.evidence = {{"pairs", pairs}, {"identical", f.count}};
        report.findings.push_back(f);
    }

    // The helper's probe: one index at the same position of every worker's
    // stream, in two epochs.
    void checkWorkerRngProbe() {
        const nlohmann::json& p = m.rngProbe;
        if (!p.is_object() || !p.value("ran", false) || !p.value("random", false)) return;
        const std::string cls = m.datasetClass.empty() ? "the dataset" : m.datasetClass;
        const int64_t index = p.value("index", int64_t(0));
        const std::string fix =
            "Seed it per worker in worker_init_fn (e.g. from torch.utils.data.get_worker_info()."
            "seed), or create the generator lazily in the first __getitem__ of each worker";
        if (p.value("shared_across_workers", false))
            addProbeFinding("worker_rng_shared", index,
                            "every worker of " + cls + " produced the same random sample for index " +
                                std::to_string(index) + " at the same position of its stream (" +
                                std::to_string(p.value("workers", 0)) +
                                " workers): a random generator created before the workers start "
                                "(in __init__, or NumPy's global one) is copied into each of "
                                "them, so all workers draw the same augmentations. " + fix);
        if (p.value("repeated_across_epochs", false))
            addProbeFinding("epoch_rng_repeated", index,
                            "the workers of " + cls + " produced the same random samples for index " +
                                std::to_string(index) +
                                " in two epochs: worker processes restart each epoch from the "
                                "same copy of the generator, so every epoch repeats the previous "
                                "one's augmentations. " + fix);
    }

    void addProbeFinding(const std::string& kind, int64_t index, const std::string& message) {
        Finding f = makeFinding(kind, "loader", message);
        FindingSample fs;
        fs.index = size_t(std::max<int64_t>(index, 0));
        if (s.hasDataset() && fs.index < s.dataset().size()) fs.path = s.dataset().path(fs.index);
        fs.detail = m.rngProbe;
        f.samples.push_back(fs);
        f.count = 1;
        f.evidence = m.rngProbe;
        f.evidence["dataset_class"] = m.datasetClass;
        report.findings.push_back(std::move(f));
    }

    // ------------------------------------------------ summary

    void summarise() {
        std::stable_sort(
            report.findings.begin(), report.findings.end(),
            [](const Finding& a, const Finding& b) { return int(a.severity) > int(b.severity); });
        int errors = 0, warnings = 0, infos = 0;
        for (const auto& f : report.findings)
            (f.severity == Severity::Error ? errors : f.severity == Severity::Warning ? warnings : infos)++;
        const Dataset& ds = s.dataset();
        report.context["tool"] = {{"name", "batchscope"}, {"version", BATCHSCOPE_VERSION}};
        report.context["dataset"] = {{"path", ds.root()},
                                     {"format", s.hasDataset() ? formatName(ds.format()) : "none"},
                                     {"samples", ds.size()},
                                     {"classes", ds.classes()},
                                     {"has_raw", ds.hasRaw()}};
        report.context["pipeline"] = {{"stages", s.pipeline().toJson()},
                                      {"repr", s.pipeline().repr()},
                                      {"default", s.pipelineSource() == "default"},
                                      {"source", s.pipelineSource()}};
        report.context["manifest"] = {{"dataset", m.raw.value("dataset", nlohmann::json())},
                                      {"loader", m.raw.value("loader", nlohmann::json())},
                                      {"versions", m.raw.value("versions", nlohmann::json())},
                                      {"rng_probe", m.rngProbe}};
        report.summary = {{"findings", report.findings.size()},
                          {"by_severity", {{"error", errors}, {"warning", warnings}, {"info", infos}}},
                          {"dump", m.dir},
                          {"dataset", ds.root()},
                          {"dataset_class", m.datasetClass},
                          {"pipeline", s.pipeline().repr()},
                          {"pipeline_source", s.pipelineSource()},
                          {"tolerance", tol},
                          {"batches", m.batches.size()},
                          {"samples", report.samples.size()},
                          {"pixel_compared", pixelCompared},
                          {"matching", matched},
                          {"max_abs", worstAbs},
                          {"reproducible", reproducibleNow()},
                          {"cancelled", cancelled},
                          {"errors", errors},
                          {"warnings", warnings},
                          {"info", infos}};
    }
};

}  // namespace

CompareReport CompareSession::run(std::function<bool(size_t, size_t)> progress) const {
    return CompareRun(*this, std::move(progress)).run();
}

// ---------------------------------------------------------------- finding helpers

FindingSample findingSample(const CompareSession& s, const SampleComparison& sc,
                            nlohmann::json detail) {
    FindingSample f;
    f.index = size_t(std::max<int64_t>(sc.index, 0));
    try {
        f.path = s.dataset().path(f.index);
    } catch (const std::exception&) {
    }
    detail["batch"] = s.manifest().batches[sc.batch].batch;
    detail["row"] = sc.row;
    detail["variant"] = sc.variant;
    detail["epoch"] = sc.epoch;
    detail["worker"] = sc.worker;
    f.detail = std::move(detail);
    return f;
}

void addSample(Finding& f, FindingSample sample) {
    ++f.count;
    if (f.samples.size() < kCompareMaxListed) f.samples.push_back(std::move(sample));
}

Finding makeFinding(const std::string& kind, const std::string& stage, std::string message) {
    Finding f;
    f.kind = kind;
    f.severity = severityOf(kind);
    f.stage = stage;
    f.message = std::move(message);
    return f;
}

}  // namespace bs
