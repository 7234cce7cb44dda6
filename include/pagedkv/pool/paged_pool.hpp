// The one pool implementation behind full_pool and swa_pool: each request's page list for this pool
// and the window rule, over three mechanisms with a header each (request_table, page_ownership,
// prefix_keying).
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

/// A pool of N pages of P tokens (page 0 = null page) and the page lists of the requests using it.
/// A request's length grows with `extend` (tokens in flight: prefill chunk, decode token, drafts)
/// and becomes final with `commit`. For `attention_kind::sliding`, pages no future query can see
/// (by the *committed* length and window W, see `dead_pages`) are released eagerly inside `commit`
/// and `truncate`, and their list entries become the null page in the same call.
///
/// With an eviction policy other than `no_eviction` the pool is *caching*: a page is owned by every
/// request whose list holds it (its reference count), and a page whose count reaches 0 while it has
/// a content key stays cached, in the policy, instead of going to the free list. Allocation takes
/// free pages first, then evicts. A full caching pool keys its requests' committed pages
/// (`cache_committed`) in a prefix index and attaches the longest cached prefix of a new request
/// (`attach_prefix`); see docs/prefix_reuse.md. Mutations take an optional hooks argument
/// (pool_hooks.hpp) through which a hybrid pool follows the pages they free, cache and evict.
/// Every call either succeeds or returns an error and leaves the pool exactly as it was.
template <alloc_policy Alloc, attention_kind Kind, eviction_policy Evict = no_eviction>
class paged_pool {
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

    /// A full-attention pool. Errors: invalid_pool_size, invalid_page_size.
    static result<paged_pool> create(pool_size size, std::int32_t page_size_tokens)
        requires(Kind == attention_kind::full)
    {
        if (auto s = validate(size, page_size_tokens); !s) return s.err();
        return paged_pool(size, page_size_tokens, 0);
    }
    /// A sliding-window pool with window W tokens. Errors: as above, plus invalid_window (W < 1).
    static result<paged_pool> create(pool_size size, std::int32_t page_size_tokens, std::int64_t window_tokens)
        requires(Kind == attention_kind::sliding)
    {
        if (auto s = validate(size, page_size_tokens); !s) return s.err();
        if (window_tokens < 1) return errc::invalid_window;
        return paged_pool(size, page_size_tokens, window_tokens);
    }

    // ---- mutations -------------------------------------------------------------------------------

    /// A new request with no tokens. Errors: too_many_requests (UINT32_MAX - 1 live requests).
    result<request_id> add_request() { return add_request_in(cache_scope{}, retention{}); }
    /// A new request whose pages are cached under `scope` and released with priorities `keep`.
    result<request_id> add_request(cache_scope scope, retention keep = {})
        requires caching
    {
        return add_request_in(scope, keep);
    }

    /// Reserve `n` more tokens (uncommitted) and the pages they cross into, evicting cached pages
    /// when the free list runs out. Errors: unknown_request, negative_length, length_overflow,
    /// out_of_{full,swa}_pages (fewer free plus cached pages than needed).
    template <pool_hooks Hooks = no_hooks>
    status extend(request_id r, std::int64_t n, Hooks&& hooks = {}) {
        if (auto need = pages_to_extend(r, n); !need) return need.err();
        else take_pages(r, need.value(), hooks);
        requests_.row(r).length_tokens += n;
        return {};
    }

    /// Of the tokens in flight, the first `n` become committed and the rest are dropped (their
    /// whole pages released). Sliding pools then release the pages that fell out of the window.
    /// Errors: unknown_request, negative_length, commit_exceeds_reserved.
    template <pool_hooks Hooks = no_hooks>
    status commit(request_id r, std::int64_t n, Hooks&& hooks = {}) {
        if (auto c = check_commit(r, n); !c) return c;
        const std::int64_t committed = requests_.row(r).committed_tokens + n;
        resize(r, committed, committed, hooks);
        return {};
    }

