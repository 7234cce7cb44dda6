// One full pool and N group pools over one request table, tied by one full-to-group page mapping
// per group: the mechanism behind hybrid_pool and multi_hybrid_pool.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pagedkv/cache/cache_scope.hpp"
#include "pagedkv/cache/kv_event.hpp"
#include "pagedkv/core/attention_rule.hpp"
#include "pagedkv/core/contract.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"
#include "pagedkv/core/token_id.hpp"
#include "pagedkv/pool/each_group.hpp"
#include "pagedkv/pool/mapping_hooks.hpp"
#include "pagedkv/pool/page_mapping.hpp"
#include "pagedkv/pool/pool_hooks.hpp"
#include "pagedkv/pool/paged_pool.hpp"
#include "pagedkv/pool/request_table.hpp"

namespace pagedkv {

/// Every pool has the same page size P: page i of a request holds tokens [i*P, (i+1)*P) in each.
/// The request facts (ids, lengths, scope, retention) live once, in the request table; each pool
/// reads them from it (shares it) and holds only page lists, keyed by its slots. Group k's mapping
/// (page_mapping) gives the group-k page of each full page; a request's group-k entry i is the
/// null page (released by the group's rule) or exactly the mapping of its full entry i, also when
/// shared.
///
/// Every mutation changes every pool, or none: each pool's plan is asked first, in the order full,
/// group 0, group 1, ... (truncate: the groups, then full); the first refusal is returned and
/// nothing has moved. Then the bodies run (a group's page is released before or with its full
/// page) and the request's lengths are written once.
///
/// Prefix reuse across the pools (when `caching`) is mapped_prefix_cache's.
///
/// The mutations take an optional listener `outer` (a class derived from no_hooks; the host tier,
/// pool/tiered_hybrid_pool.hpp) told, inside the call, of what it may define:
/// - `full_losing(f)`: cached full page f is about to lose its content, still keyed, its group
///   pages still mapped and cached;
/// - `full_freed(f)`: f went back to the free list;
/// - `group_released(k, s)`: group-k page s left its last request's list or the cache (freed, or
///   evicted: a tombstone), still mapped.
/// With `no_hooks` (the default) these compile to nothing.
template <class FullPool, class... GroupPools>
class mapped_pools {
public:
    /// The typed views' types: full() can only emit full-layer tables, group<K>() group K's.
    using full_pool_type = FullPool;
    template <std::size_t K>
    using group_pool_type = std::tuple_element_t<K, std::tuple<GroupPools...>>;
    static constexpr std::size_t group_count = sizeof...(GroupPools);
    /// Prefix reuse: the full pool's index, and groups that can share and cache pages.
    static constexpr bool caching = FullPool::indexed && (GroupPools::caching && ...);

    /// A new request in every pool. Errors: too_many_requests.
    result<request_id> add_request() { return add_request_in(cache_scope{}, retention{}); }
    /// A new request cached under `scope`, released with priorities `keep`. Errors: too_many_requests.
    result<request_id> add_request(cache_scope scope, retention keep = {})
        requires caching
    {
        return add_request_in(scope, keep);
    }

    /// Reserve `n` tokens in every pool, or in none; each pool evicts cached pages when its free
    /// list runs out. Errors: unknown_request, negative_length, length_overflow,
    /// out_of_full_pages, then the first short group's out_of_swa_pages / out_of_chunked_pages.
    template <pool_hooks Outer = no_hooks>
    status extend(request_id r, std::int64_t n, Outer&& outer = {}) {
        const auto need = full_.pages_to_extend(r, n);
        if (!need) return need.err();
        std::array<std::int64_t, group_count> group_need{};
        if (status s = first_refusal([&](auto k) {
                const auto g = group<k>().pages_to_extend(r, n);
                if (g) group_need[k] = g.value();
                return g.code();
            });
            !s)
            return s;
        const std::size_t old_pages = full_.pages(r).size();
        full_.take_pages(r, need.value(), full_with(outer));
        each_index([&](auto k) {
            group_mut<k>().take_pages(r, group_need[k], group_with<k>(evictions::reported, outer));
            link_from<k>(r, old_pages);
        });
        requests_.row(r).length_tokens += n;
        return {};
    }

    /// Commit `n` of the in-flight tokens in every pool; drafts past them are dropped and each
    /// group releases the pages its rule no longer lets a query see, by the committed length.
    /// Errors: unknown_request, negative_length, commit_exceeds_reserved.
    template <pool_hooks Outer = no_hooks>
    status commit(request_id r, std::int64_t n, Outer&& outer = {}) {
        if (auto c = full_.check_commit(r, n); !c) return c;
        const std::int64_t committed = requests_.row(r).committed_tokens + n;
        each_index(
            [&](auto k) { group_mut<k>().resize(r, committed, committed, group_with<k>(evictions::reported, outer)); });
        full_.resize(r, committed, committed, full_with(outer));
        requests_.set_lengths(r, committed, committed);
        return {};
    }

