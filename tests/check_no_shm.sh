#!/bin/sh
# Fails if the test run left POSIX shm objects (or named semaphores) of the test pools behind.
# Test pools are named <prefix><tag>_<pid> with a tag of [a-z.-]; an object whose pid still runs
# belongs to a test in progress (another build's run, say) and is skipped. Leftovers are listed,
# then removed, so that one failed run does not fail the next.
#   usage: check_no_shm.sh [prefix] [shm dir]
prefix=${1:-xmemt_}
dir=${2:-/dev/shm}
left=0
for f in "$dir/$prefix"* "$dir/sem.$prefix"*; do
  [ -e "$f" ] || continue
  base=${f##*/}
  base=${base#sem.}
  pid=$(printf '%s\n' "$base" | sed -n "s/^${prefix}[a-z.-]*_\([0-9][0-9]*\).*/\1/p")
  if [ -n "$pid" ] && [ "$pid" != "$$" ] && [ -d "/proc/$pid" ]; then
    continue
  fi
  echo "left behind: $f"
  left=$((left + 1))
  rm -f "$f"
done
if [ "$left" -ne 0 ]; then
  echo "$left shared-memory object(s) of test pools were left behind (now removed)"
  exit 1
fi
echo "no shared-memory object of test pools left behind"
