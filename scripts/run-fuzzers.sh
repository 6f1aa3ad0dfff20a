#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz) with Debian's clang, ASan and
# UBSan into build-fuzz/ and runs each for a bounded time, starting from the
# committed seed corpus. Crashing inputs land in build-fuzz/fuzz-artifacts/;
# copy each one to tests/fuzz/regressions/<target>/ once fixed, so the normal
# test suite (test_fuzz_regressions) replays it.
#
#   scripts/run-fuzzers.sh [SECONDS_PER_TARGET] [TARGET...]   (default 60, all)
#   scripts/run-fuzzers.sh replay [TARGET...]
#
# `replay` (what CI runs) executes every committed seed and regression input
# of each target once under the instrumented fuzz binary, no new inputs: it
# fails when any of them crashes, leaks past ASan or trips UBSan.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
[ $# -gt 0 ] && shift
build=${BATCHSCOPE_FUZZ_BUILD:-$here/build-fuzz}

# clang and its libFuzzer runtime are in the project's package list.
"$here/scripts/install-deps.sh"

# SKIP_BUILD=1 reuses the binaries already in $build.
start=$(date +%s)
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    CC=clang CXX=clang++ cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DBATCHSCOPE_FUZZ=ON -DBATCHSCOPE_SANITIZE=ON -DBATCHSCOPE_BUILD_TESTS=OFF >/dev/null
    cmake --build "$build" -j"${JOBS:-2}" --target fuzzers
fi
echo "run-fuzzers.sh: build $(($(date +%s) - start)) s"

targets="$*"
[ -z "$targets" ] && targets=$(cd "$here/tests/fuzz" && ls fuzz_*.cpp | sed 's/^fuzz_//; s/\.cpp$//')
art="$build/fuzz-artifacts"
mkdir -p "$art"
# Leaks inside uninstrumented libraries (OpenCV/libtorch caches) are not
# ours; UBSan findings abort so libFuzzer records them.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
status=0
if [ "$seconds" = replay ]; then
    for t in $targets; do
        # Files as arguments: libFuzzer runs each once and writes nothing.
        files=$(find "$here/tests/fuzz/corpus/$t" "$here/tests/fuzz/regressions/$t" -type f 2>/dev/null | sort)
        n=$(echo "$files" | grep -c . || true)
        if [ "$n" -eq 0 ]; then
            echo "== fuzz_$t: no corpus"; status=1; continue
        fi
        # shellcheck disable=SC2086
        if "$build/tests/fuzz/fuzz_$t" -timeout=10 -rss_limit_mb=2048 $files >"$build/replay-$t.log" 2>&1; then
            echo "== fuzz_$t: replayed $n inputs"
        else
            status=1
            echo "== fuzz_$t: FAILED on replay: see $build/replay-$t.log"
            grep -E "ERROR|SUMMARY|runtime error|Running" "$build/replay-$t.log" | tail -5
        fi
    done
    echo "run-fuzzers.sh: replay $(($(date +%s) - start)) s since the build started, exit $status"
    exit $status
fi
for t in $targets; do
    work="$build/fuzz-corpus/$t"
    mkdir -p "$work"
    echo "== fuzz_$t: ${seconds}s"
    # -timeout: one input taking over 10 s is a hang (per-file limit);
    # -rss_limit_mb: a lying header must be refused before allocating.
    if "$build/tests/fuzz/fuzz_$t" "$work" "$here/tests/fuzz/corpus/$t" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$art/$t-" >"$build/fuzz-$t.log" 2>&1; then
        grep -E "^(Done|stat::number_of_executed_units)" "$build/fuzz-$t.log" | head -2
    else
        status=1
        echo "   FOUND A PROBLEM: see $build/fuzz-$t.log and $art/$t-*"
        grep -E "ERROR|SUMMARY|runtime error" "$build/fuzz-$t.log" | head -5
    fi
done
exit $status
