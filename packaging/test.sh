#!/usr/bin/env bash
# Installs what is missing, checks the formatting, builds, and runs the whole test suite (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
# Formatting first: a file that does not follow .clang-format fails the run in seconds.
bash packaging/check-format.sh
bash packaging/build.sh
ctest --preset release
