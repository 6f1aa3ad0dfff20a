// batchscope entry point: subcommands run headless; anything else opens the
// inspector window.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli.h"
#include "core/decode/decode.h"
#include "ui/inspector/gui_main.h"

namespace {

const char* kUsage = R"(batchscope - see what your PyTorch input pipeline does to every sample

Usage:
  batchscope [PATH]                open the inspector (the demo dataset without PATH)
  batchscope dump PATH --pipeline FILE --indices 0,5,9 --out OUT.npy [--stage K]
                                   write pipeline outputs of some samples as .npy
  batchscope audit PATH [options]  scan a dataset through a pipeline and report anomalies
  batchscope merge PART.json... --report OUT.json
                                   combine the partial reports of `audit --shard I/N`
  batchscope bench PATH [options]  measure loader throughput
  batchscope compare DUMP [options] compare batches dumped from Python with a reproduction
  batchscope --help | --version

PATH may be an ImageFolder root, a flat folder of images, MNIST-style IDX
files, a CSV manifest (path,label), a .npy/.npz array, a .pt tensor dump, or
WebDataset shards (a .tar/.tar.gz/.tar.zst file, a folder of them, or a
quoted brace pattern such as 'data/shard-{000000..000099}.tar'), or a
dataset with targets: Pascal VOC segmentation, COCO detection
(instances_*.json), YOLO (images/ + labels/), or images/ + masks/ folders.
Run `batchscope <command> --help` for the options of each command.
)";

// A decode abandoned at its time limit may still be running on a helper
// thread; static destructors must not run under it, so leave without them.
int finish(int status) {
    if (bs::abandonedDecodesRunning() > 0) {
        std::fflush(nullptr);
        std::_Exit(status);
    }
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> rest;
    for (int i = 2; i < argc; ++i) rest.emplace_back(argv[i]);
    const std::string first = argc > 1 ? argv[1] : "";
    try {
        if (first == "--help" || first == "-h" || first == "help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (first == "--version") {
            std::printf("batchscope %s\n", BATCHSCOPE_VERSION);
            return 0;
        }
        if (first == "dump") return finish(bs::cli::runDump(rest));
        if (first == "audit") return finish(bs::cli::runAudit(rest, argc, argv));
        if (first == "merge") return finish(bs::cli::runMerge(rest, argc, argv));
        if (first == "bench") return finish(bs::cli::runBench(rest));
        if (first == "compare") return finish(bs::cli::runCompare(rest));
        if (!first.empty() && first[0] == '-' && first != "-platform") {
            std::fprintf(stderr, "batchscope: unknown option '%s' (see batchscope --help)\n", first.c_str());
            return 2;
        }
    } catch (const std::exception& e) {
        return bs::cli::fail(first, e.what());
    }
    return finish(bs::ui::runGui(argc, argv));
}
