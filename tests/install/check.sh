#!/usr/bin/env bash
# Installs the built xmem into a scratch prefix, then builds and runs a third-party project against
# it through find_package(xmem) and through pkg-config. Args: BUILD_DIR SOURCE_DIR.
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(ls -d "$work"/prefix/lib*/cmake/xmem | head -n1)
libdir=${libdir%/cmake/xmem}
PKG_CONFIG_PATH="$libdir/pkgconfig" cmake -S "$src/tests/install" -B "$work/build" \
    -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/build/uses_cmake_package"
LD_LIBRARY_PATH="$libdir" "$work/build/uses_pkg_config"
