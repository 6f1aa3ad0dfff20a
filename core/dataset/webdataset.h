// WebDataset shards: the questions the sharded audit asks of a dataset.
// Opening goes through openDataset (a .tar/.tar.gz/.tgz/.tar.zst file, a
// folder of them, or a brace pattern 'shard-{000..099}.tar').
#pragma once

#include <cstddef>
#include <string>

#include "core/dataset/dataset.h"

namespace bs {

// The shard (0-based, in dataset order) holding sample `index`, or size_t(-1)
// when `dataset` is not a WebDataset. `shardCount` receives the number of
// shards that were opened.
size_t webDatasetShardOf(const Dataset& dataset, size_t index, size_t* shardCount = nullptr);

// How many shards of a WebDataset are read by offset (plain .tar whose
// offsets checked out at indexing); the others go through libarchive.
size_t webDatasetDirectShards(const Dataset& dataset);

// Path of shard `shard` of a WebDataset (empty for other datasets).
std::string webDatasetShardPath(const Dataset& dataset, size_t shard);

// The number of shard files `path` names (a shard, a folder of shards, a
// brace pattern), from names only: nothing is read; 0 when it names none.
size_t webDatasetShardFileCount(const std::string& path);

namespace detail {
bool isShardName(const std::string& name);  // .tar, .tar.gz, .tgz, .tar.zst
bool isBracePattern(const std::string& path);
bool isShardFolder(const std::string& dir);  // holds shard files directly
std::unique_ptr<Dataset> openWebDataset(const std::string& path, const OpenOptions& options);
}  // namespace detail

}  // namespace bs
