#include "ui/render/exporter.h"

#include <QBuffer>
#include <QDir>
#include <QFileInfo>
#include <QSaveFile>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <regex>

#include "core/loader/loader.h"
#include "core/audit/report.h"
#include "ui/model/model.h"
#include "ui/render/render.h"
#include "ui/render/sampletargets.h"
#include "ui/render/screenshot.h"

namespace bs::ui {

using nlohmann::json;

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

// Text of a JSON value that may be missing or of another type.
std::string str(const json& j, const char* key, const std::string& fallback = {}) {
    if (!j.is_object()) return fallback;
    auto it = j.find(key);
    if (it == j.end()) return fallback;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_null()) return fallback;
    return it->dump();
}

const json& findingsOf(const json& report) {
    static const json empty = json::array();
    auto it = report.find("findings");
    return it != report.end() && it->is_array() ? *it : empty;
}

const json& samplesOf(const json& finding) {
    static const json empty = json::array();
    auto it = finding.find("samples");
    return it != finding.end() && it->is_array() ? *it : empty;
}

// "3:Normalize" -> 3; other stage names ("file", "decode"...) -> nullopt.
std::optional<size_t> stageNumber(const std::string& stage) {
    static const std::regex re("^([0-9]+):");
    std::smatch m;
    if (!std::regex_search(stage, m, re)) return std::nullopt;
    try {
        return size_t(std::stoul(m[1].str()));
    } catch (...) {
        return std::nullopt;
    }
}

// A [lo, hi] pair of finite numbers with lo < hi.
bool pairRange(const json& j, double& lo, double& hi) {
    if (!j.is_array() || j.size() != 2 || !j[0].is_number() || !j[1].is_number()) return false;
    lo = j[0].get<double>();
    hi = j[1].get<double>();
    return std::isfinite(lo) && std::isfinite(hi) && hi > lo;
}

QString fileSafe(const std::string& s) {
    QString out;
    for (QChar c : qs(s))
        out += (c.isLetterOrNumber() && c.unicode() < 128) || c == '_' || c == '-' ? c : QChar('_');
    return out.left(40);
}

QByteArray pngBytes(const QImage& img) {
    QByteArray bytes;
    QBuffer buf(&bytes);
    buf.open(QIODevice::WriteOnly);
    img.save(&buf, "PNG");
    return bytes;
}

void writeText(const QString& path, const QString& text) {
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(text.toUtf8()) < 0 || !f.commit())
        throw Error("cannot write " + path.toStdString() + ": " + f.errorString().toStdString());
}

QString severityOf(const json& f) { return qs(str(f, "severity", "warning")); }

