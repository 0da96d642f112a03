#!/usr/bin/env bash
# Install the built project into a temporary prefix, then build and run a tiny program against
# it twice: through pkg-config and through find_package.  Usage: run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}"
cc -std=c11 -o "$tmp/hello-pc" "$src/tests/install/hello.c" $(pkg-config --cflags --static --libs torchlean)
"$tmp/hello-pc"
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/hello"
echo "install test passed"
