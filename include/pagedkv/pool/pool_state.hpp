// The state of one pool (its requests, page lists, page ownership and prefix keying), its queries,
// its invariants, and the bodies that change it, which assume checked arguments.
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
/// here (a non-virtual interface): every body may assume its arguments were checked and cannot fail.
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

    bool contains(request_id r) const noexcept { return requests_.contains(r); }
    /// The request's page list: entry i holds tokens [i*P, (i+1)*P); null before first_live_page.
    std::span<const page_id> pages(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "pages(r) of a request that is not live");
        return lists_[r.slot].pages;
    }
    std::int64_t length_tokens(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "length_tokens(r) of a request that is not live");
        return requests_.row(r).length_tokens;
    }
    std::int64_t committed_tokens(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "committed_tokens(r) of a request that is not live");
        return requests_.row(r).committed_tokens;
    }
    /// Index of the first page that is not the null page (0 for full pools).
    std::int64_t first_live_page(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "first_live_page(r) of a request that is not live");
        return lists_[r.slot].first_live_page;
    }
    cache_scope scope(request_id r) const noexcept {
        PAGEDKV_ASSERT(contains(r), "scope(r) of a request that is not live");
        return requests_.row(r).scope;
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
    std::int64_t live_requests() const noexcept { return requests_.live(); }
    /// Request slots issued so far, live or retired (0: the pool has never issued an id).
    std::size_t request_slots() const noexcept { return requests_.slots(); }
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
    /// The prefix keying, for composites that report events about its keys (hybrid_pool).
    const keying_type& keying() const noexcept { return keying_; }
    cache_stats stats() const noexcept {
        return {lookups_.lookups, lookups_.queried_tokens, lookups_.hit_tokens, keying_.stored_pages(),
                own_.evicted_pages()};
    }

    /// Calls f(request_id) for every live request, in slot order.
    template <class F>
    void for_each_request(F&& f) const {
        requests_.for_each(f);
    }

    /// Checks every invariant of the pool and its mechanisms; returns the first violation.
    /// O(N * P + total pages); for tests and debug builds.
    status check_invariants() const {
        if (auto s = requests_.check_invariants(); !s) return s;
        std::vector<std::int32_t> owners(static_cast<std::size_t>(size_.pages), 0);
        status bad{};
        requests_.for_each([&](request_id r) {
            if (bad.ok()) bad = check_list(r, [&](page_id p) { ++owners[static_cast<std::size_t>(p.value)]; });
        });
        std::size_t entries = 0, live_entries = 0;
        for (const page_list& l : lists_) entries += l.pages.size();
        requests_.for_each([&](request_id r) { live_entries += lists_[r.slot].pages.size(); });
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
    // Ownership reports a content loss to the keying first (it unkeys the page's subtree), then to
    // the caller's hooks.
    template <class Hooks>
    struct keyed_hooks : no_hooks {
        pool_state& pool;
        Hooks& outer;
        void losing(page_id p) { detail::hook_losing(outer, p); }  // before forget: p is still keyed
        void dropped(page_id p) {
            pool.keying_.forget(p, pool.own_, outer);
            detail::hook_dropped(outer, p);
        }
    };
    template <class Hooks>
    keyed_hooks<Hooks> keyed(Hooks& outer) noexcept {
        return {{}, *this, outer};
    }

    static constexpr errc out_of_pages = Kind == attention_kind::full      ? errc::out_of_full_pages
                                         : Kind == attention_kind::sliding ? errc::out_of_swa_pages
                                                                           : errc::out_of_chunked_pages;

    result<request_id> add_request_in(cache_scope scope, retention keep) {
        const auto r = requests_.add(scope, keep);
        if (!r) return r;
        if (lists_.size() < requests_.slots()) lists_.resize(requests_.slots());
        keying_.open(r.value().slot);
        return r;
    }

    // r now holds `pages` whole committed pages attached from the cache.
    void attached(request_id r, std::int64_t pages, std::int64_t queried_tokens) noexcept {
        request_row& row = requests_.row(r);
        row.length_tokens = row.committed_tokens = pages * page_size_;
        if constexpr (indexed) keying_.restart_chain(r.slot, lists_[r.slot].pages, pages);
        ++lookups_.lookups;
        lookups_.queried_tokens += queried_tokens;
        lookups_.hit_tokens += row.length_tokens;
    }

    // Keys the whole pages of the first `committed` tokens. Errors: tokens_too_short.
    template <class Hooks>
    status key_committed(request_id r, std::int64_t committed, std::span<const token_id> tokens,
                         std::span<const std::uint64_t> page_extra_keys, Hooks& hooks)
        requires indexed
    {
        const std::int64_t whole = committed / page_size_;
        if (static_cast<std::int64_t>(tokens.size()) < whole * page_size_) return errc::tokens_too_short;
        keying_.key_pages(r.slot, lists_[r.slot].pages, whole, tokens, requests_.row(r).scope, page_extra_keys, own_,
                          hooks);
        return {};
    }

    // @pre need pages are free or cached (checked by pages_to_extend / pages_to_hold).
    template <class Hooks>
    void take_pages(page_list& l, std::int64_t need, Hooks& hooks) {
        auto h = keyed(hooks);
        for (std::int64_t i = 0; i < need; ++i) l.pages.push_back(own_.take(h));
    }

    template <class Hooks>
    std::optional<std::uint64_t> retain_key(Hooks& hooks, page_id p) const {
        if constexpr (detail::overrides_retain<Hooks>)
            return hooks.retain_key(p);
        else
            return key_of(p);
    }

    // Drops the request's ownership of entries [first, last). Pages left without owners go to the
    // cache when retained (last entry first, so a chain's tail is older than its head and leaves
    // first) and to the free list otherwise, in entry order (the order a pool without a cache uses).
    template <class Hooks>
    void release(const page_list& l, const retention& keep, std::size_t first, std::size_t last, Hooks& hooks) {
        const std::vector<page_id>& pages = l.pages;
        if constexpr (caching) {
            for (std::size_t i = last; i-- > first;) {
                const page_id p = pages[i];
                if (p == null_page || !own_.drop_owner(p)) continue;
                if (const auto key = retain_key(hooks, p))
                    own_.cache(p, eviction_hint{*key, keep.of_page(static_cast<std::int64_t>(i), page_size_)});
            }
        }
        for (std::size_t i = first; i < last; ++i) {
            const page_id p = pages[i];
            if (p == null_page) continue;
            if constexpr (caching) {
                if (own_.refs(p) > 0 || own_.is_cached(p)) continue;
            } else {
                (void)own_.drop_owner(p);
            }
            own_.free(p, hooks);
        }
    }

    // Shrinks to `length` tokens and moves the committed length to `committed`; releases dropped
    // tail pages and, for sliding pools, the pages that fell out of the window. Cannot fail.
    template <class Hooks>
    void resize(page_list& l, request_row& row, std::int64_t length, std::int64_t committed, Hooks& hooks) {
        const auto keep = static_cast<std::size_t>(pages_for_tokens(length, page_size_));
        release(l, row.keep, keep, l.pages.size(), hooks);
        l.pages.resize(keep);
        row.length_tokens = length;
        row.committed_tokens = committed;
        const std::int64_t live = live_from(committed);
        release(l, row.keep, static_cast<std::size_t>(l.first_live_page), static_cast<std::size_t>(live), hooks);
        for (std::int64_t i = l.first_live_page; i < live; ++i) l.pages[static_cast<std::size_t>(i)] = null_page;
        l.first_live_page = live;
    }

    // The list invariants of live request r; counts its owner entries into `owners`.
    // Request r's row and list; `live_page(p)` sees each live entry after its range check.
    template <class Visit>
    status check_list(request_id r, Visit&& live_page) const {
        const request_row& row = requests_.row(r);
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

    request_table requests_;
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
