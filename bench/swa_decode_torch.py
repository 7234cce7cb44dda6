#!/usr/bin/env python3
"""PyTorch side-by-side for bench/swa_decode: the same decode attention done the plain way.

Gathers each request's in-window pages from a paged cache [pages, P, Hkv, D] (bf16), then calls
scaled_dot_product_attention with the sliding-window mask (and enable_gqa for Hq != Hkv). Reports,
like bench/swa_decode, useful bytes (in-window K/V + Q + O) over the median time, as a ratio to the
device-to-device copy bandwidth measured in this same process. Same configurations, page shuffling
and buffer rotation (> 3x L2) as the CUDA bench.

Usage: python3 bench/swa_decode_torch.py [--csv FILE] [--quick]
"""
import argparse
import math

import torch
import torch.nn.functional as F

PAGE = 16


def median_ms(fn, reps):
    for i in range(3):
        fn(i)
    times = []
    for i in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn(i)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[reps // 2]


def copy_bandwidth():
    n = 1 << 30
    src = torch.ones(n, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = median_ms(lambda i: dst.copy_(src), 21)
    del src, dst
    return 2.0 * n / (ms * 1e-3)


def run(batch, ctx, window, hq, hkv, d, l2_bytes, gen):
    first_page, last_page = (ctx - window) // PAGE, (ctx - 1) // PAGE
    npages = last_page - first_page + 1
    kv_bytes = batch * npages * PAGE * hkv * d * 2 * 2
    copies = int(min(64.0, max(1.0, 3.0 * l2_bytes / kv_bytes + 1.0)))
    pages = 1 + copies * batch * npages
    k_cache = torch.randn(pages, PAGE, hkv, d, dtype=torch.bfloat16, device="cuda", generator=gen)
    v_cache = torch.randn(pages, PAGE, hkv, d, dtype=torch.bfloat16, device="cuda", generator=gen)
    perm = torch.randperm(pages - 1, device="cuda", generator=gen) + 1
    tables = perm.view(copies, batch, npages)  # in-window pages of each request, shuffled
    q = torch.randn(batch, hq, 1, d, dtype=torch.bfloat16, device="cuda", generator=gen)
    key_pos = first_page * PAGE + torch.arange(npages * PAGE, device="cuda")
    mask = ((key_pos >= ctx - window) & (key_pos <= ctx - 1)).view(1, 1, 1, -1)
    scale = 1.0 / math.sqrt(d)

    def step(i):
        t = tables[i % copies]
        k = k_cache[t].view(batch, npages * PAGE, hkv, d).transpose(1, 2)
        v = v_cache[t].view(batch, npages * PAGE, hkv, d).transpose(1, 2)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=hq != hkv)

    reps = 21 if kv_bytes > 2e9 else 51
    us = 1e3 * median_ms(step, reps)
    useful = batch * window * hkv * d * 2 * 2 + 2 * batch * hq * d * 2
    del k_cache, v_cache, q
    torch.cuda.empty_cache()
    return useful, us


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    props = torch.cuda.get_device_properties(0)
    bw = copy_bandwidth()
    print(f"GPU: {props.name}, torch {torch.__version__}; device-to-device copy: {bw / 1e9:.1f} GB/s (read + write)")
    gen = torch.Generator(device="cuda")
    gen.manual_seed(20261124)
    rows = []
    for batch in (1, 8, 64, 256):
        for ctx in (8192, 32768):
            for window in (512, 1024, 4096):
                for hq, hkv in ((32, 8), (16, 16)):
                    for d in (128, 256):
                        if args.quick and not (ctx == 8192 and window == 1024):
                            continue
                        try:
                            useful, us = run(batch, ctx, window, hq, hkv, d, props.L2_cache_size, gen)
                        except torch.cuda.OutOfMemoryError:
                            torch.cuda.empty_cache()
                            useful, us = float("nan"), float("nan")
                        ratio = useful / (us * 1e-6) / bw
                        print(f"B={batch:4d} ctx={ctx:6d} W={window:5d} {hq}/{hkv} D={d}: {us:10.1f} us  {ratio:.3f} of copy")
                        rows.append((batch, ctx, window, hq, hkv, d, us, ratio))
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("B,ctx,W,Hq,Hkv,D,torch_us,torch_ratio,copy_GBps\n")
            for r in rows:
                f.write(",".join(str(x) for x in r[:6]) + f",{r[6]:.2f},{r[7]:.4f},{bw / 1e9:.1f}\n")


if __name__ == "__main__":
    main()
