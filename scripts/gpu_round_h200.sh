#!/usr/bin/env bash
# Issue 16 (GPU round on the H200) in two device calls of under 10 minutes each; logs under $OUT.
#   scripts/gpu_round_h200.sh check   FlashInfer wheels installed and its JIT warm-up started in the
#                                     background (setsid: it outlives this call while the machine stays
#                                     warm); nvcc builds (sm_90a) of the GPU suite, the swa_decode
#                                     example, the GPU benches and bench/swa_decode_shim.cu; then the
#                                     suite and the example plain, then compute-sanitizer memcheck
#                                     (suite + example) and racecheck (suite), side by side.
#   scripts/gpu_round_h200.sh bench   builds whatever a fresh machine lacks, waits for the JIT
#                                     warm-up, then bench/swa_decode (CUDA), bench_device_tables,
#                                     kv_transfer and bench/swa_decode_flashinfer.py, one after another
#                                     on an otherwise idle GPU.
# Builds with nvcc directly (meson's cuda_args, with sm_90a) so the host targets' build, and
# libxxhash's pkg-config file, which the device lacks, stay out of it. Carry Debian's xxhash.h (and
# doctest.h) in build-swa-deps/, and the wheels (flashinfer-python 0.5.3, apache-tvm-ffi 0.1.4) in
# $WHL (default ../.whl: the device call runs from a copy of this tree inside the sent checkout).
# Preparing a call from a worktree (the device tool sends the main checkout only): in the main
# checkout, ignore /.wt16/ and /.whl/ (.git/info/exclude), copy this tree's tracked files to .wt16/
# (`git ls-files -z | xargs -0 cp --parents -t MAIN/.wt16/`) plus build-swa-deps/, download the two
# wheels into .whl/ (pip download --no-deps, as the device README says), then run with carry
# [".wt16", ".whl"]: `cd .wt16 && bash scripts/gpu_round_h200.sh check`, then at once (the machine
# stays warm 30 s) `cd .wt16 && bash scripts/gpu_round_h200.sh bench`. The MTP family alone:
# `SKIP_CUDA_BENCH=1 FI_ARGS="--families mtp" bash scripts/gpu_round_h200.sh bench` (the warm-up then
# builds only MTP's modules; add --batches 8,64 to keep only those batch sizes). NCU=1 adds Nsight
# Compute profiles of the decode kernel (first --quick --small config, then B = 256 with 32/8 and
# 16/16 heads) and the sync kernels;
# SPLITS_SWEEP=1 times B = 1 and 8 with 2x and 4x the plan's split count (bench/swa_decode.cu).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/h200_out}
B=${BUILD:-/tmp/b-h200}
WHL=${WHL:-../.whl}
[ -d "$WHL" ] || WHL=.whl  # run from the main checkout itself, the wheels carried in .whl/
mkdir -p "$OUT" "$B"
export PYTHONUNBUFFERED=1 PAGEDKV_SOURCE_DIR=$PWD
export FLASHINFER_WORKSPACE_BASE=/tmp/fiws FLASHINFER_CUDA_ARCH_LIST=9.0a MAX_JOBS=${MAX_JOBS:-14}
T0=$(date +%s)
el() { echo "$(( $(date +%s) - T0 )) s"; }

