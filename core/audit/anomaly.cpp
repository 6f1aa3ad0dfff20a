#include "core/audit/anomaly.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/audit/engine_state.h"
#include "core/audit/target_checks.h"
#include "core/common/fileio.h"

namespace bs {

using json = nlohmann::json;

// ---------------------------------------------------------------------------
// Settings

namespace {

struct SettingDesc {
    const char* name;
    const char* help;
    double AuditSettings::*real;
    int AuditSettings::*integer;
};

const std::vector<SettingDesc>& settingTable() {
    static const std::vector<SettingDesc> table = {
        {"extreme_margin", "extreme_values: allowed excursion outside the expected range, as a fraction of its span",
         &AuditSettings::extremeMargin, nullptr},
        {"unknown_growth", "extreme_values for Lambda/TorchScript: output magnitude over this many times the input's",
         &AuditSettings::unknownGrowth, nullptr},
        {"collapse_fraction", "collapsed_range: output spread below this fraction of the expected span",
         &AuditSettings::collapseFraction, nullptr},
        {"collapse_input_fraction", "collapsed_range: only when the input spread is at least this fraction of its span",
         &AuditSettings::collapseInputFraction, nullptr},
        {"normalize_min_span", "collapsed_range: Normalize whose (input span / std) is below this",
         &AuditSettings::normalizeMinSpan, nullptr},
        {"normalize_max_abs", "extreme_values: |x| above this after a Normalize (too small a std)",
         &AuditSettings::normalizeMaxAbs, nullptr},
        {"unscaled_max", "unscaled_input: maximum above this reaching a stage that expects [0,1]",
         &AuditSettings::unscaledMax, nullptr},
        {"double_norm_min", "double_normalization: Normalize input with values below this",
         &AuditSettings::doubleNormMin, nullptr},
        {"norm_mean_tolerance", "normalization_mismatch: |mean| after the last Normalize above this",
         &AuditSettings::normMeanTolerance, nullptr},
        {"norm_std_factor", "normalization_mismatch: std after the last Normalize off from 1 by more than this factor",
         &AuditSettings::normStdFactor, nullptr},
        {"imbalance_ratio", "class_imbalance: largest class over this many times the smallest",
         &AuditSettings::imbalanceRatio, nullptr},
        {"max_samples_per_finding", "samples listed per grouped finding", nullptr,
         &AuditSettings::maxSamplesPerFinding},
        {"repeated_share", "repeated_augmentation: share of samples with repeated random draws",
         &AuditSettings::repeatedShare, nullptr},
        {"loader_check_batches", "loader_mismatch: batches recomputed and compared", nullptr,
         &AuditSettings::loaderCheckBatches},
        {"replay_samples", "nondeterministic_transform: samples replayed", nullptr,
         &AuditSettings::replaySamples},
    };
    return table;
}

std::string snake(std::string s) {
    std::replace(s.begin(), s.end(), '-', '_');
    return s;
}

std::string fmt(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    const double a = std::fabs(v);
    if (a != 0 && (a < 1e-3 || a >= 1e6))
        std::snprintf(buf, sizeof buf, "%.3g", v);
    else
        std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

std::string fmtRange(double lo, double hi) { return "[" + fmt(lo) + ", " + fmt(hi) + "]"; }

std::string fmtList(const std::vector<double>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt(v[i]);
    return s + "]";
}

std::string plural(size_t n, const std::string& one, const std::string& many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

json AuditSettings::toJson() const {
    json j = json::object();
    for (const auto& d : settingTable()) {
        if (d.real) j[d.name] = this->*(d.real);
        else j[d.name] = this->*(d.integer);
    }
    return j;
}

void AuditSettings::applyJson(const json& j) {
    if (!j.is_object()) throw Error("audit settings must be a JSON object");
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string key = snake(it.key());
        auto d = std::find_if(settingTable().begin(), settingTable().end(),
                              [&](const SettingDesc& s) { return key == s.name; });
        if (d == settingTable().end()) throw Error("unknown audit setting '" + it.key() + "'");
        if (!it.value().is_number())
            throw Error("audit setting '" + it.key() + "' must be a number");
        if (d->real) this->*(d->real) = it.value().get<double>();
        else this->*(d->integer) = int(it.value().get<double>());
    }
}

AuditSettings AuditSettings::loadFile(const std::string& path) {
    regularFileSize(path);
    std::ifstream in(path);
    if (!in) throw Error("cannot open settings file " + path);
    std::ostringstream text;
    text << in.rdbuf();
    const json j = parseUntrustedJson(text.str(), "settings file " + path);
    AuditSettings s;
    try {
        s.applyJson(j);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    return s;
}

bool AuditSettings::set(const std::string& name, const std::string& value) {
    const std::string key = snake(name);
    auto d = std::find_if(settingTable().begin(), settingTable().end(),
                          [&](const SettingDesc& s) { return key == s.name; });
    if (d == settingTable().end()) return false;
    try {
        size_t used = 0;
        const double v = std::stod(value, &used);
        if (used != value.size()) throw std::invalid_argument(value);
        if (d->real) this->*(d->real) = v;
        else this->*(d->integer) = int(v);
    } catch (const std::exception&) {
        throw Error("setting " + key + " expects a number, got '" + value + "'");
    }
    return true;
}

std::vector<std::pair<std::string, std::string>> AuditSettings::describe() {
    std::vector<std::pair<std::string, std::string>> out;
    AuditSettings def;
    const json j = def.toJson();
    for (const auto& d : settingTable())
        out.emplace_back(d.name, std::string(d.help) + " (default " + j[d.name].dump() + ")");
    return out;
}

// ---------------------------------------------------------------------------
// Findings

json Finding::toJson() const {
    json j = {{"kind", kind},   {"severity", severityName(severity)},
              {"stage", stage}, {"message", message},
              {"count", count}, {"evidence", evidence}};
    json s = json::array();
    std::vector<FindingSample> all = samples;
    all.insert(all.end(), moreSamples.begin(), moreSamples.end());
    std::stable_sort(all.begin(), all.end(), [](const FindingSample& a, const FindingSample& b) {
        return a.index + 1 < b.index + 1;  // folder-level items (index -1) first
    });
    for (const auto& x : all) {
        // Folder-level items (an empty class) have a path but no index.
        json e = x.index == size_t(-1) ? json{{"path", x.path}} : json{{"index", x.index}, {"path", x.path}};
        if (!x.detail.is_null() && !x.detail.empty()) e["detail"] = x.detail;
        s.push_back(e);
    }
    j["samples"] = s;
    if (count == 1 && samples.size() == 1) {
        if (samples[0].index != size_t(-1)) j["index"] = samples[0].index;
        j["path"] = samples[0].path;
    }
    return j;
}

// ---------------------------------------------------------------------------
// Engine

namespace {

struct StageInfo {
    std::string op;
    std::string name;  // "<k>:<Op>"
    bool geometric = false;
    bool normalize = false;
    bool unknownRange = false;   // Lambda, TorchScript
    bool expects01 = false;      // expects float data in [0, 1]
    bool bicubic = false;        // may overshoot its input range
    bool random = false;         // with draws that hold numbers (not a coin flip)
    int previousNormalize = -1;  // 1-based stage of an earlier Normalize
    std::vector<double> mean, stddev;
    ValueRange intended;  // input range the stage is written for, when known
};

// One occurrence of a problem on one sample, before grouping.
struct Hit {
    std::string kind;
    std::string stage;
    size_t index = 0;
    std::string path;
    json detail;
    double obsLo = NAN, obsHi = NAN;
    double expLo = NAN, expHi = NAN;
    std::string message;  // optional, for addFinding
};

struct Group {
    std::string kind, stage;
    size_t count = 0;
    std::vector<FindingSample> samples;
    double obsLo = INFINITY, obsHi = -INFINITY;
    double expLo = NAN, expHi = NAN;
    json firstDetail;
    std::string firstMessage;
    std::string firstPath;
    std::map<std::string, size_t> tally;  // per-kind breakdown (modes, orientations...)
    std::vector<uint64_t> indices;        // every sample's index (reports list them all)
};

struct HashEntry {
    uint64_t hash;
    uint64_t index;
    int64_t label;
};

struct StageAccum {
    RunningStats stats;
    std::vector<Histogram> hist;     // per channel, fixed range
    std::vector<ValueRange> expected;  // nominal range per channel (first sample)
    bool rangesSet = false;
};

struct DrawEntry {
    uint64_t index;
    int64_t epoch;
    uint64_t hash;
};

using GroupMap = std::map<std::pair<std::string, std::string>, Group>;

// One stage of one sample as the checks read it: computed from the stage's
// value, or derived from an 8-bit image's byte counts through elementwise
// stages (`table`: the value each byte becomes) when the run did not keep it.
struct StageObs {
    ValueStats stats;
    ByteCounts counts;                          // 8-bit image stages: per-channel byte counts
    const StageValue* value = nullptr;          // for tensor histograms
    const ByteCounts* source = nullptr;         // derived stages: the counts read
    std::vector<std::array<float, 256>> table;  // derived stages: per channel
    bool isImage = false;
    bool present = false;
};

struct StageView;
struct RulesFired;

}  // namespace

struct AuditEngine::Impl {
    Pipeline pipeline;
    AuditSettings settings;
    std::vector<StageInfo> info;  // per transform (0-based)

    mutable std::mutex mutex;
    // Dataset facts.
    const Dataset* dataset = nullptr;
    bool datasetObserved = false;
    bool nativeGray = false;
    bool hasRaw = true;
    TargetSchema targetSchema;  // detection / segmentation datasets
    json datasetIssuesJson = json::array();
    std::vector<std::pair<std::string, size_t>> classCounts;

    GroupMap groups;
    std::vector<HashEntry> hashes;
    std::vector<StageAccum> accum;  // per stage (0 = input)
    std::vector<std::vector<DrawEntry>> draws;  // per transform with continuous draws
    std::vector<DrawEntry> epochDraws;          // combined draws per sample and epoch
    size_t samples = 0;
    std::vector<Finding> finished;

    void addHit(Hit h);  // caller holds the lock
    std::map<uint64_t, std::string> knownPaths;  // merged parts: no dataset to ask
    std::string pathOf(size_t index) const {
        try {
            if (dataset) return dataset->path(index);
            auto it = knownPaths.find(index);
            return it == knownPaths.end() ? std::string() : it->second;
        } catch (...) {
            return {};
        }
    }
    std::string stageName(size_t k) const {
        if (k == 0) return "decode";
        if (k - 1 < info.size()) return info[k - 1].name;
        return std::to_string(k);
    }
    size_t groupCap() const;

    // Per-sample rules (observeSample), outside the lock.
    Hit& sampleHit(std::vector<Hit>& hits, const SampleRecord& rec, const char* kind,
                   const char* stage) const;
    Hit& stageHit(std::vector<Hit>& hits, const SampleRecord& rec, const char* kind,
                  size_t k) const;
    void errorHit(const SampleRecord& rec, std::vector<Hit>& hits) const;
    void decodeHits(const SampleRecord& rec, bool nativeGrayData, std::vector<Hit>& hits) const;
    void pipelineTargetHits(const SampleResult& s, const TargetSchema& schema,
                            std::vector<Hit>& hits) const;
    void targetHits(const SampleResult& s, const TargetSchema& schema,
                    std::vector<Hit>& hits) const;
    std::vector<StageObs> observeStages(const SampleResult& s,
                                        std::optional<uint64_t>& inputHash) const;
    void deriveStage(std::vector<StageObs>& obs, size_t k) const;
    void checkSample(const SampleResult& s, const std::vector<StageObs>& obs, bool hasRawData,
                     bool nativeGrayData, std::vector<Hit>& hits) const;
    void checkStages(const SampleRecord& rec, const std::vector<StageObs>& obs,
                     std::vector<Hit>& hits) const;
    void checkRanges(const StageView& v, const SampleRecord& rec, RulesFired& fired,
                     std::vector<Hit>& hits) const;
    void checkNanOrInf(const StageView& v, const SampleRecord& rec, std::vector<Hit>& hits) const;
    bool checkUnscaled(const StageView& v, const SampleRecord& rec, RulesFired& fired,
                       std::vector<Hit>& hits) const;
    void checkDoubleNormalization(const StageView& v, const SampleRecord& rec,
                                  std::vector<Hit>& hits) const;
    ValueRange extremeReference(const StageView& v, size_t c, bool unscaledHere) const;
    bool checkExtremeChannel(const StageView& v, size_t c, bool unscaledHere,
                             const SampleRecord& rec, std::vector<Hit>& hits) const;
    bool checkCollapsedChannel(const StageView& v, size_t c, const SampleRecord& rec,
                               std::vector<Hit>& hits) const;

    // Histograms and draws of one sample.
    using Ranges = std::vector<std::pair<double, double>>;
    struct SampleDraws {
        std::vector<std::pair<size_t, uint64_t>> perStage;
        uint64_t combined = 0;
    };
    void fixHistogramRanges(const std::vector<StageObs>& obs, size_t k);
    std::vector<Ranges> histogramRanges(const std::vector<StageObs>& obs);  // takes the lock
    SampleDraws continuousDraws(const SampleRecord& rec) const;
    void record(const SampleRecord& rec, std::vector<Hit>& hits, const std::vector<StageObs>& obs,
                const std::vector<std::vector<Histogram>>& hists, const uint64_t* pixelHash,
                const SampleDraws& sampleDraws);

    // Dataset-level rules (finish), under the lock.
    void duplicateGroups(GroupMap& out) const;
    void classImbalanceGroup(GroupMap& out) const;
    void normalizationMismatchGroup(GroupMap& out) const;
    void repeatedWithinEpoch(GroupMap& out) const;
    void repeatedAcrossEpochs(GroupMap& out) const;
    std::vector<FindingSample> moreSamplesOf(const Group& g) const;
};

namespace {

// What a Normalize expects, from its own statistics.
void describeNormalize(const NormalizeParams& n, StageInfo& s) {
    s.mean = n.mean;
    s.stddev = n.std;
    const ValueRange intended = n.intendedInput();
    s.expects01 = intended.known && intended.hi == 1;
    if (intended.known) s.intended = intended;
}

StageInfo stageInfoOf(const Transform& t, size_t i) {
    const TransformTraits traits = t.traits();
    StageInfo s;
    s.op = t.op();
    s.name = std::to_string(i + 1) + ":" + s.op;
    s.geometric = traits.geometric;
    s.unknownRange = traits.unknownRange;
    s.bicubic = traits.mayOvershoot;
    s.expects01 = traits.expectsUnitInput;
    s.random = t.isRandom() && !traits.discreteDraws;
    if (const NormalizeParams* n = t.normalization()) {
        s.normalize = true;
        describeNormalize(*n, s);
    }
    return s;
}

}  // namespace

AuditEngine::AuditEngine(const Pipeline& pipeline, AuditSettings settings)
    : d(std::make_unique<Impl>()) {
    d->pipeline = pipeline;
    d->settings = settings;
    int lastNormalize = -1;
    for (size_t i = 0; i < pipeline.size(); ++i) {
        StageInfo s = stageInfoOf(pipeline.stage(i), i);
        if (s.normalize) {
            s.previousNormalize = lastNormalize;
            lastNormalize = int(i + 1);
        }
        d->info.push_back(s);
    }
    d->accum.resize(pipeline.size() + 1);
    d->draws.resize(pipeline.size());
}

AuditEngine::~AuditEngine() = default;

const AuditSettings& AuditEngine::settings() const { return d->settings; }

Pipeline::StageMask AuditEngine::stagesRead() const {
    bool rawInput;
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        rawInput = d->hasRaw;
    }
    return stagesRead(d->pipeline, rawInput);
}

Pipeline::StageMask AuditEngine::stagesRead(const Pipeline& p, bool rawInput) {
    bool image = rawInput;  // the value before transform i is an 8-bit image
    Pipeline::StageMask keep(p.size() + 1, true);
    bool fromImage = false;
    for (size_t i = 0; i < p.size(); ++i) {
        const Transform& t = p.stage(i);
        const bool enabled = p.isEnabled(i);
        // A stage whose values follow elementwise from an 8-bit image before
        // it (ToTensor, then Normalize) is derived from that image's byte
        // counts: not kept, so the run keeps its fused ToTensor+Normalize.
        float y = 0;
        const bool elementwise = enabled && t.mapValue(0.f, 0, y);
        fromImage = elementwise && (fromImage || t.traits().imageToTensor);
        keep[i + 1] = !fromImage;
        // The 8-bit image between a fused geometric pair (Resize then
        // CenterCrop): no rule can fire on either stage (their values stay
        // pixels in [0, 255], within the nominal range, and collapsed_range
        // skips geometric stages), so it is not kept and the pair stays
        // fused; that stage then has no statistics in the report.
        if (image && enabled && p.isEnabled(i + 1) && p.fusesWithNext(i)) {
            const Transform& next = p.stage(i + 1);
            if (t.traits().geometric && next.traits().geometric) keep[i + 1] = false;
        }
        image = image && (!enabled || t.traits().geometric);
    }
    return keep;
}

std::string AuditEngine::stageName(size_t k) const {
    return d->stageName(k);
}

void AuditEngine::observeDataset(const Dataset& dataset) {
    std::vector<Hit> hits;
    for (const auto& issue : dataset.issues()) {
        Hit h;
        h.kind = issue.kind;
        h.stage = issue.kind == "empty_class" || issue.kind == "hidden_class" ? "dataset" : "file";
        h.path = issue.path;
        h.index = size_t(-1);
        h.message = issue.message;
        hits.push_back(h);
    }
    // Class sizes from the labels of the whole dataset (cheap: labels are
    // held in memory by every reader).
    std::vector<std::pair<std::string, size_t>> counts;
    const auto names = dataset.classes();
    // Labels are small class indices almost always: count them in a flat
    // array (this runs for every batch the GUI judges), a map only for the
    // rare large label values.
    std::vector<size_t> dense;
    std::map<int64_t, size_t> byLabel;
    constexpr int64_t kDenseLabels = 1 << 16;
    for (size_t i = 0; i < dataset.size(); ++i) {
        try {
            const int64_t l = dataset.label(i);
            if (l < 0) continue;
            if (l < kDenseLabels) {
                if (size_t(l) >= dense.size()) dense.resize(size_t(l) + 1, 0);
                ++dense[size_t(l)];
            } else {
                ++byLabel[l];
            }
        } catch (...) {
        }
    }
    for (size_t l = 0; l < dense.size(); ++l)
        if (dense[l]) byLabel[int64_t(l)] = dense[l];
    for (const auto& [label, n] : byLabel) {
        const std::string name =
            size_t(label) < names.size() ? names[size_t(label)] : std::to_string(label);
        counts.emplace_back(name, n);
    }
    std::lock_guard<std::mutex> lock(d->mutex);
    d->dataset = &dataset;
    d->datasetObserved = true;
    d->nativeGray = dataset.format() == DatasetFormat::Idx ||
                    dataset.format() == DatasetFormat::Numpy ||
                    dataset.format() == DatasetFormat::TensorDump;
    d->hasRaw = dataset.hasRaw();
    d->targetSchema = dataset.targetSchema();
    d->classCounts = counts;
    for (auto& h : hits) d->addHit(std::move(h));
}

void AuditEngine::Impl::addHit(Hit h) {
    Group& g = groups[{h.kind, h.stage}];
    if (g.count == 0) {
        g.kind = h.kind;
        g.stage = h.stage;
        g.firstDetail = h.detail;
        g.firstMessage = h.message;
        g.firstPath = h.path;
        g.expLo = h.expLo;
        g.expHi = h.expHi;
    }
    ++g.count;
    if (h.index != size_t(-1)) g.indices.push_back(h.index);
    if (!std::isnan(h.obsLo)) g.obsLo = std::min(g.obsLo, h.obsLo);
    if (!std::isnan(h.obsHi)) g.obsHi = std::max(g.obsHi, h.obsHi);
    if (h.detail.is_object() && h.detail.contains("tally"))
        ++g.tally[h.detail["tally"].get<std::string>()];
    // Keep the smallest indices so the list does not depend on thread timing.
    const size_t cap = size_t(std::max(settings.maxSamplesPerFinding, 1));
    FindingSample fs{h.index, h.path, h.detail};
    if (fs.detail.is_object()) fs.detail.erase("tally");
    auto pos = std::lower_bound(
        g.samples.begin(), g.samples.end(), fs,
        [](const FindingSample& a, const FindingSample& b) { return a.index < b.index; });
    if (g.samples.size() < cap || pos != g.samples.end()) {
        g.samples.insert(pos, std::move(fs));
        if (g.samples.size() > cap) g.samples.pop_back();
    }
}

namespace {

ValueRange safeExpected(const Transform& t, const ValueRange& in, int c) {
    try {
        return t.expectedRange(in, c);
    } catch (...) {
        return ValueRange::unknown();
    }
}

double maxAbs(const ChannelStats& s) {
    return s.count ? std::max(std::fabs(s.min), std::fabs(s.max)) : 0.0;
}

json rangeJson(double lo, double hi) { return json::array({lo, hi}); }

}  // namespace

namespace {

// What the checks of transform k read: its statistics in and out, whether
// its input was an 8-bit image, and the nominal ranges that flow from the
// decoded [0, 255].
struct StageView {
    size_t k = 0;  // 1-based
    const StageInfo* si = nullptr;
    const Transform* t = nullptr;
    const ValueStats* in = nullptr;
    const ValueStats* out = nullptr;
    bool inputIsImage = false;
    std::vector<ValueRange> nominalIn, nominalOut;
    ChannelStats inAll, outAll;

    const ChannelStats& inChannel(size_t c) const {
        return in->channels[std::min(c, in->channels.size() - 1)];
    }
    ValueRange nominalInOf(size_t c) const {
        return nominalIn.empty() ? ValueRange::unknown()
                                 : nominalIn[std::min(c, nominalIn.size() - 1)];
    }
};

// Each rule reports at most once per sample: the first stage that shows it.
struct RulesFired {
    bool nan = false, extreme = false, collapse = false, unscaled = false, doubleNorm = false;
};

std::vector<ValueRange> nominalAfter(const Transform& t, const std::vector<ValueRange>& nominalIn,
                                     size_t channels) {
    std::vector<ValueRange> out(channels);
    for (size_t c = 0; c < channels; ++c) {
        const ValueRange r = nominalIn.empty() ? ValueRange::unknown()
                                               : nominalIn[std::min(c, nominalIn.size() - 1)];
        out[c] = safeExpected(t, r, int(c));
    }
    return out;
}

}  // namespace

Hit& AuditEngine::Impl::stageHit(std::vector<Hit>& hits, const SampleRecord& rec, const char* kind,
                                 size_t k) const {
    hits.emplace_back();
    Hit& h = hits.back();
    h.kind = kind;
    h.stage = info[k - 1].name;
    h.index = rec.index;
    h.path = rec.path;
    h.detail = json::object();
    return h;
}

// nan_or_inf: the first stage whose output has them while its input had none.
void AuditEngine::Impl::checkNanOrInf(const StageView& v, const SampleRecord& rec,
                                      std::vector<Hit>& hits) const {
    int64_t nan = 0, pinf = 0, ninf = 0, total = 0;
    for (const auto& c : v.out->channels) {
        nan += c.nan;
        pinf += c.posInf;
        ninf += c.negInf;
        total += c.count + c.nonFinite();
    }
    Hit& h = stageHit(hits, rec, "nan_or_inf", v.k);
    h.detail = {{"nan", nan}, {"pos_inf", pinf}, {"neg_inf", ninf}, {"values", total}};
}

// unscaled_input: [0,1] expected, non-negative data up to ~255 received.
// Returns whether this stage's input is unscaled (reported or not).
bool AuditEngine::Impl::checkUnscaled(const StageView& v, const SampleRecord& rec,
                                      RulesFired& fired, std::vector<Hit>& hits) const {
    const ChannelStats& in = v.inAll;
    if (!v.si->expects01 || v.inputIsImage || !(in.max > settings.unscaledMax) ||
        in.min < -0.01 * std::max(1.0, in.max))
        return false;
    if (!fired.unscaled) {
        fired.unscaled = true;
        Hit& h = stageHit(hits, rec, "unscaled_input", v.k);
        h.obsLo = in.min;
        h.obsHi = in.max;
        h.expLo = 0;
        h.expHi = 1;
        h.detail = {{"input_range", rangeJson(in.min, in.max)}};
    }
    return true;
}

// double_normalization: a Normalize after a Normalize, or fed data that is
// already centred (clearly negative values).
void AuditEngine::Impl::checkDoubleNormalization(const StageView& v, const SampleRecord& rec,
                                                 std::vector<Hit>& hits) const {
    const StageInfo& si = *v.si;
    const ChannelStats& in = v.inAll;
    Hit& h = stageHit(hits, rec, "double_normalization", v.k);
    h.obsLo = in.min;
    h.obsHi = in.max;
    h.detail = {{"input_range", rangeJson(in.min, in.max)},
                {"input_mean", in.mean},
                {"input_std", in.stddev()}};
    if (si.previousNormalize > 0)
        h.detail["previous"] = info[size_t(si.previousNormalize - 1)].name;
}

// The range channel c of the output is judged against: the nominal one,
// unless the input was already off its own nominal range (an earlier stage's
// fault), then the range this stage gives for the observed input.
ValueRange AuditEngine::Impl::extremeReference(const StageView& v, size_t c,
                                               bool unscaledHere) const {
    const ChannelStats& ic = v.inChannel(c);
    ValueRange ref = v.nominalOut[c];
    const ValueRange nin = v.nominalInOf(c);
    if (nin.known) {
        const double m = settings.extremeMargin * std::max(nin.hi - nin.lo, 1e-12);
        if (ic.min < nin.lo - m || ic.max > nin.hi + m)
            ref = safeExpected(*v.t, ValueRange::of(ic.min, ic.max), int(c));
    }
    if (unscaledHere && v.si->intended.known) ref = safeExpected(*v.t, v.si->intended, int(c));
    return ref;
}

// extreme_values on channel c; true when it fired.
bool AuditEngine::Impl::checkExtremeChannel(const StageView& v, size_t c, bool unscaledHere,
                                            const SampleRecord& rec, std::vector<Hit>& hits) const {
    const AuditSettings& cfg = settings;
    const ChannelStats& oc = v.out->channels[c];
    const ChannelStats& ic = v.inChannel(c);
    auto fire = [&]() -> Hit& {
        Hit& h = stageHit(hits, rec, "extreme_values", v.k);
        h.obsLo = v.outAll.min;
        h.obsHi = v.outAll.max;
        return h;
    };
    const ValueRange ref = extremeReference(v, c, unscaledHere);
    if (ref.known) {
        const double span = ref.hi - ref.lo;
        double margin = cfg.extremeMargin * (span > 0 ? span : std::max(1.0, std::fabs(ref.hi)));
        if (v.si->bicubic && !v.inputIsImage) margin += 0.25 * span;
        if (oc.min < ref.lo - margin || oc.max > ref.hi + margin) {
            Hit& h = fire();
            h.expLo = ref.lo;
            h.expHi = ref.hi;
            h.detail = {{"channel", c},
                        {"observed", rangeJson(oc.min, oc.max)},
                        {"expected", rangeJson(ref.lo, ref.hi)}};
            return true;
        }
    }
    // A Normalize's own nominal range follows from its std, so a std 100
    // times too small looks "in range"; standardised data has no business in
    // the hundreds.
    if (v.si->normalize && maxAbs(oc) > cfg.normalizeMaxAbs) {
        Hit& h = fire();
        h.expLo = -cfg.normalizeMaxAbs;
        h.expHi = cfg.normalizeMaxAbs;
        h.detail = {{"channel", c},
                    {"observed", rangeJson(oc.min, oc.max)},
                    {"normalized_limit", cfg.normalizeMaxAbs}};
        return true;
    }
    if (!ref.known && v.si->unknownRange) {
        const double grow = maxAbs(oc) / std::max(1.0, maxAbs(ic));
        if (grow > cfg.unknownGrowth) {
            Hit& h = fire();
            h.detail = {{"channel", c},
                        {"observed", rangeJson(oc.min, oc.max)},
                        {"input", rangeJson(ic.min, ic.max)},
                        {"growth", grow}};
            return true;
        }
    }
    return false;
}

// collapsed_range on channel c: a value stage squeezing a non-constant input
// into a sliver of what it should produce; true when it fired.
bool AuditEngine::Impl::checkCollapsedChannel(const StageView& v, size_t c, const SampleRecord& rec,
                                              std::vector<Hit>& hits) const {
    const AuditSettings& cfg = settings;
    const StageInfo& si = *v.si;
    const ChannelStats& oc = v.out->channels[c];
    const ChannelStats& ic = v.inChannel(c);
    const ValueRange nin = v.nominalInOf(c);
    const ValueRange& nout = v.nominalOut[c];
    const double inRef = nin.known ? nin.hi - nin.lo : ic.spread();
    if (!(ic.spread() > 0) || !(inRef > 0)) return false;
    const double relIn = ic.spread() / inRef;
    const size_t j = std::min(c, si.stddev.empty() ? 0 : si.stddev.size() - 1);
    const double sd = si.stddev.empty() ? 1.0 : si.stddev[j];
    bool collapsed = false;
    double expectedSpan = 0;
    if (si.normalize) {
        expectedSpan = inRef / std::fabs(sd);
        collapsed = expectedSpan < cfg.normalizeMinSpan;
    } else if (nout.known && nout.hi > nout.lo) {
        expectedSpan = nout.hi - nout.lo;
        collapsed =
            oc.spread() / expectedSpan < cfg.collapseFraction && relIn >= cfg.collapseInputFraction;
    } else if (!nout.known) {
        expectedSpan = ic.spread();
        collapsed =
            oc.spread() / ic.spread() < cfg.collapseFraction && relIn >= cfg.collapseInputFraction;
    }
    if (!collapsed) return false;
    Hit& h = stageHit(hits, rec, "collapsed_range", v.k);
    h.obsLo = v.outAll.min;
    h.obsHi = v.outAll.max;
    h.detail = {{"channel", c},
                {"observed", rangeJson(oc.min, oc.max)},
                {"spread", oc.spread()},
                {"expected_span", expectedSpan},
                {"input_range", rangeJson(ic.min, ic.max)},
                {"mean", oc.mean}};
    if (si.normalize) {
        h.detail["std"] = sd;
        h.detail["input_nominal"] =
            nin.known ? rangeJson(nin.lo, nin.hi) : rangeJson(ic.min, ic.max);
    }
    return true;
}

// The range rules of one transform, on finite data.
void AuditEngine::Impl::checkRanges(const StageView& v, const SampleRecord& rec, RulesFired& fired,
                                    std::vector<Hit>& hits) const {
    const bool unscaledHere = checkUnscaled(v, rec, fired, hits);
    if (v.si->normalize && !fired.doubleNorm && !unscaledHere &&
        (v.si->previousNormalize > 0 || v.inAll.min < settings.doubleNormMin)) {
        fired.doubleNorm = true;
        checkDoubleNormalization(v, rec, hits);
    }
    for (size_t c = 0; c < v.out->channels.size() && !fired.extreme; ++c)
        fired.extreme = checkExtremeChannel(v, c, unscaledHere, rec, hits);
    // Geometric stages only select or blend pixels: a crop of a flat area is
    // not a collapse.
    if (v.si->geometric) return;
    for (size_t c = 0; c < v.out->channels.size() && !fired.collapse; ++c)
        fired.collapse = checkCollapsedChannel(v, c, rec, hits);
}

void AuditEngine::Impl::checkStages(const SampleRecord& rec, const std::vector<StageObs>& obs,
                                    std::vector<Hit>& hits) const {
    const size_t n = obs.size();
    if (n == 0) return;
    // Nominal (expected) range per stage and channel, propagated from the
    // decoded [0, 255] (unknown for stored tensors).
    std::vector<ValueRange> nominal(obs[0].stats.channels.size(),
                                    hasRaw ? ValueRange::of(0, 255) : ValueRange::unknown());
    RulesFired fired;
    for (size_t k = 1; k < n && k - 1 < info.size(); ++k) {
        if (!obs[k - 1].present || !obs[k].present) {
            nominal = nominalAfter(pipeline.stage(k - 1), nominal, nominal.size());
            continue;
        }
        StageView v;
        v.k = k;
        v.si = &info[k - 1];
        v.t = &pipeline.stage(k - 1);
        v.in = &obs[k - 1].stats;
        v.out = &obs[k].stats;
        v.inputIsImage = obs[k - 1].isImage;
        v.nominalIn = std::move(nominal);
        v.nominalOut = nominalAfter(*v.t, v.nominalIn, v.out->channels.size());
        const int64_t outBad = v.out->nonFinite(), inBad = v.in->nonFinite();
        if (outBad > 0 && inBad == 0 && !fired.nan) {
            fired.nan = true;
            checkNanOrInf(v, rec, hits);
        }
        // Range checks are meaningless on non-finite data.
        if (inBad == 0 && outBad == 0 && !v.in->channels.empty() && !v.out->channels.empty()) {
            v.inAll = v.in->overall();
            v.outAll = v.out->overall();
            checkRanges(v, rec, fired, hits);
        }
        nominal = std::move(v.nominalOut);
    }
}

void AuditEngine::Impl::errorHit(const SampleRecord& rec, std::vector<Hit>& hits) const {
    Hit& h = sampleHit(hits, rec, "unreadable_file", "file");
    h.detail = {{"error", rec.error}};
    if (rec.errorKind == "pipeline") {
        h.kind = "transform_error";
        const size_t k = rec.errorStage >= 0 ? size_t(rec.errorStage) + 1 : 0;
        h.stage = k > 0 ? stageName(k) : "pipeline";
    } else if (rec.errorKind == "truncated_image" || rec.errorKind == "oversized_image") {
        h.kind = rec.errorKind;
        if (rec.errorKind == "truncated_image") h.stage = "decode";
    }
}

Hit& AuditEngine::Impl::sampleHit(std::vector<Hit>& hits, const SampleRecord& rec, const char* kind,
                                  const char* stage) const {
    hits.emplace_back();
    Hit& h = hits.back();
    h.kind = kind;
    h.stage = stage;
    h.index = rec.index;
    h.path = rec.path;
    h.detail = json::object();
    return h;
}

// mode_conversion and exif_orientation, from what the decoder reported.
void AuditEngine::Impl::decodeHits(const SampleRecord& rec, bool nativeGrayData,
                                   std::vector<Hit>& hits) const {
    const DecodeInfo& di = rec.decode;
    if (!di.sourceMode.empty() && (di.sourceMode != "RGB" || di.bitDepth != 8) &&
        !(nativeGrayData && di.sourceMode == "L" && di.bitDepth == 8)) {
        Hit& h = sampleHit(hits, rec, "mode_conversion", "decode");
        const std::string mode =
            di.sourceMode + (di.bitDepth != 8 ? " (" + std::to_string(di.bitDepth) + "-bit)" : "");
        h.detail = {{"mode", di.sourceMode}, {"bit_depth", di.bitDepth}, {"tally", mode}};
    }
    if (di.exifOrientation != 1) {
        Hit& h = sampleHit(hits, rec, "exif_orientation", "decode");
        h.detail = {{"orientation", di.exifOrientation},
                    {"tally", std::to_string(di.exifOrientation)}};
    }
}

// The target rules (core/audit/target_checks.h) on the targets as read,
// against the decoded image's size.
void AuditEngine::Impl::targetHits(const SampleResult& s, const TargetSchema& schema,
                                   std::vector<Hit>& hits) const {
    if (s.targets.empty()) return;
    const SampleRecord& rec = s.record;
    const auto problems = checkTarget(s.targets[0], schema, rec.decode.sourceWidth,
                                      rec.decode.sourceHeight, "in the annotation");
    for (const auto& p : problems) {
        Hit& h = sampleHit(hits, rec, p.kind.c_str(), "file");
        h.detail = p.detail;
        h.message = p.message;
    }
}

// The target rules on the pipeline's output target: a problem the file did
// not have is named after the first stage that shows it (the stages are
// replayed on the targets only, with the run's sizes and draws).
void AuditEngine::Impl::pipelineTargetHits(const SampleResult& s, const TargetSchema& schema,
                                           std::vector<Hit>& hits) const {
    if (s.targets.empty() || s.stageSizes.size() < 2) return;
    const SampleRecord& rec = s.record;
    const auto [outW, outH] = s.stageSizes.back();
    auto problemsAt = [&](const Target& t, int w, int h) {
        std::vector<TargetProblem> out;
        checkMaskValues(t, schema, "after the pipeline", out);
        checkBoxBounds(t, w, h, "after the pipeline", out);
        return out;
    };
    // A mask whose size the file already got wrong is reported there only.
    std::vector<TargetProblem> found;
    checkMaskSize(s.targets[0], s.stageSizes[0].first, s.stageSizes[0].second, "", found);
    if (found.empty())
        checkMaskSize(s.outputTarget, outW, outH, "after the pipeline", found);
    else
        found.clear();
    for (const auto& p : found) {
        Hit& h = sampleHit(hits, rec, p.kind.c_str(), stageName(s.stageSizes.size() - 1).c_str());
        h.detail = p.detail;
        h.message = p.message;
    }
    if (problemsAt(s.outputTarget, outW, outH).empty()) return;
    std::vector<std::string> seen;
    for (const auto& p : problemsAt(s.targets[0], s.stageSizes[0].first, s.stageSizes[0].second))
        seen.push_back(p.kind);
    Target cur = s.targets[0];
    for (size_t i = 0; i + 1 < s.stageSizes.size() && i < rec.drawn.size(); ++i) {
        cur = targetThroughStage(pipeline, i, cur, s.stageSizes, rec.drawn[i]);
        const auto [w, h] = s.stageSizes[i + 1];
        for (const auto& p : problemsAt(cur, w, h)) {
            if (std::find(seen.begin(), seen.end(), p.kind) != seen.end()) continue;
            seen.push_back(p.kind);
            Hit& hit = sampleHit(hits, rec, p.kind.c_str(), stageName(i + 1).c_str());
            hit.detail = p.detail;
            hit.message = p.message + " (after stage " + stageName(i + 1) + ")";
        }
    }
}

namespace {

// The pixel hash for duplicate detection: of the decoded image, else of the
// stored tensor, else of the output. `inputHash` is the input image's
// (stage 0, the decoded image itself), when observeStages took it.
bool pixelHashOf(const SampleResult& s, std::optional<uint64_t> inputHash, uint64_t& hash) {
    if (inputHash) {
        hash = *inputHash;
    } else if (!s.raw.empty()) {
        hash = hashImage(s.raw);
    } else if (!s.stages.empty()) {
        const StageValue& input = s.stages.front();
        hash = input.isImage() ? hashImage(input.image) : hashTensor(input.tensor);
    } else if (!s.output.empty()) {
        hash = hashTensor(s.output);
    } else {
        return false;
    }
    return true;
}

// constant_image: every channel of the decoded input (or stored tensor) flat.
void constantImageHit(const ValueStats& vs, Hit& h) {
    std::vector<double> values;
    for (const auto& c : vs.channels) values.push_back(c.min);
    h.detail = {{"value", values}};
}

bool isConstant(const ValueStats& vs) {
    bool constant = !vs.channels.empty();
    for (const auto& c : vs.channels) constant = constant && c.count > 0 && c.spread() == 0;
    return constant;
}

}  // namespace

// Each stage is read once: 8-bit images as byte counts, which give both
// their statistics and their histograms; the input image's pixel hash is
// taken in the same pass (`inputHash`). Stages the run did not keep are
// derived where they can be (deriveStage).
std::vector<StageObs> AuditEngine::Impl::observeStages(const SampleResult& s,
                                                       std::optional<uint64_t>& inputHash) const {
    std::vector<StageObs> obs(s.stages.size());
    for (size_t k = 0; k < s.stages.size(); ++k) {
        const StageValue& v = s.stages[k];
        if (v.isImage() && v.image.empty()) {
            if (k > 0) deriveStage(obs, k);
            continue;
        }
        obs[k].value = &v;
        obs[k].isImage = v.isImage();
        obs[k].present = true;
        if (v.isImage()) {
            uint64_t hash = 0;
            obs[k].counts = k == 0 ? countAndHashBytes(v.image, hash) : countBytes(v.image);
            if (k == 0) inputHash = hash;
            obs[k].stats = obs[k].counts.stats();
        } else {
            obs[k].stats = tensorStats(v.tensor);
        }
    }
    return obs;
}

// Stage k from stage k - 1 through transform k's value map, when stage k - 1
// is an 8-bit image (its byte counts) or itself derived: exactly the values
// the stage computes, counted instead of computed.
void AuditEngine::Impl::deriveStage(std::vector<StageObs>& obs, size_t k) const {
    const StageObs& prev = obs[k - 1];
    const ByteCounts* counts = prev.isImage ? &prev.counts : prev.source;
    if (!prev.present || !counts || counts->channels.empty() || k - 1 >= pipeline.size()) return;
    const Transform& t = pipeline.stage(k - 1);
    StageObs& o = obs[k];
    o.table.resize(counts->channels.size());
    for (size_t c = 0; c < o.table.size(); ++c) {
        for (int v = 0; v < 256; ++v) {
            const float x = prev.isImage ? float(v) : prev.table[c][size_t(v)];
            if (!t.mapValue(x, int(c), o.table[c][size_t(v)])) return;
        }
        o.stats.channels.push_back(
            weightedStats(o.table[c].data(), counts->channels[c].data(), 256));
    }
    o.source = counts;
    o.present = true;
}

// Pixel checks of a sample of the first epoch: decode facts, constant input
// and the per-stage range rules.
void AuditEngine::Impl::checkSample(const SampleResult& s, const std::vector<StageObs>& obs,
                                    bool hasRawData, bool nativeGrayData,
                                    std::vector<Hit>& hits) const {
    const SampleRecord& rec = s.record;
    if (hasRawData) decodeHits(rec, nativeGrayData, hits);
    const bool rawIsInput = !obs.empty() || s.raw.empty();
    const ValueStats vs =
        rawIsInput ? (obs.empty() ? ValueStats() : obs[0].stats) : imageStats(s.raw);
    if (isConstant(vs)) constantImageHit(vs, sampleHit(hits, rec, "constant_image", "decode"));
    checkStages(rec, obs, hits);
}

// Nominal range of every channel of stage k for the first sample reaching
// it; the stage's histograms are fixed to it. Caller holds the lock.
void AuditEngine::Impl::fixHistogramRanges(const std::vector<StageObs>& obs, size_t k) {
    StageAccum& a = accum[k];
    a.rangesSet = true;
    std::vector<ValueRange> nominal(obs[0].stats.channels.size(),
                                    hasRaw ? ValueRange::of(0, 255) : ValueRange::unknown());
    for (size_t j = 1; j <= k; ++j) {
        const size_t channels = obs[j].present ? obs[j].stats.channels.size() : nominal.size();
        nominal = nominalAfter(pipeline.stage(j - 1), nominal, channels);
    }
    a.expected = nominal;
    for (size_t c = 0; c < obs[k].stats.channels.size(); ++c) {
        const ChannelStats& cs = obs[k].stats.channels[c];
        double lo = cs.min, hi = cs.max;
        if (c < nominal.size() && nominal[c].known) {
            lo = nominal[c].lo;
            hi = nominal[c].hi;
        } else if (!(hi > lo)) {
            lo -= 0.5;
            hi += 0.5;
        }
        a.hist.push_back(makeHistogram(lo, hi));
    }
}

// Histogram ranges per stage and channel, fixed by the first sample that
// reaches a stage.
std::vector<AuditEngine::Impl::Ranges> AuditEngine::Impl::histogramRanges(
    const std::vector<StageObs>& obs) {
    std::vector<Ranges> ranges(obs.size());
    std::lock_guard<std::mutex> lock(mutex);
    for (size_t k = 0; k < obs.size() && k < accum.size(); ++k) {
        if (!accum[k].rangesSet && obs[k].present) fixHistogramRanges(obs, k);
        for (const auto& h : accum[k].hist) ranges[k].emplace_back(h.lo, h.hi);
    }
    return ranges;
}

namespace {

std::vector<std::vector<Histogram>> stageHistograms(
    const std::vector<StageObs>& obs,
    const std::vector<std::vector<std::pair<double, double>>>& ranges) {
    std::vector<std::vector<Histogram>> hists(obs.size());
    for (size_t k = 0; k < obs.size(); ++k) {
        const auto& r = ranges[k];
        if (r.empty()) continue;
        const ByteCounts& counts = obs[k].counts;
        if (!counts.channels.empty()) {
            for (size_t c = 0; c < r.size() && c < counts.channels.size(); ++c) {
                hists[k].push_back(makeHistogram(r[c].first, r[c].second));
                hists[k].back().addCounts(counts.channels[c]);
            }
        } else if (obs[k].source) {
            for (size_t c = 0; c < r.size() && c < obs[k].table.size(); ++c) {
                hists[k].push_back(makeHistogram(r[c].first, r[c].second));
                hists[k].back().addWeighted(obs[k].table[c].data(),
                                            obs[k].source->channels[c].data(), 256);
            }
        } else if (obs[k].value) {
            hists[k] = channelHistograms(*obs[k].value, r);
            if (hists[k].size() > r.size()) hists[k].resize(r.size());
        }
    }
    return hists;
}

}  // namespace

// Random draws for repeated_augmentation: only stages whose draws hold
// numbers (a crop box), not coin flips alone.
AuditEngine::Impl::SampleDraws AuditEngine::Impl::continuousDraws(const SampleRecord& rec) const {
    SampleDraws out;
    if (!rec.error.empty() || !rec.drawn.is_array()) return out;
    for (size_t j = 0; j < rec.drawn.size() && j < info.size(); ++j) {
        if (!info[j].random) continue;
        const json& dj = rec.drawn[j];
        bool continuous = false;
        if (dj.is_object() || dj.is_array())
            for (const auto& v : dj) continuous = continuous || v.is_number();
        if (!continuous) continue;
        const std::string text = dj.dump();
        const uint64_t h = hashBytes(text.data(), text.size(), j);
        out.perStage.emplace_back(j, h);
        out.combined = hashBytes(&h, sizeof h, out.combined);
    }
    return out;
}

// Adds one first-epoch sample's findings and statistics. Caller holds the lock.
void AuditEngine::Impl::record(const SampleRecord& rec, std::vector<Hit>& hits,
                               const std::vector<StageObs>& obs,
                               const std::vector<std::vector<Histogram>>& hists,
                               const uint64_t* pixelHash, const SampleDraws& sampleDraws) {
    ++samples;
    for (auto& h : hits) addHit(std::move(h));
    if (pixelHash) hashes.push_back({*pixelHash, uint64_t(rec.index), rec.label});
    for (size_t k = 0; k < obs.size() && k < accum.size(); ++k) {
        if (!obs[k].present) continue;
        accum[k].stats.add(obs[k].stats);
        if (k < hists.size())
            for (size_t c = 0; c < hists[k].size() && c < accum[k].hist.size(); ++c)
                accum[k].hist[c].merge(hists[k][c]);
    }
    for (const auto& [j, h] : sampleDraws.perStage) draws[j].push_back({uint64_t(rec.index), 0, h});
}

void AuditEngine::observeSample(const SampleResult& s) {
    const SampleRecord& rec = s.record;
    if (rec.errorKind == "cancelled") return;
    bool nativeGray, hasRaw;
    TargetSchema schema;
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        nativeGray = d->nativeGray;
        hasRaw = d->hasRaw;
        if (!s.targets.empty()) schema = d->targetSchema;
    }
    const bool firstEpoch = rec.epoch == 0;
    std::vector<Hit> hits;
    std::vector<StageObs> obs;
    std::vector<std::vector<Histogram>> hists;
    uint64_t pixelHash = 0;
    bool hashed = false;
    if (firstEpoch && !rec.errorKind.empty()) {
        d->errorHit(rec, hits);
    } else if (firstEpoch) {
        std::optional<uint64_t> inputHash;
        obs = d->observeStages(s, inputHash);
        hashed = pixelHashOf(s, inputHash, pixelHash);
        d->checkSample(s, obs, hasRaw, nativeGray, hits);
        d->targetHits(s, schema, hits);
        d->pipelineTargetHits(s, schema, hits);
        if (!obs.empty()) hists = stageHistograms(obs, d->histogramRanges(obs));
    }
    const Impl::SampleDraws draws = d->continuousDraws(rec);

    std::lock_guard<std::mutex> lock(d->mutex);
    if (firstEpoch) d->record(rec, hits, obs, hists, hashed ? &pixelHash : nullptr, draws);
    if (!draws.perStage.empty())
        d->epochDraws.push_back({uint64_t(rec.index), rec.epoch, draws.combined});
}

void AuditEngine::observeBatch(const Batch& batch) {
    if (!batch.collateError) return;
    const CollateError& e = *batch.collateError;
    std::lock_guard<std::mutex> lock(d->mutex);
    // Detection and segmentation loaders collate images of varied sizes as
    // lists (torchvision's references), not with default_collate's stack.
    if (d->targetSchema.kind != TargetSchema::Kind::None) return;
    // One hit per sample involved, so the finding lists the indices.
    for (size_t i = 0; i < e.indices.size(); ++i) {
        Hit h;
        h.kind = "collate_error";
        h.stage = "collate";
        h.index = e.indices[i];
        for (const auto& s : batch.samples)
            if (s.index == h.index) h.path = s.path;
        h.detail = {{"batch", batch.number}};
        if (i < e.shapes.size()) h.detail["shape"] = e.shapes[i];
        h.message = e.message;
        d->addHit(std::move(h));
    }
}

void AuditEngine::addFinding(const std::string& kind, const std::string& stage, size_t index,
                             const std::string& path, const json& detail,
                             const std::string& message) {
    Hit h;
    h.kind = kind;
    h.stage = stage;
    h.index = index;
    h.path = path;
    h.detail = detail.is_null() ? json::object() : detail;
    h.message = message;
    std::lock_guard<std::mutex> lock(d->mutex);
    d->addHit(std::move(h));
}

void AuditEngine::merge(const AuditEngine& other) {
    if (&other == this) return;
    std::scoped_lock lock(d->mutex, other.d->mutex);
    for (const auto& [key, g] : other.d->groups) {
        Group& mine = d->groups[key];
        if (mine.count == 0) {
            mine = g;
            continue;
        }
        mine.count += g.count;
        mine.obsLo = std::min(mine.obsLo, g.obsLo);
        mine.obsHi = std::max(mine.obsHi, g.obsHi);
        for (const auto& [k, n] : g.tally) mine.tally[k] += n;
        mine.indices.insert(mine.indices.end(), g.indices.begin(), g.indices.end());
        for (const auto& s : g.samples) mine.samples.push_back(s);
        std::sort(mine.samples.begin(), mine.samples.end(),
                  [](const FindingSample& a, const FindingSample& b) { return a.index < b.index; });
        const size_t cap = size_t(std::max(d->settings.maxSamplesPerFinding, 1));
        if (mine.samples.size() > cap) mine.samples.resize(cap);
    }
    d->hashes.insert(d->hashes.end(), other.d->hashes.begin(), other.d->hashes.end());
    for (size_t k = 0; k < d->accum.size() && k < other.d->accum.size(); ++k) {
        StageAccum& a = d->accum[k];
        const StageAccum& b = other.d->accum[k];
        a.stats.merge(b.stats);
        if (!a.rangesSet) {
            a.hist = b.hist;
            a.expected = b.expected;
            a.rangesSet = b.rangesSet;
        } else {
            for (size_t c = 0; c < a.hist.size() && c < b.hist.size(); ++c)
                if (a.hist[c].lo == b.hist[c].lo && a.hist[c].hi == b.hist[c].hi)
                    a.hist[c].merge(b.hist[c]);
        }
    }
    for (size_t j = 0; j < d->draws.size() && j < other.d->draws.size(); ++j)
        d->draws[j].insert(d->draws[j].end(), other.d->draws[j].begin(), other.d->draws[j].end());
    d->epochDraws.insert(d->epochDraws.end(), other.d->epochDraws.begin(),
                         other.d->epochDraws.end());
    d->samples += other.d->samples;
}

size_t AuditEngine::samplesObserved() const {
    std::lock_guard<std::mutex> lock(d->mutex);
    return d->samples;
}

namespace {

std::string examplePath(const Group& g) {
    if (!g.samples.empty() && !g.samples[0].path.empty()) return g.samples[0].path;
    return g.firstPath;
}

std::string firstError(const Group& g) {
    if (!g.firstDetail.is_object() || !g.firstDetail.contains("error")) return {};
    std::string e = g.firstDetail["error"].get<std::string>();
    // Decoder messages start with the path, which the sentence already names.
    const std::string prefix = examplePath(g) + ": ";
    if (!prefix.empty() && e.rfind(prefix, 0) == 0) e = e.substr(prefix.size());
    return e;
}

std::string tallyText(const Group& g) {
    std::string s;
    for (const auto& [k, n] : g.tally) s += (s.empty() ? "" : ", ") + k + ": " + std::to_string(n);
    return s;
}

// The words every message of a group may use, made once per group.
struct MessageWords {
    size_t n;             // samples in the group
    std::string ex;       // an example path
    std::string samples;  // "1 sample", "3 samples"
};

// Messages of the kinds about files and decoded pixels; empty for others.
std::string decodeMessage(const Group& g, const MessageWords& w) {
    const size_t n = w.n;
    const std::string& ex = w.ex;
    const std::string& samples = w.samples;
    if (g.kind == "unreadable_file")
        return n == 1 ? "Cannot read " + ex + ": " + firstError(g) + "."
                      : plural(n, "file", "files") + " cannot be read as images (e.g. " + ex + ": " +
                            firstError(g) + ").";
    if (g.kind == "truncated_image")
        return plural(n, "image ends", "images end") + " before the image data is complete; Pillow refuses them (e.g. " + ex + ").";
    if (g.kind == "oversized_image")
        return plural(n, "image is", "images are") +
               " larger than the pixel limit and refused before decoding (e.g. " + ex + ": " + firstError(g) + ").";
    if (g.kind == "mode_conversion")
        return plural(n, "image is", "images are") + " not 8-bit RGB and converted with convert('RGB') (" +
               tallyText(g) + "); e.g. " + ex + ".";
    if (g.kind == "exif_orientation")
        return plural(n, "image has", "images have") + " an EXIF orientation other than 1 (" + tallyText(g) +
               "): torchvision ignores it, so the tensor is rotated or mirrored compared to a photo viewer; e.g. " + ex + ".";
    if (g.kind == "constant_image")
        return plural(n, "image has", "images have") + " every pixel equal (e.g. " + ex + ").";
    if (g.kind == "exact_duplicate")
        return samples + " have decoded pixels identical to another sample with the same label (" +
               plural(g.tally.size(), "group", "groups") + "); e.g. " + ex + ".";
    if (g.kind == "conflicting_duplicate")
        return samples + " have decoded pixels identical to a sample with a different label (" +
               plural(g.tally.size(), "group", "groups") + "); e.g. " + ex + ".";
    return {};
}

// Messages of the kinds about stage values; empty for others.
std::string valueMessage(const Group& g, const MessageWords& w) {
    const json& det = g.firstDetail;
    const std::string& samples = w.samples;
    if (g.kind == "nan_or_inf") {
        std::string m = g.stage + " produced NaN or Inf values in " + samples;
        if (det.is_object() && det.contains("nan"))
            m += " (first: " + det["nan"].dump() + " NaN, " + det["pos_inf"].dump() + " +Inf, " +
                 det["neg_inf"].dump() + " -Inf of " + det["values"].dump() + " values)";
        return m + ".";
    }
    if (g.kind == "extreme_values") {
        std::string m = "After " + g.stage + ", " + samples + " have values in " + fmtRange(g.obsLo, g.obsHi);
        if (det.is_object() && det.contains("normalized_limit"))
            return m + ", far beyond what standardised data reaches (|x| up to " +
                   fmt(det.value("normalized_limit", 0.0)) + "): its std is too small for this data.";
        if (!std::isnan(g.expLo)) m += ", outside the expected range " + fmtRange(g.expLo, g.expHi);
        else if (det.contains("input"))
            m += ", over " + fmt(det.value("growth", 0.0)) + " times the magnitude of its input " +
                 fmtRange(det["input"][0].get<double>(), det["input"][1].get<double>());
        return m + ".";
    }
    if (g.kind == "collapsed_range") {
        const double spread = det.value("spread", 0.0), span = det.value("expected_span", 0.0);
        if (det.is_object() && det.contains("std"))
            return "After " + g.stage + ", the values of " + samples + " lie within " + fmtRange(g.obsLo, g.obsHi) +
                   " (spread " + fmt(spread) + "): its std " + fmt(det.value("std", 0.0)) +
                   " is larger than the range of its input " + fmtRange(det["input_nominal"][0].get<double>(),
                                                                      det["input_nominal"][1].get<double>()) +
                   ", so it squeezes the data instead of standardising it (statistics for 0-255 data on 0-1 data?).";
        return "After " + g.stage + ", the values of " + samples + " lie within " + fmtRange(g.obsLo, g.obsHi) +
               " (spread " + fmt(spread) + " where about " + fmt(span) +
               " is expected from its input): the stage squeezes the data into a sliver.";
    }
    if (g.kind == "unscaled_input")
        return g.stage + " expects values in [0, 1] but receives values up to " + fmt(g.obsHi) + " in " +
               samples + ": the data was not scaled (ToTensor skipped, x * 255, or PILToTensor then float).";
    if (g.kind == "double_normalization") {
        std::string m = g.stage + " normalizes data that is already normalized in " + samples + " (input in " +
                        fmtRange(g.obsLo, g.obsHi) + ")";
        if (det.is_object() && det.contains("previous"))
            m += "; " + det["previous"].get<std::string>() + " already normalized it";
        return m + ".";
    }
    return {};
}

std::string messageFor(const Group& g) {
    const MessageWords w{g.count, examplePath(g), plural(g.count, "sample", "samples")};
    if (std::string m = decodeMessage(g, w); !m.empty()) return m;
    if (std::string m = valueMessage(g, w); !m.empty()) return m;
    const size_t n = w.n;
    const std::string& ex = w.ex;
    const std::string& samples = w.samples;
    if (g.kind == "empty_class" || g.kind == "hidden_class" || g.kind == "skipped_file") {
        if (n == 1 && !g.firstMessage.empty()) return g.firstMessage;
        const char* what = g.kind == "empty_class" ? " class folders have no usable image"
                           : g.kind == "hidden_class" ? " hidden folders (name starting with '.') became classes"
                                                      : " files were skipped";
        return std::to_string(n) + what + " (e.g. " + ex + ").";
    }
    if (g.kind == "collate_error")
        return samples + " cannot be stacked into their batch: " + g.firstMessage + ".";
    if (g.kind == "transform_error")
        return g.stage + " failed on " + samples + ": " + firstError(g) + ".";
    if (g.kind == "class_imbalance" || g.kind == "normalization_mismatch" ||
        g.kind == "repeated_augmentation")
        return g.firstMessage;
    if (!g.firstMessage.empty())
        return n == 1 ? g.firstMessage : g.firstMessage + " (" + samples + " in all)";
    return g.kind + " in " + samples + ".";
}

}  // namespace

namespace {

// Adds one sample to a dataset-level group (no per-sample hit behind it).
void addToGroup(GroupMap& groups, size_t cap, const std::string& kind, const std::string& stage,
                size_t index, const std::string& path, json detail, const std::string& tally) {
    Group& g = groups[{kind, stage}];
    if (g.count == 0) {
        g.kind = kind;
        g.stage = stage;
        g.firstDetail = detail;
        g.firstPath = path;
    }
    ++g.count;
    if (index != size_t(-1)) g.indices.push_back(index);
    if (!tally.empty()) ++g.tally[tally];
    if (g.samples.size() < cap) g.samples.push_back({index, path, detail});
}

// The largest run of equal hashes in `v` once sorted by (hash, index):
// its length and start.
std::pair<size_t, size_t> largestEqualRun(std::vector<DrawEntry>& v) {
    std::sort(v.begin(), v.end(), [](const DrawEntry& a, const DrawEntry& b) {
        return a.hash != b.hash ? a.hash < b.hash : a.index < b.index;
    });
    size_t best = 0, bestStart = 0;
    for (size_t i = 0; i < v.size();) {
        size_t k = i;
        while (k < v.size() && v[k].hash == v[i].hash) ++k;
        if (k - i > best) {
            best = k - i;
            bestStart = i;
        }
        i = k;
    }
    return {best, bestStart};
}

}  // namespace

size_t AuditEngine::Impl::groupCap() const {
    return size_t(std::max(settings.maxSamplesPerFinding, 1));
}

// exact_duplicate / conflicting_duplicate: sort the 24-byte entries by
// hash, then by index; each run of equal hashes is one group.
void AuditEngine::Impl::duplicateGroups(GroupMap& out) const {
    auto sorted = hashes;
    std::sort(sorted.begin(), sorted.end(), [](const HashEntry& a, const HashEntry& b) {
        return a.hash != b.hash ? a.hash < b.hash : a.index < b.index;
    });
    for (size_t i = 0; i < sorted.size();) {
        size_t j = i + 1;
        while (j < sorted.size() && sorted[j].hash == sorted[i].hash) ++j;
        if (j - i > 1) {
            bool conflicting = false;
            for (size_t k = i + 1; k < j; ++k)
                conflicting = conflicting || sorted[k].label != sorted[i].label;
            const std::string tally = std::to_string(sorted[i].index);
            for (size_t k = i; k < j; ++k) {
                json detail = {{"label", sorted[k].label}, {"duplicate_of", sorted[i].index}};
                json others = json::array();
                for (size_t m = i; m < j && others.size() < 8; ++m)
                    if (m != k) others.push_back(sorted[m].index);
                detail["same_as"] = others;
                addToGroup(out, groupCap(),
                           conflicting ? "conflicting_duplicate" : "exact_duplicate", "decode",
                           size_t(sorted[k].index), pathOf(size_t(sorted[k].index)), detail, tally);
            }
        }
        i = j;
    }
}

void AuditEngine::Impl::classImbalanceGroup(GroupMap& out) const {
    if (classCounts.size() < 2) return;
    auto bySize = [](const auto& a, const auto& b) { return a.second < b.second; };
    auto mx = std::max_element(classCounts.begin(), classCounts.end(), bySize);
    auto mn = std::min_element(classCounts.begin(), classCounts.end(), bySize);
    const double ratio = double(mx->second) / double(std::max<size_t>(mn->second, 1));
    if (!(ratio > settings.imbalanceRatio)) return;
    Group& g = out[{"class_imbalance", "dataset"}];
    g.kind = "class_imbalance";
    g.stage = "dataset";
    g.count = 1;
    json counts = json::object();
    for (const auto& [name, n] : classCounts) counts[name] = n;
    g.firstMessage = "The largest class '" + mx->first + "' has " + std::to_string(mx->second) +
                     " samples, " + fmt(ratio) + " times the smallest class '" + mn->first + "' (" +
                     std::to_string(mn->second) + ").";
    g.firstDetail = {{"largest", mx->first},
                     {"smallest", mn->first},
                     {"ratio", ratio},
                     {"class_counts", counts}};
}

// normalization_mismatch: the dataset's statistics after the last Normalize.
void AuditEngine::Impl::normalizationMismatchGroup(GroupMap& out) const {
    int last = -1;
    for (size_t i = 0; i < info.size(); ++i)
        if (info[i].normalize) last = int(i + 1);
    if (last <= 0 || size_t(last) >= accum.size() || accum[size_t(last)].stats.samples() == 0)
        return;
    const auto& after = accum[size_t(last)].stats.channels();
    const auto& before = accum[size_t(last - 1)].stats.channels();
    bool off = false, finite = true;
    std::vector<double> means, stds, fitMean, fitStd;
    for (size_t c = 0; c < after.size(); ++c) {
        const double m = after[c].mean, s = after[c].stddev();
        means.push_back(m);
        stds.push_back(s);
        off = off || std::fabs(m) > settings.normMeanTolerance || s > settings.normStdFactor ||
              s < 1.0 / settings.normStdFactor;
        finite = finite && after[c].nonFinite() == 0;
        if (c < before.size()) {
            fitMean.push_back(before[c].mean);
            fitStd.push_back(before[c].stddev());
        }
    }
    if (!off || !finite) return;
    const std::string stage = info[size_t(last - 1)].name;
    Group& g = out[{"normalization_mismatch", stage}];
    g.kind = "normalization_mismatch";
    g.stage = stage;
    g.count = size_t(accum[size_t(last)].stats.samples());
    g.firstMessage = "After " + stage + " the dataset's per-channel mean is " + fmtList(means) +
                     " and std " + fmtList(stds) +
                     " instead of about 0 and 1; mean=" + fmtList(fitMean) +
                     ", std=" + fmtList(fitStd) + " would fit this dataset (" +
                     std::to_string(g.count) + " samples).";
    g.firstDetail = {{"mean", means},
                     {"std", stds},
                     {"suggested_mean", fitMean},
                     {"suggested_std", fitStd},
                     {"samples", g.count}};
}

// repeated_augmentation within an epoch: one parameter set drawn by most
// samples of a random stage.
void AuditEngine::Impl::repeatedWithinEpoch(GroupMap& out) const {
    for (size_t j = 0; j < draws.size(); ++j) {
        auto v = draws[j];
        if (v.size() < 8) continue;
        const auto [best, bestStart] = largestEqualRun(v);
        if (!(double(best) > settings.repeatedShare * double(v.size()))) continue;
        const std::string stage = info[j].name;
        for (size_t i = bestStart; i < bestStart + best; ++i)
            addToGroup(out, groupCap(), "repeated_augmentation", stage, size_t(v[i].index),
                       pathOf(size_t(v[i].index)), json::object(), "");
        Group& g = out[{"repeated_augmentation", stage}];
        g.firstMessage = stage + " drew identical random parameters for " + std::to_string(best) +
                         " of " + std::to_string(v.size()) +
                         " different samples: its random generator is not seeded per sample.";
    }
}

// ... and across epochs: the same draws for a sample in every epoch.
void AuditEngine::Impl::repeatedAcrossEpochs(GroupMap& out) const {
    auto v = epochDraws;
    std::sort(v.begin(), v.end(), [](const DrawEntry& a, const DrawEntry& b) {
        return a.index != b.index ? a.index < b.index : a.epoch < b.epoch;
    });
    size_t samplesMulti = 0;
    std::vector<size_t> repeated;
    for (size_t i = 0; i < v.size();) {
        size_t k = i;
        bool same = true;
        std::set<int64_t> epochs;
        while (k < v.size() && v[k].index == v[i].index) {
            same = same && v[k].hash == v[i].hash;
            epochs.insert(v[k].epoch);
            ++k;
        }
        if (epochs.size() > 1) {
            ++samplesMulti;
            if (same) repeated.push_back(size_t(v[i].index));
        }
        i = k;
    }
    if (samplesMulti < 4 ||
        !(double(repeated.size()) > settings.repeatedShare * double(samplesMulti)))
        return;
    for (size_t idx : repeated)
        addToGroup(out, groupCap(), "repeated_augmentation", "loader", idx, pathOf(idx),
                   json::object(), "");
    Group& g = out[{"repeated_augmentation", "loader"}];
    g.firstMessage = std::to_string(repeated.size()) + " of " + std::to_string(samplesMulti) +
                     " samples drew the same random parameters in every epoch: the epoch does "
                     "not reach the random generator.";
}

namespace {

Finding findingOf(const Group& g) {
    Finding f;
    f.kind = g.kind;
    f.severity = severityOf(g.kind);
    f.stage = g.stage;
    f.count = g.count;
    f.samples = g.samples;
    f.message = messageFor(g);
    const bool duplicate = g.kind == "exact_duplicate" || g.kind == "conflicting_duplicate";
    json ev = json::object();
    if (g.obsLo <= g.obsHi) ev["observed_range"] = rangeJson(g.obsLo, g.obsHi);
    if (!std::isnan(g.expLo)) ev["expected_range"] = rangeJson(g.expLo, g.expHi);
    if (!g.tally.empty() && !duplicate) {
        json t = json::object();
        for (const auto& [k, n] : g.tally) t[k] = n;
        ev["counts"] = t;
    }
    if (duplicate) ev["groups"] = g.tally.size();
    if (g.firstDetail.is_object())
        for (auto it = g.firstDetail.begin(); it != g.firstDetail.end(); ++it)
            if (it.key() != "tally" && !ev.contains(it.key())) ev[it.key()] = it.value();
    f.evidence = ev;
    return f;
}

}  // namespace

void AuditEngine::finish() {
    std::lock_guard<std::mutex> lock(d->mutex);
    // Dataset-level findings are recomputed on each call from the state.
    GroupMap groups = d->groups;
    d->duplicateGroups(groups);
    d->classImbalanceGroup(groups);
    d->normalizationMismatchGroup(groups);
    d->repeatedWithinEpoch(groups);
    d->repeatedAcrossEpochs(groups);

    std::vector<Finding> out;
    for (const auto& entry : groups) {
        Finding f = findingOf(entry.second);
        f.moreSamples = d->moreSamplesOf(entry.second);
        for (size_t k = 0; k < d->info.size(); ++k)
            if (d->info[k].name == f.stage) f.stageNumber = int(k) + 1;
        out.push_back(std::move(f));
    }
    std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
        if (a.severity != b.severity) return a.severity > b.severity;
        if (kindOrder(a.kind) != kindOrder(b.kind)) return kindOrder(a.kind) < kindOrder(b.kind);
        return a.stage < b.stage;
    });
    d->finished = std::move(out);
}

