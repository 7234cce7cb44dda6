// The kernels behind pagedkv::gpu::swa_decode: a split-K paged attention kernel and the merge of
// its splits. Included by cuda/swa_decode.cuh; not a public interface.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "pagedkv/core/attention_rule.hpp"
#include "pagedkv/cuda/page_table_view.cuh"

namespace pagedkv::gpu::detail {

// Block shape, shared by the kernel and the host-side plan. 128 threads; each key row of D
// elements is read by D/8 threads as 16-byte chunks, so a pass covers 128/(D/8) keys and a tile
// (one pipeline stage) 4 passes: 4096/D keys, 16 KiB of K and V whatever D is.
inline constexpr int threads = 128;
inline constexpr int keys_per_thread = 4;  // per tile
inline constexpr int stages = 3;           // cp.async pipeline depth: 48 KiB of shared memory
inline constexpr int rows_per_block = 4;   // query rows (GQA heads x query tokens) sharing one K/V read
inline constexpr int max_splits = 64;
inline constexpr int stage_bytes = 2 * keys_per_thread * threads * 16;
inline constexpr int smem_bytes = stages * stage_bytes;

constexpr int tile_keys(int head_dim) { return threads / (head_dim / 8) * keys_per_thread; }

/// Everything one launch reads: shapes, pointers, and the split layout chosen by the plan.
template <class T>
struct kernel_params {
    const T* q;  // [batch, queries, q_heads, D]
    T* out;      // [batch, queries, q_heads, D]
    const T* k;  // [pages, P, kv_heads, D]
    const T* v;
    page_table_view table;
    float* partial_o;    // [batch * queries * q_heads, splits, D] when splits > 1
    float* partial_lse;  // [batch * queries * q_heads, splits], log2 domain
    int queries, q_heads, kv_heads;
    int page_shift;  // log2(P)
    int window;      // 0: no window
    int splits, row_chunks;
    float scale_log2;  // softmax scale * log2(e): scores live in the exp2 domain
    int chunk;         // 0: not chunked; else chunked local attention with chunks of `chunk` tokens
};

__device__ inline float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// 8 elements in one 16-byte word -> 8 floats.
__device__ inline void to_float8(const uint4& w, float (&f)[8], __nv_bfloat16) {
    const unsigned u[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {  // bf16 is the top half of an fp32: two shifts, no conversion unit
        f[2 * i] = __uint_as_float(u[i] << 16);
        f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
    }
}
__device__ inline void to_float8(const uint4& w, float (&f)[8], __half) {
    const unsigned u[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        __half2 h;
        static_assert(sizeof(h) == 4);
        memcpy(&h, &u[i], 4);
        const float2 x = __half22float2(h);
        f[2 * i] = x.x;
        f[2 * i + 1] = x.y;
    }
}
__device__ inline uint4 from_float8(const float (&f)[8], __nv_bfloat16) {
    uint4 w;
    unsigned* u = &w.x;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const __nv_bfloat162 h = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
        memcpy(u + i, &h, 4);
    }
    return w;
}
__device__ inline uint4 from_float8(const float (&f)[8], __half) {
    uint4 w;
    unsigned* u = &w.x;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const __half2 h = __floats2half2_rn(f[2 * i], f[2 * i + 1]);
        memcpy(u + i, &h, 4);
    }
    return w;
}

// 16-byte global->shared copy that completes asynchronously; `valid == false` reads nothing and
// zero-fills, so masked keys contribute 0 * 0 instead of whatever garbage sits at their address.
__device__ inline void cp_async16(void* smem, const void* gmem, bool valid) {
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    const int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n) : "memory");
}
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ inline void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/// Programmatic dependent launch (Hopper): the merge launches while the decode grid still runs and
/// waits here, on the device, for it to finish and its writes to be visible. No-ops before sm_90.
__device__ inline void wait_for_primary_grid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ inline void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