    /// Roll the request back to `n` tokens (committed ones included): pages past it are released.
    /// A kept partial page that was keyed loses its key (its tail will be rewritten).
    /// Errors: unknown_request, negative_length, truncate_past_length, window_already_released
    /// (the shorter length would need pages that window release has already returned),
    /// truncate_into_shared_page (the request would rewrite a page other requests hold).
    template <pool_hooks Hooks = no_hooks>
    status truncate(request_id r, std::int64_t n, Hooks&& hooks = {}) {
        if (auto s = check_truncate(r, n); !s) return s;
        keying_.truncate(r.slot, lists_[r.slot].pages, n, own_, hooks);
        const std::int64_t committed = requests_.row(r).committed_tokens;
        resize(r, n, committed < n ? committed : n, hooks);
        return {};
    }

    /// Release every page of the request and retire its id; in a caching pool its keyed pages stay
    /// cached. Errors: unknown_request.
    template <pool_hooks Hooks = no_hooks>
    status free_request(request_id r, Hooks&& hooks = {}) {
        if (!contains(r)) return errc::unknown_request;
        page_list& l = lists_[r.slot];
        release(r, 0, l.pages.size(), hooks);
        l.pages.clear();  // keeps capacity: the slot's next request allocates nothing
        l.first_live_page = 0;
        requests_.retire(r);
        return {};
    }

    /// A new request holding `length` tokens, all committed, whose K/V arrives from elsewhere
    /// (a prefill engine, see dist/request_transfer.hpp): it gets pages for them now, except the
    /// ones a sliding window has already released, whose entries are the null page, exactly as if
    /// it had been extended and committed here. Errors: negative_length, length_overflow,
    /// out_of_{full,swa}_pages, too_many_requests.
    template <pool_hooks Hooks = no_hooks>
    result<request_id> add_committed_request(std::int64_t length, Hooks&& hooks = {}) {
        if (auto need = pages_to_hold(length); !need) return need.err();
        const auto id = add_request_in(cache_scope{}, retention{});
        if (!id) return id;
        const request_id r = id.value();
        const std::int64_t live = live_from(length);
        lists_[r.slot].pages.assign(static_cast<std::size_t>(live), null_page);
        lists_[r.slot].first_live_page = live;
        take_pages(r, pages_for_tokens(length, page_size_) - live, hooks);
        requests_.row(r).length_tokens = requests_.row(r).committed_tokens = length;
        return r;
    }

    // ---- prefix cache (caching pools) --------------------------------------------------------------

    /// Makes the empty request r hold `pages` (entry i holds tokens [i*P, (i+1)*P)) with
    /// `length_tokens` tokens, all committed; each page gains r as an owner and leaves the cache if
    /// it was cached. Records a lookup of `queried_tokens` that hit `length_tokens`. For sliding
    /// pools the entries before `live_from(length_tokens)` must be the null page.
    /// @pre no page appears twice in `pages`.
    /// Errors: unknown_request, request_not_empty, invalid_attach (length not a whole number of
    /// pages, wrong page count or null pattern, or a page that is out of range or free).
    status attach_pages(request_id r, std::span<const page_id> pages, std::int64_t length_tokens,
                        std::int64_t queried_tokens)
        requires caching
    {
        if (!contains(r)) return errc::unknown_request;
        if (requests_.row(r).length_tokens != 0) return errc::request_not_empty;
        if (length_tokens < 0 || length_tokens % page_size_ != 0 ||
            static_cast<std::int64_t>(pages.size()) != length_tokens / page_size_)
            return errc::invalid_attach;
        const std::int64_t live = live_from(length_tokens);
        for (std::size_t i = 0; i < pages.size(); ++i) {
            const page_id p = pages[i];
            if (static_cast<std::int64_t>(i) < live ? p != null_page
                                                    : (p.value < 1 || p.value >= size_.pages || own_.is_free(p)))
                return errc::invalid_attach;
        }
        page_list& l = lists_[r.slot];
        for (page_id p : pages) {
            l.pages.push_back(p);
            if (p != null_page) own_.acquire(p);
        }
        l.first_live_page = live;
        attached(r, static_cast<std::int64_t>(pages.size()), queried_tokens);
        return {};
    }