std::vector<Finding> AuditEngine::findings() const {
    std::lock_guard<std::mutex> lock(d->mutex);
    return d->finished;
}

json AuditEngine::statsJson() const {
    const Pipeline::StageMask read = stagesRead();  // takes the lock itself
    std::lock_guard<std::mutex> lock(d->mutex);
    json stages = json::array();
    for (size_t k = 0; k < d->accum.size(); ++k) {
        const StageAccum& a = d->accum[k];
        json s = {{"stage", k}, {"name", stageName(k)}, {"samples", a.stats.samples()}};
        if (k > 0) s["op"] = d->info[k - 1].op;
        // A value the fused path never builds has no statistics: say why,
        // so "0 samples" is not read as a stage that saw nothing.
        if (k > 0 && k < read.size() && !read[k] && a.stats.samples() == 0 &&
            k < d->pipeline.size() && d->pipeline.fusesWithNext(k - 1))
            s["not_observed"] = "fused with " + stageName(k + 1) +
                                ": the value between them is never built, and no rule reads it";
        json expected = json::array();
        for (const auto& r : a.expected) expected.push_back(r.known ? rangeJson(r.lo, r.hi) : json());
        s["expected"] = expected;
        json ch = json::array();
        for (size_t c = 0; c < a.stats.channels().size(); ++c) {
            json cj = a.stats.channels()[c].toJson();
            if (c < a.hist.size()) cj["histogram"] = a.hist[c].toJson();
            ch.push_back(cj);
        }
        s["channels"] = ch;
        stages.push_back(s);
    }
    return stages;
}

