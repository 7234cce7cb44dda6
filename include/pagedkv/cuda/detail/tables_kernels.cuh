// The fused sync kernel: applies one delta to the device store and emits this step's tables.
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "pagedkv/table/thrust_emission.hpp"

namespace pagedkv::gpu::detail {

inline constexpr int tables_block_threads = 256;
/// Pools whose views ride in the launch parameters (a full pool and up to three groups); the views
/// of further pools are read from device memory (`more_pools`), the slow path of rarer models.
inline constexpr int tables_param_pools = 4;

/// Everything the fused kernel reads besides the delta's contents; fixed for the tables' life, so
/// a captured launch replays correctly.
struct tables_kernel_args {
    pool_tables_view pools[tables_param_pools];
    const pool_tables_view* more_pools;  ///< device copies of the views of pools tables_param_pools and on
    std::int32_t* maps;                  ///< the groups' mappings, one after the other (null for one pool)
    const std::byte* delta;              ///< the device copy, or (mapped sync) the pinned staging itself
    std::byte* delta_copy;               ///< mapped sync: device buffer the kernel copies the delta into
    std::int32_t copied_bytes;           ///< bytes of `delta` that are valid (a graph's copy is fixed)
    std::int32_t max_batch;              ///< capacity fingerprint the delta must carry
    std::int32_t pool_count;
    std::int32_t* rejected_deltas;  ///< counts launches that found a delta they cannot apply
};

template <class T>
__device__ const T* tables_list(const std::byte* delta, std::int32_t offset) {
    return reinterpret_cast<const T*>(delta + offset);
}

__device__ inline void tables_scatter(const entry_write* writes, std::int32_t count, std::int32_t* dst,
                                      std::int64_t first, std::int64_t stride) {
    for (std::int64_t i = first; i < count; i += stride) dst[writes[i].index] = writes[i].value;
}

/// Copies a trivially copyable T from `src` (device or mapped host memory) into shared `dst`, one
/// 4-byte word per thread from thread `first` on: one round trip instead of one per field when
/// `src` is across the bus. The caller's __syncthreads makes it visible.
template <class T>
__device__ void tables_stage_words(T& dst, const std::byte* src, int tid, int first = 0) {
    static_assert(sizeof(T) % 4 == 0);
    if (tid >= first && tid < first + static_cast<int>(sizeof(T) / 4))
        reinterpret_cast<std::int32_t*>(&dst)[tid - first] = reinterpret_cast<const std::int32_t*>(src)[tid - first];
}
/// tables_stage_words from thread 0, then the barrier that makes `dst` visible to the block.
template <class T>
__device__ void tables_stage_shared(T& dst, const std::byte* src, int tid) {
    tables_stage_words(dst, src, tid);
    __syncthreads();
}

/// Block (b, k)'s share of pool k once its header is accepted: row b's store writes and tables
/// (b < batch), then a grid-stride share of the pool's writes nobody reads this step.
__device__ __forceinline__ void tables_emit_pool(const pool_tables_view& v, const delta_header& h,
                                                 const pool_section& s, row_desc& r, const std::byte* delta, int b,
                                                 int tid, int threads, std::int64_t stride) {
    const std::int32_t mp = v.max_pages, page = v.page_size_tokens;
    if (b < h.batch_size) {
        tables_stage_shared(r, delta + s.rows_offset + std::int64_t{b} * sizeof(row_desc), tid);
        tables_scatter(tables_list<entry_write>(delta, s.batch_writes_offset) + r.write_begin, r.write_count, v.store,
                       tid, threads);
        __syncthreads();  // the row's own writes are visible to the whole block before it is read
        const table_row row = delta_row(r, page);
        const std::int64_t n = row.pages();
        const std::int32_t fl = r.first_live_page;
        const std::int32_t* src = v.store + std::int64_t{r.store_row} * mp;
        std::int32_t* dense = v.dense + std::int64_t{b} * mp;
        for (std::int32_t j = tid; j < mp; j += threads) dense[j] = dense_entry(r, v.store, mp, j, page);
        for (std::int64_t j = fl + tid; j < n; j += threads) v.csr_indices[r.csr_begin + (j - fl)] = src[j];
        for (std::int64_t t = r.committed_tokens + tid; t < r.length_tokens; t += threads)
            v.slot_mapping[r.slot_begin + (t - r.committed_tokens)] = token_slot(r, v.store, mp, t, page);
        if (tid == 0) {
            v.csr_indptr[b + 1] = r.csr_begin + static_cast<std::int32_t>(row.csr_count());
            v.csr_last_page_len[b] = row.last_page_len();
            v.slot_indptr[b + 1] = r.slot_begin + slot_count(r);
            if (b == 0) v.csr_indptr[0] = v.slot_indptr[0] = 0;
        }
    }
    const std::int64_t pool_first = std::int64_t{b} * threads + tid;
    tables_scatter(tables_list<entry_write>(delta, s.other_writes_offset), s.other_writes, v.store, pool_first, stride);
    tables_scatter(tables_list<entry_write>(delta, s.owner_writes_offset), s.owner_writes, v.owner, pool_first, stride);
}

/// Grid (x, pool). Block (b, k) with b < batch: applies the store writes of batch row b (only it
/// reads that store row this step), then writes row b of pool k's dense table, CSR list, indptrs,
/// last-page length and slot mapping. Every block then takes a grid-stride share of the writes
/// nobody reads this step: other rows' store writes, owner writes, map writes. With `delta_copy`
/// set the delta is not in device memory (mapped staging, or launch parameters), so each block also
/// copies a share of it there for later readers.
__device__ inline void tables_apply_emit(const tables_kernel_args& a, const std::byte* delta) {
    __shared__ delta_header h;
    __shared__ pool_section s;  // this block's pool
    __shared__ row_desc r;
    const int k = static_cast<int>(blockIdx.y);
    const int b = static_cast<int>(blockIdx.x);
    const int tid = static_cast<int>(threadIdx.x);
    const int threads = static_cast<int>(blockDim.x);
    // The header and this pool's section in one round trip. Section k lies inside any buffer the
    // delta can be in (each holds at least the head of pool_count pools), and it is used only once
    // the header has been accepted.
    constexpr int header_words = sizeof(delta_header) / 4;
    tables_stage_words(h, delta, tid);
    tables_stage_words(s, delta + sizeof(delta_header) + std::int64_t{k} * sizeof(pool_section), tid, header_words);
    __syncthreads();
    if (h.total_bytes > a.copied_bytes || h.max_batch != a.max_batch || h.pool_count != a.pool_count ||
        h.max_pages_per_request != a.pools[0].max_pages) {
        if (blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0) atomicAdd(a.rejected_deltas, 1);
        return;  // a truncated or foreign delta: leave every table as it was
    }
    const std::int64_t first = (std::int64_t{k} * gridDim.x + b) * threads + tid;
    const std::int64_t stride = std::int64_t{gridDim.x} * threads;
    if (a.delta_copy != nullptr) {  // every delta is a multiple of 8 bytes (its records are)
        const auto* src = reinterpret_cast<const std::uint64_t*>(delta);
        auto* dst = reinterpret_cast<std::uint64_t*>(a.delta_copy);
        for (std::int64_t i = first; i < h.total_bytes / 8; i += stride * gridDim.y) dst[i] = src[i];
    }
    // Two call sites, not one view chosen by value: pointers read from the parameters are known to
    // be global, and one choice between them and device memory made every table access generic
    // (the mapped sync measured 1.1-1.7x slower so, bench/RESULTS.md).
    if (k < tables_param_pools)
        tables_emit_pool(a.pools[k], h, s, r, delta, b, tid, threads, stride);
    else
        tables_emit_pool(a.more_pools[k - tables_param_pools], h, s, r, delta, b, tid, threads, stride);
    if (k == 0 && a.maps != nullptr)
        tables_scatter(tables_list<entry_write>(delta, h.map_writes_offset), h.map_writes, a.maps,
                       std::int64_t{b} * threads + tid, stride);
}

// A template (its one argument defaulted) so that every translation unit may define it: header-only.
template <int = 0>
__global__ void __launch_bounds__(tables_block_threads) tables_apply_emit_kernel(tables_kernel_args a) {
    tables_apply_emit(a, a.delta);
}

/// Room for a delta inside a launch's parameters (CUDA 12.1+ allows 32764 bytes of them in all).
inline constexpr std::int32_t tables_inline_delta_bytes = 32 * 1024 - 512;
template <std::int32_t Bytes>
struct tables_inline_delta {
    alignas(16) std::byte bytes[Bytes];
};
static_assert(sizeof(tables_kernel_args) + tables_inline_delta_bytes <= 32764);

/// The same kernel with the delta carried in its own parameters: no copy before it, no read across
/// the bus (parameters reach the SMs with the launch).
template <std::int32_t Bytes>
__global__ void __launch_bounds__(tables_block_threads)
    tables_apply_emit_inline_kernel(tables_kernel_args a, const __grid_constant__ tables_inline_delta<Bytes> d) {
    tables_apply_emit(a, d.bytes);
}

}  // namespace pagedkv::gpu::detail
