// One full pool and any number of rule-governed pools (sliding windows, chunked local attention),
// tied together by one mapping per group from each full page to that group's page.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>

#include "pagedkv/alloc/lifo_free_stack.hpp"
#include "pagedkv/core/attention_rule.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/pool/chunked_pool.hpp"
#include "pagedkv/pool/full_pool.hpp"
#include "pagedkv/pool/mapped_prefix_cache.hpp"
#include "pagedkv/pool/swa_pool.hpp"

namespace pagedkv {

/// What a group of a multi_hybrid_pool is: a pool whose rule can release pages (sliding, chunked).
template <class P>
concept rule_governed_pool = P::kind != attention_kind::full && attention_rule<typename P::rule_type>;

/// The pool sizes of one group: its pages and its rule's size (window W or chunk C, in tokens).
struct group_size {
    pool_size pages;
    std::int64_t rule_tokens = 0;
};

/// Models with more than two kinds of layer (Llama-4: chunked local attention beside full layers;
/// several window sizes in one model) keep one full pool and one pool per other group, every pool
/// with the same page size P: page i of a request holds tokens [i*P, (i+1)*P) in each of them.
/// Group k's mapping `full_to_group<k>()[f]` is the group-k page holding full page f's tokens, or
/// the group's null page; a request's group-k entry i is the null page (released by the group's
/// rule) or exactly full_to_group<k>[F[i]]. Each mapping has one writer pair (link / unlink), called
/// in the same call as the pool mutation that gives or takes the page.
///
/// Every mutation changes every pool, or none: each pool's plan (pages_to_extend, check_commit,
/// check_truncate, pages_to_hold) is asked first, in the order full, group 0, group 1, ...; the
/// first refusal is returned and nothing has moved. Speculative reservations are released by the
/// committed length in every group. The group list is fixed at compile time; windows and chunks
/// are runtime values. The request facts live once (one request table); `full()` and `group<K>()`
/// are views of each pool's page lists. The mutations are mapped_pools' (pool/mapped_pools.hpp),
/// the prefix cache mapped_prefix_cache's.
///
/// With caching pools everywhere (`caching_multi_hybrid_pool<lru, ...>`) a full page keeps each
/// group's page while it has a content key: a group page no request holds stays cached, still
/// mapped, and may be evicted on its own (a tombstone in that group only: its mapping entry becomes
/// null while f stays cached). A hit of H tokens needs the full pages of [0, H) and, in each group
/// k, the pages [hit_first_page(rule_k, H), H / P): the longest prefix every group can serve (the
/// minimum over the groups' rules, as TensorRT-LLM #10183 describes for several windows).
///
/// Invariant (check_invariants): the request table's and each pool's own; for every group k the mapping agrees with
/// every request's group-k list, its inverse agrees with it, a mapped pair is in use in both pools (or cached in both),
/// a cached group page's full page has a content key, and every group-k page in use is mapped.
template <class FullPool, rule_governed_pool... GroupPools>
    requires(FullPool::kind == attention_kind::full && sizeof...(GroupPools) >= 1 &&
             ((GroupPools::caching == FullPool::caching) && ...) && FullPool::caching == FullPool::indexed)
class multi_hybrid_pool : protected mapped_prefix_cache<FullPool, GroupPools...> {
    using pools = mapped_prefix_cache<FullPool, GroupPools...>;
    template <class>
    struct sized {  // one group_size argument per group pool
        using type = group_size;
    };

public:
    using typename pools::full_pool_type;
    using pools::group_count, pools::caching;
    /// The view type of group K (its kind is the group's).
    template <std::size_t K>
    using group_pool_type = typename pools::template group_pool_type<K>;

    /// The full pool and one pool per group, created with one page size. Errors: those of each
    /// pool's `create` (invalid_pool_size, invalid_page_size, invalid_window, invalid_chunk), the
    /// full pool's first, then the groups' in order. The full pool, which may hold a large prefix
    /// index, is built last: nothing is allocated for it in a call that fails.
    static result<multi_hybrid_pool> create(pool_size full_pages, std::int32_t page_size_tokens,
                                            typename sized<GroupPools>::type... groups) {
        if (auto c = FullPool::check_create(full_pages, page_size_tokens); !c) return c.err();
        error bad{};
        // One create per group, in order; after the first failure the rest are not attempted.
        auto made = std::tuple{make_group<GroupPools>(groups, page_size_tokens, bad)...};
        if (bad.code != errc{}) return bad;
        auto f = FullPool::create(full_pages, page_size_tokens);
        if (!f) return f.err();
        return std::apply([&](auto&... g) { return from_pools(std::move(f.value()), std::move(*g)...); }, made);
    }

    /// Composes pools created elsewhere. Errors: page_size_mismatch (a group's page size differs
    /// from the full pool's), pool_not_empty (a pool has already issued a request: its pages and
    /// lengths would not be the composite's).
    static result<multi_hybrid_pool> from_pools(FullPool full, GroupPools... groups) {
        if (((groups.page_size_tokens() != full.page_size_tokens()) || ...)) return errc::page_size_mismatch;
        if (full.request_slots() != 0 || ((groups.request_slots() != 0) || ...)) return errc::pool_not_empty;
        return multi_hybrid_pool(std::move(full), std::move(groups)...);
    }

    using pools::add_request, pools::extend, pools::commit, pools::truncate, pools::free_request,
        pools::add_committed_request;
    using pools::attach_prefix, pools::lookup, pools::cache_committed, pools::preempt, pools::reset_cache,
        pools::set_event_sink;
    using pools::full, pools::group, pools::contains, pools::full_to_group, pools::group_slot, pools::check_invariants;

private:
    multi_hybrid_pool(FullPool&& f, GroupPools&&... g) : pools(std::move(f), std::move(g)...) {}

    // A group's `create`, or nothing once `bad` holds an error (an earlier group's or this one's).
    template <class Pool>
    static std::optional<Pool> make_group(group_size g, std::int32_t page_size, error& bad) {
        if (bad.code != errc{}) return std::nullopt;
        auto p = Pool::create(g.pages, page_size, g.rule_tokens);
        if (!p) {
            bad = p.err();
            return std::nullopt;
        }
        return std::move(p.value());
    }
};

/// A multi-group hybrid whose pools all cache released pages under eviction policy `Evict`; the
/// group pools are named by kind, e.g. `caching_multi_hybrid_pool<lru, attention_kind::sliding,
/// attention_kind::chunked>`.
template <eviction_policy Evict, attention_kind... GroupKinds>
using caching_multi_hybrid_pool =
    multi_hybrid_pool<full_pool<lifo_free_stack, Evict>, paged_pool<lifo_free_stack, GroupKinds, Evict>...>;

}  // namespace pagedkv
