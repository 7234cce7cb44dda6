// A request's pages in a full pool and an SWA pool, tied together by the full_to_swa mapping.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "pagedkv/core/contract.hpp"
#include "pagedkv/pool/full_pool.hpp"
#include "pagedkv/pool/swa_pool.hpp"

namespace pagedkv {

/// Models mixing full-attention and sliding-window layers keep two pools with the same page size;
/// page i of a request holds tokens [i*P, (i+1)*P) in both. `full_to_swa()[f]` is the SWA page that
/// holds the same tokens as full page f for the SWA layers, or the SWA null page when there is none
/// (f free, or f's SWA KV released or evicted). Same tokens, same KV: the SWA page is a property of
/// f, so a request's SWA entry i is either the null page (released by its window) or exactly
/// full_to_swa[F[i]], also when f is shared. Every mutation updates both pools and the mapping in
/// the same call; a failing call changes neither pool nor the mapping.
///
/// With caching pools on both sides (`caching_hybrid_pool<lru>`), a full page keeps its SWA page
/// while it has a content key: an SWA page no request holds stays cached, still mapped, and may be
/// evicted on its own (full_to_swa[f] becomes null: a tombstone) while f stays cached. A hit of H
/// tokens needs the full pages of [0, H) and the SWA pages of [H - W + 1, H) (see attach_prefix).
///
/// The mutations take an optional listener `outer` (a class derived from no_hooks; the host tier,
/// pool/tiered_hybrid_pool.hpp) told, inside the call, of what it may define:
/// - `full_losing(f)`: cached full page f is about to lose its content, still keyed, its SWA page
///   (`full_to_swa()[f]`, or null) still mapped and cached;
/// - `full_freed(f)`: f went back to the free list;
/// - `swa_released(s)`: SWA page s left its last request's list or the cache (freed, or evicted:
///   a tombstone), still mapped.
/// With `no_hooks` (the default) these compile to nothing.
template <class FullPool = full_pool<>, class SwaPool = swa_pool<>>
    requires(FullPool::kind == attention_kind::full && SwaPool::kind == attention_kind::sliding)
class hybrid_pool {
public:
    using full_pool_type = FullPool;
    using swa_pool_type = SwaPool;
    /// Prefix reuse needs the full pool's index and an SWA pool that can share and cache pages.
    static constexpr bool caching = FullPool::indexed && SwaPool::caching;

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
    /// A new request cached under `scope`, released with priorities `keep`.
    result<request_id> add_request(cache_scope scope, retention keep = {})
        requires caching
    {
        const request_id r = full_.add_request(scope, keep).value();
        [[maybe_unused]] const request_id s = swa_.add_request(scope, keep).value();
        return r;
    }

    /// Reserve `n` tokens in both pools, or in neither; each pool evicts cached pages when its free
    /// list runs out. Errors: unknown_request, negative_length, length_overflow, out_of_full_pages,
    /// out_of_swa_pages.
    template <pool_hooks Outer = no_hooks>
    status extend(request_id r, std::int64_t n, Outer&& outer = {}) {
        if (auto need = full_.pages_to_extend(r, n); !need) return need.err();
        if (auto need = swa_.pages_to_extend(r, n); !need) return need.err();
        const std::size_t old_pages = full_.pages(r).size();
        (void)full_.extend(r, n, full_with(outer));  // both checked above: cannot fail
        (void)swa_.extend(r, n, swa_with(swa_evictions::reported, outer));
        const auto f = full_.pages(r);
        const auto s = swa_.pages(r);
        for (std::size_t i = old_pages; i < f.size(); ++i) link(f[i], s[i]);
        return {};
    }

    /// Commit `n` of the in-flight tokens in both pools; drafts past them are dropped and the SWA
    /// window slides by the committed length. Errors: unknown_request, negative_length,
    /// commit_exceeds_reserved.
    template <pool_hooks Outer = no_hooks>
    status commit(request_id r, std::int64_t n, Outer&& outer = {}) {
        if (auto c = full_.check_commit(r, n); !c) return c;  // both pools hold the same lengths
        // SWA first: an SWA page is released before (or with) the full page it belongs to.
        (void)swa_.commit(r, n, swa_with(swa_evictions::reported, outer));
        (void)full_.commit(r, n, full_with(outer));
        return {};
    }

