// Command-line front end: one function per subcommand, each parsing its own
// options and returning the process exit status.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/audit/partial.h"
#include "core/dataset/dataset.h"
#include "core/pipeline/pipeline.h"

namespace bs::cli {

// Minimal option parser: `--name value`, `--flag`, and positionals.
class Args {
public:
    // `flags` are options that take no value.
    Args(const std::vector<std::string>& argv, const std::vector<std::string>& flags);
    bool has(const std::string& name) const;
    std::string get(const std::string& name, const std::string& fallback = "") const;
    long long getInt(const std::string& name, long long fallback) const;  // throws on bad number
    double getDouble(const std::string& name, double fallback) const;
    const std::vector<std::string>& positional() const { return positional_; }
    // Options given that are not in `known`: reported as errors by commands.
    std::vector<std::string> unknown(const std::vector<std::string>& known) const;

private:
    std::map<std::string, std::string> options_;
    std::vector<std::string> positional_;
};

// The decode limits shared by every command that opens a dataset:
// --decode-time-limit SECONDS (0 = none). Throws Error on a bad value.
constexpr const char* kDecodeLimitOption = "decode-time-limit";
OpenOptions openOptionsFrom(const Args& args);
constexpr const char* kDecodeLimitHelp =
    "  --decode-time-limit S  seconds one file may take to decode before it is\n"
    "                      reported as unreadable (default 10; 0 = no limit)\n";

// torchvision dataset roots: --split train|test (train=True/False in Python).
constexpr const char* kSplitOption = "split";
constexpr const char* kSplitHelp =
    "  --split train|test  torchvision dataset roots (root/FashionMNIST/raw,\n"
    "                      root/cifar-10-batches-py...): which split to open\n"
    "                      (default train; test when only its files exist)\n";

// CIFAR-100 roots: --cifar100-labels fine|coarse.
constexpr const char* kCifar100LabelsOption = "cifar100-labels";
constexpr const char* kCifar100LabelsHelp =
    "  --cifar100-labels fine|coarse  CIFAR-100: its 100 fine labels (default,\n"
    "                      as torchvision) or its 20 coarse superclasses\n";

// The options above, which every command that opens a dataset takes: their
// help, printed after the command's own, and `known` (a command's own
// option names, for Args::unknown) with their names added.
void printOpenOptionsHelp();
std::vector<std::string> withOpenOptions(std::vector<std::string> known);

// The start of every command that opens one dataset PATH: --help prints
// `help` and the open options' help (0); an option neither in `known` nor
// an open option, or not exactly one PATH, is said on stderr (2); nullopt
// when the command goes on.
std::optional<int> startDatasetCommand(const Args& args, const std::string& command,
                                       const char* help, std::vector<std::string> known);

// Prints "batchscope <cmd>: <message>" on stderr and returns `status`.
int fail(const std::string& command, const std::string& message, int status = 2);

int runDump(const std::vector<std::string>& args);

// The pipeline in FILE, or the default when FILE is empty: ToTensor for
// image datasets, nothing for tensor dumps. Throws PipelineError.
Pipeline loadPipelineOrDefault(const std::string& file, const Dataset& dataset);

int runAudit(const std::vector<std::string>& args, int argc, char** argv);
int runMerge(const std::vector<std::string>& args, int argc, char** argv);
// `--shard` without I/N becomes `--shard=` (the scheduler's environment).
std::vector<std::string> shardArgsNormalised(const std::vector<std::string>& argv);
// --shard / --num-shards and the environment. Throws Error.
ShardSpec shardSpecFrom(const Args& args);
int runBench(const std::vector<std::string>& args);
int runCompare(const std::vector<std::string>& args);

}  // namespace bs::cli
