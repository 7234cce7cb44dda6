// KV integrity probes: write K/V rows that spell (request, position), then check through emitted
// tables that every request sees exactly its own tokens, in order. A debugging aid for engines and
// the end-to-end test of pagedkv (no KV lost, swapped between requests, or read stale).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "pagedkv/core/page_math.hpp"
#include "pagedkv/cuda/page_table_view.cuh"
#include "pagedkv/cuda/swa_decode.cuh"

namespace pagedkv::gpu {

/// Element d of head h of the K (or V) row of token `pos` of the request tagged `tag`: an integer
/// in [0, 255], so exact in bf16 and fp16. Elements 0..4 spell the tag's low two bytes and the
/// position's low three bytes; the rest mix all four inputs, so a row from another head, tensor,
/// token or request differs somewhere.
__host__ __device__ constexpr int kv_probe(std::uint32_t tag, std::int32_t pos, int head, int d, bool is_v) noexcept {
    const auto p = static_cast<std::uint32_t>(pos);
    std::uint32_t x = 0;
    switch (d) {
        case 0:
            x = tag;
            break;
        case 1:
            x = tag >> 8;
            break;
        case 2:
            x = p;
            break;
        case 3:
            x = p >> 8;
            break;
        case 4:
            x = p >> 16;
            break;
        default:
            x = tag * 131u + p * 7919u + static_cast<std::uint32_t>(head) * 31u + static_cast<std::uint32_t>(d) * 3u;
    }
    x &= 0xffu;
    return static_cast<int>(is_v ? 255u - x : x);
}

/// What `check_kv_probes` found. `first` orders offenders by (row, token): row << 40 | (token + 1) << 8 | kind.
struct kv_probe_report {
    unsigned long long first = ~0ull;  ///< the first offender, or all ones when none
    unsigned int offenders = 0;        ///< tokens (or table entries) that failed
};

/// Kinds of offence in `kv_probe_report::first & 0xff`.
enum class kv_probe_fault : std::uint8_t {
    wrong_row = 1,                 ///< a visible token's K or V row is not the request's own row for that position
    page_out_of_range = 2,         ///< a visible token's table entry is the null page or not below the pool size
    length_mismatch = 3,           ///< the table's kv length disagrees with the request's
    live_entry_before_window = 4,  ///< a dense SWA row holds a non-null entry before its first live page
};

/// What each table row should show: the request's tag, its length and committed length (tokens).
struct kv_probe_expect {
    const std::uint32_t* tags = nullptr;
    const std::int32_t* length_tokens = nullptr;
    const std::int32_t* committed_tokens = nullptr;
};

namespace detail {
template <kv_element T>
__global__ void write_probes_kernel(T* k, T* v, int kv_heads, int head_dim, const std::int64_t* slots,
                                    const std::uint32_t* tags, const std::int32_t* positions, std::int64_t n) {
    const std::int64_t row_elems = std::int64_t{kv_heads} * head_dim;
    for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n * row_elems;
         i += std::int64_t{gridDim.x} * blockDim.x) {
        const std::int64_t t = i / row_elems;
        const int h = static_cast<int>(i % row_elems / head_dim), d = static_cast<int>(i % head_dim);
        const std::int64_t at = slots[t] * row_elems + i % row_elems;
        k[at] = T(static_cast<float>(kv_probe(tags[t], positions[t], h, d, false)));
        v[at] = T(static_cast<float>(kv_probe(tags[t], positions[t], h, d, true)));
    }
}

__device__ inline void report(kv_probe_report* r, int row, std::int64_t token, kv_probe_fault kind) {
    atomicAdd(&r->offenders, 1u);
    atomicMin(&r->first, (static_cast<unsigned long long>(row) << 40) |
                             (static_cast<unsigned long long>(token + 1) << 8) | static_cast<unsigned>(kind));
}

// Block (row, part): warps walk the row's visible tokens; lanes walk a token's heads x head_dim.
template <kv_element T>
__global__ void check_probes_kernel(const T* k, const T* v, page_table_view table, int page_size, int window,
                                    int num_pages, int kv_heads, int head_dim, kv_probe_expect expect,
                                    kv_probe_report* out, int chunk) {
    const int b = static_cast<int>(blockIdx.x);
    const page_row row = row_of(table, b, page_size);
    const std::int32_t len = expect.length_tokens[b];
    // SWA and chunked pools keep pages from their rule's dead_pages(committed) on; a CSR row starts
    // there, a dense row at 0.
    const std::int64_t committed = expect.committed_tokens[b];
    const std::int64_t live_page = chunk > 0    ? dead_pages(chunked_local{chunk}, committed, page_size)
                                   : window > 0 ? dead_pages(committed, window, page_size)
                                                : 0;
    const std::int64_t row_start = table.form == table_form::csr ? live_page * page_size : 0;
    const int lane = static_cast<int>(threadIdx.x % 32);
    const int warp = static_cast<int>(blockIdx.y * (blockDim.x / 32) + threadIdx.x / 32);
    const int warps = static_cast<int>(gridDim.y * (blockDim.x / 32));
    if (warp == 0 && lane == 0 && row.kv_tokens != len - row_start) report(out, b, -1, kv_probe_fault::length_mismatch);
    if (table.form == table_form::dense)
        for (std::int64_t i = warp * 32 + lane; i < live_page; i += warps * 32)
            if (row.pages[i] != 0) report(out, b, i * page_size, kv_probe_fault::live_entry_before_window);
    const std::int64_t row_elems = std::int64_t{kv_heads} * head_dim;
    const std::int64_t end = row.kv_tokens < len - row_start ? row.kv_tokens + row_start : len;
    for (std::int64_t a = live_page * page_size + warp; a < end; a += warps) {
        const std::int64_t i = a - row_start;
        const std::int32_t page = row.pages[i / page_size];
        if (page <= 0 || page >= num_pages) {
            if (lane == 0) report(out, b, a, kv_probe_fault::page_out_of_range);
            continue;
        }
        const std::int64_t base = (std::int64_t{page} * page_size + i % page_size) * row_elems;
        bool good = true;
        for (std::int64_t e = lane; e < row_elems; e += 32) {
            const int h = static_cast<int>(e / head_dim), d = static_cast<int>(e % head_dim);
            good &= static_cast<float>(k[base + e]) ==
                    static_cast<float>(kv_probe(expect.tags[b], static_cast<std::int32_t>(a), h, d, false));
            good &= static_cast<float>(v[base + e]) ==
                    static_cast<float>(kv_probe(expect.tags[b], static_cast<std::int32_t>(a), h, d, true));
        }
        if (!__all_sync(0xffffffffu, good) && lane == 0) report(out, b, a, kv_probe_fault::wrong_row);
    }
}
}  // namespace detail