    /// `commit(r, n)` that first keys the full pages the commit completes (see
    /// paged_pool::commit with tokens), so the SWA pages this commit slides out of the window stay
    /// cached for later hits. Errors: those of commit, plus tokens_too_short.
    template <pool_hooks Outer = no_hooks>
    status commit(request_id r, std::int64_t n, std::span<const token_id> tokens,
                  std::span<const std::uint64_t> page_extra_keys = {}, Outer&& outer = {})
        requires caching
    {
        // Full first, so its pages are keyed when the SWA pool decides what to keep; the draft
        // pages it drops stay mapped only until the SWA commit right after releases them.
        if (auto s = full_.commit(r, n, tokens, page_extra_keys, full_with(outer)); !s) return s;
        (void)swa_.commit(r, n, swa_with(swa_evictions::reported, outer));
        return {};
    }

    /// Roll back to `n` tokens in both pools. Errors: those of `paged_pool::truncate`.
    template <pool_hooks Outer = no_hooks>
    status truncate(request_id r, std::int64_t n, Outer&& outer = {}) {
        if (auto s = swa_.check_truncate(r, n); !s) return s;
        if (auto s = full_.check_truncate(r, n); !s) return s;
        (void)swa_.truncate(r, n, swa_with(swa_evictions::reported, outer));
        (void)full_.truncate(r, n, full_with(outer));
        return {};
    }

    /// Free the request in both pools; pages no request holds are freed (or cached, when keyed).
    /// Errors: unknown_request.
    template <pool_hooks Outer = no_hooks>
    status free_request(request_id r, Outer&& outer = {}) {
        if (!full_.contains(r)) return errc::unknown_request;
        (void)swa_.free_request(r, swa_with(swa_evictions::reported, outer));
        (void)full_.free_request(r, full_with(outer));
        return {};
    }

    /// A new request holding `length` committed tokens in both pools, or in neither (the import
    /// side of disaggregation, see dist/request_transfer.hpp): full pages for all of them, SWA
    /// pages for the window, and `full_to_swa` set as if it had been prefilled here.
    /// Errors: negative_length, length_overflow, out_of_full_pages, out_of_swa_pages.
    result<request_id> add_committed_request(std::int64_t length) {
        if (auto need = full_.pages_to_hold(length); !need) return need.err();
        if (auto need = swa_.pages_to_hold(length); !need) return need.err();
        const request_id r = full_.add_committed_request(length, full_with(no_outer_)).value();  // checked above
        [[maybe_unused]] const request_id same =
            swa_.add_committed_request(length, swa_with(swa_evictions::reported, no_outer_)).value();
        const auto f = full_.pages(r);
        const auto s = swa_.pages(r);
        for (auto i = static_cast<std::size_t>(swa_.first_live_page(r)); i < f.size(); ++i) link(f[i], s[i]);
        return r;
    }

    // ---- prefix cache (caching pools) --------------------------------------------------------------

    /// Attaches to the empty request r the longest cached prefix H of `tokens` that has both the
    /// full pages of [0, H) and the SWA pages of [H - W + 1, H) (the window of the next query),
    /// in whole pages and never including the last token. Returns H; r then holds H committed
    /// tokens, with SWA entries before dead_pages(H) null. Both pools record the lookup.
    /// Errors: unknown_request, request_not_empty.
    result<std::int64_t> attach_prefix(request_id r, std::span<const token_id> tokens,
                                       std::span<const std::uint64_t> page_extra_keys = {})
        requires caching
    {
        if (!full_.contains(r)) return errc::unknown_request;
        if (full_.length_tokens(r) != 0) return errc::request_not_empty;
        hit_full_.clear();
        const std::int64_t hit =
            hit_pages(tokens, full_.scope(r), page_extra_keys, [&](page_id f) { hit_full_.push_back(f); });
        const std::int64_t hit_tokens = hit * full_.page_size_tokens();
        hit_swa_.assign(static_cast<std::size_t>(hit), null_page);
        for (auto i = static_cast<std::size_t>(swa_.live_from(hit_tokens)); i < hit_swa_.size(); ++i)
            hit_swa_[i] = map(hit_full_[i]);
        const auto queried = static_cast<std::int64_t>(tokens.size());
        (void)full_.attach_pages(r, std::span<const page_id>(hit_full_).first(hit_swa_.size()), hit_tokens, queried);
        (void)swa_.attach_pages(r, hit_swa_, hit_tokens, queried);  // checked by hit_pages: cannot fail
        return hit_tokens;
    }

