// A 64-bit digest of everything a pool lets a caller observe, so "a failing call changed nothing"
// is one comparison: state_digest(pool) before == state_digest(pool) after.
#pragma once
#include <concepts>
#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>

#include "pagedkv/cache/cache_stats.hpp"
#include "pagedkv/cache/prefix_index.hpp"
#include "pagedkv/pool/hybrid_pool.hpp"
#include "pagedkv/pool/multi_hybrid_pool.hpp"
#include "pagedkv/pool/tiered_pool.hpp"
#include "pagedkv/table/page_table_source.hpp"

namespace pagedkv {

/// Folds 64-bit words into a digest, in order. Each step is a bijection of (state ^ word), so two
/// sequences that differ in exactly one word never collide; list lengths are folded in too, so the
/// structure (which word belongs to which list) is part of the digest.
class state_hasher {
public:
    constexpr void add(std::int64_t word) noexcept {
        std::uint64_t z = h_ ^ static_cast<std::uint64_t>(word);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;  // splitmix64's finalizer: invertible
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        h_ = z ^ (z >> 31);
    }
    constexpr std::uint64_t value() const noexcept { return h_; }

private:
    std::uint64_t h_ = 0x243f6a8885a308d3ULL;  // any fixed start; digits of pi
};

namespace detail {
// What the two overloads below read: a full or SWA pool, and a hybrid pool, whatever policies
// they are instantiated with.
template <class P>
concept single_pool =
    page_table_source<P> && requires(const P& p, void (*visit_page)(page_id), void (*visit_request)(request_id)) {
        p.allocator().for_each_free(visit_page);
        p.for_each_request(visit_request);
        { p.window_tokens() } -> std::same_as<std::int64_t>;
        { p.live_requests() } -> std::same_as<std::int64_t>;
        { p.free_pages() } -> std::same_as<std::int32_t>;
    };
template <class H>
concept paired_pool =
    single_pool<std::remove_cvref_t<decltype(std::declval<const H&>().full())>> &&
    single_pool<std::remove_cvref_t<decltype(std::declval<const H&>().swa())>> && requires(const H& h) {
        { h.full_to_swa() } -> std::same_as<std::span<const page_id>>;
    };
}  // namespace detail

/// The prefix cache of a caching pool: every page's reference count and cache membership, the
/// cache counters, and for an indexed (full) pool every keyed page's key, parent, scope, extra key
/// and stored tokens. Not included, because no const call exposes it: the policy's eviction order
/// (only which pages are cached).
template <detail::single_pool P>
void hash_cache(state_hasher& h, const P& pool) {
    if constexpr (P::caching) {
        h.add(pool.cached_pages());
        const cache_stats& st = pool.stats();
        for (std::int64_t v : {st.lookups, st.queried_tokens, st.hit_tokens, st.stored_pages, st.evicted_pages})
            h.add(v);
        for (std::int32_t i = 1; i < pool.size().pages; ++i) {
            const page_id p{i};
            h.add(pool.ref_count(p));
            h.add(pool.is_cached(p));
            if constexpr (P::indexed) {
                const prefix_index& idx = pool.index();
                h.add(idx.keyed(p));
                if (!idx.keyed(p)) continue;
                const page_content c = idx.content(p);
                h.add(static_cast<std::int64_t>(idx.key(p)));
                h.add(idx.parent(p).value);
                h.add(static_cast<std::int64_t>(c.scope.tenant_salt));
                h.add(static_cast<std::int64_t>(c.scope.extra_key));
                h.add(static_cast<std::int64_t>(c.page_extra_key));
                for (token_id t : c.tokens) h.add(t);
            }
        }
    } else {
        (void)h, (void)pool;
    }
}

/// Everything a caller can read back from a full or SWA pool: configuration, counters, the free
/// list *in hand-out order* (which page the next extend gets is observable), every live request's
/// id, lengths, page list (and cache scope), and for a caching pool its cache (`hash_cache`). Not
/// included, because no const call exposes it: which id the next add_request will return.
template <detail::single_pool P>
void hash_state(state_hasher& h, const P& pool) {
    h.add(static_cast<std::int64_t>(P::kind));
    h.add(pool.size().pages);
    h.add(pool.page_size_tokens());
    h.add(pool.window_tokens());
    if constexpr (P::kind == attention_kind::chunked) h.add(pool.chunk_tokens());  // other kinds: digests as before
    h.add(pool.live_requests());
    h.add(pool.free_pages());
    pool.allocator().for_each_free([&](page_id p) { h.add(p.value); });
    pool.for_each_request([&](request_id r) {
        h.add(r.slot);
        h.add(r.generation);
        h.add(pool.length_tokens(r));
        h.add(pool.committed_tokens(r));
        h.add(pool.first_live_page(r));
        h.add(static_cast<std::int64_t>(pool.pages(r).size()));
        for (page_id p : pool.pages(r)) h.add(p.value);
        if constexpr (P::caching) {
            h.add(static_cast<std::int64_t>(pool.scope(r).tenant_salt));
            h.add(static_cast<std::int64_t>(pool.scope(r).extra_key));
        }
    });
    hash_cache(h, pool);
}

/// Both pools (with their caches) plus the full_to_swa mapping.
template <detail::paired_pool H>
void hash_state(state_hasher& h, const H& pool) {
    hash_state(h, pool.full());
    hash_state(h, pool.swa());
    h.add(static_cast<std::int64_t>(pool.full_to_swa().size()));
    for (page_id p : pool.full_to_swa()) h.add(p.value);
}

/// Every pool of a multi_hybrid_pool (full first, then the groups in order) and every group's mapping.
template <class FullPool, class... GroupPools>
void hash_state(state_hasher& h, const multi_hybrid_pool<FullPool, GroupPools...>& pool) {
    hash_state(h, pool.full());
    [&]<std::size_t... K>(std::index_sequence<K...>) {
        ((hash_state(h, pool.template group<K>()),
          h.add(static_cast<std::int64_t>(pool.template full_to_group<K>().size())),
          [&] {
              for (page_id p : pool.template full_to_group<K>()) h.add(p.value);
          }()),
         ...);
    }(std::make_index_sequence<sizeof...(GroupPools)>{});
}

/// A pool with a host tier: the GPU pool, every host page's state, pins and content key, which GPU
/// pages are loading, the copies planned and in flight, and the tier's counters. Not included: the
/// host policy's eviction order (only which pages are resident) and the plans' runs.
template <class Pool, eviction_policy HostEvict>
void hash_state(state_hasher& h, const tiered_pool<Pool, HostEvict>& pool) {
    hash_state(h, pool.gpu());
    const auto& host = pool.host();
    h.add(host.size().pages);
    for (std::int32_t i = 1; i < host.size().pages; ++i) {
        const page_id p{i};
        h.add(static_cast<std::int64_t>(host.state(p)));
        h.add(host.pins(p));
        if (host.state(p) != host_page_state::free) h.add(static_cast<std::int64_t>(host.key(p)));
    }
    for (std::int32_t i = 1; i < pool.gpu().size().pages; ++i) h.add(pool.loading(page_id{i}));
    h.add(pool.planned_copies());
    h.add(pool.plans_in_flight());
    const tier_stats& st = pool.stats();
    for (std::int64_t v :
         {st.host_hit_tokens, st.loaded_pages, st.written_back_pages, st.already_on_host, st.lost_pages})
        h.add(v);
}

/// A type whose observable state can be digested: some `hash_state(state_hasher&, const T&)` is
/// found by argument-dependent lookup. New stateful types (prefix caches, evictors) join by adding
/// one such overload next to this header's (caching pools are covered by `hash_cache`).
template <class T>
concept digestible = requires(state_hasher& h, const T& t) { hash_state(h, t); };

/// The digest of `t`'s observable state. O(state); for tests, fuzzing and trace replay.
template <digestible T>
std::uint64_t state_digest(const T& t) {
    state_hasher h;
    hash_state(h, t);
    return h.value();
}

}  // namespace pagedkv
