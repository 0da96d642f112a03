#!/usr/bin/env bash
# VNN-COMP tool interface: prepare_instance.sh v1 BENCHMARK ONNX VNNLIB
# Nothing to convert ahead of time (ONNX and VNN-LIB are read directly); stops a run left over from
# an earlier instance and checks that both files are readable.
set -uo pipefail
[ "${1:-}" = "v1" ] || { echo "prepare_instance.sh: expected version string v1, got '${1:-}'" >&2; exit 1; }
[ $# -eq 4 ] || { echo "usage: prepare_instance.sh v1 BENCHMARK ONNX VNNLIB" >&2; exit 1; }
pkill -f "torchlean vnnlib" 2>/dev/null || true
[ -r "$3" ] && [ -r "$4" ] || { echo "prepare_instance.sh: cannot read '$3' or '$4'" >&2; exit 1; }
exit 0
