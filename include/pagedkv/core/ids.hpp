// Strong id types: a page id cannot be passed where a request id or a token count is expected.
#pragma once
#include <compare>
#include <cstdint>
#include <type_traits>

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
struct request_id {
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    friend constexpr auto operator<=>(request_id, request_id) = default;
    friend constexpr bool operator==(request_id, request_id) = default;  // explicit: nvcc's host pass needs it
};

/// Number of pages in a pool, the null page included.
struct pool_size {
    std::int32_t pages = 0;
    friend constexpr auto operator<=>(pool_size, pool_size) = default;
    friend constexpr bool operator==(pool_size, pool_size) = default;  // explicit: nvcc's host pass needs it
};

}  // namespace pagedkv
