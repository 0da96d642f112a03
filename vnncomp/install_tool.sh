#!/usr/bin/env bash
# VNN-COMP tool interface: install_tool.sh v1
# Installs the Debian packages TorchLean needs and builds it (Release) into build-vnncomp/.
set -euo pipefail
[ "${1:-}" = "v1" ] || { echo "install_tool.sh: expected version string v1, got '${1:-}'" >&2; exit 1; }
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$root/build-vnncomp" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DTL_CUDA=OFF >/dev/null
cmake --build "$root/build-vnncomp" -j "$(nproc)" --target torchlean-cli torchlean-check
