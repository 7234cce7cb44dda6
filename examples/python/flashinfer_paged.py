"""FlashInfer's paged attention fed pagedkv's CSR tables from the Python package, after a real history.

An engine-like loop drives an LRU hybrid pool (P = 16, window W = 40, so the window edge falls
inside a page): requests arrive (some sharing a 64-token prompt prefix, attached from the prefix
cache), prefill in chunks of 48 tokens, then decode, in steps that alternate plain decode (one query
per request) with MTP verification (1 + 3 reserved tokens, a random number accepted, the rest rolled
back by commit); requests finish and are freed, new ones arrive. Every step writes the step's K/V
into two paged caches (one per layer kind: the full pool's and the SWA pool's pages) through the
pools' slot mappings, then attends both layer kinds through the pools' CSR tables (`emit_csr` of the
full view and of the SWA view: FlashInfer's kv_indptr / kv_indices / kv_last_page_len):

- FlashInfer `BatchPrefillWithPagedKVCacheWrapper` (causal) over the whole step, prefill chunks and
  MTP rows together; `BatchDecodeWithPagedKVCacheWrapper` (CUDA-core and tensor-core) on plain
  decode steps; `window_left = W - 1` for the SWA layer, -1 for the full layer;
- pagedkv's own kernel (`swa_decode`, through bench/swa_decode_shim.cu loaded with ctypes) on the
  same tables and caches: the decode rows as one batch, each prefill chunk as a batch of one;
- a float32 torch reference computed from the request's token history alone (no page involved).

A token's K/V is a function of its id and position, so a prefix hit must read exactly what the
donor request wrote, and a rolled-back draft overwritten in the next step must never be read
again. Every output must match the reference within bf16 tolerance, FlashInfer and pagedkv must
agree with each other, and the pool's invariants hold after every step.

    python3 examples/python/flashinfer_paged.py --shim libswa_decode_shim.so [--steps N]
    python3 examples/python/flashinfer_paged.py --warm     (compile FlashInfer's modules, then exit)

Needs torch with a CUDA device, flashinfer-python, numpy, pagedkv and the shim (build it with the
nvcc line at the top of bench/swa_decode_shim.cu). Exits 0 when every comparison holds.
"""

from __future__ import annotations

import argparse
import ctypes
import math
import sys

import numpy as np

P, W, HQ, HKV, D = 16, 40, 8, 2, 128
DRAFTS, CHUNK, SHARED = 3, 48, 64
VOCAB, MAX_POS = 1000, 2048
TOLERANCE = 2e-2  # relative L2 error of a bf16 output against the float32 reference


