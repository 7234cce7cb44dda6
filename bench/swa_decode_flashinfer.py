#!/usr/bin/env python3
"""FlashInfer side by side with pagedkv's swa_decode: same process, same caches, same CSR tables.

pagedkv's kernel is reached through bench/swa_decode_shim.cu (a shared library with extern "C"
entry points on raw device pointers, loaded with ctypes); FlashInfer through its public Python API.
Both read the very same torch tensors: a paged K and V cache [pages, P, Hkv, D] (NHD, bf16, page 0
the null page, pages shuffled) and one CSR table in pagedkv's emit_csr_table layout (indptr,
indices trimmed to the pages the queries can see, last_page_len), which is FlashInfer's
paged_kv_indptr / paged_kv_indices / paged_kv_last_page_len.

Three families, each against FlashInfer's matching wrappers:
  swa   one decode query per request at position ctx - 1, window W (FlashInfer window_left = W - 1):
        BatchDecodeWithPagedKVCacheWrapper, use_tensor_cores False ("fi_cc") and True ("fi_tc").
  full  the same without a window (window_left = -1), the table holding all ctx tokens.
  mtp   1 + k = 4 queries per request (MTP / speculative verification), causal among them, window W:
        BatchPrefillWithPagedKVCacheWrapper(causal=True), backends fa2 and fa3.
Outputs are checked: every FlashInfer output against pagedkv's (relative L2 error), and both against a
float32 reference of two requests. Times: one CUDA graph per kernel holding `per_graph` launches
that rotate over `copies` cache copies (together > 3x L2, so every launch reads HBM), replayed
round-robin with the other kernels; the figure is the median replay time over its launches.
Useful bytes = the K/V the queries attend (B x keys x Hkv x D x 2 x 2 B) + Q + O; ratios are to the
device-to-device copy bandwidth (bytes read + written, 1 GiB, median of 21) measured in this process.

Usage: python3 bench/swa_decode_flashinfer.py --shim LIB [--csv FILE] [--families swa,full,mtp]
       python3 bench/swa_decode_flashinfer.py --warm [--families ...]   (JIT-compile the FlashInfer
           modules the families use in one ninja run, call each once, then exit)
       --batches 8,64,256 keeps only those batch sizes.
"""
import argparse
import ctypes
import math
import os
import sys
import time

import torch

PAGE = 16
BF16 = torch.bfloat16
MTP_QUERIES = 4


# ---------------------------------------------------------------------------------------------
# FlashInfer JIT warm-up: the modules the bench uses, built by one ninja run. FlashInfer runs every
# module's ninja in one build directory, so builds in parallel processes lose each other's
# .ninja_log entries and the bench's first plan rebuilt those modules (75-190 s each on the H200).
def _modules(families):
    """(kind, D, window) of each wrapper call the families make; decode_tc runs FlashInfer's fa2
    prefill module, the very module MTP's fa2 uses when both have a window."""
    mods = []
    for d in (128, 256):
        for swa in (True, False):
            if ("swa" if swa else "full") in families:
                mods += [("decode_cc", d, swa), ("decode_tc", d, swa)]
        if "mtp" in families:  # MTP runs with a window only
            mods += [("fa2", d, True), ("fa3", d, True)]
    return mods


def _spec(kind, d, swa):
    from flashinfer.jit import gen_batch_decode_module, gen_batch_prefill_module

    dtypes = (BF16, BF16, BF16, torch.int32)  # q, kv, o, index: what the bench's plans pass
    if kind == "decode_cc":
        return gen_batch_decode_module(*dtypes, d, d, 0, swa, False)
    backend = "fa3" if kind == "fa3" else "fa2"
    return gen_batch_prefill_module(backend, *dtypes, d, d, 0, swa, False, False)


