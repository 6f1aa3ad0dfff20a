// Issue 5 exports: the composed screenshot of a planted anomaly (size,
// overlay pixels where the planted pixels are rendered, caption), `audit
// --screenshots` on three planted file faults (three PNGs, an index.html
// referencing exactly them) and the self-contained `--html` report.
#include <QDir>
#include <QFile>
#include <QImage>
#include <QRegularExpression>
#include <QtTest>

#include <set>

#include <nlohmann/json.hpp>

#include "core/audit/anomaly.h"
#include "core/audit/audit.h"
#include "core/dataset/dataset.h"
#include "core/pipeline/pipeline.h"
#include "core/audit/report.h"
#include "support/testsupport.h"
#include "ui/render/exporter.h"
#include "ui/render/render.h"

using json = nlohmann::json;

namespace {

using bstest::readJson;

QString readText(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QString::fromUtf8(f.readAll());
}

QStringList srcAttributes(const QString& html) {
    static const QRegularExpression re(QStringLiteral("src\\s*=\\s*\"([^\"]*)\""));
    QStringList out;
    for (auto it = re.globalMatch(html); it.hasNext();) out << it.next().captured(1);
    return out;
}

// Two classes of distinct clean images plus three file faults, one finding
// each: a truncated JPEG, a text file named .png, a grayscale PNG.
void writeThreeFaults(const QString& root, const QString& classB = QStringLiteral("b")) {
    QDir().mkpath(root + "/a");
    QDir().mkpath(root + "/" + classB);
    for (int i = 0; i < 3; ++i) {
        bstest::writePatternImage(root + QStringLiteral("/a/ok%1.png").arg(i), 40, 30, i + 1);
        bstest::writePatternImage(root + "/" + classB + QStringLiteral("/ok%1.png").arg(i), 40, 30,
                                  i + 11);
    }
    const QString full = root + "/full.jpg.tmp";
    QImage big(64, 48, QImage::Format_RGB888);
    for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 64; ++x) big.setPixel(x, y, qRgb(x * 4, y * 5, (x * y) & 255));
    QVERIFY(big.save(full, "JPEG", 90));
    QFile f(full);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray bytes = f.readAll();
    f.close();
    QFile::remove(full);
    bstest::writeFile(root + "/a/truncated.jpg", bytes.left(bytes.size() / 2));
    bstest::writeFile(root + "/" + classB + "/text.png", "this is not a png\n");
    QImage gray(40, 30, QImage::Format_Grayscale8);
    for (int y = 0; y < 30; ++y)
        for (int x = 0; x < 40; ++x) gray.scanLine(y)[x] = uchar((x * 6 + y * 3) & 255);
    QVERIFY(gray.save(root + "/" + classB + "/gray.png"));
}

}  // namespace

class TestExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void plantedAnomalyScreenshot();
    void screenshotsThreeFaults();
    void htmlSelfContainedAndEscaped();
};

