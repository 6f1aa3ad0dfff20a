// WebDataset shards (issue 14): a sharded copy of a real folder (skimage
// photos and Fashion-MNIST, made by tests/webdataset/make_shards.py with
// Python's tarfile) must give the folder's samples, tensors and findings,
// in plain, gzip and zstd shards and through a brace pattern; damaged shards
// are named in findings and the rest is still read.
#include <QDir>
#include <QFile>
#include <QtTest>

#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "core/dataset/dataset.h"
#include "core/dataset/webdataset.h"
#include "core/loader/loader.h"
#include "core/pipeline/pipeline.h"
#include "support/testsupport.h"

using json = nlohmann::json;

namespace {

const char* kPipeline = R"J([{"op":"Resize","size":[32,32]},{"op":"ToTensor"},)J"
                        R"J({"op":"Normalize","mean":[0.5,0.5,0.5],"std":[0.25,0.25,0.25]}])J";

using bstest::readJson;

// "<root>/a/f00.png" and "<shard>.tar:a_f00" name the same sample.
std::string sampleName(const std::string& path) {
    const size_t colon = path.rfind(".tar");
    if (colon != std::string::npos && path.find(':', colon) != std::string::npos) {
        const std::string key = path.substr(path.find(':', colon) + 1);
        return key.substr(key.find_last_of('/') + 1);  // npos + 1: no folder
    }
    const size_t slash = path.find_last_of('/');
    const size_t cls = path.find_last_of('/', slash - 1);
    const std::string stem = path.substr(slash + 1, path.find_last_of('.') - slash - 1);
    return path.substr(cls + 1, slash - cls - 1) + "_" + stem;
}

// Findings as comparable text: kind, stage, count and every sample by index
// and name.
std::map<std::string, std::string> findingsOf(const json& report) {
    std::map<std::string, std::string> out;
    for (const auto& f : report["findings"]) {
        std::string s = std::to_string(f["count"].get<size_t>()) + ":";
        for (const auto& x : f["samples"])
            s += " " + (x.contains("index") ? std::to_string(x["index"].get<size_t>()) : "-") +
                 "=" + sampleName(x["path"].get<std::string>());
        out[f["kind"].get<std::string>() + " [" + f["stage"].get<std::string>() + "]"] = s;
    }
    return out;
}

const json* finding(const json& report, const std::string& kind) {
    for (const auto& f : report["findings"])
        if (f["kind"] == kind) return &f;
    return nullptr;
}

}  // namespace

