"""Greedy generation with transformers' Gemma-3 text model, its KV cache paged by pagedkv.

A small randomly initialised `Gemma3ForCausalLM` (sliding and full layers, window 64) generates for
a batch of prompts twice: once with transformers' own cache (`model.generate`, eager attention), once
through a paged KV cache that pagedkv manages. In the paged run, each layer's K/V is written into
page tensors through the pool's slot mapping (the SWA view for sliding layers, the full view for
full ones). Attention reads those pages through the pool's dense tables: an SWA row holds the null
page before its window. Every decode step reserves 1 + 2 draft tokens (MTP-style) and commits one,
so the drafts are rolled back. The prompts share a 48-token prefix, which later requests attach from
the prefix cache instead of recomputing it. The generated tokens must be identical and the logits
within tolerance.

    python3 examples/python/gemma3_paged.py [--dtype bfloat16|float32] [--new-tokens N]

Needs torch with a CUDA device, transformers, numpy and pagedkv. Exits 0 when the two runs agree.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pagedkv as pk

P, W, DRAFTS, SHARED = 16, 64, 2, 48


def make_model(dtype):
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    layer_types = ["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"]
    config = Gemma3TextConfig(
        vocab_size=512, hidden_size=256, intermediate_size=512, num_hidden_layers=len(layer_types),
        num_attention_heads=4, num_key_value_heads=2, head_dim=64, sliding_window=W,
        layer_types=layer_types, max_position_embeddings=1024, attn_implementation="eager")
    model = Gemma3ForCausalLM(config).to(device="cuda", dtype=dtype).eval()
    return model, layer_types


class PagedCache:
    """Page tensors per layer (the SWA pool's for sliding layers, the full pool's for full ones),
    and the per-step tables the attention function reads."""

    def __init__(self, model, layer_types, full_pages, swa_pages):
        import torch

        cfg = model.config
        self.pool = pk.hybrid_pool(full_pages=full_pages, swa_pages=swa_pages, page_size=P, window=W,
                                   eviction="lru")
        self.sliding = [t == "sliding_attention" for t in layer_types]
        shape = lambda pages: (pages * P, cfg.num_key_value_heads, cfg.head_dim)
        dt = next(model.parameters()).dtype
        self.k = [torch.zeros(shape(swa_pages if s else full_pages), dtype=dt, device="cuda") for s in self.sliding]
        self.v = [torch.zeros_like(k) for k in self.k]
        self.step = None

    def begin(self, ids, new_tokens):
        """The tables of one forward pass over `new_tokens` in-flight tokens of each request in `ids`."""
        import torch

        ids = np.asarray(ids, np.uint64)
        step = {}
        for name, view in (("full", self.pool.full), ("swa", self.pool.swa)):
            slots = np.zeros(len(ids) * new_tokens, np.int64)
            assert view.emit_slot_mapping(ids, slots) == len(slots)
            row = max(pk.pages_for_tokens(view.length(int(r)), P) for r in ids)
            table = np.zeros((len(ids), row), np.int32)
            lens = np.zeros(len(ids), np.int32)
            view.emit_dense(ids, table, lens)
            first = np.array([view.first_live_page(int(r)) for r in ids], np.int64)
            step[name] = (torch.from_numpy(slots).cuda(), table, lens, first)
        self.step = step


CACHE: PagedCache | None = None


def paged_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers' attention interface over pagedkv's pages: writes this step's K/V through the
    slot mapping, then attends each query over the keys its layer's rule lets it see."""
    import torch

    layer = module.layer_idx
    sliding = CACHE.sliding[layer]
    slots, table, lens, first = CACHE.step["swa" if sliding else "full"]
    b, heads, n, d = query.shape
    kv_heads = key.shape[1]
    CACHE.k[layer][slots] = key.transpose(1, 2).reshape(b * n, kv_heads, d)
    CACHE.v[layer][slots] = value.transpose(1, 2).reshape(b * n, kv_heads, d)
    out = torch.empty(b, n, heads, d, dtype=query.dtype, device=query.device)
    for i in range(b):
        length = int(lens[i])
        lo = int(first[i]) * P  # SWA rows: the null page before the window is never read
        t = torch.arange(lo, length, device="cuda")
        pages = torch.from_numpy(table[i]).cuda().long()
        idx = pages[t // P] * P + t % P
        k = CACHE.k[layer][idx].transpose(0, 1)  # [kv_heads, keys, d]
        v = CACHE.v[layer][idx].transpose(0, 1)
        group = heads // kv_heads
        k = k.repeat_interleave(group, 0).float()
        v = v.repeat_interleave(group, 0).float()
        q = query[i].float()  # [heads, n, d]
        scores = q @ k.transpose(1, 2) * scaling
        pos = torch.arange(length - n, length, device="cuda")[:, None]
        visible = (t[None, :] <= pos) & ((t[None, :] > pos - W) if sliding else True)
        scores = scores.masked_fill(~visible, float("-inf"))
        out[i] = (torch.softmax(scores, -1) @ v).transpose(0, 1).to(query.dtype)
    return out, None


def register():
    from transformers import AttentionInterface

    # No mask function is registered for it, so transformers builds none: paged_attention applies
    # the causal and window rule itself from the positions.
    AttentionInterface.register("pagedkv", paged_attention)


def use(model, name):
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(name)
    else:
        model.config._attn_implementation = name


def reference(model, prompts, new_tokens):
    import torch

    tokens, logits = [], []
    for p in prompts:
        out = model.generate(torch.tensor([p], device="cuda"), max_new_tokens=new_tokens, do_sample=False,
                             return_dict_in_generate=True, output_logits=True, pad_token_id=0)
        tokens.append(out.sequences[0, len(p):].tolist())
        logits.append(torch.stack([x[0].float() for x in out.logits]))
    return tokens, logits


def paged(model, layer_types, prompts, new_tokens):
    """The same greedy generation through pagedkv: prefill one request at a time (attaching the
    shared prefix when cached), then batched decode steps of 1 + DRAFTS reserved tokens."""
    import torch

    global CACHE
    CACHE = PagedCache(model, layer_types, full_pages=512, swa_pages=256)
    pool = CACHE.pool
    use(model, "pagedkv")
    rng = np.random.default_rng(7)
    ids, seqs, logits, hits = [], [], [], []

    def forward(batch, inputs, positions):
        CACHE.begin(batch, inputs.shape[1])
        out = model(input_ids=inputs, position_ids=positions, use_cache=False)
        return out.logits.float()

    with torch.no_grad():
        for p in prompts:
            r = pool.add_request()
            hit = pool.attach_prefix(r, p)
            hits.append(hit)
            pool.extend(r, len(p) - hit)
            lg = forward([r], torch.tensor([p[hit:]], device="cuda"),
                         torch.arange(hit, len(p), device="cuda")[None])
            pool.commit(r, len(p) - hit, p)  # keys the prompt's whole pages for later requests
            ids.append(r)
            seqs.append(list(p) + [int(lg[0, -1].argmax())])
            logits.append([lg[0, -1]])
        for _ in range(new_tokens - 1):
            inputs, positions = [], []
            for r, s in zip(ids, seqs):
                pool.extend(r, 1 + DRAFTS)  # the next token and two drafts
                drafts = rng.integers(1, model.config.vocab_size, DRAFTS).tolist()
                inputs.append([s[-1]] + drafts)
                positions.append(list(range(len(s) - 1, len(s) + DRAFTS)))
            lg = forward(ids, torch.tensor(inputs, device="cuda"), torch.tensor(positions, device="cuda"))
            for i, (r, s) in enumerate(zip(ids, seqs)):
                pool.commit(r, 1, s)  # the drafts are rejected: their pages and slots go back
                s.append(int(lg[i, 0].argmax()))
                logits[i].append(lg[i, 0])
        pool.check_invariants()
    use(model, "eager")
    CACHE = None  # the pool and its pages go now, not at interpreter exit (nanobind reports those)
    return [s[len(p):] for s, p in zip(seqs, prompts)], [torch.stack(x) for x in logits], hits


def run(dtype_name="bfloat16", new_tokens=24, prompt_lengths=(70, 90, 130, 57)):
    """Both runs. Returns a dict: tokens equal; per request the first step where the tokens differ
    (None: never) and the reference's top-2 logit gap there; the worst logit difference before any
    divergence, relative to the logits' scale; the prefix hits."""
    import torch

    dtype = getattr(torch, dtype_name)
    register()
    model, layer_types = make_model(dtype)
    rng = np.random.default_rng(3)
    shared = rng.integers(1, 512, SHARED).tolist()
    prompts = [shared + rng.integers(1, 512, n - SHARED).tolist() for n in prompt_lengths]
    with torch.no_grad():
        ref_tokens, ref_logits = reference(model, prompts, new_tokens)
    got_tokens, got_logits, hits = paged(model, layer_types, prompts, new_tokens)
    first_diff, gaps, worst, worst_abs = [], [], 0.0, 0.0
    for g, r, gl, rl in zip(got_tokens, ref_tokens, got_logits, ref_logits):
        d = next((i for i, (a, b) in enumerate(zip(g, r)) if a != b), None)
        first_diff.append(d)
        top2 = rl[d].topk(2).values if d is not None else None
        gaps.append(None if d is None else float(top2[0] - top2[1]))
        upto = len(g) if d is None else d + 1  # logits agree on inputs both runs share
        diff = float((gl[:upto] - rl[:upto]).abs().max())
        worst, worst_abs = max(worst, diff / float(rl[:upto].abs().max())), max(worst_abs, diff)
    return {"same": got_tokens == ref_tokens, "first_diff": first_diff, "gaps": gaps, "worst": worst,
            "worst_abs": worst_abs,
            "hits": hits, "got": got_tokens, "ref": ref_tokens}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--new-tokens", type=int, default=24)
    args = ap.parse_args()
    res = run(args.dtype, args.new_tokens)
    print(f"gemma3_paged ({args.dtype}): prefix hits {res['hits']} tokens; tokens identical: {res['same']}; "
          f"worst logit difference {res['worst']:.2e} of the logits' scale; first differing step per request "
          f"{res['first_diff']} (reference top-2 gap there {res['gaps']})")
    return 0 if res["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