class PagedDecode:
    """pagedkv's swa_decode on raw device pointers (bench/swa_decode_shim.cu's two entry points)."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        i32, vp = ctypes.c_int32, ctypes.c_void_p
        self.lib.pkv_plan.argtypes = [i32] * 9 + [ctypes.POINTER(i32), ctypes.POINTER(ctypes.c_uint64)]
        self.lib.pkv_decode_csr.argtypes = [i32] * 10 + [vp] * 7 + [ctypes.c_float, vp, ctypes.c_uint64, vp]

    def __call__(self, q, k_cache, v_cache, indptr, indices, last, window, queries, max_kv):
        """Attention of `q` [B * queries, HQ, D] over a CSR table: its output, a new tensor."""
        import torch

        batch = indptr.numel() - 1
        sm = torch.cuda.get_device_properties(q.device).multi_processor_count
        shape = (batch, queries, HQ, HKV, D, P, window, max_kv, sm)
        splits, ws_bytes = ctypes.c_int32(0), ctypes.c_uint64(0)
        rc = self.lib.pkv_plan(*shape, ctypes.byref(splits), ctypes.byref(ws_bytes))
        if rc:
            raise RuntimeError(f"pkv_plan: decode_errc {rc}")
        ws = torch.empty(ws_bytes.value // 4 + 4, dtype=torch.float32, device=q.device)
        out = torch.full_like(q, float("nan"))
        rc = self.lib.pkv_decode_csr(*shape, 0, q.data_ptr(), out.data_ptr(), k_cache.data_ptr(), v_cache.data_ptr(),
                                     indptr.data_ptr(), indices.data_ptr(), last.data_ptr(), 1.0 / math.sqrt(D),
                                     ws.data_ptr(), ws_bytes.value + 16, torch.cuda.current_stream().cuda_stream)
        if rc:
            raise RuntimeError(f"pkv_decode_csr: decode_errc {rc}")
        return out


class Request:
    def __init__(self, rid, prompt, target):
        self.id, self.tokens, self.target = rid, list(prompt), target
        self.prompt_len = len(prompt)
        self.committed = 0  # tokens whose K/V is in the pages and final


class Run:
    def __init__(self, decode, seed):
        import flashinfer
        import pagedkv as pk
        import torch

        self.torch, self.decode = torch, decode
        self.rng = np.random.default_rng(seed)
        g = torch.Generator(device="cuda")
        g.manual_seed(seed)
        # K/V of a token = a per-id part + a per-position part, rounded to bf16 as the cache holds it.
        rand = lambda *s: torch.randn(*s, device="cuda", generator=g)
        self.k_id, self.v_id, self.k_pos, self.v_pos = rand(VOCAB, HKV, D), rand(VOCAB, HKV, D), \
            rand(MAX_POS, HKV, D), rand(MAX_POS, HKV, D)
        self.gen = g
        self.pool = pk.hybrid_pool(full_pages=192, swa_pages=64, page_size=P, window=W, eviction="lru")
        bf16 = torch.bfloat16
        self.cache = {}  # layer -> (k, v) [pages, P, HKV, D]
        for layer, view in (("full", self.pool.full), ("swa", self.pool.swa)):
            self.cache[layer] = (torch.zeros(view.num_pages, P, HKV, D, dtype=bf16, device="cuda"),
                                 torch.zeros(view.num_pages, P, HKV, D, dtype=bf16, device="cuda"))
        ws = torch.empty(128 << 20, dtype=torch.uint8, device="cuda")
        self.fi_prefill = flashinfer.BatchPrefillWithPagedKVCacheWrapper(ws, "NHD", backend="fa2")
        self.fi_decode = {tc: flashinfer.BatchDecodeWithPagedKVCacheWrapper(ws, "NHD", use_tensor_cores=tc)
                          for tc in (False, True)}
        self.shared = self.rng.integers(1, VOCAB, SHARED).tolist()
        self.live, self.finished = [], 0
        self.stats = {"steps": 0, "prefill_chunks": 0, "decode_steps": 0, "mtp_steps": 0, "rolled_back": 0,
                      "prefix_hit_tokens": 0, "decode_wrapper_rows": 0, "compared": 0, "worst": 0.0, "worst_fi_vs_pkv": 0.0}

    # -- the history -------------------------------------------------------------------------
    def kv_of(self, tokens, positions):
        t = self.torch
        ids = t.tensor(tokens, device="cuda")
        pos = t.tensor(positions, device="cuda")
        return ((self.k_id[ids] + self.k_pos[pos]).to(t.bfloat16), (self.v_id[ids] + self.v_pos[pos]).to(t.bfloat16))

    def arrive(self):
        n = int(self.rng.integers(20, 200))
        prompt = (self.shared if self.rng.random() < 0.5 else []) + self.rng.integers(1, VOCAB, n).tolist()
        r = Request(self.pool.add_request(), prompt, len(prompt) + int(self.rng.integers(8, 60)))
        r.committed = self.pool.attach_prefix(r.id, prompt)
        self.stats["prefix_hit_tokens"] += r.committed
        self.live.append(r)

    def step(self):
        """One forward pass over every live request: a prefill chunk, or 1 (+ drafts) decode tokens."""
        t = self.torch
        mtp = self.stats["steps"] % 2 == 1
        batch, queries = [], []  # per request: its in-flight tokens
        for r in self.live:
            if r.committed < r.prompt_len:
                n = min(CHUNK, r.prompt_len - r.committed)
                new = r.tokens[r.committed:r.committed + n]
                self.stats["prefill_chunks"] += 1
            else:
                n = 1 + DRAFTS if mtp else 1
                new = r.tokens[-1:] + self.rng.integers(1, VOCAB, n - 1).tolist()  # next token + drafts
            self.pool.extend(r.id, n)
            batch.append(r)
            queries.append(new)
        ids = np.array([r.id for r in batch], np.uint64)
        for layer, view in (("full", self.pool.full), ("swa", self.pool.swa)):
            slots = t.from_numpy(view.slot_mapping(ids)).cuda()
            toks = [x for q in queries for x in q]
            pos = [r.committed + j for r, q in zip(batch, queries) for j in range(len(q))]
            k, v = self.kv_of(toks, pos)
            kc, vc = self.cache[layer]
            kc.view(-1, HKV, D)[slots] = k
            vc.view(-1, HKV, D)[slots] = v
        q_all = t.randn(sum(map(len, queries)), HQ, D, device="cuda", generator=self.gen).to(t.bfloat16)
        for layer, view in (("full", self.pool.full), ("swa", self.pool.swa)):
            self.attend(layer, view, batch, queries, q_all, mtp)
        # Commit: a prefill chunk wholly; a decode row its first token plus a random number of drafts.
        for r, q in zip(batch, queries):
            if r.committed < r.prompt_len:
                accepted = len(q)
                if r.committed + accepted == r.prompt_len:
                    r.tokens.append(int(self.rng.integers(1, VOCAB)))  # the prompt's last logits give a token
            else:
                accepted = 1 + (int(self.rng.integers(0, DRAFTS + 1)) if mtp else 0)
                self.stats["rolled_back"] += len(q) - accepted
                r.tokens += q[1:accepted] + [int(self.rng.integers(1, VOCAB))]  # the model's next token
            r.committed += accepted
            self.pool.commit(r.id, accepted, r.tokens[:r.committed])
        self.pool.check_invariants()
        self.stats["steps"] += 1
        self.stats["mtp_steps" if mtp else "decode_steps"] += 1
        for r in [r for r in self.live if r.committed >= r.target]:
            self.pool.free(r.id)
            self.live.remove(r)
            self.finished += 1

    # -- attention ---------------------------------------------------------------------------
    def reference(self, r, q, n, window):
        """float32 attention of request r's last n in-flight queries from its token history."""
        t = self.torch
        length = r.committed + n
        toks = (r.tokens[:r.committed] + self._inflight[r.id])[:length]
        k, v = self.kv_of(toks, list(range(length)))
        group = HQ // HKV
        k = k.float().repeat_interleave(group, 1)  # [keys, HQ, D]
        v = v.float().repeat_interleave(group, 1)
        pos_q = t.arange(r.committed, length, device="cuda")[:, None]
        pos_k = t.arange(length, device="cuda")[None, :]
        mask = pos_k <= pos_q
        if window:
            mask &= pos_k > pos_q - window
        s = t.einsum("qhd,khd->hqk", q.float(), k) / math.sqrt(D)
        s = s.masked_fill(~mask[None], float("-inf"))
        return t.einsum("hqk,khd->qhd", t.softmax(s, -1), v)

    def compare(self, got, ref, what):
        rel = float((got.float() - ref).norm() / ref.norm())
        self.stats["compared"] += 1
        self.stats["worst"] = max(self.stats["worst"], rel)
        if not rel < TOLERANCE:
            raise AssertionError(f"step {self.stats['steps']}: {what}: relative error {rel:.3e}")

    def agree(self, a, b, what):
        rel = float((a.float() - b.float()).norm() / b.float().norm())
        self.stats["worst_fi_vs_pkv"] = max(self.stats["worst_fi_vs_pkv"], rel)
        if not rel < TOLERANCE:
            raise AssertionError(f"step {self.stats['steps']}: {what}: FlashInfer and pagedkv differ by {rel:.3e}")

    def attend(self, layer, view, batch, queries, q_all, mtp):
        t = self.torch
        window = W if layer == "swa" else 0
        wl = W - 1 if window else -1
        kc, vc = self.cache[layer]
        ids = np.array([r.id for r in batch], np.uint64)
        indptr, indices, last = (t.from_numpy(a).cuda() for a in view.csr(ids))
        lens = [len(q) for q in queries]
        qo = t.tensor([0] + list(np.cumsum(lens)), dtype=t.int32, device="cuda")
        self._inflight = {r.id: q for r, q in zip(batch, queries)}
        scale = 1.0 / math.sqrt(D)
        self.fi_prefill.plan(qo, indptr, indices, last, HQ, HKV, D, P, causal=True, sm_scale=scale, window_left=wl,
                             q_data_type=t.bfloat16, kv_data_type=t.bfloat16)
        fi = self.fi_prefill.run(q_all, (kc, vc))
        refs = [self.reference(r, q_all[qo[i]:qo[i + 1]], lens[i], window) for i, r in enumerate(batch)]
        for i, r in enumerate(batch):
            self.compare(fi[qo[i]:qo[i + 1]], refs[i], f"{layer} layer, FlashInfer prefill, request row {i}")
        # pagedkv's kernel: the decode rows (one query count) as one batch, each prefill chunk alone.
        decode_rows = [i for i, r in enumerate(batch) if r.committed >= r.prompt_len]
        groups = [[i] for i in range(len(batch)) if i not in decode_rows] + ([decode_rows] if decode_rows else [])
        for rows in groups:
            sub = np.array([batch[i].id for i in rows], np.uint64)
            ip, ix, lp = (t.from_numpy(a).cuda() for a in view.csr(sub))
            q = t.cat([q_all[qo[i]:qo[i + 1]] for i in rows])
            max_kv = max(batch[i].committed + lens[i] for i in rows)
            out = self.decode(q, kc, vc, ip, ix, lp, window, lens[rows[0]], max_kv)
            at = 0
            for i in rows:
                self.compare(out[at:at + lens[i]], refs[i], f"{layer} layer, pagedkv swa_decode, request row {i}")
                self.agree(fi[qo[i]:qo[i + 1]], out[at:at + lens[i]], f"{layer} layer, request row {i}")
                at += lens[i]
            if rows is groups[-1] and decode_rows and not mtp:  # one query per row: the decode wrappers too
                for tc, w in self.fi_decode.items():
                    w.plan(ip, ix, lp, HQ, HKV, D, P, window_left=wl, q_data_type=t.bfloat16,
                           kv_data_type=t.bfloat16, sm_scale=scale)
                    dec = w.run(q, (kc, vc))
                    for j, i in enumerate(rows):
                        what = f"{layer} layer, FlashInfer decode ({'tensor' if tc else 'CUDA'} cores), row {i}"
                        self.compare(dec[j:j + 1], refs[i], what)
                    self.stats["decode_wrapper_rows"] += len(rows)


