#!/usr/bin/env bash
# Device tables on the GPU machine: build, the GPU cases ("device tables: ..."), compute-sanitizer
# memcheck and racecheck on them, then the bench. Logs go to $OUT (default /tmp/device_tables_out).
# Environment: STEPS (bench decode steps, 200), SANITIZERS ("memcheck racecheck"; empty skips them).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/device_tables_out}
build=${BUILD:-/tmp/build-device-tables}
mkdir -p "$out"
cases='device tables*'

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dexamples=false -Dbench=auto >"$out/setup.log" 2>&1 || { tail -30 "$out/setup.log"; exit 1; }
fi
ninja -C "$build" -j16 tests/gpu/pagedkv_gpu_tests bench/bench_device_tables >"$out/build.log" 2>&1 \
  || { tail -40 "$out/build.log"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv >"$out/gpu.txt" 2>&1
cat "$out/gpu.txt"

rc=0
"$build/tests/gpu/pagedkv_gpu_tests" -tc="$cases" >"$out/tests.log" 2>&1 || rc=1
echo "tests: $(grep -E '^\[doctest\] test cases' "$out/tests.log")"
for tool in ${SANITIZERS-memcheck racecheck}; do  # SANITIZERS= skips them
  timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 3 \
    "$build/tests/gpu/pagedkv_gpu_tests" -tc="$cases" >"$out/$tool.log" 2>&1 || rc=1
  echo "$tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|test cases' "$out/$tool.log" | tr '\n' ' ')"
done
"$build/bench/bench_device_tables" "${STEPS:-200}" | tee "$out/bench.md" || rc=1
exit $rc
