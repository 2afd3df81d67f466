#!/usr/bin/env bash
# The asan preset (clang, AddressSanitizer + UndefinedBehaviorSanitizer, build/asan): builds the
# libFuzzer targets and runs each over its seed corpus (tests/fuzz/corpus), so that a parser
# regression fails CI. With --all it also builds core's and the CLI's tests and runs them under
# the sanitizers (ctest --preset asan; too long for CI's budget, see README "Sanitizers and fuzzing").
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
cmake --preset asan
if [ "${1:-}" = "--all" ]; then
    cmake --build --preset asan
    ctest --preset asan
else
    cmake --build --preset fuzz
    ctest --preset asan -L fuzz
fi
