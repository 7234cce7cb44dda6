// Strong id types: a page id cannot be passed where a request id or a token count is expected.
#pragma once
#include <compare>
#include <cstdint>
#include <type_traits>

#include "pagedkv/core/error.hpp"

namespace pagedkv {

/// Index of a page inside one pool. Table entries are int32 (what attention kernels read), so a
/// pool holds at most INT32_MAX pages.
struct page_id {
    std::int32_t value = 0;
    friend constexpr auto operator<=>(page_id, page_id) = default;
    friend constexpr bool operator==(page_id, page_id) = default;  // explicit: nvcc's host pass needs it
};

// Tables copy page lists to int32 arrays with memcpy: page_id must be exactly an int32.
static_assert(sizeof(page_id) == sizeof(std::int32_t) && std::is_trivially_copyable_v<page_id>);

/// Page 0 of every pool: never owned by a request; every table entry that points nowhere holds it,
/// so even a kernel that prefetches past the window stays in range.
inline constexpr page_id null_page{0};

/// A request handle. `slot` is dense (reused after free); `generation` changes on every reuse,
/// so a handle kept after `free_request` is rejected instead of reaching the slot's next owner.
/// A default-constructed handle is `no_request`.
struct request_id {
    std::uint32_t slot = UINT32_MAX;
    std::uint32_t generation = UINT32_MAX;
    friend constexpr auto operator<=>(request_id, request_id) = default;
    friend constexpr bool operator==(request_id, request_id) = default;  // explicit: nvcc's host pass needs it
};

/// "No request": the handle no pool ever issues (pools stop at slot UINT32_MAX - 1), for engines'
/// empty table rows and unset fields. Every call given it returns unknown_request.
inline constexpr request_id no_request{};

/// Number of pages in a pool, the null page included: an int32, since table entries are int32.
/// Only an int32 converts (no narrowing: a wider or unsigned count does not compile); a count
/// computed in a wider type goes through `pool_size::from_count`, which refuses what does not fit.
struct pool_size {
    std::int32_t pages = 0;

    constexpr pool_size() noexcept = default;
    constexpr explicit pool_size(std::int32_t page_count) noexcept : pages(page_count) {}
    template <class T>
        requires(!std::is_same_v<T, std::int32_t>)
    pool_size(T) = delete;  // int64, size_t, unsigned, double: convert explicitly or use from_count

    /// A pool size from a wide count. Errors: invalid_pool_size (below 2 or above INT32_MAX).
    static constexpr result<pool_size> from_count(std::int64_t page_count) noexcept {
        if (page_count < 2 || page_count > INT32_MAX) return errc::invalid_pool_size;
        return pool_size{static_cast<std::int32_t>(page_count)};
    }

    friend constexpr auto operator<=>(pool_size, pool_size) = default;
    friend constexpr bool operator==(pool_size, pool_size) = default;  // explicit: nvcc's host pass needs it
};

}  // namespace pagedkv
