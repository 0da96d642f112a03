#!/usr/bin/env bash
# VNN-COMP 2021 benchmarks in ../shared/benchmarks (test and ACAS Xu) with `torchlean vnncomp`:
# counts (holds / violated / unknown / timeout / error) and times per instance, results CSVs and
# certificates in OUT (default build/vnncomp), every certificate checked by torchlean-check, and
# the answers compared with the competition's known results where this script knows them (test: all
# hold but test_sat); every `sat` counterexample is replayed independently by bench/replay_cex.py.
#   bench/run_vnncomp.sh [BUILD_DIR] [OUT] [TIMEOUT_CAP_S]
set -euo pipefail
build=${1:-build}
out=${2:-$build/vnncomp}
cap=${3:-60}
bench="$(cd "$(dirname "$0")/.." && pwd)/../shared/benchmarks/vnncomp2021"
tl="$build/tools/torchlean"
check="$build/certs/torchlean-check"
[ -d "$bench" ] || { echo "run_vnncomp.sh: $bench not found" >&2; exit 2; }
for b in test acasxu; do
  mkdir -p "$out/$b-certs"
  rm -f "$out/$b-certs"/*
  csv=$(ls "$bench/$b"/*instances.csv)
  echo "== $b: $csv (timeout cap $cap s)"
  t0=$(date +%s.%N)
  "$tl" vnncomp "$csv" --out "$out/$b.csv" --cert-dir "$out/$b-certs" --timeout-cap "$cap" > "$out/$b.txt" || true
  t1=$(date +%s.%N)
  tail -n 1 "$out/$b.txt"
  echo "   wall $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
  awk -F, 'NR > 1 { n = split($2, p, "/"); c[p[n] " " $3]++ } END { for (k in c) print "   " k ": " c[k] }' "$out/$b.csv" | sort
  n=0; bad=0; t0=$(date +%s.%N); bytes=0
  for c in "$out/$b-certs"/*__*.json; do
    [ -e "$c" ] || continue
    n=$((n + 1)); bytes=$((bytes + $(stat -c %s "$c")))
    "$check" "$c" > "$c.check.txt" 2>&1 || { bad=$((bad + 1)); echo "   NOT ACCEPTED: $c" >&2; }
  done
  t1=$(date +%s.%N)
  grep ',sat,' "$out/$b.csv" | while IFS=, read -r onnx prop _; do
    m=$(basename "$onnx"); p=$(basename "$prop")
    echo "$onnx,$prop,$out/$b-certs/${m%.*}__${p%.*}.result.txt"
  done > "$out/$b-sat.csv"
  if [ -s "$out/$b-sat.csv" ]; then
    /usr/bin/python3 "$(dirname "$0")/replay_cex.py" "$out/$b-sat.csv" > "$out/$b-replay.txt" ||
      { echo "run_vnncomp.sh: a counterexample did not replay (see $out/$b-replay.txt)" >&2; exit 1; }
    echo "   counterexamples: $(grep -c confirmed "$out/$b-replay.txt") replayed independently (exact rationals, bench/replay_cex.py): all violate"
  fi
  echo "   certificates: $n checked, $bad not accepted, $((bytes / 1024)) KiB, check wall $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"
done
# known answers of the test benchmark: every instance holds except test_sat
if grep -q 'test_sat.onnx,[^,]*,unsat' "$out/test.csv" || grep -Eq '(nano|tiny|small|test_unsat)\.onnx,[^,]*,sat,' "$out/test.csv"; then
  echo "run_vnncomp.sh: an answer contradicts the known result of the test benchmark" >&2
  exit 1
fi
