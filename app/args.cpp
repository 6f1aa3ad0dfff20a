#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include "cli.h"

namespace bs::cli {

Args::Args(const std::vector<std::string>& argv, const std::vector<std::string>& flags) {
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
            std::string name = a.substr(2), value;
            const auto eq = name.find('=');
            if (eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            } else if (std::find(flags.begin(), flags.end(), name) == flags.end()) {
                if (i + 1 >= argv.size()) throw std::runtime_error("--" + name + " needs a value");
                value = argv[++i];
            } else {
                value = "1";
            }
            options_[name] = value;
        } else if (a == "-h") {
            options_["help"] = "1";
        } else {
            positional_.push_back(a);
        }
    }
}

bool Args::has(const std::string& name) const { return options_.count(name) != 0; }

std::string Args::get(const std::string& name, const std::string& fallback) const {
    auto it = options_.find(name);
    return it == options_.end() ? fallback : it->second;
}

long long Args::getInt(const std::string& name, long long fallback) const {
    if (!has(name)) return fallback;
    const std::string v = get(name);
    try {
        size_t used = 0;
        long long n = std::stoll(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        return n;
    } catch (const std::exception&) {
        throw std::runtime_error("--" + name + " expects a whole number, got '" + v + "'");
    }
}

double Args::getDouble(const std::string& name, double fallback) const {
    if (!has(name)) return fallback;
    const std::string v = get(name);
    try {
        size_t used = 0;
        double d = std::stod(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        return d;
    } catch (const std::exception&) {
        throw std::runtime_error("--" + name + " expects a number, got '" + v + "'");
    }
}

std::vector<std::string> Args::unknown(const std::vector<std::string>& known) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : options_)
        if (k != "help" && std::find(known.begin(), known.end(), k) == known.end()) out.push_back("--" + k);
    return out;
}

OpenOptions openOptionsFrom(const Args& args) {
    OpenOptions o;
    o.decode.timeLimitSeconds = args.getDouble(kDecodeLimitOption, kDefaultDecodeTimeLimit);
    if (!(o.decode.timeLimitSeconds >= 0) || o.decode.timeLimitSeconds > 86400)
        throw Error("--decode-time-limit must be between 0 (no limit) and 86400 seconds");
    o.split = args.get(kSplitOption);
    if (args.has(kSplitOption) && o.split != "train" && o.split != "test")
        throw Error("--split expects train or test, got '" + o.split + "'");
    o.cifar100Labels = args.get(kCifar100LabelsOption);
    if (args.has(kCifar100LabelsOption) && o.cifar100Labels != "fine" &&
        o.cifar100Labels != "coarse")
        throw Error("--cifar100-labels expects fine or coarse, got '" + o.cifar100Labels + "'");
    return o;
}

void printOpenOptionsHelp() {
    std::fputs(kDecodeLimitHelp, stdout);
    std::fputs(kSplitHelp, stdout);
    std::fputs(kCifar100LabelsHelp, stdout);
}

std::vector<std::string> withOpenOptions(std::vector<std::string> known) {
    known.insert(known.end(), {kDecodeLimitOption, kSplitOption, kCifar100LabelsOption});
    return known;
}

std::optional<int> startDatasetCommand(const Args& args, const std::string& command,
                                       const char* help, std::vector<std::string> known) {
    if (args.has("help")) {
        std::fputs(help, stdout);
        printOpenOptionsHelp();
        return 0;
    }
    for (const auto& u : args.unknown(withOpenOptions(std::move(known))))
        return fail(command, "unknown option " + u + " (see batchscope " + command + " --help)");
    if (args.positional().size() != 1) return fail(command, "expects exactly one dataset PATH");
    return std::nullopt;
}

int fail(const std::string& command, const std::string& message, int status) {
    std::fprintf(stderr, "batchscope %s: %s\n", command.c_str(), message.c_str());
    return status;
}

}  // namespace bs::cli