    /// Tokens `attach_prefix` would hit now for a request under `scope`; changes nothing.
    std::int64_t lookup(std::span<const token_id> tokens, cache_scope scope,
                        std::span<const std::uint64_t> page_extra_keys = {}) const
        requires caching
    {
        return hit_pages(tokens, scope, page_extra_keys, [](page_id) {}) * full_.page_size_tokens();
    }

    /// Keys the request's committed whole full pages (their SWA pages follow them into the cache).
    /// Errors: those of paged_pool::cache_committed.
    template <pool_hooks Outer = no_hooks>
    status cache_committed(request_id r, std::span<const token_id> tokens,
                           std::span<const std::uint64_t> page_extra_keys = {}, Outer&& outer = {})
        requires caching
    {
        return full_.cache_committed(r, tokens, page_extra_keys, full_with(outer));
    }

    /// Keys the request's committed whole pages and frees it: a resumed request hits them.
    /// Errors: those of cache_committed.
    template <pool_hooks Outer = no_hooks>
    status preempt(request_id r, std::span<const token_id> tokens, std::span<const std::uint64_t> page_extra_keys = {},
                   Outer&& outer = {})
        requires caching
    {
        if (auto s = cache_committed(r, tokens, page_extra_keys, outer); !s) return s;
        return free_request(r, outer);
    }

    /// Empties both caches. Errors: cache_in_use (some request still owns a page).
    status reset_cache()
        requires caching
    {
        if (full_.used_pages() != 0 || swa_.used_pages() != 0) return errc::cache_in_use;
        (void)swa_.reset_cache(swa_with(swa_evictions::silent, no_outer_));
        (void)full_.reset_cache(full_with(no_outer_));
        return {};
    }

    /// Events from now on go to `sink`: the full pool's stored / removed / cleared, and `removed`
    /// with layers == sliding when an SWA page is evicted while its full page stays cached.
    void set_event_sink(kv_event_sink sink)
        requires caching
    {
        full_.set_event_sink(std::move(sink));
    }

    /// The typed views: `full()` can only emit full-layer tables and `swa()` only SWA-layer tables.
    /// Each pool's `stats()` counts its own lookups, hits, stored and evicted pages.
    const FullPool& full() const noexcept { return full_; }
    const SwaPool& swa() const noexcept { return swa_; }
    bool contains(request_id r) const noexcept { return full_.contains(r); }

    /// Indexed by full page; every entry is an SWA page index in [0, swa().size()).
    std::span<const page_id> full_to_swa() const noexcept { return full_to_swa_; }

    /// The SWA KV slot of full slot `page * P + offset`: the same offset in the mapped SWA page.
    /// @pre 0 <= full_slot < full().size().pages * P, and the token is inside its request's window
    /// (tokens in flight always are). Outside the window the entry is the null page, or, in a
    /// caching pool, a cached SWA page that holds other requests' KV: never write through it.
    std::int64_t swa_slot(std::int64_t full_slot) const noexcept {
        PAGEDKV_ASSERT(full_slot >= 0 && full_slot < std::int64_t{full_.size().pages} * full_.page_size_tokens(),
                       "swa_slot(slot) of a slot outside the full pool");
        const table_row row{0, 0, full_.page_size_tokens()};  // only its page size: a slot's page and offset
        return row.slot_of(full_to_swa_[static_cast<std::size_t>(row.page_of(full_slot))].value, full_slot);
    }

    /// Both pools' invariants plus the mapping's: for every request r and index i, swa.pages(r)[i]
    /// is the null page or full_to_swa[full.pages(r)[i]], and non-null past the window release;
    /// full_to_swa and its inverse agree; a mapped pair is in use in both pools (or cached in both);
    /// a cached SWA page's full page has a content key; every SWA page in use is mapped.
    /// What a mutation of r can break, in time linear in its pages: each pool's request invariants
    /// and r's mapping (debug/checked_pool.hpp calls it after each mutation).
    status check_request_invariants(request_id r) const {
        if (auto s = full_.check_request_invariants(r); !s) return s;
        if (auto s = swa_.check_request_invariants(r); !s) return s;
        return check_pairing(r);
    }

