#!/usr/bin/env bash
# The GPU checks, on a machine with an NVIDIA GPU: builds the CUDA flavor without Qt (core, CLI,
# test_gpu and the benchmarks, as the preset cuda-server does, into build/gpu-checks) against the
# PyTorch it finds, runs test_gpu and the GPU benchmarks, and prints the figures. Sized to finish in under 8 minutes on one GPU
# (about 3 on an H200 with the build done).
#
#   tests/gpu/run_gpu_checks.sh                  build here, then check
#   tests/gpu/run_gpu_checks.sh ... --tests-only  test_gpu alone, no benchmarks
#   tests/gpu/run_gpu_checks.sh --prebuilt DIR   check binaries built elsewhere against the same
#                                                LibTorch version: DIR holds test_gpu,
#                                                bench_score_network, bench_training,
#                                                bench_data_parallel and lib/
#                                                with the libraries they need besides LibTorch
#                                                (spdlog, fmt), for a GPU machine without them
#
# LibTorch: PYTHON's torch (default: .venv-torch/bin/python when present, else python3); its
# version should be packaging/install-torch.sh's. Exit status: test_gpu's (0 all passed).
set -uo pipefail
cd "$(dirname "$0")/../.."

prebuilt=""
tests_only=0
usage() {
    echo "usage: run_gpu_checks.sh [--prebuilt DIR] [--tests-only]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case "$1" in
    --prebuilt)
        [ $# -ge 2 ] && [ -d "$2" ] || { echo "run_gpu_checks: --prebuilt needs a folder" >&2; usage; }
        prebuilt="$(cd "$2" && pwd)"
        shift 2
        ;;
    --tests-only) tests_only=1; shift ;;
    *) usage ;;
    esac
done
python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x .venv-torch/bin/python ]; then python=.venv-torch/bin/python; else python=python3; fi
fi
torch_lib="$("$python" -W ignore -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')" || {
    echo "run_gpu_checks: $python has no torch" >&2
    exit 2
}
echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
"$python" -W ignore -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "GPU", torch.cuda.is_available())'
nproc

if [ -n "$prebuilt" ]; then
    bin="$prebuilt"
    # LibTorch, the CUDA libraries of its wheels (nvidia/*/lib beside it) and the carried ones.
    paths="$torch_lib"
    for folder in "$torch_lib"/../../nvidia/*/lib; do
        [ -d "$folder" ] && paths="$paths:$(cd "$folder" && pwd)"
    done
    export LD_LIBRARY_PATH="$paths:$prebuilt/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    ldd "$bin/test_gpu" | grep "not found" || true
else
    echo "== build (preset cuda-server)"
    start=$(date +%s)
    # SDE_TORCH_VENV: the Python's prefix, whose torch the top-level CMakeLists finds (and prefers
    # to any system LibTorch).
    python_prefix="$("$python" -c 'import sys; print(sys.prefix)')"
    mkdir -p build/gpu-checks
    cmake -S . -B build/gpu-checks -G Ninja -DCMAKE_BUILD_TYPE=Release -DSDE_BUILD_GUI=OFF -DSDE_BUILD_TESTS=OFF \
        -DSDE_BUILD_BENCH=ON -DSDE_TORCH_VENV="$python_prefix" >build/gpu-checks/configure.log 2>&1 || {
        tail -30 build/gpu-checks/configure.log
        exit 2
    }
    cmake --build build/gpu-checks --target test_gpu bench_score_network bench_training bench_data_parallel \
        sdestudio-cli || exit 2
    echo "build: $(($(date +%s) - start)) s"
    bin=build/gpu-checks
    bin_tests="$bin/tests/gpu"
    bin_bench="$bin/tests/bench"
fi
bin_tests="${bin_tests:-$bin}"
bin_bench="${bin_bench:-$bin}"
export SDE_MODELS_DIR="$PWD/models/bundled" SDE_PRESETS_DIR="$PWD/models/presets"

echo "== test_gpu"
timeout 240 "$bin_tests/test_gpu" --models "$PWD/models/bundled"
status=$?
echo "test_gpu exit status: $status"
if [ "$tests_only" = 1 ] || [ "$status" = 77 ]; then
    exit $status
fi

echo "== bench_score_network --device cuda (CIFAR-10 NCSN++ continuous, random weights)"
timeout 75 "$bin_bench/bench_score_network" --device cuda --preset ve/cifar10_ncsnpp_continuous --batches 1,64 --seconds 2

echo "== bench_score_network --device cuda (the bundled Fashion-MNIST architecture)"
timeout 75 "$bin_bench/bench_score_network" --device cuda --model fashion-mnist --batches 1,64 --seconds 2 \
    2>&1 || true

echo "== bench_training --device cuda (the bundled Fashion-MNIST config)"
timeout 75 "$bin_bench/bench_training" --device cuda --model fashion-mnist --precisions float32,bfloat16,float16 \
    --steps 200 --warmup 20
echo "== bench_training --device cuda (CIFAR-10 DDPM++ continuous, batch 128)"
timeout 75 "$bin_bench/bench_training" --device cuda --preset vp/cifar10_ddpmpp_continuous --batch 128 \
    --precisions float32,bfloat16,float16 --steps 20 --warmup 5
# NCCL: a rank a GPU. One process alone, then as a job of one rank (the collectives' and the
# reducer's cost), then the job over every GPU of the machine when it has more than one.
gpus="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')" || gpus=1
echo "== bench_data_parallel --device cuda (NCCL, the bundled Fashion-MNIST config, batch 128; $gpus GPU(s))"
timeout 60 "$bin_bench/bench_data_parallel" --device cuda --batch 128 --processes 1 --steps 100 --warmup 10
timeout 60 "$bin_bench/bench_data_parallel" --device cuda --batch 128 --processes 1 --steps 100 --warmup 10 \
    --group-of-one
if [ "$gpus" -gt 1 ]; then
    timeout 120 "$bin_bench/bench_data_parallel" --device cuda --batch 128 --processes "$(seq -s, 1 "$gpus")" \
        --steps 100 --warmup 10
fi
exit $status
