// The one pool behind full_pool and swa_pool: the checked entry points engines call, over
// pool_bodies and pool_state (requests, page lists, page ownership, prefix keying).
#pragma once
#include <cstdint>
#include <span>
#include <utility>

#include "pagedkv/cache/cache_scope.hpp"
#include "pagedkv/cache/kv_event.hpp"
#include "pagedkv/core/contract.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"
#include "pagedkv/evict/no_eviction.hpp"
#include "pagedkv/pool/pool_hooks.hpp"
#include "pagedkv/pool/pool_bodies.hpp"
#include "pagedkv/pool/request_table.hpp"

namespace pagedkv {

template <class FullPool, class... GroupPools>
class mapped_pools;
template <class FullPool, class... GroupPools>
class mapped_prefix_cache;

/// A pool of N pages of P tokens (page 0 = null page) and the page lists of the requests using it.
/// A request's length grows with `extend` (tokens in flight: prefill chunk, decode token, drafts)
/// and becomes final with `commit`. For `attention_kind::sliding` and `chunked`, pages no future
/// query can see (by the *committed* length and the pool's rule, see `dead_pages` in
/// core/attention_rule.hpp) are released eagerly inside `commit` and `truncate`, and their list
/// entries become the null page in the same call.
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
class paged_pool : public pool_bodies<Alloc, Kind, Evict> {
    using state = pool_bodies<Alloc, Kind, Evict>;
    // A composite calls the bodies after its own checks, over the request table it shares.
    template <class, class...>
    friend class mapped_pools;
    template <class, class...>
    friend class mapped_prefix_cache;
    using state::requests, state::requests_, state::lists_, state::own_, state::keying_, state::size_,
        state::page_size_;
    using state::attach_list, state::attached, state::discard_all, state::discard_cached, state::hold_committed,
        state::key_committed, state::open_slot, state::release_all, state::resize, state::take_pages,
        state::truncate_list;
    // Only composites plan with these (a request created committed; a prefix hit's first live page).
    using state::live_from, state::pages_to_hold;

public:
    using state::caching, state::indexed, state::contains, state::used_pages;
    /// The checks of extend / commit / truncate, changing nothing: an engine's admission dry run,
    /// and how batch calls refuse a whole batch before applying any of it.
    using state::check_commit, state::check_truncate, state::lookup, state::pages_to_extend;

