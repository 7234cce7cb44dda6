// The default policy: no prefix cache. A pool using it frees every page its last owner releases.
#pragma once
#include <cstdint>

#include "pagedkv/core/ids.hpp"
#include "pagedkv/evict/eviction_policy.hpp"

namespace pagedkv {

/// Marks a pool without a prefix cache: the pool never keys a page, so it never calls `insert`
/// and the set stays empty (`size() == 0`). Stateless; a pool stores it in zero bytes.
struct no_eviction {
    constexpr explicit no_eviction(pool_size) noexcept {}
    constexpr void insert(page_id, eviction_hint) noexcept {}
    constexpr void revive(page_id) noexcept {}
    constexpr void erase(page_id) noexcept {}
    /// Never called: size() is 0.
    constexpr page_id evict() noexcept { return null_page; }
    constexpr std::int32_t size() const noexcept { return 0; }
    constexpr bool contains(page_id) const noexcept { return false; }
};
static_assert(eviction_policy<no_eviction>);

}  // namespace pagedkv
