#!/usr/bin/env bash
# tests/fuzz/run.sh - run the libFuzzer harnesses of a fuzz build on their seed corpora.
#
#   tests/fuzz/run.sh [--build DIR] [--work DIR] [--time S] [--runs N] [--keep] [HARNESS...]
#
# --build  the fuzz build folder (CC=clang, -DTL_SANITIZE=ON -DTL_FUZZ=ON; target fuzz_all) [build-fuzz]
# --work   scratch folder: seeds/, corpus/ (what the fuzzer finds), crashes/, logs/, summary.txt
#          [a new temp folder]
# --time   seconds per harness (libFuzzer -max_total_time; 0: no limit) [10]
# --runs   executions per harness (libFuzzer -runs; -1: no limit) [-1]
# --keep   keep (and grow) the corpus already in --work instead of starting from the seeds alone
# HARNESS  npy csv idx model ir_json checkpoint onnx check check_model vnnlib [all of them]
#
# Seeds: the fixtures (tests/fixtures/npy, idx, csv with an options byte in front), model files and
# IR JSON written by make_seeds, the trainer's own checkpoint, the certificates of seeds/check, the
# ONNX fixtures (tests/fixtures/onnx, refused ones included), seeds/onnx (past findings) and the VNN-LIB
# properties of seeds/vnnlib (the competition properties and tests/fixtures/vnnlib).
# One line per harness: executions, coverage (libFuzzer's cov: edges, ft: features), crashes.
# Exit status 1 when any harness crashed, leaked, hit undefined behaviour or timed out; the input is
# in WORK/crashes/ (reproduce: BUILD/tests/fuzz/fuzz_HARNESS FILE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=build-fuzz work="" time=10 runs=-1 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
  --build) build=$2; shift 2 ;;
  --work) work=$2; shift 2 ;;
  --time) time=$2; shift 2 ;;
  --runs) runs=$2; shift 2 ;;
  --keep) keep=1; shift ;;
  -*) echo "run.sh: unknown flag $1" >&2; exit 2 ;;
  *) break ;;
  esac
done
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(npy csv idx model ir_json checkpoint onnx check check_model vnnlib)
bin=$build/tests/fuzz
[ -x "$bin/make_seeds" ] || { echo "run.sh: $bin/make_seeds missing: build the fuzz_all target" >&2; exit 2; }
[ -n "$work" ] || work=$(mktemp -d /tmp/tl-fuzz.XXXXXX)
mkdir -p "$work"/{seeds,corpus,crashes,logs}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# seeds/<harness>: rebuilt every time (cheap)
s=$work/seeds
rm -rf "$s" && mkdir -p "$s"/{npy,csv,idx,model,ir_json,checkpoint,onnx,check,check_model,vnnlib}
cp "$src"/tests/fixtures/npy/*.npy "$s/npy/"
cp "$src"/tests/fixtures/idx/*.idx "$src"/tests/fixtures/idx/*.gz "$s/idx/"
for f in "$src"/tests/fixtures/csv/*.csv; do # options byte 0: ',', detect the header, f32
  { printf '\0'; cat "$f"; } >"$s/csv/$(basename "$f")"
done
"$bin/make_seeds" "$s/model" "$s/ir_json"
cp "$s"/model/*.tlm "$s/check_model/"
TL_FUZZ_SEED="$s/checkpoint/adam_fixed_digest" "$bin/fuzz_checkpoint" >/dev/null 2>&1
{ printf '\0'; tail -c +2 "$s/checkpoint/adam_fixed_digest"; } >"$s/checkpoint/adam"
cp "$here"/seeds/check/*.json "$s/check/"
cp "$src"/tests/fixtures/onnx/*.onnx "$here"/seeds/onnx/*.onnx "$s/onnx/"
cp "$here"/seeds/vnnlib/*.vnnlib "$s/vnnlib/"

declare -A dict=([csv]=csv.dict [ir_json]=ir_json.dict [model]=ir_json.dict [check]=cert.dict [onnx]=onnx.dict [vnnlib]=vnnlib.dict)
failed=0
for h in "${harnesses[@]}"; do
  [ -x "$bin/fuzz_$h" ] || { echo "run.sh: no harness fuzz_$h in $bin" >&2; exit 2; }
  [ $keep -eq 1 ] || rm -rf "$work/corpus/$h"
  mkdir -p "$work/corpus/$h"
  args=(-max_total_time="$time" -runs="$runs" -timeout=25 -rss_limit_mb=4096 -print_final_stats=1
        -artifact_prefix="$work/crashes/$h-")
  [ -n "${dict[$h]:-}" ] && args+=(-dict="$here/dict/${dict[$h]}")
  log=$work/logs/$h.log
  t0=$(date +%s)
  rc=0
  "$bin/fuzz_$h" "${args[@]}" "$work/corpus/$h" "$s/$h" >"$log" 2>&1 || rc=$?
  secs=$(($(date +%s) - t0))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "$work/crashes" -name "$h-*" | wc -l)
  line="$h execs=${execs:-?} cov=${cov:-?} ft=${ft:-?} crashes=$crashes seconds=$secs rc=$rc"
  echo "$line" | tee -a "$work/summary.txt"
  if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 || true
  fi
done
echo "fuzz work folder: $work"
exit $failed
