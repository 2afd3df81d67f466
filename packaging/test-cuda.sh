#!/usr/bin/env bash
# The second build flavor, as CI runs it after packaging/test.sh: installs the official LibTorch
# 2.x with CUDA (packaging/install-torch.sh: PyPI's torch wheel in .venv-torch), builds the `cuda`
# preset (studio, CLI and tests; the benchmarks are left to tests/gpu/run_gpu_checks.sh) and runs
# the whole test suite. Without a GPU everything runs on the CPU; test_gpu (label "gpu") is then
# skipped with a message saying so. Needs the CUDA toolkit (nvcc) for LibTorch's CMake config.
# Then, where the default flavor was built (build/release), its two tests of torchrun's agent store,
# which need the wheel's torchrun.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
bash packaging/install-torch.sh
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
    export PATH="/usr/local/cuda/bin:$PATH"
fi
if ! command -v nvcc >/dev/null 2>&1; then
    echo "test-cuda: LibTorch's CMake config needs the CUDA toolkit 13.0 (nvcc), which is not installed" >&2
    exit 1
fi
cmake --preset cuda
cmake --build --preset cuda
ctest --preset cuda
# The default flavor's client of torchrun's agent store (LibTorch 1.13 against the wheel's
# PyTorch 2.x launcher and store), now that .venv-torch is here; packaging/test.sh, which has no
# wheel, skips these two. SDE_TORCH_VENV makes a missing torchrun a failure, not a skip.
if [ -x build/release/tests/test_cli ] && [ -x build/release/tests/test_data_parallel ]; then
    export QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 SDE_PRESETS_DIR="$PWD/models/presets"
    export SDE_TORCH_VENV="$PWD/.venv-torch"
    build/release/tests/test_data_parallel agentStoreSpeaksTheLaunchersProtocol
    build/release/tests/test_cli dataParallelTrainingUnderTorchrun
else
    echo "test-cuda: no default-flavor build in build/release (packaging/test.sh makes it): its torchrun tests did not run"
fi
