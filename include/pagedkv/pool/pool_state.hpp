// The state of one pool (its requests, page lists, page ownership and prefix keying), its queries,
// its plans and its invariants; pool_bodies.hpp holds the bodies that change it.
#pragma once
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "pagedkv/alloc/alloc_policy.hpp"
#include "pagedkv/cache/cache_scope.hpp"
#include "pagedkv/cache/cache_stats.hpp"
#include "pagedkv/cache/kv_event.hpp"
#include "pagedkv/core/contract.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"
#include "pagedkv/evict/eviction_policy.hpp"
#include "pagedkv/evict/no_eviction.hpp"
#include "pagedkv/pool/page_ownership.hpp"
#include "pagedkv/pool/pool_hooks.hpp"
#include "pagedkv/pool/prefix_keying.hpp"
#include "pagedkv/pool/request_table.hpp"

namespace pagedkv {

/// What paged_pool is made of. Its public entry points validate, then call the protected bodies
/// (pool_bodies.hpp, a non-virtual interface): every body may assume its arguments were checked and
/// cannot fail. The request facts (ids, lengths, scope, retention) are read from `requests_`: the
/// pool's own request table, or the one table of the composite the pool is part of (hybrid_pool,
/// multi_hybrid_pool), which writes each request's lengths once for all its pools.
template <alloc_policy Alloc, attention_kind Kind, eviction_policy Evict>
class pool_state {
protected:
    using ownership = page_ownership<Alloc, Evict>;

public:
    static constexpr attention_kind kind = Kind;
    using alloc_type = Alloc;
    using evict_type = Evict;
    /// Released pages with a content key stay cached (false: every released page is freed).
    static constexpr bool caching = ownership::caching;
    /// The pool keys its own pages. An SWA pool's pages are cached for a hybrid pool, under the
    /// keys of the full pages that hold the same tokens, so only full caching pools have an index.
    static constexpr bool indexed = caching && Kind == attention_kind::full;
    using keying_type = std::conditional_t<indexed, prefix_keying<ownership>, no_keying<ownership>>;
    /// The attention rule the pool serves (core/attention_rule.hpp), its size a runtime value.
    using rule_type = rule_of<Kind>;

    /// First page still needed at committed length L: the rule's dead_pages(L) (0 for full pools).
    std::int64_t live_from(std::int64_t committed_tokens) const noexcept {
        return dead_pages(rule_, committed_tokens, page_size_);
    }

    // ---- queries (fast path: @pre contains(r)) ---------------------------------------------------

