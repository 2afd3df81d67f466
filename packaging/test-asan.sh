#!/usr/bin/env bash
# The asan preset (clang, AddressSanitizer + UndefinedBehaviorSanitizer, build/asan): builds core,
# the CLI, their tests and the libFuzzer targets, then runs core's and the CLI's tests under the
# sanitizers and each fuzz target over its seed corpus (tests/fuzz/corpus), so that a memory error,
# undefined behaviour or a parser regression fails CI. With --fuzz-only it builds and runs only the
# fuzz targets (a few minutes less to build; see README "Sanitizers and fuzzing").
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
cmake --preset asan
if [ "${1:-}" = "--fuzz-only" ]; then
    cmake --build --preset fuzz
    ctest --preset asan -L fuzz
else
    cmake --build --preset asan
    ctest --preset asan
fi
