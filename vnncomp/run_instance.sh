#!/usr/bin/env bash
# VNN-COMP tool interface: run_instance.sh v1 BENCHMARK ONNX VNNLIB RESULTS_FILE TIMEOUT
# Writes sat (with the counterexample), unsat, unknown, timeout or error to RESULTS_FILE.  The
# certificate of an unsat answer goes next to it (RESULTS_FILE.cert.json) for torchlean-check.
set -uo pipefail
[ "${1:-}" = "v1" ] || { echo "run_instance.sh: expected version string v1, got '${1:-}'" >&2; exit 1; }
[ $# -eq 6 ] || { echo "usage: run_instance.sh v1 BENCHMARK ONNX VNNLIB RESULTS_FILE TIMEOUT" >&2; exit 1; }
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/build-vnncomp/tools/torchlean"
[ -x "$bin" ] || bin="$root/build/tools/torchlean"
onnx="$3" prop="$4" result="$5" timeout="$6"
# a little under the competition's limit: the answer must be written before the harness kills us
budget=$(awk -v t="$timeout" 'BEGIN { b = t - 2; if (b < 1) b = t * 0.9; print b }')
timeout --kill-after=1 "$timeout" "$bin" vnnlib "$onnx" "$prop" --timeout "$budget" --out "$result" \
  --cert "$result.cert.json" >/dev/null
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
  echo timeout > "$result"
elif [ $rc -ne 0 ]; then
  echo error > "$result"
fi
exit 0
