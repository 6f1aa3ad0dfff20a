// Everything an AuditEngine has accumulated, as plain data: what a partial
// report (core/audit/partial.h) carries so that a merge can continue the
// judgement as if one engine had seen every sample. Indices are the
// engine's dataset indices.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/audit/anomaly.h"
#include "core/audit/stats.h"
#include "core/pipeline/pipeline.h"

namespace bs {

struct EngineGroupState {
    std::string kind, stage;
    size_t count = 0;
    std::vector<FindingSample> samples;  // the capped list with per-sample detail
    std::vector<uint64_t> indices;       // every sample of the group (size_t(-1) items excluded)
    double obsLo = 0, obsHi = 0, expLo = 0, expHi = 0;  // the engine's raw values (may be inf/nan)
    nlohmann::json firstDetail;
    std::string firstMessage, firstPath;
    std::map<std::string, size_t> tally;
};

struct EngineHashState {
    uint64_t hash = 0;
    uint64_t index = 0;
    int64_t label = -1;
};

struct EngineStageState {
    std::vector<ChannelStats> channels;
    int64_t samples = 0;
    std::vector<Histogram> histograms;
    std::vector<ValueRange> expected;
    bool rangesSet = false;
};

struct EngineDrawState {
    uint64_t index = 0;
    int64_t epoch = 0;
    uint64_t hash = 0;
};

struct AuditEngineState {
    size_t samples = 0;
    std::vector<std::pair<std::string, size_t>> classCounts;
    std::vector<EngineGroupState> groups;
    std::vector<EngineHashState> hashes;
    std::vector<EngineStageState> stages;             // stage 0 = input
    std::vector<std::vector<EngineDrawState>> draws;  // per transform
    std::vector<EngineDrawState> epochDraws;
    // Paths of indices the merging engine has no dataset for.
    std::map<uint64_t, std::string> paths;
};

}  // namespace bs