    bool contains(request_id r) const noexcept { return requests().contains(r); }
    /// The request's page list: entry i holds tokens [i*P, (i+1)*P); null before first_live_page.
    std::span<const page_id> pages(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "pages(r) of a request that is not live");
        return lists_[r.slot].pages;
    }
    std::int64_t length_tokens(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "length_tokens(r) of a request that is not live");
        return requests().row(r).length_tokens;
    }
    std::int64_t committed_tokens(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "committed_tokens(r) of a request that is not live");
        return requests().row(r).committed_tokens;
    }
    /// Index of the first page that is not the null page (0 for full pools).
    std::int64_t first_live_page(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "first_live_page(r) of a request that is not live");
        return lists_[r.slot].first_live_page;
    }
    cache_scope scope(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "scope(r) of a request that is not live");
        return requests().row(r).scope;
    }

    std::int32_t page_size_tokens() const noexcept { return page_size_; }
    /// Window W in tokens; 0 for full and chunked pools (no window).
    std::int64_t window_tokens() const noexcept {
        if constexpr (Kind == attention_kind::sliding)
            return rule_.window_tokens;
        else
            return 0;
    }
    /// Chunk C in tokens; 0 for full and sliding pools (no chunks).
    std::int64_t chunk_tokens() const noexcept {
        if constexpr (Kind == attention_kind::chunked)
            return rule_.chunk_tokens;
        else
            return 0;
    }
    const rule_type& rule() const noexcept { return rule_; }
    pool_size size() const noexcept { return size_; }
    std::int32_t free_pages() const noexcept { return own_.free_count(); }
    /// Pages no request owns whose content is kept for reuse (0 without a cache).
    std::int32_t cached_pages() const noexcept { return own_.cached_count(); }
    /// Pages an allocation can take: free, then cached.
    std::int32_t available_pages() const noexcept { return own_.available(); }
    /// Pages owned by at least one request (the null page is neither free, cached nor used).
    std::int32_t used_pages() const noexcept { return own_.owned_count(); }
    std::int64_t live_requests() const noexcept { return requests().live(); }
    /// Request slots issued so far, live or retired (0: the pool has never issued an id).
    std::size_t request_slots() const noexcept { return requests().slots(); }
    /// Pages the request holds (null entries excluded).
    std::int64_t pages_held(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "pages_held(r) of a request that is not live");
        return static_cast<std::int64_t>(lists_[r.slot].pages.size()) - lists_[r.slot].first_live_page;
    }
    /// Requests holding page p. @pre 0 <= p < size()
    std::int32_t ref_count(page_id p) const noexcept {
        PAGEDKV_ASSERT(p.value >= 0 && p.value < size_.pages, "ref_count(p) of a page outside the pool");
        return own_.refs(p);
    }
    bool is_cached(page_id p) const noexcept {
        PAGEDKV_ASSERT(p.value >= 0 && p.value < size_.pages, "is_cached(p) of a page outside the pool");
        return own_.is_cached(p);
    }
    /// p's content key while p is keyed in this pool's index (never for pools without one).
    std::optional<std::uint64_t> key_of(page_id p) const noexcept { return keying_.key_of(p); }
    const Alloc& allocator() const noexcept { return own_.allocator(); }
    const Evict& evictor() const noexcept { return own_.evictor(); }
    const prefix_index& index() const noexcept
        requires indexed
    {
        return keying_.index();
    }
    /// Tokens `attach_prefix` would hit now in this pool alone for a request under `scope`; changes nothing.
    std::int64_t lookup(std::span<const token_id> tokens, cache_scope scope,
                        std::span<const std::uint64_t> page_extra_keys = {}) const
        requires indexed
    {
        return keying_.match(tokens, scope, page_extra_keys, [](std::int64_t, page_id) {}) * page_size_;
    }

    /// The prefix keying, for composites that report events about its keys (hybrid_pool).
    const keying_type& keying() const noexcept { return keying_; }
    cache_stats stats() const noexcept {
        return {lookups_.lookups, lookups_.queried_tokens, lookups_.hit_tokens, keying_.stored_pages(),
                own_.evicted_pages()};
    }

    /// Calls f(request_id) for every live request, in slot order.
    template <class F>
    void for_each_request(F&& f) const {
        requests().for_each(f);
    }

    // ---- planning (pure; lets a hybrid pool check every pool before touching any) ------------

    /// Pages `extend(r, n)` would take, or the error it would return.
    result<std::int64_t> pages_to_extend(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const std::int64_t length = requests().row(r).length_tokens;
        if (n > max_tokens_per_request(page_size_) - length) return errc::length_overflow;
        const std::int64_t need =
            pages_for_tokens(length + n, page_size_) - static_cast<std::int64_t>(lists_[r.slot].pages.size());
        if (need > available_pages()) return out_of_pages;
        return need;
    }
    /// Pages `add_committed_request(length)` would take, or the error it would return.
    result<std::int64_t> pages_to_hold(std::int64_t length) const {
        if (length < 0) return errc::negative_length;
        if (length > max_tokens_per_request(page_size_)) return errc::length_overflow;
        const std::int64_t need = pages_for_tokens(length, page_size_) - live_from(length);
        if (need > available_pages()) return out_of_pages;
        return need;
    }
    /// The error `commit(r, n)` would return, or success.
    status check_commit(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const request_row& row = requests().row(r);
        if (n > row.length_tokens - row.committed_tokens) return errc::commit_exceeds_reserved;
        return {};
    }
    /// The error `truncate(r, n)` would return, or success.
    status check_truncate(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const request_row& row = requests().row(r);
        if (n > row.length_tokens) return errc::truncate_past_length;
        const page_list& l = lists_[r.slot];
        if (live_from(row.committed_tokens < n ? row.committed_tokens : n) < l.first_live_page)
            return errc::window_already_released;
        const auto partial = static_cast<std::size_t>(n / page_size_);
        if (n % page_size_ != 0 && partial < l.pages.size() && own_.refs(l.pages[partial]) > 1)
            return errc::truncate_into_shared_page;
        return {};
    }

    /// Checks every invariant of the pool and its mechanisms; returns the first violation.
    /// O(N * P + total pages); for tests and debug builds.
    /// A composite checks the table it shares once, itself.
    status check_invariants() const {
        if (requests_.owned())
            if (auto s = requests().check_invariants(); !s) return s;
        std::vector<std::int32_t> owners(static_cast<std::size_t>(size_.pages), 0);
        status bad{};
        requests().for_each([&](request_id r) {
            if (bad.ok()) bad = check_list(r, [&](page_id p) { ++owners[static_cast<std::size_t>(p.value)]; });
        });
        std::size_t entries = 0, live_entries = 0;
        for (const page_list& l : lists_) entries += l.pages.size();
        requests().for_each([&](request_id r) { live_entries += lists_[r.slot].pages.size(); });
        if (bad && entries != live_entries) bad = error{errc::invariant_violated, "retired slot holds pages"};
        if (!bad) return bad;
        if (auto s = own_.check_invariants(owners); !s) return s;
        if (key_of(null_page)) return error{errc::invariant_violated, "null page free, cached, owned or keyed"};
        if constexpr (indexed) {
            for (std::int32_t i = 1; i < size_.pages; ++i) {
                const page_id p{i};
                if (own_.is_cached(p) && !key_of(p))
                    return error{errc::invariant_violated, "cached page without a key"};
                if (own_.is_free(p) && key_of(p)) return error{errc::invariant_violated, "free page keeps a key"};
            }
        }
        return keying_.check_invariants();
    }

    /// The invariants one live request can break, in time linear in its pages: its list's shape and
    /// every live page of it owned. What a mutation of r touched (debug/checked_pool.hpp).
    status check_request_invariants(request_id r) const {
        if (!contains(r)) return error{errc::invariant_violated, "checked request is not live"};
        if (auto s = check_list(r, [](page_id) {}); !s) return s;
        const page_list& l = lists_[r.slot];
        for (auto i = static_cast<std::size_t>(l.first_live_page); i < l.pages.size(); ++i)
            if (own_.refs(l.pages[i]) < 1 || own_.is_free(l.pages[i]) || own_.is_cached(l.pages[i]))
                return error{errc::invariant_violated, "a request's live page is not owned"};
        if (own_.free_count() + own_.cached_count() + 1 > size_.pages)
            return error{errc::invariant_violated, "more free and cached pages than the pool has"};
        return {};
    }

