// A request's pages in a full pool and an SWA pool, tied together by the full_to_swa mapping.
#pragma once
#include <cstdint>
#include <span>
#include <utility>

#include "pagedkv/alloc/lifo_free_stack.hpp"
#include "pagedkv/core/contract.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/pool/full_pool.hpp"
#include "pagedkv/pool/mapped_prefix_cache.hpp"
#include "pagedkv/pool/swa_pool.hpp"

namespace pagedkv {

/// Models mixing full-attention and sliding-window layers keep two pools with the same page size;
/// page i of a request holds tokens [i*P, (i+1)*P) in both. `full_to_swa()[f]` is the SWA page that
/// holds the same tokens as full page f for the SWA layers, or the SWA null page when there is none
/// (f free, or f's SWA KV released or evicted). Same tokens, same KV: the SWA page is a property of
/// f, so a request's SWA entry i is either the null page (released by its window) or exactly
/// full_to_swa[F[i]], also when f is shared. Every mutation updates both pools and the mapping in
/// the same call; a failing call changes neither pool nor the mapping. The request facts live once
/// (the hybrid's request table); `full()` and `swa()` are views of each pool's page lists.
///
/// This is mapped_pools (pool/mapped_pools.hpp) with one group, the SWA pool: the mutations, their
/// errors and their listener (`outer`: `full_losing`, `full_freed`, `group_released(0, s)` for an
/// SWA page s) are documented there, the prefix cache in pool/mapped_prefix_cache.hpp. With
/// caching pools on both sides (`caching_hybrid_pool<lru>`) a full page keeps its SWA page while it
/// has a content key, and a hit of H tokens needs the full pages of [0, H) and the SWA pages of
/// [H - W + 1, H) (see attach_prefix).
template <class FullPool = full_pool<>, class SwaPool = swa_pool<>>
    requires(FullPool::kind == attention_kind::full && SwaPool::kind == attention_kind::sliding)
class hybrid_pool : protected mapped_prefix_cache<FullPool, SwaPool> {
    using pools = mapped_prefix_cache<FullPool, SwaPool>;

public:
    using typename pools::full_pool_type;
    using swa_pool_type = typename pools::template group_pool_type<0>;
    using pools::caching;

    /// Errors: those of the two pools' `create` (full first). The full pool, which may hold a large
    /// prefix index, is built last: nothing is allocated for a call that fails.
    static result<hybrid_pool> create(pool_size full_pages, pool_size swa_pages, std::int32_t page_size_tokens,
                                      std::int64_t window_tokens) {
        if (auto c = FullPool::check_create(full_pages, page_size_tokens); !c) return c.err();
        auto s = SwaPool::create(swa_pages, page_size_tokens, window_tokens);
        if (!s) return s.err();
        auto f = FullPool::create(full_pages, page_size_tokens);
        if (!f) return f.err();
        return hybrid_pool(std::move(f.value()), std::move(s.value()));
    }

    using pools::add_request, pools::extend, pools::commit, pools::truncate, pools::free_request,
        pools::add_committed_request;
    using pools::attach_prefix, pools::lookup, pools::cache_committed, pools::preempt, pools::reset_cache,
        pools::set_event_sink;
    using pools::full, pools::contains, pools::check_request_invariants, pools::check_invariants;

    /// The SWA layers' view: it can only emit SWA-layer tables. Its stats() count its own lookups,
    /// hits, stored and evicted pages.
    const swa_pool_type& swa() const noexcept { return pools::template group<0>(); }

    /// Indexed by full page; every entry is an SWA page index in [0, swa().size()).
    std::span<const page_id> full_to_swa() const noexcept { return pools::template full_to_group<0>(); }

    /// The SWA KV slot of full slot `page * P + offset`: the same offset in the mapped SWA page.
    /// @pre 0 <= full_slot < full().size().pages * P, and the token is inside its request's window
    /// (tokens in flight always are). Outside the window the entry is the null page, or, in a
    /// caching pool, a cached SWA page that holds other requests' KV: never write through it.
    std::int64_t swa_slot(std::int64_t full_slot) const noexcept {
        PAGEDKV_ASSERT(full_slot >= 0 && full_slot < std::int64_t{full().size().pages} * full().page_size_tokens(),
                       "swa_slot(slot) of a slot outside the full pool");
        return pools::template group_slot<0>(full_slot);
    }

private:
    hybrid_pool(FullPool&& f, SwaPool&& s) : pools(std::move(f), std::move(s)) {}
};

/// A hybrid pool whose full and SWA pools cache released pages under eviction policy `Evict`.
template <eviction_policy Evict, alloc_policy Alloc = lifo_free_stack>
using caching_hybrid_pool = hybrid_pool<full_pool<Alloc, Evict>, swa_pool<Alloc, Evict>>;

}  // namespace pagedkv
