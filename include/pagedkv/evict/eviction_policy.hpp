// The eviction-policy concept: which cached page a pool reclaims when its free list is empty.
#pragma once
#include <concepts>
#include <cstdint>

#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// TensorRT-LLM's default block priority: priorities run 0 (evicted first) to 100 (kept longest).
inline constexpr std::uint8_t default_retention_priority = 35;
/// Highest retention priority.
inline constexpr std::uint8_t max_retention_priority = 100;

/// What a pool tells the policy about a page when it becomes cached. `key` is the page's content
/// key (stable across the page ids that hold the same content, so a policy may remember it after
/// eviction); `priority` is the releasing request's retention priority for that page.
struct eviction_hint {
    std::uint64_t key = 0;
    std::uint8_t priority = default_retention_priority;
    friend constexpr bool operator==(eviction_hint, eviction_hint) = default;
};

/// The set of cached pages of one pool: pages no request owns whose content is kept for reuse.
/// A pool calls, for page p of [1, N):
/// - `E(pool_size)`       : an empty set for a pool of N pages.
/// - `insert(p, hint)`    : @pre !contains(p). p's last owner let go of it; p is now evictable.
/// - `revive(p)`          : @pre contains(p). A prefix hit takes p back into use (an access).
/// - `erase(p)`           : @pre contains(p). p's content is dropped without the policy choosing it.
/// - `evict()`            : @pre size() > 0. Removes and returns the page to reclaim next.
/// - `size()`, `contains(p)` : O(1).
/// Every operation is O(1) (amortized) and allocation-free after construction. A policy may keep
/// per-page history across revive/insert cycles; `erase` and `evict` end that page's history.
template <class E>
concept eviction_policy =
    std::constructible_from<E, pool_size> && requires(E e, const E ce, page_id p, eviction_hint h) {
        { e.insert(p, h) } -> std::same_as<void>;
        { e.revive(p) } -> std::same_as<void>;
        { e.erase(p) } -> std::same_as<void>;
        { e.evict() } -> std::same_as<page_id>;
        { ce.size() } -> std::same_as<std::int32_t>;
        { ce.contains(p) } -> std::same_as<bool>;
    };

}  // namespace pagedkv
