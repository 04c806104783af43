#!/usr/bin/env bash
# Runs examples/multihost.yaml (or a variant of it) as two hosts that share nothing but a network
# link, and checks what one scenario must show. Each host is a network namespace (joined to the
# other by a veth pair, 10.77.0.1/24 for cam and 10.77.0.2/24 for gpu) and a mount namespace with
# a tmpfs of its own on /dev/shm, held open by a `sleep` so that a launcher can be killed and
# started again on the same host; each host has its own XMEM_RUNTIME_DIR too. After every run the
# host's /dev/shm must be empty and every buffer back in the pool (the summary's free_at_end).
#
#   two_hosts.sh XMEM SCENARIO          XMEM: the built `xmem`; exit 0 passed, 1 failed,
#                                       77 skipped (not root, no namespaces), 2 bad usage
# Scenarios:
#   plain       block edge, cam runs 6 s: every frame crosses and verifies on both hosts
#   slow-drop   cam's side shaped to 200 Mbit/s, drop_oldest: cam keeps 30 fps, drops are counted
#               as remote-full, gpu sees no bad frame
#   slow-block  the same link, block: cam's source slows to the link's pace, no frame is lost
#   loss        1 % of cam's packets dropped (nftables), block: TCP resends, every frame arrives
#   cut         the link down for 3 s mid-run, drop_oldest: frames of the cut lost and counted, the
#               edge comes back by itself
#   kill        gpu's launcher SIGKILLed mid-run and started again, drop_oldest: its nodes die
#               with it, the new run cleans up, cam runs on and its sender finds the new gpu run
#   wrong-key   gpu's copy of the graph lists another key for cam: refused, nothing crosses
#   loopback    both hosts on 127.0.0.1 (no namespaces, no root), plain
#   probe       only makes the two hosts: exit 0 when the namespace scenarios can run here
# XMEMT_KEEP=1 keeps the work directory (logs, summaries) and says where it is.
set -uo pipefail

xmem=${1:-}
scenario=${2:-}
if [[ -z $xmem || -z $scenario ]]; then
  sed -n '/^#   two_hosts/,/^# XMEMT_KEEP/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
xmem=$(realpath "$xmem")
here=$(cd "$(dirname "$0")" && pwd)
examples=$here/../../examples
id=$$
work=$(mktemp -d "${TMPDIR:-/tmp}/xmemt-mh-$scenario-XXXXXX")
failed=0
netns=0
declare -A ns holder veth addr

say() { echo "# $*"; }
fail() {
  echo "FAIL: $*"
  failed=1
}
skip() {
  echo "SKIP: $*"
  exit 77
}

# ---- cleaning up ---------------------------------------------------------------------------------

