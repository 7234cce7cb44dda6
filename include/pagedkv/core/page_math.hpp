// Token/page arithmetic shared by every pool and table. One definition of "which page holds a token".
#pragma once
#include <cstdint>

namespace pagedkv {

/// The attention a pool serves. Part of a pool's *type* (never a runtime flag that can go stale).
enum class attention_kind : std::uint8_t { full, sliding };

/// Pages needed to hold `tokens` tokens: ceil(tokens / page_size).
constexpr std::int64_t pages_for_tokens(std::int64_t tokens, std::int32_t page_size) noexcept {
    return (tokens + page_size - 1) / page_size;
}

/// Leading pages no future query can attend, for committed length L and window W: the next query
/// is at p >= L and sees keys [p - W + 1, p], so page i is dead when (i + 1) * P - 1 < L - W + 1.
constexpr std::int64_t dead_pages(std::int64_t committed_tokens, std::int64_t window_tokens,
                                  std::int32_t page_size) noexcept {
    const std::int64_t first_visible = committed_tokens - window_tokens + 1;
    return first_visible <= 0 ? 0 : first_visible / page_size;
}

/// Largest token count whose pages an int32 table can index, with pages of P tokens.
constexpr std::int64_t max_tokens_per_request(std::int32_t page_size) noexcept {
    return std::int64_t{INT32_MAX} * page_size;
}

}  // namespace pagedkv