    /// Roll back to `n` tokens in every pool. Errors: those of `paged_pool::truncate`: the groups'
    /// (in order) before the full pool's.
    template <pool_hooks Outer = no_hooks>
    status truncate(request_id r, std::int64_t n, Outer&& outer = {}) {
        if (status s = first_refusal([&](auto k) { return group<k>().check_truncate(r, n).code(); }); !s) return s;
        if (auto s = full_.check_truncate(r, n); !s) return s;
        each_index([&](auto k) { group_mut<k>().truncate_list(r, n, group_with<k>(evictions::reported, outer)); });
        full_.truncate_list(r, n, full_with(outer));
        requests_.truncate(r, n);
        return {};
    }

    /// Free the request in every pool; pages no request holds are freed (or cached, when keyed).
    /// Errors: unknown_request.
    template <pool_hooks Outer = no_hooks>
    status free_request(request_id r, Outer&& outer = {}) {
        if (!contains(r)) return errc::unknown_request;
        each_index([&](auto k) { group_mut<k>().release_all(r, group_with<k>(evictions::reported, outer)); });
        full_.release_all(r, full_with(outer));
        requests_.retire(r);
        return {};
    }

    /// A new request holding `length` committed tokens in every pool, or in none (the import side
    /// of disaggregation, see dist/request_transfer.hpp): full pages for all of them, group pages
    /// for what each rule still lets the next query see, the mappings set as if it had been
    /// prefilled here. Errors: negative_length, length_overflow, out_of_full_pages, then the first
    /// short group's out_of_*_pages, then too_many_requests.
    result<request_id> add_committed_request(std::int64_t length) {
        if (auto need = full_.pages_to_hold(length); !need) return need.err();
        if (status s = first_refusal([&](auto k) { return group<k>().pages_to_hold(length).code(); }); !s)
            return s.err();
        const auto added = add_request_in(cache_scope{}, retention{});
        if (!added) return added;
        const request_id r = added.value();
        no_hooks none;
        full_.hold_committed(r, length, full_with(none));
        each_index([&](auto k) {
            group_mut<k>().hold_committed(r, length, group_with<k>(evictions::reported, none));
            link_from<k>(r, 0);
        });
        requests_.set_lengths(r, length, length);
        return r;
    }

    // ---- typed views -------------------------------------------------------------------------------

    /// The full layers' view: it can only emit full-layer tables. Its stats() count its own
    /// lookups, hits, stored and evicted pages.
    const full_pool_type& full() const noexcept { return full_; }
    /// Group K's view: a table for group K's layers can only come from here (its type carries the
    /// group's kind; its rule() the window or chunk).
    template <std::size_t K>
        requires(K < group_count)
    const group_pool_type<K>& group() const noexcept {
        return std::get<K>(groups_);
    }
    bool contains(request_id r) const noexcept { return requests_.contains(r); }

    /// Group K's mapping, indexed by full page; every entry is a page index of group K's pool.
    template <std::size_t K>
        requires(K < group_count)
    std::span<const page_id> full_to_group() const noexcept {
        return maps_[K].from_full();
    }

    /// Group K's KV slot of full slot `page * P + offset`: the same offset in the mapped page.
    /// @pre 0 <= full_slot < full().size().pages * P, and the token is still visible to group K's
    /// next query (tokens in flight always are). Otherwise the entry is the null page, or, in a
    /// caching pool, a cached page that holds other requests' KV: never write through it.
    template <std::size_t K>
        requires(K < group_count)
    std::int64_t group_slot(std::int64_t full_slot) const noexcept {
        PAGEDKV_ASSERT(full_slot >= 0 && full_slot < std::int64_t{full_.size().pages} * full_.page_size_tokens(),
                       "group_slot<K>(slot) of a slot outside the full pool");
        const table_row row{0, 0, full_.page_size_tokens()};  // only its page size: a slot's page and offset
        return row.slot_of(maps_[K].of(page_id{static_cast<std::int32_t>(row.page_of(full_slot))}).value, full_slot);
    }

