#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs SDE Studio. Until the studio and the
# bundled models exist, that is the CLI describing the reference's NCSN++ fixture checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
bash packaging/build.sh
fixture=tests/data/reference/fixtures/ncsnpp_ve_small
build/release/app/sdestudio-cli info "$fixture/checkpoint.pth" --config "$fixture/config.json"