// [ToTensor, Lambda x*2, Normalize(0.5, 0.5)] maps pixel value v to
// 4v/255 - 1: a 4x3 block of v=220 lands at 2.45 (above [-1, 1]) while the
// v=40 background stays at -0.37.
void TestExport::plantedAnomalyScreenshot() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString root = tmp.path() + "/ds";
    QDir().mkpath(root + "/x");
    const int W = 32, H = 24, bx = 8, by = 5, bw = 4, bh = 3;
    for (int i = 0; i < 3; ++i) {
        QImage img(W, H, QImage::Format_RGB888);
        img.fill(QColor(40 + i, 40, 40));
        if (i == 1)
            for (int y = by; y < by + bh; ++y)
                for (int x = bx; x < bx + bw; ++x) img.setPixel(x, y, qRgb(220, 220, 220));
        QVERIFY(img.save(root + QStringLiteral("/x/img%1.png").arg(i)));
    }
    std::shared_ptr<const bs::Dataset> ds = bs::openDataset(root.toStdString());
    const bs::Pipeline pipeline = bs::Pipeline::fromJson(json::parse(
        R"([{"op":"ToTensor"},{"op":"Lambda","expr":"x * 2"},)"
        R"({"op":"Normalize","mean":[0.5,0.5,0.5],"std":[0.5,0.5,0.5]}])"));
    bs::AuditEngine engine(pipeline);
    bs::AuditOptions opts;
    const bs::AuditRun run = bs::runAudit(ds, pipeline, opts, engine);
    bs::ReportContext ctx;
    ctx.dataset = ds.get();
    ctx.pipeline = &pipeline;
    ctx.run = run;
    const json report = bs::buildReport(engine, ctx);

    // The planted sample (index 1) is flagged at the Normalize stage.
    size_t fi = 0, si = 0;
    bool found = false;
    for (size_t f = 0; f < report["findings"].size() && !found; ++f) {
        const json& fd = report["findings"][f];
        if (fd["kind"] != "extreme_values" || fd["stage"] != "3:Normalize") continue;
        for (size_t s = 0; s < fd["samples"].size(); ++s)
            if (fd["samples"][s]["index"] == 1) fi = f, si = s, found = true;
    }
    QVERIFY2(found, report["findings"].dump().c_str());
    QCOMPARE(report["findings"][fi]["count"].get<int>(), 1);  // only the planted image

    const int panel = 384;
    const QImage shot = bs::ui::renderFindingShot(*ds, pipeline, report, fi, si, panel);
    // Layout: two panels of 384 with 16 px margins and gap; title, panel,
    // histograms (150) and caption (150) stacked.
    QCOMPARE(shot.width(), 16 * 2 + panel * 2 + 16);
    QCOMPARE(shot.height(), 16 + 24 + panel + 16 + 150 + 16 + 150 + 16);

    // Tensor panel: 32x24 enlarged 12x (384/32) to 384x288, centred.
    const int k = panel / W;
    const int px = 16 + panel + 16, py = 16 + 24 + (panel - H * k) / 2;
    const QRgb above = bs::ui::OverlayColors().above.rgb();
    for (int y = by * k; y < (by + bh) * k; ++y)
        for (int x = bx * k; x < (bx + bw) * k; ++x)
            QCOMPARE(shot.pixel(px + x, py + y) & 0xffffff, above & 0xffffff);
    int64_t red = 0;
    for (int y = 16 + 24; y < 16 + 24 + panel; ++y)
        for (int x = px; x < px + panel; ++x) red += (shot.pixel(x, y) & 0xffffff) == (above & 0xffffff);
    QCOMPARE(red, int64_t(bw * bh * k * k));
    // A background pixel next to the block (value -0.37 of [-1, 1]) is
    // rendered dark gray, not overlaid.
    const QRgb bg = shot.pixel(px + (bx - 1) * k + k / 2, py + by * k + k / 2);
    QVERIFY(std::abs(qRed(bg) - qBlue(bg)) <= 2 && qGreen(bg) == qBlue(bg));
    QVERIFY(qGreen(bg) > 60 && qGreen(bg) < 100);  // (-0.37 + 1) / 2 * 255 = 80

    // Caption: text drawn below the histograms (light pixels on the dark
    // background), and none in an all-dark control strip of the margin.
    const int cy = 16 + 24 + panel + 16 + 150 + 16;
    auto lightPixels = [&](int y0, int y1) {
        int n = 0;
        for (int y = y0; y < y1; ++y)
            for (int x = 0; x < shot.width(); ++x) n += qGray(shot.pixel(x, y)) > 120;
        return n;
    };
    QVERIFY2(lightPixels(cy, cy + 120) > 1000, "caption region is empty");
    QCOMPARE(lightPixels(shot.height() - 12, shot.height()), 0);

    // A smaller panel scales the whole picture.
    const QImage small = bs::ui::renderFindingShot(*ds, pipeline, report, fi, si, 256);
    QCOMPARE(small.width(), 16 * 2 + 256 * 2 + 16);
}

