// Dense block table [batch, row_pages] of int32, padded with the null page (FlashAttention / TRT-LLM).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>

#include "pagedkv/core/error.hpp"
#include "pagedkv/table/page_table_source.hpp"

namespace pagedkv {

/// Row b holds `src.pages(batch[b])` then null pages up to `row_pages`. For an SWA view the row is
/// full width: entries before the window hold the null page, so column i is always token page i.
/// Errors (nothing written): unknown_request, buffer_too_small (out.size() < batch * row_pages),
/// row_too_short (a request holds more pages than a row).
template <page_table_source S>
status emit_dense_table(const S& src, std::span<const request_id> batch, std::span<std::int32_t> out,
                        std::int64_t row_pages) {
    if (row_pages < 0 || static_cast<std::int64_t>(out.size()) / (row_pages ? row_pages : 1) <
                             static_cast<std::int64_t>(batch.size()) * (row_pages ? 1 : 0))
        return errc::buffer_too_small;
    for (request_id r : batch) {
        if (!src.contains(r)) return errc::unknown_request;
        if (static_cast<std::int64_t>(src.pages(r).size()) > row_pages) return errc::row_too_short;
    }
    std::int32_t* row = out.data();
    for (request_id r : batch) {
        const auto pages = src.pages(r);
        if (!pages.empty()) std::memcpy(row, pages.data(), pages.size() * sizeof(std::int32_t));  // page_id is an int32
        std::fill(row + pages.size(), row + row_pages, null_page.value);
        row += row_pages;
    }
    return {};
}

}  // namespace pagedkv
