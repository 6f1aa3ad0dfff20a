// `batchscope audit`: scan a dataset through a pipeline, report anomalies,
// exit non-zero when something reaches --fail-on (a CI gate).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "audit_export.h"
#include "cli.h"
#include "core/audit/anomaly.h"
#include "core/audit/audit.h"
#include "core/dataset/dataset.h"
#include "core/pipeline/pipeline.h"
#include "core/audit/report.h"

namespace bs::cli {

namespace {

const char* kAuditHelp = R"(Usage: batchscope audit PATH [options]

Runs every sample of the dataset at PATH through the pipeline (batched, with
worker threads), checks files, decoded pixels, every pipeline stage's value
range, batches and the loader itself, and reports what is wrong and which
stage caused it. Stages are named "<k>:<Op>", k counting transforms from 1
(the same K as `batchscope dump --stage K`); other stages are "file",
"decode", "collate", "dataset" and "loader".

Options:
  --pipeline FILE     pipeline as JSON or torchvision's printed Compose text
                      (default: [ToTensor] for image datasets, none for
                      tensor dumps)
  --batch-size N      batch size (default 64)
  --workers N         worker threads (default: number of CPU cores)
  --seed S            random seed (default 0)
  --epochs E          epochs to draw random transforms for (default 1; more
                      epochs check that augmentations vary)
  --limit N           only scan the first N samples
  --report OUT.json   write the full report as JSON
  --screenshots DIR   write a PNG per finding sample, index.html (gallery)
                      and report.json into DIR (no display needed)
  --html OUT.html     write one self-contained HTML report (images embedded)
  --shots-per-finding N  screenshots of the first N samples of each grouped
                      finding (default 3)
  --overwrite         replace existing export files (refused otherwise)
  --fail-on LEVEL     error (default), warning or never: exit 1 when a
                      finding of that severity or worse exists
  --settings FILE     JSON object of thresholds (keys below)
  --list OUT.csv      one row per affected sample: path,index,kind,severity,stage
  --shard I/N         audit part I of N (from 0) and write a partial report
                      for `batchscope merge` to --report (exit 0 whatever
                      was found). Without I/N: SLURM_ARRAY_TASK_ID/_COUNT,
                      JOB_COMPLETION_INDEX with --num-shards N, or
                      RANK/WORLD_SIZE. WebDataset shards are assigned whole.
  --quiet             no progress on stderr
  --<threshold> X     override one threshold, e.g. --extreme-margin 0.1
)";

const char* kAuditExitHelp = R"(
Exit status: 0 nothing reached --fail-on, 1 something did, 2 the dataset,
pipeline or settings could not be opened (reason on stderr). Ctrl-C stops
the scan and still writes the report of what was scanned (exit status 130).
)";

std::atomic<bool> gInterrupted{false};

extern "C" void onSigint(int) {
    if (gInterrupted.load()) {
        std::signal(SIGINT, SIG_DFL);
        std::raise(SIGINT);
        return;
    }
    gInterrupted.store(true);
}

std::string hms(double s) {
    if (!(s >= 0) || s > 1e7) return "--:--";
    const long t = long(s + 0.5);
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
    return buf;
}

class ProgressPrinter {
public:
    explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(2) == 1) {}
    void operator()(const AuditProgress& p) {
        if (quiet_) return;
        const double rate = p.seconds > 0 ? double(p.done) / p.seconds : 0;
        const double eta = rate > 0 ? double(p.total - std::min(p.total, p.done)) / rate : -1;
        const double frac = p.total ? double(p.done) / double(p.total) : 1.0;
        if (tty_) {
            const int width = 30;
            const int filled = int(frac * width);
            std::string bar(size_t(filled), '#');
            bar.resize(size_t(width), '.');
            std::fprintf(stderr, "\r[%s] %3d%% %zu/%zu  %.1f samples/s  ETA %s  %-12s", bar.c_str(),
                         int(frac * 100), p.done, p.total, rate, hms(eta).c_str(), p.phase);
            std::fflush(stderr);
            dirty_ = true;
            return;
        }
        // Plain lines: every 10% or 5 seconds, whichever comes first.
        const int decile = int(frac * 10);
        if (decile > lastDecile_ || p.seconds - lastTime_ >= 5 || p.done == p.total) {
            if (p.done == lastDone_ && p.done != 0) return;
            lastDecile_ = decile;
            lastTime_ = p.seconds;
            lastDone_ = p.done;
            std::fprintf(stderr, "audit: %zu/%zu samples (%d%%), %.1f samples/s, ETA %s\n", p.done, p.total,
                         int(frac * 100), rate, hms(eta).c_str());
        }
    }
    void end() {
        if (dirty_) std::fputc('\n', stderr);
        dirty_ = false;
    }