def _call_module(spec):
    """One tiny call of the wrapper the bench runs (same plan arguments but sizes): after the build
    it only loads, and a call that takes long says the build missed a module that call needs."""
    import flashinfer

    kind, d, swa = spec
    t0 = time.time()
    ws = torch.empty(16 << 20, dtype=torch.uint8, device="cuda")
    one = lambda *v: torch.tensor(v, dtype=torch.int32, device="cuda")
    kv = torch.zeros(3, PAGE, 8, d, dtype=BF16, device="cuda")
    q = torch.zeros(1, 32, d, dtype=BF16, device="cuda")
    common = dict(window_left=511 if swa else -1, q_data_type=BF16, kv_data_type=BF16, sm_scale=1.0)
    if kind in ("fa2", "fa3"):  # MTP's shape: 4 causal queries over two pages
        q = torch.zeros(MTP_QUERIES, 32, d, dtype=BF16, device="cuda")
        w = flashinfer.BatchPrefillWithPagedKVCacheWrapper(ws, "NHD", backend=kind)
        w.plan(one(0, MTP_QUERIES), one(0, 2), one(1, 2), one(PAGE), 32, 8, d, PAGE, causal=True, **common)
    else:
        w = flashinfer.BatchDecodeWithPagedKVCacheWrapper(ws, "NHD", use_tensor_cores=kind == "decode_tc")
        w.plan(one(0, 1), one(1), one(1), 32, 8, d, PAGE, **common)
    w.run(q, (kv, kv))
    torch.cuda.synchronize()
    return time.time() - t0


def warm(families):
    from flashinfer.jit import build_jit_specs

    t0 = time.time()
    mods = _modules(families)
    specs = {}
    for m in mods:
        s = _spec(*m)
        specs[s.name] = s
    build_jit_specs(list(specs.values()))  # one ninja, MAX_JOBS jobs
    print(f"built {len(specs)} modules in one ninja run: {time.time() - t0:.0f} s", flush=True)
    for m in mods:
        try:
            print(f"called {m[0]} D={m[1]} swa={m[2]}: {_call_module(m):.1f} s", flush=True)
        except Exception as e:  # noqa: BLE001 - report and go on: the bench skips that variant
            print("FAILED", m, repr(e)[:2000], flush=True)
    print(f"warm: {time.time() - t0:.0f} s", flush=True)


