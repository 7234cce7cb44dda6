// CSR page table: kv_indptr[B+1], kv_indices[nnz], kv_last_page_len[B] (FlashInfer style).
#pragma once
#include <cstdint>
#include <cstring>
#include <span>

#include "pagedkv/core/error.hpp"
#include "pagedkv/table/page_table_source.hpp"

namespace pagedkv {

/// Caller-owned output buffers for `emit_csr_table`.
struct csr_table_out {
    std::span<std::int32_t> indptr;         ///< batch + 1 entries
    std::span<std::int32_t> indices;        ///< capacity for every emitted page
    std::span<std::int32_t> last_page_len;  ///< batch entries
};

/// The pages a CSR row lists for request r: all of them for full views; for SWA views only the
/// in-window pages [first_live_page, end) (the released prefix is trimmed, not padded).
template <page_table_source S>
std::span<const page_id> csr_row(const S& src, request_id r) noexcept {
    return src.pages(r).subspan(static_cast<std::size_t>(src.first_live_page(r)));
}

/// Row b lists `csr_row(src, batch[b])`; last_page_len[b] is the tokens in the row's last page
/// (`table_row::last_page_len`: 0 for a row that lists no page). The kv length a kernel derives, (pages - 1) * P +
/// last_page_len, counts tokens from the first listed page; for SWA rows it starts at first_live_page * P, which leaves
/// every query-key distance unchanged, so `window_left = W - 1` masks exactly the same keys.
/// Returns nnz. Errors (nothing written): unknown_request, buffer_too_small.
template <page_table_source S>
result<std::int32_t> emit_csr_table(const S& src, std::span<const request_id> batch, csr_table_out out) {
    if (out.indptr.size() < batch.size() + 1 || out.last_page_len.size() < batch.size()) return errc::buffer_too_small;
    std::int64_t nnz = 0;
    for (request_id r : batch) {
        if (!src.contains(r)) return errc::unknown_request;
        nnz += static_cast<std::int64_t>(csr_row(src, r).size());
    }
    if (nnz > static_cast<std::int64_t>(out.indices.size())) return errc::buffer_too_small;
    if (nnz > INT32_MAX) return errc::length_overflow;
    std::int32_t at = 0;
    out.indptr[0] = 0;
    for (std::size_t b = 0; b < batch.size(); ++b) {
        const request_id r = batch[b];
        const auto row = csr_row(src, r);
        if (!row.empty())  // memcpy from an empty span's null data() is UB even for 0 bytes
            std::memcpy(out.indices.data() + at, row.data(), row.size() * sizeof(std::int32_t));
        at += static_cast<std::int32_t>(row.size());
        out.indptr[b + 1] = at;
        out.last_page_len[b] =
            table_row{src.length_tokens(r), src.first_live_page(r), src.page_size_tokens()}.last_page_len();
    }
    return static_cast<std::int32_t>(nnz);
}

}  // namespace pagedkv