    /// What a mutation of r can break, in time linear in its pages: each pool's request invariants
    /// and r's entries in every mapping (debug/checked_pool.hpp calls it after each mutation).
    status check_request_invariants(request_id r) const {
        if (auto s = full_.check_request_invariants(r); !s) return s;
        return first_refusal([&](auto k) -> status {
            if (auto s = group<k>().check_request_invariants(r); !s) return s;
            return check_pairing<k>(r);
        });
    }
    /// The request table's invariants, every pool's, and each mapping's (page_mapping), and for
    /// every request and group k: each live group-k entry is the mapping of its full entry.
    status check_invariants() const {
        if (auto s = requests_.check_invariants(); !s) return s;
        if (auto s = full_.check_invariants(); !s) return s;
        return first_refusal([&](auto k) -> status {
            if (auto s = group<k>().check_invariants(); !s) return s;
            status bad{};
            requests_.for_each([&](request_id r) {
                if (bad.ok()) bad = check_pairing<k>(r);
            });
            if (!bad.ok()) return bad;
            return maps_[k].check_against(full_, group<k>());
        });
    }

protected:
    /// Takes over the pages and configuration of pools that have issued no request.
    /// @pre every pool's request_slots() == 0 and page_size_tokens() equal
    mapped_pools(FullPool&& f, GroupPools&&... g)
        : full_(std::move(f)), maps_{page_mapping(full_.size(), g.size())...}, groups_(std::move(g)...) {
        bind();
    }
    // The views read this object's request table, wherever it was copied or moved to.
    mapped_pools(const mapped_pools& o) : requests_(o.requests_), full_(o.full_), maps_(o.maps_), groups_(o.groups_) {
        bind();
    }
    mapped_pools(mapped_pools&& o) noexcept
        : requests_(std::move(o.requests_)),
          full_(std::move(o.full_)),
          maps_(std::move(o.maps_)),
          groups_(std::move(o.groups_)) {
        bind();
    }
    mapped_pools& operator=(const mapped_pools& o) { return *this = mapped_pools(o); }
    mapped_pools& operator=(mapped_pools&& o) noexcept {
        requests_ = std::move(o.requests_);
        full_ = std::move(o.full_);
        maps_ = std::move(o.maps_);
        groups_ = std::move(o.groups_);
        bind();
        return *this;
    }
    ~mapped_pools() = default;

    template <class, std::size_t, class>
    friend struct detail::group_hooks;
    template <class, class>
    friend struct detail::full_hooks;
    using evictions = detail::group_evictions;
    // The hooks with a listener, its type spelled out (nvcc's front end does not deduce a member
    // template's arguments from a braced initializer).
    template <class Outer>
    detail::full_hooks<mapped_pools, Outer> full_with(Outer& outer) noexcept {
        return detail::full_hooks<mapped_pools, Outer>(*this, outer);
    }
    template <std::size_t K, class Outer>
    detail::group_hooks<mapped_pools, K, Outer> group_with(evictions e, Outer& outer) noexcept {
        return detail::group_hooks<mapped_pools, K, Outer>(*this, e, outer);
    }
    template <std::size_t K>
    group_pool_type<K>& group_mut() noexcept {  // group<K>(), writable: for the bodies
        return std::get<K>(groups_);
    }
    template <class F>
    static void each_index(F&& f) {
        detail::each_group<group_count>(f);
    }
    template <class F>
    static status first_refusal(F&& f) {
        return detail::first_refusal<group_count>(f);
    }

    // Invariants: see check_invariants. The one home of every request's facts; the pools below read
    // it (bind) and hold page lists by its slots.
    request_table requests_;
    full_pool_type full_;
    std::array<page_mapping, group_count> maps_;  // maps_[k]: group k's, written only by link / unlink
    std::tuple<GroupPools...> groups_;

private:
    void bind() noexcept {
        full_.share_requests(requests_);
        each_index([&](auto k) { group_mut<k>().share_requests(requests_); });
    }
    result<request_id> add_request_in(cache_scope scope, retention keep) {
        const auto r = requests_.add(scope, keep);
        if (!r) return r;
        full_.open_slot(r.value().slot);
        each_index([&](auto k) { group_mut<k>().open_slot(r.value().slot); });
        return r;
    }

    // Links r's live group-K entries from list index `first` on to the full pages at the same index.
    template <std::size_t K>
    void link_from(request_id r, std::size_t first) noexcept {
        const auto f = full_.pages(r);
        const auto s = group<K>().pages(r);
        const auto live = static_cast<std::size_t>(group<K>().first_live_page(r));
        for (std::size_t i = first < live ? live : first; i < f.size(); ++i) maps_[K].link(f[i], s[i]);
    }
    // Each live group-K entry of r is the mapping of its full entry.
    template <std::size_t K>
    status check_pairing(request_id r) const {
        const auto f = full_.pages(r);
        const auto s = group<K>().pages(r);
        for (std::size_t i = 0; i < f.size(); ++i)
            if (s[i] != null_page && s[i] != maps_[K].of(f[i]))
                return error{errc::invariant_violated, "the full-to-group mapping disagrees with a group page list"};
        return {};
    }
};

}  // namespace pagedkv
