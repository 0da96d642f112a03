#!/usr/bin/env bash
# One training epoch on Fashion-MNIST (60000 images, batch 64, Adam lr 1e-3) for the MLP and the
# small CNN: `torchlean train --epochs 1` (its "train time X s", the loop only: no data loading or
# evaluation) against bench/peer_torch_epoch.py (PyTorch, same thread count, same timing scope).
# Prints seconds per epoch and the speed ratio torch/ours (> 1 means we are faster).
# Usage: bench/run_train_epoch.sh [BUILD_DIR] [DATA_DIR] [BACKEND]   (build first)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
data=${2:-/usr/share/datasets/fashion-mnist}
backend=${3:-compiled}
threads=$(nproc)
peer=$(mktemp)
trap 'rm -f "$peer"' EXIT
declare -A ours
for m in mlp cnn; do
  out=$("$build/tools/torchlean" train --model "$m" --epochs 1 --batch-size 64 --optimizer adam --lr 1e-3 \
    --backend "$backend" --data "$data")
  ours[$m]=$(printf '%s\n' "$out" | sed -n 's/^train time \([0-9.]*\) s.*/\1/p')
done
/usr/bin/python3 bench/peer_torch_epoch.py "$threads" "$data" >"$peer" 2>/dev/null || echo "(PyTorch peer unavailable)" >&2
printf 'one epoch of Fashion-MNIST, batch 64, Adam, seconds (threads: %s, torchlean backend: %s)\n' "$threads" "$backend"
printf '%-5s %10s %10s %12s\n' model torchlean torch torch/ours
for m in mlp cnn; do
  t=$(awk -v m="$m" '$1 == m { print $3 }' "$peer")
  awk -v m="$m" -v o="${ours[$m]}" -v t="${t:--}" \
    'BEGIN { printf "%-5s %10s %10s %12s\n", m, o, t, (t == "-" ? "-" : sprintf("%.2fx", t / o)) }'
done