# ---------------------------------------------------------------------------------------------
def copy_bandwidth():
    n = 1 << 30
    src = torch.ones(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times = []
    for _ in range(21):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        dst.copy_(src)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    del src, dst
    return 2.0 * n / (times[10] * 1e-3)


class Shim:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        i32, vp = ctypes.c_int32, ctypes.c_void_p
        self.lib.pkv_plan.argtypes = [i32] * 9 + [ctypes.POINTER(i32), ctypes.POINTER(ctypes.c_uint64)]
        self.lib.pkv_plan.restype = ctypes.c_int
        self.lib.pkv_decode_csr.argtypes = [i32] * 10 + [vp] * 7 + [ctypes.c_float, vp, ctypes.c_uint64, vp]
        self.lib.pkv_decode_csr.restype = ctypes.c_int

    def plan(self, *shape):
        splits, ws = ctypes.c_int32(0), ctypes.c_uint64(0)
        rc = self.lib.pkv_plan(*shape, ctypes.byref(splits), ctypes.byref(ws))
        if rc:
            raise RuntimeError(f"pkv_plan: decode_errc {rc}")
        return splits.value, ws.value


def graph_of(fn_per_copy, copies, per_graph):
    """A CUDA graph of `per_graph` launches rotating over the copies (warmed up eagerly first)."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for cp in range(copies):
            fn_per_copy(cp)
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for i in range(per_graph):
            fn_per_copy(i % copies)
    torch.cuda.synchronize()
    return g


def time_graphs(graphs, per_graph, reps):
    """Median per-launch microseconds of each graph, replayed round-robin `reps` times."""
    for g in graphs.values():
        g.replay()
    torch.cuda.synchronize()
    times = {k: [] for k in graphs}
    for _ in range(reps):
        for k, g in graphs.items():
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            g.replay()
            b.record()
            b.synchronize()
            times[k].append(a.elapsed_time(b) * 1e3 / per_graph)
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}


def reference(q, k, v, indices, npages, first_key, kv_len_csr, first_page, b, qpr, window, scale):
    """float32 attention of request b (its qpr queries) straight from the pages its row lists."""
    rows = indices[b * npages:(b + 1) * npages].long()
    keys = k[rows].reshape(npages * PAGE, k.shape[2], k.shape[3])[:kv_len_csr].float()
    vals = v[rows].reshape(npages * PAGE, v.shape[2], v.shape[3])[:kv_len_csr].float()
    hq, hkv = q.shape[1], k.shape[2]
    keys = keys.repeat_interleave(hq // hkv, dim=1)  # [keys, Hq, D]
    vals = vals.repeat_interleave(hq // hkv, dim=1)
    qs = q[b * qpr:(b + 1) * qpr].float()  # [qpr, Hq, D]
    pos_k = first_page * PAGE + torch.arange(kv_len_csr, device=q.device)
    pos_q = first_page * PAGE + kv_len_csr - qpr + torch.arange(qpr, device=q.device)
    mask = pos_k[None, :] <= pos_q[:, None]
    if window > 0:
        mask &= pos_k[None, :] > pos_q[:, None] - window
    s = torch.einsum("qhd,khd->hqk", qs, keys) * scale
    s = s.masked_fill(~mask[None], float("-inf"))
    return torch.einsum("hqk,khd->qhd", torch.softmax(s, dim=-1), vals)


def rel(a, b):
    a, b = a.float(), b.float()
    if not torch.isfinite(a).all():
        return float("nan")
    return ((a - b).norm() / b.norm()).item()


def run_config(fam, B, ctx, W, hq, hkv, d, wrappers, shim, l2_bytes, gen, min_launches=16):
    qpr = MTP_QUERIES if fam == "mtp" else 1
    phases, t_phase = {}, [time.time()]

    def phase(name):  # seconds since the last mark, so a slow configuration says where its time went
        torch.cuda.synchronize()
        now = time.time()
        phases[name] = phases.get(name, 0.0) + now - t_phase[0]
        t_phase[0] = now

    window = W if fam != "full" else 0
    first_key = max(0, ctx - qpr + 1 - window) if window > 0 else 0
    first_page, last_page = first_key // PAGE, (ctx - 1) // PAGE
    npages = last_page - first_page + 1
    kv_len_csr = ctx - first_page * PAGE  # CSR rows count from their first listed page
    keys = min(ctx, window + qpr - 1) if window > 0 else ctx
    page_bytes = PAGE * hkv * d * 2
    kv_bytes = B * npages * page_bytes * 2
    copies = int(min(64.0, max(1.0, 3.0 * l2_bytes / kv_bytes + 1.0)))
    pages = 1 + B * npages  # per copy; page 0 is the null page
    k_all = torch.randn(copies, pages, PAGE, hkv, d, dtype=BF16, device="cuda", generator=gen)
    v_all = torch.randn(copies, pages, PAGE, hkv, d, dtype=BF16, device="cuda", generator=gen)
    indices = (torch.randperm(pages - 1, device="cuda", generator=gen) + 1).to(torch.int32)
    indptr = (torch.arange(B + 1, device="cuda", dtype=torch.int32) * npages).contiguous()
    last = torch.full((B,), kv_len_csr - (npages - 1) * PAGE, dtype=torch.int32, device="cuda")
    qo_indptr = (torch.arange(B + 1, device="cuda", dtype=torch.int32) * qpr).contiguous()
    q = torch.randn(B * qpr, hq, d, dtype=BF16, device="cuda", generator=gen)
    scale = 1.0 / math.sqrt(d)
    sm = torch.cuda.get_device_properties(0).multi_processor_count
    shape = (B, qpr, hq, hkv, d, PAGE, window, ctx, sm)
    splits, ws_bytes = shim.plan(*shape)
    ws = torch.empty(max(ws_bytes, 16) // 4 + 4, dtype=torch.float32, device="cuda")
    outs = {}

    def out_of(name):
        if name not in outs:
            outs[name] = torch.full_like(q, float("nan"))
        return outs[name]

    def pkv(cp):
        rc = shim.lib.pkv_decode_csr(*shape, 0, q.data_ptr(), out_of("pagedkv").data_ptr(), k_all[cp].data_ptr(),
                                     v_all[cp].data_ptr(), indptr.data_ptr(), indices.data_ptr(), last.data_ptr(),
                                     scale, ws.data_ptr(), ws_bytes + 16, torch.cuda.current_stream().cuda_stream)
        if rc:
            raise RuntimeError(f"pkv_decode_csr: decode_errc {rc}")

    kernels = {"pagedkv": pkv}
    errors = {}
    phase("setup")
    wl = window - 1 if window > 0 else -1
    if qpr == 1:
        for name in ("fi_cc", "fi_tc"):
            w = wrappers[name]
            try:
                w.plan(indptr, indices, last, hq, hkv, d, PAGE, window_left=wl, q_data_type=BF16, kv_data_type=BF16,
                       sm_scale=scale)
                kernels[name] = (lambda w, name: lambda cp: w.run(q, (k_all[cp], v_all[cp]), out=out_of(name)))(w, name)
            except Exception as e:  # noqa: BLE001
                errors[name] = repr(e)[:300]
            phase(f"plan {name}")
    else:
        for name in ("fi_fa2", "fi_fa3"):
            w = wrappers[name]
            try:
                w.plan(qo_indptr, indptr, indices, last, hq, hkv, d, PAGE, causal=True, sm_scale=scale,
                       window_left=wl, q_data_type=BF16, kv_data_type=BF16)
                kernels[name] = (lambda w, name: lambda cp: w.run(q, (k_all[cp], v_all[cp]), out=out_of(name)))(w, name)
            except Exception as e:  # noqa: BLE001
                errors[name] = repr(e)[:300]
            phase(f"plan {name}")

    # Correctness, eagerly on copy 0: every output against pagedkv's, both against float32.
    first_call = {}
    for name, fn in list(kernels.items()):
        try:
            t0 = time.time()
            fn(0)
            torch.cuda.synchronize()
            first_call[name] = time.time() - t0
        except Exception as e:  # noqa: BLE001
            errors[name] = repr(e)[:300]
            del kernels[name]
    phase("eager")
    check = {}
    refs = [(b, reference(q, k_all[0], v_all[0], indices, npages, first_key, kv_len_csr, first_page, b, qpr, window,
                          scale)) for b in sorted({0, B - 1})]
    for name in kernels:
        o = outs[name]
        vs_ref = max(rel(o[b * qpr:(b + 1) * qpr], r) for b, r in refs)
        check[name] = (rel(o, outs["pagedkv"]), vs_ref)
    phase("reference")

    est_us = kv_bytes / 3.0e12 * 1e6 + 5.0
    per_graph = max(min_launches, copies) // copies * copies
    reps = int(min(15, max(5, 0.25e6 / (est_us * per_graph * len(kernels)))))
    graphs = {}
    for name, fn in kernels.items():
        try:
            graphs[name] = graph_of(fn, copies, per_graph)
        except Exception as e:  # noqa: BLE001
            errors[name] = "graph: " + repr(e)[:300]
        phase(f"capture {name}")
    t = time_graphs(graphs, per_graph, reps)
    phase("replays")
    del graphs
    useful = B * keys * hkv * d * 2 * 2 + 2 * q.numel() * 2
    return dict(splits=splits, useful=useful, times=t, check=check, errors=errors, copies=copies, first_call=first_call,
                phases=phases)


def configs(families):
    out = []
    heads = ((32, 8), (16, 16))
    if "swa" in families:  # ctx 32768 gives the same trimmed CSR table as 8192: one context suffices
        for B in (1, 8, 64, 256):
            for W in (512, 1024, 4096):
                for hq, hkv in heads:
                    for d in (128, 256):
                        out.append(("swa", B, 8192, W, hq, hkv, d))
    if "full" in families:
        for B in (1, 8, 64, 256):
            for ctx in (8192, 32768):
                for hq, hkv in heads:
                    for d in (128, 256):
                        if B * ctx * hkv * d * 4 <= 9e9:
                            out.append(("full", B, ctx, 0, hq, hkv, d))
    if "mtp" in families:
        for B in (1, 8, 64, 256):
            for W in (512, 4096):
                for hq, hkv in heads:
                    for d in (128, 256):
                        out.append(("mtp", B, 8192, W, hq, hkv, d))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shim")
    ap.add_argument("--csv")
    ap.add_argument("--families", default="swa,full,mtp")
    ap.add_argument("--warm", action="store_true")
    ap.add_argument("--batches", help="comma-separated batch sizes to keep (default: all)")
    ap.add_argument("--time-limit", type=float, default=1e9, help="stop starting configurations after this many s")
    args = ap.parse_args()
    if args.warm:
        warm(args.families.split(","))
        return
    import flashinfer

    t_start = time.time()
    props = torch.cuda.get_device_properties(0)
    l2 = props.L2_cache_size
    bw = copy_bandwidth()
    print(f"GPU: {props.name}, {props.multi_processor_count} SMs, L2 {l2 / 2**20:.0f} MiB; torch {torch.__version__}, "
          f"flashinfer {flashinfer.__version__}", flush=True)
    print(f"device-to-device copy: {bw / 1e9:.1f} GB/s (read + write)", flush=True)
    shim = Shim(args.shim)
    fws = torch.empty(512 << 20, dtype=torch.uint8, device="cuda")  # FlashInfer's float workspace, shared
    wrappers = {
        "fi_cc": flashinfer.BatchDecodeWithPagedKVCacheWrapper(fws, "NHD", use_tensor_cores=False),
        "fi_tc": flashinfer.BatchDecodeWithPagedKVCacheWrapper(fws, "NHD", use_tensor_cores=True),
        "fi_fa2": flashinfer.BatchPrefillWithPagedKVCacheWrapper(fws, "NHD", backend="fa2"),
        "fi_fa3": flashinfer.BatchPrefillWithPagedKVCacheWrapper(fws, "NHD", backend="fa3"),
    }
    gen = torch.Generator(device="cuda")
    gen.manual_seed(20261201)
    names = ["pagedkv", "fi_cc", "fi_tc", "fi_fa2", "fi_fa3"]
    csv = open(args.csv, "w") if args.csv else None
    if csv:
        csv.write("family,B,ctx,W,Hq,Hkv,D,queries,splits,copies,useful_MB,"
                  + ",".join(f"{n}_us,{n}_ratio,{n}_err,{n}_ref_err" for n in names) + ",best_fi,pkv_over_best,copy_GBps\n")
    keep = {int(b) for b in args.batches.split(",")} if args.batches else None
    for fam, B, ctx, W, hq, hkv, d in configs(args.families.split(",")):
        if keep is not None and B not in keep:
            continue
        if time.time() - t_start > args.time_limit:
            print("time limit: stopping", flush=True)
            break
        torch.cuda.synchronize()
        time.sleep(0.1)
        t_cfg = time.time()
        r = run_config(fam, B, ctx, W, hq, hkv, d, wrappers, shim, l2, gen)
        t, chk = r["times"], r["check"]
        fi = {n: t[n] for n in t if n != "pagedkv"}
        best = min(fi, key=fi.get) if fi else ""
        speed = fi[best] / t["pagedkv"] if best and "pagedkv" in t else float("nan")
        line = f"{fam:4s} B={B:3d} ctx={ctx:5d} W={W:4d} {hq:2d}/{hkv:<2d} D={d:3d} splits={r['splits']:2d} " \
               f"{r['useful'] / 1e6:8.1f} MB |"
        for n in names:
            if n in t:
                line += f" {n} {t[n]:8.1f} us {r['useful'] / (t[n] * 1e-6) / bw:5.2f} err {chk[n][0]:.1e}/{chk[n][1]:.1e} |"
        line += f" best {best} pkv x{speed:.2f} [{time.time() - t_cfg:.1f} s, at {time.time() - t_start:.0f} s]"
        slow = {n: round(v, 1) for n, v in r["first_call"].items() if v > 1.0}
        if slow:  # a first call this slow built something (FlashInfer's JIT) the warm-up did not
            line += f" first calls {slow} s"
        if time.time() - t_cfg > 10.0:
            line += " phases {" + ", ".join(f"{k} {v:.1f}" for k, v in r["phases"].items()) + "} s"
        if r["errors"]:
            line += f" ERR {r['errors']}"
        print(line, flush=True)
        if csv:
            cells = [fam, B, ctx, W, hq, hkv, d, MTP_QUERIES if fam == "mtp" else 1, r["splits"], r["copies"],
                     f"{r['useful'] / 1e6:.3f}"]
            for n in names:
                if n in t:
                    cells += [f"{t[n]:.2f}", f"{r['useful'] / (t[n] * 1e-6) / bw:.4f}", f"{chk[n][0]:.2e}",
                              f"{chk[n][1]:.2e}"]
                else:
                    cells += ["", "", "", ""]
            cells += [best, f"{speed:.4f}", f"{bw / 1e9:.1f}"]
            csv.write(",".join(str(c) for c in cells) + "\n")
            csv.flush()
        del r
        torch.cuda.empty_cache()
    if csv:
        csv.close()


if __name__ == "__main__":
    sys.exit(main())
