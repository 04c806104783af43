#!/usr/bin/env bash
# Installs the built xmem into a scratch prefix, then builds and runs a third-party project against
# it through find_package(xmem) and through pkg-config. Args: BUILD_DIR SOURCE_DIR [VIDEO], VIDEO 1
# when the build has the video nodes (their module must be installed and found).
set -euo pipefail
build=$1
src=$2
video=${3:-0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(ls -d "$work"/prefix/lib*/cmake/xmem | head -n1)
libdir=${libdir%/cmake/xmem}
unset LD_LIBRARY_PATH # everything below must find libxmem by itself

# The installed program runs from its prefix, and from the prefix moved elsewhere: its RUNPATH
# is relative to itself ($ORIGIN/../lib).
readelf -d "$work/prefix/bin/xmem" | grep -q 'RUNPATH.*\$ORIGIN/\.\./lib' ||
    { readelf -d "$work/prefix/bin/xmem"; echo "bin/xmem has no \$ORIGIN RUNPATH" >&2; exit 1; }
mv "$work/prefix" "$work/moved"
"$work/moved/bin/xmem" --help >/dev/null
"$work/moved/bin/xmem" plugins | grep -q testsrc ||
    { echo "the moved xmem lists no built-in plugins" >&2; exit 1; }
# The video nodes' module (built with FFmpeg) is installed and found relative to the moved program.
if [ "$video" = 1 ]; then
    ls "$work"/moved/lib*/xmem/xmem_video.so >/dev/null ||
        { echo "the video nodes' module was not installed" >&2; exit 1; }
    "$work/moved/bin/xmem" plugins | grep -q "^videosrc .*built-in, $work/moved/" ||
        { "$work/moved/bin/xmem" plugins; echo "the moved xmem does not load its video module" >&2; exit 1; }
fi
mv "$work/moved" "$work/prefix"
"$work/prefix/bin/xmem" --help >/dev/null
echo "installed xmem: runs from its prefix and from a moved one, without LD_LIBRARY_PATH"
PKG_CONFIG_PATH="$libdir/pkgconfig" cmake -S "$src/tests/install" -B "$work/build" \
    -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/uses_cmake_package"
"$work/build/uses_pkg_config"

# The out-of-tree example plugin, built as its author would (find_package on the installed
# package), run under the installed `xmem node` between two built-ins:
# testsrc -> threshold -> stats, 50 frames, every node must end cleanly with every frame seen.
cmake -S "$src/examples/plugin" -B "$work/plugin" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/plugin" >/dev/null
xmem="$work/prefix/bin/xmem"
pool="xmem_install_$$"
ipc="ipc://$work/sock"
"$xmem" pool --interval 0 "$pool" 2>"$work/pool.log" &
pool_pid=$!
trap 'kill $pool_pid 2>/dev/null; wait $pool_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -e "/dev/shm/${pool}_meta" ] && break; sleep 0.1; done
"$xmem" node --plugin stats --name sink --pool "$pool" --policy block \
    --input "in=$ipc-thr" 2>"$work/sink.log" &
sink=$!
"$xmem" node --plugin "$work/plugin/xmem_threshold.so" --name thr --pool "$pool" --policy block \
    --param level=100 --input "in=$ipc-src" --output "out=$ipc-thr" --expect out=1 \
    2>"$work/thr.log" &
thr=$!
"$xmem" node --plugin testsrc --name src --pool "$pool" --param frames=50 --param width=64 \
    --param height=48 --output "out=$ipc-src" --expect out=1 2>"$work/src.log"
wait $thr || { cat "$work/thr.log"; echo "threshold node failed" >&2; exit 1; }
wait $sink || { cat "$work/sink.log"; echo "stats node failed" >&2; exit 1; }
grep -q "every input ended: 50 buffers in, 50 out" "$work/thr.log" ||
    { cat "$work"/*.log; echo "threshold did not pass 50 frames on" >&2; exit 1; }
grep -q "every input ended: 50 buffers in" "$work/sink.log" ||
    { cat "$work"/*.log; echo "the sink did not get 50 frames" >&2; exit 1; }
echo "example plugin: 50 frames through $work/plugin/xmem_threshold.so"

# The same plugin in a graph run by the installed `xmem run`, found by name in XMEM_PLUGIN_PATH:
# 300 frames, then the source ends its stream and every node drains and ends by itself.
XMEM_PLUGIN_PATH="$work/plugin" XMEM_RUNTIME_DIR="$work/rt" "$xmem" run --interval 0 \
    --duration 60 --summary "$work/summary.json" "$src/examples/plugin/threshold.yaml" \
    >"$work/run.log" 2>&1 || { cat "$work/run.log"; echo "xmem run of threshold.yaml failed" >&2; exit 1; }
grep -q '"name": "latency", "plugin": "stats", "state": "done", "started": true, "stuck": 0, "restarts": 0, "in": 300,' \
    "$work/summary.json" || { cat "$work/run.log" "$work/summary.json"; echo "not 300 frames" >&2; exit 1; }
echo "example graph: 300 frames through xmem_threshold under xmem run"

# Python nodes, when built: node files run under the installed `xmem node` (which finds the Python
# host in the installed package, beside libxmem): gradient.py -> check_gradient.py, 50 frames,
# every byte checked; and the installed package imports in a plain python3 given its folder.
pkg=$(ls -d "$work"/prefix/lib/python3*/*-packages/xmem 2>/dev/null | head -n1 || true)
if [ -n "$pkg" ]; then
    python=$(sed -n 's/^Python3_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt")
    "$xmem" node --plugin "$src/examples/python/check_gradient.py" --name check --pool "$pool" \
        --policy block --param expect=50 --input "in=$ipc-grad" 2>"$work/check.log" &
    check=$!
    "$xmem" node --plugin "$src/examples/python/gradient.py" --name grad --pool "$pool" \
        --param frames=50 --param width=64 --param height=48 --output "out=$ipc-grad" \
        --expect out=1 2>"$work/grad.log" || { cat "$work/grad.log"; exit 1; }
    wait $check || { cat "$work/check.log"; echo "the Python sink failed" >&2; exit 1; }
    grep -q "checked 50 frames: 0 bad, 0 gaps" "$work/check.log" ||
        { cat "$work/check.log"; echo "the Python sink did not check 50 frames" >&2; exit 1; }
    PYTHONPATH=$(dirname "$pkg") "$python" -c "import xmem; print(xmem.Frame, xmem.Subscriber)" \
        >/dev/null || { echo "the installed xmem package does not import" >&2; exit 1; }
    echo "Python nodes: 50 frames from gradient.py checked by check_gradient.py, installed package imports"
fi
