#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs SDE Studio. Until the studio exists,
# that is the CLI generating garments with the bundled Fashion-MNIST model (and, with the bundled
# classifier, a row of one class), written to out/ as PNGs that carry their settings.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
bash packaging/build.sh
cli=build/release/app/sdestudio-cli
"$cli" info fashion-mnist
"$cli" sample --model fashion-mnist --batch 16 --steps 500 --seed 1 -o out/fashion-mnist
"$cli" sample --model fashion-mnist --classifier fashion-mnist-classifier --class Dress --guidance 2 \
    --batch 8 --steps 500 --seed 100 -o out/fashion-mnist-dress
"$cli" sample --model toy-2d --batch 2000 --steps 500 --seed 1 -o out/toy-2d
echo "run.sh: images in out/ (grid.png in each folder)"
