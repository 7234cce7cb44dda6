#!/usr/bin/env python3
"""Host time per decode request-step from Python: bench/host_step.cpp's workload through pagedkv's
Python package, beside the C++ host_step binary (when built) and, when vLLM is importable, vLLM's own
`KVCacheManager` (vllm.v1.core) driven through the same workload, all in the same run.

Workload (as host_step.cpp): a hybrid pool, P = 16, W = 1024, B requests prefilled to 8k tokens in
512-token chunks; each step reserves 1 + 3 drafts per request (extend_many), emits the full layers'
dense block table + seq lens, the SWA layers' CSR table and both pools' slot mappings into
persistent numpy buffers, then commits 1 + accepted drafts (commit_many, window release). Every
~4k steps of growth the batch is rebuilt (not timed).

vLLM's side: one KVCacheConfig with a full-attention group and a sliding-window group (W = 1024,
block size 16, one shared block pool, as vLLM's hybrid allocator has it), requests prefilled with
`allocate_slots` in 512-token chunks; each step `allocate_slots(req, 1 + 3, num_lookahead_tokens=3)`
(the verified token and drafts, plus lookahead slots for the next drafts, as vLLM schedules MTP /
EAGLE), `get_block_ids()` of the new blocks (what the scheduler sends its workers), then the
accepted tokens: `num_computed_tokens += 1 + accepted` and `append_output_token_ids`. Sliding-window
blocks leave the window inside `allocate_slots`. Prefix caching off, then on (block hashes by
vLLM's default sha256). vLLM builds block tables and slot mappings in its GPU worker, so its figure
holds no table emission: it is a lower bound of its host cost for this step.

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


def vllm_step_us(batch: int, seconds: float, caching: bool) -> float:
    """vLLM's KVCacheManager through the same workload: median over 3 repetitions of µs per request-step."""
    import torch
    from vllm.sampling_params import SamplingParams
    from vllm.utils.hashing import get_hash_fn_by_name
    from vllm.v1.core.kv_cache_manager import KVCacheManager
    from vllm.v1.core.kv_cache_utils import get_request_block_hasher, init_none_hash
    from vllm.v1.kv_cache_interface import (FullAttentionSpec, KVCacheConfig, KVCacheGroupSpec, KVCacheTensor,
                                            SlidingWindowSpec)
    from vllm.v1.request import Request

    spec = dict(block_size=PAGE, num_kv_heads=8, head_size=128, dtype=torch.bfloat16)
    full, swa = FullAttentionSpec(**spec), SlidingWindowSpec(**spec, sliding_window=WINDOW)
    row = pk.pages_for_tokens(CONTEXT + GROWTH + 2 * (1 + DRAFTS), PAGE)
    blocks = batch * (row + WINDOW // PAGE + 4) + 1  # one pool: both groups draw from it
    config = KVCacheConfig(num_blocks=blocks, kv_cache_groups=[KVCacheGroupSpec(["full"], full),
                                                               KVCacheGroupSpec(["swa"], swa)],
                           kv_cache_tensors=[KVCacheTensor(size=blocks * full.page_size_bytes, layers=["full", "swa"],
                                                           layer_stride=0, block_stride=full.page_size_bytes)])
    manager = KVCacheManager(config, max_model_len=CONTEXT + GROWTH + 64, scheduler_block_size=PAGE,
                             hash_block_size=PAGE, enable_caching=caching)
    hasher = None
    if caching:
        hash_fn = get_hash_fn_by_name("sha256")
        init_none_hash(hash_fn)
        hasher = get_request_block_hasher(PAGE, hash_fn)
    rng = np.random.RandomState(1)
    accepted = [int(a) for a in 1 + rng.randint(0, 4, size=4096)]
    serial = [0]

    def prefill():
        reqs = []
        for _ in range(batch):
            serial[0] += 1  # distinct prompts: no request hits another's blocks
            prompt = (np.arange(CONTEXT) * 7 + serial[0] * 1_000_003) % 50_000
            r = Request(str(serial[0]), prompt.tolist(), SamplingParams(max_tokens=1 << 20), None,
                        block_hasher=hasher)
            for _ in range(0, CONTEXT, 512):
                assert manager.allocate_slots(r, 512) is not None
                r.num_computed_tokens += 512
            r.append_output_token_ids(1)
            reqs.append(r)
        return reqs

    reqs = prefill()
    grown, step, results = 0, 0, []
    for _ in range(3):
        timed_ns, steps = 0, 0
        while timed_ns < seconds * 1e9:
            a = accepted[step % len(accepted)]
            step += 1
            new_tokens = list(range(2, 2 + a))
            start = time.perf_counter_ns()
            for r in reqs:
                new = manager.allocate_slots(r, 1 + DRAFTS, num_lookahead_tokens=DRAFTS)
                new.get_block_ids()
                r.num_computed_tokens += a  # the verified token and the accepted drafts
                r.append_output_token_ids(new_tokens)
            timed_ns += time.perf_counter_ns() - start
            steps += 1
            grown += a
            if grown > GROWTH - 4:  # as pagedkv's loop: back to 8k (not timed)
                for r in reqs:
                    manager.free(r)
                reqs = prefill()
                grown = 0
        results.append(timed_ns / 1e3 / (steps * batch))
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
        import vllm

        print(f"vLLM {vllm.__version__}: KVCacheManager driven through the same workload")
        have_vllm = True
    except Exception as e:  # noqa: BLE001 - not installed (or broken): its column stays empty
        print(f"vLLM: `import vllm` failed ({type(e).__name__}): not measured")
        have_vllm = False
    cell = lambda v: f"{v:.3f}" if v is not None else "–"
    print("| B | pagedkv Python µs per request-step | C++ host_step µs | Python ÷ C++ | vLLM µs, caching off | "
          "vLLM µs, caching on | vLLM off ÷ pagedkv Python | vLLM on ÷ pagedkv Python |")
    print("|---|---|---|---|---|---|---|---|")
    for b in args.batches:
        py_us = pagedkv_step_us(b, args.seconds)
        c = cxx.get(b)
        v_off = vllm_step_us(b, args.seconds, False) if have_vllm else None
        v_on = vllm_step_us(b, args.seconds, True) if have_vllm else None
        ratio = lambda v: f"{v / py_us:.0f}×" if v is not None else "–"
        print(f"| {b} | {py_us:.3f} | {cell(c)} | {f'{py_us / c:.2f}×' if c else '–'} | {cell(v_off)} | "
              f"{cell(v_on)} | {ratio(v_off)} | {ratio(v_on)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