void TestExport::screenshotsThreeFaults() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString root = tmp.path() + "/ds";
    writeThreeFaults(root);
    const QString out = tmp.path() + "/shots";
    const QStringList args{"audit", root, "--workers", "1", "--quiet", "--fail-on", "never",
                           "--screenshots", out};
    auto r = bstest::runCli(args);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));

    const json report = readJson(out + "/report.json");
    QVERIFY(report.is_object());
    std::set<std::string> kinds;
    for (const auto& f : report["findings"]) kinds.insert(f["kind"].get<std::string>());
    QCOMPARE(kinds, (std::set<std::string>{"unreadable_file", "truncated_image", "mode_conversion"}));
    QCOMPARE(report["findings"].size(), size_t(3));

    const QStringList pngs = QDir(out).entryList({"*.png"}, QDir::Files, QDir::Name);
    QCOMPARE(pngs.size(), 3);
    for (const QString& p : pngs) {
        QImage img(out + "/" + p);
        QCOMPARE(img.width(), 816);  // default panel 384
    }
    const QString html = readText(out + "/index.html");
    QStringList srcs = srcAttributes(html);
    srcs.sort();
    QCOMPARE(srcs, pngs);
    for (const auto& f : report["findings"]) {
        QVERIFY(html.contains(bs::ui::htmlEscape(QString::fromStdString(f["message"].get<std::string>()))));
        QVERIFY(html.contains(QString::fromStdString(f["kind"].get<std::string>())));
    }

    // A second run refuses to overwrite (before scanning) and leaves the
    // files alone; --overwrite replaces them.
    bstest::writeFile(out + "/index.html", "mine");
    r = bstest::runCli(args);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("already exists") && r.err.contains("--overwrite"), qPrintable(r.err));
    QCOMPARE(readText(out + "/index.html"), QStringLiteral("mine"));
    r = bstest::runCli(args + QStringList{"--overwrite"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QCOMPARE(readText(out + "/index.html"), html);

    // A stray screenshot of the same name is also protected.
    QFile::remove(out + "/index.html");
    QFile::remove(out + "/report.json");
    r = bstest::runCli(args);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains(pngs.front()), qPrintable(r.err));

    // --shots-per-finding 0: the gallery lists the findings as text only.
    const QString out0 = tmp.path() + "/shots0";
    r = bstest::runCli({"audit", root, "--workers", "1", "--quiet", "--fail-on", "never",
                        "--screenshots", out0, "--shots-per-finding", "0"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QCOMPARE(QDir(out0).entryList({"*.png"}, QDir::Files).size(), 0);
    QVERIFY(srcAttributes(readText(out0 + "/index.html")).isEmpty());
}

void TestExport::htmlSelfContainedAndEscaped() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    const QString root = tmp.path() + "/ds";
    const QString weird = QStringLiteral("we<ird> & \"q\" 'x'");
    writeThreeFaults(root, weird);
    const QString out = tmp.path() + "/report.html";
    const QStringList args{"audit", root, "--workers", "1", "--quiet", "--fail-on", "never",
                           "--html", out, "--report", tmp.path() + "/r.json"};
    auto r = bstest::runCli(args);
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    const QString html = readText(out);
    const json report = readJson(tmp.path() + "/r.json");
    QCOMPARE(report["findings"].size(), size_t(3));

    // Self-contained: every src is a data: URI holding a decodable PNG, no
    // stylesheet or script is fetched.
    const QStringList srcs = srcAttributes(html);
    QCOMPARE(srcs.size(), 3);  // one screenshot per single-sample finding
    for (const QString& s : srcs) {
        QVERIFY(s.startsWith("data:image/png;base64,"));
        const QImage img = QImage::fromData(QByteArray::fromBase64(s.mid(22).toLatin1()), "PNG");
        QCOMPARE(img.width(), 16 * 2 + 384 * 2 + 16);
    }
    QVERIFY(!html.contains("<link", Qt::CaseInsensitive));
    QVERIFY(!html.contains("<script", Qt::CaseInsensitive));
    QVERIFY(!html.contains("url(", Qt::CaseInsensitive));
    QVERIFY(!html.contains("href=", Qt::CaseInsensitive));

    // Contents: every finding's message, the pipeline, per-stage statistics
    // with a histogram per channel.
    for (const auto& f : report["findings"])
        QVERIFY(html.contains(bs::ui::htmlEscape(QString::fromStdString(f["message"].get<std::string>()))));
    QVERIFY(html.contains("ToTensor()"));
    QVERIFY(html.contains("Per-stage statistics"));
    QCOMPARE(html.count("<svg"), 6);  // stages 0 and 1, three channels each

    // Dataset strings are escaped: the class folder's name never appears raw.
    QVERIFY(!html.contains(weird));
    QVERIFY(html.contains(QStringLiteral("we&lt;ird&gt; &amp; &quot;q&quot; &#39;x&#39;")));

    // Refuses to overwrite, before scanning; --overwrite replaces.
    bstest::writeFile(out, "mine");
    r = bstest::runCli(args);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("already exists"), qPrintable(r.err));
    QCOMPARE(readText(out), QStringLiteral("mine"));
    r = bstest::runCli(args + QStringList{"--overwrite"});
    QVERIFY2(r.exitCode == 0, qPrintable(r.err));
    QVERIFY(readText(out).startsWith("<!DOCTYPE html>"));
}

QTEST_MAIN(TestExport)
#include "test_export.moc"
