#!/usr/bin/env bash
# IBP and CROWN time per image vs a float32 forward pass, and checker vs verifier time, on trained
# Fashion-MNIST models (MLP 784-128-10 and the small CNN, 1 epoch each).
# Usage: bash bench/run_verify_models.sh [BUILD_DIR (build)] [IMAGES (20)]
set -euo pipefail
cd "$(dirname "$0")/.."
b=${1:-build}
n=${2:-20}
mkdir -p "$b/bench-models"
for m in mlp cnn; do
  f="$b/bench-models/$m.tlm"
  [ -f "$f" ] || "$b/tools/torchlean" train --model "$m" --epochs 1 --out "$f" > /dev/null
  for eps in 0.00392156862745098 0.00784313725490196; do
    "$b/bench/bench_verify_models" "$f" "$n" "$b/certs/torchlean-check" "$eps"
  done
done
