#!/usr/bin/env bash
# Fuzz the pools (fuzz_pools: full, SWA, hybrid, caching hybrid), the host tier (fuzz_tier) and the
# three-group hybrid (fuzz_multi) for a bounded time each (docs/fuzzing.md).
#   fuzz/run.sh [SECONDS]        fuzz each target for SECONDS (default 60); 0 = only replay kept inputs
#   fuzz/run.sh --merge SECONDS  then fold inputs that reach new edges into fuzz/corpus/ (corpus-tier/,
#                                corpus-multi/)
# Needs Debian's clang and libclang-rt-dev (clang++ -fsanitize=fuzzer). Builds in $PAGEDKV_FUZZ_BUILD
# (default build-fuzz). A crash stops the run and is copied into fuzz/regressions/ (fuzz_tier's into
# fuzz/regressions-tier/, fuzz_multi's into fuzz/regressions-multi/), which the host tests replay
# (tests/test_fuzz_regressions.cpp): fix the bug, keep the file.
set -euo pipefail
cd "$(dirname "$0")/.."
merge=0
if [ "${1:-}" = --merge ]; then merge=1; shift; fi
secs=${1:-60}
build=${PAGEDKV_FUZZ_BUILD:-build-fuzz}
cxx=${PAGEDKV_FUZZ_CXX:-clang++}
status=0
# fuzz_target NAME CORPUS REGRESSIONS: build, replay the kept inputs, fuzz, keep crashes, merge.
fuzz_target() {
  local name=$1 corpus=$2 regressions=$3 work="$build/$1.work"
  mkdir -p "$work/corpus" "$work/crashes"
  # The checks and the state digest are left out of the coverage tracing (fuzz/coverage_ignore.txt).
  "$cxx" -std=c++20 -g -O1 -Wall -Wextra -Wpedantic -Werror -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -fsanitize-coverage-ignorelist=fuzz/coverage_ignore.txt \
    ${PAGEDKV_FUZZ_CXXFLAGS:-} -Iinclude "fuzz/$name.cpp" -o "$build/$name"
  local kept=("$corpus")
  [ -d "$regressions" ] && kept=("$regressions" "$corpus")
  # Every kept input must still pass (libFuzzer runs each file once with -runs=0).
  if ! "$build/$name" -runs=0 "${kept[@]}" >"$work/replay.log" 2>&1; then
    tail -n 40 "$work/replay.log"
    echo "fuzz: a kept input of $name fails (log: $work/replay.log)"
    return 1
  fi
  echo "fuzz: $name replayed ${kept[*]}"
  grep -E '^(pagedkv calls|INFO: seed corpus)' "$work/replay.log" || true
  [ "$secs" -gt 0 ] || return 0
  local st=0
  "$build/$name" -max_total_time="$secs" -max_len=512 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/crashes/" "$work/corpus" "$corpus" >"$work/last_run.log" 2>&1 || st=$?
  grep -E '^(pagedkv calls|  [a-z_]+ +ok|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)' \
    "$work/last_run.log" || true
  for f in "$work"/crashes/crash-* "$work"/crashes/leak-* "$work"/crashes/timeout-* "$work"/crashes/oom-*; do
    [ -e "$f" ] || continue
    mkdir -p "$regressions"
    cp -n "$f" "$regressions/" && echo "fuzz: kept $(basename "$f") in $regressions/ (see $work/last_run.log)"
    rm -f "$f"
  done
  if [ "$merge" = 1 ]; then
    # Edges only (no hit counters): keeps the checked-in corpus to the few inputs that reach new code.
    "$build/$name" -set_cover_merge=1 -use_counters=0 -use_value_profile=0 "$corpus" "$work/corpus" 2>&1 |
      grep -E '^MERGE-OUTER: [0-9]+ new files' || true
  fi
  return "$st"
}
fuzz_target fuzz_pools fuzz/corpus fuzz/regressions || status=1
fuzz_target fuzz_tier fuzz/corpus-tier fuzz/regressions-tier || status=1
fuzz_target fuzz_multi fuzz/corpus-multi fuzz/regressions-multi || status=1
exit "$status"