def run(shim, steps=120, seed=11, max_live=6):
    """The whole history; returns the run's counters (raises AssertionError on any mismatch)."""
    r = Run(PagedDecode(shim), seed)
    for _ in range(steps):
        while len(r.live) < max_live and r.rng.random() < 0.6:
            r.arrive()
        if not r.live:
            r.arrive()
        r.step()
    r.stats["finished"] = r.finished
    return r.stats


def _warm_one(spec):
    """One tiny call of one wrapper and window kind: FlashInfer JIT-compiles the module it needs."""
    import flashinfer
    import torch

    kind, window = spec
    ws = torch.empty(16 << 20, dtype=torch.uint8, device="cuda")
    one = lambda *v: torch.tensor(v, dtype=torch.int32, device="cuda")
    kv = torch.zeros(3, P, HKV, D, dtype=torch.bfloat16, device="cuda")
    q = torch.zeros(1 + DRAFTS if kind == "prefill" else 1, HQ, D, dtype=torch.bfloat16, device="cuda")
    common = dict(window_left=W - 1 if window else -1, q_data_type=torch.bfloat16, kv_data_type=torch.bfloat16,
                  sm_scale=1.0)
    if kind == "prefill":
        w = flashinfer.BatchPrefillWithPagedKVCacheWrapper(ws, "NHD", backend="fa2")
        w.plan(one(0, 1 + DRAFTS), one(0, 2), one(1, 2), one(P), HQ, HKV, D, P, causal=True, **common)
    else:
        w = flashinfer.BatchDecodeWithPagedKVCacheWrapper(ws, "NHD", use_tensor_cores=kind == "decode_tc")
        w.plan(one(0, 1), one(1), one(1), HQ, HKV, D, P, **common)
    w.run(q, (kv, kv))
    torch.cuda.synchronize()
    return spec


def warm():
    """Every FlashInfer module `run` uses, compiled in parallel processes (its JIT builds one module
    per process at a time)."""
    import concurrent.futures as cf
    import multiprocessing as mp

    specs = [(k, w) for k in ("prefill", "decode_cc", "decode_tc") for w in (True, False)]
    with cf.ProcessPoolExecutor(len(specs), mp_context=mp.get_context("spawn")) as ex:
        for spec in ex.map(_warm_one, specs):
            print("flashinfer_paged: warm", spec, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shim", help="libswa_decode_shim.so (bench/swa_decode_shim.cu)")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--warm", action="store_true", help="only JIT-compile the FlashInfer modules, in parallel")
    args = ap.parse_args()
    if args.warm:
        warm()
        return 0
    if not args.shim:
        ap.error("--shim is required")
    s = run(args.shim, args.steps)
    print("flashinfer_paged: " + ", ".join(f"{k} {v:.2e}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in s.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
