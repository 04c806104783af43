#!/usr/bin/env bash
# Bridges across hosts (issue 16): 1080p frames (1920x1080x3 = 6220800 bytes) between two network
# namespaces joined by a veth pair, an xmem bridge (testsrc -> bridge_send in namespace A, one
# `xmem run`; bridge_recv -> null in namespace B, another) against raw ZeroMQ sending the same
# payload between the same namespaces in the same run (bench/bench_bridge_raw.c), CURVE off and on.
#
# Throughput: each side flat out for --duration seconds. Raw counts from the receiver's first frame
# to its last; xmem from two scrapes of each launcher's --metrics taken --duration apart after a
# 2 s warm-up (bridge_recv's frames out; the time from the receiving launcher's uptime). CPU per MB
# is the user + system time of the two processes that carry the bytes, over the same window: raw,
# the sender and the receiver (getrusage, every thread); xmem, the bridge_send and bridge_recv
# node processes (the launcher's per-node CPU), not testsrc filling frames or the null sink (all
# four nodes' CPU per MB is shown beside it). The cost of encryption per MB is CPU-ms per MB with
# CURVE minus without.
# Latency: the sender paced at 30 frames/s; raw, from the sender's CLOCK_MONOTONIC stamp to the
# payload received and copied; xmem, from testsrc's stamp (taken before it writes the 6 MB frame)
# to the null sink holding the buffer, as its latency p50/p99 in the summary, with the part before
# the bridge (bridge_send's own latency: the fill and the local hop) shown beside it.
#
# Must run as root (network namespaces); exits 77 when not root or when the namespaces or the veth
# pair cannot be made. Usage: bench/bridge_netns.sh [--duration S] [--quick] [--depth N]
#   XMEM_BUILD=DIR  the build to use (default build-release): DIR/xmem and
#                   DIR/bench/xmem-bench-bridge-raw
set -euo pipefail

duration=10
depth=4
latency_s=""
while [ $# -gt 0 ]; do
    case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --quick) duration=3; shift ;;
    --depth) depth="$2"; shift 2 ;;
    -h|--help)
        sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
        exit 0 ;;
    *) echo "bridge_netns: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
latency_s=$duration

skip() {
    echo "bridge_netns: skipped: $*" >&2
    exit 77
}

[ "$(id -u)" = 0 ] || skip "must run as root (it makes network namespaces and a veth pair)"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v curl >/dev/null || skip "no curl (the launchers' metrics are read with it)"
root=$(cd "$(dirname "$0")/.." && pwd)
build=${XMEM_BUILD:-$root/build-release}
xmem=$build/xmem
raw=$build/bench/xmem-bench-bridge-raw
[ -x "$xmem" ] || skip "$xmem is not built"
[ -x "$raw" ] || skip "$raw is not built (it needs czmq: libczmq-dev)"
[ -f "$build/xmem_bridge.so" ] || skip "$build/xmem_bridge.so is not built (czmq)"

# Names unique to this run (veth names have at most 15 characters), removed on any exit.
id=$$
nsa=xmem-bra-$id
nsb=xmem-brb-$id
va=xbra$id
vb=xbrb$id
net=10.77.$((id % 250 + 1))
ipa=$net.1
ipb=$net.2
tmp=$(mktemp -d /tmp/xmem-bridge-bench.XXXXXX)
pids=()

cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    ip netns del "$nsa" 2>/dev/null || true
    ip netns del "$nsb" 2>/dev/null || true
    ip link del "$va" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$nsa" 2>/dev/null || skip "cannot make a network namespace (ip netns add)"
ip netns add "$nsb" 2>/dev/null || skip "cannot make a network namespace (ip netns add)"
ip link add "$va" type veth peer name "$vb" 2>/dev/null || skip "cannot make a veth pair"
ip link set "$va" netns "$nsa"
ip link set "$vb" netns "$nsb"
ip -n "$nsa" addr add "$ipa/24" dev "$va"
ip -n "$nsb" addr add "$ipb/24" dev "$vb"
for ns in "$nsa" "$nsb"; do
    ip -n "$ns" link set lo up # the launchers' metrics are served on 127.0.0.1
done
ip -n "$nsa" link set "$va" up
ip -n "$nsb" link set "$vb" up
mtu=$(ip -n "$nsa" -o link show "$va" | sed -n 's/.* mtu \([0-9]*\).*/\1/p')

"$raw" keygen "$tmp/a.key" "$tmp/b.key"
frame=6220800
port=7400