json AuditEngine::toJson() const {
    const auto fs = findings();
    json list = json::array();
    json bySeverity = {{"error", 0}, {"warning", 0}, {"info", 0}};
    json bySeveritySamples = {{"error", 0}, {"warning", 0}, {"info", 0}};
    json byKind = json::object();
    for (const auto& f : fs) {
        list.push_back(f.toJson());
        const std::string s = severityName(f.severity);
        bySeverity[s] = bySeverity[s].get<int64_t>() + 1;
        bySeveritySamples[s] = bySeveritySamples[s].get<int64_t>() + int64_t(f.count);
        byKind[f.kind] = byKind.value(f.kind, int64_t(0)) + int64_t(f.count);
    }
    json summary = {{"findings", fs.size()},
                    {"by_severity", bySeverity},
                    {"samples_by_severity", bySeveritySamples},
                    {"by_kind", byKind},
                    {"samples_scanned", samplesObserved()}};
    return {{"findings", list}, {"stats", statsJson()}, {"summary", summary}};
}

// ---------------------------------------------------------------------------
// Every sample of a finding, and the engine's state for sharded audits.

std::vector<FindingSample> AuditEngine::Impl::moreSamplesOf(const Group& g) const {
    std::vector<uint64_t> all = g.indices;
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    std::vector<FindingSample> out;
    for (uint64_t i : all) {
        const bool listed = std::any_of(g.samples.begin(), g.samples.end(),
                                        [&](const FindingSample& s) { return s.index == i; });
        if (!listed) out.push_back({size_t(i), pathOf(size_t(i)), json()});
    }
    return out;
}

