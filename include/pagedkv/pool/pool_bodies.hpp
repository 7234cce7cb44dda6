// The unchecked bodies of a pool's mutations, over pool_state: what paged_pool's entry points and a
// composite's (mapped_pools: hybrid_pool, multi_hybrid_pool) call once their checks passed.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "pagedkv/cache/cache_scope.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"
#include "pagedkv/core/token_id.hpp"
#include "pagedkv/pool/pool_hooks.hpp"
#include "pagedkv/pool/pool_state.hpp"
#include "pagedkv/pool/request_table.hpp"

namespace pagedkv {

/// Every body assumes checked arguments and cannot fail; it reads r's row as it was and writes none
/// of it (the caller writes each request's lengths once, after the bodies of all its pools ran), so
/// the pools of a composite share one request table.
template <alloc_policy Alloc, attention_kind Kind, eviction_policy Evict>
class pool_bodies : public pool_state<Alloc, Kind, Evict> {
    using state = pool_state<Alloc, Kind, Evict>;

public:
    using state::caching, state::indexed, state::key_of, state::live_from;

protected:
    using state::state;
    using typename state::page_list;
    using state::requests, state::lists_, state::own_, state::keying_, state::lookups_, state::page_size_;

    // Ownership reports a content loss to the keying first (it unkeys the page's subtree), then to
    // the caller's hooks.
    template <class Hooks>
    struct keyed_hooks : no_hooks {
        pool_bodies& pool;
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

    // ---- bodies: each assumes checked arguments, reads r's row as it was and writes none of it ----

    // The request table has just issued `slot`: its list and chain start empty.
    void open_slot(std::uint32_t slot) {
        if (lists_.size() <= slot) lists_.resize(std::size_t{slot} + 1);
        keying_.open(slot);
    }

    // r now holds `pages` whole committed pages attached from the cache; a lookup of
    // `queried_tokens` is recorded.
    void attached(request_id r, std::int64_t pages, std::int64_t queried_tokens) noexcept {
        if constexpr (indexed) keying_.restart_chain(r.slot, lists_[r.slot].pages, pages);
        ++lookups_.lookups;
        lookups_.queried_tokens += queried_tokens;
        lookups_.hit_tokens += pages * page_size_;
    }
    // The empty r holds `pages` (checked by the caller: attach_pages) as its first entries.
    void attach_list(request_id r, std::span<const page_id> pages, std::int64_t queried_tokens) {
        page_list& l = lists_[r.slot];
        for (page_id p : pages) {
            l.pages.push_back(p);
            if (p != null_page) own_.acquire(p);
        }
        l.first_live_page = live_from(static_cast<std::int64_t>(pages.size()) * page_size_);
        attached(r, static_cast<std::int64_t>(pages.size()), queried_tokens);
    }

    // Keys the whole pages of the first `committed` tokens. Errors: tokens_too_short.
    template <class Hooks>
    status key_committed(request_id r, std::int64_t committed, std::span<const token_id> tokens,
                         std::span<const std::uint64_t> page_extra_keys, Hooks&& hooks)
        requires indexed
    {
        const std::int64_t whole = committed / page_size_;
        if (static_cast<std::int64_t>(tokens.size()) < whole * page_size_) return errc::tokens_too_short;
        keying_.key_pages(r.slot, lists_[r.slot].pages, whole, tokens, requests().row(r).scope, page_extra_keys, own_,
                          hooks);
        return {};
    }

    // r's list gains `need` pages. @pre they are free or cached (pages_to_extend / pages_to_hold).
    template <class Hooks>
    void take_pages(request_id r, std::int64_t need, Hooks&& hooks) {
        page_list& l = lists_[r.slot];
        auto h = keyed(hooks);
        for (std::int64_t i = 0; i < need; ++i) l.pages.push_back(own_.take(h));
    }
    // The empty r's list for `length` committed tokens: null entries for the pages the rule has
    // released, new pages for the rest (pages_to_hold checked them).
    template <class Hooks>
    void hold_committed(request_id r, std::int64_t length, Hooks&& hooks) {
        const std::int64_t live = live_from(length);
        lists_[r.slot].pages.assign(static_cast<std::size_t>(live), null_page);
        lists_[r.slot].first_live_page = live;
        take_pages(r, pages_for_tokens(length, page_size_) - live, hooks);
    }

    // r's list for `length` tokens of which `committed` are committed: releases the dropped tail
    // pages and, for rule-governed pools, the pages no query can see any more.
    template <class Hooks>
    void resize(request_id r, std::int64_t length, std::int64_t committed, Hooks&& hooks) {
        resize_list(lists_[r.slot], requests().row(r).keep, length, committed, hooks);
    }
    // The same on r's list `l` and its retention `keep`, looked up once by the caller.
    template <class Hooks>
    void resize_list(page_list& l, const retention& keep, std::int64_t length, std::int64_t committed, Hooks& hooks) {
        const auto kept = static_cast<std::size_t>(pages_for_tokens(length, page_size_));
        release(l, keep, kept, l.pages.size(), hooks);
        l.pages.resize(kept);
        const std::int64_t live = live_from(committed);
        release(l, keep, static_cast<std::size_t>(l.first_live_page), static_cast<std::size_t>(live), hooks);
        for (std::int64_t i = l.first_live_page; i < live; ++i) l.pages[static_cast<std::size_t>(i)] = null_page;
        l.first_live_page = live;
    }
    // r rolled back to `n` tokens (check_truncate passed): a kept partial keyed page loses its key.
    template <class Hooks>
    void truncate_list(request_id r, std::int64_t n, Hooks&& hooks) {
        page_list& l = lists_[r.slot];
        keying_.truncate(r.slot, l.pages, n, own_, hooks);
        const request_row& row = requests().row(r);
        resize_list(l, row.keep, n, row.committed_tokens < n ? row.committed_tokens : n, hooks);
    }
    // Releases every page of r; the list keeps its capacity (the slot's next request allocates nothing).
    template <class Hooks>
    void release_all(request_id r, Hooks&& hooks) {
        page_list& l = lists_[r.slot];
        release(l, requests().row(r).keep, 0, l.pages.size(), hooks);
        l.pages.clear();
        l.first_live_page = 0;
    }

    // Cached page p leaves the cache now (forgotten with its cached descendants), to the free list.
    template <class Hooks>
    void discard_cached(page_id p, Hooks&& hooks)
        requires caching
    {
        auto h = keyed(hooks);
        own_.discard(p, h);
    }
    // Every cached page is freed and every key dropped (`cleared` reported by an indexed pool).
    template <class Hooks>
    void discard_all(Hooks&& hooks)
        requires caching
    {
        auto h = keyed(hooks);
        own_.discard_all(h);
        if constexpr (indexed) keying_.report_cleared();
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
};

}  // namespace pagedkv