# key=value from a line of the raw program's output.
field() {
    sed -n "s/.*[[:space:]]$2=\([^[:space:]]*\).*/\1/p; s/^$2=\([^[:space:]]*\).*/\1/p" "$1" |
        head -1
}

# One raw case: raw_case NAME COPY(0|1) CURVE(0|1) RATE(0 flat out) [HWM]; writes $tmp/NAME.res.
# HWM, when given, bounds both sides' queues to that many frames: the bridge's window (its
# credits), where raw ZeroMQ alone lets the receiver queue up to its receive HWM of 1000.
raw_case() {
    local name=$1 copy=$2 curve=$3 rate=$4 hwm=${5:-}
    port=$((port + 1))
    local rargs=() sargs=(--seconds "$duration")
    if [ -n "$hwm" ]; then
        rargs+=(--hwm-send "$hwm" --hwm-recv "$hwm")
        sargs+=(--hwm-send "$hwm" --hwm-recv "$hwm")
    fi
    [ "$copy" = 1 ] && rargs+=(--copy)
    if [ "$curve" = 1 ]; then
        rargs+=(--key "$tmp/b.key")
        sargs+=(--key "$tmp/a.key" --peer-key "$tmp/b.key")
    fi
    [ "$rate" != 0 ] && sargs+=(--rate "$rate" --seconds "$latency_s")
    ip netns exec "$nsb" "$raw" recv "$ipb:$port" "${rargs[@]}" >"$tmp/$name.recv" \
        2>"$tmp/$name.recv.err" &
    local rp=$!
    pids+=("$rp")
    sleep 0.5
    ip netns exec "$nsa" "$raw" send "$ipb:$port" "${sargs[@]}" >"$tmp/$name.send" \
        2>"$tmp/$name.send.err"
    wait "$rp" || { cat "$tmp/$name.recv.err" >&2; return 1; }
    local r=$tmp/$name.recv s=$tmp/$name.send
    local fps mbps secs rcpu scpu sframes p50 p99
    fps=$(field "$r" fps)
    mbps=$(field "$r" MBps)
    secs=$(field "$r" seconds)
    rcpu=$(field "$r" cpu_s)
    scpu=$(field "$s" cpu_s)
    sframes=$(field "$s" frames)
    p50=$(field "$r" p50_ms)
    p99=$(field "$r" p99_ms)
    # CPU-ms per MB: each side's CPU over the bytes it moved in its own window.
    awk -v fps="$fps" -v mbps="$mbps" -v secs="$secs" -v rcpu="$rcpu" -v scpu="$scpu" \
        -v sf="$sframes" -v fb="$frame" -v p50="$p50" -v p99="$p99" 'BEGIN {
        rmb = mbps * secs; smb = sf * fb / 1e6
        cpumb = (rmb > 0 ? rcpu * 1000 / rmb : 0) + (smb > 0 ? scpu * 1000 / smb : 0)
        printf "%.1f %.1f %.2f %.2f %.2f\n", fps, mbps, cpumb, p50, p99 }' >"$tmp/$name.res"
}

# A metric's value from a scrape: metric FILE NAME NODE (no node: the graph's).
metric() {
    if [ -n "${3:-}" ]; then
        awk -v m="$2" -v n="node=\"$3\"" 'index($0, m "{") == 1 && index($0, n) { print $2 }' "$1"
    else
        awk -v m="$2" 'index($0, m "{") == 1 { print $2 }' "$1"
    fi
}