    status check_invariants() const {
        if (auto s = full_.check_invariants(); !s) return s;
        if (auto s = swa_.check_invariants(); !s) return s;
        if (full_.live_requests() != swa_.live_requests())
            return error{errc::invariant_violated, "pools disagree on live requests"};
        status bad{};
        full_.for_each_request([&](request_id r) {
            if (bad.ok()) bad = check_pairing(r);
        });
        if (!bad.ok()) return bad;
        for (std::int32_t i = 0; i < full_.size().pages; ++i) {
            const page_id f{i}, s = map(f);
            if (s.value < 0 || s.value >= swa_.size().pages)
                return error{errc::invariant_violated, "full_to_swa entry out of SWA pool range"};
            if (s == null_page) continue;
            if (swa_to_full_[static_cast<std::size_t>(s.value)] != f)
                return error{errc::invariant_violated, "full_to_swa and swa_to_full disagree"};
            if (full_.allocator().is_free(f) || swa_.allocator().is_free(s))
                return error{errc::invariant_violated, "mapping entry of a free page"};
            if (swa_.ref_count(s) > full_.ref_count(f))
                return error{errc::invariant_violated, "SWA page held by more requests than its full page"};
            if (swa_.is_cached(s) && !full_.key_of(f))
                return error{errc::invariant_violated, "cached SWA page under an unkeyed full page"};
        }
        for (std::int32_t i = 1; i < swa_.size().pages; ++i) {
            const page_id s{i}, f = swa_to_full_[static_cast<std::size_t>(i)];
            if (f.value < 0 || f.value >= full_.size().pages || (f != null_page && map(f) != s))
                return error{errc::invariant_violated, "swa_to_full entry without its full_to_swa entry"};
            if ((f == null_page) != swa_.allocator().is_free(s))
                return error{errc::invariant_violated, "SWA page in use but unmapped, or free but mapped"};
        }
        return {};
    }

private:
    // Hooks the full pool calls: a full page whose content is gone takes its cached SWA page along.
    template <class Outer>
    struct full_hooks : no_hooks {
        hybrid_pool& h;
        Outer& outer;
        full_hooks(hybrid_pool& pool, Outer& o) noexcept : h(pool), outer(o) {}
        void losing(page_id f) {
            if constexpr (requires { outer.full_losing(f); }) outer.full_losing(f);
        }
        void freed(page_id f) {
            if constexpr (requires { outer.full_freed(f); }) outer.full_freed(f);
        }
        void dropped(page_id f) { h.drop_swa_of(f, outer); }
        void unkeyed(page_id f) {
            const page_id s = h.map(f);
            if (s != null_page && h.swa_.ref_count(s) == 0) h.drop_swa_of(f, outer);
        }
        // A recomputed copy whose SWA page is live heals a cached page whose SWA page was evicted
        // (SGLang does the same on insert over a tombstone).
        bool prefer_copy(page_id cached, page_id copy) const {
            return h.map(cached) == null_page && h.map(copy) != null_page;
        }
        void replaced(page_id, page_id copy) {
            h.full_.keying().report(kv_event_kind::stored, attention_kind::sliding, copy, h.map(copy));
        }
    };
    // Hooks the SWA pool calls: an SWA page stays cached while its full page is keyed; a page that
    // leaves (freed, or evicted: a tombstone) clears its mapping entry.
    enum class swa_evictions : bool { silent, reported };  // `removed` for an SWA page whose full page stays
    template <class Outer>
    struct swa_hooks : no_hooks {
        hybrid_pool& h;
        swa_evictions evictions;
        Outer& outer;
        swa_hooks(hybrid_pool& pool, swa_evictions e, Outer& o) noexcept : h(pool), evictions(e), outer(o) {}
        std::optional<std::uint64_t> retain_key(page_id s) const {
            const page_id f = h.swa_to_full_[static_cast<std::size_t>(s.value)];
            return f == null_page ? std::nullopt : h.full_.key_of(f);
        }
        void released(page_id s) {
            if constexpr (requires { outer.swa_released(s); }) outer.swa_released(s);
        }
        void freed(page_id s) {
            released(s);
            h.unlink(s);
        }
        void dropped(page_id s) {
            released(s);
            if (evictions == swa_evictions::reported)
                h.full_.keying().report(kv_event_kind::removed, attention_kind::sliding,
                                        h.swa_to_full_[static_cast<std::size_t>(s.value)], s);
            h.unlink(s);
        }
    };

