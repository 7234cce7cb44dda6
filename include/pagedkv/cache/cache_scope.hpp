// What a request declares to the prefix cache: whose content it is, and how long to keep it.
#pragma once
#include <cstdint>

#include "pagedkv/core/token_id.hpp"
#include "pagedkv/evict/eviction_policy.hpp"

namespace pagedkv {

/// The identity a request's pages are cached under, beyond their tokens. Two requests share a
/// cached page only if they agree on both fields (and on every token before it), so a tenant's
/// pages are never attached to another tenant's request, nor one adapter's KV to another's.
struct cache_scope {
    std::uint64_t tenant_salt = 0;  ///< per-tenant (or per-user) isolation; 0 = the shared scope
    std::uint64_t extra_key = 0;    ///< what else changes the KV of every page: LoRA adapter id, ...
    friend constexpr bool operator==(const cache_scope&, const cache_scope&) = default;
};

/// Retention priorities (priority LRU: 0 evicted first, 100 last) for the pages a request releases:
/// pages wholly inside the first `prefix_tokens` tokens (a system prompt) get `prefix_priority`,
/// the others `priority`. Policies without priorities ignore them.
struct retention {
    std::uint8_t priority = default_retention_priority;
    std::int64_t prefix_tokens = 0;
    std::uint8_t prefix_priority = default_retention_priority;

    /// The priority of page `index` of a request whose pages hold `page_size_tokens` tokens each.
    constexpr std::uint8_t of_page(std::int64_t index, std::int32_t page_size_tokens) const noexcept {
        return (index + 1) * page_size_tokens <= prefix_tokens ? prefix_priority : priority;
    }
    friend constexpr bool operator==(const retention&, const retention&) = default;
};

}  // namespace pagedkv