# One xmem case: xmem_case NAME CURVE(0|1) RATE(0 flat out); writes $tmp/NAME.res.
xmem_case() {
    local name=$1 curve=$2 rate=$3
    port=$((port + 1))
    local pool=xbb$id$name
    local link="src.out@a->b"
    local sec_rx="insecure: true" sec_tx="insecure: true" rate_line=""
    if [ "$curve" = 1 ]; then
        sec_rx="key: $tmp/b.key, allow: $tmp/a.key"
        sec_tx="key: $tmp/a.key, peer_key: $tmp/b.key"
    fi
    [ "$rate" != 0 ] && rate_line="rate: $rate, "
    cat >"$tmp/$name.rx.yaml" <<EOF
pool: {name: ${pool}b}
nodes:
  - name: rx
    plugin: bridge_recv
    params: {bind: "$ipb:$port", link: "$link", $sec_rx}
  - {name: sink, plugin: null, inputs: {in: {from: rx/out, depth: $depth, policy: block}}}
EOF
    cat >"$tmp/$name.tx.yaml" <<EOF
pool: {name: ${pool}a}
nodes:
  - {name: src, plugin: testsrc, ${rate_line}params: {width: 1920, height: 1080, channels: 3}}
  - name: tx
    plugin: bridge_send
    inputs: {in: {from: src/out, depth: $depth, policy: block}}
    params: {peer: "$ipb:$port", link: "$link", depth: $depth, policy: block, $sec_tx}
EOF
    local run_s=$duration
    [ "$rate" != 0 ] && run_s=$latency_s
    local mport_a=$((9300 + port % 100)) mport_b=$((9500 + port % 100))
    ip netns exec "$nsb" "$xmem" run "$tmp/$name.rx.yaml" --duration "$((run_s + 6))" -i 0 \
        -s "$tmp/$name.rx.json" -m "127.0.0.1:$mport_b" >"$tmp/$name.rx.log" 2>&1 &
    local rp=$!
    pids+=("$rp")
    sleep 1
    ip netns exec "$nsa" "$xmem" run "$tmp/$name.tx.yaml" --duration "$((run_s + 3))" -i 0 \
        -s "$tmp/$name.tx.json" -m "127.0.0.1:$mport_a" >"$tmp/$name.tx.log" 2>&1 &
    local sp=$!
    pids+=("$sp")
    sleep 2 # warm-up: the launch, the handshake, the first frames
    ip netns exec "$nsa" curl -sf "http://127.0.0.1:$mport_a/metrics" >"$tmp/$name.a0" || true
    ip netns exec "$nsb" curl -sf "http://127.0.0.1:$mport_b/metrics" >"$tmp/$name.b0" || true
    sleep "$run_s"
    ip netns exec "$nsa" curl -sf "http://127.0.0.1:$mport_a/metrics" >"$tmp/$name.a1" || true
    ip netns exec "$nsb" curl -sf "http://127.0.0.1:$mport_b/metrics" >"$tmp/$name.b1" || true
    wait "$sp" || { cat "$tmp/$name.tx.log" >&2; return 1; }
    wait "$rp" || { cat "$tmp/$name.rx.log" >&2; return 1; }
    local f0 f1 u0 u1 ct0 ct1 cr0 cr1 all0 all1
    f0=$(metric "$tmp/$name.b0" xmem_node_frames_out_total rx)
    f1=$(metric "$tmp/$name.b1" xmem_node_frames_out_total rx)
    u0=$(metric "$tmp/$name.b0" xmem_graph_uptime_seconds)
    u1=$(metric "$tmp/$name.b1" xmem_graph_uptime_seconds)
    ct0=$(metric "$tmp/$name.a0" xmem_node_cpu_seconds_total tx)
    ct1=$(metric "$tmp/$name.a1" xmem_node_cpu_seconds_total tx)
    cr0=$(metric "$tmp/$name.b0" xmem_node_cpu_seconds_total rx)
    cr1=$(metric "$tmp/$name.b1" xmem_node_cpu_seconds_total rx)
    # Every node of both graphs (testsrc's fill and the sink too): what the two cores give.
    all0=$(cat "$tmp/$name.a0" "$tmp/$name.b0" | metric /dev/stdin xmem_node_cpu_seconds_total |
        awk '{ s += $1 } END { print s + 0 }')
    all1=$(cat "$tmp/$name.a1" "$tmp/$name.b1" | metric /dev/stdin xmem_node_cpu_seconds_total |
        awk '{ s += $1 } END { print s + 0 }')
    # Latency from the summaries: the sink's (end to end) and bridge_send's (before the bridge).
    local lat
    lat=$(python3 - "$tmp/$name.rx.json" "$tmp/$name.tx.json" <<'EOF'
import json, sys
rx = {n["name"]: n for n in json.load(open(sys.argv[1]))["nodes"]}
tx = {n["name"]: n for n in json.load(open(sys.argv[2]))["nodes"]}
s, t = rx["sink"]["latency_us"], tx["tx"]["latency_us"]
print("%.2f %.2f %.2f %.2f" % (s["p50"] / 1e3, s["p99"] / 1e3, t["p50"] / 1e3, t["p99"] / 1e3))
EOF
)
    awk -v f0="${f0:-0}" -v f1="${f1:-0}" -v u0="${u0:-0}" -v u1="${u1:-0}" -v ct0="${ct0:-0}" \
        -v ct1="${ct1:-0}" -v cr0="${cr0:-0}" -v cr1="${cr1:-0}" -v fb="$frame" -v lat="$lat" \
        -v all0="$all0" -v all1="$all1" '
        BEGIN {
        dt = u1 - u0; n = f1 - f0; mb = n * fb / 1e6
        fps = dt > 0 ? n / dt : 0
        cpumb = mb > 0 ? ((ct1 - ct0) + (cr1 - cr0)) * 1000 / mb : 0
        allmb = mb > 0 ? (all1 - all0) * 1000 / mb : 0
        printf "%.1f %.1f %.2f %s %.2f\n", fps, fps * fb / 1e6, cpumb, lat, allmb }' \
        >"$tmp/$name.res"
}

