#!/bin/sh
# make demo: runs every ported example, one after the other, with a title.
# Each prints what its Python original prints, with the same timing.
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
run() {
    name=$1
    shift
    if [ ! -x "$BUILD/examples/$name" ]; then
        echo "== $name: not built"
        return
    fi
    echo
    echo "== examples/$name.c"
    start=$(date +%s%N)
    "$BUILD/examples/$name" "$@"
    end=$(date +%s%N)
    awk -v n="$name" -v s="$start" -v e="$end" 'BEGIN { printf "-- %s took %.2f s\n", n, (e - s) / 1e9 }'
}
echo "cio demo: C ports of the asyncio examples in the seed documents"
# Core: run, tasks, gather, as_completed, errors, cancellation, shield, timeouts.
for e in run task gather as_completed gather_exceptions as_completed_exceptions cancel shield timeout; do
    run $e
done
# Coordination, blocking work, files, logging, networking (when built).
for e in $(cat scripts/demo-more.txt 2>/dev/null); do
    run $e
done