install_wheels() {
  if [ ! -d /tmp/site/flashinfer ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
      "$WHL"/*.whl > "$OUT/pip.log" 2>&1 || { tail -5 "$OUT/pip.log"; return 1; }
  fi
  export PYTHONPATH=/tmp/site
}

start_warm() {  # the FlashInfer JIT, niced, in its own session; /tmp/fi_warm.done marks the end
  [ -f /tmp/fi_warm.done ] || [ -f /tmp/fi_warm.pid ] && return 0
  setsid nohup bash -c "nice -n 10 python3 bench/swa_decode_flashinfer.py --warm ${FI_ARGS:-} > /tmp/fi_warm.log 2>&1; touch /tmp/fi_warm.done" \
    > /dev/null 2>&1 < /dev/null &
  echo $! > /tmp/fi_warm.pid
  echo "flashinfer JIT warm-up started ($(el))"
}

flags=(-O3 -lineinfo -gencode=arch=compute_90a,code=sm_90a --expt-relaxed-constexpr -std=c++20
       -Xcompiler=-Wall,-Wextra -Iinclude -Ibuild-swa-deps)
nccl_flags=()
nccl_h=$(ls /usr/local/cuda/include/nccl.h /usr/include/nccl.h /usr/local/include/nccl.h 2>/dev/null | head -n 1)
nccl_so=$(find / -name 'libnccl.so*' -not -path '/proc/*' 2>/dev/null | head -n 1)
if [ -n "$nccl_h" ] && [ -n "$nccl_so" ]; then
  nccl_flags=(-DPAGEDKV_WITH_NCCL -I"$(dirname "$nccl_h")" -L"$(dirname "$nccl_so")" -l:"$(basename "$nccl_so")")
  export LD_LIBRARY_PATH="$(dirname "$nccl_so")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

build() {  # build [bench]: every target, or only the benches and the shim
  local t0=$(date +%s) pids=() ok=1
  if [ "${1:-}" != bench ]; then
    for src in tests/gpu/*.cu; do  # every GPU case: main.cu and each test_*.cu
      f=$(basename "$src" .cu)
      [ -f "$B/$f.o" ] || { nvcc "${flags[@]}" -Xptxas -v -c "$src" -o "$B/$f.o" > "$B/$f.log" 2>&1 & pids+=($!); }
    done
    [ -f "$B/swa_decode_example" ] || { nvcc "${flags[@]}" examples/swa_decode/main.cu -o "$B/swa_decode_example" > "$B/example.log" 2>&1 & pids+=($!); }
  fi
  [ -f "$B/swa_decode" ] || { nvcc "${flags[@]}" bench/swa_decode.cu -o "$B/swa_decode" > "$B/bench_swa.log" 2>&1 & pids+=($!); }
  [ -f "$B/bench_device_tables" ] || { nvcc "${flags[@]}" bench/bench_device_tables.cu -o "$B/bench_device_tables" > "$B/bench_dt.log" 2>&1 & pids+=($!); }
  [ -f "$B/kv_transfer" ] || { nvcc "${flags[@]}" "${nccl_flags[@]}" bench/kv_transfer.cu -o "$B/kv_transfer" > "$B/bench_kvt.log" 2>&1 & pids+=($!); }
  [ -f "$B/tier_copy" ] || { nvcc "${flags[@]}" bench/tier_copy.cu -o "$B/tier_copy" > "$B/bench_tier.log" 2>&1 & pids+=($!); }
  [ -f "$B/libswa_decode_shim.so" ] || { nvcc "${flags[@]}" -shared -Xcompiler=-fPIC bench/swa_decode_shim.cu -o "$B/libswa_decode_shim.so" > "$B/shim.log" 2>&1 & pids+=($!); }
  for p in "${pids[@]}"; do wait "$p" || ok=0; done
  if [ "${1:-}" != bench ] && [ ! -f "$B/gpu_tests" ] && [ $ok = 1 ]; then
    nvcc "${flags[@]}" "$B"/main.o "$B"/test_*.o -o "$B/gpu_tests" > "$B/link.log" 2>&1 || ok=0
  fi
  cat "$B"/*.log > "$OUT/build.log" 2>/dev/null
  echo "build: $(( $(date +%s) - t0 )) s, ok=$ok, warnings: $(grep -c 'warning' "$OUT/build.log")"
  grep -A2 "decode_kernel" "$B/test_swa_decode.log" 2>/dev/null | grep -E "registers|spill" | sort | uniq -c | head -6
  [ $ok = 1 ] || { grep -E "error" "$OUT/build.log" | head -30; return 1; }
}

summary() { grep -E "ERROR SUMMARY|RACECHECK SUMMARY|^\[doctest\] (test cases|assertions|Status)|FAILED|Invalid" "$1" | head -8; }

case "${1:-}" in
check)
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm,temperature.gpu,power.draw --format=csv | tee "$OUT/gpu.txt"
  install_wheels && python3 -c "import flashinfer, tvm_ffi; print('flashinfer', flashinfer.__version__, 'tvm_ffi', tvm_ffi.__version__)" 2>&1 | tail -3
  start_warm
  build || exit 1
  echo "== suite ($(el))"
  timeout 200 "$B/gpu_tests" -d > "$OUT/tests.log" 2>&1; echo "suite rc=$? ($(el))"; summary "$OUT/tests.log"
  timeout 60 "$B/swa_decode_example" > "$OUT/example.log" 2>&1; echo "example rc=$?"; tail -4 "$OUT/example.log"
  left=$(( 570 - $(date +%s) + T0 ))
  echo "== sanitizers, side by side, ${left} s allowed ($(el))"
  timeout "$left" compute-sanitizer --tool memcheck --error-exitcode 99 "$B/gpu_tests" -d > "$OUT/memcheck.log" 2>&1 & m=$!
  # racecheck in three shards side by side (one pass over the suite outgrew a call): the two longest
  # device-table histories, the other device-table cases, everything else.
  long='device tables: fused*,device tables: a full pool*'
  shards=("-tc=$long" "-tc=device tables*" "-tce=device tables*")
  excludes=("" "-tce=$long" "")
  rpids=()
  for i in 0 1 2; do
    timeout "$left" compute-sanitizer --tool racecheck --error-exitcode 99 "$B/gpu_tests" -d "${shards[$i]}" \
      ${excludes[$i]:+"${excludes[$i]}"} > "/tmp/racecheck_$i.log" 2>&1 & rpids+=($!)
  done
  timeout 200 compute-sanitizer --tool memcheck --error-exitcode 99 "$B/swa_decode_example" > "$OUT/memcheck_example.log" 2>&1; echo "memcheck example rc=$?"
  summary "$OUT/memcheck_example.log"
  wait $m; echo "memcheck suite rc=$? ($(el))"; summary "$OUT/memcheck.log"
  for i in 0 1 2; do
    wait "${rpids[$i]}"; echo "racecheck shard $i (${shards[$i]} ${excludes[$i]}) rc=$? ($(el))"; summary "/tmp/racecheck_$i.log"
  done
  cat /tmp/racecheck_0.log /tmp/racecheck_1.log /tmp/racecheck_2.log > "$OUT/racecheck.log"
  rm -f "$OUT/pip.log"
  grep -E "^[0-9.]+ s: " "$OUT/memcheck.log" "$OUT/racecheck.log" | sort -t: -k2 -rn | head -12
  cp /tmp/fi_warm.log "$OUT/fi_warm.log" 2>/dev/null; tail -12 /tmp/fi_warm.log 2>/dev/null
  [ -f /tmp/fi_warm.done ] && echo "JIT warm-up done" || echo "JIT warm-up still running ($(el))"
  ;;
bench)
  install_wheels || exit 1
  start_warm
  build bench || exit 1
  if [ "${NCU:-0}" = 1 ]; then  # Nsight Compute while the JIT warm-up runs: the decode kernel's first config, the sync kernels
    timeout 150 ncu --set full -k regex:decode_kernel -c 1 "$B/swa_decode" --quick --small > "$OUT/ncu_decode.txt" 2>&1
    echo "ncu decode rc=$? ($(el))"
    for cfg in 256,8192,1024,32,8,128 256,8192,1024,16,16,128; do  # GQA against MHA at B = 256, same file
      echo "=== ncu --only $cfg" >> "$OUT/ncu_decode.txt"
      timeout 100 ncu --set full -k regex:decode_kernel -c 1 "$B/swa_decode" --only "$cfg" >> "$OUT/ncu_decode.txt" 2>&1
      echo "ncu decode $cfg rc=$? ($(el))"
    done
    timeout 90 ncu --set full -k regex:tables_apply_emit -c 4 "$B/bench_device_tables" 3 > "$OUT/ncu_sync.txt" 2>&1
    echo "ncu sync rc=$? ($(el))"
  fi
  if [ "${SPLITS_SWEEP:-0}" = 1 ]; then  # the split choice at B = 1 and 8: the plan's, 2x and 4x
    timeout 150 "$B/swa_decode" --small --splits-sweep > "$OUT/splits_sweep.log" 2>&1
    echo "splits sweep rc=$? ($(el))"
  fi
  while [ ! -f /tmp/fi_warm.done ] && [ $(( $(date +%s) - T0 )) -lt 330 ]; do sleep 5; done
  echo "JIT warm-up: $(tail -1 /tmp/fi_warm.log) (waited until $(el))"
  grep FAILED /tmp/fi_warm.log | cut -c1-300
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.sm,temperature.gpu,power.draw --format=csv | tee "$OUT/gpu.txt"
  [ "${SKIP_CUDA_BENCH:-0}" = 1 ] || {
    timeout 200 "$B/swa_decode" --csv "$OUT/ours.csv" > "$OUT/bench_swa.log" 2>&1; echo "swa_decode rc=$? ($(el))"; head -2 "$OUT/bench_swa.log"
    timeout 90 "$B/bench_device_tables" "${STEPS:-200}" > "$OUT/bench_device_tables.md" 2>&1; echo "device tables rc=$? ($(el))"; cat "$OUT/bench_device_tables.md" | tail -12
    timeout 60 "$B/kv_transfer" > "$OUT/kv_transfer.log" 2>&1; echo "kv_transfer rc=$? ($(el))"; tail -8 "$OUT/kv_transfer.log"
  }
  [ "${SKIP_TIER_BENCH:-0}" = 1 ] || {
    timeout 120 "$B/tier_copy" > "$OUT/tier_copy.log" 2>&1; echo "tier_copy rc=$? ($(el))"; tail -14 "$OUT/tier_copy.log"
  }
  left=$(( 575 - $(date +%s) + T0 ))
  timeout "$left" python3 bench/swa_decode_flashinfer.py --shim "$B/libswa_decode_shim.so" --csv "$OUT/flashinfer.csv" \
    --time-limit $(( left - 40 )) ${FI_ARGS:-} > "$OUT/flashinfer.log" 2>&1; echo "flashinfer bench rc=$? ($(el))"
  # FlashInfer's JIT log says whether a module was (re)built during the bench (at most 8 files return).
  { cat /tmp/fi_warm.log; find /tmp/fiws -name '*.log' -newer /tmp/fi_warm.done -exec tail -n 40 {} +; } > "$OUT/fi_jit.log" 2>/dev/null
  rm -f "$OUT/build.log" "$OUT/pip.log"
  grep -E "^GPU|^device|Error|error|Traceback" "$OUT/flashinfer.log" | head -8
  tail -5 "$OUT/flashinfer.log" | cut -c1-400
  ;;
*) echo "usage: $0 check|bench"; exit 2 ;;
esac