protected:
    pool_state(pool_size size, std::int32_t page_size, rule_type rule)
        : own_(size), keying_(size, page_size), size_(size), page_size_(page_size), rule_(rule) {}

    const request_table& requests() const noexcept { return requests_.table(); }
    /// The pool reads `composite`'s requests from now on. @pre it has issued no id
    void share_requests(const request_table& composite) noexcept { requests_.share(composite); }

    // Invariants (check_invariants), per live request r with list l:
    // - l.pages.size() == ceil(length / P);
    // - l.pages[i] == null_page  iff  i < l.first_live_page, and first_live_page == live_from(committed);
    // - the keying's keyed pages are committed whole pages;
    // and a retired slot's list is empty. The mechanisms check their own (request_table,
    // page_ownership against the lists' owner entries, prefix_keying).
    struct page_list {
        std::vector<page_id> pages;
        std::int64_t first_live_page = 0;
    };
    static constexpr errc out_of_pages = Kind == attention_kind::full      ? errc::out_of_full_pages
                                         : Kind == attention_kind::sliding ? errc::out_of_swa_pages
                                                                           : errc::out_of_chunked_pages;

    // The list invariants of live request r; counts its owner entries into `owners`.
    // Request r's row and list; `live_page(p)` sees each live entry after its range check.
    template <class Visit>
    status check_list(request_id r, Visit&& live_page) const {
        const request_row& row = requests().row(r);
        const page_list& l = lists_[r.slot];
        if (static_cast<std::int64_t>(l.pages.size()) != pages_for_tokens(row.length_tokens, page_size_))
            return error{errc::invariant_violated, "page count != ceil(length / P)"};
        if (l.first_live_page != live_from(row.committed_tokens))
            return error{errc::invariant_violated, "window release lags the committed length"};
        const std::int64_t keyed = keying_.keyed_pages(r.slot);
        if (keyed < 0 || keyed > row.committed_tokens / page_size_)
            return error{errc::invariant_violated, "keyed pages beyond the committed whole pages"};
        for (std::size_t i = 0; i < l.pages.size(); ++i) {
            const page_id p = l.pages[i];
            const bool released = static_cast<std::int64_t>(i) < l.first_live_page;
            if (released != (p == null_page))
                return error{errc::invariant_violated, "null entry outside the released prefix"};
            if (p.value < 0 || p.value >= size_.pages)
                return error{errc::invariant_violated, "page index out of pool range"};
            if (!released) live_page(p);
        }
        return {};
    }

    request_home requests_;         // the pool's own table, or its composite's
    std::vector<page_list> lists_;  // by request slot
    ownership own_;
    [[no_unique_address]] keying_type keying_;
    struct {
        std::int64_t lookups = 0, queried_tokens = 0, hit_tokens = 0;
    } lookups_;  // attaches recorded in this pool (both pools of a hybrid record each one)
    pool_size size_;
    std::int32_t page_size_;
    [[no_unique_address]] rule_type rule_;  // full_attention is empty: a full pool stores no size
};

}  // namespace pagedkv
