#include "core/compare/compare.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include "core/common/fileio.h"
#include "core/common/safe_unpickle.h"

#include "core/loader/loader.h"
#include "core/common/torch_bridge.h"

namespace fs = std::filesystem;

namespace bs {

namespace {

constexpr size_t kMaxListed = 20;  // samples listed per finding

std::vector<int64_t> intList(const nlohmann::json& j) {
    std::vector<int64_t> out;
    if (!j.is_array()) return out;
    for (const auto& v : j)
        if (v.is_number()) out.push_back(v.get<int64_t>());
    return out;
}

std::string str(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
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
    }
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
        for (const auto& kv : v.toGenericDict()) {
            if (!kv.key().isString() || !kv.value().isTensor()) continue;
            const std::string key = kv.key().toStringRef();
            const at::Tensor t = kv.value().toTensor();
            if (key == "images")
                out.images = fromAten(t);
            else if (key == "indices")
                out.indices = tensorInts(t);
            else if (key == "labels" && t.dim() == 1)
                out.labels = tensorInts(t);
            else if (key == "workers")
                out.workers = tensorInts(t);
        }
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    } catch (const std::exception& e) {
        std::string msg = e.what();
        msg = msg.substr(0, msg.find('\n'));
        throw Error(path + ": not a readable torch.save file (" + msg + ")");
    }
    if (out.images.empty()) throw Error(path + ": no \"images\" tensor");
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

CompareSession::CompareSession(const std::string& dumpDir, const CompareOptions& options)
    : manifest_(readDumpManifest(dumpDir)), options_(options) {
    const std::string root =
        !options_.datasetRoot.empty() ? options_.datasetRoot : manifest_.datasetRoot;
    if (root.empty())
        throw Error(manifest_.dir + "/manifest.json: the dataset (" + manifest_.datasetClass +
                    ") has no root; give it with --dataset ROOT");
    dataset_ = openDataset(root);

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
    return unknown_.empty() && !pipeline_.isRandom();
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
    return tensorRow(batchData(batch).images, row);
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

// ---------------------------------------------------------------- run

namespace {

struct RunState {
    RunState(const CompareSession& session, double tolerance)
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

    // The index whose reproduction matches `user`, or -1.
    int64_t findMatch(const Tensor& user, int64_t index) {
        const int64_t n = int64_t(s.dataset().size());
        for (int64_t d = 1; d <= s.options().neighbourhood; ++d)
            for (int64_t j : {index - d, index + d}) {
                if (j < 0 || j >= n) continue;
                try {
                    if (diffTensors(user, s.reproduce(j), tol).within(tol)) return j;
                } catch (const std::exception&) {
                }
            }
        buildSignatures();
        const auto sig = signature(user);
        std::vector<std::pair<double, int64_t>> ranked;
        for (size_t i = 0; i < signatures.size(); ++i)
            if (!signatures[i].empty() && int64_t(i) != index)
                ranked.emplace_back(signatureDistance(sig, signatures[i]), int64_t(i));
        const size_t top = std::min<size_t>(3, ranked.size());
        std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end());
        for (size_t i = 0; i < top; ++i) {
            try {
                if (diffTensors(user, s.reproduce(ranked[i].second), tol).within(tol))
                    return ranked[i].second;
            } catch (const std::exception&) {
            }
        }
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
        const Tensor reference = asTensor(stages.back());
        const size_t n = s.pipeline().size();

        // 1. The user's loader skips one stage.
        buildVariants();
        for (const auto& [k, p] : withoutStage) {
            try {
                RandomContext ctx{s.manifest().seed, epoch, index};
                const Tensor out = asTensor(p.run(stages.front(), ctx).output);
                if (diffTensors(user, out, tol).within(tol)) {
                    c.stage = k;
                    c.key = "without:" + std::to_string(k);
                    c.message = "the dumped tensors match the stated pipeline without stage " +
                                stageLabel(k, opName(k)) +
                                ": the training loader does not apply it";
                    c.evidence["missing_stage"] = s.pipeline().stage(size_t(k) - 1).repr();
                    return c;
                }
            } catch (const std::exception&) {
            }
        }

        // 2. A per-channel scale/offset of the final output: a value stage
        // (Normalize, ToTensor's scaling) with other parameters.
        if (user.shape == reference.shape) {
            const AffineFit fit = fitAffine(user, reference, tol);
            if (fit.ok) {
                int norm = -1, scaler = -1;
                for (size_t k = 0; k < n; ++k) {
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
                    c.message = "the dumped tensors are the reproduction scaled by " +
                                fmt(fit.a[0]) + ": the 0..1 scaling of stage " +
                                stageLabel(scaler, opName(scaler)) + " differs";
                } else if (norm > 0) {
                    const auto params = stagesJson[size_t(norm) - 1];
                    const size_t C = fit.a.size();
                    const auto mean = numbers(params.value("mean", nlohmann::json()), C);
                    const auto stdv = numbers(params.value("std", nlohmann::json()), C);
                    c.stage = norm;
                    c.key = "affine:" + std::to_string(norm);
                    if (mean.size() == C && stdv.size() == C) {
                        std::vector<double> m2(C), s2(C);
                        for (size_t i = 0; i < C; ++i) {
                            s2[i] = stdv[i] / fit.a[i];
                            m2[i] = mean[i] - fit.b[i] * s2[i];
                        }
                        c.evidence["stated_mean"] = mean;
                        c.evidence["stated_std"] = stdv;
                        c.evidence["implied_mean"] = m2;
                        c.evidence["implied_std"] = s2;
                        c.message = "the divergence starts at stage " +
                                    stageLabel(norm, "Normalize") +
                                    ": the dumped tensors match Normalize(mean=" + fmtList(m2) +
                                    ", std=" + fmtList(s2) +
                                    ") instead of the stated mean=" + fmtList(mean) +
                                    ", std=" + fmtList(stdv);
                    } else {
                        c.message =
                            "the dumped tensors are a per-channel scale/offset of the "
                            "reproduction: stage " +
                            stageLabel(norm, "Normalize") + " differs";
                    }
                } else {
                    c.stage = scaler;
                    c.key = "affine:" + std::to_string(scaler);
                    c.message = "the dumped tensors are a per-channel scale " + fmtList(fit.a) +
                                " and offset " + fmtList(fit.b) + " of the reproduction" +
                                (scaler > 0 ? " (stage " + stageLabel(scaler, opName(scaler)) + ")"
                                            : std::string());
                }
                return c;
            }
        }

        // 3. Different output size: the geometry differs.
        if (user.shape != reference.shape) {
            int lastGeom = -1;
            for (size_t k = 1; k < stages.size(); ++k)
                if (stages[k].height() != stages[k - 1].height() ||
                    stages[k].width() != stages[k - 1].width())
                    lastGeom = int(k);
            c.stage = lastGeom;
            c.key = "shape:" + std::to_string(lastGeom);
            c.message = "the dumped tensor has shape " + shapeToString(user.shape) +
                        ", the stated pipeline gives " + shapeToString(reference.shape) +
                        (lastGeom > 0 ? "; the size is set by stage " +
                                            stageLabel(lastGeom, opName(lastGeom))
                                      : std::string());
            return c;
        }

        // 4. An earlier stage's output explains the dump up to scale/offset:
        // the divergence starts after it.
        for (size_t k = stages.size() - 1; k-- > 0;) {
            const Tensor st = asTensor(stages[k]);
            if (st.shape != user.shape) continue;
            const AffineFit fit = fitAffine(user, st, tol);
            if (fit.ok) {
                c.stage = int(k) + 1;
                c.key = "after:" + std::to_string(k);
                c.message = "the dumped tensors follow the stated pipeline up to stage " +
                            (k ? stageLabel(int(k), opName(int(k))) : std::string("0 (decoded)")) +
                            "; the divergence starts at stage " +
                            stageLabel(int(k) + 1, opName(int(k) + 1));
                return c;
            }
        }
        c.key = "unlocalised";
        c.message =
            "no single stage explains the difference (a different interpolation, a "
            "custom step in __getitem__, or different source files)";
        return c;
    }
};

FindingSample findingSample(const CompareSession& s, const SampleComparison& sc,
                            nlohmann::json detail = nlohmann::json::object()) {
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
    if (f.samples.size() < kMaxListed) f.samples.push_back(std::move(sample));
}

}  // namespace

CompareReport CompareSession::run(std::function<bool(size_t, size_t)> progress) const {
    CompareReport report;
    RunState st(*this, options_.tolerance);
    const double tol = options_.tolerance;
    const bool reproducibleNow = reproducible();
    const bool random = pipeline_.isRandom();
    const size_t nData = dataset_->size();

    size_t total = 0;
    for (const auto& b : manifest_.batches) total += b.indices.size();

    // Unknown stages and random pipelines limit what can be compared.
    for (const auto& u : unknown_) {
        Finding f;
        f.kind = "unknown_stage";
        f.severity = Severity::Info;
        f.stage = stageLabel(u.position, u.name);
        f.message = "stage " + std::to_string(u.position) + " '" + u.text +
                    "' of the printed transform cannot be reproduced by batchscope; replace it "
                    "in a pipeline file by a Lambda expression or a TorchScript file and pass "
                    "--pipeline FILE. Pixel comparison is skipped until then.";
        f.evidence = {{"name", u.name}, {"printed", u.text}, {"position", u.position}};
        report.findings.push_back(std::move(f));
    }
    std::vector<std::string> randomStages;
    for (size_t k = 0; k < pipeline_.size(); ++k)
        if (pipeline_.stage(k).isRandom())
            randomStages.push_back(stageLabel(int(k) + 1, pipeline_.stage(k).op()));
    if (random) {
        Finding f;
        f.kind = "random_pipeline";
        f.severity = Severity::Info;
        f.stage = randomStages.front();
        std::string names;
        for (const auto& r : randomStages) names += (names.empty() ? "" : ", ") + r;
        f.message = "random stages (" + names +
                    ") cannot be reproduced draw for draw (torch's RNG): compared shapes and "
                    "value ranges only, pixel comparison skipped";
        f.evidence = {{"random_stages", randomStages}};
        report.findings.push_back(std::move(f));
    }
    if (pipelineSource_ == "default") {
        Finding f;
        f.kind = "no_transform";
        f.severity = Severity::Info;
        f.stage = "dataset";
        f.message =
            "the dumped dataset has no transform attribute; compared against ToTensor() "
            "(give the real pipeline with --pipeline FILE)";
        report.findings.push_back(std::move(f));
    }
    if (manifest_.datasetLength >= 0 && size_t(manifest_.datasetLength) != nData) {
        Finding f;
        f.kind = "dataset_size_mismatch";
        f.severity = Severity::Warning;
        f.stage = "dataset";
        f.message = "the dumped dataset has " + std::to_string(manifest_.datasetLength) +
                    " samples, batchscope finds " + std::to_string(nData) + " in " +
                    dataset_->root() + ": indices may not refer to the same files";
        f.evidence = {{"dumped", manifest_.datasetLength}, {"found", nData}};
        report.findings.push_back(std::move(f));
    }

    // Expected value range of the output, for random / unreproducible checks.
    std::vector<ValueRange> ranges;
    auto expectedRange = [&](int channels) {
        if (int(ranges.size()) == channels) return;
        ranges.assign(size_t(channels), ValueRange::of(0, 255));
        for (size_t k = 0; k < pipeline_.size(); ++k)
            for (int c = 0; c < channels; ++c)
                ranges[size_t(c)] = pipeline_.stage(k).expectedRange(ranges[size_t(c)], c);
    };

    size_t done = 0;
    bool cancelled = false;
    std::map<std::string, Finding> divergences;  // by cause key
    Finding indexMismatch, labelMismatch, failed;
    indexMismatch.kind = "index_mismatch";
    indexMismatch.severity = Severity::Error;
    indexMismatch.stage = "dataset";
    labelMismatch.kind = "label_mismatch";
    labelMismatch.severity = Severity::Error;
    labelMismatch.stage = "dataset";
    failed.kind = "unreproducible_sample";
    failed.severity = Severity::Warning;
    failed.stage = "file";
    size_t localised = 0, pixelCompared = 0, matched = 0;
    double worstAbs = 0;
    // (variant, epoch) -> index -> user tensor, for cross-dump checks.
    std::map<std::string, std::map<int64_t, std::pair<size_t, size_t>>> where;

    for (size_t b = 0; b < manifest_.batches.size() && !cancelled; ++b) {
        const DumpBatchInfo& info = manifest_.batches[b];
        const DumpBatchData* data = nullptr;
        try {
            data = &batchData(b);
        } catch (const std::exception& e) {
            Finding f;
            f.kind = "unreadable_dump";
            f.severity = Severity::Error;
            f.stage = "file";
            f.message = e.what();
            f.count = info.indices.size();
            report.findings.push_back(std::move(f));
            done += info.indices.size();
            continue;
        }
        const std::vector<int64_t>& indices = data->indices.empty() ? info.indices : data->indices;
        const size_t rows = size_t(data->images.dim(0));
        for (size_t r = 0; r < rows && r < indices.size(); ++r) {
            SampleComparison sc;
            sc.batch = b;
            sc.row = r;
            sc.index = indices[r];
            sc.variant = info.variant;
            sc.epoch = info.epoch;
            sc.worker = r < info.workers.size() ? info.workers[r] : -1;
            sc.label = r < data->labels.size()  ? data->labels[r]
                       : r < info.labels.size() ? info.labels[r]
                                                : -1;
            where[info.variant][sc.index] = {b, r};
            const Tensor user = tensorRow(data->images, r);
            Tensor reference;
            try {
                reference = reproduce(sc.index, sc.epoch);
            } catch (const std::exception& e) {
                sc.error = e.what();
                addSample(failed, findingSample(*this, sc, {{"error", sc.error}}));
                report.samples.push_back(std::move(sc));
                ++done;
                continue;
            }
            sc.diff = diffTensors(user, reference, tol);
            if (reproducibleNow) {
                sc.pixelCompared = true;
                ++pixelCompared;
                if (std::isfinite(sc.diff.maxAbs)) worstAbs = std::max(worstAbs, sc.diff.maxAbs);
            }
            bool labelExplained = false;
            if (reproducibleNow && !sc.diff.within(tol)) {
                sc.matchedIndex = st.findMatch(user, sc.index);
                if (sc.matchedIndex >= 0) {
                    nlohmann::json d = {{"matched_index", sc.matchedIndex},
                                        {"offset", sc.matchedIndex - sc.index},
                                        {"dumped_label", sc.label}};
                    try {
                        d["matched_path"] = dataset_->path(size_t(sc.matchedIndex));
                        d["matched_label"] = dataset_->label(size_t(sc.matchedIndex));
                        labelExplained = sc.label == d["matched_label"].get<int64_t>();
                    } catch (const std::exception&) {
                    }
                    addSample(indexMismatch, findingSample(*this, sc, d));
                } else if (localised < options_.maxLocalise) {
                    ++localised;
                    const Cause cause = st.localise(user, sc.index, sc.epoch);
                    sc.divergenceStage = cause.stage;
                    Finding& f = divergences[cause.key];
                    if (f.kind.empty()) {
                        f.kind = "pipeline_divergence";
                        f.severity = Severity::Error;
                        f.stage = cause.stage > 0 ? stageLabel(cause.stage, st.opName(cause.stage))
                                                  : "pipeline";
                        f.message = cause.message;
                        f.evidence = cause.evidence;
                        f.evidence["cause"] = cause.key;
                    }
                    nlohmann::json d = sc.diff.toJson();
                    addSample(f, findingSample(*this, sc, d));
                } else {
                    Finding& f = divergences["not_localised"];
                    if (f.kind.empty()) {
                        f.kind = "pipeline_divergence";
                        f.severity = Severity::Error;
                        f.stage = "pipeline";
                        f.message = "further samples differ (not localised: over the limit of " +
                                    std::to_string(options_.maxLocalise) + ")";
                    }
                    addSample(f, findingSample(*this, sc, sc.diff.toJson()));
                }
            } else if (reproducibleNow) {
                ++matched;
            } else if (!sc.diff.shapeMatch && unknown_.empty()) {
                // Random pipelines still fix the output shape.
                Finding& f = divergences["shape"];
                if (f.kind.empty()) {
                    f.kind = "pipeline_divergence";
                    f.severity = Severity::Error;
                    f.stage = "pipeline";
                    f.message = "the dumped tensor has shape " + shapeToString(user.shape) +
                                ", the stated pipeline gives " + shapeToString(reference.shape);
                }
                addSample(f, findingSample(*this, sc));
            } else if (unknown_.empty() && user.shape.size() == 3) {
                expectedRange(int(user.shape[0]));
                const size_t plane = user.values.size() / size_t(user.shape[0]);
                for (size_t c = 0; c < ranges.size(); ++c) {
                    if (!ranges[c].known) continue;
                    const auto [lo, hi] = std::minmax_element(
                        user.values.begin() + c * plane, user.values.begin() + (c + 1) * plane);
                    const double slack = tol + 1e-6 * (ranges[c].hi - ranges[c].lo);
                    if (*lo < ranges[c].lo - slack || *hi > ranges[c].hi + slack) {
                        Finding& f = divergences["range"];
                        if (f.kind.empty()) {
                            f.kind = "pipeline_divergence";
                            f.severity = Severity::Error;
                            f.stage = "pipeline";
                            f.message =
                                "dumped values fall outside the range the stated "
                                "pipeline can produce";
                        }
                        addSample(f, findingSample(*this, sc,
                                                   {{"channel", c},
                                                    {"observed", {*lo, *hi}},
                                                    {"expected", {ranges[c].lo, ranges[c].hi}}}));
                        break;
                    }
                }
            }
            if (!manifest_.hasTargetTransform && sc.label >= 0 && !labelExplained &&
                sc.matchedIndex < 0) {
                try {
                    const int64_t expected = dataset_->label(size_t(sc.index));
                    if (expected >= 0 && expected != sc.label)
                        addSample(labelMismatch, findingSample(*this, sc,
                                                               {{"dumped_label", sc.label},
                                                                {"dataset_label", expected}}));
                } catch (const std::exception&) {
                }
            }
            report.samples.push_back(std::move(sc));
            ++done;
            if (progress && !progress(done, total)) {
                cancelled = true;
                break;
            }
        }
    }

    if (indexMismatch.count) {
        const auto& d = indexMismatch.samples.front().detail;
        std::map<int64_t, size_t> offsets;
        // Offsets modulo the dataset size: `(i + 1) % len(self)` wraps around.
        const int64_t n = int64_t(std::max<size_t>(nData, 1));
        for (const auto& s : report.samples)
            if (s.matchedIndex >= 0) {
                int64_t o = ((s.matchedIndex - s.index) % n + n) % n;
                if (o > n / 2) o -= n;
                ++offsets[o];
            }
        const auto common = std::max_element(offsets.begin(), offsets.end(),
                                             [](auto& a, auto& b) { return a.second < b.second; });
        indexMismatch.message =
            std::to_string(indexMismatch.count) + " dumped sample(s) are not dataset[index] but " +
            "another sample: index " + std::to_string(indexMismatch.samples.front().index) +
            " holds dataset[" + std::to_string(d["matched_index"].get<int64_t>()) + "]" +
            (common->second == indexMismatch.count && common->first != 0
                 ? " (always index " + std::string(common->first > 0 ? "+" : "") +
                       std::to_string(common->first) +
                       ": an off-by-one or a wrong lookup in __getitem__)"
                 : " (a wrong lookup in __getitem__ or a different file order)");
        indexMismatch.evidence = {{"offsets", nlohmann::json::object()}};
        for (const auto& [o, n] : offsets) indexMismatch.evidence["offsets"][std::to_string(o)] = n;
        report.findings.push_back(indexMismatch);
    }
    for (auto& [key, f] : divergences) {
        f.message = std::to_string(f.count) + " dumped sample(s) differ from the reproduction " +
                    "beyond tolerance " + fmt(tol) + "; " + f.message;
        if (!f.samples.empty() && f.samples.front().detail.contains("max_abs"))
            f.message += " (first: index " + std::to_string(f.samples.front().index) +
                         ", max |diff| " + fmt(f.samples.front().detail["max_abs"].get<double>()) +
                         " at " + f.samples.front().detail["argmax"].dump() + ")";
        report.findings.push_back(f);
    }
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

    // Epoch checks: an index served twice, or never when the dump covers the epoch.
    std::map<std::string, std::vector<int64_t>> perVariant;
    for (const auto& b : manifest_.batches)
        for (int64_t i : b.indices) perVariant[b.variant].push_back(i);
    for (const auto& [variant, list] : perVariant) {
        std::map<int64_t, int> seen;
        for (int64_t i : list) ++seen[i];
        Finding dup;
        dup.kind = "duplicate_in_epoch";
        dup.severity = Severity::Warning;
        dup.stage = "loader";
        for (const auto& [i, n] : seen)
            if (n > 1)
                addSample(dup, {size_t(std::max<int64_t>(i, 0)), "", {{"times", n}, {"variant", variant}}});
        if (dup.count) {
            dup.message =
                std::to_string(dup.count) + " index(es) served more than once in the " + variant +
                " epoch's dumped batches (first: " + std::to_string(dup.samples.front().index) +
                "): a sampler or indexing bug";
            report.findings.push_back(dup);
        }
        // Missing: only decidable over a whole epoch, or a sequential prefix.
        const int64_t length =
            manifest_.datasetLength >= 0 ? manifest_.datasetLength : int64_t(nData);
        std::vector<int64_t> expected;
        if (int64_t(list.size()) >= length)
            for (int64_t i = 0; i < length; ++i) expected.push_back(i);
        else if (manifest_.sampler == "SequentialSampler")
            for (int64_t i = 0; i < int64_t(list.size()); ++i) expected.push_back(i);
        Finding miss;
        miss.kind = "missing_in_epoch";
        miss.severity = Severity::Warning;
        miss.stage = "loader";
        for (int64_t i : expected)
            if (!seen.count(i)) addSample(miss, {size_t(i), "", {{"variant", variant}}});
        if (miss.count) {
            miss.message =
                std::to_string(miss.count) + " index(es) never served in the " + variant +
                " epoch's dumped batches (first: " + std::to_string(miss.samples.front().index) +
                ")";
            report.findings.push_back(miss);
        }
    }

    // Workers vs num_workers=0: the same indices must give the same tensors
    // when the pipeline is deterministic.
    if (where.count("main") && where.count("workers0") && unknown_.empty() && !random) {
        Finding f;
        f.kind = "nondeterministic_loader";
        f.severity = Severity::Warning;
        f.stage = "loader";
        double worst = 0;
        size_t pairs = 0;
        for (const auto& [index, pos] : where["workers0"]) {
            auto it = where["main"].find(index);
            if (it == where["main"].end()) continue;
            ++pairs;
            const Tensor a = userSample(it->second.first, it->second.second);
            const Tensor z = userSample(pos.first, pos.second);
            const TensorDiff d = diffTensors(a, z, tol);
            if (!d.within(tol)) {
                SampleComparison sc;
                sc.batch = it->second.first;
                sc.row = it->second.second;
                sc.index = index;
                sc.variant = "main";
                const auto& info = manifest_.batches[sc.batch];
                sc.worker = sc.row < info.workers.size() ? info.workers[sc.row] : -1;
                if (std::isfinite(d.maxAbs)) worst = std::max(worst, d.maxAbs);
                addSample(f, findingSample(*this, sc, d.toJson()));
            }
        }
        if (f.count) {
            f.message = std::to_string(f.count) + " of " + std::to_string(pairs) +
                        " sample(s) differ between the num_workers=" +
                        std::to_string(manifest_.numWorkers) +
                        " dump and the num_workers=0 dump under a deterministic pipeline (max "
                        "|diff| " +
                        fmt(worst) +
                        "): state shared or mutated across workers, or unseeded randomness in "
                        "__getitem__";
            f.evidence = {{"pairs", pairs}, {"max_abs", worst}};
            report.findings.push_back(f);
        }
    }

    // Random augmentation that repeats across epochs.
    if (random && where.count("main") && where.count("epoch2")) {
        bool discreteOnly = true;
        for (size_t k = 0; k < pipeline_.size(); ++k)
            if (pipeline_.stage(k).isRandom() && !pipeline_.stage(k).traits().discreteDraws)
                discreteOnly = false;
        Finding f;
        f.kind = "repeated_augmentation";
        f.severity = Severity::Warning;
        f.stage = randomStages.front();
        size_t pairs = 0;
        for (const auto& [index, pos] : where["epoch2"]) {
            auto it = where["main"].find(index);
            if (it == where["main"].end()) continue;
            ++pairs;
            const TensorDiff d = diffTensors(userSample(it->second.first, it->second.second),
                                             userSample(pos.first, pos.second), 0);
            if (d.shapeMatch && d.maxAbs == 0) {
                SampleComparison sc;
                sc.batch = pos.first;
                sc.row = pos.second;
                sc.index = index;
                sc.variant = "epoch2";
                sc.epoch = 1;
                addSample(f, findingSample(*this, sc));
            }
        }
        // Flips alone repeat by chance half the time: only all-identical is suspicious.
        const bool suspicious = discreteOnly ? (pairs >= 4 && f.count == pairs) : f.count > 0;
        if (suspicious) {
            f.message = std::to_string(f.count) + " of " + std::to_string(pairs) +
                        " sample(s) came out identical in epochs 1 and 2 despite random stages: "
                        "the random state is reset each epoch (a fixed seed in worker_init_fn "
                        "or __getitem__)";
            f.evidence = {{"pairs", pairs}, {"identical", f.count}};
            report.findings.push_back(f);
        }
    }

    std::stable_sort(
        report.findings.begin(), report.findings.end(),
        [](const Finding& a, const Finding& b) { return int(a.severity) > int(b.severity); });
    int errors = 0, warnings = 0, infos = 0;
    for (const auto& f : report.findings)
        (f.severity == Severity::Error     ? errors
         : f.severity == Severity::Warning ? warnings
                                           : infos)++;
    report.context["tool"] = {{"name", "batchscope"}, {"version", BATCHSCOPE_VERSION}};
    report.context["dataset"] = {{"path", dataset_->root()},
                                 {"format", formatName(dataset_->format())},
                                 {"samples", nData},
                                 {"classes", dataset_->classes()},
                                 {"has_raw", dataset_->hasRaw()}};
    report.context["pipeline"] = {{"stages", pipeline_.toJson()},
                                  {"repr", pipeline_.repr()},
                                  {"default", pipelineSource_ == "default"},
                                  {"source", pipelineSource_}};
    report.context["manifest"] = {{"dataset", manifest_.raw.value("dataset", nlohmann::json())},
                                  {"loader", manifest_.raw.value("loader", nlohmann::json())},
                                  {"versions", manifest_.raw.value("versions", nlohmann::json())}};
    report.summary = {{"findings", report.findings.size()},
                      {"by_severity", {{"error", errors}, {"warning", warnings}, {"info", infos}}},
                      {"dump", manifest_.dir},
                      {"dataset", dataset_->root()},
                      {"dataset_class", manifest_.datasetClass},
                      {"pipeline", pipeline_.repr()},
                      {"pipeline_source", pipelineSource_},
                      {"tolerance", tol},
                      {"batches", manifest_.batches.size()},
                      {"samples", report.samples.size()},
                      {"pixel_compared", pixelCompared},
                      {"matching", matched},
                      {"max_abs", worstAbs},
                      {"reproducible", reproducibleNow},
                      {"cancelled", cancelled},
                      {"errors", errors},
                      {"warnings", warnings},
                      {"info", infos}};
    return report;
}

}  // namespace bs