const char* kCss = R"(
body{font-family:"DejaVu Sans",Arial,sans-serif;background:#18191c;color:#e1e2e6;margin:24px;max-width:1400px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #333;padding-bottom:4px}
h3{font-size:15px;margin:0 0 6px}code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
pre{background:#222327;padding:8px;border-radius:4px;overflow-x:auto}
.meta{color:#9a9ca6;font-size:13px}.meta td{padding:1px 12px 1px 0;vertical-align:top}
.finding{background:#222327;border-radius:6px;padding:12px 14px;margin:12px 0;border-left:5px solid #888}
.finding.error{border-left-color:#ff4a4a}.finding.warning{border-left-color:#f2b33d}.finding.info{border-left-color:#4a8cff}
.sev{display:inline-block;font-size:11px;font-weight:bold;padding:1px 6px;border-radius:3px;margin-right:6px;color:#111}
.sev.error{background:#ff4a4a}.sev.warning{background:#f2b33d}.sev.info{background:#4a8cff}
.msg{margin:4px 0 8px}.paths{font-size:12px;color:#b8bac2;margin:0 0 8px;padding-left:18px}
.paths li{word-break:break-all}
.shots{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #333;display:block}
figcaption{font-size:12px;color:#9a9ca6;margin-top:4px;word-break:break-all;max-width:816px}
table.stats{border-collapse:collapse;font-size:12px;margin:6px 0 14px}
table.stats td,table.stats th{border-bottom:1px solid #2e2f34;padding:3px 8px;text-align:right;vertical-align:middle}
table.stats th{color:#9a9ca6;font-weight:normal}table.stats td.l,table.stats th.l{text-align:left}
.none{color:#7fd17f}a{color:#7fb0ff}
)";

QString sevBadge(const QString& sev) {
    return QStringLiteral("<span class=\"sev %1\">%2</span>").arg(htmlEscape(sev), htmlEscape(sev.toUpper()));
}

// Dataset and run summary shared by both pages.
QString summaryBlock(const json& report) {
    const json& ds = report.value("dataset", json::object());
    const json& run = report.value("run", json::object());
    const json& sum = report.value("summary", json::object());
    QString h = QStringLiteral("<table class=\"meta\">");
    auto row = [&](const QString& k, const QString& v) {
        h += QStringLiteral("<tr><td>%1</td><td>%2</td></tr>").arg(k, v);
    };
    row(QStringLiteral("Dataset"), QStringLiteral("<code>%1</code>").arg(htmlEscape(qs(str(ds, "path")))));
    row(QStringLiteral("Format"), htmlEscape(qs(str(ds, "format"))));
    row(QStringLiteral("Samples"), htmlEscape(qs(str(ds, "samples"))));
    if (ds.contains("classes") && ds["classes"].is_array() && !ds["classes"].empty()) {
        QStringList names;
        for (const auto& c : ds["classes"]) {
            if (names.size() == 20) {
                names << QStringLiteral("… (%1 in all)").arg(ds["classes"].size());
                break;
            }
            names << (c.is_string() ? qs(c.get<std::string>()) : qs(c.dump()));
        }
        row(QStringLiteral("Classes"), htmlEscape(names.join(QStringLiteral(", "))));
    }
    row(QStringLiteral("Scanned"),
        htmlEscape(QStringLiteral("%1 of %2 samples%3")
                       .arg(qs(str(run, "scanned", "?")), qs(str(run, "total", "?")),
                            run.value("cancelled", false) ? QStringLiteral(" (cancelled)") : QString())));
    const json sev = sum.value("by_severity", json::object());
    row(QStringLiteral("Findings"),
        htmlEscape(QStringLiteral("%1 error, %2 warning, %3 info")
                       .arg(qs(str(sev, "error", "0")), qs(str(sev, "warning", "0")),
                            qs(str(sev, "info", "0")))));
    h += QStringLiteral("</table>");
    return h;
}

QString findingHeader(const json& f) {
    const QString sev = severityOf(f);
    QString h = QStringLiteral("<h3>%1%2 <span class=\"meta\">stage <code>%3</code> · %4 sample(s)</span></h3>")
                    .arg(sevBadge(sev), htmlEscape(qs(str(f, "kind"))), htmlEscape(qs(str(f, "stage"))),
                         htmlEscape(qs(str(f, "count", "0"))));
    h += QStringLiteral("<p class=\"msg\">%1</p>").arg(htmlEscape(qs(str(f, "message"))));
    const json& samples = samplesOf(f);
    if (!samples.empty()) {
        h += QStringLiteral("<ul class=\"paths\">");
        for (size_t i = 0; i < samples.size(); ++i) {
            if (i == 10) {
                h += QStringLiteral("<li>… %1 more listed in report.json</li>").arg(samples.size() - 10);
                break;
            }
            h += QStringLiteral("<li>#%1 <code>%2</code></li>")
                     .arg(htmlEscape(qs(str(samples[i], "index"))), htmlEscape(qs(str(samples[i], "path"))));
        }
        h += QStringLiteral("</ul>");
    }
    return h;
}

// Inline SVG of one channel's 256-bin histogram, with the expected band.
QString histogramSvg(const json& hist, const json& expected, int channel) {
    const int W = 256, H = 56;
    if (!hist.is_object() || !hist.contains("bins") || !hist["bins"].is_array() || hist["bins"].empty())
        return QStringLiteral("<span class=\"meta\">no histogram</span>");
    const json& bins = hist["bins"];
    const double lo = hist.value("lo", 0.0), hi = hist.value("hi", 1.0);
    double peak = 1;
    for (const auto& b : bins)
        if (b.is_number()) peak = std::max(peak, b.get<double>());
    static const char* colors[] = {"#ff6b6b", "#5fd35f", "#6b9bff"};
    const char* color = colors[std::clamp(channel, 0, 2)];
    QString s = QStringLiteral("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%1\" height=\"%2\" "
                               "viewBox=\"0 0 %1 %2\" style=\"background:#1e1f22\">")
                    .arg(W)
                    .arg(H);
    double elo, ehi;
    if (pairRange(expected, elo, ehi) && hi > lo) {
        const double x0 = std::clamp((elo - lo) / (hi - lo) * W, 0.0, double(W));
        const double x1 = std::clamp((ehi - lo) / (hi - lo) * W, 0.0, double(W));
        s += QStringLiteral("<rect x=\"%1\" y=\"0\" width=\"%2\" height=\"%3\" fill=\"#2f4f3a\"/>")
                 .arg(x0, 0, 'f', 1)
                 .arg(std::max(1.0, x1 - x0), 0, 'f', 1)
                 .arg(H);
    }
    // Square-root counts: a spike at 0 would flatten everything else.
    QString path = QStringLiteral("M0 %1").arg(H);
    const double bw = double(W) / double(bins.size());
    for (size_t i = 0; i < bins.size(); ++i) {
        const double v = bins[i].is_number() ? bins[i].get<double>() : 0;
        const double y = H - std::sqrt(v / peak) * (H - 4);
        path += QStringLiteral(" L%1 %2 L%3 %2").arg(i * bw, 0, 'f', 1).arg(y, 0, 'f', 1).arg((i + 1) * bw, 0, 'f', 1);
    }
    path += QStringLiteral(" L%1 %2 Z").arg(W).arg(H);
    s += QStringLiteral("<path d=\"%1\" fill=\"%2\" fill-opacity=\"0.75\"/>").arg(path, color);
    s += QStringLiteral("</svg>");
    return s;
}

QString num(const json& j) {
    if (j.is_number_float()) return QString::number(j.get<double>(), 'g', 5);
    if (j.is_null()) return QStringLiteral("—");
    return htmlEscape(qs(j.dump()));
}

QString statsSection(const json& report) {
    const json stats = report.value("stats", json::array());
    if (!stats.is_array() || stats.empty())
        return QStringLiteral("<p class=\"meta\">No statistics (nothing was scanned).</p>");
    QString h;
    for (const auto& st : stats) {
        h += QStringLiteral("<h3>Stage %1 · %2 <span class=\"meta\">%3 samples</span></h3>")
                 .arg(htmlEscape(qs(str(st, "stage"))), htmlEscape(qs(str(st, "name"))),
                      htmlEscape(qs(str(st, "samples", "0"))));
        if (st.contains("not_observed") && st["not_observed"].is_string()) {
            h += QStringLiteral("<p class=\"meta\">Not observed: %1.</p>")
                     .arg(htmlEscape(qs(st["not_observed"].get<std::string>())));
            continue;
        }
        h += QStringLiteral(
            "<table class=\"stats\"><tr><th class=\"l\">ch</th><th>expected</th><th>min</th><th>max</th>"
            "<th>mean</th><th>std</th><th>NaN</th><th>Inf</th><th>below</th><th>above</th>"
            "<th class=\"l\">histogram (√count; band = expected)</th></tr>");
        const json channels = st.value("channels", json::array());
        const json expected = st.value("expected", json::array());
        for (size_t c = 0; c < channels.size(); ++c) {
            const json& ch = channels[c];
            const json exp = c < expected.size() ? expected[c] : json();
            const json hist = ch.value("histogram", json::object());
            double elo, ehi;
            const QString expText = pairRange(exp, elo, ehi)
                                        ? QStringLiteral("[%1, %2]").arg(elo, 0, 'g', 4).arg(ehi, 0, 'g', 4)
                                        : QStringLiteral("unknown");
            const int64_t inf = ch.value("pos_inf", int64_t(0)) + ch.value("neg_inf", int64_t(0));
            h += QStringLiteral("<tr><td class=\"l\">%1</td><td>%2</td><td>%3</td><td>%4</td><td>%5</td>"
                                "<td>%6</td><td>%7</td><td>%8</td><td>%9</td><td>%10</td><td class=\"l\">%11</td></tr>")
                     .arg(c)
                     .arg(expText, num(ch.value("min", json())), num(ch.value("max", json())),
                          num(ch.value("mean", json())), num(ch.value("std", json())),
                          num(ch.value("nan", json())), QString::number(inf),
                          num(hist.value("below", json())))
                     .arg(num(hist.value("above", json())),
                          histogramSvg(hist, exp, channels.size() == 1 ? 1 : int(c)) +
                              QStringLiteral("<br><span class=\"meta\">%1 … %2</span>")
                                  .arg(num(hist.value("lo", json())), num(hist.value("hi", json()))));
        }
        h += QStringLiteral("</table>");
    }
    return h;
}

QString pipelineBlock(const json& report) {
    const json& p = report.value("pipeline", json::object());
    QString h = QStringLiteral("<pre>%1</pre>").arg(htmlEscape(qs(str(p, "repr", "(none)"))));
    if (p.contains("note")) h += QStringLiteral("<p class=\"meta\">%1</p>").arg(htmlEscape(qs(str(p, "note"))));
    return h;
}

QString noShotText(const json& f) {
    for (const auto& s : samplesOf(f))
        if (s.is_object() && s.contains("index")) return QStringLiteral("Screenshots not requested.");
    return QStringLiteral("No sample to show: this finding is about the dataset, a folder or the loader.");
}

QString pageStart(const QString& title) {
    return QStringLiteral("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                          "<meta name=\"viewport\" content=\"width=device-width\">"
                          "<title>%1</title><style>%2</style></head><body>\n")
        .arg(htmlEscape(title), QString::fromLatin1(kCss));
}

}  // namespace

QString htmlEscape(const QString& s) {
    QString out;
    out.reserve(s.size() + 16);
    for (QChar c : s) {
        switch (c.unicode()) {
            case '&': out += QStringLiteral("&amp;"); break;
            case '<': out += QStringLiteral("&lt;"); break;
            case '>': out += QStringLiteral("&gt;"); break;
            case '"': out += QStringLiteral("&quot;"); break;
            case '\'': out += QStringLiteral("&#39;"); break;
            default: out += c;
        }
    }
    return out;
}

std::vector<PlannedShot> planShots(const json& report, const ExportOptions& options) {
    std::vector<PlannedShot> out;
    const json& findings = findingsOf(report);
    const size_t n = size_t(std::max(0, options.samplesPerFinding));
    for (size_t f = 0; f < findings.size(); ++f) {
        const json& samples = samplesOf(findings[f]);
        size_t taken = 0;
        for (size_t s = 0; s < samples.size() && taken < n; ++s) {
            // Entries without a dataset index name folders (empty_class...):
            // there is no sample to render.
            if (!samples[s].is_object() || !samples[s].contains("index") ||
                !samples[s]["index"].is_number_unsigned())
                continue;
            ++taken;
            PlannedShot shot;
            shot.finding = f;
            shot.sample = s;
            shot.file = QStringLiteral("%1-%2-%3.png")
                            .arg(f + 1, 2, 10, QChar('0'))
                            .arg(fileSafe(str(findings[f], "kind", "finding")),
                                 fileSafe(str(samples[s], "index", "x")));
            out.push_back(shot);
        }
    }
    return out;
}

QStringList existingTargets(const QString& dir, const json& report, const ExportOptions& options) {
    QStringList names{QStringLiteral("index.html"), QStringLiteral("report.json")};
    for (const auto& s : planShots(report, options)) names << s.file;
    QStringList out;
    const QDir d(dir);
    for (const auto& n : names)
        if (QFileInfo::exists(d.filePath(n))) out << d.filePath(n);
    return out;
}

namespace {

// Sample `sample` of finding `finding` in the report; throws Error when
// either is missing or names no dataset sample.
std::pair<const json*, const json*> findingAndSample(const json& report, size_t finding,
                                                     size_t sample) {
    const json& findings = findingsOf(report);
    if (finding >= findings.size()) throw Error("export: no finding " + std::to_string(finding));
    const json& f = findings[finding];
    const json& samples = samplesOf(f);
    if (sample >= samples.size()) throw Error("export: finding has no sample " + std::to_string(sample));
    const json& s = samples[sample];
    if (!s.contains("index") || !s["index"].is_number_unsigned())
        throw Error("export: finding " + std::to_string(finding) + " names no dataset sample");
    return {&f, &s};
}

// The sample recomputed as the audit saw it (epoch 0, the report's seed),
// with every stage; its label, and why it failed when it did, go into
// `info` (the failure only when the finding does not already say it).
SampleResult recomputeSample(const Dataset& dataset, const Pipeline& pipeline, const json& report,
                             size_t index, const json& finding, ScreenshotInfo& info) {
    SampleResult r;
    RandomContext ctx;
    ctx.seed = report.value("options", json::object()).value("seed", uint64_t(0));
    ctx.index = int64_t(index);
    std::string failure;
    if (index < dataset.size()) {
        try {
            r = processSample(dataset, pipeline, index, ctx, true);
            failure = r.record.error;
        } catch (const std::exception& e) {
            failure = e.what();
        }
        const auto classes = dataset.classes();
        const int64_t label = dataset.label(index);
        info.label = label < 0 ? QStringLiteral("—")
                               : (size_t(label) < classes.size() ? qs(classes[size_t(label)])
                                                                 : QString::number(label));
    } else {
        failure = "index " + std::to_string(index) + " is not in the dataset";
    }
    if (!failure.empty() && failure != str(finding, "message"))
        info.message += QStringLiteral(" — this sample: %1").arg(qs(failure));
    return r;
}

// The value at stage `want` (pipeline stages; the final output when the
// sample kept none); `shown` is the stage actually shown.
Tensor valueAtStage(const SampleResult& r, size_t want, size_t finalStage, size_t& shown) {
    shown = 0;
    if (!r.stages.empty()) {
        shown = std::min(want, r.stages.size() - 1);
        return asTensor(r.stages[shown]);
    }
    if (!r.output.empty()) {
        shown = finalStage;
        return r.output;
    }
    return Tensor();
}

// The range the audit judged this sample by at the blamed stage, from the
// sample's detail or the finding's evidence; false when neither has one.
bool judgedRange(const json& finding, const json& sample, const std::string& stage,
                 DisplayRange& range) {
    double lo, hi;
    const json detail = sample.value("detail", json::object());
    const json ev = finding.value("evidence", json::object());
    if (!pairRange(detail.value("expected", json()), lo, hi) &&
        !pairRange(ev.value("expected_range", json()), lo, hi))
        return false;
    range = DisplayRange::uniform(lo, hi, DisplayRange::Mode::Expected);
    range.origin = QStringLiteral("range the audit expected at %1").arg(qs(stage));
    return true;
}

}  // namespace

QImage renderFindingShot(const Dataset& dataset, const Pipeline& pipeline, const json& report,
                         size_t finding, size_t sample, int panel) {
    const auto [fp, sp] = findingAndSample(report, finding, sample);
    const json& f = *fp;
    const json& s = *sp;
    const size_t index = s["index"].get<size_t>();
    const std::string stage = str(f, "stage");

    ScreenshotInfo info;
    info.datasetPath = qs(str(report.value("dataset", json::object()), "path", dataset.root()));
    info.filePath = qs(str(s, "path"));
    info.index = qint64(index);
    info.message = QStringLiteral("%1 %2: %3")
                       .arg(severityOf(f).toUpper(), qs(str(f, "kind")), qs(str(f, "message")));
    const SampleResult r = recomputeSample(dataset, pipeline, report, index, f, info);

    // The value at the blamed stage (pipeline stages) or the final output.
    const size_t want = stageNumber(stage).value_or(pipeline.size());
    size_t shown = 0;
    const Tensor value = valueAtStage(r, want, pipeline.size(), shown);
    info.stage = qs(stage);
    if (!value.empty()) {
        const QString label = stageLabel(pipeline, shown);
        if (!label.isEmpty() && (shown != want || !stageNumber(stage)))
            info.stage += QStringLiteral(" (showing %1)").arg(label);
    }

    // Display range: the stage's expected range per channel when known, else
    // the range the engine judged this sample by, else the sample's min/max.
    const auto ranges = expectedRanges(pipeline, dataset.hasRaw());
    const ChannelRanges& exp = ranges[std::min(shown, ranges.size() - 1)];
    DisplayRange range;
    bool known = expectedDisplay(exp, range);
    if (known)
        range.origin = QStringLiteral("expected range of %1").arg(stageLabel(pipeline, shown));
    else if (shown == want)
        known = judgedRange(f, s, stage, range);
    std::optional<ChannelExtent> extent;  // measured once: for the range and the histogram
    if (!known && !value.empty()) {
        extent = tensorExtent(value);
        range = resolveRange(DisplaySettings{DisplayRange::Mode::Sample}, exp,
                             stageLabel(pipeline, shown), extent->min, extent->max);
    }
    info.range = value.empty() ? QStringLiteral("Nothing to display: the sample could not be produced")
                               : range.describe();

    RenderOptions ro;
    ro.range = range;
    ro.overlay = true;
    QImage tensorImg;
    ChannelHistograms tensorHist;
    if (!value.empty()) {
        tensorImg = renderTensor(value, ro, &info.counts);
        tensorHist =
            computeHistogramAuto(value, known ? &range : nullptr, extent ? &*extent : nullptr);
    }
    ChannelHistograms rawHist;
    QImage raw;
    if (!r.raw.empty()) {
        raw = toQImage(r.raw);
        rawHist = byteHistogram(r.raw);
    }
    // Masks and boxes as the inspector shows them by default.
    const bs::TargetSchema schema = dataset.targetSchema();
    if (schema.kind != bs::TargetSchema::Kind::None) {
        raw = overlayRaw(raw, r, schema, {});
        tensorImg = overlayStage(tensorImg, r, shown, schema, {});
    }
    return composeScreenshot(raw, tensorImg, rawHist, tensorHist,
                             known ? std::optional<DisplayRange>(range) : std::nullopt, info, panel);
}

// The "Findings" section of both HTML pages: each finding's header, then
// `figure(shot, sample)` for its planned shots (a link to a PNG file or an
// embedded image). nullopt from `figure` cancels the whole section.
using FigureFn = std::function<std::optional<QString>(const PlannedShot&, const json& sample)>;
static std::optional<QString> findingsSection(const json& report,
                                              const std::vector<PlannedShot>& shots,
                                       const FigureFn& figure) {
    const json& findings = findingsOf(report);
    QString h = QStringLiteral("<h2>Findings (%1)</h2>").arg(findings.size());
    if (findings.empty()) h += QStringLiteral("<p class=\"none\">No findings.</p>");
    for (size_t f = 0; f < findings.size(); ++f) {
        h += QStringLiteral("<div class=\"finding %1\">").arg(htmlEscape(severityOf(findings[f])));
        h += findingHeader(findings[f]);
        QString figs;
        for (const auto& s : shots) {
            if (s.finding != f) continue;
            const auto one = figure(s, samplesOf(findings[f])[s.sample]);
            if (!one) return std::nullopt;
            figs += *one;
        }
        if (figs.isEmpty())
            h += QStringLiteral("<p class=\"meta\">%1</p>").arg(noShotText(findings[f]));
        else
            h += QStringLiteral("<div class=\"shots\">%1</div>").arg(figs);
        h += QStringLiteral("</div>\n");
    }
    return h;
}

QString galleryHtml(const json& report, const ExportOptions& options) {
    const auto shots = planShots(report, options);
    QString h = pageStart(QStringLiteral("batchscope audit: %1").arg(qs(str(report.value("dataset", json::object()), "path"))));
    h += QStringLiteral("<h1>batchscope audit</h1>");
    h += summaryBlock(report);
    h += QStringLiteral("<p class=\"meta\">Full report: <a href=\"report.json\">report.json</a> · "
                        "screenshots of the first %1 sample(s) of each finding</p>")
             .arg(options.samplesPerFinding);
    h += QStringLiteral("<h2>Pipeline</h2>") + pipelineBlock(report);
    h += *findingsSection(report, shots, [](const PlannedShot& s, const json& smp) -> std::optional<QString> {
        return QStringLiteral("<figure><a href=\"%1\"><img src=\"%1\" alt=\"sample %2\"></a>"
                              "<figcaption>#%2 %3</figcaption></figure>")
            .arg(htmlEscape(s.file), htmlEscape(qs(str(smp, "index"))), htmlEscape(qs(str(smp, "path"))));
    });
    h += QStringLiteral("</body></html>\n");
    return h;
}

bool exportFolder(const Dataset& dataset, const Pipeline& pipeline, const json& report,
                  const QString& dir, const ExportOptions& options, const ExportProgressFn& progress) {
    if (!options.overwrite) {
        const QStringList exist = existingTargets(dir, report, options);
        if (!exist.isEmpty())
            throw Error(exist.front().toStdString() + " already exists" +
                        (exist.size() > 1 ? " (and " + std::to_string(exist.size() - 1) + " more export files)" : "") +
                        "; not overwriting");
    }
    if (!QDir().mkpath(dir)) throw Error("cannot create folder " + dir.toStdString());
    const QDir d(dir);
    const auto shots = planShots(report, options);
    const size_t total = shots.size() + 2;
    size_t done = 0;
    for (const auto& s : shots) {
        if (progress && !progress(done, total)) return false;
        const QImage img = renderFindingShot(dataset, pipeline, report, s.finding, s.sample, options.panel);
        const QString path = d.filePath(s.file);
        QSaveFile out(path);
        if (!out.open(QIODevice::WriteOnly) || !img.save(&out, "PNG") || !out.commit())
            throw Error("cannot write " + path.toStdString());
        ++done;
    }
    if (progress && !progress(done, total)) return false;
    writeJsonFile(d.filePath(QStringLiteral("report.json")).toStdString(), report);
    ++done;
    writeText(d.filePath(QStringLiteral("index.html")), galleryHtml(report, options));
    if (progress) progress(total, total);
    return true;
}

QString reportHtml(const Dataset& dataset, const Pipeline& pipeline, const json& report,
                   const ExportOptions& options, const ExportProgressFn& progress) {
    const auto shots = planShots(report, options);
    QString h = pageStart(QStringLiteral("batchscope report: %1").arg(qs(str(report.value("dataset", json::object()), "path"))));
    const json& tool = report.value("tool", json::object());
    h += QStringLiteral("<h1>batchscope audit report</h1><p class=\"meta\">%1 %2</p>")
             .arg(htmlEscape(qs(str(tool, "name", "batchscope"))), htmlEscape(qs(str(tool, "version"))));
    h += QStringLiteral("<h2>Dataset</h2>") + summaryBlock(report);
    h += QStringLiteral("<h2>Pipeline</h2>") + pipelineBlock(report);
    size_t done = 0;
    const auto section = findingsSection(
        report, shots, [&](const PlannedShot& s, const json& smp) -> std::optional<QString> {
            if (progress && !progress(done, shots.size())) return std::nullopt;
            const QImage img =
                renderFindingShot(dataset, pipeline, report, s.finding, s.sample, options.panel);
            ++done;
            return QStringLiteral("<figure><img src=\"data:image/png;base64,%1\" alt=\"sample %2\">"
                                  "<figcaption>#%2 %3</figcaption></figure>")
                .arg(QString::fromLatin1(pngBytes(img).toBase64()), htmlEscape(qs(str(smp, "index"))),
                     htmlEscape(qs(str(smp, "path"))));
        });
    if (!section) return {};
    h += *section;
    h += QStringLiteral("<h2>Per-stage statistics</h2>") + statsSection(report);
    h += QStringLiteral("</body></html>\n");
    if (progress) progress(shots.size(), shots.size());
    return h;
}

bool writeReportHtml(const Dataset& dataset, const Pipeline& pipeline, const json& report,
                     const QString& path, const ExportOptions& options, const ExportProgressFn& progress) {
    if (!options.overwrite && QFileInfo::exists(path))
        throw Error(path.toStdString() + " already exists; not overwriting");
    const QString html = reportHtml(dataset, pipeline, report, options, progress);
    if (html.isEmpty()) return false;
    writeText(path, html);
    return true;
}

}  // namespace bs::ui