AuditEngineState AuditEngine::exportState() const {
    std::lock_guard<std::mutex> lock(d->mutex);
    AuditEngineState st;
    st.samples = d->samples;
    st.classCounts = d->classCounts;
    for (const auto& [key, g] : d->groups)
        st.groups.push_back({g.kind, g.stage, g.count, g.samples, g.indices, g.obsLo, g.obsHi,
                             g.expLo, g.expHi, g.firstDetail, g.firstMessage, g.firstPath,
                             g.tally});
    for (const auto& h : d->hashes) st.hashes.push_back({h.hash, h.index, h.label});
    for (const auto& a : d->accum)
        st.stages.push_back(
            {a.stats.channels(), a.stats.samples(), a.hist, a.expected, a.rangesSet});
    for (const auto& v : d->draws) {
        st.draws.emplace_back();
        for (const auto& e : v) st.draws.back().push_back({e.index, e.epoch, e.hash});
    }
    for (const auto& e : d->epochDraws) st.epochDraws.push_back({e.index, e.epoch, e.hash});
    return st;
}

void AuditEngine::mergeState(const AuditEngineState& part) {
    // Rebuilt as an engine of its own, then merged: one merge rule for both.
    AuditEngine other(d->pipeline, d->settings);
    Impl& o = *other.d;
    o.samples = part.samples;
    for (const auto& g : part.groups) {
        Group& m = o.groups[{g.kind, g.stage}];
        m = {g.kind,  g.stage,       g.count,        g.samples,   g.obsLo, g.obsHi,  g.expLo,
             g.expHi, g.firstDetail, g.firstMessage, g.firstPath, g.tally, g.indices};
    }
    for (const auto& h : part.hashes) o.hashes.push_back({h.hash, h.index, h.label});
    for (size_t k = 0; k < o.accum.size() && k < part.stages.size(); ++k) {
        const EngineStageState& s = part.stages[k];
        o.accum[k] = {RunningStats::fromParts(s.channels, s.samples), s.histograms, s.expected,
                      s.rangesSet};
    }
    for (size_t j = 0; j < o.draws.size() && j < part.draws.size(); ++j)
        for (const auto& e : part.draws[j]) o.draws[j].push_back({e.index, e.epoch, e.hash});
    for (const auto& e : part.epochDraws) o.epochDraws.push_back({e.index, e.epoch, e.hash});
    merge(other);
    std::lock_guard<std::mutex> lock(d->mutex);
    // Class sizes are of the parts' samples: they add up.
    // A plain loop variable, not a structured binding: clang 14 (the fuzz
    // build) cannot capture a binding in a lambda before C++20.
    for (const auto& count : part.classCounts) {
        auto it = std::find_if(d->classCounts.begin(), d->classCounts.end(),
                               [&](const auto& c) { return c.first == count.first; });
        if (it == d->classCounts.end())
            d->classCounts.emplace_back(count.first, count.second);
        else
            it->second += count.second;
    }
    for (const auto& [index, path] : part.paths) d->knownPaths[index] = path;
}

}  // namespace bs
