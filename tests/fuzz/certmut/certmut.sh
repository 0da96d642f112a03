#!/usr/bin/env bash
# tests/fuzz/certmut/certmut.sh - the long mutated-certificate campaign: TOTAL mutations in chunks of CHUNK,
# each chunk one `certmut` run with its own seed (SEED, SEED+1, ...), under `flock LOCK` when LOCK is set
# (a shared machine's build lock is released between chunks); stops starting chunks at DEADLINE (epoch
# seconds).  Sums the per-kind tables into WORK/certmut_campaign.txt; accepted false claims are saved as
# WORK/false_accept_*.json.  Exit 1 on any false accept (or a seed the checker or oracle refuses).
#
#   TOTAL=100000 CHUNK=10000 SEED=1 WORK=/tmp/certmut [LOCK=/work/build.lock] [DEADLINE=...] \
#     tests/fuzz/certmut/certmut.sh [--build DIR]
set -euo pipefail
total=${TOTAL:-100000} chunk=${CHUNK:-10000} seed=${SEED:-1} work=${WORK:-/tmp/certmut} deadline=${DEADLINE:-0}
build=build
if [ "${1:-}" = "--build" ]; then build=$2; shift 2; fi
bin=$build/tests/fuzz/certmut/certmut
[ -x "$bin" ] || { echo "certmut.sh: $bin missing: build the certmut target" >&2; exit 2; }
mkdir -p "$work"
lock=()
[ -n "${LOCK:-}" ] && lock=(flock "$LOCK")
done_n=0 k=0 failed=0 t0=$(date +%s)
: >"$work/chunks.txt"
while [ "$done_n" -lt "$total" ]; do
  if [ "$deadline" -gt 0 ] && [ "$(date +%s)" -ge "$deadline" ]; then break; fi
  n=$((total - done_n < chunk ? total - done_n : chunk))
  rc=0
  "${lock[@]}" "$bin" --count "$n" --seed $((seed + k)) --work "$work" >"$work/chunk_$k.txt" 2>"$work/chunk_$k.err" || rc=$?
  grep -E '^certmut:' "$work/chunk_$k.txt" | tee -a "$work/chunks.txt" >&2
  [ $rc -eq 0 ] || { failed=1; grep -A2 'FALSE ACCEPT\|not accepted' "$work/chunk_$k.err" >&2 || true; }
  done_n=$((done_n + n)) k=$((k + 1))
  [ -z "${LOCK:-}" ] || sleep 5 # let the lock's other users in between chunks
done
# the per-kind tables summed (columns 2..11 numbers, the last one "refuted/tried")
cat "$work"/chunk_*.txt | awk '
  $1 == "kind" { hdr = $0; next }
  NF == 12 && $2 ~ /^[0-9]+$/ { if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 }
    for (i = 2; i <= 11; i++) s[$1, i] += $i }
  END { print hdr; for (j = 1; j <= n; j++) { k = order[j]; line = sprintf("%-9s", k)
    for (i = 2; i <= 11; i++) line = line sprintf(" %7d", s[k, i]); print line } }' |
  tee "$work/certmut_campaign.txt"
echo "certmut.sh: $k chunks, $(($(date +%s) - t0)) s, exit $failed" | tee -a "$work/certmut_campaign.txt"
exit $failed