    /// The size errors `create` would return (invalid_page_size, invalid_pool_size), allocating
    /// nothing: a composite checks its full pool, whose prefix index may be gigabytes, before it
    /// creates any pool, so that another pool's bad argument is refused without that allocation.
    static status check_create(pool_size size, std::int32_t page_size_tokens) noexcept {
        return validate(size, page_size_tokens);
    }
    /// A full-attention pool. Errors: invalid_pool_size (also: an indexed pool of more than
    /// INT32_MAX tokens, N x P, whose index could not store them), invalid_page_size.
    static result<paged_pool> create(pool_size size, std::int32_t page_size_tokens)
        requires(Kind == attention_kind::full)
    {
        if (auto s = validate(size, page_size_tokens); !s) return s.err();
        return paged_pool(size, page_size_tokens, full_attention{});
    }
    /// A sliding-window pool with window W tokens. Errors: as above, plus invalid_window (W < 1).
    static result<paged_pool> create(pool_size size, std::int32_t page_size_tokens, std::int64_t window_tokens)
        requires(Kind == attention_kind::sliding)
    {
        if (auto s = validate(size, page_size_tokens); !s) return s.err();
        if (window_tokens < 1) return errc::invalid_window;
        return paged_pool(size, page_size_tokens, sliding_window{window_tokens});
    }
    /// A chunked-local-attention pool with chunks of C tokens. Errors: as above, plus invalid_chunk
    /// (C < 1).
    static result<paged_pool> create(pool_size size, std::int32_t page_size_tokens, std::int64_t chunk_tokens)
        requires(Kind == attention_kind::chunked)
    {
        if (auto s = validate(size, page_size_tokens); !s) return s.err();
        if (chunk_tokens < 1) return errc::invalid_chunk;
        return paged_pool(size, page_size_tokens, chunked_local{chunk_tokens});
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
    /// out_of_{full,swa,chunked}_pages (fewer free plus cached pages than needed).
    template <pool_hooks Hooks = no_hooks>
    status extend(request_id r, std::int64_t n, Hooks&& hooks = {}) {
        const auto need = pages_to_extend(r, n);
        if (!need) return need.err();
        take_pages(r, need.value(), hooks);
        table().row(r).length_tokens += n;
        return {};
    }

    /// Of the tokens in flight, the first `n` become committed and the rest are dropped (their
    /// whole pages released). Sliding pools then release the pages that fell out of the window.
    /// Errors: unknown_request, negative_length, commit_exceeds_reserved.
    template <pool_hooks Hooks = no_hooks>
    status commit(request_id r, std::int64_t n, Hooks&& hooks = {}) {
        if (auto c = check_commit(r, n); !c) return c;
        const std::int64_t committed = requests().row(r).committed_tokens + n;
        resize(r, committed, committed, hooks);
        table().set_lengths(r, committed, committed);
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
        truncate_list(r, n, hooks);
        table().truncate(r, n);
        return {};
    }

    /// Release every page of the request and retire its id; in a caching pool its keyed pages stay
    /// cached. Errors: unknown_request.
    template <pool_hooks Hooks = no_hooks>
    status free_request(request_id r, Hooks&& hooks = {}) {
        if (!contains(r)) return errc::unknown_request;
        release_all(r, hooks);
        table().retire(r);
        return {};
    }

    /// A new request holding `length` tokens, all committed, whose K/V arrives from elsewhere
    /// (a prefill engine, see dist/request_transfer.hpp): it gets pages for them now, except the
    /// ones a sliding window has already released, whose entries are the null page, exactly as if
    /// it had been extended and committed here. Errors: negative_length, length_overflow,
    /// out_of_{full,swa,chunked}_pages, too_many_requests.
    template <pool_hooks Hooks = no_hooks>
    result<request_id> add_committed_request(std::int64_t length, Hooks&& hooks = {}) {
        if (auto need = pages_to_hold(length); !need) return need.err();
        const auto id = add_request_in(cache_scope{}, retention{});
        if (!id) return id;
        const request_id r = id.value();
        hold_committed(r, length, hooks);
        table().set_lengths(r, length, length);
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
        if (requests().row(r).length_tokens != 0) return errc::request_not_empty;
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
        attach_list(r, pages, queried_tokens);
        table().set_lengths(r, length_tokens, length_tokens);
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
        if (requests().row(r).length_tokens != 0) return errc::request_not_empty;
        const std::int64_t hit =
            keying_.match(tokens, requests().row(r).scope, page_extra_keys, [&](std::int64_t, page_id p) {
                lists_[r.slot].pages.push_back(p);
                own_.acquire(p);
            });
        attached(r, hit, static_cast<std::int64_t>(tokens.size()));
        table().set_lengths(r, hit * page_size_, hit * page_size_);
        return hit * page_size_;
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
        return key_committed(r, requests().row(r).committed_tokens, tokens, page_extra_keys, hooks);
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
        const std::int64_t committed = requests().row(r).committed_tokens + n;
        if (auto k = key_committed(r, committed, tokens, page_extra_keys, hooks); !k) return k;
        resize(r, committed, committed, hooks);
        table().set_lengths(r, committed, committed);
        return {};
    }

    /// Preemption: keys the request's committed whole pages, then frees it; they stay cached, so a
    /// resumed request (same tokens, same scope) hits them. Errors: those of cache_committed.
    template <pool_hooks Hooks = no_hooks>
    status preempt(request_id r, std::span<const token_id> tokens, std::span<const std::uint64_t> page_extra_keys = {},
                   Hooks&& hooks = {})
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
        discard_cached(p, hooks);
        return {};
    }

    /// Empties the cache: every cached page is freed and every key dropped. Errors: cache_in_use
    /// (some request still owns a page).
    template <pool_hooks Hooks = no_hooks>
    status reset_cache(Hooks&& hooks = {})
        requires caching
    {
        if (used_pages() != 0) return errc::cache_in_use;
        discard_all(hooks);
        return {};
    }

    /// Events (stored / removed / cleared) go to `sink` from now on; an empty sink stops them.
    void set_event_sink(kv_event_sink sink)
        requires indexed
    {
        keying_.set_sink(std::move(sink));
    }

private:
    paged_pool(pool_size size, std::int32_t page_size, typename state::rule_type rule) : state(size, page_size, rule) {}

    // The pool's own request table, which only a pool used alone writes (a composite's pools read
    // the composite's).
    request_table& table() noexcept {
        PAGEDKV_ASSERT(requests_.owned(), "a checked mutation of a pool that is part of a composite");
        return requests_.own();
    }

    result<request_id> add_request_in(cache_scope scope, retention keep) {
        const auto r = table().add(scope, keep);
        if (r) open_slot(r.value().slot);
        return r;
    }

    static status validate(pool_size size, std::int32_t page_size) {
        if (page_size < 1) return errc::invalid_page_size;
        if (size.pages < 2) return errc::invalid_pool_size;
        // The prefix index stores every page's token ids: N x P of them, allocated here.
        if (state::indexed && std::int64_t{size.pages} * page_size > INT32_MAX) return errc::invalid_pool_size;
        return {};
    }
};

}  // namespace pagedkv
