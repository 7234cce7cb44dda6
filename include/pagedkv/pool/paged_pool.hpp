// The one pool implementation behind full_pool and swa_pool: per-request page lists over a free list,
// plus (with an eviction policy) reference counts and a prefix cache of released pages.
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
#include "pagedkv/cache/prefix_index.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"
#include "pagedkv/evict/eviction_policy.hpp"
#include "pagedkv/evict/no_eviction.hpp"
#include "pagedkv/pool/pool_hooks.hpp"

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
public:
    static constexpr attention_kind kind = Kind;
    using alloc_type = Alloc;
    using evict_type = Evict;
    /// Released pages with a content key stay cached (false: every released page is freed).
    static constexpr bool caching = !std::same_as<Evict, no_eviction>;
    /// The pool keys its own pages. An SWA pool's pages are cached for a hybrid pool, under the
    /// keys of the full pages that hold the same tokens, so only full caching pools have an index.
    static constexpr bool indexed = caching && Kind == attention_kind::full;

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
        else take_pages(seqs_[r.slot], need.value(), n, hooks);
        return {};
    }

    /// Of the tokens in flight, the first `n` become committed and the rest are dropped (their
    /// whole pages released). Sliding pools then release the pages that fell out of the window.
    /// Errors: unknown_request, negative_length, commit_exceeds_reserved.
    template <pool_hooks Hooks = no_hooks>
    status commit(request_id r, std::int64_t n, Hooks&& hooks = {}) {
        if (auto c = check_commit(r, n); !c) return c;
        sequence& s = seqs_[r.slot];
        resize(s, s.committed_tokens + n, s.committed_tokens + n, hooks);
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
        sequence& s = seqs_[r.slot];
        if constexpr (indexed) {
            const auto partial = static_cast<std::size_t>(n / page_size_);
            if (n % page_size_ != 0 && partial < s.pages.size() && index_.keyed(s.pages[partial]))
                unkey(s.pages[partial], null_page, hooks);
            if (s.keyed_pages > n / page_size_) {
                s.keyed_pages = n / page_size_;
                s.chain = null_page;  // re-derived by the next cache_committed
            }
        }
        resize(s, n, s.committed_tokens < n ? s.committed_tokens : n, hooks);
        return {};
    }

    /// Release every page of the request and retire its id; in a caching pool its keyed pages stay
    /// cached. Errors: unknown_request.
    template <pool_hooks Hooks = no_hooks>
    status free_request(request_id r, Hooks&& hooks = {}) {
        if (!contains(r)) return errc::unknown_request;
        sequence& s = seqs_[r.slot];
        release(s, 0, s.pages.size(), hooks);
        s.pages.clear();  // keeps capacity: the slot's next request allocates nothing
        s.length_tokens = s.committed_tokens = 0;
        s.first_live_page = 0;
        s.keyed_pages = 0;
        s.chain = null_page;
        s.live = false;
        ++s.generation;
        --live_requests_;
        free_slots_.push_back(r.slot);
        return {};
    }

    /// A new request holding `length` tokens, all committed, whose K/V arrives from elsewhere
    /// (a prefill engine, see dist/request_transfer.hpp): it gets pages for them now, except the
    /// ones a sliding window has already released, whose entries are the null page, exactly as if
    /// it had been extended and committed here. Errors: negative_length, length_overflow,
    /// out_of_{full,swa}_pages.
    template <pool_hooks Hooks = no_hooks>
    result<request_id> add_committed_request(std::int64_t length, Hooks&& hooks = {}) {
        if (auto need = pages_to_hold(length); !need) return need.err();
        const request_id r = add_request_in(cache_scope{}, retention{}).value();
        sequence& s = seqs_[r.slot];
        const std::int64_t live = live_from(length);
        s.pages.assign(static_cast<std::size_t>(live), null_page);
        take_pages(s, pages_for_tokens(length, page_size_) - live, length, hooks);
        s.committed_tokens = length;
        s.first_live_page = live;
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
        sequence& s = seqs_[r.slot];
        if (s.length_tokens != 0) return errc::request_not_empty;
        if (length_tokens < 0 || length_tokens % page_size_ != 0 ||
            static_cast<std::int64_t>(pages.size()) != length_tokens / page_size_)
            return errc::invalid_attach;
        const std::int64_t live = live_from(length_tokens);
        for (std::size_t i = 0; i < pages.size(); ++i) {
            const page_id p = pages[i];
            if (static_cast<std::int64_t>(i) < live ? p != null_page
                                                    : (p.value < 1 || p.value >= size_.pages || free_.is_free(p)))
                return errc::invalid_attach;
        }
        for (page_id p : pages) {
            s.pages.push_back(p);
            if (p != null_page) acquire(p);
        }
        s.length_tokens = s.committed_tokens = length_tokens;
        s.first_live_page = live;
        if constexpr (indexed) restart_chain(s, static_cast<std::int64_t>(pages.size()));
        record_lookup(queried_tokens, length_tokens);
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
        sequence& s = seqs_[r.slot];
        if (s.length_tokens != 0) return errc::request_not_empty;
        const std::int64_t hit = match(tokens, s.scope, page_extra_keys, [&](std::int64_t, page_id p) {
            s.pages.push_back(p);
            acquire(p);
        });
        s.length_tokens = s.committed_tokens = hit * page_size_;
        restart_chain(s, hit);
        record_lookup(static_cast<std::int64_t>(tokens.size()), hit * page_size_);
        return hit * page_size_;
    }

    /// Tokens `attach_prefix` would hit now for a request under `scope`; changes nothing.
    std::int64_t lookup(std::span<const token_id> tokens, cache_scope scope,
                        std::span<const std::uint64_t> page_extra_keys = {}) const
        requires indexed
    {
        return match(tokens, scope, page_extra_keys, [](std::int64_t, page_id) {}) * page_size_;
    }

    /// Walks the cached prefix of `tokens` (whole pages, never the last token), calling
    /// visit(index, page) for each confirmed page in order. Returns the pages matched.
    template <class Visit>
    std::int64_t match(std::span<const token_id> tokens, cache_scope scope,
                       std::span<const std::uint64_t> page_extra_keys, Visit&& visit) const
        requires indexed
    {
        const std::int64_t max_pages =
            tokens.empty() ? 0 : (static_cast<std::int64_t>(tokens.size()) - 1) / page_size_;
        page_id parent = null_page;
        std::uint64_t parent_key = 0;
        for (std::int64_t i = 0; i < max_pages; ++i) {
            const page_content c = content_at(tokens, scope, page_extra_keys, i);
            const std::uint64_t key = content_key(parent_key, c);
            const page_id p = index_.find(parent, key, c);
            if (p == null_page) return i;
            visit(i, p);
            parent = p;
            parent_key = key;
        }
        return max_pages;
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
        sequence& s = seqs_[r.slot];
        const std::int64_t whole = s.committed_tokens / page_size_;
        if (static_cast<std::int64_t>(tokens.size()) < whole * page_size_) return errc::tokens_too_short;
        key_pages(s, whole, tokens, page_extra_keys, hooks);
        return {};
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
        sequence& s = seqs_[r.slot];
        const std::int64_t whole = (s.committed_tokens + n) / page_size_;
        if (static_cast<std::int64_t>(tokens.size()) < whole * page_size_) return errc::tokens_too_short;
        key_pages(s, whole, tokens, page_extra_keys, hooks);
        resize(s, s.committed_tokens + n, s.committed_tokens + n, hooks);
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
        if (p.value < 1 || p.value >= size_.pages || !evict_.contains(p)) return errc::not_cached;
        evict_.erase(p);
        ++stats_.evicted_pages;
        forget(p, hooks);
        free_.push(p);
        return {};
    }

    /// Empties the cache: every cached page is freed and every key dropped. Errors: cache_in_use
    /// (some request still owns a page).
    template <pool_hooks Hooks = no_hooks>
    status reset_cache(Hooks&& hooks = {})
        requires caching
    {
        if (used_pages() != 0) return errc::cache_in_use;
        while (evict_.size() > 0) {
            const page_id p = evict_.evict();
            ++stats_.evicted_pages;
            forget(p, hooks);
            free_.push(p);
        }
        if (sink_) sink_(kv_event{kv_event_kind::cleared, Kind});
        return {};
    }

    /// Events (stored / removed / cleared) go to `sink` from now on; an empty sink stops them.
    void set_event_sink(kv_event_sink sink) requires caching { sink_ = std::move(sink); }

    // ---- planning (pure; lets a hybrid pool check both pools before touching either) ------------

    /// Pages `extend(r, n)` would take, or the error it would return.
    result<std::int64_t> pages_to_extend(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const sequence& s = seqs_[r.slot];
        if (n > max_tokens_per_request(page_size_) - s.length_tokens) return errc::length_overflow;
        const std::int64_t need = pages_for_tokens(s.length_tokens + n, page_size_) -
                                  static_cast<std::int64_t>(s.pages.size());
        if (need > available_pages())
            return Kind == attention_kind::full ? errc::out_of_full_pages : errc::out_of_swa_pages;
        return need;
    }
    /// Pages `add_committed_request(length)` would take, or the error it would return.
    result<std::int64_t> pages_to_hold(std::int64_t length) const {
        if (length < 0) return errc::negative_length;
        if (length > max_tokens_per_request(page_size_)) return errc::length_overflow;
        const std::int64_t need = pages_for_tokens(length, page_size_) - live_from(length);
        if (need > available_pages())
            return Kind == attention_kind::full ? errc::out_of_full_pages : errc::out_of_swa_pages;
        return need;
    }
    /// The error `commit(r, n)` would return, or success.
    status check_commit(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        if (n > seqs_[r.slot].length_tokens - seqs_[r.slot].committed_tokens) return errc::commit_exceeds_reserved;
        return {};
    }
    /// The error `truncate(r, n)` would return, or success.
    status check_truncate(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const sequence& s = seqs_[r.slot];
        if (n > s.length_tokens) return errc::truncate_past_length;
        const std::int64_t committed = s.committed_tokens < n ? s.committed_tokens : n;
        if (live_from(committed) < s.first_live_page) return errc::window_already_released;
        const auto partial = static_cast<std::size_t>(n / page_size_);
        if (n % page_size_ != 0 && partial < s.pages.size() && refs_[at(s.pages[partial])] > 1)
            return errc::truncate_into_shared_page;
        return {};
    }
    /// First page still needed at committed length L: dead_pages(L) for sliding pools, 0 for full.
    std::int64_t live_from(std::int64_t committed_tokens) const noexcept {
        return Kind == attention_kind::sliding ? dead_pages(committed_tokens, window_, page_size_) : 0;
    }

    // ---- queries (fast path: @pre contains(r)) ---------------------------------------------------

    bool contains(request_id r) const noexcept {
        return r.slot < seqs_.size() && seqs_[r.slot].live && seqs_[r.slot].generation == r.generation;
    }
    /// The request's page list: entry i holds tokens [i*P, (i+1)*P); null before first_live_page.
    std::span<const page_id> pages(request_id r) const noexcept { return seqs_[r.slot].pages; }
    std::int64_t length_tokens(request_id r) const noexcept { return seqs_[r.slot].length_tokens; }
    std::int64_t committed_tokens(request_id r) const noexcept { return seqs_[r.slot].committed_tokens; }
    /// Index of the first page that is not the null page (0 for full pools).
    std::int64_t first_live_page(request_id r) const noexcept { return seqs_[r.slot].first_live_page; }
    cache_scope scope(request_id r) const noexcept { return seqs_[r.slot].scope; }

    std::int32_t page_size_tokens() const noexcept { return page_size_; }
    /// Window W in tokens; 0 for full pools (no window).
    std::int64_t window_tokens() const noexcept { return window_; }
    pool_size size() const noexcept { return size_; }
    std::int32_t free_pages() const noexcept { return free_.free_count(); }
    /// Pages no request owns whose content is kept for reuse (0 without a cache).
    std::int32_t cached_pages() const noexcept { return evict_.size(); }
    /// Pages an allocation can take: free, then cached.
    std::int32_t available_pages() const noexcept { return free_.free_count() + evict_.size(); }
    /// Pages owned by at least one request (the null page is neither free, cached nor used).
    std::int32_t used_pages() const noexcept { return size_.pages - 1 - free_.free_count() - evict_.size(); }
    std::int64_t live_requests() const noexcept { return live_requests_; }
    /// Pages the request holds (null entries excluded).
    std::int64_t pages_held(request_id r) const noexcept {
        return static_cast<std::int64_t>(seqs_[r.slot].pages.size()) - seqs_[r.slot].first_live_page;
    }
    /// Requests holding page p. @pre 0 <= p < size()
    std::int32_t ref_count(page_id p) const noexcept { return refs_[at(p)]; }
    bool is_cached(page_id p) const noexcept { return evict_.contains(p); }
    /// p's content key while p is keyed in this pool's index (never for pools without one).
    std::optional<std::uint64_t> key_of(page_id p) const noexcept {
        if constexpr (indexed) {
            if (index_.keyed(p)) return index_.key(p);
        }
        (void)p;
        return std::nullopt;
    }
    const Alloc& allocator() const noexcept { return free_; }
    const Evict& evictor() const noexcept { return evict_; }
    const prefix_index& index() const noexcept requires indexed { return index_; }
    const cache_stats& stats() const noexcept { return stats_; }

    /// Calls f(request_id) for every live request, in slot order.
    template <class F>
    void for_each_request(F&& f) const {
        for (std::uint32_t i = 0; i < seqs_.size(); ++i)
            if (seqs_[i].live) f(request_id{i, seqs_[i].generation});
    }

    /// Checks every invariant below; returns the first violation. O(N * P + total pages); for tests
    /// and debug builds.
    status check_invariants() const {
        std::vector<std::int32_t> refs(static_cast<std::size_t>(size_.pages), 0);
        std::int64_t live = 0;
        for (const sequence& s : seqs_) {
            if (!s.live) {
                if (!s.pages.empty()) return error{errc::invariant_violated, "retired slot holds pages"};
                continue;
            }
            ++live;
            if (s.committed_tokens < 0 || s.committed_tokens > s.length_tokens)
                return error{errc::invariant_violated, "committed outside [0, length]"};
            if (static_cast<std::int64_t>(s.pages.size()) != pages_for_tokens(s.length_tokens, page_size_))
                return error{errc::invariant_violated, "page count != ceil(length / P)"};
            if (s.first_live_page != live_from(s.committed_tokens))
                return error{errc::invariant_violated, "window release lags the committed length"};
            if (s.keyed_pages < 0 || s.keyed_pages > s.committed_tokens / page_size_)
                return error{errc::invariant_violated, "keyed pages beyond the committed whole pages"};
            for (std::size_t i = 0; i < s.pages.size(); ++i) {
                const page_id p = s.pages[i];
                const bool released = static_cast<std::int64_t>(i) < s.first_live_page;
                if (released != (p == null_page))
                    return error{errc::invariant_violated, "null entry outside the released prefix"};
                if (p.value < 0 || p.value >= size_.pages)
                    return error{errc::invariant_violated, "page index out of pool range"};
                if (!released) ++refs[at(p)];
            }
        }
        if (live != live_requests_) return error{errc::invariant_violated, "live request count drift"};
        if (free_.is_free(null_page) || evict_.contains(null_page) || refs_[0] != 0 || key_of(null_page))
            return error{errc::invariant_violated, "null page free, cached, owned or keyed"};
        std::int32_t owned = 0, cached = 0;
        for (std::int32_t i = 1; i < size_.pages; ++i) {
            const page_id p{i};
            const bool is_free = free_.is_free(p), in_cache = evict_.contains(p);
            if (refs[at(p)] != refs_[at(p)])
                return error{errc::invariant_violated, "reference count != owner entries"};
            if (!caching && refs[at(p)] > 1) return error{errc::invariant_violated, "page owned twice"};
            if (refs[at(p)] > 0 && (is_free || in_cache))
                return error{errc::invariant_violated, "owned page also free or cached"};
            if (is_free && in_cache) return error{errc::invariant_violated, "page both free and cached"};
            if (refs[at(p)] == 0 && !is_free && !in_cache)
                return error{errc::invariant_violated, "page neither free, owned nor cached (leak)"};
            if constexpr (indexed) {
                if (in_cache && !index_.keyed(p)) return error{errc::invariant_violated, "cached page without a key"};
                if (is_free && index_.keyed(p)) return error{errc::invariant_violated, "free page keeps a key"};
            }
            owned += refs[at(p)] > 0;
            cached += in_cache;
        }
        if (cached != evict_.size()) return error{errc::invariant_violated, "eviction policy size drift"};
        if (owned + cached + free_.free_count() + 1 != size_.pages)
            return error{errc::invariant_violated, "free + owned + cached + null != N"};
        if constexpr (indexed) return index_.check_invariants();
        return {};
    }

