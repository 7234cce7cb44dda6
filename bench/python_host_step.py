#!/usr/bin/env python3
"""Host time per decode request-step from Python: bench/host_step.cpp's workload through pagedkv's
Python package, beside the C++ host_step binary (when built) in the same run. vLLM's KVCacheManager is not
driven here (see bench/RESULTS.md).

Workload (as host_step.cpp): a hybrid pool, P = 16, W = 1024, B requests prefilled to 8k tokens in
512-token chunks; each step reserves 1 + 3 drafts per request (extend_many), emits the full layers'
dense block table + seq lens, the SWA layers' CSR table and both pools' slot mappings into
persistent numpy buffers, then commits 1 + accepted drafts (commit_many, window release). Every
~4k steps of growth the batch is rebuilt (not timed).

    python bench/python_host_step.py [--cxx build-bench/bench/host_step] [--batches 64 256 1024]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

import pagedkv as pk

PAGE, CONTEXT, WINDOW, DRAFTS, GROWTH = 16, 8192, 1024, 3, 4096


def prefill(pool, batch: int) -> np.ndarray:
    ids = pool.add_requests(batch)
    for r in ids:  # one by one, as host_step.cpp: the SWA pool has room for one window + chunk at a time
        for _ in range(0, CONTEXT, 512):
            pool.extend(int(r), 512)
            pool.commit(int(r), 512)
    return ids


def pagedkv_step_us(batch: int, seconds: float) -> float:
    """Median over 3 repetitions of µs per request-step."""
    row = pk.pages_for_tokens(CONTEXT + GROWTH + 1 + DRAFTS, PAGE)  # the longest row
    pool = pk.HybridPool(full_pages=batch * row + 1, swa_pages=batch * (WINDOW // PAGE + 3) + 1,
                         page_size=PAGE, window=WINDOW)
    full, swa = pool.full, pool.swa
    dense = np.zeros((batch, row), np.int32)
    seq_lens = np.zeros(batch, np.int32)
    indptr, indices = np.zeros(batch + 1, np.int32), np.zeros(batch * (WINDOW // PAGE + 2), np.int32)
    last = np.zeros(batch, np.int32)
    full_slots, swa_slots = np.zeros(batch * (1 + DRAFTS), np.int64), np.zeros(batch * (1 + DRAFTS), np.int64)
    rng = np.random.RandomState(1)
    accepted = [int(a) for a in 1 + rng.randint(0, 4, size=4096)]  # 1 + 0..3 drafts, mean 2.5
    ids = prefill(pool, batch)
    grown, step = 0, 0
    results = []
    for _ in range(3):
        timed_ns, steps = 0, 0
        while timed_ns < seconds * 1e9:
            a = accepted[step % len(accepted)]
            step += 1
            start = time.perf_counter_ns()
            pool.extend_many(ids, 1 + DRAFTS)  # reserve the token and drafts
            full.emit_dense(ids, dense, seq_lens)
            swa.emit_csr(ids, indptr, indices, last)
            full.emit_slot_mapping(ids, full_slots)
            swa.emit_slot_mapping(ids, swa_slots)
            pool.commit_many(ids, a)  # drop rejected drafts, slide the window
            timed_ns += time.perf_counter_ns() - start
            steps += 1
            grown += a
            if grown > GROWTH - 4:  # keep lengths bounded: roll everyone back to 8k (not timed)
                pool.free_many(ids)
                ids = prefill(pool, batch)
                grown = 0
        results.append(timed_ns / 1e3 / (steps * batch))
    pool.check_invariants()
    return statistics.median(results)


def call_overhead_ns() -> dict[str, float]:
    """nanobind's per-call cost as an engine sees it: a scalar call and an empty batch call."""
    pool = pk.HybridPool(full_pages=16, swa_pages=16, page_size=PAGE, window=WINDOW)
    r = pool.add_request()
    empty = np.zeros(0, np.uint64)
    out = {}
    for name, f in (("contains(r)", lambda: pool.contains(r)),
                    ("extend_many(empty, 1)", lambda: pool.extend_many(empty, 1))):
        n = 200_000
        start = time.perf_counter_ns()
        for _ in range(n):
            f()
        out[name] = (time.perf_counter_ns() - start) / n
    return out


def cxx_step_us(binary: str | None) -> dict[int, float]:
    if not binary or not os.access(binary, os.X_OK):
        return {}
    res = subprocess.run([binary, "--benchmark_filter=decode_step", "--benchmark_format=json",
                          "--benchmark_repetitions=3", "--benchmark_report_aggregates_only=true"],
                         capture_output=True, text=True, check=True)
    out = {}
    for b in json.loads(res.stdout)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            # an inverted rate counter: JSON holds seconds per request-step
            out[int(b["name"].split("/")[1].split("_")[0])] = b["ns_per_request_step"] * 1e6
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batches", type=int, nargs="*", default=[64, 256, 1024])
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per repetition")
    default_cxx = os.path.join(os.environ.get("PAGEDKV_BUILD_DIR", "build"), "bench", "host_step")
    ap.add_argument("--cxx", default=default_cxx, help="the C++ host_step binary (skipped if absent)")
    args = ap.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}; numpy {np.__version__}")
    for name, ns in call_overhead_ns().items():
        print(f"call overhead: {name}: {ns:.0f} ns")
    cxx = cxx_step_us(args.cxx)
    if not cxx:
        print(f"C++ host_step: not found at {args.cxx} (build it: meson setup build && ninja -C build bench/host_step)")
    try:
        import vllm  # noqa: F401
        print("vLLM: importable, but this script has no KVCacheManager driver yet: not measured")
    except Exception:  # not installed: its wheels (torch, CUDA) do not fit this machine
        print("vLLM: `import vllm` failed: not measured")
    print("| B | Python µs per request-step | C++ µs per request-step | ratio |")
    print("|---|---|---|---|")
    for b in args.batches:
        py_us = pagedkv_step_us(b, args.seconds)
        c = cxx.get(b)
        ratio = f"{py_us / c:.2f}×" if c else "–"
        print(f"| {b} | {py_us:.3f} | {c:.3f} | {ratio} |" if c else f"| {b} | {py_us:.3f} | – | – |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
