#include "core/audit/partial.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include "core/audit/engine_state.h"
#include "core/dataset/webdataset.h"

namespace bs {

using json = nlohmann::json;

namespace {

constexpr int kPartialVersion = 1;

long long wholeNumber(const std::string& text, const std::string& what) {
    try {
        size_t used = 0;
        const long long v = std::stoll(text, &used);
        if (used == text.size() && v >= 0) return v;
    } catch (...) {
    }
    throw Error(what + " must be a whole number >= 0, got '" + text + "'");
}

ShardSpec checked(long long part, long long parts, const std::string& source) {
    if (parts < 1) throw Error(source + ": the number of parts must be at least 1");
    if (part >= parts)
        throw Error(source + ": part " + std::to_string(part) +
                    " is not below the number of parts " + std::to_string(parts) +
                    " (parts count from 0)");
    return {size_t(part), size_t(parts), source};
}

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

// Sample paths relative to the root, so machines mounting the data at
// different places still agree.
std::string relativeTo(const std::string& path, const std::string& root) {
    return path.rfind(root + "/", 0) == 0 ? path.substr(root.size() + 1) : path;
}

json number(double v) {
    return std::isfinite(v) ? json(v) : json();
}
double numberOr(const json& j, double fallback) {
    return j.is_number() ? j.get<double>() : fallback;
}

}  // namespace

ShardSpec parseShardSpec(const std::string& value, long long numShards,
                         const std::function<const char*(const char*)>& env) {
    if (!value.empty()) {
        const size_t slash = value.find('/');
        if (slash == std::string::npos)
            throw Error("--shard expects I/N (e.g. 0/4), got '" + value + "'");
        return checked(wholeNumber(value.substr(0, slash), "--shard I"),
                       wholeNumber(value.substr(slash + 1), "--shard N"), "--shard");
    }
    if (const char* id = env("SLURM_ARRAY_TASK_ID")) {
        const long long i = wholeNumber(id, "SLURM_ARRAY_TASK_ID");
        if (const char* count = env("SLURM_ARRAY_TASK_COUNT")) {
            const long long lo =
                env("SLURM_ARRAY_TASK_MIN")
                    ? wholeNumber(env("SLURM_ARRAY_TASK_MIN"), "SLURM_ARRAY_TASK_MIN")
                    : 0;
            return checked(i - lo, wholeNumber(count, "SLURM_ARRAY_TASK_COUNT"),
                           "SLURM_ARRAY_TASK_ID");
        }
        const char* mn = env("SLURM_ARRAY_TASK_MIN");
        const char* mx = env("SLURM_ARRAY_TASK_MAX");
        if (!mn || !mx)
            throw Error(
                "SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor _MIN/_MAX");
        const long long lo = wholeNumber(mn, "SLURM_ARRAY_TASK_MIN"),
                        hi = wholeNumber(mx, "SLURM_ARRAY_TASK_MAX");
        return checked(i - lo, hi - lo + 1, "SLURM_ARRAY_TASK_ID");
    }
    if (const char* idx = env("JOB_COMPLETION_INDEX")) {
        if (numShards < 1)
            throw Error(
                "JOB_COMPLETION_INDEX is set: give the Job's completions as --num-shards N");
        return checked(wholeNumber(idx, "JOB_COMPLETION_INDEX"), numShards, "JOB_COMPLETION_INDEX");
    }
    const char* rank = env("RANK");
    const char* world = env("WORLD_SIZE");
    if (rank && world)
        return checked(wholeNumber(rank, "RANK"), wholeNumber(world, "WORLD_SIZE"), "RANK");
    throw Error(
        "--shard without I/N needs SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or RANK/WORLD_SIZE in "
        "the environment");
}

DatasetPart::DatasetPart(std::shared_ptr<const Dataset> base, const ShardSpec& spec, size_t limit)
    : base_(std::move(base)), spec_(spec) {
    const size_t n = limit ? std::min(limit, base_->size()) : base_->size();
    size_t shards = 0;
    const bool sharded = n > 0 && webDatasetShardOf(*base_, 0, &shards) != size_t(-1);
    assignment_ = sharded ? "shards" : "path_hash";
    const std::string root = base_->root();
    for (size_t i = 0; i < n; ++i) {
        const uint64_t key =
            sharded ? webDatasetShardOf(*base_, i) : fnv1a(relativeTo(base_->path(i), root));
        if (key % spec_.parts == spec_.part) indices_.push_back(i);
    }
    if (sharded)
        for (size_t s = spec_.part; s < shards; s += spec_.parts) ++shardsInPart_;
    // Issues: those of the part's shards; for other datasets part 0 has them.
    for (const auto& issue : base_->issues()) {
        size_t owner = 0;  // an issue of no known shard (one that cannot be opened)
        for (size_t s = 0; sharded && s < shards; ++s) {
            const std::string shard = webDatasetShardPath(*base_, s);
            if (issue.path == shard || issue.path.rfind(shard + ":", 0) == 0) owner = s;
        }
        if (owner % spec_.parts == spec_.part) issues_.push_back(issue);
    }
}

size_t DatasetPart::global(size_t i) const {
    if (i >= indices_.size()) throw Error("sample index " + std::to_string(i) + " out of range");
    return indices_[i];
}

namespace {

// ---- engine state <-> JSON (indices mapped to the whole dataset) ----------

json channelJson(const ChannelStats& c) {
    // Sums, not means: a merge adds them (the M2 term by Chan's rule).
    return {{"count", c.count},
            {"nan", c.nan},
            {"pos_inf", c.posInf},
            {"neg_inf", c.negInf},
            {"min", c.min},
            {"max", c.max},
            {"sum", c.mean * double(c.count)},
            {"m2", c.m2}};
}

ChannelStats channelFrom(const json& j) {
    ChannelStats c;
    c.count = j.at("count").get<int64_t>();
    c.nan = j.at("nan").get<int64_t>();
    c.posInf = j.at("pos_inf").get<int64_t>();
    c.negInf = j.at("neg_inf").get<int64_t>();
    c.min = j.at("min").get<double>();
    c.max = j.at("max").get<double>();
    c.mean = c.count ? j.at("sum").get<double>() / double(c.count) : 0.0;
    c.m2 = j.at("m2").get<double>();
    return c;
}

json histogramJson(const Histogram& h) {
    return {{"lo", h.lo}, {"hi", h.hi}, {"bins", h.bins}, {"below", h.below}, {"above", h.above}};
}

Histogram histogramFrom(const json& j) {
    Histogram h = makeHistogram(j.at("lo").get<double>(), j.at("hi").get<double>());
    const auto bins = j.at("bins").get<std::vector<uint64_t>>();
    if (bins.size() != size_t(Histogram::kBins))
        throw Error("histogram with a wrong number of bins");
    std::copy(bins.begin(), bins.end(), h.bins.begin());
    h.below = j.at("below").get<uint64_t>();
    h.above = j.at("above").get<uint64_t>();
    return h;
}

json rangeJson(const ValueRange& r) {
    return r.known ? json::array({r.lo, r.hi}) : json();
}
ValueRange rangeFrom(const json& j) {
    return j.is_array() ? ValueRange::of(j.at(0).get<double>(), j.at(1).get<double>())
                        : ValueRange::unknown();
}

json groupJson(const EngineGroupState& g, const DatasetPart& part) {
    json listed = json::array();
    for (const auto& s : g.samples) {
        json e = {{"index", s.index == size_t(-1) ? json() : json(part.global(s.index))},
                  {"path", s.path}};
        if (!s.detail.is_null()) e["detail"] = s.detail;
        listed.push_back(e);
    }
    json all = json::array();
    for (uint64_t i : g.indices) all.push_back(part.global(size_t(i)));
    json tally = json::object();
    for (const auto& [k, n] : g.tally) tally[k] = n;
    return {{"kind", g.kind},
            {"stage", g.stage},
            {"count", g.count},
            {"observed", {number(g.obsLo), number(g.obsHi)}},
            {"expected", {number(g.expLo), number(g.expHi)}},
            {"first_detail", g.firstDetail},
            {"first_message", g.firstMessage},
            {"first_path", g.firstPath},
            {"tally", tally},
            {"samples", listed},
            {"indices", all}};
}

EngineGroupState groupFrom(const json& j) {
    EngineGroupState g;
    g.kind = j.at("kind").get<std::string>();
    g.stage = j.at("stage").get<std::string>();
    g.count = j.at("count").get<size_t>();
    g.obsLo = numberOr(j.at("observed").at(0), INFINITY);
    g.obsHi = numberOr(j.at("observed").at(1), -INFINITY);
    g.expLo = numberOr(j.at("expected").at(0), NAN);
    g.expHi = numberOr(j.at("expected").at(1), NAN);
    g.firstDetail = j.at("first_detail");
    g.firstMessage = j.at("first_message").get<std::string>();
    g.firstPath = j.at("first_path").get<std::string>();
    for (auto it = j.at("tally").begin(); it != j.at("tally").end(); ++it)
        g.tally[it.key()] = it.value().get<size_t>();
    for (const auto& s : j.at("samples"))
        g.samples.push_back({s.at("index").is_null() ? size_t(-1) : s.at("index").get<size_t>(),
                             s.at("path").get<std::string>(), s.value("detail", json())});
    g.indices = j.at("indices").get<std::vector<uint64_t>>();
    return g;
}

json drawsJson(const std::vector<EngineDrawState>& v, const DatasetPart& part) {
    json out = json::array();
    for (const auto& e : v) out.push_back({part.global(size_t(e.index)), e.epoch, e.hash});
    return out;
}

std::vector<EngineDrawState> drawsFrom(const json& j) {
    std::vector<EngineDrawState> v;
    for (const auto& e : j)
        v.push_back({e.at(0).get<uint64_t>(), e.at(1).get<int64_t>(), e.at(2).get<uint64_t>()});
    return v;
}

json stateJson(const AuditEngineState& st, const DatasetPart& part) {
    json groups = json::array(), hashes = json::array(), stages = json::array(),
         draws = json::array();
    for (const auto& g : st.groups) groups.push_back(groupJson(g, part));
    for (const auto& h : st.hashes)
        hashes.push_back({h.hash, part.global(size_t(h.index)), h.label});
    for (const auto& s : st.stages) {
        json ch = json::array(), hist = json::array(), exp = json::array();
        for (const auto& c : s.channels) ch.push_back(channelJson(c));
        for (const auto& h : s.histograms) hist.push_back(histogramJson(h));
        for (const auto& r : s.expected) exp.push_back(rangeJson(r));
        stages.push_back({{"samples", s.samples},
                          {"channels", ch},
                          {"histograms", hist},
                          {"expected", exp},
                          {"ranges_set", s.rangesSet}});
    }
    for (const auto& v : st.draws) draws.push_back(drawsJson(v, part));
    json classes = json::array();
    for (const auto& [name, n] : st.classCounts) classes.push_back({name, n});
    json paths = json::array();
    for (size_t i = 0; i < part.size(); ++i) paths.push_back(part.path(i));
    return {{"samples", st.samples},
            {"class_counts", classes},
            {"groups", groups},
            {"hashes", hashes},
            {"stages", stages},
            {"draws", draws},
            {"epoch_draws", drawsJson(st.epochDraws, part)},
            {"indices", part.globalIndices()},
            {"paths", paths}};
}

AuditEngineState stateFrom(const json& j) {
    AuditEngineState st;
    st.samples = j.at("samples").get<size_t>();
    for (const auto& c : j.at("class_counts"))
        st.classCounts.emplace_back(c.at(0).get<std::string>(), c.at(1).get<size_t>());
    for (const auto& g : j.at("groups")) st.groups.push_back(groupFrom(g));
    for (const auto& h : j.at("hashes"))
        st.hashes.push_back(
            {h.at(0).get<uint64_t>(), h.at(1).get<uint64_t>(), h.at(2).get<int64_t>()});
    for (const auto& s : j.at("stages")) {
        EngineStageState e;
        e.samples = s.at("samples").get<int64_t>();
        for (const auto& c : s.at("channels")) e.channels.push_back(channelFrom(c));
        for (const auto& h : s.at("histograms")) e.histograms.push_back(histogramFrom(h));
        for (const auto& r : s.at("expected")) e.expected.push_back(rangeFrom(r));
        e.rangesSet = s.at("ranges_set").get<bool>();
        st.stages.push_back(std::move(e));
    }
    for (const auto& v : j.at("draws")) st.draws.push_back(drawsFrom(v));
    st.epochDraws = drawsFrom(j.at("epoch_draws"));
    const auto indices = j.at("indices").get<std::vector<uint64_t>>();
    const auto& paths = j.at("paths");
    if (paths.size() != indices.size()) throw Error("indices and paths differ in length");
    for (size_t i = 0; i < indices.size(); ++i) st.paths[indices[i]] = paths[i].get<std::string>();
    return st;
}

}  // namespace

json buildPartialReport(const AuditEngine& engine, const DatasetPart& part,
                        const ReportContext& context) {
    ReportContext whole = context;
    whole.dataset = &part.base();
    json report = buildReport(engine, whole);
    // The part's own findings are numbered within the part: only the state,
    // which is numbered within the whole dataset, is kept.
    report.erase("findings");
    report.erase("stats");
    report.erase("summary");
    report["partial"] = {{"version", kPartialVersion},      {"part", part.spec().part},
                         {"parts", part.spec().parts},      {"source", part.spec().source},
                         {"assignment", part.assignment()}, {"samples", part.size()},
                         {"shards", part.shardsInPart()}};
    report["partial_state"] = stateJson(engine.exportState(), part);
    return report;
}

namespace {

// What must be equal in every part, with a word for the message.
const std::vector<std::pair<const char*, const char*>>& sameEverywhere() {
    static const std::vector<std::pair<const char*, const char*>> keys = {{"dataset", "dataset"},
                                                                          {"pipeline", "pipeline"},
                                                                          {"settings", "settings"},
                                                                          {"options", "options"}};
    return keys;
}

// Worker threads may differ from machine to machine; nothing else may.
json comparable(const json& part, const char* key) {
    json v = part.value(key, json());
    if (std::string(key) == "options" && v.is_object()) v.erase("workers");
    return v;
}

void checkParts(const std::vector<PartialPart>& parts, const std::vector<std::string>& names) {
    if (parts.empty()) throw Error("no partial reports given");
    auto header = [&](size_t i) -> const json& { return parts[i].header; };
    const size_t n = header(0)["partial"].value("parts", size_t(0));
    for (size_t i = 1; i < parts.size(); ++i) {
        for (const auto& [key, word] : sameEverywhere())
            if (comparable(header(i), key) != comparable(header(0), key))
                throw Error(
                    names[i] + ": a different " + std::string(word) + " than " + names[0] +
                    " (parts of one audit must share dataset, pipeline, settings and options)");
        const json& mine = header(i)["partial"];
        const json& theirs = header(0)["partial"];
        if (mine.value("parts", size_t(0)) != n)
            throw Error(names[i] + ": part of " + mine["parts"].dump() + " parts, " + names[0] +
                        " of " + std::to_string(n));
        if (mine.value("assignment", "") != theirs.value("assignment", ""))
            throw Error(names[i] + ": assigned by " + mine.value("assignment", "") + ", " +
                        names[0] + " by " + theirs.value("assignment", ""));
    }
    std::vector<std::string> seen(n);
    std::string repeated;
    for (size_t i = 0; i < parts.size(); ++i) {
        const size_t p = header(i)["partial"].value("part", size_t(-1));
        if (p >= n) throw Error(names[i] + ": part number out of range");
        if (!seen[p].empty())
            throw Error("part " + std::to_string(p) + " given twice: " + seen[p] + " and " +
                        names[i]);
        seen[p] = names[i];
    }
    std::string missing;
    size_t nMissing = 0;
    for (size_t p = 0; p < n; ++p)
        if (seen[p].empty() && nMissing++ < 10)
            missing += (missing.empty() ? "" : ", ") + std::to_string(p);
    if (nMissing)
        throw Error(std::to_string(nMissing) + " of " + std::to_string(n) +
                    " parts missing: " + missing + (nMissing > 10 ? ", ..." : ""));
}

}  // namespace

PartialPart readPartialPart(json&& report, const std::string& name) {
    if (!report.is_object() || !report.contains("partial") || !report["partial"].is_object() ||
        !report.contains("partial_state"))
        throw Error(name +
                    ": not a partial report (written by `batchscope audit --shard I/N --report`)");
    if (report["partial"].value("version", 0) != kPartialVersion)
        throw Error(name + ": partial report version " +
                    report["partial"].value("version", json()).dump() + " is not the version " +
                    std::to_string(kPartialVersion) + " this batchscope reads");
    PartialPart part;
    try {
        part.state = stateFrom(report.at("partial_state"));
    } catch (const std::exception& e) {
        throw Error(name + ": damaged partial report (" + e.what() + ")");
    }
    report.erase("partial_state");  // the bulk of the file, now decoded
    part.header = std::move(report);
    return part;
}

json mergePartialReports(std::vector<PartialPart> parts, const std::vector<std::string>& names) {
    checkParts(parts, names);
    // Part 0 first: where a part's first sample decided something (histogram
    // ranges), the part holding the dataset's first samples decides.
    std::vector<size_t> order(parts.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto partNumber = [&](size_t i) { return parts[i].header["partial"]["part"].get<size_t>(); };
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return partNumber(a) < partNumber(b); });
    const json first = parts[order[0]].header;
    Pipeline pipeline;
    AuditSettings settings;
    try {
        pipeline = Pipeline::fromJson(first.at("pipeline").at("stages"));
        settings.applyJson(first.at("settings"));
    } catch (const std::exception& e) {
        throw Error(names[order[0]] + ": its pipeline or settings cannot be rebuilt (" + e.what() +
                    ")");
    }
    AuditEngine engine(pipeline, settings);
    json run = {{"cancelled", false}, {"scanned", 0}, {"total", 0}, {"seconds", 0.0}};
    for (size_t i : order) {
        try {
            engine.mergeState(parts[i].state);
        } catch (const std::exception& e) {
            throw Error(names[i] + ": damaged partial report (" + e.what() + ")");
        }
        parts[i].state = AuditEngineState();  // merged: its memory is not needed twice
        const json r = parts[i].header.value("run", json::object());
        run["cancelled"] = run["cancelled"].get<bool>() || r.value("cancelled", false);
        run["scanned"] = run["scanned"].get<size_t>() + r.value("scanned", size_t(0));
        run["total"] = run["total"].get<size_t>() + r.value("total", size_t(0));
        // Parts run side by side: the longest is the wall time.
        run["seconds"] = std::max(run["seconds"].get<double>(), r.value("seconds", 0.0));
    }
    engine.finish();
    json report = json::object();
    for (const char* key : {"tool", "dataset", "pipeline", "options", "settings"})
        if (first.contains(key)) report[key] = first[key];
    report["run"] = run;
    report["merged"] = {{"parts", parts.size()}, {"assignment", first["partial"]["assignment"]}};
    const json body = engine.toJson();
    report["stats"] = body["stats"];
    report["findings"] = body["findings"];
    report["summary"] = body["summary"];
    return report;
}

void writeFindingsCsv(const json& report, const std::string& path) {
    auto field = [](const std::string& s) {
        if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
        std::string q = "\"";
        for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
        return q + "\"";
    };
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw Error("cannot write " + path);
        out << "path,index,kind,severity,stage\n";
        for (const auto& f : report.value("findings", json::array()))
            for (const auto& s : f.value("samples", json::array()))
                out << field(s.value("path", std::string())) << ","
                    << (s.contains("index") ? std::to_string(s["index"].get<size_t>())
                                            : std::string())
                    << "," << field(f.value("kind", std::string())) << ","
                    << field(f.value("severity", std::string())) << ","
                    << field(f.value("stage", std::string())) << "\n";
        if (!out) throw Error("cannot write " + path);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Error("cannot write " + path);
    }
}

}  // namespace bs
