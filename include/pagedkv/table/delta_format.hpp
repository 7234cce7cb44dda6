// The delta format: what one device-table sync copies to the device, and the capacities it is sized by.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "pagedkv/core/contract.hpp"
#include "pagedkv/core/error.hpp"

namespace pagedkv {

/// Fixed sizes of one set of device tables. The mirror and the device buffers take the same value;
/// a delta carries it, so a delta packed for other buffers is refused instead of misread.
struct table_capacity {
    std::int32_t max_requests = 0;           ///< live requests the device store holds (one store row each)
    std::int32_t max_batch = 0;              ///< rows of one step's tables
    std::int32_t max_pages_per_request = 0;  ///< columns of a store row and of a dense table row
    std::int32_t max_new_tokens = 0;         ///< slot-mapping entries of one step (tokens in flight)
    std::int32_t max_writes = 0;             ///< entries of each record list of one delta
    friend constexpr bool operator==(const table_capacity&, const table_capacity&) = default;
};

// ---- the delta format: what one sync copies to the device --------------------------------------

/// One row of this step's batch as the device reads it. The offsets are prefix sums the host
/// computes anyway while walking the batch; the device-side Thrust emission recomputes them by scan.
struct row_desc {
    std::int64_t length_tokens;
    std::int64_t committed_tokens;
    std::int32_t store_row;        ///< the store row holding this request's pages
    std::int32_t first_live_page;  ///< columns before it are emitted as the null page (SWA window)
    std::int32_t csr_begin;        ///< CSR offset of the row
    std::int32_t slot_begin;       ///< slot-mapping offset of the row
    std::int32_t write_begin;      ///< the row's store writes: batch_writes[write_begin, +write_count)
    std::int32_t write_count;
};

/// Sets element `index` of one device array to `value`.
struct entry_write {
    std::int32_t index;
    std::int32_t value;
};

/// Where one pool's lists sit in a packed delta (byte offsets from the delta's start).
struct pool_section {
    std::int32_t rows_offset;
    std::int32_t batch_writes_offset;  ///< store writes of batch rows, grouped per row
    std::int32_t batch_writes;
    std::int32_t other_writes_offset;  ///< store writes of tracked rows outside the batch
    std::int32_t other_writes;
    std::int32_t owner_writes_offset;  ///< owner[page] = store row, or -1 for a page no row holds
    std::int32_t owner_writes;
    std::int32_t reserved;
};

/// Head of a packed delta. `pool_count` pool_sections follow it (pool 0 first), then the lists,
/// 8-byte aligned, in the order of the offsets: any number of pools, each adding 32 bytes of head.
struct delta_header {
    std::int32_t total_bytes;
    std::int32_t batch_size;
    std::int32_t pool_count;             ///< 1 (one pool), or the full pool then each group's (SWA: 2)
    std::int32_t max_batch;              ///< capacity fingerprint, checked by the device sync
    std::int32_t max_pages_per_request;  ///< capacity fingerprint (fixes the store row stride)
    std::int32_t map_writes_offset;      ///< writes of the groups' mappings, laid one after the other
    std::int32_t map_writes;             ///< (entry g * full pages + f: group g's page of full page f)
    std::int32_t reserved;
};
static_assert(sizeof(delta_header) % 8 == 0 && sizeof(pool_section) % 8 == 0);

/// Bytes of a delta's head for `pool_count` pools: the header and one section per pool.
constexpr std::int64_t delta_head_bytes(std::int64_t pool_count) noexcept {
    return std::int64_t{sizeof(delta_header)} + pool_count * std::int64_t{sizeof(pool_section)};
}

/// The header of a packed delta, read from bytes the caller can read (the staging, a host copy).
inline delta_header read_delta_header(const std::byte* delta) noexcept {
    delta_header h;
    std::memcpy(&h, delta, sizeof h);
    return h;
}
/// Pool k's section of a packed delta, read the same way. @pre 0 <= k < its header's pool_count.
inline pool_section read_pool_section(const std::byte* delta, std::int32_t k) noexcept {
    pool_section s;
    std::memcpy(&s, delta + delta_head_bytes(k), sizeof s);
    return s;
}

/// Largest delta a capacity can produce: the staging and device delta buffers are this big.
constexpr std::int64_t max_delta_bytes(const table_capacity& c, int pool_count, bool with_map) noexcept {
    const std::int64_t writes = std::int64_t{c.max_writes} * std::int64_t{sizeof(entry_write)};
    const std::int64_t per_pool = std::int64_t{c.max_batch} * std::int64_t{sizeof(row_desc)} + 3 * writes;
    return delta_head_bytes(pool_count) + pool_count * per_pool + (with_map ? writes : 0);
}

/// Errors: invalid_capacity (a capacity below 1, or fewer than 1 pool), length_overflow (an index or
/// a delta offset past int32, for a delta of `pools` pools).
constexpr status check_capacity(const table_capacity& c, int pools = 2) noexcept {
    if (pools < 1) return errc::invalid_capacity;
    if (c.max_requests < 1 || c.max_batch < 1 || c.max_pages_per_request < 1 || c.max_new_tokens < 1 ||
        c.max_writes < 1)
        return errc::invalid_capacity;
    const std::int64_t cells =
        std::int64_t{c.max_pages_per_request} * (c.max_requests > c.max_batch ? c.max_requests : c.max_batch);
    // One pool's lists past int32 already overflow; under that, pools * per-pool bytes fits int64.
    if (cells > INT32_MAX || max_delta_bytes(c, 1, true) > INT32_MAX ||
        max_delta_bytes(c, pools, pools > 1) > INT32_MAX)
        return errc::length_overflow;
    return {};
}

/// One pool's part of a delta, as staged by a mirror (views into the mirror's scratch).
struct pool_delta {
    std::span<const row_desc> rows;
    std::span<const entry_write> batch_writes;
    std::span<const entry_write> other_writes;
    std::span<const entry_write> owner_writes;
};

/// Packs pool deltas (at least one, same batch) and the map writes into `out`; returns the bytes
/// used. Errors (nothing written): buffer_too_small.
/// @pre !pools.empty().
inline result<std::int32_t> pack_delta(std::span<std::byte> out, const table_capacity& cap,
                                       std::span<const pool_delta> pools, std::span<const entry_write> map) {
    PAGEDKV_ASSERT(!pools.empty(), "pack_delta: at least one pool");
    std::int64_t at = delta_head_bytes(static_cast<std::int64_t>(pools.size()));
    for (const pool_delta& d : pools)
        at += static_cast<std::int64_t>(d.rows.size_bytes() + d.batch_writes.size_bytes() +
                                        d.other_writes.size_bytes() + d.owner_writes.size_bytes());
    if (at + static_cast<std::int64_t>(map.size_bytes()) > static_cast<std::int64_t>(out.size()))
        return errc::buffer_too_small;
    delta_header h{};
    at = delta_head_bytes(static_cast<std::int64_t>(pools.size()));
    const auto place = [&at](std::size_t bytes) {
        const auto off = static_cast<std::int32_t>(at);
        at += static_cast<std::int64_t>(bytes);
        return off;
    };
    const auto put = [&out](std::int32_t off, auto span) {
        if (!span.empty()) std::memcpy(out.data() + off, span.data(), span.size_bytes());
    };
    for (std::size_t k = 0; k < pools.size(); ++k) {
        const pool_delta& d = pools[k];
        pool_section s{};
        s.rows_offset = place(d.rows.size_bytes());
        s.batch_writes_offset = place(d.batch_writes.size_bytes());
        s.batch_writes = static_cast<std::int32_t>(d.batch_writes.size());
        s.other_writes_offset = place(d.other_writes.size_bytes());
        s.other_writes = static_cast<std::int32_t>(d.other_writes.size());
        s.owner_writes_offset = place(d.owner_writes.size_bytes());
        s.owner_writes = static_cast<std::int32_t>(d.owner_writes.size());
        std::memcpy(out.data() + delta_head_bytes(static_cast<std::int64_t>(k)), &s, sizeof s);
        put(s.rows_offset, d.rows);
        put(s.batch_writes_offset, d.batch_writes);
        put(s.other_writes_offset, d.other_writes);
        put(s.owner_writes_offset, d.owner_writes);
    }
    h.map_writes_offset = place(map.size_bytes());
    h.map_writes = static_cast<std::int32_t>(map.size());
    h.total_bytes = static_cast<std::int32_t>(at);
    h.batch_size = pools.empty() ? 0 : static_cast<std::int32_t>(pools[0].rows.size());
    h.pool_count = static_cast<std::int32_t>(pools.size());
    h.max_batch = cap.max_batch;
    h.max_pages_per_request = cap.max_pages_per_request;
    std::memcpy(out.data(), &h, sizeof h);
    put(h.map_writes_offset, map);
    return h.total_bytes;
}

}  // namespace pagedkv
