#!/usr/bin/env bash
# The Python package with its CUDA part on a GPU machine, in one device call (under 10 minutes):
# builds the extension with meson directly (-Dpython=true -Dcuda=enabled; no pip, no network), puts
# it beside python/pagedkv's sources in a stage folder on PYTHONPATH, and runs the whole pytest suite
# (tests/python, test_device_tables.py's GPU cases included). Logs and pytest's junit XML go to $OUT.
#
#   bash scripts/gpu_python_check.sh          from the repository root of the sent tree
#
# With FlashInfer's wheels in $WHL (default .whl/: flashinfer-python 0.5.3 and apache-tvm-ffi, fetched
# with `pip download --no-deps`, carried), it also installs them into /tmp/site, compiles the FlashInfer
# modules examples/python/flashinfer_paged.py uses and pagedkv's decode shim (bench/swa_decode_shim.cu)
# while the extension builds, so test_flashinfer_paged.py runs instead of skipping.
#
# The machine it was written for: torch, numpy, pytest, nanobind, meson and ninja in PY's venv
# (default /opt/torch/.venv/bin/python3), nvcc under /usr/local/cuda/bin; no meson-python, and no
# xxHash header or pkg-config file. Carry xxhash.h in $DEPS (default build-swa-deps/, an ignored
# folder): without a libxxhash pkg-config file the script makes subprojects/xxhash from it, which
# meson's dependency('libxxhash') falls back to through the wrap's [provide]. If the meson build
# fails there and $DEPS/prebuilt/ holds a CUDA module built on a development machine for PY's
# Python version (the meson commands of docs/python.md, run with a venv of that version), that
# module is tested instead, and env.txt says so.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
OUT=${OUT:-/tmp/gpu_python_check}
PY=${PY:-/opt/torch/.venv/bin/python3}
DEPS=${DEPS:-build-swa-deps}
WHL=${WHL:-.whl}
B=${BUILD:-/tmp/pagedkv-gpu-python}  # JOBS: ninja's -j (default: ninja's own)
mkdir -p "$OUT"
export PATH="$(dirname "$PY"):/usr/local/cuda/bin:$PATH" PYTHONUNBUFFERED=1
say() { echo "gpu_python_check: $*"; }

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  "$PY" - <<'PY'
import importlib.metadata as md, sys
def version(p):
    try:
        return md.version(p)
    except md.PackageNotFoundError:
        return "absent"
print("python", sys.version.split()[0], *(f"| {p} {version(p)}" for p in ("torch", "numpy", "nanobind", "meson", "ninja")))
try:
    import torch
    print("torch cuda", torch.version.cuda, "available", torch.cuda.is_available())
except ImportError:
    print("torch cannot be imported")
PY
  nvcc --version | tail -n 1
} 2>&1 | tee "$OUT/env.txt"

# xxHash's header for meson's dependency('libxxhash'), when the machine has no pkg-config file for it.
if ! pkg-config --exists libxxhash 2>/dev/null; then
  if [ ! -f "$DEPS/xxhash.h" ]; then
    say "no libxxhash pkg-config file and no $DEPS/xxhash.h: carry Debian's /usr/include/xxhash.h in $DEPS/" >&2
    exit 2
  fi
  mkdir -p subprojects/xxhash
  cp "$DEPS/xxhash.h" subprojects/xxhash/
  printf "project('xxhash', version: '0.8')\nxxhash_dep = declare_dependency(include_directories: include_directories('.'))\n" \
    >subprojects/xxhash/meson.build
  printf "[wrap-file]\ndirectory = xxhash\n\n[provide]\nlibxxhash = xxhash_dep\n" >subprojects/xxhash.wrap
  say "libxxhash: subprojects/xxhash from $DEPS/xxhash.h"
fi

