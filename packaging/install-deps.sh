#!/usr/bin/env bash
# Installs the Debian 12 packages SDE Studio builds and tests with. Idempotent: when everything
# is present it does nothing; otherwise it runs apt-get update, then installs what is missing.
set -euo pipefail

packages=(
    cmake ninja-build g++ ccache pkg-config
    libtorch-dev            # LibTorch 1.13 (CPU)
    libgloo-dev             # Gloo's headers, which LibTorch's c10d ProcessGroupGloo needs: data-parallel training
    libspdlog-dev           # logging
    nlohmann-json3-dev      # JSON: configs, safetensors headers, PNG records, checkpoints
    libcli11-dev            # the CLI's options, subcommands and help
    clang-format-14         # CI checks that every source file follows .clang-format
    clang libclang-rt-14-dev # libFuzzer and the sanitizers' runtimes: the asan preset, tests/fuzz
    libopencv-dev           # images and video in core's imaging part
    zlib1g-dev              # checkpoint archives (deflate, CRC-32), gzip-compressed IDX data sets
    libjpeg62-turbo-dev     # JPEG files checked before OpenCV decodes them
    libtiff-dev             # TIFF files checked before OpenCV decodes them
    qt6-base-dev            # Qt 6 Widgets and Qt Test
    libqcustomplot-dev libqcustomplot2.1-qt6
    xvfb xauth              # a virtual display for screenshots of the studio
    help2man                # sdestudio-cli's manual page, made from its --help
    dataset-fashion-mnist   # training data for the bundled models
    mate-backgrounds        # the nature photographs the bundled RGB model was trained on
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages are installed"
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
