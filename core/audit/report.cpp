#include "core/audit/report.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace bs {

using json = nlohmann::json;

json buildReport(const AuditEngine& engine, const ReportContext& ctx) {
    json report = json::object();
    report["tool"] = {{"name", "batchscope"}, {"version", BATCHSCOPE_VERSION}};
    if (ctx.dataset) {
        const Dataset& d = *ctx.dataset;
        report["dataset"] = {{"path", d.root()},
                             {"format", formatName(d.format())},
                             {"samples", d.size()},
                             {"classes", d.classes()},
                             {"has_raw", d.hasRaw()}};
        const OpenOptions again = d.reopenOptions();
        if (!again.split.empty()) report["dataset"]["split"] = again.split;
        if (!again.cifar100Labels.empty())
            report["dataset"]["cifar100_labels"] = again.cifar100Labels;
    }
    if (ctx.pipeline) {
        json p = {{"stages", ctx.pipeline->toJson()},
                  {"repr", ctx.pipeline->repr()},
                  {"default", ctx.defaultPipeline},
                  {"stage_numbering", "k = number of transforms applied, from 1; 0 = decoded input"}};
        if (!ctx.pipelineNote.empty()) p["note"] = ctx.pipelineNote;
        report["pipeline"] = p;
    }
    report["options"] = {{"batch_size", ctx.options.batchSize},
                         {"workers", ctx.options.workers},
                         {"seed", ctx.options.seed},
                         {"epochs", ctx.options.epochs},
                         {"limit", ctx.options.limit}};
    report["settings"] = engine.settings().toJson();
    report["run"] = ctx.run.toJson();
    const json body = engine.toJson();
    report["stats"] = body["stats"];
    report["findings"] = body["findings"];
    report["summary"] = body["summary"];
    return report;
}

OpenOptions reportOpenOptions(const json& report) {
    OpenOptions o;
    const json d = report.value("dataset", json::object());
    if (d.contains("split") && d["split"].is_string()) o.split = d["split"];
    if (d.contains("cifar100_labels") && d["cifar100_labels"].is_string())
        o.cifar100Labels = d["cifar100_labels"];
    return o;
}

int worstSeverity(const json& report) {
    int worst = -1;
    if (!report.contains("findings")) return worst;
    for (const auto& f : report["findings"]) {
        try {
            worst = std::max(worst, int(parseSeverity(f.value("severity", "info"))));
        } catch (...) {
        }
    }
    return worst;
}

std::string humanSummary(const json& report, size_t top) {
    std::ostringstream out;
    const json& s = report.value("summary", json::object());
    const json& sev = s.value("by_severity", json::object());
    const json& ds = report.value("dataset", json::object());
    const json& run = report.value("run", json::object());
    out << "batchscope audit: " << ds.value("path", std::string("?")) << " ("
        << ds.value("format", std::string("?")) << ", " << run.value("scanned", 0) << " of "
        << ds.value("samples", 0) << " samples scanned";
    if (run.value("cancelled", false)) out << ", INTERRUPTED";
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", run.value("seconds", 0.0));
    out << " in " << secs << " s)\n";
    if (report.contains("pipeline") && report["pipeline"].contains("note"))
        out << "note: " << report["pipeline"]["note"].get<std::string>() << "\n";
    out << sev.value("error", 0) << " error, " << sev.value("warning", 0) << " warning, "
        << sev.value("info", 0) << " info finding(s)\n";
    const json& findings = report.value("findings", json::array());
    size_t shown = 0;
    for (const auto& f : findings) {
        if (shown++ >= top) break;
        std::string sevName = f.value("severity", std::string());
        for (auto& ch : sevName) ch = char(std::toupper(static_cast<unsigned char>(ch)));
        out << "  " << sevName << " " << f.value("kind", std::string()) << " [" << f.value("stage", std::string())
            << "] x" << f.value("count", 0) << ": " << f.value("message", std::string()) << "\n";
        const json& samples = f.value("samples", json::array());
        if (!samples.empty() && samples[0].contains("path") && !samples[0]["path"].get<std::string>().empty())
        {
            out << "      e.g. ";
            if (samples[0].contains("index")) out << "#" << samples[0]["index"].get<size_t>() << " ";
            out << samples[0]["path"].get<std::string>() << "\n";
        }
    }
    if (findings.size() > top) out << "  ... and " << findings.size() - top << " more finding(s) in the report\n";
    if (findings.empty()) out << "  no findings\n";
    return out.str();
}

void writeJsonFile(const std::string& path, const json& j) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        if (!f) throw Error("cannot write " + path);
        f << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
        if (!f) throw Error("cannot write " + path);
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw Error("cannot write " + path);
    }
}

}  // namespace bs
