#include "core/audit/anomaly.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/audit/engine_state.h"
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

bool isGeometric(const std::string& op) {
    static const char* ops[] = {"Resize", "CenterCrop", "RandomCrop", "RandomResizedCrop",
                                "RandomHorizontalFlip", "RandomVerticalFlip", "Pad", "Grayscale"};
    for (const char* o : ops)
        if (op == o) return true;
    return false;
}

struct StageInfo {
    std::string op;
    std::string name;  // "<k>:<Op>"
    bool geometric = false;
    bool normalize = false;
    bool unknownRange = false;   // Lambda, TorchScript
    bool expects01 = false;      // expects float data in [0, 1]
    bool bicubic = false;        // may overshoot its input range
    bool random = false;
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
    json datasetIssuesJson = json::array();
    std::vector<std::pair<std::string, size_t>> classCounts;

    std::map<std::pair<std::string, std::string>, Group> groups;
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
    std::vector<FindingSample> moreSamplesOf(const Group& g) const;
    // `stats` holds the statistics of every stage of `s` (stageStats).
    void checkStages(const SampleResult& s, std::vector<Hit>& hits,
                     const std::vector<ValueStats>& stats) const;
};

AuditEngine::AuditEngine(const Pipeline& pipeline, AuditSettings settings)
    : d(std::make_unique<Impl>()) {
    d->pipeline = pipeline;
    d->settings = settings;
    int lastNormalize = -1;
    for (size_t i = 0; i < pipeline.size(); ++i) {
        const Transform& t = pipeline.stage(i);
        StageInfo s;
        s.op = t.op();
        s.name = std::to_string(i + 1) + ":" + s.op;
        s.geometric = isGeometric(s.op);
        s.normalize = s.op == "Normalize";
        s.unknownRange = s.op == "Lambda" || s.op == "TorchScript";
        s.random = t.isRandom();
        json p;
        try {
            p = t.params();
        } catch (...) {
        }
        if (p.is_object() && p.contains("interpolation") && p["interpolation"].is_string())
            s.bicubic = p["interpolation"].get<std::string>().find("bicubic") != std::string::npos ||
                        p["interpolation"].get<std::string>().find("lanczos") != std::string::npos;
        if (s.normalize) {
            auto numbers = [&](const char* key) {
                std::vector<double> v;
                if (!p.contains(key)) return v;
                if (p[key].is_number()) v.push_back(p[key].get<double>());
                else if (p[key].is_array())
                    for (const auto& x : p[key])
                        if (x.is_number()) v.push_back(x.get<double>());
                return v;
            };
            s.mean = numbers("mean");
            s.stddev = numbers("std");
            bool unit = !s.mean.empty() && !s.stddev.empty();
            bool byte = unit;
            for (double m : s.mean) {
                unit = unit && m >= 0 && m <= 1;
                byte = byte && m > 1 && m <= 255;
            }
            for (double v : s.stddev) {
                unit = unit && v > 0 && v <= 1;
                byte = byte && v > 1;
            }
            s.expects01 = unit;
            if (unit) s.intended = ValueRange::of(0, 1);
            else if (byte) s.intended = ValueRange::of(0, 255);
            s.previousNormalize = lastNormalize;
            lastNormalize = int(i + 1);
        }
        if (s.op == "ConvertImageDtype") s.expects01 = p.value("dtype", "") == "uint8";
        d->info.push_back(s);
    }
    d->accum.resize(pipeline.size() + 1);
    d->draws.resize(pipeline.size());
}

AuditEngine::~AuditEngine() = default;

const AuditSettings& AuditEngine::settings() const { return d->settings; }