/// One block: request `blockIdx.z`, KV head and row chunk `blockIdx.y`, split `blockIdx.x`.
/// The block's key range is the union of its rows' windows, [lo, hi]; the page of key lo is the
/// first table entry it reads. Tiles are aligned to multiples of the tile size in the row's token
/// space and dealt to splits in contiguous runs. Each thread copies (cp.async) exactly the chunks
/// it later reads, so the pipeline needs no block barrier; partial softmax states of the thread
/// rows are merged through shared memory at the end.
template <class T, int D>
__global__ void __launch_bounds__(threads, 4) decode_kernel(const __grid_constant__ kernel_params<T> p) {
    constexpr int C = D / 8;         // threads per key row
    constexpr int NY = threads / C;  // keys per pass
    constexpr int U = keys_per_thread;
    constexpr int TILE = NY * U;
    constexpr int R = rows_per_block;
    extern __shared__ uint4 smem[];  // [stages][K,V][U][threads], then reused for the final merge

    const int tid = static_cast<int>(threadIdx.x);
    allow_dependent_launch();  // the merge may start launching now: it waits for this grid's end
    const int tx = tid % C, ty = tid / C;
    const int split = static_cast<int>(blockIdx.x);
    const int kvh = static_cast<int>(blockIdx.y) / p.row_chunks;
    const int row0 = static_cast<int>(blockIdx.y) % p.row_chunks * R;
    const int b = static_cast<int>(blockIdx.z);
    const int group = p.q_heads / p.kv_heads;
    const int nrows = min(R, group * p.queries - row0);
    const int page_size = 1 << p.page_shift;

    const page_row row = row_of(p.table, b, page_size);
    // Row r is query token j = (row0 + r) / group at position len - queries + j, head g = (row0 + r) % group.
    int pos[R], first[R];
    std::int64_t qrow[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const int rr = row0 + (r < nrows ? r : 0);
        const int j = rr / group;
        pos[r] = row.kv_tokens - p.queries + j;
        // The row's rule, core/attention_rule.hpp's (one definition for pools and kernels).
        const std::int64_t f = p.chunk > 0    ? chunked_local{p.chunk}.first_visible_token(pos[r])
                               : p.window > 0 ? sliding_window{p.window}.first_visible_token(pos[r])
                                              : 0;
        first[r] = static_cast<int>(f < 0 ? 0 : f);
        qrow[r] = (std::int64_t{b} * p.queries + j) * p.q_heads + kvh * group + rr % group;
    }
    // Rows grow with j and every rule is nondecreasing, so row 0 has the earliest first key and row
    // nrows-1 the last query.
    const int lo = first[0];
    const int hi = row.kv_tokens - p.queries + (row0 + nrows - 1) / group;
    int tile_begin = 0, tile_end = 0;
    if (hi >= lo) {
        const int t0 = lo / TILE, n = hi / TILE + 1 - t0;
        const int per = (n + p.splits - 1) / p.splits;
        tile_begin = t0 + min(n, split * per);
        tile_end = t0 + min(n, (split + 1) * per);
    }

    float q[R][8];
#pragma unroll
    for (int r = 0; r < R; ++r) {
        if (r < nrows) {
            const uint4 w = *reinterpret_cast<const uint4*>(p.q + qrow[r] * D + tx * 8);
            to_float8(w, q[r], T{});
#pragma unroll
            for (int e = 0; e < 8; ++e) q[r][e] *= p.scale_log2;
        } else {
#pragma unroll
            for (int e = 0; e < 8; ++e) q[r][e] = 0.f;
        }
    }

    // Only entries of keys in [lo, hi] are ever read: the page of `lo` is the first in-window page.
    const std::int64_t token_stride = std::int64_t{p.kv_heads} * D;
    const int page_mask = page_size - 1;
    auto fetch_pages = [&](int tile, int(&pg)[U]) {
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int key = tile * TILE + ty + u * NY;
            pg[u] = (tile < tile_end && key >= lo && key <= hi) ? __ldg(row.pages + (key >> p.page_shift)) : -1;
        }
    };
    auto issue = [&](int tile, const int(&pg)[U]) {
        uint4* st = smem + (tile % stages) * (2 * U * threads);
#pragma unroll
        for (int u = 0; u < U; ++u) {
            const int key = tile * TILE + ty + u * NY;
            const bool valid = pg[u] >= 0;
            const std::int64_t off =
                valid ? (std::int64_t{pg[u]} * page_size + (key & page_mask)) * token_stride + kvh * D + tx * 8 : 0;
            cp_async16(st + u * threads + tid, p.k + off, valid);
            cp_async16(st + (U + u) * threads + tid, p.v + off, valid);
        }
    };

    float m[R], l[R], o[R][8];
#pragma unroll
    for (int r = 0; r < R; ++r) {
        m[r] = -INFINITY;
        l[r] = 0.f;
#pragma unroll
        for (int e = 0; e < 8; ++e) o[r][e] = 0.f;
    }

    int pg[U];
