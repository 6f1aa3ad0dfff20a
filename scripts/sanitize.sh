#!/bin/sh
# AddressSanitizer + UndefinedBehaviorSanitizer build of the whole test
# suite in build-asan/ (BATCHSCOPE_SANITIZE=ON), then ctest. CI runs it
# after `make test` (.ci/run). Measured on 2 shared cores from an empty
# build-asan/: build 990 s, tests 210 s (27 tests). Not part of `make test`,
# which stays the quick everyday run:
#
#   scripts/sanitize.sh [extra ctest args, e.g. -R robustness]
#
# TARGETS="test_robustness test_decode" builds only those tests (plus the
# CLI) and runs only them: a quicker partial run.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BATCHSCOPE_ASAN_BUILD:-$here/build-asan}
start=$(date +%s)
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBATCHSCOPE_SANITIZE=ON >/dev/null
if [ -n "${TARGETS:-}" ]; then
    # shellcheck disable=SC2086
    cmake --build "$build" -j"${JOBS:-2}" --target batchscope $TARGETS
    set -- -R "^($(echo $TARGETS | tr ' ' '|'))\$" "$@"
else
    cmake --build "$build" -j"${JOBS:-2}"
fi
built=$(date +%s)
# detect_leaks=0: libtorch/OpenCV/Qt keep process-lifetime caches that LSan
# reports; leaks in our code are caught by ASan's use-after-free/overflow
# checks, not by this run. new_delete_type_mismatch=0: libtorch is built
# without sized deallocation. UBSan stops at the first finding so ctest
# reports the test as failed.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:new_delete_type_mismatch=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
rc=0
(cd "$build" && ctest --output-on-failure --no-tests=error --timeout 1800 "$@") || rc=$?
end=$(date +%s)
echo "sanitize.sh: build $((built - start)) s, tests $((end - built)) s, exit $rc"
exit $rc
