// Slot mapping for the tokens in flight: slot = page * P + offset (vLLM style).
#pragma once
#include <algorithm>
#include <cstdint>
#include <span>

#include "pagedkv/core/error.hpp"
#include "pagedkv/table/page_table_source.hpp"

namespace pagedkv {

/// Tokens a request has in flight (reserved by extend, not yet committed): their KV is written by
/// this step's forward pass.
template <page_table_source S>
std::int64_t tokens_in_flight(const S& src, request_id r) noexcept {
    return src.length_tokens(r) - src.committed_tokens(r);
}

/// Writes, for each request of the batch in order, the KV slot of each in-flight token
/// t in [committed, length): pages(r)[t / P] * P + t % P. Returns the number of slots written.
/// Errors (nothing written): unknown_request, buffer_too_small.
template <page_table_source S>
result<std::int64_t> emit_slot_mapping(const S& src, std::span<const request_id> batch, std::span<std::int64_t> out) {
    std::int64_t total = 0;
    for (request_id r : batch) {
        if (!src.contains(r)) return errc::unknown_request;
        total += tokens_in_flight(src, r);
    }
    if (total > static_cast<std::int64_t>(out.size())) return errc::buffer_too_small;
    std::int64_t* slot = out.data();
    for (request_id r : batch) {
        const auto pages = src.pages(r);
        const table_row row{src.length_tokens(r), src.first_live_page(r), src.page_size_tokens()};
        // A run of tokens inside one page has consecutive slots: one division per page, not per token.
        for (std::int64_t t = src.committed_tokens(r); t < row.length_tokens;) {
            const std::int64_t col = row.page_of(t), offset = t - col * row.page_size;  // t % P, no second division
            const std::int64_t first =
                std::int64_t{pages[static_cast<std::size_t>(col)].value} * row.page_size + offset;
            const std::int64_t run =
                std::min(row.page_size - offset, row.length_tokens - t);  // first == row.slot_of(page, t)
            for (std::int64_t k = 0; k < run; ++k) *slot++ = first + k;
            t += run;
        }
    }
    return total;
}

}  // namespace pagedkv
