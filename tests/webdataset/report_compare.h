// The merged report of a sharded audit against the single audit (issue 14),
// shared by the merge and Slurm tests.
#pragma once

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

namespace bstest {

using json = nlohmann::json;

// Equal as a single audit would be: everything but timings, the run's
// seconds and the merge note; means and stds within rounding of the sums.
inline void compareReports(const json& single, const json& merged) {
    QCOMPARE(merged["dataset"], single["dataset"]);
    QCOMPARE(merged["pipeline"], single["pipeline"]);
    QCOMPARE(merged["summary"], single["summary"]);
    QCOMPARE(merged["run"]["scanned"], single["run"]["scanned"]);
    QCOMPARE(merged["run"]["total"], single["run"]["total"]);
    QCOMPARE(merged["findings"].size(), single["findings"].size());
    for (size_t i = 0; i < single["findings"].size(); ++i) {
        const json& a = single["findings"][i];
        const json& b = merged["findings"][i];
        for (const char* key : {"kind", "severity", "stage", "count", "samples"})
            QVERIFY2(a[key] == b[key],
                     (a["kind"].dump() + " " + key + ": " + a[key].dump() + " vs " + b[key].dump())
                         .c_str());
    }
    QCOMPARE(merged["stats"].size(), single["stats"].size());
    for (size_t k = 0; k < single["stats"].size(); ++k) {
        const json& a = single["stats"][k];
        const json& b = merged["stats"][k];
        QCOMPARE(b["samples"], a["samples"]);
        QCOMPARE(b["channels"].size(), a["channels"].size());
        for (size_t c = 0; c < a["channels"].size(); ++c) {
            const json& x = a["channels"][c];
            const json& y = b["channels"][c];
            for (const char* key :
                 {"count", "min", "max", "nan", "pos_inf", "neg_inf", "histogram"})
                QVERIFY2(x[key] == y[key], key);
            for (const char* key : {"mean", "std"})
                QVERIFY2(std::fabs(x[key].get<double>() - y[key].get<double>()) <=
                             1e-9 * std::max(1.0, std::fabs(x[key].get<double>())),
                         (std::string(key) + " " + x[key].dump() + " vs " + y[key].dump()).c_str());
        }
    }
}

}  // namespace bstest
