#!/usr/bin/env bash
# Fuzz full, SWA and hybrid pools for a bounded time (docs/fuzzing.md).
#   fuzz/run.sh [SECONDS]        fuzz for SECONDS (default 60); 0 = only replay corpus + regressions
#   fuzz/run.sh --merge SECONDS  then fold inputs that reach new edges into fuzz/corpus/
# Needs Debian's clang and libclang-rt-dev (clang++ -fsanitize=fuzzer). Builds in $PAGEDKV_FUZZ_BUILD
# (default build-fuzz). A crash stops the run and is copied into fuzz/regressions/, which the host
# tests replay (tests/test_fuzz_regressions.cpp): fix the bug, keep the file.
set -euo pipefail
cd "$(dirname "$0")/.."
merge=0
if [ "${1:-}" = --merge ]; then merge=1; shift; fi
secs=${1:-60}
build=${PAGEDKV_FUZZ_BUILD:-build-fuzz}
cxx=${PAGEDKV_FUZZ_CXX:-clang++}
mkdir -p "$build/corpus" "$build/crashes"

"$cxx" -std=c++20 -g -O1 -Wall -Wextra -Wpedantic -Werror -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=undefined ${PAGEDKV_FUZZ_CXXFLAGS:-} -Iinclude fuzz/fuzz_pools.cpp -o "$build/fuzz_pools"

# Every kept input must still pass (libFuzzer runs each file once with -runs=0).
if ! "$build/fuzz_pools" -runs=0 fuzz/regressions fuzz/corpus >"$build/replay.log" 2>&1; then
  tail -n 40 "$build/replay.log"
  echo "fuzz: a kept input fails (log: $build/replay.log)"
  exit 1
fi
grep -E '^(pagedkv calls|INFO: seed corpus)' "$build/replay.log" || true
[ "$secs" -gt 0 ] || exit 0

status=0
"$build/fuzz_pools" -max_total_time="$secs" -max_len=512 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$build/crashes/" "$build/corpus" fuzz/corpus >"$build/last_run.log" 2>&1 || status=$?
grep -E '^(pagedkv calls|  [a-z]+ +ok|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)' \
  "$build/last_run.log" || true
for f in "$build"/crashes/crash-* "$build"/crashes/leak-* "$build"/crashes/timeout-* "$build"/crashes/oom-*; do
  [ -e "$f" ] || continue
  cp -n "$f" fuzz/regressions/ && echo "fuzz: kept $(basename "$f") in fuzz/regressions/ (see $build/last_run.log)"
  rm -f "$f"
done
if [ "$merge" = 1 ]; then
  # Edges only (no hit counters): keeps the checked-in corpus to the few inputs that reach new code.
  "$build/fuzz_pools" -set_cover_merge=1 -use_counters=0 -use_value_profile=0 fuzz/corpus "$build/corpus" 2>&1 |
    grep -E '^MERGE-OUTER: [0-9]+ new files' || true
fi
exit "$status"