# FlashInfer (optional): wheels, its JIT modules and the shim, in the background while meson builds.
fi_pid= shim_pid= site=
if ls "$WHL"/flashinfer_python-*.whl >/dev/null 2>&1; then
  site=/tmp/site
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" "$WHL"/*.whl \
    >"$OUT/pip.log" 2>&1 || { tail -5 "$OUT/pip.log"; site=; }
fi
if [ -n "$site" ]; then
  export FLASHINFER_WORKSPACE_BASE=/tmp/fiws FLASHINFER_CUDA_ARCH_LIST=9.0a MAX_JOBS=${MAX_JOBS:-3}
  say "flashinfer installed in $site: JIT warm-up and the decode shim in the background"
  PYTHONPATH=$site timeout 400 "$PY" examples/python/flashinfer_paged.py --warm >"$OUT/fi_warm.log" 2>&1 &
  fi_pid=$!
  nvcc -O3 -shared -Xcompiler=-fPIC -gencode=arch=compute_90a,code=sm_90a -std=c++20 --expt-relaxed-constexpr \
    -Iinclude bench/swa_decode_shim.cu -o /tmp/libswa_decode_shim.so >"$OUT/shim.log" 2>&1 &
  shim_pid=$!
fi

# meson run by PY itself, so that find_installation() is that Python (torch's venv).
rm -rf "$B"
say "meson setup $B (-Dpython=true -Dcuda=enabled)"
built=false
if timeout 120 "$PY" -m mesonbuild.mesonmain setup "$B" -Dpython=true -Dcuda=enabled -Dtests=false \
     -Dexamples=false -Dbench=disabled -Dtools=false >"$OUT/meson_setup.log" 2>&1 &&
   say "ninja -C $B (nvcc for python/src/device_tables.cu)" &&
   timeout 360 ninja -C "$B" ${JOBS:+-j"$JOBS"} >"$OUT/ninja.log" 2>&1; then
  built=true
  module=$(ls "$B"/python/_pagedkv*.so)
else
  tail -n 40 "$OUT/meson_setup.log" "$OUT/ninja.log" 2>/dev/null
  module=$(ls "$DEPS"/prebuilt/_pagedkv*.so 2>/dev/null | head -n 1)
  [ -n "$module" ] || { say "the meson build failed and $DEPS/prebuilt/ has no module" >&2; exit 1; }
  say "the meson build failed: testing the module built on the development machine, $module"
fi
echo "built_here=$built module=$module" >>"$OUT/env.txt"

stage=$B/stage
mkdir -p "$stage/pagedkv"
cp python/pagedkv/*.py python/pagedkv/*.pyi python/pagedkv/py.typed "$stage/pagedkv/"
cp "$module" "$stage/pagedkv/"
export PYTHONPATH=$stage${site:+:$site}
if [ -n "$fi_pid" ]; then
  wait "$fi_pid"; say "flashinfer warm-up exit $? ($(tail -n 1 "$OUT/fi_warm.log"))"
  wait "$shim_pid" && export PAGEDKV_DECODE_SHIM=/tmp/libswa_decode_shim.so
  say "decode shim: ${PAGEDKV_DECODE_SHIM:-failed (see shim.log)}"
fi
"$PY" -c 'import pagedkv as pk; print("pagedkv CUDA", pk.CUDA, "devices", pk.cuda_device_count())' 2>&1 |
  tee -a "$OUT/env.txt"

# From $OUT, so that `import pagedkv` is the stage folder's, never python/pagedkv without its module.
say "pytest tests/python (log: $OUT/pytest.log)"
cd "$OUT"
timeout 360 "$PY" -m pytest -p no:cacheprovider -v -rs "$repo/tests/python" --rootdir "$repo/tests/python" \
  --junitxml "$OUT/pytest.xml" >"$OUT/pytest.log" 2>&1
rc=$?
grep -E '^(FAILED|ERROR|SKIPPED) ' "$OUT/pytest.log" | head -n 40
tail -n 1 "$OUT/pytest.log"
say "exit $rc"
exit $rc