    /// Attaches to the empty request r the longest cached prefix of `tokens` (its prompt) in whole
    /// pages, never including the last token: the engine computes at least one. `page_extra_keys[i]`
    /// is page i's extra identity (multimodal item hash), 0 past the span. Returns the hit length
    /// in tokens; r then holds that many committed tokens.
    /// Errors: unknown_request, request_not_empty.
    result<std::int64_t> attach_prefix(request_id r, std::span<const token_id> tokens,
                                       std::span<const std::uint64_t> page_extra_keys = {})
        requires indexed
    {
        if (!contains(r)) return errc::unknown_request;
        if (requests_.row(r).length_tokens != 0) return errc::request_not_empty;
        const std::int64_t hit = keying_.match(tokens, requests_.row(r).scope, page_extra_keys, [&](std::int64_t, page_id p) {
            lists_[r.slot].pages.push_back(p);
            own_.acquire(p);
        });
        attached(r, hit, static_cast<std::int64_t>(tokens.size()));
        return hit * page_size_;
    }

    /// Tokens `attach_prefix` would hit now for a request under `scope`; changes nothing.
    std::int64_t lookup(std::span<const token_id> tokens, cache_scope scope,
                        std::span<const std::uint64_t> page_extra_keys = {}) const
        requires indexed
    {
        return keying_.match(tokens, scope, page_extra_keys, [](std::int64_t, page_id) {}) * page_size_;
    }

    /// Keys the request's committed whole pages not keyed yet, so later requests can hit them.
    /// `tokens` are the request's token ids from position 0 (at least its committed whole pages).
    /// A page whose content is already cached after the same prefix stays unkeyed (one page per
    /// content); the request's next pages chain onto the cached one.
    /// Errors: unknown_request, tokens_too_short.
    template <pool_hooks Hooks = no_hooks>
    status cache_committed(request_id r, std::span<const token_id> tokens,
                           std::span<const std::uint64_t> page_extra_keys = {}, Hooks&& hooks = {})
        requires indexed
    {
        if (!contains(r)) return errc::unknown_request;
        return key_committed(r, requests_.row(r).committed_tokens, tokens, page_extra_keys, hooks);
    }

    /// `commit(r, n)` that also keys the whole pages the commit completes, before any page is
    /// released: in a hybrid pool the SWA pages leaving the window then stay cached. `tokens` as
    /// for cache_committed, covering the new committed length.
    /// Errors: those of commit, plus tokens_too_short.
    template <pool_hooks Hooks = no_hooks>
    status commit(request_id r, std::int64_t n, std::span<const token_id> tokens,
                  std::span<const std::uint64_t> page_extra_keys = {}, Hooks&& hooks = {})
        requires indexed
    {
        if (auto c = check_commit(r, n); !c) return c;
        const std::int64_t committed = requests_.row(r).committed_tokens + n;
        if (auto k = key_committed(r, committed, tokens, page_extra_keys, hooks); !k) return k;
        resize(r, committed, committed, hooks);
        return {};
    }

    /// Preemption: keys the request's committed whole pages, then frees it; they stay cached, so a
    /// resumed request (same tokens, same scope) hits them. Errors: those of cache_committed.
    template <pool_hooks Hooks = no_hooks>
    status preempt(request_id r, std::span<const token_id> tokens,
                   std::span<const std::uint64_t> page_extra_keys = {}, Hooks&& hooks = {})
        requires indexed
    {
        if (auto s = cache_committed(r, tokens, page_extra_keys, hooks); !s) return s;
        return free_request(r, hooks);
    }

    /// Drops the cached page p now: its content is forgotten (with its cached descendants in the
    /// index) and it goes to the free list. Errors: not_cached.
    template <pool_hooks Hooks = no_hooks>
    status drop_cached(page_id p, Hooks&& hooks = {})
        requires caching
    {
        if (p.value < 1 || p.value >= size_.pages || !own_.is_cached(p)) return errc::not_cached;
        auto h = keyed(hooks);
        own_.discard(p, h);
        return {};
    }

    /// Empties the cache: every cached page is freed and every key dropped. Errors: cache_in_use
    /// (some request still owns a page).
    template <pool_hooks Hooks = no_hooks>
    status reset_cache(Hooks&& hooks = {})
        requires caching
    {
        if (used_pages() != 0) return errc::cache_in_use;
        auto h = keyed(hooks);
        own_.discard_all(h);
        if constexpr (indexed) keying_.report_cleared();
        return {};
    }