private:
    // Invariants (checked by check_invariants):
    // - committed_tokens <= length_tokens; pages.size() == ceil(length_tokens / P);
    // - pages[i] == null_page  iff  i < first_live_page, and first_live_page == live_from(committed);
    // - refs_[p] == number of live lists holding p (at most 1 without a cache);
    // - every page 1..N-1 is exactly one of: free, owned (refs_ > 0), cached (in evict_);
    // - a cached page of an indexed pool is keyed; a free page is not.
    // keyed_pages / chain: the first keyed_pages committed pages have their content in the index,
    // the last of them held by `chain` (the request's own page, or an equal one cached before it);
    // chain may go stale when an evicted page takes its subtree along, then it is re-derived.
    struct sequence {
        std::vector<page_id> pages;
        std::int64_t length_tokens = 0;
        std::int64_t committed_tokens = 0;
        std::int64_t first_live_page = 0;
        std::int64_t keyed_pages = 0;
        page_id chain = null_page;
        std::uint32_t chain_epoch = 0;
        std::uint32_t generation = 0;
        bool live = false;
        cache_scope scope;
        retention keep;
    };
    struct no_index {
        no_index(pool_size, std::int32_t) noexcept {}
    };

    paged_pool(pool_size size, std::int32_t page_size, std::int64_t window)
        : free_(size), evict_(size), index_(size, page_size), refs_(static_cast<std::size_t>(size.pages), 0),
          size_(size), page_size_(page_size), window_(window) {}

    static status validate(pool_size size, std::int32_t page_size) {
        if (page_size < 1) return errc::invalid_page_size;
        if (size.pages < 2) return errc::invalid_pool_size;
        return {};
    }
    static std::size_t at(page_id p) noexcept { return static_cast<std::size_t>(p.value); }

    result<request_id> add_request_in(cache_scope scope, retention keep) {
        if (free_slots_.empty()) {
            if (seqs_.size() >= no_request.slot) return errc::too_many_requests;  // no_request's slot is never issued
            seqs_.emplace_back();
            free_slots_.push_back(static_cast<std::uint32_t>(seqs_.size() - 1));
        }
        const std::uint32_t slot = free_slots_.back();
        free_slots_.pop_back();
        sequence& s = seqs_[slot];
        s.live = true;
        s.scope = scope;
        s.keep = keep;
        ++live_requests_;
        return request_id{slot, s.generation};
    }

    page_content content_at(std::span<const token_id> tokens, cache_scope scope,
                            std::span<const std::uint64_t> page_extra_keys, std::int64_t i) const noexcept {
        const auto page = static_cast<std::size_t>(page_size_);
        const auto idx = static_cast<std::size_t>(i);
        return {tokens.subspan(idx * page, page), scope, idx < page_extra_keys.size() ? page_extra_keys[idx] : 0};
    }

    // One more owner for p, taking it out of the cache if it was cached (a hit).
    void acquire(page_id p) noexcept {
        if (refs_[at(p)]++ == 0 && caching) evict_.revive(p);
    }

    void record_lookup(std::int64_t queried, std::int64_t hit) noexcept {
        ++stats_.lookups;
        stats_.queried_tokens += queried;
        stats_.hit_tokens += hit;
    }

    // Points the request's chain at the last of its first `pages` pages that is keyed (the pages
    // before a keyed page are keyed too: the index is a forest), so cache_committed resumes there.
    void restart_chain(sequence& s, std::int64_t pages) noexcept {
        while (pages > 0 && !index_.keyed(s.pages[static_cast<std::size_t>(pages - 1)])) --pages;
        s.keyed_pages = pages;
        s.chain = pages > 0 ? s.pages[static_cast<std::size_t>(pages - 1)] : null_page;
        s.chain_epoch = pages > 0 ? index_.epoch(s.chain) : 0;
    }

    // Keys pages [keyed_pages, whole) of the request. @pre they hold committed (or committing)
    // tokens and `tokens` covers them.
    template <class Hooks>
    void key_pages(sequence& s, std::int64_t whole, std::span<const token_id> tokens,
                   std::span<const std::uint64_t> page_extra_keys, Hooks& hooks) {
        if (s.keyed_pages > 0 && (s.chain == null_page || !index_.keyed(s.chain) || index_.epoch(s.chain) != s.chain_epoch))
            restart_chain(s, s.keyed_pages);  // the cached page the chain ran through was evicted
        for (std::int64_t i = s.keyed_pages; i < whole; ++i) {
            const page_content c = content_at(tokens, s.scope, page_extra_keys, i);
            const page_id parent = i == 0 ? null_page : s.chain;
            const std::uint64_t parent_key = i == 0 ? 0 : index_.key(parent);
            const std::uint64_t key = content_key(parent_key, c);
            page_id held = index_.find(parent, key, c);
            const page_id own = s.pages[static_cast<std::size_t>(i)];
            if (held == null_page) {
                held = own;
                index_.insert(held, parent, key, c);
                ++stats_.stored_pages;
                if (sink_) sink_(kv_event{kv_event_kind::stored, Kind, key, parent_key, parent != null_page, held,
                                          c.tokens, c.scope, c.page_extra_key});
            } else if (held != own && detail::hook_prefer_copy(hooks, held, own)) {
                take_over(held, own, hooks);
                held = own;
            }
            s.chain = held;
            s.chain_epoch = index_.epoch(held);
            s.keyed_pages = i + 1;
        }
    }

    // The request's own copy replaces the keyed page `held` in the index (same content, same
    // key: nothing to report at this pool's level); `held` is freed if cached, else only unkeyed.
    template <class Hooks>
    void take_over(page_id held, page_id copy, Hooks& hooks) {
        index_.replace(held, copy);
        if (refs_[at(held)] == 0) {
            evict_.erase(held);
            detail::hook_dropped(hooks, held);
            free_.push(held);
        } else {
            detail::hook_unkeyed(hooks, held);
        }
        detail::hook_replaced(hooks, held, copy);
    }

    // @pre need pages are free or cached (checked by pages_to_extend).
    template <class Hooks>
    void take_pages(sequence& s, std::int64_t need, std::int64_t n_tokens, Hooks& hooks) {
        for (std::int64_t i = 0; i < need; ++i) {
            const page_id p = free_.free_count() > 0 ? free_.pop() : evict_one(hooks);
            refs_[at(p)] = 1;
            s.pages.push_back(p);
        }
        s.length_tokens += n_tokens;
    }

    // Slow path of allocation: the policy's victim, its content forgotten, ready for reuse.
    template <class Hooks>
    page_id evict_one(Hooks& hooks) {
        if constexpr (caching) {
            const page_id v = evict_.evict();
            ++stats_.evicted_pages;
            forget(v, hooks);
            return v;
        } else {
            (void)hooks;
            return null_page;  // unreachable: a pool without a cache has nothing to evict
        }
    }

    // Forgets the content of page p, which just left the cache: its key and, for indexed pools,
    // the keys of every page below it (cached ones are freed, owned ones only unkeyed).
    template <class Hooks>
    void forget(page_id p, Hooks& hooks) {
        if constexpr (indexed) {
            if (index_.keyed(p)) unkey(p, p, hooks);
        }
        detail::hook_dropped(hooks, p);
    }

    // Unkeys p's subtree. Pages in it other than `gone` (a page already out of the cache, handled
    // by the caller) are freed when cached, or reported unkeyed when owned.
    template <class Hooks>
    void unkey(page_id p, page_id gone, Hooks& hooks) {
        index_.unkey_subtree(p, [&](page_id u) {
            if (sink_) {
                const page_id up = index_.parent(u);
                sink_(kv_event{kv_event_kind::removed, Kind, index_.key(u), up == null_page ? 0 : index_.key(up),
                               up != null_page, u});
            }
            if (u == gone) return;
            if (refs_[at(u)] > 0) {
                detail::hook_unkeyed(hooks, u);
                return;
            }
            evict_.erase(u);
            ++stats_.evicted_pages;
            detail::hook_dropped(hooks, u);
            free_.push(u);
        });
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
    void release(sequence& s, std::size_t first, std::size_t last, Hooks& hooks) {
        if constexpr (caching) {
            for (std::size_t i = last; i-- > first;) {
                const page_id p = s.pages[i];
                if (p == null_page || --refs_[at(p)] > 0) continue;
                if (const auto key = retain_key(hooks, p))
                    evict_.insert(p, eviction_hint{*key, s.keep.of_page(static_cast<std::int64_t>(i), page_size_)});
            }
        }
        for (std::size_t i = first; i < last; ++i) {
            const page_id p = s.pages[i];
            if (p == null_page) continue;
            if constexpr (caching) {
                if (refs_[at(p)] > 0 || evict_.contains(p)) continue;
            } else {
                --refs_[at(p)];
            }
            free_.push(p);
            detail::hook_freed(hooks, p);
        }
    }

    // Shrinks to `length` tokens and moves the committed length to `committed`; releases dropped
    // tail pages and, for sliding pools, the pages that fell out of the window. Cannot fail.
    template <class Hooks>
    void resize(sequence& s, std::int64_t length, std::int64_t committed, Hooks& hooks) {
        const auto keep = static_cast<std::size_t>(pages_for_tokens(length, page_size_));
        release(s, keep, s.pages.size(), hooks);
        s.pages.resize(keep);
        s.length_tokens = length;
        s.committed_tokens = committed;
        const std::int64_t live = live_from(committed);
        release(s, static_cast<std::size_t>(s.first_live_page), static_cast<std::size_t>(live), hooks);
        for (std::int64_t i = s.first_live_page; i < live; ++i) s.pages[static_cast<std::size_t>(i)] = null_page;
        s.first_live_page = live;
    }

    Alloc free_;
    [[no_unique_address]] Evict evict_;
    [[no_unique_address]] std::conditional_t<indexed, prefix_index, no_index> index_;
    std::vector<std::int32_t> refs_;
    std::vector<sequence> seqs_;
    std::vector<std::uint32_t> free_slots_;
    std::int64_t live_requests_ = 0;
    pool_size size_;
    std::int32_t page_size_;
    std::int64_t window_;
    cache_stats stats_;
    kv_event_sink sink_;
};

}  // namespace pagedkv
