#!/usr/bin/env bash
# The README's main command: set up, build, then run the main job end to end on Fashion-MNIST
# (Debian's dataset-fashion-mnist): train classifiers, certify their robustness, and check every
# certificate with the independent checker.
#
#   1. train an MLP (784-128-10) and a small CNN for 1 epoch each, save them as model files;
#   2. `torchlean verify`: the first N test images (DEMO_N, default 100) at eps = 1/255 and 2/255
#      in pixel space, with IBP and CROWN, in f32-any semantics (a claim about ANY float32
#      evaluation of the saved model); counterexamples by PGD, confirmed exactly and in float32;
#   3. `torchlean-check CERT --model MODEL` on every certificate file: it recomputes the graph hash
#      and every bound with exact arithmetic and must ACCEPT all of them;
#   4. a certified-accuracy table: model x method x eps;
#   5. `torchlean vnncomp` on VNN-COMP 2021 instances in ../shared (ONNX networks, VNN-LIB
#      properties): the test benchmark and ACAS Xu properties 3 and 4 on networks 1_6..1_9, with
#      input splitting; every unsat certificate checked (DEMO_VNNCOMP=0 skips it; the whole ACAS Xu
#      benchmark: bench/run_vnncomp.sh).
# DEMO_CNN=0 skips the CNN; DEMO_CNN_N (default 25) sets how many images the CNN is verified on
# (its certificates are ~2 MB per image and take ~0.3 s each to check).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
out=build/demo
mkdir -p "$out"
tl=./build/tools/torchlean
check=./build/certs/torchlean-check
N=${DEMO_N:-100}
CNN=${DEMO_CNN:-1}
CNN_N=${DEMO_CNN_N:-25}
t_start=$(date +%s)

echo "== train an MLP 784-128-10 on Fashion-MNIST (1 epoch)"
$tl train --model mlp --epochs 1 --out "$out/mlp.tlm" --log "$out/mlp-train.json" | tail -n 2
models="mlp"
if [ "$CNN" = 1 ]; then
  echo "== train the small CNN (1 epoch)"
  $tl train --model cnn --epochs 1 --out "$out/cnn.tlm" --log "$out/cnn-train.json" | tail -n 2
  models="mlp cnn"
fi

rows="$out/table.txt"
: > "$rows"
for m in $models; do
  n=$N
  [ "$m" = cnn ] && n=$CNN_N
  echo "== verify the first $n test images of the $m: eps 1/255 and 2/255, IBP and CROWN, f32-any"
  rm -f "$out/$m"-cert*.json*
  $tl verify "$out/$m.tlm" --first "$n" --eps 1/255,2/255 --method ibp,crown --semantics f32-any \
    --cert "$out/$m-cert.json" --quiet > "$out/$m-verify.txt"
  grep -v '^summary ' "$out/$m-verify.txt"
  echo "== check every certificate of the $m with torchlean-check (independent, exact; 2 files at a time)"
  grep '^summary ' "$out/$m-verify.txt" | sed -n 's/.* cert=\([^ ]*\).*/\1/p' |
    xargs -P 2 -I{} bash -c 't0=$(date +%s.%N); '"$check"' "$1" --model "$2" > "$1.check.txt"; echo $? > "$1.rc";
      awk "BEGIN{print $(date +%s.%N) - $t0}" > "$1.time"' _ {} "$out/$m.tlm"
  while read -r line; do
    kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<< "$line"; }
    cert=$(kv cert)
    if [ "$(cat "$cert.rc")" != 0 ]; then
      echo "torchlean-check did not ACCEPT $cert:" >&2
      grep -Ev ': (ACCEPT|UNKNOWN)( |$)' "$cert.check.txt" | head -n 5 >&2
      exit 1
    fi
    echo "$cert: $(tail -n 1 "$cert.check.txt") ($(grep '^summary' "$cert.check.txt"))"
    printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$m" "$(kv method)" "$(kv eps)" "$(kv n)" "$(kv clean)" \
      "$(kv verified)" "$(kv falsified)" "$(kv unknown)" "$(kv certified)" "$(kv ms_per_sample)" \
      "$(cat "$cert.time")" >> "$rows"
  done < <(grep '^summary ' "$out/$m-verify.txt")
done

echo
echo "== certified accuracy (f32-any semantics: holds for ANY float32 evaluation order of the saved model)"
printf '%-5s %-6s %-6s %5s %7s %9s %10s %8s %10s %14s %12s\n' model method eps n clean verified falsified \
  unknown certified "verify ms/img" "check s"
while read -r m meth eps n clean ver fal unk cert ms chk; do
  awk -v m="$m" -v meth="$meth" -v eps="$eps" -v n="$n" -v clean="$clean" -v ver="$ver" -v fal="$fal" \
    -v unk="$unk" -v cert="$cert" -v ms="$ms" -v chk="$chk" 'BEGIN{printf "%-5s %-6s %-6s %5d %6.1f%% %9d %10d %8d %9.1f%% %14.2f %12.2f\n", m, meth, eps, n, 100 * clean / n, ver, fal, unk, 100 * cert / n, ms, chk}'
done < "$rows"
echo "torchlean-check ACCEPTed every certificate above: every verified and falsified claim re-checked, unknown samples' bounds checked (graph hash and weights bound to the model file)"

# 5. models and properties from outside: the VNN-COMP 2021 benchmarks beside the checkout (the test
# instances; ACAS Xu properties 3 and 4 on the networks 1_6..1_9, with input splitting, 2 s each)
vnn=../shared/benchmarks/vnncomp2021
if [ "${DEMO_VNNCOMP:-1}" = 1 ] && [ -d "$vnn" ]; then
  grep -E '^ACASXU_run2a_1_[6-9]_batch_2000.onnx,prop_[34].vnnlib,' "$vnn/acasxu/acasxu_instances.csv" |
    sed "s|^|$PWD/$vnn/acasxu/|; s|,prop|,$PWD/$vnn/acasxu/prop|" > "$out/acasxu-props34.csv"
  for b in test acasxu; do
    csv="$vnn/test/test_instances.csv"
    [ "$b" = acasxu ] && csv="$out/acasxu-props34.csv"
    echo
    echo "== VNN-COMP 2021 $b instances ($(wc -l < "$csv")): ONNX + VNN-LIB through torchlean vnncomp"
    rm -rf "$out/vnncomp-$b" && mkdir -p "$out/vnncomp-$b"
    $tl vnncomp "$csv" --out "$out/vnncomp-$b.csv" --cert-dir "$out/vnncomp-$b" --timeout-cap 2 \
      > "$out/vnncomp-$b.txt"
    tail -n 1 "$out/vnncomp-$b.txt"
    n=$(find "$out/vnncomp-$b" -name '*__*.json' | wc -l)
    find "$out/vnncomp-$b" -name '*__*.json' -print0 |
      xargs -0 -r -P 2 -I{} sh -c '"$1" "$2" > "$2.check.txt" || { echo "torchlean-check did not ACCEPT $2" >&2; exit 255; }' _ "$check" {}
    echo "torchlean-check ACCEPTed all $n certificates of unsat answers (split covers included); every sat"
    echo "answer's counterexample was confirmed exactly and in float32 (result files in $out/vnncomp-$b)"
  done
fi
echo "demo time: $(($(date +%s) - t_start)) s"
