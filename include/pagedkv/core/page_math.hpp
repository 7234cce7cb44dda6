// Token/page arithmetic shared by every pool, table emitter and kernel: one definition of "which
// page holds a token", usable from host and device code.
#pragma once
#include <cstdint>

#include "pagedkv/core/attention_kind.hpp"
#include "pagedkv/core/attention_rule.hpp"
#include "pagedkv/core/host_device.hpp"

namespace pagedkv {

/// Pages needed to hold `tokens` tokens: ceil(tokens / page_size).
PAGEDKV_HD constexpr std::int64_t pages_for_tokens(std::int64_t tokens, std::int32_t page_size) noexcept {
    return (tokens + page_size - 1) / page_size;
}

/// Leading pages no future query can attend, for committed length L and window W: the sliding
/// rule's dead_pages (attention_rule.hpp owns the derivation), kept for callers holding a plain W.
PAGEDKV_HD constexpr std::int64_t dead_pages(std::int64_t committed_tokens, std::int64_t window_tokens,
                                             std::int32_t page_size) noexcept {
    return dead_pages(sliding_window{window_tokens}, committed_tokens, page_size);
}

/// Largest token count whose pages an int32 table can index, with pages of P tokens.
PAGEDKV_HD constexpr std::int64_t max_tokens_per_request(std::int32_t page_size) noexcept {
    return std::int64_t{INT32_MAX} * page_size;
}

/// One request's row in one pool, as every table format sees it: `length_tokens` tokens in pages
/// of `page_size`, the entries before `first_live_page` released by the window (null). Every
/// emitter (host, Thrust, fused kernel) and the hybrid's slot translation derive their entries
/// from these members, so no two of them can disagree on an edge (an SWA row the window emptied).
struct table_row {
    std::int64_t length_tokens = 0;
    std::int64_t first_live_page = 0;
    std::int32_t page_size = 1;

    /// Entries of the row, null ones included: ceil(length / P).
    PAGEDKV_HD constexpr std::int64_t pages() const noexcept { return pages_for_tokens(length_tokens, page_size); }
    /// Entries a CSR row lists: the in-window ones [first_live_page, pages()).
    PAGEDKV_HD constexpr std::int64_t csr_count() const noexcept { return pages() - first_live_page; }
    /// Whether column `col` of a dense row holds a live page (else the null page).
    PAGEDKV_HD constexpr bool live(std::int64_t col) const noexcept { return col >= first_live_page && col < pages(); }
    /// Tokens in the last listed page, FlashInfer's kv_last_page_len; 0 for a row that lists no
    /// page (no tokens, or an SWA row whose every page the window released).
    PAGEDKV_HD constexpr std::int32_t last_page_len() const noexcept {
        return csr_count() <= 0
                   ? 0
                   : static_cast<std::int32_t>(length_tokens - (length_tokens - 1) / page_size * page_size);
    }
    /// Column of the page holding token t.
    PAGEDKV_HD constexpr std::int64_t page_of(std::int64_t token) const noexcept { return token / page_size; }
    /// KV slot of token t when its page is `page`: page * P + t % P.
    PAGEDKV_HD constexpr std::int64_t slot_of(std::int32_t page, std::int64_t token) const noexcept {
        return std::int64_t{page} * page_size + token % page_size;
    }
};

}  // namespace pagedkv
