// Export a prefilled request from one hybrid pool and import it into another (disaggregation).
#pragma once
#include <cstdint>
#include <vector>

#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// What the prefill side hands the decode side for one request: its committed length, its full
/// pages, and only its *in-window* SWA pages (those at indices [swa_first_live_page, end)).
/// `page_size_tokens` and `window_tokens` let the importer refuse a pool that disagrees.
struct request_export {
    std::int32_t page_size_tokens = 0;
    std::int64_t window_tokens = 0;
    std::int64_t length_tokens = 0;
    std::vector<page_id> full_pages;
    std::int64_t swa_first_live_page = 0;
    std::vector<page_id> swa_pages;
};

/// The request's page lists as they stand. Errors: unknown_request; uncommitted_tokens (only a
/// committed request can move: its in-flight K/V is not computed yet).
template <class Hybrid>
result<request_export> export_request(const Hybrid& pool, request_id r) {
    if (!pool.contains(r)) return errc::unknown_request;
    if (pool.full().length_tokens(r) != pool.full().committed_tokens(r)) return errc::uncommitted_tokens;
    const auto full = pool.full().pages(r);
    const auto first_live = pool.swa().first_live_page(r);
    const auto swa = pool.swa().pages(r).subspan(static_cast<std::size_t>(first_live));
    return request_export{pool.full().page_size_tokens(),
                          pool.swa().window_tokens(),
                          pool.full().length_tokens(r),
                          {full.begin(), full.end()},
                          first_live,
                          {swa.begin(), swa.end()}};
}

/// A new request in `pool` holding `e.length_tokens` committed tokens, with its own pages in both
/// pools (all-or-nothing), its tables and `full_to_swa` set exactly as if it had been prefilled
/// here. The caller then moves the K/V bytes (`joint_runs` + `gpu::nccl_recv_pages` or
/// `gpu::copy_pages`). Errors: page_size_mismatch, invalid_window (the pools disagree with the
/// export), out_of_full_pages, out_of_swa_pages, length_overflow.
template <class Hybrid>
result<request_id> import_request(Hybrid& pool, const request_export& e) {
    if (e.page_size_tokens != pool.full().page_size_tokens()) return errc::page_size_mismatch;
    if (e.window_tokens != pool.swa().window_tokens()) return errc::invalid_window;
    return pool.add_committed_request(e.length_tokens);
}

}  // namespace pagedkv
