// One full pool and any number of rule-governed pools (sliding windows, chunked local attention),
// tied together by one mapping per group from each full page to that group's page.
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

#include "pagedkv/core/attention_rule.hpp"
#include "pagedkv/pool/chunked_pool.hpp"
#include "pagedkv/pool/full_pool.hpp"
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
/// committed length in every group (each pool's commit). The group list is fixed at compile time;
/// windows and chunks are runtime values. Without a prefix cache (caching pools are the two-group
/// `caching_hybrid_pool`'s for now).
///
/// Invariant (check_invariants): each pool's own; all pools hold the same requests with the same
/// lengths; for every group k the mapping agrees with every request's group-k list, its inverse
/// agrees with it, a mapped pair is in use in both pools, and every group-k page in use is mapped.
template <class FullPool, rule_governed_pool... GroupPools>
    requires(FullPool::kind == attention_kind::full && sizeof...(GroupPools) >= 1 && !FullPool::caching &&
             (!GroupPools::caching && ...))
class multi_hybrid_pool {
    template <class>
    struct sized {  // one group_size argument per group pool
        using type = group_size;
    };

public:
    using full_pool_type = FullPool;
    static constexpr std::size_t group_count = sizeof...(GroupPools);
    /// The pool type of group K.
    template <std::size_t K>
    using group_pool_type = std::tuple_element_t<K, std::tuple<GroupPools...>>;

    /// The full pool and one pool per group, created with one page size. Errors: those of each
    /// pool's `create` (invalid_pool_size, invalid_page_size, invalid_window, invalid_chunk), the
    /// full pool's first, then the groups' in order.
    static result<multi_hybrid_pool> create(pool_size full_pages, std::int32_t page_size_tokens,
                                            typename sized<GroupPools>::type... groups) {
        auto f = FullPool::create(full_pages, page_size_tokens);
        if (!f) return f.err();
        error bad{};
        // One create per group, in order; after the first failure the rest are not attempted.
        auto made = std::tuple{make_group<GroupPools>(groups, page_size_tokens, bad)...};
        if (bad.code != errc{}) return bad;
        return std::apply([&](auto&... g) { return from_pools(std::move(f.value()), std::move(*g)...); }, made);
    }

    /// Composes pools created elsewhere. Errors: page_size_mismatch (a group's page size differs
    /// from the full pool's), pool_not_empty (a pool has already issued a request: the pools would
    /// not hand out the same ids).
    static result<multi_hybrid_pool> from_pools(FullPool full, GroupPools... groups) {
        if (((groups.page_size_tokens() != full.page_size_tokens()) || ...)) return errc::page_size_mismatch;
        if (full.request_slots() != 0 || ((groups.request_slots() != 0) || ...)) return errc::pool_not_empty;
        return multi_hybrid_pool(std::move(full), std::move(groups)...);
    }

    /// A new request in every pool (all hand out the same id: they are only ever mutated together).
    /// Errors: too_many_requests.
    result<request_id> add_request() {
        const auto r = full_.add_request();
        if (!r) return r;
        each_group([&](auto k) { (void)group_mut<k>().add_request(); });
        return r;
    }

    /// Reserve `n` tokens in every pool, or in none. Errors: unknown_request, negative_length,
    /// length_overflow, out_of_full_pages, then the first short group's out_of_swa_pages /
    /// out_of_chunked_pages.
    status extend(request_id r, std::int64_t n) {
        if (auto need = full_.pages_to_extend(r, n); !need) return need.err();
        if (status s = first_refusal([&](auto k) { return group<k>().pages_to_extend(r, n).code(); }); !s) return s;
        const std::size_t old_pages = full_.pages(r).size();
        (void)full_.extend(r, n);  // every pool checked above: cannot fail
        each_group([&](auto k) {
            (void)group_mut<k>().extend(r, n, group_hooks<k>{*this});
            link_from<k>(r, old_pages);
        });
        return {};
    }

    /// Commit `n` of the in-flight tokens in every pool; drafts past them are dropped and each
    /// group releases the pages its rule no longer lets a query see, by the committed length.
    /// Errors: unknown_request, negative_length, commit_exceeds_reserved.
    status commit(request_id r, std::int64_t n) {
        if (auto c = full_.check_commit(r, n); !c) return c;  // every pool holds the same lengths
        // Groups first: a group page is released before (or with) the full page it belongs to.
        each_group([&](auto k) { (void)group_mut<k>().commit(r, n, group_hooks<k>{*this}); });
        (void)full_.commit(r, n);
        return {};
    }