    /// Events (stored / removed / cleared) go to `sink` from now on; an empty sink stops them.
    void set_event_sink(kv_event_sink sink) requires indexed { keying_.set_sink(std::move(sink)); }

    // ---- planning (pure; lets a hybrid pool check both pools before touching either) ------------

    /// Pages `extend(r, n)` would take, or the error it would return.
    result<std::int64_t> pages_to_extend(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const std::int64_t length = requests_.row(r).length_tokens;
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
        const request_row& row = requests_.row(r);
        if (n > row.length_tokens - row.committed_tokens) return errc::commit_exceeds_reserved;
        return {};
    }
    /// The error `truncate(r, n)` would return, or success.
    status check_truncate(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const request_row& row = requests_.row(r);
        if (n > row.length_tokens) return errc::truncate_past_length;
        const page_list& l = lists_[r.slot];
        if (live_from(row.committed_tokens < n ? row.committed_tokens : n) < l.first_live_page)
            return errc::window_already_released;
        const auto partial = static_cast<std::size_t>(n / page_size_);
        if (n % page_size_ != 0 && partial < l.pages.size() && own_.refs(l.pages[partial]) > 1)
            return errc::truncate_into_shared_page;
        return {};
    }
    /// First page still needed at committed length L: dead_pages(L) for sliding pools, 0 for full.
    std::int64_t live_from(std::int64_t committed_tokens) const noexcept {
        return Kind == attention_kind::sliding ? dead_pages(committed_tokens, window_, page_size_) : 0;
    }

    // ---- queries (fast path: @pre contains(r)) ---------------------------------------------------

    bool contains(request_id r) const noexcept { return requests_.contains(r); }
    /// The request's page list: entry i holds tokens [i*P, (i+1)*P); null before first_live_page.
    std::span<const page_id> pages(request_id r) const noexcept { return lists_[r.slot].pages; }
    std::int64_t length_tokens(request_id r) const noexcept { return requests_.row(r).length_tokens; }
    std::int64_t committed_tokens(request_id r) const noexcept { return requests_.row(r).committed_tokens; }
    /// Index of the first page that is not the null page (0 for full pools).
    std::int64_t first_live_page(request_id r) const noexcept { return lists_[r.slot].first_live_page; }
    cache_scope scope(request_id r) const noexcept { return requests_.row(r).scope; }

    std::int32_t page_size_tokens() const noexcept { return page_size_; }
    /// Window W in tokens; 0 for full pools (no window).
    std::int64_t window_tokens() const noexcept { return window_; }
    pool_size size() const noexcept { return size_; }
    std::int32_t free_pages() const noexcept { return own_.free_count(); }
    /// Pages no request owns whose content is kept for reuse (0 without a cache).
    std::int32_t cached_pages() const noexcept { return own_.cached_count(); }
    /// Pages an allocation can take: free, then cached.
    std::int32_t available_pages() const noexcept { return own_.available(); }
    /// Pages owned by at least one request (the null page is neither free, cached nor used).
    std::int32_t used_pages() const noexcept { return own_.owned_count(); }
    std::int64_t live_requests() const noexcept { return requests_.live(); }
    /// Pages the request holds (null entries excluded).
    std::int64_t pages_held(request_id r) const noexcept {
        return static_cast<std::int64_t>(lists_[r.slot].pages.size()) - lists_[r.slot].first_live_page;
    }
    /// Requests holding page p. @pre 0 <= p < size()
    std::int32_t ref_count(page_id p) const noexcept { return own_.refs(p); }
    bool is_cached(page_id p) const noexcept { return own_.is_cached(p); }
    /// p's content key while p is keyed in this pool's index (never for pools without one).
    std::optional<std::uint64_t> key_of(page_id p) const noexcept { return keying_.key_of(p); }
    const Alloc& allocator() const noexcept { return own_.allocator(); }
    const Evict& evictor() const noexcept { return own_.evictor(); }
    const prefix_index& index() const noexcept requires indexed { return keying_.index(); }
    /// The prefix keying, for composites that report events about its keys (hybrid_pool).
    const keying_type& keying() const noexcept { return keying_; }
    cache_stats stats() const noexcept {
        return {lookups_.lookups, lookups_.queried_tokens, lookups_.hit_tokens, keying_.stored_pages(),
                own_.evicted_pages()};
    }

