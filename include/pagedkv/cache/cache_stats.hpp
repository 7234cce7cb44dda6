// Per-pool prefix-cache counters.
#pragma once
#include <cstdint>

namespace pagedkv {

/// Counters a caching pool keeps from its creation (never reset, never allocated).
struct cache_stats {
    std::int64_t lookups = 0;         ///< prefix attaches (a hit of 0 tokens counts)
    std::int64_t queried_tokens = 0;  ///< prompt tokens those attaches looked up
    std::int64_t hit_tokens = 0;      ///< tokens they attached from the cache
    std::int64_t stored_pages = 0;    ///< pages given a content key
    std::int64_t evicted_pages = 0;   ///< cached pages whose content was dropped: evicted, dropped,
                                      ///< reset, or gone with a page above them in the index

    /// hit_tokens / queried_tokens, 0 before any query.
    constexpr double hit_rate() const noexcept {
        return queried_tokens == 0 ? 0.0 : static_cast<double>(hit_tokens) / static_cast<double>(queried_tokens);
    }
    friend constexpr bool operator==(const cache_stats&, const cache_stats&) = default;
};

}  // namespace pagedkv
