#!/usr/bin/env bash
# One device-machine call: the GPU suite, compute-sanitizer memcheck and racecheck, the swa_decode
# example and the disaggregation bench, from binaries built on the development machine and carried
# in BIN (default devbin/). Logs go to $OUT (default /tmp/gpu_check).
# Usage: scripts/gpu_check.sh [all|run|memcheck]  (each part fits one 10-minute device call)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-devbin}
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
nccl=$(find / -name 'libnccl.so.2*' -not -path '/proc/*' 2>/dev/null | head -n 1)
[ -n "$nccl" ] && export LD_LIBRARY_PATH="$(dirname "$nccl")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "NCCL library: ${nccl:-none}"
export PAGEDKV_SOURCE_DIR=$PWD
rc=0
run() {  # run NAME TIMEOUT CMD...: logs to $OUT/NAME.log, prints its tail
  local name=$1 t=$2; shift 2
  echo "== $name"
  timeout "$t" "$@" >"$OUT/$name.log" 2>&1; local s=$?
  tail -n "${TAIL:-4}" "$OUT/$name.log"
  echo "-- $name: exit $s"
  [ $s -eq 0 ] || rc=1
}
what=${1:-all}
if [ "$what" = all ] || [ "$what" = run ]; then
  run gpu_tests 150 "$BIN/pagedkv_gpu_tests"
  TAIL=12 run example 60 "$BIN/swa_decode"
  TAIL=12 run kv_transfer 120 "$BIN/kv_transfer"
  TAIL=6 run racecheck 200 compute-sanitizer --tool racecheck --error-exitcode 1 "$BIN/pagedkv_gpu_tests" \
    -tc='*long window*,*speculative*,device tables: the validator*,*disaggregation*'
fi
if [ "$what" = all ] || [ "$what" = memcheck ]; then
  TAIL=6 run memcheck 540 compute-sanitizer --tool memcheck --error-exitcode 1 "$BIN/pagedkv_gpu_tests"
  TAIL=6 run memcheck_example 60 compute-sanitizer --tool memcheck --error-exitcode 1 "$BIN/swa_decode"
fi
echo "gpu_check: exit $rc"
exit $rc