    /// Calls f(request_id) for every live request, in slot order.
    template <class F>
    void for_each_request(F&& f) const { requests_.for_each(f); }

    /// Checks every invariant of the pool and its mechanisms; returns the first violation.
    /// O(N * P + total pages); for tests and debug builds.
    status check_invariants() const {
        if (auto s = requests_.check_invariants(); !s) return s;
        std::vector<std::int32_t> owners(static_cast<std::size_t>(size_.pages), 0);
        status bad{};
        requests_.for_each([&](request_id r) {
            if (bad.ok()) bad = check_list(r, owners);
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
                if (own_.is_cached(p) && !key_of(p)) return error{errc::invariant_violated, "cached page without a key"};
                if (own_.is_free(p) && key_of(p)) return error{errc::invariant_violated, "free page keeps a key"};
            }
        }
        return keying_.check_invariants();
    }

private:
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
        paged_pool& pool;
        Hooks& outer;
        void dropped(page_id p) {
            pool.keying_.forget(p, pool.own_, outer);
            detail::hook_dropped(outer, p);
        }
    };
    template <class Hooks>
    keyed_hooks<Hooks> keyed(Hooks& outer) noexcept { return {{}, *this, outer}; }

    static constexpr errc out_of_pages = Kind == attention_kind::full ? errc::out_of_full_pages : errc::out_of_swa_pages;

    paged_pool(pool_size size, std::int32_t page_size, std::int64_t window)
        : own_(size), keying_(size, page_size), size_(size), page_size_(page_size), window_(window) {}

    static status validate(pool_size size, std::int32_t page_size) {
        if (page_size < 1) return errc::invalid_page_size;
        if (size.pages < 2) return errc::invalid_pool_size;
        return {};
    }

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
    void take_pages(request_id r, std::int64_t need, Hooks& hooks) {
        auto h = keyed(hooks);
        std::vector<page_id>& pages = lists_[r.slot].pages;
        for (std::int64_t i = 0; i < need; ++i) pages.push_back(own_.take(h));
    }

    template <class Hooks>
    std::optional<std::uint64_t> retain_key(Hooks& hooks, page_id p) const {
        if constexpr (detail::overrides_retain<Hooks>) return hooks.retain_key(p);
        else return key_of(p);
    }

    // Drops the request's ownership of entries [first, last). Pages left without owners go to the
    // cache when retained (last entry first, so a chain's tail is older than its head and leaves
    // first) and to the free list otherwise, in entry order (the order a pool without a cache uses).
    template <class Hooks>
    void release(request_id r, std::size_t first, std::size_t last, Hooks& hooks) {
        const std::vector<page_id>& pages = lists_[r.slot].pages;
        if constexpr (caching) {
            const retention keep = requests_.row(r).keep;
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
    void resize(request_id r, std::int64_t length, std::int64_t committed, Hooks& hooks) {
        page_list& l = lists_[r.slot];
        const auto keep = static_cast<std::size_t>(pages_for_tokens(length, page_size_));
        release(r, keep, l.pages.size(), hooks);
        l.pages.resize(keep);
        request_row& row = requests_.row(r);
        row.length_tokens = length;
        row.committed_tokens = committed;
        const std::int64_t live = live_from(committed);
        release(r, static_cast<std::size_t>(l.first_live_page), static_cast<std::size_t>(live), hooks);
        for (std::int64_t i = l.first_live_page; i < live; ++i) l.pages[static_cast<std::size_t>(i)] = null_page;
        l.first_live_page = live;
    }

    // The list invariants of live request r; counts its owner entries into `owners`.
    status check_list(request_id r, std::vector<std::int32_t>& owners) const {
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
            if (!released) ++owners[static_cast<std::size_t>(p.value)];
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
    std::int64_t window_;
};

}  // namespace pagedkv