#pragma unroll
    for (int s = 0; s < stages - 1; ++s) {
        fetch_pages(tile_begin + s, pg);
        if (tile_begin + s < tile_end) issue(tile_begin + s, pg);
        cp_async_commit();
    }
    fetch_pages(tile_begin + stages - 1, pg);

    for (int tile = tile_begin; tile < tile_end; ++tile) {
        if (tile + stages - 1 < tile_end) issue(tile + stages - 1, pg);
        cp_async_commit();
        fetch_pages(tile + stages, pg);  // consumed next iteration: its latency hides behind this tile
        cp_async_wait<stages - 1>();

        const uint4* st = smem + (tile % stages) * (2 * U * threads);
        float s[R][U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            float kf[8];
            to_float8(st[u * threads + tid], kf, T{});
#pragma unroll
            for (int r = 0; r < R; ++r) {
                float a = 0.f;
                if (r < nrows) {
#pragma unroll
                    for (int e = 0; e < 8; ++e) a = fmaf(q[r][e], kf[e], a);
                }
                s[r][u] = a;
            }
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
            if (r >= nrows) continue;  // uniform across the block
#pragma unroll
            for (int off = C / 2; off > 0; off /= 2)
#pragma unroll
                for (int u = 0; u < U; ++u) s[r][u] += __shfl_xor_sync(0xffffffffu, s[r][u], off);
            float mx = m[r];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const int key = tile * TILE + ty + u * NY;
                if (key < first[r] || key > pos[r]) s[r][u] = -INFINITY;
                mx = fmaxf(mx, s[r][u]);
            }
            const float base = mx == -INFINITY ? 0.f : mx;  // a row with no key yet stays at l = 0
            const float alpha = fast_exp2(m[r] - base);
            m[r] = mx;
            l[r] *= alpha;
#pragma unroll
            for (int e = 0; e < 8; ++e) o[r][e] *= alpha;
#pragma unroll
            for (int u = 0; u < U; ++u) {
                s[r][u] = fast_exp2(s[r][u] - base);
                l[r] += s[r][u];
            }
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            float vf[8];
            to_float8(st[(U + u) * threads + tid], vf, T{});
#pragma unroll
            for (int r = 0; r < R; ++r) {
                if (r >= nrows) continue;
#pragma unroll
                for (int e = 0; e < 8; ++e) o[r][e] = fmaf(s[r][u], vf[e], o[r][e]);
            }
        }
    }
    cp_async_wait<0>();
    __syncthreads();  // the pipeline buffers become the merge buffers

    // Merge the NY partial states of each row: ms/ls [NY][R], os [NY][R][D].
    float* ms = reinterpret_cast<float*>(smem);
    float* ls = ms + NY * R;
    float* os = ls + NY * R;
#pragma unroll
    for (int r = 0; r < R; ++r) {
        if (tx == 0) {
            ms[ty * R + r] = m[r];
            ls[ty * R + r] = l[r];
        }
#pragma unroll
        for (int e = 0; e < 8; ++e) os[(ty * R + r) * D + tx * 8 + e] = o[r][e];
    }
    __syncthreads();
    for (int idx = tid; idx < nrows * C; idx += threads) {
        const int r = idx / C, cc = idx % C;
        float mx = -INFINITY;
        for (int y = 0; y < NY; ++y) mx = fmaxf(mx, ms[y * R + r]);
        const float base = mx == -INFINITY ? 0.f : mx;
        float sum = 0.f, acc[8] = {};
        for (int y = 0; y < NY; ++y) {
            const float w = fast_exp2(ms[y * R + r] - base);
            sum += ls[y * R + r] * w;
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[e] += os[(y * R + r) * D + cc * 8 + e] * w;
        }
        const float inv = sum > 0.f ? 1.f / sum : 0.f;  // a row with no key writes zeros
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[e] *= inv;
        const int rr = row0 + r;
        const std::int64_t out_row = (std::int64_t{b} * p.queries + rr / group) * p.q_heads + kvh * group + rr % group;
        if (p.splits == 1) {
            *reinterpret_cast<uint4*>(p.out + out_row * D + cc * 8) = from_float8(acc, T{});
        } else {
            float4* dst = reinterpret_cast<float4*>(p.partial_o + (out_row * p.splits + split) * D + cc * 8);
            dst[0] = make_float4(acc[0], acc[1], acc[2], acc[3]);
            dst[1] = make_float4(acc[4], acc[5], acc[6], acc[7]);
            if (cc == 0) p.partial_lse[out_row * p.splits + split] = sum > 0.f ? base + __log2f(sum) : -INFINITY;
        }
    }
}

/// Merges the splits of one query row (block): out = sum_s w_s o_s / sum_s w_s, w_s = 2^(lse_s - max).
template <class T>
__global__ void __launch_bounds__(threads)
    merge_splits_kernel(const float* partial_o, const float* partial_lse, T* out, int splits, int head_dim) {
    __shared__ float weight[max_splits];
    __shared__ float total;
    wait_for_primary_grid();
    const std::int64_t row = blockIdx.x;
    const float* lse = partial_lse + row * splits;
    if (threadIdx.x == 0) {
        float mx = -INFINITY;
        for (int s = 0; s < splits; ++s) mx = fmaxf(mx, lse[s]);
        const float base = mx == -INFINITY ? 0.f : mx;
        float sum = 0.f;
        for (int s = 0; s < splits; ++s) {
            weight[s] = fast_exp2(lse[s] - base);
            sum += weight[s];
        }
        total = sum;
    }
    __syncthreads();
    const float inv = total > 0.f ? 1.f / total : 0.f;
    for (int c = static_cast<int>(threadIdx.x); c < head_dim / 8; c += threads) {
        float acc[8] = {};
        for (int s = 0; s < splits; ++s) {
            const float4* src = reinterpret_cast<const float4*>(partial_o + (row * splits + s) * head_dim + c * 8);
            const float4 a = src[0], z = src[1];
            const float w = weight[s];
            acc[0] += w * a.x;
            acc[1] += w * a.y;
            acc[2] += w * a.z;
            acc[3] += w * a.w;
            acc[4] += w * z.x;
            acc[5] += w * z.y;
            acc[6] += w * z.z;
            acc[7] += w * z.w;
        }
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[e] *= inv;
        *reinterpret_cast<uint4*>(out + row * head_dim + c * 8) = from_float8(acc, T{});
    }
}

}  // namespace pagedkv::gpu::detail