    /// Roll back to `n` tokens in every pool. Errors: those of `paged_pool::truncate`: the groups'
    /// window_already_released (in order) before the full pool's.
    status truncate(request_id r, std::int64_t n) {
        if (status s = first_refusal([&](auto k) { return group<k>().check_truncate(r, n).code(); }); !s) return s;
        if (auto s = full_.check_truncate(r, n); !s) return s;
        each_group([&](auto k) { (void)group_mut<k>().truncate(r, n, group_hooks<k>{*this}); });
        (void)full_.truncate(r, n);
        return {};
    }

    /// Free the request in every pool. Errors: unknown_request.
    status free_request(request_id r) {
        if (!full_.contains(r)) return errc::unknown_request;
        each_group([&](auto k) { (void)group_mut<k>().free_request(r, group_hooks<k>{*this}); });
        (void)full_.free_request(r);
        return {};
    }

    /// A new request holding `length` committed tokens in every pool, or in none: full pages for
    /// all of them, group pages for what each rule still lets the next query see, the mappings set
    /// as if it had been prefilled here. Errors: negative_length, length_overflow,
    /// out_of_full_pages, then the first short group's out_of_*_pages.
    result<request_id> add_committed_request(std::int64_t length) {
        if (auto need = full_.pages_to_hold(length); !need) return need.err();
        if (status s = first_refusal([&](auto k) { return group<k>().pages_to_hold(length).code(); }); !s) return s.err();
        const auto added = full_.add_committed_request(length);
        if (!added) return added;  // too_many_requests: nothing was taken
        const request_id r = added.value();
        each_group([&](auto k) {
            (void)group_mut<k>().add_committed_request(length, group_hooks<k>{*this});  // checked above
            link_from<k>(r, 0);
        });
        return r;
    }

    // ---- typed views -------------------------------------------------------------------------------

    /// The full layers' view: it can only emit full-layer tables.
    const FullPool& full() const noexcept { return full_; }
    /// Group K's view: a table for group K's layers can only come from here (its type carries the
    /// group's kind; its rule() the window or chunk).
    template <std::size_t K>
        requires(K < group_count)
    const group_pool_type<K>& group() const noexcept {
        return std::get<K>(groups_);
    }
    bool contains(request_id r) const noexcept { return full_.contains(r); }

    /// Group K's mapping, indexed by full page; every entry is a page index of group K's pool.
    template <std::size_t K>
        requires(K < group_count)
    std::span<const page_id> full_to_group() const noexcept {
        return maps_[K].from_full;
    }

    /// Group K's KV slot of full slot `page * P + offset`: the same offset in the mapped page.
    /// @pre 0 <= full_slot < full().size().pages * P, and the token is still visible to group K's
    /// next query (tokens in flight always are); otherwise the entry is the null page.
    template <std::size_t K>
        requires(K < group_count)
    std::int64_t group_slot(std::int64_t full_slot) const noexcept {
        const table_row row{0, 0, full_.page_size_tokens()};  // only its page size: a slot's page and offset
        return row.slot_of(maps_[K].from_full[static_cast<std::size_t>(row.page_of(full_slot))].value, full_slot);
    }

    /// Every pool's invariants, then each group's mapping invariants (see the class comment).
    status check_invariants() const {
        if (auto s = full_.check_invariants(); !s) return s;
        return first_refusal_status([&](auto k) { return check_group<k>(); });
    }

private:
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

    // The group pools call these: a page that leaves (freed) clears its mapping entry.
    template <std::size_t K>
    struct group_hooks : no_hooks {
        multi_hybrid_pool& h;
        explicit group_hooks(multi_hybrid_pool& pool) noexcept : h(pool) {}
        void freed(page_id s) { h.unlink<K>(s); }
    };

    // Group K's half of the mapping: the one home of "which group-K page holds full page f's
    // tokens" and its inverse, written only by link / unlink.
    struct group_map {
        std::vector<page_id> from_full;  // by full page
        std::vector<page_id> to_full;    // by group page
    };

    multi_hybrid_pool(FullPool f, GroupPools... g) : full_(std::move(f)), groups_(std::move(g)...) {
        each_group([&](auto k) {
            maps_[k].from_full.assign(static_cast<std::size_t>(full_.size().pages), null_page);
            maps_[k].to_full.assign(static_cast<std::size_t>(group<k>().size().pages), null_page);
        });
    }

