// The fused sync kernel: applies one delta to the device store and emits this step's tables.
#pragma once
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "pagedkv/table/thrust_emission.hpp"

namespace pagedkv::gpu::detail {

inline constexpr int tables_block_threads = 256;

/// Everything the fused kernel reads besides the delta's contents; fixed for the tables' life, so
/// a captured launch replays correctly.
struct tables_kernel_args {
    pool_tables_view pools[2];
    std::int32_t* full_to_swa;
    const std::byte* delta;
    std::int32_t copied_bytes;          ///< bytes this launch's copy brought over (fixed in a graph)
    std::int32_t max_batch;             ///< capacity fingerprint the delta must carry
    std::int32_t pool_count;
    std::int32_t* rejected_deltas;      ///< counts launches that found a delta they cannot apply
};

template <class T>
__device__ const T* tables_list(const std::byte* delta, std::int32_t offset) {
    return reinterpret_cast<const T*>(delta + offset);
}

__device__ inline void tables_scatter(const entry_write* writes, std::int32_t count, std::int32_t* dst,
                                      std::int64_t first, std::int64_t stride) {
    for (std::int64_t i = first; i < count; i += stride) dst[writes[i].index] = writes[i].value;
}

/// Grid (x, pool). Block (b, k) with b < batch: applies the store writes of batch row b (only it
/// reads that store row this step), then writes row b of pool k's dense table, CSR list, indptrs,
/// last-page length and slot mapping. Every block then takes a grid-stride share of the writes
/// nobody reads this step: other rows' store writes, owner writes, map writes.
__global__ void __launch_bounds__(tables_block_threads) tables_apply_emit_kernel(tables_kernel_args a) {
    const delta_header& h = *reinterpret_cast<const delta_header*>(a.delta);
    if (h.total_bytes > a.copied_bytes || h.max_batch != a.max_batch || h.pool_count != a.pool_count ||
        h.max_pages_per_request != a.pools[0].max_pages) {
        if (blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0) atomicAdd(a.rejected_deltas, 1);
        return;  // a truncated or foreign delta: leave every table as it was
    }
    const int k = static_cast<int>(blockIdx.y);
    const int b = static_cast<int>(blockIdx.x);
    const int tid = static_cast<int>(threadIdx.x);
    const int threads = static_cast<int>(blockDim.x);
    const pool_tables_view& v = a.pools[k];
    const pool_section& s = h.pools[k];
    const std::int32_t mp = v.max_pages, page = v.page_size_tokens;

    if (b < h.batch_size) {
        const row_desc r = tables_list<row_desc>(a.delta, s.rows_offset)[b];
        tables_scatter(tables_list<entry_write>(a.delta, s.batch_writes_offset) + r.write_begin, r.write_count,
                       v.store, tid, threads);
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
    const std::int64_t first = std::int64_t{b} * threads + tid, stride = std::int64_t{gridDim.x} * threads;
    tables_scatter(tables_list<entry_write>(a.delta, s.other_writes_offset), s.other_writes, v.store, first, stride);
    tables_scatter(tables_list<entry_write>(a.delta, s.owner_writes_offset), s.owner_writes, v.owner, first, stride);
    if (k == 0 && a.full_to_swa != nullptr)
        tables_scatter(tables_list<entry_write>(a.delta, h.map_writes_offset), h.map_writes, a.full_to_swa, first,
                       stride);
}

}  // namespace pagedkv::gpu::detail