    // The hooks with a listener, its type spelled out (nvcc's front end does not deduce a member
    // template's arguments from a braced initializer).
    template <class Outer>
    full_hooks<Outer> full_with(Outer& outer) noexcept {
        return full_hooks<Outer>(*this, outer);
    }
    template <class Outer>
    swa_hooks<Outer> swa_with(swa_evictions e, Outer& outer) noexcept {
        return swa_hooks<Outer>(*this, e, outer);
    }

    hybrid_pool(FullPool f, SwaPool s)
        : full_(std::move(f)),
          swa_(std::move(s)),
          full_to_swa_(static_cast<std::size_t>(full_.size().pages), null_page),
          swa_to_full_(static_cast<std::size_t>(swa_.size().pages), null_page) {}

    page_id map(page_id full_page) const noexcept { return full_to_swa_[static_cast<std::size_t>(full_page.value)]; }
    // The one writer of the mapping and its inverse.
    void link(page_id f, page_id s) noexcept {
        full_to_swa_[static_cast<std::size_t>(f.value)] = s;
        swa_to_full_[static_cast<std::size_t>(s.value)] = f;
    }
    void unlink(page_id s) noexcept {
        page_id& f = swa_to_full_[static_cast<std::size_t>(s.value)];
        full_to_swa_[static_cast<std::size_t>(f.value)] = null_page;
        f = null_page;
    }
    // r is in both pools with the same lengths, and each live SWA entry is full_to_swa of its full entry.
    status check_pairing(request_id r) const {
        if (!swa_.contains(r)) return error{errc::invariant_violated, "request missing from SWA pool"};
        if (full_.length_tokens(r) != swa_.length_tokens(r) || full_.committed_tokens(r) != swa_.committed_tokens(r))
            return error{errc::invariant_violated, "pools disagree on a request's length"};
        const auto f = full_.pages(r);
        const auto s = swa_.pages(r);
        for (std::size_t i = 0; i < f.size(); ++i)
            if (s[i] != null_page && s[i] != map(f[i]))
                return error{errc::invariant_violated, "full_to_swa disagrees with the SWA page list"};
        return {};
    }

    // f left the cache or lost its key while no request holds its SWA page: that page goes too.
    template <class Outer>
    void drop_swa_of(page_id f, Outer& outer) {
        if (const page_id s = map(f); s != null_page) (void)swa_.drop_cached(s, swa_with(swa_evictions::silent, outer));
    }

    // The longest hit in pages: the full chain confirmed page by page, cut to the last page i whose
    // window pages [dead_pages((i+1)P), i] all still have their SWA page. Calls out(f) per full page.
    template <class Out>
    std::int64_t hit_pages(std::span<const token_id> tokens, cache_scope scope,
                           std::span<const std::uint64_t> page_extra_keys, Out&& out) const {
        const std::int32_t page = full_.page_size_tokens();
        std::int64_t best = 0, run = 0;
        full_.keying().match(tokens, scope, page_extra_keys, [&](std::int64_t i, page_id f) {
            out(f);
            run = map(f) != null_page ? run + 1 : 0;
            if ((i + 1) - dead_pages((i + 1) * page, swa_.window_tokens(), page) <= run) best = i + 1;
        });
        return best;
    }

    FullPool full_;
    SwaPool swa_;
    // Invariant: see check_invariants. The one home of "which SWA page holds full page f's tokens";
    // swa_to_full_ is its inverse, written only by link/unlink with it.
    std::vector<page_id> full_to_swa_;
    std::vector<page_id> swa_to_full_;
    std::vector<page_id> hit_full_, hit_swa_;  // attach_prefix scratch, reused (no per-call allocation)
    no_hooks no_outer_;                        // the listener of calls made without one
};

/// A hybrid pool whose full and SWA pools cache released pages under eviction policy `Evict`.
template <eviction_policy Evict, alloc_policy Alloc = lifo_free_stack>
using caching_hybrid_pool = hybrid_pool<full_pool<Alloc, Evict>, swa_pool<Alloc, Evict>>;

}  // namespace pagedkv
