#!/usr/bin/env bash
# Run an example that writes a certificate, then have torchlean-check check it.
# Usage: run_and_check.sh CHECKER CERT EXAMPLE [ARGS...]   (the certificate path is the last argument)
# Exit 77 (ctest: skipped) when an input file named in ARGS does not exist.
set -euo pipefail
checker=$1 cert=$2
shift 2
for a in "${@:2}"; do
  if [[ $a == */* && ! -e $a ]]; then
    echo "skipped: $a is absent"
    exit 77
  fi
done
rm -f "$cert"
"$@" "$cert"
rc=0
out=$("$checker" "$cert") || rc=$?
echo "$out" | tail -n 3
[[ $rc == 0 ]] && echo "$out" | tail -n 1 | grep -q ACCEPT