private:
    bool quiet_, tty_;
    bool dirty_ = false;
    int lastDecile_ = -1;
    double lastTime_ = 0;
    size_t lastDone_ = size_t(-1);
};

// The partial report of `--shard`: the merge judges; exit 0 so that a
// scheduler's "after success" dependency starts the merge.
int writePartial(const AuditEngine& engine, const DatasetPart& part, ReportContext ctx,
                 const std::string& out, bool cancelled) {
    try {
        writeJsonFile(out, buildPartialReport(engine, part, ctx));
    } catch (const std::exception& e) {
        return fail("audit", e.what());
    }
    std::printf("batchscope audit: part %zu of %zu (%s): %zu samples%s -> %s\n", part.spec().part,
                part.spec().parts, part.spec().source.c_str(), part.size(),
                part.assignment() == "shards"
                    ? (", " + std::to_string(part.shardsInPart()) + " shards").c_str()
                    : "",
                out.c_str());
    return cancelled ? 130 : 0;
}

// A settings key as an option name: dashes for underscores.
std::string dashed(std::string name) {
    for (auto& c : name)
        if (c == '_') c = '-';
    return name;
}

// The options audit accepts; settings keys are accepted as options too
// (with dashes or underscores).
std::vector<std::string> auditOptionNames() {
    std::vector<std::string> known =
        withOpenOptions({"pipeline", "batch-size", "workers", "seed", "epochs", "limit", "report",
                         "fail-on", "settings", "quiet", "screenshots", "html", "shots-per-finding",
                         "overwrite", "list", "shard", "num-shards"});
    for (const auto& [name, help] : AuditSettings::describe()) {
        known.push_back(name);
        known.push_back(dashed(name));
    }
    return known;
}

void printAuditHelp() {
    std::fputs(kAuditHelp, stdout);
    printOpenOptionsHelp();
    std::fputs(kAuditExitHelp, stdout);
    std::fputs("\nThresholds (settings file keys; on the command line with dashes):\n", stdout);
    for (const auto& [name, help] : AuditSettings::describe())
        std::printf("  --%-24s %s\n", dashed(name).c_str(), help.c_str());
}

// What the command line asks of the scan, of the judge and of the exit
// status.
struct AuditRequest {
    AuditOptions options;
    AuditSettings settings;
    Severity failOn = Severity::Error;
    bool failNever = false;
};

// Throws Error with the reason when an option is out of range.
AuditRequest readAuditRequest(const Args& args) {
    AuditRequest r;
    AuditOptions& options = r.options;
    options.batchSize = int(args.getInt("batch-size", 64));
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    options.workers = int(args.getInt("workers", cores));
    options.seed = uint64_t(args.getInt("seed", 0));
    options.epochs = int(args.getInt("epochs", 1));
    const long long limit = args.getInt("limit", 0);
    if (limit < 0) throw Error("--limit must be 0 or more");
    options.limit = size_t(limit);
    if (options.batchSize < 1) throw Error("--batch-size must be at least 1");
    if (options.workers < 0) throw Error("--workers must be 0 or more");
    if (options.epochs < 1) throw Error("--epochs must be at least 1");
    const std::string fo = args.get("fail-on", "error");
    if (fo == "never")
        r.failNever = true;
    else if (fo == "error" || fo == "warning")
        r.failOn = parseSeverity(fo);
    else
        throw Error("--fail-on expects error, warning or never, got '" + fo + "'");
    if (args.has("settings")) r.settings = AuditSettings::loadFile(args.get("settings"));
    for (const auto& [name, help] : AuditSettings::describe())
        for (const auto& key : {name, dashed(name)})
            if (args.has(key)) r.settings.set(name, args.get(key));
    return r;
}

AuditExportRequest readExportRequest(const Args& args) {
    AuditExportRequest request;
    request.screenshots = args.get("screenshots");
    request.html = args.get("html");
    request.overwrite = args.has("overwrite");
    request.perFinding = int(args.getInt("shots-per-finding", 3));
    if (request.perFinding < 0) throw Error("--shots-per-finding must be 0 or more");
    return request;
}

// --pipeline, or the default one (noted in the report and on stderr).
Pipeline auditPipeline(const Args& args, const Dataset& dataset, ReportContext& ctx) {
    if (args.has("pipeline")) return Pipeline::loadFile(args.get("pipeline"));
    ctx.defaultPipeline = true;
    Pipeline pipeline;
    if (dataset.hasRaw()) {
        pipeline = Pipeline::fromJson(nlohmann::json::array({{{"op", "ToTensor"}}}));
        ctx.pipelineNote = "no --pipeline given: using [ToTensor]";
    } else {
        ctx.pipelineNote = "no --pipeline given: the stored tensors are audited as they are";
    }
    std::fprintf(stderr, "batchscope audit: %s\n", ctx.pipelineNote.c_str());
    return pipeline;
}

