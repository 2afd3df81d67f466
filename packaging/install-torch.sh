#!/usr/bin/env bash
# Installs the official LibTorch 2.x with CUDA (PyPI's `torch` wheel, pinned below) into the
# project-local virtual environment .venv-torch (ignored by git), for the `cuda` build flavor.
# Idempotent: does nothing when the pinned version is already there. The wheel carries the C++
# headers, the CMake config (torch.utils.cmake_prefix_path) and the libraries, built with the C++11
# ABI, so it links with Debian's Qt and OpenCV. Its CUDA libraries come as PyPI wheels too
# (nvidia-*-cu13); running on a GPU needs an NVIDIA driver for CUDA 13.0 (580 or newer).
set -euo pipefail
cd "$(dirname "$0")/.."

torch_version="2.11.0"   # CUDA 13.0 build on PyPI; keep in step with tests/gpu/run_gpu_checks.sh
venv=".venv-torch"

if [ -x "$venv/bin/python" ] &&
   [ "$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null)" = "$torch_version" ]; then
    echo "install-torch: torch $torch_version is installed in $venv"
    exit 0
fi

python=python3
probe="$(mktemp -d)"
if ! "$python" -m venv "$probe/venv" >/dev/null 2>&1; then
    # Debian splits venv and ensurepip out of python3.
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    echo "install-torch: installing python3-venv"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends python3-venv
fi
rm -rf "$probe"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
echo "install-torch: installing torch==$torch_version with its CUDA libraries into $venv (about 4 GB)"
"$venv/bin/python" -m pip install --quiet ${SDE_TORCH_FIND_LINKS:+--find-links "$SDE_TORCH_FIND_LINKS"} \
    "torch==$torch_version"
"$venv/bin/python" -W ignore -c 'import torch, torch.utils; print("install-torch: torch", torch.__version__, "CUDA", torch.version.cuda, "at", torch.utils.cmake_prefix_path)'
