#!/usr/bin/env bash
# Install the built project into a temporary prefix, then build and run a program against it four
# ways: pkg-config with the shared libraries (rpath to the installed lib dir; ldd must show the
# INSTALLED .so files), pkg-config with the static ones (torchlean-static.pc), find_package with
# torchlean::torchlean_verify (shared) and torchlean::torchlean_verify_static.  The program trains,
# verifies and writes a certificate; the installed torchlean-check must ACCEPT each one.  Then every
# example in examples/ is built against the installed tree, and verify_and_certify is run; first_model
# also links with torchlean-runtime.pc alone.
# Usage: run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig:${PKG_CONFIG_PATH:-}"
libdir=$(pkg-config --variable=libdir torchlean)
fail() { echo "install test: $*" >&2; exit 1; }
# (grep without -q below: -q stops reading at the first match, and under pipefail the writer's
# SIGPIPE would then fail the pipeline when the machine is busy)
check() { "$tmp/prefix/bin/torchlean-check" "$1" | tail -n 1 | grep ACCEPT >/dev/null || fail "$1 not ACCEPTed"; }
# shared: NEEDED libtorchlean_verify.so.0 and libtorchlean.so.0, resolved in the installed lib dir
uses_installed_so() {
  local l
  for l in libtorchlean_verify.so.0 libtorchlean.so.0; do
    ldd "$1" | grep "$l => $(realpath "$libdir")/$l" >/dev/null || ldd "$1" | grep "$l => $libdir/$l" >/dev/null ||
      fail "$1: $l not from $libdir: $(ldd "$1" | grep torchlean)"
  done
}
static_only() { ! readelf -d "$1" | grep 'NEEDED.*libtorchlean' >/dev/null || fail "$1 needs a shared libtorchlean"; }
for so in libtorchlean.so.0 libtorchlean_verify.so.0; do
  readelf -d "$libdir/$so" | grep "SONAME.*\[$so\]" >/dev/null || fail "$so: wrong SONAME"
  ! readelf -d "$libdir/$so" | grep "R.*PATH.*$build" >/dev/null || fail "$so: run path into the build tree"
done

cc -std=c11 -o "$tmp/hello-pc" "$src/tests/install/hello.c" $(pkg-config --cflags --libs torchlean) \
  -Wl,-rpath,"$libdir"
uses_installed_so "$tmp/hello-pc"
"$tmp/hello-pc" "$tmp/cert-pc.json"
check "$tmp/cert-pc.json"

cc -std=c11 -o "$tmp/hello-pc-static" "$src/tests/install/hello.c" $(pkg-config --cflags --static --libs torchlean-static)
static_only "$tmp/hello-pc-static"
"$tmp/hello-pc-static" "$tmp/cert-pc-static.json"
check "$tmp/cert-pc-static.json"

for kind in shared static; do
  cmake -S "$src/tests/install" -B "$tmp/consumer-$kind" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCONSUMER_STATIC=$([[ $kind == static ]] && echo ON || echo OFF) >/dev/null
  cmake --build "$tmp/consumer-$kind" >/dev/null
  if [[ $kind == shared ]]; then uses_installed_so "$tmp/consumer-$kind/hello"; else static_only "$tmp/consumer-$kind/hello"; fi
  "$tmp/consumer-$kind/hello" "$tmp/cert-cmake-$kind.json"
  check "$tmp/cert-cmake-$kind.json"
done

for ex in "$src"/examples/*.c; do
  cc -std=c11 -Wall -Werror -o "$tmp/$(basename "$ex" .c)" "$ex" $(pkg-config --cflags --libs torchlean) -Wl,-rpath,"$libdir"
done
"$tmp/verify_and_certify" "$tmp/cert-example.json" >/dev/null
check "$tmp/cert-example.json"
# a training-only program needs the runtime alone: no libtorchlean_verify, no MPFR
cc -std=c11 -o "$tmp/first_model_rt" "$src/examples/first_model.c" $(pkg-config --cflags --libs torchlean-runtime) \
  -Wl,-rpath,"$libdir"
! readelf -d "$tmp/first_model_rt" | grep -E 'NEEDED.*(libtorchlean_verify|mpfr)' >/dev/null || fail "first_model_rt needs the verifier"
echo "install test passed: pkg-config shared and static, CMake shared and static, examples, runtime alone"
