// A device view of one pagedkv table (dense or CSR) as the attention and check kernels read it.
#pragma once
#include <cstdint>

namespace pagedkv::gpu {

/// Which of pagedkv's table formats a `page_table_view` reads (see table/dense_table.hpp and
/// table/csr_table.hpp). A value of the view, not a property of a pool: the caller passes the
/// table it emitted.
enum class table_form : std::uint8_t { dense, csr };

/// One table row as a kernel sees it: entry i holds the page of the row's tokens [i*P, (i+1)*P),
/// and the row holds `kv_tokens` tokens. Dense SWA rows count from token 0 (leading entries hold
/// the null page); CSR SWA rows count from their first listed page. Query-key distances, and so the
/// window mask, are the same in both.
struct page_row {
    const std::int32_t* pages;
    std::int32_t kv_tokens;
};

/// A non-owning view of device buffers holding one emitted table. Both forms reduce to `page_row`.
/// Build it with `dense(...)` or `csr(...)`; every pointer is a device pointer.
struct page_table_view {
    table_form form = table_form::dense;
    const std::int32_t* entries = nullptr;   ///< dense: [batch, row_pages]; csr: kv_indices
    const std::int32_t* row_info = nullptr;  ///< dense: kv length in tokens per row; csr: kv_last_page_len
    const std::int32_t* indptr = nullptr;    ///< csr only: batch + 1 offsets into `entries`
    std::int32_t row_pages = 0;              ///< dense only: entries per row

    /// A dense block table `[batch, row_pages]` plus each row's kv length in tokens (dense tables
    /// carry no lengths: FlashAttention's `cache_seqlens`).
    static constexpr page_table_view dense(const std::int32_t* table, std::int32_t row_pages,
                                           const std::int32_t* kv_len_tokens) noexcept {
        return {table_form::dense, table, kv_len_tokens, nullptr, row_pages};
    }
    /// A CSR table as `emit_csr_table` writes it (FlashInfer's paged_kv_indptr / indices / last_page_len).
    static constexpr page_table_view csr(const std::int32_t* indptr, const std::int32_t* indices,
                                         const std::int32_t* last_page_len) noexcept {
        return {table_form::csr, indices, last_page_len, indptr, 0};
    }
};

#ifdef __CUDACC__
/// Row b of the table. Lengths are clamped to what the row's entries can address (dense: the row
/// width; CSR: last_page_len in [0, P]), so a bad length can never send a kernel past its row.
__device__ inline page_row row_of(const page_table_view& t, int b, int page_size) {
    if (t.form == table_form::dense) {
        const std::int64_t cap = std::int64_t{t.row_pages} * page_size;
        const std::int64_t len = t.row_info[b];
        return {t.entries + std::int64_t{b} * t.row_pages,
                static_cast<std::int32_t>(len < 0 ? 0 : (len > cap ? cap : len))};
    }
    const std::int32_t begin = t.indptr[b];
    const std::int32_t n = t.indptr[b + 1] - begin;
    const std::int32_t last = t.row_info[b];
    return {t.entries + begin,
            n <= 0 ? 0 : (n - 1) * page_size + (last < 0 ? 0 : (last > page_size ? page_size : last))};
}
#endif

}  // namespace pagedkv::gpu
