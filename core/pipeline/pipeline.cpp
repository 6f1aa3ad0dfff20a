// Pipeline engine: parsing (JSON and torchvision's printed Compose text),
// serialisation and execution with per-stage deterministic randomness.
#include "core/pipeline/pipeline.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/pipeline/fastpath.h"
#include "core/common/fileio.h"
#include "core/common/timing.h"
#include "core/pipeline/transforms_internal.h"

namespace bs {

ValueRange NormalizeParams::intendedInput() const {
    bool unit = !mean.empty() && !std.empty();
    bool byte = unit;
    for (double m : mean) {
        unit = unit && m >= 0 && m <= 1;
        byte = byte && m > 1 && m <= 255;
    }
    for (double v : std) {
        unit = unit && v > 0 && v <= 1;
        byte = byte && v > 1;
    }
    if (unit) return ValueRange::of(0, 1);
    if (byte) return ValueRange::of(0, 255);
    return ValueRange::unknown();
}

using nlohmann::json;

// ------------------------------------------------------------------- Rng

static uint64_t splitmix(uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Each component is mixed in turn so that neighbouring (epoch, index, stage)
// triples give unrelated streams.
Rng::Rng(const RandomContext& ctx, size_t stageIndex) {
    uint64_t s = splitmix(ctx.seed);
    s = splitmix(s ^ uint64_t(ctx.epoch));
    s = splitmix(s ^ uint64_t(ctx.index));
    state_ = splitmix(s ^ uint64_t(stageIndex));
}

uint64_t Rng::next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double Rng::uniform(double lo, double hi) {
    const double u = double(next() >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
    return lo + (hi - lo) * u;
}

int64_t Rng::integer(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t range = uint64_t(hi - lo) + 1;
    if (range == 0) return int64_t(next());  // full 64-bit range
    // Rejection sampling keeps every value equally likely.
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t v;
    do v = next();
    while (v >= limit);
    return lo + int64_t(v % range);
}

bool Rng::bernoulli(double p) {
    return uniform(0.0, 1.0) < p;
}

std::string Transform::repr() const {
    return op() + "()";
}

std::string stageLabel(int index) {
    return "stage " + std::to_string(index + 1);
}

// -------------------------------------------------------------- Pipeline

Pipeline::Pipeline() = default;
Pipeline::~Pipeline() = default;
Pipeline::Pipeline(const Pipeline&) = default;
Pipeline& Pipeline::operator=(const Pipeline&) = default;
Pipeline::Pipeline(Pipeline&&) noexcept = default;
Pipeline& Pipeline::operator=(Pipeline&&) noexcept = default;

size_t Pipeline::size() const {
    return stages_.size();
}
const Transform& Pipeline::stage(size_t i) const {
    if (i >= stages_.size())
        throw PipelineError(-1, "pipeline has no stage " + std::to_string(i + 1) + " (it has " +
                                    std::to_string(stages_.size()) + ")");
    return *stages_[i];
}
bool Pipeline::isRandom() const {
    for (size_t i = 0; i < stages_.size(); ++i)
        if (enabled_[i] && stages_[i]->isRandom()) return true;
    return false;
}
void Pipeline::append(std::shared_ptr<const Transform> t) {
    if (!t) return;
    stages_.push_back(std::move(t));
    enabled_.push_back(true);
}
bool Pipeline::isEnabled(size_t i) const {
    return i < enabled_.size() && enabled_[i];
}
void Pipeline::setEnabled(size_t i, bool enabled) {
    if (i < enabled_.size()) enabled_[i] = enabled;
}

std::vector<std::string> Pipeline::supportedOps() {
    return transformOps();
}

static std::string opsText() {
    std::string s;
    for (const auto& o : transformOps()) s += (s.empty() ? "" : ", ") + o;
    return s;
}

std::shared_ptr<const Transform> Pipeline::makeTransform(const json& stage, int index,
                                                         const std::string& baseDir) {
    const std::string where = stageLabel(index);
    if (!stage.is_object())
        throw PipelineError(index, where +
                                       ": expected an object like {\"op\": \"Resize\", ...}, got " +
                                       stage.dump().substr(0, 40));
    if (!stage.contains("op"))
        throw PipelineError(index, where + ": missing \"op\"; supported ops: " + opsText());
    if (!stage["op"].is_string())
        throw PipelineError(index,
                            where + ": \"op\" must be a string; supported ops: " + opsText());
    const std::string op = stage["op"].get<std::string>();
    json params = stage;
    params.erase("op");
    params.erase("enabled");
    try {
        return createTransform(op, params, baseDir);
    } catch (const PipelineError&) {
        throw;
    } catch (const std::exception& e) {
        throw PipelineError(index, where + " (" + op + "): " + e.what());
    }
}

Pipeline Pipeline::fromJson(const json& stagesIn, const std::string& baseDir) {
    const json* stages = &stagesIn;
    if (stagesIn.is_object() && stagesIn.contains("transforms")) stages = &stagesIn["transforms"];
    if (!stages->is_array())
        throw PipelineError(-1,
                            "pipeline JSON must be an array of stages [{\"op\": ...}, ...] or "
                            "{\"transforms\": [...]}");
    Pipeline p;
    int i = 0;
    for (const auto& s : *stages) {
        auto t = makeTransform(s, i, baseDir);
        bool enabled = true;
        if (s.contains("enabled")) {
            if (!s["enabled"].is_boolean())
                throw PipelineError(
                    i, stageLabel(i) + " (" + t->op() + "): \"enabled\" must be true or false");
            enabled = s["enabled"].get<bool>();
        }
        p.append(std::move(t));
        p.enabled_.back() = enabled;
        ++i;
    }
    return p;
}

// ------------------------------------------------- torchvision text parser

namespace {

// Reads the subset of Python that torchvision's __repr__ methods print.
class TextParser {
public:
    TextParser(const std::string& text, const std::string& baseDir,
               std::vector<std::string>* unknown)
        : s_(text), baseDir_(baseDir), unknown_(unknown) {}

    Pipeline parse() {
        Pipeline p;
        skip();
        const size_t start = pos_;
        const std::string name = ident();
        if (name.empty()) fail("expected 'Compose(' or a transform like 'Resize(...)'", start);
        if (name == "Compose") {
            expect('(');
            for (;;) {
                skip();
                if (peek(')')) {
                    ++pos_;
                    break;
                }
                if (pos_ >= s_.size()) fail("missing ')' closing Compose(", pos_);
                const size_t at = pos_;
                const std::string n = ident();
                if (n.empty()) fail("expected a transform name", at);
                stage(p, n, at);
                skip();
                if (peek(',')) ++pos_;  // tolerate list-like separators
            }
        } else {
            stage(p, name, start);
        }
        skip();
        if (pos_ < s_.size()) fail("unexpected text after the pipeline", pos_);
        return p;
    }

private:
    const std::string& s_;
    std::string baseDir_;
    std::vector<std::string>* unknown_;
    size_t pos_ = 0;
    int index_ = 0;

    [[noreturn]] void fail(const std::string& what, size_t at) const {
        int line = 1, col = 1;
        for (size_t i = 0; i < at && i < s_.size(); ++i) {
            if (s_[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        throw PipelineError(index_, "torchvision text, line " + std::to_string(line) + ", column " +
                                        std::to_string(col) + ": " + what);
    }
    void skip() {
        while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    bool peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
    void expect(char c) {
        skip();
        if (!peek(c))
            fail(std::string("expected '") + c + "'" +
                     (pos_ < s_.size() ? std::string(" but found '") + s_[pos_] + "'" : " at end"),
                 pos_);
        ++pos_;
    }
    std::string ident() {
        const size_t b = pos_;
        if (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) return {};
        while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                                    s_[pos_] == '_' || (s_[pos_] == '.' && pos_ > b)))
            ++pos_;
        return s_.substr(b, pos_ - b);
    }
    // Skips a balanced (...) without reading it (for stages we do not know).
    void skipCall(size_t at) {
        expect('(');
        int depth = 1;
        while (pos_ < s_.size() && depth > 0) {
            if (s_[pos_] == '(') ++depth;
            if (s_[pos_] == ')') --depth;
            ++pos_;
        }
        if (depth > 0) fail("unbalanced parentheses", at);
    }

    void stage(Pipeline& p, const std::string& name, size_t at) {
        const auto ops = transformOps();
        const bool known =
            name != "TorchScript" && std::find(ops.begin(), ops.end(), name) != ops.end();
        if (name == "Lambda" || !known) {
            if (unknown_) {
                unknown_->push_back(name);
                skipCall(at);
                return;
            }
            if (name == "Lambda")
                fail(stageLabel(index_) +
                         " (Lambda): the Lambda's code is not in the printed text; replace it "
                         "by {\"op\": \"Lambda\", \"expr\": \"...\"} in a JSON pipeline",
                     at);
            fail(stageLabel(index_) + ": unknown transform '" + name + "'; supported: " + opsText(),
                 at);
        }
        expect('(');
        json stageJson = {{"op", name}};
        skip();
        if (peek(')')) {
            ++pos_;
        } else {
            for (;;) {
                skip();
                const size_t kat = pos_;
                const std::string key = ident();
                if (key.empty()) fail("expected a parameter name", kat);
                skip();
                if (!peek('=')) fail("expected '=' after '" + key + "'", pos_);
                ++pos_;
                stageJson[key] = value();
                skip();
                if (peek(',')) {
                    ++pos_;
                    continue;
                }
                expect(')');
                break;
            }
        }
        stageJson = adapt(name, stageJson);
        p.append(Pipeline::makeTransform(stageJson, index_, baseDir_));
        ++index_;
    }

    // Differences between what is printed and the constructor parameters.
    static json adapt(const std::string& name, json j) {
        if (name == "ConvertImageDtype" && !j.contains("dtype")) j["dtype"] = "float32";
        return j;
    }

    json value() {
        skip();
        if (pos_ >= s_.size()) fail("expected a value", pos_);
        const char c = s_[pos_];
        if (c == '(' || c == '[') {
            const char close = c == '(' ? ')' : ']';
            ++pos_;
            json arr = json::array();
            for (;;) {
                skip();
                if (peek(close)) {
                    ++pos_;
                    return arr;
                }
                arr.push_back(value());
                skip();
                if (peek(',')) {
                    ++pos_;
                    continue;
                }
                expect(close);
                return arr;
            }
        }
        if (c == '\'' || c == '"') {
            const size_t at = pos_++;
            std::string out;
            while (pos_ < s_.size() && s_[pos_] != c) {
                if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
                out += s_[pos_++];
            }
            if (pos_ >= s_.size()) fail("unterminated string", at);
            ++pos_;
            return out;
        }
        if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
            const size_t at = pos_;
            const char* b = s_.c_str() + pos_;
            char* e = nullptr;
            const double d = std::strtod(b, &e);
            if (e == b) fail("expected a number", at);
            const std::string tok(b, size_t(e - b));
            pos_ += tok.size();
            if (tok.find_first_of(".eEna") == std::string::npos) {
                try {
                    return json(std::stoll(tok));
                } catch (...) {
                }
            }
            return json(d);
        }
        const size_t at = pos_;
        const std::string id = ident();
        if (id.empty()) fail(std::string("unexpected '") + c + "'", at);
        if (id == "None") return nullptr;
        if (id == "True") return true;
        if (id == "False") return false;
        return id;  // enum values such as bilinear, constant, torch.float32
    }
};

}  // namespace

Pipeline Pipeline::fromTorchvisionText(const std::string& text, const std::string& baseDir) {
    return fromTorchvisionText(text, baseDir, nullptr);
}

Pipeline Pipeline::fromTorchvisionText(const std::string& textIn, const std::string& baseDir,
                                       std::vector<std::string>* unknownStages) {
    // torchvision 0.14's RandomResizedCrop.__repr__ closes its parenthesis
    // after `interpolation` and then prints ", antialias=...)": undo that.
    static const std::regex quirk(R"((interpolation=[A-Za-z_.]+)\)(, antialias=))");
    const std::string text = std::regex_replace(textIn, quirk, "$1$2");
    TextParser parser(text, baseDir, unknownStages);
    return parser.parse();
}

static std::string trimmed(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

// Every JSON library error becomes a PipelineError: parse_error, and
// out_of_range for numbers like 3e836 (found by fuzzing), and nesting too
// deep to print safely.
static json parseJsonText(const std::string& text) {
    try {
        return parseUntrustedJson(text, "pipeline JSON");
    } catch (const Error& e) {
        throw PipelineError(-1, e.what());
    }
}

Pipeline Pipeline::parse(const std::string& textIn, const std::string& baseDir) {
    const std::string text = trimmed(textIn);
    if (text.empty()) throw PipelineError(-1, "pipeline text is empty");
    if (text[0] == '[' || text[0] == '{') {
        return fromJson(parseJsonText(text), baseDir);
    }
    return fromTorchvisionText(text, baseDir);
}

Pipeline Pipeline::loadFile(const std::string& path) {
    try {
        regularFileSize(path);
    } catch (const Error& e) {
        throw PipelineError(-1, std::string("cannot read pipeline file: ") + e.what());
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw PipelineError(-1, "cannot read pipeline file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    std::string baseDir = std::filesystem::path(path).parent_path().string();
    if (baseDir.empty()) baseDir = ".";
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    try {
        if (ext == ".json") {
            return fromJson(parseJsonText(text), baseDir);
        }
        return parse(text, baseDir);
    } catch (const PipelineError& e) {
        throw PipelineError(e.stage(), path + ": " + e.what());
    }
}

json Pipeline::toJson() const {
    json arr = json::array();
    for (size_t i = 0; i < stages_.size(); ++i) {
        json s = stages_[i]->params();
        if (!s.is_object()) s = json::object();
        s["op"] = stages_[i]->op();
        if (!enabled_[i]) s["enabled"] = false;
        arr.push_back(std::move(s));
    }
    return arr;
}

std::string Pipeline::repr() const {
    std::string s = "Compose(";
    for (size_t i = 0; i < stages_.size(); ++i)
        if (enabled_[i]) s += "\n    " + stages_[i]->repr();
    return s + "\n)";
}

Pipeline::Result Pipeline::run(StageValue input, const RandomContext& ctx, bool keepStages,
                               size_t stopAfter) const {
    return run(std::move(input), ctx, keepStages ? keepAll() : StageMask(), stopAfter);
}

bool Pipeline::fusesWithNext(size_t i) const {
    if (i + 1 >= stages_.size()) return false;
    const std::string a = stages_[i]->op(), b = stages_[i + 1]->op();
    return (a == "Resize" && b == "CenterCrop") || (a == "ToTensor" && b == "Normalize");
}

// Transforms i and i + 1 as one fused pass, when they are a pair that has
// one (Resize+CenterCrop, ToTensor+Normalize on an image). False when they
// are not, or the fused path declines the input.
bool Pipeline::runFused(size_t i, const Image& in, StageValue& out, const OutputRow* row,
                        bool& inRow) const {
    const Transform& t = *stages_[i];
    const Transform& next = *stages_[i + 1];
    Image fused;
    if (fuseResizeCenterCrop(t, next, in, fused)) {
        out = StageValue::fromImage(std::move(fused));
        return true;
    }
    const std::vector<int64_t> shape = {in.channels, in.height, in.width};
    const bool shapeOnly = row && row->shapeOnly;
    float* dst = !shapeOnly && row && row->data && row->shape == shape ? row->data : nullptr;
    Tensor fusedTensor;
    if (!fuseToTensorNormalize(t, next, in, fusedTensor, dst, shapeOnly)) return false;
    inRow = dst != nullptr || shapeOnly;
    out = StageValue::fromTensor(std::move(fusedTensor));
    return true;
}

// Size of the value a fused pair skips: a Resize's output, or the input's
// for ToTensor+Normalize (which keep sizes).
static std::pair<int, int> skippedSize(const Transform& first, const StageValue& in) {
    int w = in.width(), h = in.height();
    if (!resizedSizeOf(first, in.width(), in.height(), w, h)) return {in.width(), in.height()};
    return {w, h};
}

Pipeline::Result Pipeline::run(StageValue input, const RandomContext& ctx, const StageMask& keep,
                               size_t stopAfter, const OutputRow* row) const {
    Result res;
    const size_t n = std::min(stopAfter, stages_.size());
    auto kept = [&](size_t k) { return k < keep.size() && keep[k]; };
    if (!keep.empty()) res.stages.resize(n + 1);
    StageValue cur = std::move(input);
    res.drawn.reserve(n);
    res.sizes.push_back({cur.width(), cur.height()});
    for (size_t i = 0; i < n; ++i) {
        const Transform& t = *stages_[i];
        if (!enabled_[i]) {
            res.sizes.push_back({cur.width(), cur.height()});
            res.drawn.push_back(json::object());
            if (kept(i)) res.stages[i] = cur;  // copy: it also goes on
            continue;
        }
        const auto t0 =
            timer_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
        try {
            // A fused pair skips the value between its stages: only where
            // nobody wants that value. The row is only for the final output.
            bool inRow = false;
            if (!kept(i + 1) && cur.isImage() && i + 1 < n && enabled_[i + 1]) {
                StageValue fused;
                // A kept output needs values of its own, so no row then.
                const OutputRow* into = i + 2 == n && !kept(n) ? row : nullptr;
                if (runFused(i, cur.image, fused, into, inRow)) {
                    res.sizes.push_back(skippedSize(t, cur));
                    res.sizes.push_back({fused.width(), fused.height()});
                    if (kept(i)) res.stages[i] = std::move(cur);
                    cur = std::move(fused);
                    res.outputInRow = inRow;
                    res.drawn.push_back(json::object());
                    res.drawn.push_back(json::object());
                    // The pair's time is booked on its first stage.
                    if (timer_)
                        timer_->addStage(i, secondsBetween(t0, std::chrono::steady_clock::now()));
                    ++i;
                    continue;
                }
            }
            json drawn = json::object();
            Rng rng(ctx, i);
            StageValue next = t.apply(cur, rng, drawn);
            // The value before the stage is no longer needed here: moved, not copied.
            if (kept(i)) res.stages[i] = std::move(cur);
            cur = std::move(next);
            res.sizes.push_back({cur.width(), cur.height()});
            res.drawn.push_back(std::move(drawn));
            if (timer_) timer_->addStage(i, secondsBetween(t0, std::chrono::steady_clock::now()));
        } catch (const PipelineError& e) {
            if (e.stage() >= 0) throw;
            throw PipelineError(int(i), stageLabel(int(i)) + " (" + t.op() + "): " + e.what());
        } catch (const std::exception& e) {
            std::string msg = e.what();
            if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
            throw PipelineError(int(i), stageLabel(int(i)) + " (" + t.op() + "): " + msg);
        }
    }
    if (kept(n)) res.stages[n] = cur;
    res.output = std::move(cur);
    return res;
}

}  // namespace bs
