#!/bin/sh
# Builds every libFuzzer target in fuzz/ with clang and runs each for a
# bounded time: scripts/fuzz.sh [seconds-per-target] (default 60).
# Seeds come from fuzz/corpus/<target>/ (copied, so the tree stays clean);
# a crash leaves its input in $BUILD/fuzz-artifacts/ and fails the script.
set -eu
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${CIO_FUZZ_BUILD:-$root/build-fuzz}
command -v clang >/dev/null || { echo "fuzz.sh: clang is needed (scripts/install-deps.sh)" >&2; exit 1; }
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=""
for src in "$root"/fuzz/*.c; do
  [ -e "$src" ] || continue
  targets="$targets fuzz-$(basename "$src" .c)"
done
[ -n "$targets" ] || { echo "fuzz.sh: no targets"; exit 0; }
# shellcheck disable=SC2086
cmake --build "$build" -j"${CIO_JOBS:-2}" --target $targets >/dev/null
mkdir -p "$build/fuzz-artifacts"
status=0
for t in $targets; do
  name=${t#fuzz-}
  corpus="$build/fuzz-corpus/$name"
  mkdir -p "$corpus"
  [ -d "$root/fuzz/corpus/$name" ] && cp -n "$root/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  if ! "$build/$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$build/fuzz-artifacts/$name-" "$corpus" \
      >"$build/fuzz-$name.log" 2>&1; then
    echo "fuzz: $name FAILED (log: $build/fuzz-$name.log)"
    tail -n 30 "$build/fuzz-$name.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|cov:" "$build/fuzz-$name.log" | tail -n 2
  fi
done
exit $status
