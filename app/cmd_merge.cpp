// `batchscope merge PART.json... --report OUT.json`: the report of one audit
// from the partial reports of `batchscope audit --shard I/N` (see
// core/audit/partial.h), plus the --shard option handling of `audit`.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "audit_export.h"
#include "cli.h"
#include "core/audit/partial.h"
#include "core/audit/report.h"
#include "core/common/fileio.h"

namespace bs::cli {

namespace {

const char* kMergeHelp = R"(Usage: batchscope merge PART.json... --report OUT.json [options]

Combines the partial reports written by `batchscope audit --shard I/N
--report PART.json` into the report one audit of the whole dataset writes:
the same findings with every sample, the same statistics (within rounding
of the sums) and duplicates found across parts. Every part of the audit must
be given once; parts of different datasets, pipelines or settings are
refused.

Options:
  --report OUT.json   write the merged report (required)
  --html OUT.html     also write the HTML report (opens the dataset again
                      for the images)
  --list OUT.csv      one row per affected sample: path,index,kind,severity,stage
  --overwrite         replace an existing HTML report
  --fail-on LEVEL     error (default), warning or never: exit 1 when a
                      finding of that severity or worse exists
  --quiet             no summary on stdout

Exit status: 0 nothing reached --fail-on, 1 something did, 2 a part is
missing, repeated, of another audit or unreadable (reason on stderr).
)";

nlohmann::json readPart(const std::string& path) {
    regularFileSize(path);
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    return parseUntrustedJson(text.str(), path);
}

}  // namespace

std::vector<std::string> shardArgsNormalised(const std::vector<std::string>& argv) {
    // `--shard` takes I/N when one follows, otherwise the scheduler's
    // environment decides (`--shard` alone, before PATH or another option).
    static const std::regex partOfN("[0-9]+/[0-9]+");
    std::vector<std::string> out;
    for (size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == "--shard" &&
            !(i + 1 < argv.size() && std::regex_match(argv[i + 1], partOfN))) {
            out.push_back("--shard=");
            continue;
        }
        out.push_back(argv[i]);
    }
    return out;
}

ShardSpec shardSpecFrom(const Args& args) {
    const long long numShards = args.getInt("num-shards", 0);
    return parseShardSpec(args.get("shard"), numShards,
                          [](const char* name) { return std::getenv(name); });
}

int runMerge(const std::vector<std::string>& argv, int argc, char** argvFull) {
    std::unique_ptr<Args> parsed;
    try {
        parsed =
            std::make_unique<Args>(argv, std::vector<std::string>{"quiet", "help", "overwrite"});
    } catch (const std::exception& e) {
        return fail("merge", e.what());
    }
    const Args& args = *parsed;
    if (args.has("help")) {
        std::fputs(kMergeHelp, stdout);
        return 0;
    }
    if (auto bad = args.unknown({"report", "html", "list", "overwrite", "fail-on", "quiet"});
        !bad.empty())
        return fail("merge", "unknown option " + bad.front() + " (see batchscope merge --help)");
    if (!args.has("report")) return fail("merge", "--report OUT.json is required");
    if (args.positional().empty()) return fail("merge", "no partial reports given");
    const std::string failOn = args.get("fail-on", "error");
    if (failOn != "error" && failOn != "warning" && failOn != "never")
        return fail("merge", "--fail-on expects error, warning or never, got '" + failOn + "'");
    AuditExportRequest exportRequest;
    exportRequest.html = args.get("html");
    exportRequest.overwrite = args.has("overwrite");
    if (auto conflict = exportConflict(exportRequest); !conflict.empty())
        return fail("merge", conflict);

    nlohmann::json report;
    try {
        // One part's JSON at a time: only the decoded states add up.
        std::vector<PartialPart> parts;
        for (const auto& p : args.positional()) parts.push_back(readPartialPart(readPart(p), p));
        report = mergePartialReports(std::move(parts), args.positional());
        writeJsonFile(args.get("report"), report);
        if (args.has("list")) writeFindingsCsv(report, args.get("list"));
    } catch (const std::exception& e) {
        return fail("merge", e.what());
    }
    if (!args.has("quiet")) std::fputs(humanSummary(report).c_str(), stdout);
    if (exportRequest.any()) {
        std::shared_ptr<const Dataset> dataset;
        Pipeline pipeline;
        try {
            dataset = openDataset(report["dataset"]["path"].get<std::string>(),
                                  reportOpenOptions(report));
            pipeline = Pipeline::fromJson(report["pipeline"]["stages"]);
        } catch (const std::exception& e) {
            return fail("merge", std::string("--html needs the dataset: ") + e.what());
        }
        // The pages show samples by index: another set of samples would put
        // the wrong images beside the findings.
        const size_t audited = report["dataset"].value("samples", size_t(0));
        if (dataset->size() != audited)
            return fail("merge", "--html: " + dataset->root() + " now has " +
                                     std::to_string(dataset->size()) + " samples, the audit read " +
                                     std::to_string(audited) + " (it changed since)");
        if (int status =
                writeAuditExports(exportRequest, *dataset, pipeline, report, argc, argvFull))
            return status;
    }
    if (failOn == "never") return 0;
    return worstSeverity(report) >= int(parseSeverity(failOn)) ? 1 : 0;
}

}  // namespace bs::cli
