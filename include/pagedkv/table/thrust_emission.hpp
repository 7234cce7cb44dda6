// Device-side table emission written once with Thrust: the same algorithms run on the GPU (CUDA
// system) and in the host test suite (THRUST_DEVICE_SYSTEM_CPP, compiled by g++).
#pragma once
#include <cstddef>
#include <cstdint>

#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/scan.h>
#include <thrust/transform.h>

#include "pagedkv/core/host_device.hpp"
#include "pagedkv/core/page_math.hpp"
#include "pagedkv/table/table_mirror.hpp"

namespace pagedkv {

/// One pool's device tables: plain pointers into memory the algorithms' execution policy can reach.
/// Shapes come from the `table_capacity`: store [max_requests][max_pages], dense and CSR indices
/// [max_batch][max_pages] (CSR packed), indptrs [max_batch + 1], slot mapping [max_new_tokens].
struct pool_tables_view {
    std::int32_t* store;  ///< page lists by store row (the persistent state)
    std::int32_t* owner;  ///< [pool_pages]: store row holding the page, or -1
    std::int32_t* dense;  ///< dense table, row stride max_pages
    std::int32_t* csr_indptr;
    std::int32_t* csr_indices;
    std::int32_t* csr_last_page_len;
    std::int32_t* slot_indptr;  ///< in-flight tokens of rows before b (query offsets)
    std::int64_t* slot_mapping;
    std::int32_t max_pages;
    std::int32_t page_size_tokens;
    std::int32_t pool_pages;
    std::int32_t max_new_tokens;
};

// ---- a delta's row as a table_row, shared by the Thrust algorithms and the CUB fused kernel -------

/// The row a delta record describes (core/page_math.hpp derives every entry from it).
PAGEDKV_HD inline table_row delta_row(const row_desc& r, std::int32_t page_size) {
    return {r.length_tokens, r.first_live_page, page_size};
}
/// Tokens in flight, whose KV slots the slot mapping lists.
PAGEDKV_HD inline std::int32_t slot_count(const row_desc& r) {
    return static_cast<std::int32_t>(r.length_tokens - r.committed_tokens);
}
/// Column `col` of the row's dense table: the stored page where the row is live, else null.
PAGEDKV_HD inline std::int32_t dense_entry(const row_desc& r, const std::int32_t* store, std::int32_t max_pages,
                                           std::int64_t col, std::int32_t page_size) {
    return delta_row(r, page_size).live(col) ? store[std::int64_t{r.store_row} * max_pages + col] : 0;
}
/// KV slot of token t of the row.
PAGEDKV_HD inline std::int64_t token_slot(const row_desc& r, const std::int32_t* store, std::int32_t max_pages,
                                          std::int64_t t, std::int32_t page_size) {
    const table_row row = delta_row(r, page_size);
    return row.slot_of(store[std::int64_t{r.store_row} * max_pages + row.page_of(t)], t);
}

namespace detail {

struct tables_write_fn {
    const entry_write* writes;
    std::int32_t* dst;
    PAGEDKV_HD void operator()(std::int32_t i) const { dst[writes[i].index] = writes[i].value; }
};
struct tables_csr_count_fn {
    std::int32_t page_size;
    PAGEDKV_HD std::int32_t operator()(const row_desc& r) const {
        return static_cast<std::int32_t>(delta_row(r, page_size).csr_count());
    }
};
struct tables_slot_count_fn {
    PAGEDKV_HD std::int32_t operator()(const row_desc& r) const { return slot_count(r); }
};
struct tables_last_page_fn {
    std::int32_t page_size;
    PAGEDKV_HD std::int32_t operator()(const row_desc& r) const { return delta_row(r, page_size).last_page_len(); }
};
struct tables_dense_fn {
    const row_desc* rows;
    pool_tables_view v;
    PAGEDKV_HD void operator()(std::int64_t i) const {
        v.dense[i] = dense_entry(rows[i / v.max_pages], v.store, v.max_pages, i % v.max_pages, v.page_size_tokens);
    }
};
struct tables_csr_fn {
    const row_desc* rows;
    pool_tables_view v;
    PAGEDKV_HD void operator()(std::int64_t i) const {
        const std::int64_t b = i / v.max_pages, col = i % v.max_pages;
        const row_desc& r = rows[b];
        if (!delta_row(r, v.page_size_tokens).live(col)) return;
        v.csr_indices[v.csr_indptr[b] + col - r.first_live_page] =
            v.store[std::int64_t{r.store_row} * v.max_pages + col];
    }
};
struct tables_slot_fn {
    const row_desc* rows;
    std::int32_t batch;
    pool_tables_view v;
    PAGEDKV_HD void operator()(std::int32_t i) const {
        if (i >= v.slot_indptr[batch]) return;
        std::int32_t lo = 0, hi = batch;  // the row b with slot_indptr[b] <= i < slot_indptr[b + 1]
        while (hi - lo > 1) {
            const std::int32_t mid = (lo + hi) / 2;
            (v.slot_indptr[mid] <= i ? lo : hi) = mid;
        }
        const row_desc& r = rows[lo];
        const std::int64_t t = r.committed_tokens + (i - v.slot_indptr[lo]);
        v.slot_mapping[i] = token_slot(r, v.store, v.max_pages, t, v.page_size_tokens);
    }
};
struct tables_map_fn {
    const std::int32_t* map;
    PAGEDKV_HD std::int32_t operator()(std::int32_t page) const { return map[page]; }
};

template <class T>
const T* delta_list(const std::byte* delta, std::int32_t offset) {
    return reinterpret_cast<const T*>(delta + offset);
}

}  // namespace detail

/// Applies a delta's records: store and owner writes of every pool, then the map writes.
/// `delta` is the packed delta where the policy's system reads it; `staged` the same bytes where the
/// host reads them (the staging). `maps` holds the groups' mappings one after the other (a hybrid:
/// full_to_swa). @pre one view per pool of the delta; `maps` non-null when it has map writes.
template <class Policy>
void apply_delta(const Policy& policy, const std::byte* delta, const std::byte* staged, const pool_tables_view* pools,
                 std::int32_t* maps) {
    const delta_header h = read_delta_header(staged);
    const auto run = [&](std::int32_t offset, std::int32_t count, std::int32_t* dst) {
        if (count > 0)
            thrust::for_each_n(policy, thrust::counting_iterator<std::int32_t>(0), count,
                               detail::tables_write_fn{detail::delta_list<entry_write>(delta, offset), dst});
    };
    for (std::int32_t k = 0; k < h.pool_count; ++k) {
        const pool_section s = read_pool_section(staged, k);
        run(s.batch_writes_offset, s.batch_writes, pools[k].store);
        run(s.other_writes_offset, s.other_writes, pools[k].store);
        run(s.owner_writes_offset, s.owner_writes, pools[k].owner);
    }
    run(h.map_writes_offset, h.map_writes, maps);
}

/// Emits pool k's tables for the delta's batch from its store: CSR indptr and query offsets by
/// scan, dense rows, CSR rows (SWA rows trimmed to the window), last-page lengths, slot mapping.
/// @pre apply_delta ran for this delta.
template <class Policy>
void emit_tables(const Policy& policy, const std::byte* delta, const std::byte* staged, std::int32_t k,
                 const pool_tables_view& v) {
    const std::int32_t batch = read_delta_header(staged).batch_size;
    const row_desc* rows = detail::delta_list<row_desc>(delta, read_pool_section(staged, k).rows_offset);
    thrust::fill_n(policy, v.csr_indptr, 1, 0);
    thrust::fill_n(policy, v.slot_indptr, 1, 0);
    if (batch == 0) return;
    thrust::transform(policy, rows, rows + batch, v.csr_indptr + 1, detail::tables_csr_count_fn{v.page_size_tokens});
    thrust::inclusive_scan(policy, v.csr_indptr + 1, v.csr_indptr + 1 + batch, v.csr_indptr + 1);
    thrust::transform(policy, rows, rows + batch, v.slot_indptr + 1, detail::tables_slot_count_fn{});
    thrust::inclusive_scan(policy, v.slot_indptr + 1, v.slot_indptr + 1 + batch, v.slot_indptr + 1);
    thrust::transform(policy, rows, rows + batch, v.csr_last_page_len, detail::tables_last_page_fn{v.page_size_tokens});
    const std::int64_t cells = std::int64_t{batch} * v.max_pages;
    thrust::for_each_n(policy, thrust::counting_iterator<std::int64_t>(0), cells, detail::tables_dense_fn{rows, v});
    thrust::for_each_n(policy, thrust::counting_iterator<std::int64_t>(0), cells, detail::tables_csr_fn{rows, v});
    thrust::for_each_n(policy, thrust::counting_iterator<std::int32_t>(0), v.max_new_tokens,
                       detail::tables_slot_fn{rows, batch, v});
}

/// The SWA view of a full table: out[i] = full_to_swa[table[i]]. Applied to a full dense table it
/// gives the SWA dense table in every in-window column (padding maps to the null page), which is how
/// an engine can keep one table per request and translate on the device. Columns before the window
/// map to the null page, or, in a caching pool, to a cached SWA page: kernels never read them.
template <class Policy>
void translate_through_map(const Policy& policy, const std::int32_t* table, std::int64_t count,
                           const std::int32_t* full_to_swa, std::int32_t* out) {
    thrust::transform(policy, table, table + count, out, detail::tables_map_fn{full_to_swa});
}

}  // namespace pagedkv
