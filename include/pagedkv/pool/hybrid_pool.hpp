// A request's pages in a full pool and an SWA pool, tied together by the full_to_swa mapping.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "pagedkv/pool/full_pool.hpp"
#include "pagedkv/pool/swa_pool.hpp"

namespace pagedkv {

/// Models mixing full-attention and sliding-window layers keep two pools with the same page size;
/// page i of a request holds tokens [i*P, (i+1)*P) in both. `full_to_swa()[f]` is the SWA page that
/// holds the same tokens as full page f for the SWA layers, or the SWA null page when there is none
/// (f free, or f's tokens out of the window). Every mutation updates both pools and the mapping in
/// the same call; a failing call changes neither pool nor the mapping.
template <class FullPool = full_pool<>, class SwaPool = swa_pool<>>
    requires(FullPool::kind == attention_kind::full && SwaPool::kind == attention_kind::sliding)
class hybrid_pool {
public:
    using full_pool_type = FullPool;
    using swa_pool_type = SwaPool;

    /// Errors: those of the two pools' `create`.
    static result<hybrid_pool> create(pool_size full_pages, pool_size swa_pages, std::int32_t page_size_tokens,
                                      std::int64_t window_tokens) {
        auto f = FullPool::create(full_pages, page_size_tokens);
        if (!f) return f.err();
        auto s = SwaPool::create(swa_pages, page_size_tokens, window_tokens);
        if (!s) return s.err();
        return hybrid_pool(std::move(f.value()), std::move(s.value()));
    }

    /// A new request in both pools (both hand out the same id: they are only ever mutated together).
    result<request_id> add_request() {
        const request_id r = full_.add_request().value();
        [[maybe_unused]] const request_id s = swa_.add_request().value();
        return r;
    }

    /// Reserve `n` tokens in both pools, or in neither. Errors: unknown_request, negative_length,
    /// length_overflow, out_of_full_pages, out_of_swa_pages.
    status extend(request_id r, std::int64_t n) {
        if (auto need = full_.pages_to_extend(r, n); !need) return need.err();
        if (auto need = swa_.pages_to_extend(r, n); !need) return need.err();
        const std::size_t old_pages = full_.pages(r).size();
        (void)full_.extend(r, n);  // both checked above: cannot fail
        (void)swa_.extend(r, n);
        const auto f = full_.pages(r);
        const auto s = swa_.pages(r);
        for (std::size_t i = old_pages; i < f.size(); ++i) map(f[i]) = s[i];
        return {};
    }

