#!/usr/bin/env bash
# Install the built project into a temporary prefix, then build and run a program against it
# twice: through pkg-config and through find_package.  The program trains, verifies and writes a
# certificate; the installed torchlean-check must ACCEPT it.  Usage: run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}"
check() { "$tmp/prefix/bin/torchlean-check" "$1" | tail -n 1 | grep -q ACCEPT; }
cc -std=c11 -o "$tmp/hello-pc" "$src/tests/install/hello.c" $(pkg-config --cflags --static --libs torchlean)
"$tmp/hello-pc" "$tmp/cert-pc.json"
check "$tmp/cert-pc.json"
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/hello" "$tmp/cert-cmake.json"
check "$tmp/cert-cmake.json"
echo "install test passed"
