#!/usr/bin/env bash
# The asan preset (clang, AddressSanitizer + UndefinedBehaviorSanitizer, build/asan). With no
# argument, what CI runs: builds core, its tests and the libFuzzer targets, then runs core's tests
# under the sanitizers and each fuzz target over its seed corpus (tests/fuzz/corpus), so that a
# memory error, undefined behaviour or a parser regression fails CI. With --all it also builds the
# CLI and runs its tests under the sanitizers (about 10 minutes more; run it before resolving an
# issue that touches input handling). With --fuzz-only it builds and runs only the fuzz targets.
# See README "Sanitizers and fuzzing".
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
cmake --preset asan
case "${1:-}" in
    "")
        cmake --build --preset asan-core
        ctest --preset asan-core
        ;;
    --all)
        cmake --build --preset asan
        ctest --preset asan
        ;;
    --fuzz-only)
        cmake --build --preset fuzz
        ctest --preset asan -L fuzz
        ;;
    *)
        echo "test-asan: unknown option '$1' (expected nothing, --all or --fuzz-only)" >&2
        exit 2
        ;;
esac