/// Writes the probe rows of `n` tokens: token i (request `tags[i]`, position `positions[i]`) goes to
/// KV slot `slots[i]` (page * P + offset, as emit_slot_mapping writes) of both caches
/// [pages, P, kv_heads, head_dim]. Device pointers; returns the launch's error.
template <kv_element T>
cudaError_t write_kv_probes(T* k, T* v, int kv_heads, int head_dim, const std::int64_t* slots,
                            const std::uint32_t* tags, const std::int32_t* positions, std::int64_t n,
                            cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    detail::write_probes_kernel<T><<<256, 256, 0, stream>>>(k, v, kv_heads, head_dim, slots, tags, positions, n);
    return cudaGetLastError();
}

/// Walks every row of `table` (batch rows) and checks that each token the row must still hold (all
/// tokens for window 0; for window W those from the first live page, dead_pages(committed, W, P), on;
/// for a chunked pool's table, `chunk_tokens` = C and window 0: those from the current chunk's first
/// page on) has a valid page and the request's own probe row for that position, and that the table's
/// length agrees. Adds offenders to `*report` (device memory; zero it first). Returns the launch's error.
template <kv_element T>
cudaError_t check_kv_probes(const T* k, const T* v, const page_table_view& table, int batch, int page_size, int window,
                            int num_pages, int kv_heads, int head_dim, const kv_probe_expect& expect,
                            kv_probe_report* report, cudaStream_t stream, int chunk_tokens = 0) {
    if (batch <= 0) return cudaSuccess;
    detail::check_probes_kernel<T><<<dim3(static_cast<unsigned>(batch), 4), 256, 0, stream>>>(
        k, v, table, page_size, window, num_pages, kv_heads, head_dim, expect, report, chunk_tokens);
    return cudaGetLastError();
}

}  // namespace pagedkv::gpu