class TestWebDataset : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    const QString root_ = dir_.path();

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(dir_.isValid());
        BSTEST_RUN_FIXTURE_SCRIPT(shards, "tests/webdataset/make_shards.py", {root_},
                                  "python3 with Pillow is needed to build the shards");
    }

    void sameSamplesAndTensorsAsFolder_data() {
        // direct: plain .tar shards are read by offset, compressed ones through
        // libarchive; both must give the folder's bytes.
        QTest::addColumn<QString>("shards");
        QTest::addColumn<bool>("direct");
        QTest::newRow("tar folder") << "shards" << true;
        QTest::newRow("brace pattern") << "shards/shard-{000000..000003}.tar" << true;
        QTest::newRow("one shard file") << "shards/shard-000001.tar" << true;
        QTest::newRow("pax long names") << "pax" << true;
        QTest::newRow("gnu long names") << "gnu" << true;
        QTest::newRow("tar.gz") << "gz" << false;
        QTest::newRow("tar.zst") << "zst" << false;
    }
    void sameSamplesAndTensorsAsFolder() {
        QFETCH(QString, shards);
        QFETCH(bool, direct);
        if (shards == "zst" && !QDir(root_ + "/zst").exists())
            BSTEST_SKIP("no zstd command to make .tar.zst");
        const auto folder = bs::openDataset((root_ + "/folder").toStdString());
        const auto web = bs::openDataset((root_ + "/" + shards).toStdString());
        QCOMPARE(bs::formatName(web->format()), std::string("webdataset"));
        QCOMPARE(web->classes(), folder->classes());
        QVERIFY(web->issues().empty());
        size_t shardCount = 0;
        bs::webDatasetShardOf(*web, 0, &shardCount);
        QCOMPARE(bs::webDatasetDirectShards(*web), direct ? shardCount : size_t(0));
        // A single shard holds a run of the folder's samples: find its start.
        size_t offset = 0;
        while (offset < folder->size() &&
               sampleName(folder->path(offset)) != sampleName(web->path(0)))
            ++offset;
        if (!shards.endsWith(".tar")) QCOMPARE(web->size(), folder->size());
        QVERIFY(web->size() > 0 && offset + web->size() <= folder->size());
        const bs::Pipeline p = bs::Pipeline::parse(kPipeline);
        bs::RandomContext ctx;
        for (size_t i = 0; i < web->size(); ++i) {
            const size_t j = offset + i;
            QCOMPARE(sampleName(web->path(i)), sampleName(folder->path(j)));
            QCOMPARE(web->label(i), folder->label(j));
            const bs::SampleResult a = bs::processSample(*web, p, i, ctx);
            const bs::SampleResult b = bs::processSample(*folder, p, j, ctx);
            QVERIFY2(a.record.error.empty(), a.record.error.c_str());
            QCOMPARE(a.output.shape, b.output.shape);
            QVERIFY2(std::memcmp(a.output.values.data(), b.output.values.data(),
                                 a.output.values.size() * sizeof(float)) == 0,
                     qPrintable(QString::fromStdString(web->path(i))));
            QCOMPARE(a.record.decode.sourceMode, b.record.decode.sourceMode);
        }
    }

    void sameFindingsAsFolder() {
        QFile::remove(root_ + "/p.json");
        bstest::writeFile(root_ + "/p.json", kPipeline);
        const auto a =
            bstest::runCli({"audit", root_ + "/folder", "--pipeline", root_ + "/p.json", "--report",
                            root_ + "/folder.json", "--quiet", "--workers", "2"});
        const auto b =
            bstest::runCli({"audit", root_ + "/shards", "--pipeline", root_ + "/p.json", "--report",
                            root_ + "/shards.json", "--quiet", "--workers", "2"});
        QCOMPARE(a.exitCode, b.exitCode);
        const json fa = readJson(root_ + "/folder.json"), fb = readJson(root_ + "/shards.json");
        QVERIFY(finding(fb, "mode_conversion"));  // the grey Fashion-MNIST digits
        QVERIFY(finding(fb, "exact_duplicate"));
        QCOMPARE(findingsOf(fb), findingsOf(fa));
        QCOMPARE(fb["stats"].size(), fa["stats"].size());
        for (size_t k = 0; k < fa["stats"].size(); ++k)
            for (size_t c = 0; c < fa["stats"][k]["channels"].size(); ++c) {
                const json& x = fa["stats"][k]["channels"][c];
                const json& y = fb["stats"][k]["channels"][c];
                QCOMPARE(y["count"], x["count"]);
                QCOMPARE(y["histogram"]["bins"], x["histogram"]["bins"]);
                QVERIFY(std::fabs(y["mean"].get<double>() - x["mean"].get<double>()) < 1e-9);
            }
    }

    void damagedShardsAreNamedAndTheRestIsRead() {
        const auto r = bstest::runCli({"audit", root_ + "/damaged", "--report",
                                       root_ + "/damaged.json", "--quiet", "--fail-on", "never"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const json rep = readJson(root_ + "/damaged.json");
        const std::string dir = QDir(root_ + "/damaged").canonicalPath().toStdString();
        const json* trunc = finding(rep, "truncated_shard");
        QVERIFY2(trunc, rep.dump().c_str());
        QCOMPARE((*trunc)["samples"][0]["path"].get<std::string>(), dir + "/d-000001.tar");
        const json* bad = finding(rep, "unreadable_file");
        QVERIFY(bad);
        QCOMPARE((*bad)["samples"][0]["path"].get<std::string>(), dir + "/d-000002.tar:notimage");
        QVERIFY(finding(rep, "missing_image"));
        QCOMPARE((*finding(rep, "missing_image"))["samples"][0]["path"].get<std::string>(),
                 dir + "/d-000002.tar:noimage");
        QVERIFY(finding(rep, "ambiguous_sample"));
        // 3 + 1 complete sample before the cut + (notimage, twice, 3 good) after the damage.
        QCOMPARE(rep["run"]["scanned"].get<size_t>(), size_t(9));
        const auto ds = bs::openDataset(dir);
        QCOMPARE(ds->size(), size_t(9));
        QVERIFY(ds->path(8).find("d-000002.tar:") != std::string::npos);
        bs::DecodeInfo info;
        QVERIFY(ds->loadRaw(8, &info).width > 0);  // read after the damaged members
    }
};

QTEST_GUILESS_MAIN(TestWebDataset)
#include "test_webdataset.moc"
