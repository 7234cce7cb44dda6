// The validator kernel: scans the emitted tables and full_to_swa, keeps the first offender.
#pragma once
#include <cstddef>
#include <cstdint>

#include <cub/block/block_reduce.cuh>
#include <cuda_runtime.h>

#include "pagedkv/cuda/detail/tables_kernels.cuh"

namespace pagedkv::gpu {

/// Which emitted array an offender sits in (ordered as the validator ranks offenders).
enum class table_part : std::int32_t { none = 0, dense, csr_indptr, csr_indices, slot_mapping, full_to_swa };
/// What is wrong with it.
enum class violation : std::int32_t {
    none = 0,
    out_of_range,  ///< below 0 or not below the pool's size (pages; slots: pages * P)
    not_owned,     ///< an in-window entry whose page the row's request does not hold
    map_mismatch,  ///< full_to_swa of a row's full page differs from the row's SWA entry
};

/// The first offender of one validation (smallest table, pool, row, column) and how many there were.
struct validation_report {
    std::int32_t violations = 0;  ///< offending entries found; 0 means every check passed
    table_part table = table_part::none;
    std::int32_t pool = -1;    ///< 0: the only or the full pool; 1: the SWA pool
    std::int32_t row = -1;     ///< batch row (0 for full_to_swa)
    std::int32_t column = -1;  ///< dense: page column; CSR / slots: position in the row; map: full page
    violation reason = violation::none;
    std::int64_t value = 0;  ///< the offending entry
};

namespace detail {

/// Device-side state of a validator: reduced into by every block, reset by the last one.
struct tables_validator_state {
    unsigned long long first_key;
    unsigned int blocks_done;
    int violations;
    validation_report report;
};

struct tables_validate_args {
    pool_tables_view pools[2];
    const std::int32_t* full_to_swa;
    std::int32_t map_pages;
    std::int32_t pool_count;
    const std::byte* delta;
    tables_validator_state* state;
    bool check_owners;
    bool check_mapping;
};

// Offenders rank by this key: table, pool, row, column, reason (high bits to low).
__device__ inline unsigned long long tables_offence(table_part t, int pool, std::int64_t row, std::int64_t col,
                                                    violation why) {
    return (static_cast<unsigned long long>(t) << 61) | (static_cast<unsigned long long>(pool) << 60) |
           (static_cast<unsigned long long>(row & 0xffffff) << 36) |
           (static_cast<unsigned long long>(col & 0xffffffff) << 4) | static_cast<unsigned long long>(why);
}

__device__ inline void tables_finish_report(const tables_validate_args& a, unsigned long long key, int count) {
    validation_report& r = a.state->report;
    r.violations = count;
    if (count == 0) {
        r = validation_report{};
        return;
    }
    r.table = static_cast<table_part>(key >> 61);
    r.pool = static_cast<std::int32_t>((key >> 60) & 1);
    r.row = static_cast<std::int32_t>((key >> 36) & 0xffffff);
    r.column = static_cast<std::int32_t>((key >> 4) & 0xffffffff);
    r.reason = static_cast<violation>(key & 0xf);
    const pool_tables_view& v = a.pools[r.pool];
    switch (r.table) {
        case table_part::dense:
            r.value = v.dense[std::int64_t{r.row} * v.max_pages + r.column];
            break;
        case table_part::csr_indptr:
            r.value = v.csr_indptr[r.row + r.column];
            break;
        case table_part::csr_indices:
            r.value = v.csr_indices[v.csr_indptr[r.row] + r.column];
            break;
        case table_part::slot_mapping:
            r.value = v.slot_mapping[v.slot_indptr[r.row] + r.column];
            break;
        case table_part::full_to_swa:
            r.value = r.reason == violation::map_mismatch
                          ? a.full_to_swa[a.pools[0].dense[std::int64_t{r.row} * v.max_pages + r.column]]
                          : a.full_to_swa[r.column];
            break;
        default:
            break;
    }
}

/// Grid (x, pool) as the sync kernel. Block (b, k) checks row b of pool k's dense, CSR and slot
/// tables; all blocks share full_to_swa. Per-block minima are reduced with CUB, and the last block
/// to finish writes the report and resets the state (so no memset precedes a launch).
template <int = 0>  // a template so that every translation unit may define it (header-only)
__global__ void __launch_bounds__(tables_block_threads) tables_validate_kernel(tables_validate_args a) {
    using reduce_key = cub::BlockReduce<unsigned long long, tables_block_threads>;
    using reduce_count = cub::BlockReduce<int, tables_block_threads>;
    __shared__ typename reduce_key::TempStorage key_storage;
    __shared__ typename reduce_count::TempStorage count_storage;
    __shared__ bool last_block;
    unsigned long long first = ~0ull;
    int found = 0;
    const auto offend = [&](table_part t, int pool, std::int64_t row, std::int64_t col, violation why) {
        const unsigned long long key = tables_offence(t, pool, row, col, why);
        first = key < first ? key : first;
        ++found;
    };
    const delta_header& h = *reinterpret_cast<const delta_header*>(a.delta);
    const int k = static_cast<int>(blockIdx.y), b = static_cast<int>(blockIdx.x);
    const int tid = static_cast<int>(threadIdx.x), threads = static_cast<int>(blockDim.x);
    if (b < h.batch_size && k < h.pool_count) {
        const pool_tables_view& v = a.pools[k];
        const auto* sections = reinterpret_cast<const pool_section*>(a.delta + sizeof(delta_header));
        const row_desc r = tables_list<row_desc>(a.delta, sections[k].rows_offset)[b];
        const table_row row = delta_row(r, v.page_size_tokens);
        const auto bad_page = [&](std::int64_t p) { return p < 0 || p >= v.pool_pages; };
        const auto foreign = [&](std::int64_t p) { return a.check_owners && v.owner[p] != r.store_row; };
        for (std::int32_t j = tid; j < v.max_pages; j += threads) {
            const std::int32_t p = v.dense[std::int64_t{b} * v.max_pages + j];
            if (bad_page(p))
                offend(table_part::dense, k, b, j, violation::out_of_range);
            else if (row.live(j) && foreign(p))
                offend(table_part::dense, k, b, j, violation::not_owned);
        }
        const std::int32_t lo = v.csr_indptr[b], hi = v.csr_indptr[b + 1];
        if (lo < 0 || hi < lo || hi > h.max_batch * v.max_pages) {
            if (tid == 0) offend(table_part::csr_indptr, k, b, lo < 0 ? 0 : 1, violation::out_of_range);
        } else {
            for (std::int32_t e = lo + tid; e < hi; e += threads) {
                const std::int32_t p = v.csr_indices[e];
                if (bad_page(p))
                    offend(table_part::csr_indices, k, b, e - lo, violation::out_of_range);
                else if (foreign(p))
                    offend(table_part::csr_indices, k, b, e - lo, violation::not_owned);
            }
        }
        const std::int32_t s_lo = v.slot_indptr[b], s_hi = v.slot_indptr[b + 1];
        if (s_lo >= 0 && s_hi >= s_lo && s_hi <= v.max_new_tokens) {
            const std::int64_t slots = std::int64_t{v.pool_pages} * v.page_size_tokens;
            for (std::int32_t i = s_lo + tid; i < s_hi; i += threads) {
                const std::int64_t s = v.slot_mapping[i];
                if (s < 0 || s >= slots)
                    offend(table_part::slot_mapping, k, b, i - s_lo, violation::out_of_range);
                else if (foreign(s / v.page_size_tokens))
                    offend(table_part::slot_mapping, k, b, i - s_lo, violation::not_owned);
            }
        }
        // A hybrid's two homes must agree: the SWA entry of column j is full_to_swa of the full one.
        if (k == 1 && a.check_mapping && a.full_to_swa != nullptr) {
            const pool_tables_view& f = a.pools[0];
            for (std::int32_t j = r.first_live_page + tid; j < row.pages(); j += threads) {
                const std::int32_t fp = f.dense[std::int64_t{b} * f.max_pages + j];
                if (fp < 0 || fp >= a.map_pages) continue;  // reported as the full dense table's offender
                if (a.full_to_swa[fp] != v.dense[std::int64_t{b} * v.max_pages + j])
                    offend(table_part::full_to_swa, 1, b, j, violation::map_mismatch);
            }
        }
    }
    if (a.full_to_swa != nullptr) {
        const std::int64_t block = std::int64_t{blockIdx.y} * gridDim.x + blockIdx.x;
        const std::int64_t stride = std::int64_t{gridDim.x} * gridDim.y * threads;
        for (std::int64_t f = block * threads + tid; f < a.map_pages; f += stride) {
            const std::int32_t s = a.full_to_swa[f];
            if (s < 0 || s >= a.pools[1].pool_pages) offend(table_part::full_to_swa, 0, 0, f, violation::out_of_range);
        }
    }
    first =
        reduce_key(key_storage).Reduce(first, [](unsigned long long x, unsigned long long y) { return x < y ? x : y; });
    found = reduce_count(count_storage).Sum(found);
    if (tid == 0) {
        if (found > 0) {
            atomicMin(&a.state->first_key, first);
            atomicAdd(&a.state->violations, found);
        }
        __threadfence();
        const unsigned int blocks = gridDim.x * gridDim.y;
        last_block = atomicAdd(&a.state->blocks_done, 1u) == blocks - 1;
    }
    __syncthreads();
    if (last_block && tid == 0) {
        __threadfence();
        const unsigned long long key = atomicExch(&a.state->first_key, ~0ull);
        const int count = atomicExch(&a.state->violations, 0);
        tables_finish_report(a, key, count);
        a.state->blocks_done = 0;
    }
}

}  // namespace detail
}  // namespace pagedkv::gpu