    /// Commit `n` of the in-flight tokens in both pools; drafts past them are dropped and the SWA
    /// window slides by the committed length. Errors: unknown_request, negative_length,
    /// commit_exceeds_reserved.
    status commit(request_id r, std::int64_t n) {
        if (!full_.contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const std::int64_t committed = full_.committed_tokens(r);
        if (n > full_.length_tokens(r) - committed) return errc::commit_exceeds_reserved;
        unmap(r, committed + n, committed + n);
        (void)full_.commit(r, n);
        (void)swa_.commit(r, n);
        return {};
    }

    /// Roll back to `n` tokens in both pools. Errors: those of `paged_pool::truncate`.
    status truncate(request_id r, std::int64_t n) {
        if (auto s = swa_.check_truncate(r, n); !s) return s;  // full's checks are a subset
        const std::int64_t committed = full_.committed_tokens(r);
        unmap(r, n, committed < n ? committed : n);
        (void)full_.truncate(r, n);
        (void)swa_.truncate(r, n);
        return {};
    }

    /// Free the request in both pools and clear its mapping entries. Errors: unknown_request.
    status free_request(request_id r) {
        if (!full_.contains(r)) return errc::unknown_request;
        for (page_id f : full_.pages(r)) map(f) = null_page;
        (void)full_.free_request(r);
        (void)swa_.free_request(r);
        return {};
    }

    /// The typed views: `full()` can only emit full-layer tables and `swa()` only SWA-layer tables.
    const FullPool& full() const noexcept { return full_; }
    const SwaPool& swa() const noexcept { return swa_; }
    bool contains(request_id r) const noexcept { return full_.contains(r); }

    /// Indexed by full page; every entry is an SWA page index in [0, swa().size()).
    std::span<const page_id> full_to_swa() const noexcept { return full_to_swa_; }

    /// The SWA KV slot of full slot `page * P + offset`: the same offset in the mapped SWA page, or
    /// in the SWA null page when the token is out of the window (a write there is never read).
    /// @pre 0 <= full_slot < full().size().pages * P
    std::int64_t swa_slot(std::int64_t full_slot) const noexcept {
        const std::int32_t p = full_.page_size_tokens();
        return std::int64_t{full_to_swa_[static_cast<std::size_t>(full_slot / p)].value} * p + full_slot % p;
    }

    /// Both pools' invariants plus the mapping's: for every full page f of request r at index i,
    /// full_to_swa[f] == swa.pages(r)[i]; every other entry is the null page. Hence every SWA page
    /// of r is reached from exactly one full page of r, and every entry is below the SWA pool size.
    status check_invariants() const {
        if (auto s = full_.check_invariants(); !s) return s;
        if (auto s = swa_.check_invariants(); !s) return s;
        std::vector<std::uint8_t> mapped(full_to_swa_.size(), 0);
        status bad{};
        full_.for_each_request([&](request_id r) {
            if (!bad.ok()) return;
            if (!swa_.contains(r)) { bad = error{errc::invariant_violated, "request missing from SWA pool"}; return; }
            if (full_.length_tokens(r) != swa_.length_tokens(r) ||
                full_.committed_tokens(r) != swa_.committed_tokens(r)) {
                bad = error{errc::invariant_violated, "pools disagree on a request's length"};
                return;
            }
            const auto f = full_.pages(r);
            const auto s = swa_.pages(r);
            for (std::size_t i = 0; i < f.size(); ++i) {
                if (full_to_swa_[static_cast<std::size_t>(f[i].value)] != s[i]) {
                    bad = error{errc::invariant_violated, "full_to_swa disagrees with the SWA page list"};
                    return;
                }
                mapped[static_cast<std::size_t>(f[i].value)] = 1;
            }
        });
        if (!bad.ok()) return bad;
        if (full_.live_requests() != swa_.live_requests())
            return error{errc::invariant_violated, "pools disagree on live requests"};
        for (std::size_t f = 0; f < full_to_swa_.size(); ++f) {
            if (full_to_swa_[f].value < 0 || full_to_swa_[f].value >= swa_.size().pages)
                return error{errc::invariant_violated, "full_to_swa entry out of SWA pool range"};
            if (!mapped[f] && full_to_swa_[f] != null_page)
                return error{errc::invariant_violated, "stale full_to_swa entry for an unowned full page"};
        }
        return {};
    }

private:
    hybrid_pool(FullPool f, SwaPool s)
        : full_(std::move(f)), swa_(std::move(s)),
          full_to_swa_(static_cast<std::size_t>(full_.size().pages), null_page) {}

    page_id& map(page_id full_page) noexcept { return full_to_swa_[static_cast<std::size_t>(full_page.value)]; }

    // Clears the entries that shrinking to `length` tokens with `committed` committed tokens will
    // drop: tail pages past the new length, and SWA pages that fall out of the window.
    void unmap(request_id r, std::int64_t length, std::int64_t committed) noexcept {
        const auto f = full_.pages(r);
        const auto keep = static_cast<std::size_t>(pages_for_tokens(length, full_.page_size_tokens()));
        for (std::size_t i = keep; i < f.size(); ++i) map(f[i]) = null_page;
        const auto live = static_cast<std::size_t>(swa_.live_from(committed));
        for (auto i = static_cast<std::size_t>(swa_.first_live_page(r)); i < live && i < keep; ++i)
            map(f[i]) = null_page;
    }

    FullPool full_;
    SwaPool swa_;
    // Invariant: see check_invariants. The one home of "which SWA page holds full page f's tokens";
    // a request's SWA page list is the same fact, written by the same calls.
    std::vector<page_id> full_to_swa_;
};

}  // namespace pagedkv
