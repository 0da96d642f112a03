#!/usr/bin/env bash
# The README's main command: set up, build, then run the main job end to end on Fashion-MNIST
# (Debian's dataset-fashion-mnist): train a classifier, evaluate the saved model file.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
out=build/demo
mkdir -p "$out"
tl=./build/tools/torchlean
echo "== train an MLP 784-128-10 on Fashion-MNIST (1 epoch)"
$tl train --model mlp --epochs 1 --out "$out/mlp.tlm" --log "$out/mlp-train.json"
echo "== evaluate the saved model file on the 10000 test images"
$tl evaluate "$out/mlp.tlm"
