#!/bin/sh
# Checks that a test run leaves no POSIX shm object (or named semaphore) of the test pools behind.
# Test pools are named <prefix><tag>_<pid> with a tag of [a-z.-].
#   check_no_shm.sh baseline LIST [prefix] [shm dir]   before the tests (the fixture's setup)
#   check_no_shm.sh check LIST [prefix] [shm dir]      after them (its cleanup)
# The baseline removes leftovers of an earlier run (their process is gone: nothing can use them)
# and lists what is there still, so that the check blames this run only for what this run made:
# another build's tests running beside it, or a run killed half-way, are not this run's fault.
# The check skips objects whose process still runs (a test in progress elsewhere); leftovers are
# listed, then removed, so that one failed run does not fail the next.
mode=$1
list=$2
prefix=${3:-xmemt_}
dir=${4:-/dev/shm}
case $mode in
  baseline | check) ;;
  *)
    echo "usage: check_no_shm.sh baseline|check LIST [prefix] [shm dir]" >&2
    exit 2
    ;;
esac

# The pid in an object's name, or nothing when the name has none.
owner_pid() {
  printf '%s\n' "$1" | sed -n "s/^${prefix}[a-z.-]*_\([0-9][0-9]*\).*/\1/p"
}

if [ "$mode" = baseline ]; then
  : >"$list" || exit 1
fi
left=0
for f in "$dir/$prefix"* "$dir/sem.$prefix"*; do
  [ -e "$f" ] || continue
  base=${f##*/}
  base=${base#sem.}
  pid=$(owner_pid "$base")
  alive=0
  if [ -n "$pid" ] && [ "$pid" != "$$" ] && [ -d "/proc/$pid" ]; then
    alive=1
  fi
  if [ "$mode" = baseline ]; then
    if [ "$alive" -eq 1 ]; then
      printf '%s\n' "$f" >>"$list"
    else
      echo "removed before the run, left by an earlier one: $f"
      rm -f "$f"
    fi
    continue
  fi
  [ "$alive" -eq 1 ] && continue
  if [ -f "$list" ] && grep -qxF "$f" "$list"; then
    continue
  fi
  echo "left behind: $f"
  left=$((left + 1))
  rm -f "$f"
done
[ "$mode" = baseline ] && exit 0
if [ "$left" -ne 0 ]; then
  echo "$left shared-memory object(s) of test pools were left behind (now removed)"
  exit 1
fi
echo "no shared-memory object of test pools left behind"
