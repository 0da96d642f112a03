#!/usr/bin/env bash
# Install the Debian packages that the build, the tests and the demo need, only when missing.
# Idempotent and quiet when there is nothing to do.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang-format clang libclang-rt-14-dev
      libopenblas-dev libmpfr-dev libgmp-dev libmpfi-dev libcjson-dev libcriterion-dev
      zlib1g-dev nettle-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev
      python3 python3-numpy python3-torch python3-onnx
      dataset-fashion-mnist)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
