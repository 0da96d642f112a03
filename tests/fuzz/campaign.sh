#!/usr/bin/env bash
# tests/fuzz/campaign.sh - a long fuzzing campaign: RUNS executions per harness, in chunks of at most
# CHUNK seconds (so a shared machine's build lock can be released between chunks: LOCK=FILE runs each
# chunk under `flock FILE`), the corpus kept and grown in WORK between chunks and between campaigns.
#
#   RUNS=1000000 CHUNK=170 WORK=/tmp/tl-fuzz-campaign [LOCK=/path/to/lock] [DEADLINE=epoch-seconds] \
#     tests/fuzz/campaign.sh [--build DIR] [HARNESS...]
#
# Prints, and writes to WORK/campaign.txt, per harness: executions (summed over chunks), coverage and
# features at the end (libFuzzer's cov/ft), crashes (inputs in WORK/crashes/).  Exit 1 on any crash.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
runs=${RUNS:-1000000} chunk=${CHUNK:-170} work=${WORK:-/tmp/tl-fuzz-campaign} deadline=${DEADLINE:-0}
build=build-fuzz
if [ "${1:-}" = "--build" ]; then build=$2; shift 2; fi
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(npy csv idx model ir_json checkpoint onnx check check_model vnnlib)
mkdir -p "$work"
lock=()
[ -n "${LOCK:-}" ] && lock=(flock "$LOCK")
failed=0
for h in "${harnesses[@]}"; do
  done_execs=0 crashed=0
  while [ "$done_execs" -lt "$runs" ]; do
    if [ "$deadline" -gt 0 ] && [ "$(date +%s)" -ge "$deadline" ]; then break; fi
    rc=0
    "${lock[@]}" "$here/run.sh" --build "$build" --work "$work" --keep --time "$chunk" \
      --runs $((runs - done_execs)) "$h" >"$work/chunk.out" 2>&1 || rc=$?
    line=$(grep "^$h execs=" "$work/chunk.out" | tail -1 || true)
    n=$(sed -n 's/.* execs=\([0-9]*\).*/\1/p' <<<"$line")
    done_execs=$((done_execs + ${n:-0}))
    echo "  chunk: $line" >&2
    if [ $rc -ne 0 ] || [ -z "$n" ] || [ "$n" -eq 0 ]; then
      crashed=1
      cat "$work/chunk.out" >&2
      break
    fi
  done
  cov=$(sed -n 's/.* cov=\([0-9?]*\).*/\1/p' <<<"$line")
  ft=$(sed -n 's/.* ft=\([0-9?]*\).*/\1/p' <<<"$line")
  crashes=$(find "$work/crashes" -name "$h-*" 2>/dev/null | wc -l)
  corpus=$(find "$work/corpus/$h" -type f 2>/dev/null | wc -l)
  echo "$(date -u +%FT%TZ) $h execs=$done_execs cov=${cov:-?} ft=${ft:-?} corpus=$corpus crashes=$crashes" |
    tee -a "$work/campaign.txt"
  [ $crashed -eq 0 ] && [ "$crashes" -eq 0 ] || failed=1
done
exit $failed