std::string AuditEngine::stageName(size_t k) const {
    if (k == 0) return "decode";
    if (k - 1 < d->info.size()) return d->info[k - 1].name;
    return std::to_string(k);
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

void AuditEngine::Impl::checkStages(const SampleResult& s, std::vector<Hit>& hits,
                                    const std::vector<ValueStats>& stats) const {
    const auto& st = s.stages;
    const size_t n = std::min(st.size(), stats.size());
    if (n == 0) return;
    const SampleRecord& rec = s.record;
    auto hit = [&](const char* kind, size_t k) -> Hit& {
        hits.emplace_back();
        Hit& h = hits.back();
        h.kind = kind;
        h.stage = info[k - 1].name;
        h.index = rec.index;
        h.path = rec.path;
        h.detail = json::object();
        return h;
    };

    // Nominal (expected) range per stage and channel, propagated from the
    // decoded [0, 255] (unknown for stored tensors).
    std::vector<ValueRange> nominalIn(stats[0].channels.size(),
                                      hasRaw ? ValueRange::of(0, 255) : ValueRange::unknown());
    bool nanDone = false, extremeDone = false, collapseDone = false, unscaledDone = false,
         doubleDone = false;
    const AuditSettings& cfg = settings;
    for (size_t k = 1; k < n && k - 1 < info.size(); ++k) {
        const StageInfo& si = info[k - 1];
        const Transform& t = pipeline.stage(k - 1);
        const ValueStats& in = stats[k - 1];
        const ValueStats& out = stats[k];
        std::vector<ValueRange> nominalOut(out.channels.size());
        for (size_t c = 0; c < out.channels.size(); ++c) {
            const ValueRange r =
                nominalIn.empty() ? ValueRange::unknown() : nominalIn[std::min(c, nominalIn.size() - 1)];
            nominalOut[c] = safeExpected(t, r, int(c));
        }
        auto inChannel = [&](size_t c) -> const ChannelStats& {
            return in.channels[std::min(c, in.channels.size() - 1)];
        };
        auto nominalInOf = [&](size_t c) {
            return nominalIn.empty() ? ValueRange::unknown() : nominalIn[std::min(c, nominalIn.size() - 1)];
        };

        // nan_or_inf: the first stage whose output has them while its input had none.
        const int64_t outBad = out.nonFinite(), inBad = in.nonFinite();
        if (outBad > 0 && inBad == 0 && !nanDone) {
            nanDone = true;
            Hit& h = hit("nan_or_inf", k);
            int64_t nan = 0, pinf = 0, ninf = 0, total = 0;
            for (const auto& c : out.channels) {
                nan += c.nan;
                pinf += c.posInf;
                ninf += c.negInf;
                total += c.count + c.nonFinite();
            }
            h.detail = {{"nan", nan}, {"pos_inf", pinf}, {"neg_inf", ninf}, {"values", total}};
        }
        if (inBad > 0 || outBad > 0 || in.channels.empty() || out.channels.empty()) {
            nominalIn = nominalOut;
            continue;  // range checks are meaningless on non-finite data
        }
        const ChannelStats inAll = in.overall(), outAll = out.overall();

        // unscaled_input: [0,1] expected, non-negative data up to ~255 received.
        bool unscaledHere = false;
        if (si.expects01 && !st[k - 1].isImage() && inAll.max > cfg.unscaledMax &&
            inAll.min >= -0.01 * std::max(1.0, inAll.max)) {
            unscaledHere = true;
            if (!unscaledDone) {
                unscaledDone = true;
                Hit& h = hit("unscaled_input", k);
                h.obsLo = inAll.min;
                h.obsHi = inAll.max;
                h.expLo = 0;
                h.expHi = 1;
                h.detail = {{"input_range", rangeJson(inAll.min, inAll.max)}};
            }
        }

        // double_normalization: a Normalize after a Normalize, or fed data
        // that is already centred (clearly negative values).
        if (si.normalize && !doubleDone && !unscaledHere &&
            (si.previousNormalize > 0 || inAll.min < cfg.doubleNormMin)) {
            doubleDone = true;
            Hit& h = hit("double_normalization", k);
            h.obsLo = inAll.min;
            h.obsHi = inAll.max;
            h.detail = {{"input_range", rangeJson(inAll.min, inAll.max)},
                        {"input_mean", inAll.mean},
                        {"input_std", inAll.stddev()}};
            if (si.previousNormalize > 0)
                h.detail["previous"] = info[size_t(si.previousNormalize - 1)].name;
        }

        // extreme_values against the nominal range; when the input was
        // already off its own nominal range (an earlier stage's fault), judge
        // against the range this stage gives for the observed input instead.
        if (!extremeDone) {
            for (size_t c = 0; c < out.channels.size() && !extremeDone; ++c) {
                const ChannelStats& oc = out.channels[c];
                const ChannelStats& ic = inChannel(c);
                ValueRange ref = nominalOut[c];
                const ValueRange nin = nominalInOf(c);
                if (nin.known) {
                    const double m = cfg.extremeMargin * std::max(nin.hi - nin.lo, 1e-12);
                    if (ic.min < nin.lo - m || ic.max > nin.hi + m)
                        ref = safeExpected(t, ValueRange::of(ic.min, ic.max), int(c));
                }
                if (unscaledHere && si.intended.known) ref = safeExpected(t, si.intended, int(c));
                if (ref.known) {
                    const double span = ref.hi - ref.lo;
                    double margin = cfg.extremeMargin * (span > 0 ? span : std::max(1.0, std::fabs(ref.hi)));
                    if (si.bicubic && !st[k - 1].isImage()) margin += 0.25 * span;
                    if (oc.min < ref.lo - margin || oc.max > ref.hi + margin) {
                        extremeDone = true;
                        Hit& h = hit("extreme_values", k);
                        h.obsLo = outAll.min;
                        h.obsHi = outAll.max;
                        h.expLo = ref.lo;
                        h.expHi = ref.hi;
                        h.detail = {{"channel", c},
                                    {"observed", rangeJson(oc.min, oc.max)},
                                    {"expected", rangeJson(ref.lo, ref.hi)}};
                    }
                }
                // A Normalize's own nominal range follows from its std, so a
                // std 100 times too small looks "in range"; standardised
                // data has no business in the hundreds.
                if (!extremeDone && si.normalize && maxAbs(oc) > cfg.normalizeMaxAbs) {
                    extremeDone = true;
                    Hit& h = hit("extreme_values", k);
                    h.obsLo = outAll.min;
                    h.obsHi = outAll.max;
                    h.expLo = -cfg.normalizeMaxAbs;
                    h.expHi = cfg.normalizeMaxAbs;
                    h.detail = {{"channel", c},
                                {"observed", rangeJson(oc.min, oc.max)},
                                {"normalized_limit", cfg.normalizeMaxAbs}};
                }
                if (!ref.known && !extremeDone && si.unknownRange) {
                    const double grow = maxAbs(oc) / std::max(1.0, maxAbs(ic));
                    if (grow > cfg.unknownGrowth) {
                        extremeDone = true;
                        Hit& h = hit("extreme_values", k);
                        h.obsLo = outAll.min;
                        h.obsHi = outAll.max;
                        h.detail = {{"channel", c},
                                    {"observed", rangeJson(oc.min, oc.max)},
                                    {"input", rangeJson(ic.min, ic.max)},
                                    {"growth", grow}};
                    }
                }
            }
        }

        // collapsed_range: a value stage squeezing a non-constant input into
        // a sliver of what it should produce. Geometric stages only select or
        // blend pixels, so a crop of a flat area is not a collapse.
        if (!collapseDone && !si.geometric) {
            for (size_t c = 0; c < out.channels.size() && !collapseDone; ++c) {
                const ChannelStats& oc = out.channels[c];
                const ChannelStats& ic = inChannel(c);
                const ValueRange nin = nominalInOf(c);
                const double inRef = nin.known ? nin.hi - nin.lo : ic.spread();
                if (!(ic.spread() > 0) || !(inRef > 0)) continue;
                const double relIn = ic.spread() / inRef;
                bool collapsed = false;
                double ratio = 0, expectedSpan = 0;
                if (si.normalize) {
                    const size_t j = std::min(c, si.stddev.empty() ? 0 : si.stddev.size() - 1);
                    const double sd = si.stddev.empty() ? 1.0 : std::fabs(si.stddev[j]);
                    expectedSpan = inRef / sd;
                    ratio = oc.spread() / std::max(ic.spread(), 1e-30);
                    collapsed = expectedSpan < cfg.normalizeMinSpan;
                } else if (nominalOut[c].known && nominalOut[c].hi > nominalOut[c].lo) {
                    expectedSpan = nominalOut[c].hi - nominalOut[c].lo;
                    ratio = oc.spread() / expectedSpan;
                    collapsed = ratio < cfg.collapseFraction && relIn >= cfg.collapseInputFraction;
                } else if (!nominalOut[c].known) {
                    expectedSpan = ic.spread();
                    ratio = oc.spread() / ic.spread();
                    collapsed = ratio < cfg.collapseFraction && relIn >= cfg.collapseInputFraction;
                }
                if (collapsed) {
                    collapseDone = true;
                    Hit& h = hit("collapsed_range", k);
                    h.obsLo = outAll.min;
                    h.obsHi = outAll.max;
                    h.detail = {{"channel", c},
                                {"observed", rangeJson(oc.min, oc.max)},
                                {"spread", oc.spread()},
                                {"expected_span", expectedSpan},
                                {"input_range", rangeJson(ic.min, ic.max)},
                                {"mean", oc.mean}};
                    if (si.normalize) {
                        const size_t j = std::min(c, si.stddev.empty() ? 0 : si.stddev.size() - 1);
                        h.detail["std"] = si.stddev.empty() ? 1.0 : si.stddev[j];
                        h.detail["input_nominal"] =
                            nin.known ? rangeJson(nin.lo, nin.hi) : rangeJson(ic.min, ic.max);
                    }
                }
            }
        }
        nominalIn = nominalOut;
    }
}

void AuditEngine::observeSample(const SampleResult& s) {
    const SampleRecord& rec = s.record;
    if (rec.errorKind == "cancelled") return;
    std::vector<Hit> hits;
    std::vector<ValueStats> stats;
    bool nativeGray, hasRaw;
    {
        std::lock_guard<std::mutex> lock(d->mutex);
        nativeGray = d->nativeGray;
        hasRaw = d->hasRaw;
    }
    const bool firstEpoch = rec.epoch == 0;
    auto add = [&](const char* kind, const char* stage) -> Hit& {
        hits.emplace_back();
        Hit& h = hits.back();
        h.kind = kind;
        h.stage = stage;
        h.index = rec.index;
        h.path = rec.path;
        h.detail = json::object();
        return h;
    };
    uint64_t pixelHash = 0;
    bool hashed = false;
    std::vector<std::vector<Histogram>> hists;
    std::vector<ByteCounts> counts;  // per image stage

    if (firstEpoch) {
        if (!rec.errorKind.empty()) {
            if (rec.errorKind == "pipeline") {
                Hit& h = add("transform_error", "");
                const size_t k = rec.errorStage >= 0 ? size_t(rec.errorStage) + 1 : 0;
                h.stage = k > 0 ? stageName(k) : "pipeline";
                h.detail = {{"error", rec.error}};
            } else {
                const bool known = rec.errorKind == "unreadable_file" ||
                                   rec.errorKind == "truncated_image" ||
                                   rec.errorKind == "oversized_image";
                Hit& h = add(known ? rec.errorKind.c_str() : "unreadable_file",
                             rec.errorKind == "truncated_image" ? "decode" : "file");
                h.kind = known ? rec.errorKind : "unreadable_file";
                h.detail = {{"error", rec.error}};
            }
        } else {
            const DecodeInfo& di = rec.decode;
            if (hasRaw && !di.sourceMode.empty() &&
                (di.sourceMode != "RGB" || di.bitDepth != 8) &&
                !(nativeGray && di.sourceMode == "L" && di.bitDepth == 8)) {
                Hit& h = add("mode_conversion", "decode");
                const std::string mode =
                    di.sourceMode + (di.bitDepth != 8 ? " (" + std::to_string(di.bitDepth) + "-bit)" : "");
                h.detail = {{"mode", di.sourceMode}, {"bit_depth", di.bitDepth}, {"tally", mode}};
            }
            if (hasRaw && di.exifOrientation != 1) {
                Hit& h = add("exif_orientation", "decode");
                h.detail = {{"orientation", di.exifOrientation},
                            {"tally", std::to_string(di.exifOrientation)}};
            }
            // Pixel checks on the decoded input (or the stored tensor).
            const StageValue* input = !s.stages.empty() ? &s.stages[0] : nullptr;
            StageValue rawValue;
            if (!s.raw.empty()) {
                pixelHash = hashImage(s.raw);
                hashed = true;
                if (!input) {
                    rawValue = StageValue::fromImage(s.raw);
                    input = &rawValue;
                }
            } else if (input) {
                pixelHash = input->isImage() ? hashImage(input->image) : hashTensor(input->tensor);
                hashed = true;
            } else if (!s.output.empty()) {
                pixelHash = hashTensor(s.output);
                hashed = true;
            }
            // Each stage is read once: 8-bit images as byte counts, which
            // give both their statistics and their histograms.
            stats.resize(s.stages.size());
            counts.resize(s.stages.size());
            for (size_t k = 0; k < s.stages.size(); ++k) {
                if (s.stages[k].isImage()) {
                    counts[k] = countBytes(s.stages[k].image);
                    stats[k] = counts[k].stats();
                } else {
                    stats[k] = tensorStats(s.stages[k].tensor);
                }
            }
            if (input) {
                const ValueStats vs = input == &s.stages.front() ? stats[0] : stageStats(*input);
                bool constant = !vs.channels.empty();
                for (const auto& c : vs.channels) constant = constant && c.count > 0 && c.spread() == 0;
                if (constant) {
                    Hit& h = add("constant_image", "decode");
                    std::vector<double> values;
                    for (const auto& c : vs.channels) values.push_back(c.min);
                    h.detail = {{"value", values}};
                }
            }
            d->checkStages(s, hits, stats);
        }
    }

    // Histogram ranges are fixed by the first sample that reaches a stage.
    if (!stats.empty()) {
        std::vector<std::vector<std::pair<double, double>>> ranges(stats.size());
        {
            std::lock_guard<std::mutex> lock(d->mutex);
            for (size_t k = 0; k < stats.size() && k < d->accum.size(); ++k) {
                StageAccum& a = d->accum[k];
                if (!a.rangesSet) {
                    a.rangesSet = true;
                    // Nominal range when the stage has one for this sample.
                    std::vector<ValueRange> nominal(stats[0].channels.size(),
                                                    hasRaw ? ValueRange::of(0, 255) : ValueRange::unknown());
                    for (size_t j = 1; j <= k; ++j) {
                        std::vector<ValueRange> next(stats[j].channels.size());
                        for (size_t c = 0; c < next.size(); ++c)
                            next[c] = nominal.empty() ? ValueRange::unknown()
                                                      : safeExpected(d->pipeline.stage(j - 1),
                                                                     nominal[std::min(c, nominal.size() - 1)], int(c));
                        nominal = next;
                    }
                    a.expected = nominal;
                    for (size_t c = 0; c < stats[k].channels.size(); ++c) {
                        const ChannelStats& cs = stats[k].channels[c];
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
                std::vector<std::pair<double, double>> r;
                for (const auto& h : a.hist) r.emplace_back(h.lo, h.hi);
                ranges[k] = r;
            }
        }
        hists.resize(stats.size());
        for (size_t k = 0; k < stats.size(); ++k) {
            if (ranges[k].empty()) continue;
            if (k < counts.size() && !counts[k].channels.empty()) {
                for (size_t c = 0; c < ranges[k].size() && c < counts[k].channels.size(); ++c) {
                    hists[k].push_back(makeHistogram(ranges[k][c].first, ranges[k][c].second));
                    hists[k].back().addCounts(counts[k].channels[c]);
                }
            } else {
                hists[k] = channelHistograms(s.stages[k], ranges[k]);
                if (hists[k].size() > ranges[k].size()) hists[k].resize(ranges[k].size());
            }
        }
    }

    // Random draws for repeated_augmentation: only stages whose draws hold
    // numbers (a crop box), not coin flips alone.
    std::vector<std::pair<size_t, uint64_t>> stageDraws;
    uint64_t combined = 0;
    bool anyContinuous = false;
    if (rec.error.empty() && rec.drawn.is_array()) {
        for (size_t j = 0; j < rec.drawn.size() && j < d->info.size(); ++j) {
            if (!d->info[j].random) continue;
            const json& dj = rec.drawn[j];
            bool continuous = false;
            if (dj.is_object() || dj.is_array())
                for (const auto& v : dj) continuous = continuous || (v.is_number());
            if (!continuous) continue;
            const std::string text = dj.dump();
            const uint64_t h = hashBytes(text.data(), text.size(), j);
            stageDraws.emplace_back(j, h);
            combined = hashBytes(&h, sizeof h, combined);
            anyContinuous = true;
        }
    }

    std::lock_guard<std::mutex> lock(d->mutex);
    if (firstEpoch) {
        ++d->samples;
        for (auto& h : hits) d->addHit(std::move(h));
        if (hashed) d->hashes.push_back({pixelHash, uint64_t(rec.index), rec.label});
        for (size_t k = 0; k < stats.size() && k < d->accum.size(); ++k) {
            d->accum[k].stats.add(stats[k]);
            if (k < hists.size())
                for (size_t c = 0; c < hists[k].size() && c < d->accum[k].hist.size(); ++c)
                    d->accum[k].hist[c].merge(hists[k][c]);
        }
        for (const auto& [j, h] : stageDraws) d->draws[j].push_back({uint64_t(rec.index), 0, h});
    }
    if (anyContinuous) d->epochDraws.push_back({uint64_t(rec.index), rec.epoch, combined});
}

void AuditEngine::observeBatch(const Batch& batch) {
    if (!batch.collateError) return;
    const CollateError& e = *batch.collateError;
    std::lock_guard<std::mutex> lock(d->mutex);
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

std::string messageFor(const Group& g) {
    const size_t n = g.count;
    const std::string ex = examplePath(g);
    const json& det = g.firstDetail;
    const std::string samples = plural(n, "sample", "samples");
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

void AuditEngine::finish() {
    std::lock_guard<std::mutex> lock(d->mutex);
    // Dataset-level findings are recomputed on each call from the state.
    std::map<std::pair<std::string, std::string>, Group> groups = d->groups;
    const size_t cap = size_t(std::max(d->settings.maxSamplesPerFinding, 1));
    auto addTo = [&](const std::string& kind, const std::string& stage, size_t index,
                     const std::string& path, json detail, const std::string& tally) {
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
    };

    // Duplicates: sort the 24-byte entries by hash, then by index.
    auto hashes = d->hashes;
    std::sort(hashes.begin(), hashes.end(), [](const HashEntry& a, const HashEntry& b) {
        return a.hash != b.hash ? a.hash < b.hash : a.index < b.index;
    });
    for (size_t i = 0; i < hashes.size();) {
        size_t j = i + 1;
        while (j < hashes.size() && hashes[j].hash == hashes[i].hash) ++j;
        if (j - i > 1) {
            bool conflicting = false;
            for (size_t k = i + 1; k < j; ++k) conflicting = conflicting || hashes[k].label != hashes[i].label;
            const std::string tally = std::to_string(hashes[i].index);
            for (size_t k = i; k < j; ++k) {
                json detail = {{"label", hashes[k].label}, {"duplicate_of", hashes[i].index}};
                json others = json::array();
                for (size_t m = i; m < j && others.size() < 8; ++m)
                    if (m != k) others.push_back(hashes[m].index);
                detail["same_as"] = others;
                addTo(conflicting ? "conflicting_duplicate" : "exact_duplicate", "decode",
                      size_t(hashes[k].index), d->pathOf(size_t(hashes[k].index)), detail, tally);
            }
        }
        i = j;
    }

    // Class imbalance.
    if (d->classCounts.size() >= 2) {
        auto mx = std::max_element(d->classCounts.begin(), d->classCounts.end(),
                                   [](auto& a, auto& b) { return a.second < b.second; });
        auto mn = std::min_element(d->classCounts.begin(), d->classCounts.end(),
                                   [](auto& a, auto& b) { return a.second < b.second; });
        const double ratio = double(mx->second) / double(std::max<size_t>(mn->second, 1));
        if (ratio > d->settings.imbalanceRatio) {
            Group& g = groups[{"class_imbalance", "dataset"}];
            g.kind = "class_imbalance";
            g.stage = "dataset";
            g.count = 1;
            json counts = json::object();
            for (const auto& [name, n] : d->classCounts) counts[name] = n;
            g.firstMessage = "The largest class '" + mx->first + "' has " + std::to_string(mx->second) +
                             " samples, " + fmt(ratio) + " times the smallest class '" + mn->first + "' (" +
                             std::to_string(mn->second) + ").";
            g.firstDetail = {{"largest", mx->first}, {"smallest", mn->first}, {"ratio", ratio}, {"class_counts", counts}};
        }
    }

    // normalization_mismatch after the last Normalize.
    int last = -1;
    for (size_t i = 0; i < d->info.size(); ++i)
        if (d->info[i].normalize) last = int(i + 1);
    if (last > 0 && size_t(last) < d->accum.size() && d->accum[size_t(last)].stats.samples() > 0) {
        const auto& out = d->accum[size_t(last)].stats.channels();
        const auto& in = d->accum[size_t(last - 1)].stats.channels();
        bool off = false;
        std::vector<double> means, stds, fitMean, fitStd;
        for (size_t c = 0; c < out.size(); ++c) {
            const double m = out[c].mean, s = out[c].stddev();
            means.push_back(m);
            stds.push_back(s);
            off = off || std::fabs(m) > d->settings.normMeanTolerance || s > d->settings.normStdFactor ||
                  s < 1.0 / d->settings.normStdFactor;
            if (c < in.size()) {
                fitMean.push_back(in[c].mean);
                fitStd.push_back(in[c].stddev());
            }
        }
        bool finite = true;
        for (const auto& c : out) finite = finite && c.nonFinite() == 0;
        if (off && finite) {
            const std::string stage = d->info[size_t(last - 1)].name;
            Group& g = groups[{"normalization_mismatch", stage}];
            g.kind = "normalization_mismatch";
            g.stage = stage;
            g.count = size_t(d->accum[size_t(last)].stats.samples());
            g.firstMessage = "After " + stage + " the dataset's per-channel mean is " + fmtList(means) +
                             " and std " + fmtList(stds) + " instead of about 0 and 1; mean=" + fmtList(fitMean) +
                             ", std=" + fmtList(fitStd) + " would fit this dataset (" +
                             std::to_string(g.count) + " samples).";
            g.firstDetail = {{"mean", means}, {"std", stds}, {"suggested_mean", fitMean},
                             {"suggested_std", fitStd}, {"samples", g.count}};
        }
    }

    // repeated_augmentation, within an epoch: one parameter set drawn by
    // most samples of a random stage.
    for (size_t j = 0; j < d->draws.size(); ++j) {
        auto v = d->draws[j];
        if (v.size() < 8) continue;
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
        if (double(best) > d->settings.repeatedShare * double(v.size())) {
            const std::string stage = d->info[j].name;
            for (size_t i = bestStart; i < bestStart + best; ++i)
                addTo("repeated_augmentation", stage, size_t(v[i].index), d->pathOf(size_t(v[i].index)),
                      json::object(), "");
            Group& g = groups[{"repeated_augmentation", stage}];
            g.firstMessage = stage + " drew identical random parameters for " + std::to_string(best) +
                             " of " + std::to_string(v.size()) +
                             " different samples: its random generator is not seeded per sample.";
        }
    }
    // ... and across epochs: the same draws for a sample in every epoch.
    {
        auto v = d->epochDraws;
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
        if (samplesMulti >= 4 && double(repeated.size()) > d->settings.repeatedShare * double(samplesMulti)) {
            for (size_t idx : repeated)
                addTo("repeated_augmentation", "loader", idx, d->pathOf(idx), json::object(), "");
            Group& g = groups[{"repeated_augmentation", "loader"}];
            g.firstMessage = std::to_string(repeated.size()) + " of " + std::to_string(samplesMulti) +
                             " samples drew the same random parameters in every epoch: the epoch does not "
                             "reach the random generator.";
        }
    }

    std::vector<Finding> out;
    for (auto& [key, g] : groups) {
        Finding f;
        f.kind = g.kind;
        f.severity = severityOf(g.kind);
        f.stage = g.stage;
        f.count = g.count;
        f.samples = g.samples;
        f.moreSamples = d->moreSamplesOf(g);
        f.message = messageFor(g);
        json ev = json::object();
        if (g.obsLo <= g.obsHi) ev["observed_range"] = rangeJson(g.obsLo, g.obsHi);
        if (!std::isnan(g.expLo)) ev["expected_range"] = rangeJson(g.expLo, g.expHi);
        if (!g.tally.empty() && g.kind != "exact_duplicate" && g.kind != "conflicting_duplicate") {
            json t = json::object();
            for (const auto& [k, n] : g.tally) t[k] = n;
            ev["counts"] = t;
        }
        if (g.kind == "exact_duplicate" || g.kind == "conflicting_duplicate") ev["groups"] = g.tally.size();
        if (g.firstDetail.is_object())
            for (auto it = g.firstDetail.begin(); it != g.firstDetail.end(); ++it)
                if (it.key() != "tally" && !ev.contains(it.key())) ev[it.key()] = it.value();
        f.evidence = ev;
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
    std::lock_guard<std::mutex> lock(d->mutex);
    json stages = json::array();
    for (size_t k = 0; k < d->accum.size(); ++k) {
        const StageAccum& a = d->accum[k];
        json s = {{"stage", k}, {"name", stageName(k)}, {"samples", a.stats.samples()}};
        if (k > 0) s["op"] = d->info[k - 1].op;
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
    for (const auto& [name, n] : part.classCounts) {
        auto it = std::find_if(d->classCounts.begin(), d->classCounts.end(),
                               [&](const auto& c) { return c.first == name; });
        if (it == d->classCounts.end())
            d->classCounts.emplace_back(name, n);
        else
            it->second += n;
    }
    for (const auto& [index, path] : part.paths) d->knownPaths[index] = path;
}

}  // namespace bs
