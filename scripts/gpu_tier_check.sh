#!/usr/bin/env bash
# Issue 17's GPU checks in one device call (well under 10 minutes): nvcc builds (sm_90a) of the
# host tier's GPU cases (tests/gpu/main.cu + test_tier_copy.cu) and of bench/tier_copy.cu, then the
# cases plain and under compute-sanitizer memcheck, then the bench (its table goes to
# bench/RESULTS.md). Every log lands in $OUT (default /tmp/gpu_tier_check).
# Needs nvcc on the machine, and doctest/doctest.h and xxhash.h: from $DEPS (default build-swa-deps/,
# made here with `mkdir -p build-swa-deps && cp -r /usr/include/doctest /usr/include/xxhash.h
# build-swa-deps/` and carried to the device), else from /usr/include.
# Usage: OUT=/tmp/out scripts/gpu_tier_check.sh   (BUILD_ONLY=1: stop after the build, for a machine without a GPU)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_tier_check}
B=${BUILD:-/tmp/b-tier}
DEPS=${DEPS:-build-swa-deps}
mkdir -p "$OUT" "$B"
command -v nvcc >/dev/null || [ ! -x /usr/local/cuda/bin/nvcc ] || export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$OUT/gpu.txt"
nvcc --version | tail -n 2 | tee -a "$OUT/gpu.txt"
inc=(-Iinclude)
[ -d "$DEPS" ] && inc+=(-I"$DEPS")
inc+=(-I/usr/include)
flags=(-O3 -lineinfo -gencode=arch=compute_90a,code=sm_90a --expt-relaxed-constexpr -std=c++20 -Xcompiler=-Wall,-Wextra "${inc[@]}")
rc=0
run() {  # run NAME TIMEOUT CMD...: logs to $OUT/NAME.log, prints its tail
  local name=$1 t=$2; shift 2
  echo "== $name"
  timeout "$t" "$@" >"$OUT/$name.log" 2>&1; local s=$?
  tail -n "${TAIL:-4}" "$OUT/$name.log"
  echo "-- $name: exit $s"
  [ $s -eq 0 ] || rc=1
  return $s
}
# The two test objects and the bench build side by side (a few minutes of nvcc at most).
t0=$(date +%s)
nvcc "${flags[@]}" -c tests/gpu/main.cu -o "$B/main.o" >"$OUT/build_main.log" 2>&1 & p1=$!
nvcc "${flags[@]}" -c tests/gpu/test_tier_copy.cu -o "$B/test_tier_copy.o" >"$OUT/build_test.log" 2>&1 & p2=$!
nvcc "${flags[@]}" bench/tier_copy.cu -o "$B/tier_copy" >"$OUT/build_bench.log" 2>&1 & p3=$!
built=1
for p in $p1 $p2 $p3; do wait "$p" || built=0; done
[ $built = 1 ] && { nvcc "${flags[@]}" "$B/main.o" "$B/test_tier_copy.o" -o "$B/tier_gpu_tests" >"$OUT/build_link.log" 2>&1 || built=0; }
echo "build: $(( $(date +%s) - t0 )) s, ok=$built"
if [ $built = 0 ]; then
  cat "$OUT"/build_*.log | grep -E "error" | head -30
  echo "gpu_tier_check: build failed (logs in $OUT)"
  exit 1
fi
[ "${BUILD_ONLY:-0}" = 1 ] && { echo "gpu_tier_check: built (BUILD_ONLY=1), nothing run"; exit 0; }
TAIL=6 run tier_tests 120 "$B/tier_gpu_tests" -tc='host tier on the GPU*'
TAIL=6 run tier_memcheck 300 compute-sanitizer --tool memcheck --error-exitcode 1 "$B/tier_gpu_tests" -tc='host tier on the GPU*'
TAIL=20 run tier_copy_bench 240 "$B/tier_copy"
echo "gpu_tier_check: exit $rc (logs in $OUT)"
exit $rc