    template <std::size_t K>
    auto& group_mut() noexcept {
        return std::get<K>(groups_);
    }
    template <class F>
    static void each_index(F&& f) {
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (f(std::integral_constant<std::size_t, K>{}), ...);
        }(std::make_index_sequence<group_count>{});
    }
    template <class F>
    void each_group(F&& f) {
        each_index(f);
    }
    // The first group (in order) for which f returns an error code, as a status; f(k) -> errc.
    template <class F>
    static status first_refusal(F&& f) {
        errc bad{};
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (void)((bad = f(std::integral_constant<std::size_t, K>{}), bad == errc{}) && ...);
        }(std::make_index_sequence<group_count>{});
        return bad == errc{} ? status{} : status{bad};
    }
    // The same for checks that return a status with a detail.
    template <class F>
    static status first_refusal_status(F&& f) {
        status bad{};
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (void)((bad = f(std::integral_constant<std::size_t, K>{}), bad.ok()) && ...);
        }(std::make_index_sequence<group_count>{});
        return bad;
    }

    template <std::size_t K>
    page_id map(page_id full_page) const noexcept {
        return maps_[K].from_full[static_cast<std::size_t>(full_page.value)];
    }
    // The one writer of group K's mapping and its inverse.
    template <std::size_t K>
    void link(page_id f, page_id s) noexcept {
        maps_[K].from_full[static_cast<std::size_t>(f.value)] = s;
        maps_[K].to_full[static_cast<std::size_t>(s.value)] = f;
    }
    template <std::size_t K>
    void unlink(page_id s) noexcept {
        page_id& f = maps_[K].to_full[static_cast<std::size_t>(s.value)];
        maps_[K].from_full[static_cast<std::size_t>(f.value)] = null_page;
        f = null_page;
    }
    // Links r's live group-K entries from list index `first` on to the full pages at the same index.
    template <std::size_t K>
    void link_from(request_id r, std::size_t first) noexcept {
        const auto f = full_.pages(r);
        const auto s = group<K>().pages(r);
        const auto live = static_cast<std::size_t>(group<K>().first_live_page(r));
        for (std::size_t i = first < live ? live : first; i < f.size(); ++i) link<K>(f[i], s[i]);
    }

    template <std::size_t K>
    status check_group() const {
        const auto& g = group<K>();
        if (auto s = g.check_invariants(); !s) return s;
        if (full_.live_requests() != g.live_requests())
            return error{errc::invariant_violated, "pools disagree on live requests"};
        status bad{};
        full_.for_each_request([&](request_id r) {
            if (!bad.ok()) return;
            if (!g.contains(r)) { bad = error{errc::invariant_violated, "request missing from a group pool"}; return; }
            if (full_.length_tokens(r) != g.length_tokens(r) || full_.committed_tokens(r) != g.committed_tokens(r)) {
                bad = error{errc::invariant_violated, "pools disagree on a request's length"};
                return;
            }
            const auto f = full_.pages(r);
            const auto s = g.pages(r);
            for (std::size_t i = 0; i < f.size(); ++i)
                if (s[i] != null_page && s[i] != map<K>(f[i])) {
                    bad = error{errc::invariant_violated, "full_to_group disagrees with the group's page list"};
                    return;
                }
        });
        if (!bad.ok()) return bad;
        const group_map& m = maps_[K];
        for (std::int32_t i = 0; i < full_.size().pages; ++i) {
            const page_id f{i}, s = map<K>(f);
            if (s.value < 0 || s.value >= g.size().pages)
                return error{errc::invariant_violated, "full_to_group entry out of the group pool's range"};
            if (s == null_page) continue;
            if (m.to_full[static_cast<std::size_t>(s.value)] != f)
                return error{errc::invariant_violated, "full_to_group and group_to_full disagree"};
            if (full_.allocator().is_free(f) || g.allocator().is_free(s))
                return error{errc::invariant_violated, "mapping entry of a free page"};
            if (g.ref_count(s) > full_.ref_count(f))
                return error{errc::invariant_violated, "group page held by more requests than its full page"};
        }
        for (std::int32_t i = 1; i < g.size().pages; ++i) {
            const page_id s{i}, f = m.to_full[static_cast<std::size_t>(i)];
            if (f.value < 0 || f.value >= full_.size().pages || (f != null_page && map<K>(f) != s))
                return error{errc::invariant_violated, "group_to_full entry without its full_to_group entry"};
            if ((f == null_page) != g.allocator().is_free(s))
                return error{errc::invariant_violated, "group page in use but unmapped, or free but mapped"};
        }
        return {};
    }

    FullPool full_;
    std::tuple<GroupPools...> groups_;
    // Invariant: see check_invariants; maps_[k] is written only by link<k> / unlink<k>.
    std::array<group_map, group_count> maps_;
};

}  // namespace pagedkv