echo "bridge_netns: namespaces $nsa ($ipa) and $nsb ($ipb), veth MTU $mtu, $duration s a case," \
    "bridge depth $depth; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for curve in 0 1; do
    echo "bridge_netns: throughput, CURVE $([ $curve = 1 ] && echo on || echo off)" >&2
    raw_case "raw$curve" 0 "$curve" 0
    raw_case "rawcopy$curve" 1 "$curve" 0
    raw_case "rawwin$curve" 1 "$curve" 0 "$depth"
    xmem_case "xmem$curve" "$curve" 0
done
for curve in 0 1; do
    echo "bridge_netns: latency at 30 fps, CURVE $([ $curve = 1 ] && echo on || echo off)" >&2
    raw_case "lraw$curve" 1 "$curve" 30
    xmem_case "lxmem$curve" "$curve" 30
done

read_res() { cat "$tmp/$1.res"; }

echo
echo "Throughput, 1920x1080x3 frames flat out, $duration s a case (bridge depth $depth, block):"
echo
echo "| case | CURVE | frames/s | MB/s | xmem / it | CPU ms per MB (send + recv) |"
echo "| --- | --- | --- | --- | --- | --- |"
for curve in 0 1; do
    on=$([ $curve = 1 ] && echo on || echo off)
    read -r rf rm rc _ _ < <(read_res "raw$curve")
    read -r cf cm cc _ _ < <(read_res "rawcopy$curve")
    read -r wf wm wc _ _ < <(read_res "rawwin$curve")
    read -r xf xm xc _ _ _ _ xall < <(read_res "xmem$curve")
    ratio() { awk -v x="$xf" -v c="$1" 'BEGIN { printf "%.2f", (c > 0 ? x / c : 0) }'; }
    echo "| raw ZeroMQ, no copy | $on | $rf | $rm | $(ratio "$rf") | $rc |"
    echo "| raw ZeroMQ + copy | $on | $cf | $cm | $(ratio "$cf") | $cc |"
    echo "| raw ZeroMQ + copy, window $depth (HWM) | $on | $wf | $wm | **$(ratio "$wf")** | $wc |"
    echo "| xmem bridge | $on | $xf | $xm | | $xc (all 4 nodes: $xall) |"
done
echo
echo "Cost of CURVE (CPU ms per MB with it minus without; throughput with / without):"
echo
echo "| case | extra CPU ms per MB | throughput with CURVE / without |"
echo "| --- | --- | --- |"
for c in raw rawcopy xmem; do
    read -r f0 _ c0 _ < <(read_res "${c}0")
    read -r f1 _ c1 _ < <(read_res "${c}1")
    label=$c
    [ "$c" = raw ] && label="raw ZeroMQ, no copy"
    [ "$c" = rawcopy ] && label="raw ZeroMQ + copy"
    [ "$c" = xmem ] && label="xmem bridge"
    awk -v l="$label" -v f0="$f0" -v f1="$f1" -v c0="$c0" -v c1="$c1" \
        'BEGIN { printf "| %s | %.2f | %.2f |\n", l, c1 - c0, (f0 > 0 ? f1 / f0 : 0) }'
done
echo
echo "Latency at 30 frames/s, $latency_s s a case (one-way, ms):"
echo
echo "| case | CURVE | frames/s | p50 | p99 | p50 xmem / raw | before the bridge p50 / p99 |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for curve in 0 1; do
    on=$([ $curve = 1 ] && echo on || echo off)
    read -r rf _ _ rp50 rp99 < <(read_res "lraw$curve")
    read -r xf _ _ xp50 xp99 bp50 bp99 _ < <(read_res "lxmem$curve")
    ratio=$(awk -v x="$xp50" -v r="$rp50" 'BEGIN { printf "%.2f", (r > 0 ? x / r : 0) }')
    echo "| raw ZeroMQ + copy | $on | $rf | $rp50 | $rp99 | | |"
    echo "| xmem bridge | $on | $xf | $xp50 | $xp99 | **$ratio** | $bp50 / $bp99 |"
done