// The scan, with progress on stderr; Ctrl-C asks it to stop, and what was
// scanned until then is still reported.
AuditRun scanWithProgress(std::shared_ptr<const Dataset> data, const Pipeline& pipeline,
                          const AuditOptions& options, AuditEngine& engine, bool quiet) {
    ProgressPrinter printer(quiet);
    gInterrupted.store(false);
    auto previous = std::signal(SIGINT, onSigint);
    AuditRun run;
    try {
        run = bs::runAudit(
            std::move(data), pipeline, options, engine, [&](const AuditProgress& p) { printer(p); },
            &gInterrupted);
    } catch (...) {
        std::signal(SIGINT, previous);
        printer.end();
        throw;
    }
    std::signal(SIGINT, previous);
    printer.end();
    if (run.cancelled)
        std::fprintf(
            stderr,
            "batchscope audit: interrupted after %zu of %zu samples; reporting what was scanned\n",
            run.scanned, run.total);
    return run;
}

// --report and --list of a finished audit; throws Error when one cannot be
// written.
void writeReportFiles(const Args& args, const nlohmann::json& report) {
    if (args.has("report")) writeJsonFile(args.get("report"), report);
    if (args.has("list")) writeFindingsCsv(report, args.get("list"));
}

int exitStatus(const AuditRequest& request, const AuditRun& run, const nlohmann::json& report) {
    if (run.cancelled) return 130;
    if (request.failNever) return 0;
    return worstSeverity(report) >= int(request.failOn) ? 1 : 0;
}

}  // namespace

int runAudit(const std::vector<std::string>& argv, int argc, char** argvFull) {
    std::unique_ptr<Args> parsed;
    try {
        parsed = std::make_unique<Args>(shardArgsNormalised(argv),
                                        std::vector<std::string>{"quiet", "help", "overwrite"});
    } catch (const std::exception& e) {
        return fail("audit", e.what());
    }
    const Args& args = *parsed;
    if (args.has("help")) {
        printAuditHelp();
        return 0;
    }
    if (auto bad = args.unknown(auditOptionNames()); !bad.empty())
        return fail("audit", "unknown option " + bad.front() + " (see batchscope audit --help)");
    if (args.positional().size() != 1)
        return fail("audit", "expected exactly one dataset PATH (see batchscope audit --help)");

    AuditRequest request;
    AuditExportRequest exportRequest;
    try {
        request = readAuditRequest(args);
        exportRequest = readExportRequest(args);
    } catch (const std::exception& e) {
        return fail("audit", e.what());
    }
    // Refuse before a long scan when the export would clobber files.
    if (auto conflict = exportConflict(exportRequest); !conflict.empty())
        return fail("audit", conflict);
    const bool sharded = args.has("shard");
    if (sharded && (!args.has("report") || exportRequest.any()))
        return fail(
            "audit",
            "--shard writes a partial report: give --report PART.json (and export with merge)");

    AuditOptions& options = request.options;
    const size_t requestedLimit = options.limit;
    std::shared_ptr<const Dataset> dataset;
    std::shared_ptr<const DatasetPart> part;
    Pipeline pipeline;
    ReportContext ctx;
    AuditRun run;
    try {
        dataset = openDataset(args.positional().front(), openOptionsFrom(args));
        if (sharded) {
            part = std::make_shared<DatasetPart>(dataset, shardSpecFrom(args), options.limit);
            options.limit = 0;  // applied by the part; the report keeps the one asked for
        }
        pipeline = auditPipeline(args, *dataset, ctx);
        AuditEngine engine(pipeline, request.settings);
        run = scanWithProgress(part ? part : dataset, pipeline, options, engine, args.has("quiet"));
        ctx.dataset = dataset.get();
        ctx.pipeline = &pipeline;
        ctx.options = options;
        ctx.run = run;
        ctx.options.limit = requestedLimit;
        if (part) return writePartial(engine, *part, ctx, args.get("report"), run.cancelled);
        const nlohmann::json report = buildReport(engine, ctx);
        std::fputs(humanSummary(report).c_str(), stdout);
        std::fflush(stdout);
        writeReportFiles(args, report);
        if (exportRequest.any())
            if (int status =
                    writeAuditExports(exportRequest, *dataset, pipeline, report, argc, argvFull))
                return status;
        return exitStatus(request, run, report);
    } catch (const std::exception& e) {
        return fail("audit", e.what());
    }
}

}  // namespace bs::cli
