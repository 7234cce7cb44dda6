// FullView / SwaView: page lists, occupancy, stats and the table emitters of one pool.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/tuple.h>

#include <algorithm>
#include <optional>

#include "views.hpp"

namespace pagedkv::python {
namespace {

template <class Pool>
request_id live(const Pool& pool, std::uint64_t r, const char* call) {
    const request_id id = unpack(r);
    if (!pool.contains(id)) raise(error{errc::unknown_request}, call);
    return id;
}

template <class Pool>
page_id in_range(const Pool& pool, std::int32_t p) {
    if (p < 0 || p >= pool.size().pages)
        throw nb::index_error(
            ("page " + std::to_string(p) + " is outside the pool's [0, " + std::to_string(pool.size().pages) + ")")
                .c_str());
    return page_id{p};
}

// The emitters write only after their checks pass; seq_lens is checked before them for the same rule.
template <class Pool>
void emit_dense(const Pool& pool, std::span<const request_id> batch, std::span<std::int32_t> table,
                std::int64_t row_pages, std::optional<std::span<std::int32_t>> seq_lens) {
    if (seq_lens && seq_lens->size() < batch.size()) raise(error{errc::buffer_too_small}, "emit_dense");
    check(emit_dense_table(pool, batch, table, row_pages), "emit_dense");
    if (seq_lens)
        for (std::size_t b = 0; b < batch.size(); ++b)
            (*seq_lens)[b] = static_cast<std::int32_t>(pool.length_tokens(batch[b]));
}

template <class Pool>
std::int64_t csr_nnz(const Pool& pool, std::span<const request_id> batch) {
    std::int64_t nnz = 0;
    for (request_id r : batch) {
        if (!pool.contains(r)) raise(error{errc::unknown_request}, "csr_nnz");
        nnz += static_cast<std::int64_t>(csr_row(pool, r).size());
    }
    return nnz;
}

template <class Pool>
std::int64_t slot_count(const Pool& pool, std::span<const request_id> batch) {
    std::int64_t total = 0;
    for (request_id r : batch) {
        if (!pool.contains(r)) raise(error{errc::unknown_request}, "slot_count");
        total += tokens_in_flight(pool, r);
    }
    return total;
}

template <class Pool>
std::int64_t row_pages_needed(const Pool& pool, std::span<const request_id> batch) {
    std::int64_t row = 0;
    for (request_id r : batch) {
        if (!pool.contains(r)) raise(error{errc::unknown_request}, "dense");
        row = std::max<std::int64_t>(row, static_cast<std::int64_t>(pool.pages(r).size()));
    }
    return row;
}

template <attention_kind Kind>
void bind_view(nb::module_& m, const char* name, const char* doc) {
    using view = pool_view<Kind>;
    const auto arg_ids = nb::arg("requests");
    nb::class_<view>(m, name, doc)
        .def_prop_ro(
            "kind", [](const view&) { return Kind; }, "The attention kind of every table this view emits.")
        .def_prop_ro(
            "page_size", [](const view& v) { return v.visit([](auto& p) { return p.page_size_tokens(); }); },
            "Tokens per page (P).")
        .def_prop_ro(
            "window", [](const view& v) { return v.visit([](auto& p) { return p.window_tokens(); }); },
            "Window W in tokens (0 for a full-attention pool).")
        .def_prop_ro(
            "num_pages", [](const view& v) { return v.visit([](auto& p) { return p.size().pages; }); },
            "Pages in the pool, the null page 0 included.")
        .def_prop_ro(
            "free_pages", [](const view& v) { return v.visit([](auto& p) { return p.free_pages(); }); },
            "Pages on the free list.")
        .def_prop_ro(
            "cached_pages", [](const view& v) { return v.visit([](auto& p) { return p.cached_pages(); }); },
            "Pages no request owns whose content is kept for reuse (0 without a cache).")
        .def_prop_ro(
            "available_pages", [](const view& v) { return v.visit([](auto& p) { return p.available_pages(); }); },
            "Pages an allocation can take: free, then cached.")
        .def_prop_ro(
            "used_pages", [](const view& v) { return v.visit([](auto& p) { return p.used_pages(); }); },
            "Pages owned by at least one request.")
        .def_prop_ro(
            "live_requests", [](const view& v) { return v.visit([](auto& p) { return p.live_requests(); }); },
            "Requests added and not yet freed.")
        .def_prop_ro(
            "stats", [](const view& v) { return v.visit([](auto& p) { return p.stats(); }); },
            "This pool's prefix-cache counters (a copy).")
        .def(
            "contains",
            [](const view& v, std::uint64_t r) { return v.visit([&](auto& p) { return p.contains(unpack(r)); }); },
            nb::arg("request"), "Whether the request is live.")
        .def("__contains__",
             [](const view& v, std::uint64_t r) { return v.visit([&](auto& p) { return p.contains(unpack(r)); }); })
        .def(
            "length",
            [](const view& v, std::uint64_t r) {
                return v.visit([&](auto& p) { return p.length_tokens(live(p, r, "length")); });
            },
            nb::arg("request"), "Tokens the request holds, in flight included.")
        .def(
            "committed",
            [](const view& v, std::uint64_t r) {
                return v.visit([&](auto& p) { return p.committed_tokens(live(p, r, "committed")); });
            },
            nb::arg("request"), "Committed tokens of the request.")
        .def(
            "tokens_in_flight",
            [](const view& v, std::uint64_t r) {
                return v.visit([&](auto& p) { return tokens_in_flight(p, live(p, r, "tokens_in_flight")); });
            },
            nb::arg("request"), "Tokens reserved by extend and not yet committed.")
        .def(
            "first_live_page",
            [](const view& v, std::uint64_t r) {
                return v.visit([&](auto& p) { return p.first_live_page(live(p, r, "first_live_page")); });
            },
            nb::arg("request"), "Index of the first page that is not the null page (0 for full pools).")
        .def(
            "pages_held",
            [](const view& v, std::uint64_t r) {
                return v.visit([&](auto& p) { return p.pages_held(live(p, r, "pages_held")); });
            },
            nb::arg("request"), "Pages the request holds (null entries excluded).")
        .def(
            "pages",
            [](const view& v, std::uint64_t r) {
                return v.visit([&](auto& p) { return copy_to_numpy(p.pages(live(p, r, "pages"))); });
            },
            nb::arg("request"),
            "A copy of the request's page list: entry i holds tokens [i*P, (i+1)*P); the null page 0 "
            "before first_live_page.")
        .def(
            "ref_count",
            [](const view& v, std::int32_t page) {
                return v.visit([&](auto& p) { return p.ref_count(in_range(p, page)); });
            },
            nb::arg("page"), "Requests holding the page.")
        .def(
            "is_cached",
            [](const view& v, std::int32_t page) {
                return v.visit([&](auto& p) { return p.is_cached(in_range(p, page)); });
            },
            nb::arg("page"), "Whether the page is in the prefix cache (owned by no request).")
        .def(
            "emit_csr",
            [](const view& v, const ids_in& requests, i32_out kv_indptr, i32_out kv_indices, i32_out kv_last_page_len) {
                const auto batch = v.scratch->ids(requests);
                return v.visit([&](auto& p) {
                    return value_or_raise(
                        emit_csr_table(p, batch,
                                       csr_table_out{{kv_indptr.data(), kv_indptr.shape(0)},
                                                     {kv_indices.data(), kv_indices.shape(0)},
                                                     {kv_last_page_len.data(), kv_last_page_len.shape(0)}}),
                        "emit_csr");
                });
            },
            arg_ids, nb::arg("kv_indptr").noconvert(), nb::arg("kv_indices").noconvert(),
            nb::arg("kv_last_page_len").noconvert(),
            "Writes the batch's CSR table (FlashInfer's kv_indptr[B+1], kv_indices[nnz], kv_last_page_len[B]) "
            "into the caller's int32 buffers; returns nnz. SWA rows list only the in-window pages. Raises "
            "UnknownRequestError or BufferTooSmallError with nothing written.")
        .def(
            "emit_dense",
            [](const view& v, const ids_in& requests, i32_table_out block_table, std::optional<i32_out> seq_lens) {
                const auto batch = v.scratch->ids(requests);
                std::optional<std::span<std::int32_t>> lens;
                if (seq_lens) lens = std::span<std::int32_t>(seq_lens->data(), seq_lens->shape(0));
                v.visit([&](auto& p) {
                    emit_dense(p, batch, {block_table.data(), block_table.shape(0) * block_table.shape(1)},
                               static_cast<std::int64_t>(block_table.shape(1)), lens);
                });
            },
            arg_ids, nb::arg("block_table").noconvert(), nb::arg("seq_lens").noconvert() = nb::none(),
            "Writes the batch's dense block table (row b = the request's pages, then null pages) into the "
            "caller's int32 [rows >= B, row_pages] buffer, and its lengths in tokens into seq_lens[B] when "
            "given (FlashAttention's cache_seqlens, TensorRT-LLM). Raises UnknownRequestError, "
            "BufferTooSmallError or RowTooShortError with nothing written.")
        .def(
            "emit_slot_mapping",
            [](const view& v, const ids_in& requests, i64_out slot_mapping) {
                const auto batch = v.scratch->ids(requests);
                return v.visit([&](auto& p) {
                    return value_or_raise(emit_slot_mapping(p, batch, {slot_mapping.data(), slot_mapping.shape(0)}),
                                          "emit_slot_mapping");
                });
            },
            arg_ids, nb::arg("slot_mapping").noconvert(),
            "Writes the KV slot (page * P + offset) of every in-flight token of the batch, request by "
            "request, into the caller's int64 buffer (vLLM's slot_mapping); returns the count. Raises "
            "UnknownRequestError or BufferTooSmallError with nothing written.")
        .def(
            "csr_nnz",
            [](const view& v, const ids_in& requests) {
                const auto batch = v.scratch->ids(requests);
                return v.visit([&](auto& p) { return csr_nnz(p, batch); });
            },
            arg_ids, "Entries emit_csr would write into kv_indices.")
        .def(
            "slot_count",
            [](const view& v, const ids_in& requests) {
                const auto batch = v.scratch->ids(requests);
                return v.visit([&](auto& p) { return slot_count(p, batch); });
            },
            arg_ids, "Slots emit_slot_mapping would write (the batch's tokens in flight).")
        .def(
            "csr",
            [](const view& v, const ids_in& requests) {
                const auto batch = v.scratch->ids(requests);
                return v.visit([&](auto& p) {
                    auto indptr = new_array<i32_np>({batch.size() + 1});
                    auto indices = new_array<i32_np>({static_cast<std::size_t>(csr_nnz(p, batch))});
                    auto last = new_array<i32_np>({batch.size()});
                    (void)value_or_raise(emit_csr_table(p, batch,
                                                        csr_table_out{{indptr.data(), indptr.shape(0)},
                                                                      {indices.data(), indices.shape(0)},
                                                                      {last.data(), last.shape(0)}}),
                                         "csr");
                    return std::make_tuple(indptr, indices, last);
                });
            },
            arg_ids, "emit_csr into new arrays: (kv_indptr, kv_indices, kv_last_page_len).")
        .def(
            "dense",
            [](const view& v, const ids_in& requests, std::optional<std::int64_t> row_pages) {
                const auto batch = v.scratch->ids(requests);
                return v.visit([&](auto& p) {
                    const std::int64_t row = row_pages ? *row_pages : row_pages_needed(p, batch);
                    if (row < 0) raise(error{errc::buffer_too_small}, "dense");
                    auto table = new_array<i32_table_np>({batch.size(), static_cast<std::size_t>(row)});
                    auto lens = new_array<i32_np>({batch.size()});
                    emit_dense(p, batch, {table.data(), table.size()}, row,
                               std::span<std::int32_t>(lens.data(), lens.size()));
                    return std::make_tuple(table, lens);
                });
            },
            arg_ids, nb::arg("row_pages") = nb::none(),
            "emit_dense into new arrays: (block_table [B, row_pages], seq_lens [B]); row_pages defaults to "
            "the longest page list of the batch.")
        .def(
            "slot_mapping",
            [](const view& v, const ids_in& requests) {
                const auto batch = v.scratch->ids(requests);
                return v.visit([&](auto& p) {
                    auto out = new_array<i64_np>({static_cast<std::size_t>(slot_count(p, batch))});
                    (void)value_or_raise(emit_slot_mapping(p, batch, {out.data(), out.shape(0)}), "slot_mapping");
                    return out;
                });
            },
            arg_ids, "emit_slot_mapping into a new int64 array.");
}

}  // namespace

void bind_views(nb::module_& m) {
    bind_view<attention_kind::full>(
        m, "FullView", "The full-attention pool of a pool object (`pool.full`): page lists and full-layer tables.");
    bind_view<attention_kind::sliding>(
        m, "SwaView", "The sliding-window pool of a pool object (`pool.swa`): page lists and SWA-layer tables.");
}

}  // namespace pagedkv::python
