#!/usr/bin/env bash
# Run bench_train_step (TorchLean) and peer_torch_step.py (PyTorch, same thread count) and print
# a table of median step times with speed ratios (torch time / our time: > 1 means we are faster).
# Usage: bench/run_train_step.sh [BUILD_DIR]   (build first: cmake --build BUILD_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=$(nproc)
ours=$(mktemp) peer=$(mktemp)
trap 'rm -f "$ours" "$peer"' EXIT
"$build/bench/bench_train_step" >"$ours"
/usr/bin/python3 bench/peer_torch_step.py "$threads" >"$peer" 2>/dev/null || echo "(PyTorch peer unavailable)" >&2
printf 'one SGD step, median ms (threads: %s)\n' "$threads"
printf '%-5s %6s %10s %10s %10s %10s %12s %12s\n' model batch eager compiled sgemm torch torch/eager torch/compiled
awk 'FNR==NR { t[$1" "$2]=$4; next }
     { v[$1" "$2" "$3]=$4; k[$1" "$2]=1 }
     END {
       split("mlp 1,mlp 64,mlp 256,cnn 64", order, ",")
       for (i = 1; i <= 4; i++) { key = order[i]; if (!(key in k)) continue
         e = v[key" eager"]; c = v[key" compiled"]; s = (key" sgemm") in v ? v[key" sgemm"] : "-"
         tt = (key in t) ? t[key] : "-"
         split(key, kk, " ")
         printf "%-5s %6s %10s %10s %10s %10s %12s %12s\n", kk[1], kk[2], e, c, s, tt,
           (tt == "-" ? "-" : sprintf("%.2fx", tt / e)), (tt == "-" ? "-" : sprintf("%.2fx", tt / c))
       }
     }' "$peer" "$ours"
