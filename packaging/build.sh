#!/usr/bin/env bash
# Configures and builds SDE Studio with the "release" preset (build/release). Used by run.sh and
# test.sh; extra arguments go to the configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release "$@"
cmake --build --preset release