launchers=()
cleanup() {
  local p
  for p in "${launchers[@]}"; do
    if alive "$p"; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
  for p in "${holder[@]}"; do
    kill -KILL "$p" 2>/dev/null
  done
  for p in "${ns[@]}"; do
    ip netns del "$p" 2>/dev/null
  done
  if [[ ${XMEMT_KEEP:-0} == 1 ]]; then
    echo "# kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
# A signal ends the run through the EXIT trap, so a killed test leaves no namespace behind.
trap 'exit 143' TERM INT HUP

# Namespaces of earlier runs of this script that were SIGKILLed (their pid is in the name): their
# processes are this script's own, and their links would make the addresses ambiguous.
sweep_stale() {
  local n pid
  for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^xmt[0-9]+-(cam|gpu)$'); do
    pid=${n#xmt}
    pid=${pid%-*}
    [[ -d /proc/$pid ]] && continue
    for p in $(ip netns pids "$n" 2>/dev/null); do
      kill -KILL "$p" 2>/dev/null
    done
    ip netns del "$n" 2>/dev/null
  done
}

# Sleeps $1 s; a signal's trap runs at once, where bash would run it after a foreground sleep.
pause() {
  sleep "$1" &
  wait $!
}

# Whether process $1 lives (a zombie does not).
alive() {
  [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

# ---- the two hosts -------------------------------------------------------------------------------

# Two namespaces joined by a veth pair, each with its own /dev/shm, held by a sleeping process.
make_hosts() {
  [[ $(id -u) == 0 ]] || skip "not root: network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN"
  command -v ip >/dev/null && command -v nsenter >/dev/null && command -v unshare >/dev/null ||
    skip "ip, nsenter or unshare missing (iproute2, util-linux)"
  sweep_stale
  netns=1
  ns[cam]=xmt$id-cam ns[gpu]=xmt$id-gpu
  veth[cam]=xmc$id veth[gpu]=xmg$id
  addr[cam]=10.77.0.1 addr[gpu]=10.77.0.2
  ip netns add "${ns[cam]}" 2>/dev/null || skip "cannot make a network namespace"
  ip netns add "${ns[gpu]}" || skip "cannot make a second network namespace"
  ip link add "${veth[cam]}" type veth peer name "${veth[gpu]}" || skip "cannot make a veth pair"
  local h
  for h in cam gpu; do
    ip link set "${veth[$h]}" netns "${ns[$h]}" &&
      ip -n "${ns[$h]}" addr add "${addr[$h]}/24" dev "${veth[$h]}" &&
      ip -n "${ns[$h]}" link set "${veth[$h]}" up &&
      ip -n "${ns[$h]}" link set lo up || skip "cannot set up ${veth[$h]}"
    # The tmpfs mount is made after the unshare, so it exists in this host's namespace only, and
    # goes away with its last process.
    ip netns exec "${ns[$h]}" unshare --mount --propagation private \
      sh -c 'mount -t tmpfs -o size=1g,mode=1777 xmemt /dev/shm && exec sleep 100000' &
    holder[$h]=$!
    disown "$!" # its end, SIGKILLed by cleanup, is no news
    mkdir -m 700 -p "$work/$h/rt"
  done
  for h in cam gpu; do
    local i
    for ((i = 0; i < 50; i++)); do
      [[ $(cat "/proc/${holder[$h]}/comm" 2>/dev/null) == sleep ]] && break
      alive "${holder[$h]}" || skip "no private /dev/shm for $h (mount namespaces?)"
      pause 0.1
    done
  done
}

# Both hosts on this machine's loopback: own runtime directories and pools, nothing else apart.
make_loopback_hosts() {
  addr[cam]=127.0.0.1 addr[gpu]=127.0.0.1
  mkdir -m 700 -p "$work/cam/rt" "$work/gpu/rt"
}

# Runs "$@" on host $1.
in_host() {
  local h=$1
  shift
  if ((netns)); then
    nsenter -t "${holder[$h]}" -m -n -- "$@"
  else
    "$@"
  fi
}

# ---- the graph and the launchers -----------------------------------------------------------------

graph=$work/multihost.yaml
declare -A pool_arg

# examples/multihost.yaml into the work directory with its keys, the cross-host edge's policy $1.
prepare_graph() {
  local policy=$1
  sed "s|from: src/out, depth: 4, policy: block|from: src/out, depth: 4, policy: $policy|" \
    "$examples/multihost.yaml" >"$graph"
  grep -q "policy: $policy}}" "$graph" || fail "no cross-host edge to set to $policy in the example"
  XMEM=$xmem "$examples/multihost-keys" "$work/keys" >/dev/null || fail "multihost-keys failed"
}

declare -A run_pid run_log run_json
# Starts host $1's launcher (run $2, a tag) with the rest as `xmem run` options before the graph;
# GRAPH_OF[$1] overrides the graph file.
declare -A graph_of
start_run() {
  local h=$1 tag=$2
  shift 2
  local key=$h.$tag
  run_log[$key]=$work/$key.log
  run_json[$key]=$work/$key.json
  # One simple command, each part exec'ing the next, so that $! is the launcher itself (the
  # kill scenario SIGKILLs it); a function would run in a subshell of its own.
  local enter=()
  ((netns)) && enter=(nsenter -t "${holder[$h]}" -m -n --)
  "${enter[@]}" env XMEM_RUNTIME_DIR="$work/$h/rt" "$xmem" run --interval 0 \
    -s "${run_json[$key]}" ${pool_arg[$h]:-} "$@" "${graph_of[$h]:-$graph}" --host "$h" \
    >"${run_log[$key]}" 2>&1 &
  run_pid[$key]=$!
  launchers+=("$!")
}

declare -A run_rc
# Waits up to $2 s for run $1 (HOST.TAG) to end; past that it is stopped (SIGTERM, then SIGKILL)
# and fails. Its exit status goes into run_rc.
wait_run() {
  local key=$1 limit=$2 pid=${run_pid[$1]} t=0
  while alive "$pid" && ((t < limit * 10)); do
    pause 0.1
    t=$((t + 1))
  done
  if alive "$pid"; then
    fail "$key still running after ${limit} s: stopped"
    kill -TERM "$pid"
    pause 5
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid"
  run_rc[$key]=$?
}

# Stops run $1 as Ctrl-C would, and waits up to $2 s for it.
stop_run() {
  kill -INT "${run_pid[$1]}" 2>/dev/null
  wait_run "$1" "$2"
}

# ---- reading the results -------------------------------------------------------------------------

# jq filter $2 on run $1's summary.
sum() {
  jq -r "$2" "${run_json[$1]}" 2>/dev/null
}

# Field $3 (a jq path after the node) of node $2 in run $1's summary.
node() {
  sum "$1" ".nodes[] | select(.name == \"$2\") | $3"
}

# The figures of verify node $2's last line in run $1's log, as "received bad gaps missing".
verified() {
  sed -n "s/.*\[$2\].*verified \([0-9]*\) frames: \([0-9]*\) bad, \([0-9]*\) gaps (\([0-9]*\) frames missing).*/\1 \2 \3 \4/p" \
    "${run_log[$1]}" | tail -1
}

expect_rc() {
  [[ ${run_rc[$1]} == "$2" ]] || fail "$1 exited ${run_rc[$1]}, expected $2"
}

# What every run of a host must leave: every buffer back, nothing in its /dev/shm (its pool's
# objects on loopback), no runtime directory.
expect_clean() {
  local key=$1 h=${1%%.*}
  [[ -s ${run_json[$key]} ]] || {
    fail "$key wrote no summary"
    return
  }
  local buffers free
  buffers=$(sum "$key" .pool.buffers) free=$(sum "$key" .pool.free_at_end)
  [[ -n $buffers && $buffers == "$free" ]] || fail "$key: $free of $buffers buffers free at the end"
  local left
  if ((netns)); then
    left=$(in_host "$h" ls -A /dev/shm)
  else
    left=$(ls -A /dev/shm | grep -F "$(sum "$key" .pool.name)")
  fi
  [[ -z $left ]] || fail "$key left in /dev/shm: $(echo $left)"
  left=$(ls -A "$work/$h/rt")
  [[ -z $left ]] || fail "$key left in its runtime directory: $left"
}

# Verify node $2 of run $1 saw no bad frame (and, with $3 = nogaps, no gap).
expect_verified() {
  local v
  v=$(verified "$1" "$2")
  read -r received bad gaps missing <<<"$v"
  [[ -n $v ]] || {
    fail "$1: no line of $2's counts"
    return
  }
  say "$1 $2: $received frames, $bad bad, $gaps gaps ($missing missing)"
  ((bad == 0)) || fail "$1 $2: $bad bad frames"
  ((received > 0)) || fail "$1 $2: no frame"
  [[ ${3:-} != nogaps ]] || ((gaps == 0)) || fail "$1 $2: $gaps gaps ($missing frames missing)"
}

# Both runs $1 (cam's) and $2 (gpu's) ended well (exit 0, every buffer back, nothing left), and
# every frame each verified was good ($3 "nogaps": gpu's with no gap either).
expect_both_good() {
  expect_rc "$1" 0
  expect_rc "$2" 0
  expect_clean "$1"
  expect_clean "$2"
  expect_verified "$1" check_cam
  expect_verified "$2" check_gpu "${3:-}"
}

# The sender's and receiver's link figures, said.
say_link() {
  say "$1 $2 link: $(node "$1" "$2" '.link | tojson')"
}

# On failure, the end of every log.
dump_logs() {
  local f
  for f in "$work"/*.log; do
    [[ -e $f ]] || continue
    echo "---- ${f##*/} (last 40 lines)"
    tail -40 "$f"
  done
}

# ---- the scenarios -------------------------------------------------------------------------------

sender=src.out-to-gpu
receiver=src.out-from-cam

# gpu first (its bridge_recv listens), cam for $1 s; gpu ends when cam's stream does.
run_both() {
  start_run gpu 1
  pause 1
  start_run cam 1 --duration "$1"
  wait_run cam.1 $(($1 + 40))
  wait_run gpu.1 20
}

# Whether cam's source made about 30 frames a second over its $1 s (the summary's rate_per_s
# spans the drain too, longer when the link is slow).
source_kept_rate() {
  local made
  made=$(node cam.1 src .out)
  say "cam's source made $made frames in $1 s"
  ((made >= 25 * $1))
}

# Every frame cam made went to gpu and verified there; nothing dropped on the way.
expect_lossless() {
  expect_both_good cam.1 gpu.1 nogaps
  say_link cam.1 $sender
  local made got
  made=$(node cam.1 src .out) got=$(node gpu.1 check_gpu .in)
  say "cam made $made frames at $(node cam.1 src .rate_per_s)/s, gpu's check_gpu got $got"
  [[ -n $made && $made == "$got" ]] || fail "cam made $made frames, gpu verified $got"
  local dropped
  dropped=$(node cam.1 $sender '[.link.dropped[]] | add')
  [[ $dropped == 0 ]] || fail "the sender dropped $dropped frames on a block edge"
}

scenario_plain() {
  make_hosts
  prepare_graph block
  run_both 6
  expect_lossless
}

scenario_loopback() {
  make_loopback_hosts
  prepare_graph block
  # Ports of this run's own (several runs of the test may share the machine), and pools named as
  # the test pools are, so that tests/check_no_shm.sh watches them too.
  local port=$((20000 + (id % 4000) * 10))
  sed -i -e "s/address: 10.77.0.[12]/address: 127.0.0.1/" \
    -e "/name: gpu/s/ports: [0-9-]*/ports: $port-$((port + 4))/" \
    -e "/name: cam/s/ports: [0-9-]*/ports: $((port + 5))-$((port + 9))/" "$graph"
  pool_arg[cam]="-p xmemt_mh-cam_$id" pool_arg[gpu]="-p xmemt_mh-gpu_$id"
  run_both 6
  expect_lossless
}

# 1080p at 30 fps is 1.5 Gbit/s: 200 Mbit/s carries about 4 of the 30 frames a second.
shape_link() {
  # Root with namespaces (the probe passed) has tc: a failure here is a failure, not a skip.
  in_host cam tc qdisc add dev "${veth[cam]}" root tbf rate 200mbit burst 256kb latency 50ms || {
    fail "tc could not shape the link (sch_tbf?)"
    exit 1
  }
}

scenario_slow-drop() {
  make_hosts
  prepare_graph drop_oldest
  shape_link
  run_both 6
  expect_both_good cam.1 gpu.1
  say_link cam.1 $sender
  local full
  full=$(node cam.1 $sender '.link.dropped["remote-full"]')
  say "the sender dropped $full frames as remote-full"
  source_kept_rate 6 || fail "cam's source did not keep ~30 fps: the link slowed it"
  ((full > 0)) || fail "no remote-full drops on a link that cannot carry 30 fps"
}

scenario_slow-block() {
  make_hosts
  prepare_graph block
  shape_link
  run_both 6
  expect_lossless
  local rate
  rate=$(node cam.1 src .rate_per_s)
  say "cam's source ran at $rate/s"
  awk "BEGIN { exit !($rate < 12) }" || fail "cam's source ran at $rate/s over a 200 Mbit/s link"
}

scenario_loss() {
  make_hosts
  prepare_graph block
  local rules='table inet xmemt {
  chain out {
    type filter hook output priority 0;
    numgen random mod 100 < 1 counter drop
  }
}'
  in_host cam nft -f - <<<"$rules" || {
    fail "nftables could not drop packets"
    exit 1
  }
  run_both 6
  expect_lossless
  say "packets dropped by the rule: $(in_host cam nft list table inet xmemt | grep -o 'packets [0-9]*' | head -1)"
}

scenario_cut() {
  make_hosts
  prepare_graph drop_oldest
  start_run gpu 1
  pause 1
  start_run cam 1 --duration 10
  pause 3
  say "link down for 3 s"
  in_host cam ip link set "${veth[cam]}" down
  pause 3
  in_host cam ip link set "${veth[cam]}" up
  say "link up"
  wait_run cam.1 50
  wait_run gpu.1 20
  expect_both_good cam.1 gpu.1
  say_link cam.1 $sender
  say_link gpu.1 $receiver
  local state reconnects down lost
  state=$(node cam.1 $sender .link.state) reconnects=$(node cam.1 $sender .link.reconnects)
  down=$(node cam.1 $sender '.link.dropped["link-down"]') lost=$(node cam.1 $sender .link.dropped.lost)
  [[ $state == up ]] || fail "the sender's link is $state at the end, not up"
  ((reconnects >= 1)) || fail "the sender's link never came back (reconnects $reconnects)"
  ((down + lost > 0)) || fail "no frame counted as link-down or lost for a 3 s cut"
  ((down + lost <= 30 * 7)) || fail "$down link-down and $lost lost frames: more than the cut's"
  # The receiver counts its own reconnect when frames come again after its 2 s of silence.
  local rx_reconnects
  rx_reconnects=$(node gpu.1 $receiver .link.reconnects)
  ((rx_reconnects >= 1)) || fail "gpu's receiver saw no frame after the cut"
}

# Process $1 and the nodes in run directory $2's table, gone within $3 s.
scenario_kill() {
  make_hosts
  prepare_graph drop_oldest
  start_run gpu 1
  pause 1
  start_run cam 1 --duration 12
  pause 4
  local table pids
  table=$(echo "$work"/gpu/rt/*/nodes)
  pids=$(awk '{print $2}' "$table" 2>/dev/null)
  [[ -n $pids ]] || fail "no node table at $table"
  say "SIGKILL to gpu's launcher ${run_pid[gpu.1]} (nodes $(echo $pids))"
  kill -KILL "${run_pid[gpu.1]}"
  wait "${run_pid[gpu.1]}"
  local t p left
  for ((t = 0; t < 15; t++)); do
    left=""
    for p in $pids; do
      alive "$p" && left="$left $p"
    done
    [[ -z $left ]] && break
    pause 0.1
  done
  [[ -z $left ]] || fail "gpu's nodes$left still alive 1.5 s after their launcher was killed"
  pause 1
  start_run gpu 2
  wait_run cam.1 50
  wait_run gpu.2 20
  expect_both_good cam.1 gpu.2
  grep -q "cleaned up the runtime directory .* left by a dead run" "${run_log[gpu.2]}" ||
    fail "gpu's second run did not say it cleaned up after the dead one"
  say_link cam.1 $sender
  source_kept_rate 12 || fail "cam's source did not keep ~30 fps: gpu's death slowed it"
  grep -q "restarted: [0-9]* frames to it lost" "${run_log[cam.1]}" ||
    [[ $(node cam.1 $sender .link.reconnects) -ge 1 ]] ||
    fail "cam's sender never went over to gpu's new run"
  [[ $(node cam.1 $sender .link.state) == up ]] || fail "cam's sender's link not up at the end"
}

scenario_wrong-key() {
  make_hosts
  prepare_graph block
  # gpu's copy of the graph, beside its own copy of the keys, names another key for cam.
  mkdir -p "$work/gpu-view"
  cp -r "$work/keys" "$work/gpu-view/keys"
  XMEM=$xmem "$examples/multihost-keys" "$work/other" >/dev/null
  cp "$work/other/cam.key" "$work/gpu-view/keys/other.key"
  sed 's|keys/cam.key|keys/other.key|' "$graph" >"$work/gpu-view/multihost.yaml"
  graph_of[gpu]=$work/gpu-view/multihost.yaml
  start_run gpu 1
  pause 1
  start_run cam 1 --duration 4
  wait_run cam.1 40
  # Nothing crossed, so no END either: gpu runs until stopped.
  stop_run gpu.1 20
  # Under block, frames that cannot cross are a loss on a block edge: cam's run fails, naming
  # the edge, and its sender's log says why.
  expect_rc cam.1 1
  expect_rc gpu.1 0
  expect_clean cam.1
  expect_clean gpu.1
  grep -q "refused this host" "${run_log[cam.1]}" || fail "cam's log does not say it was refused"
  say_link cam.1 $sender
  say_link gpu.1 $receiver
  local state
  state=$(node cam.1 $sender .link.state)
  [[ $state == refused ]] || fail "the sender's link is $state, not refused"
  [[ $(node cam.1 $sender .link.frames) == 0 ]] || fail "frames crossed a refused link"
  [[ $(node gpu.1 $receiver .link.frames) == 0 ]] || fail "gpu received frames from a refused peer"
  [[ $(node gpu.1 check_gpu .in) == 0 ]] || fail "gpu verified frames from a refused peer"
  grep -q "ipaddress=${addr[cam]}" "${run_log[gpu.1]}" ||
    fail "gpu's log does not name the refused peer's address ${addr[cam]}"
  grep -qi "denied" "${run_log[gpu.1]}" || fail "gpu's log does not say the peer was denied"
}

command -v jq >/dev/null || {
  echo "FAIL: jq is needed to read the summaries"
  exit 1
}
case $scenario in
  probe)
    make_hosts
    exit 0
    ;;
  plain | loopback | slow-drop | slow-block | loss | cut | kill | wrong-key) ;;
  *)
    echo "unknown scenario $scenario" >&2
    exit 2
    ;;
esac
say "$scenario in $work"
"scenario_$scenario"
if ((failed)); then
  dump_logs
  echo "FAILED: $scenario"
  exit 1
fi
echo "PASSED: $scenario"
