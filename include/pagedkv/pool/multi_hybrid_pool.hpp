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
/// windows and chunks are runtime values.
///
/// With caching pools everywhere (`caching_multi_hybrid_pool<lru, ...>`) a full page keeps each
/// group's page while it has a content key: a group page no request holds stays cached, still
/// mapped, and may be evicted on its own (a tombstone in that group only: its mapping entry becomes
/// null while f stays cached). A hit of H tokens needs the full pages of [0, H) and, in each group
/// k, the pages [hit_first_page(rule_k, H), H / P): the longest prefix every group can serve (the
/// minimum over the groups' rules, as TensorRT-LLM #10183 describes for several windows).
///
/// Invariant (check_invariants): each pool's own; all pools hold the same requests with the same
/// lengths; for every group k the mapping agrees with every request's group-k list, its inverse
/// agrees with it, a mapped pair is in use in both pools (or cached in both), a cached group page's
/// full page has a content key, and every group-k page in use is mapped.
template <class FullPool, rule_governed_pool... GroupPools>
    requires(FullPool::kind == attention_kind::full && sizeof...(GroupPools) >= 1 &&
             ((GroupPools::caching == FullPool::caching) && ...) && FullPool::caching == FullPool::indexed)
class multi_hybrid_pool {
    template <class>
    struct sized {  // one group_size argument per group pool
        using type = group_size;
    };

public:
    using full_pool_type = FullPool;
    static constexpr std::size_t group_count = sizeof...(GroupPools);
    /// Prefix reuse: the full pool's index, and groups that can share and cache pages.
    static constexpr bool caching = FullPool::caching;
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
        each_index([&](auto k) { (void)group_mut<k>().add_request(); });
        return r;
    }
    /// A new request cached under `scope`, released with priorities `keep`. Errors: too_many_requests.
    result<request_id> add_request(cache_scope scope, retention keep = {})
        requires caching
    {
        const auto r = full_.add_request(scope, keep);
        if (!r) return r;
        each_index([&](auto k) { (void)group_mut<k>().add_request(scope, keep); });
        return r;
    }

    /// Reserve `n` tokens in every pool, or in none. Errors: unknown_request, negative_length,
    /// length_overflow, out_of_full_pages, then the first short group's out_of_swa_pages /
    /// out_of_chunked_pages.
    status extend(request_id r, std::int64_t n) {
        if (auto need = full_.pages_to_extend(r, n); !need) return need.err();
        if (status s = first_refusal([&](auto k) { return group<k>().pages_to_extend(r, n).code(); }); !s) return s;
        const std::size_t old_pages = full_.pages(r).size();
        (void)full_.extend(r, n, full_hooks{*this});  // every pool checked above: cannot fail
        each_index([&](auto k) {
            (void)group_mut<k>().extend(r, n, group_hooks<k>{*this, evictions::reported});
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
        each_index([&](auto k) { (void)group_mut<k>().commit(r, n, group_hooks<k>{*this, evictions::reported}); });
        (void)full_.commit(r, n, full_hooks{*this});
        return {};
    }

    /// `commit(r, n)` that first keys the full pages the commit completes (paged_pool::commit with
    /// tokens), so the group pages this commit releases stay cached for later hits.
    /// Errors: those of commit, plus tokens_too_short.
    status commit(request_id r, std::int64_t n, std::span<const token_id> tokens,
                  std::span<const std::uint64_t> page_extra_keys = {})
        requires caching
    {
        // Full first, so its pages are keyed when the groups decide what to keep.
        if (auto s = full_.commit(r, n, tokens, page_extra_keys, full_hooks{*this}); !s) return s;
        each_index([&](auto k) { (void)group_mut<k>().commit(r, n, group_hooks<k>{*this, evictions::reported}); });
        return {};
    }

    /// Roll back to `n` tokens in every pool. Errors: those of `paged_pool::truncate`: the groups'
    /// window_already_released (in order) before the full pool's.
    status truncate(request_id r, std::int64_t n) {
        if (status s = first_refusal([&](auto k) { return group<k>().check_truncate(r, n).code(); }); !s) return s;
        if (auto s = full_.check_truncate(r, n); !s) return s;
        each_index([&](auto k) { (void)group_mut<k>().truncate(r, n, group_hooks<k>{*this, evictions::reported}); });
        (void)full_.truncate(r, n, full_hooks{*this});
        return {};
    }

    /// Free the request in every pool. Errors: unknown_request.
    status free_request(request_id r) {
        if (!full_.contains(r)) return errc::unknown_request;
        each_index([&](auto k) { (void)group_mut<k>().free_request(r, group_hooks<k>{*this, evictions::reported}); });
        (void)full_.free_request(r, full_hooks{*this});
        return {};
    }

    /// A new request holding `length` committed tokens in every pool, or in none: full pages for
    /// all of them, group pages for what each rule still lets the next query see, the mappings set
    /// as if it had been prefilled here. Errors: negative_length, length_overflow,
    /// out_of_full_pages, then the first short group's out_of_*_pages.
    result<request_id> add_committed_request(std::int64_t length) {
        if (auto need = full_.pages_to_hold(length); !need) return need.err();
        if (status s = first_refusal([&](auto k) { return group<k>().pages_to_hold(length).code(); }); !s)
            return s.err();
        const auto added = full_.add_committed_request(length, full_hooks{*this});
        if (!added) return added;  // too_many_requests: nothing was taken
        const request_id r = added.value();
        each_index([&](auto k) {
            (void)group_mut<k>().add_committed_request(length,
                                                       group_hooks<k>{*this, evictions::reported});  // checked above
            link_from<k>(r, 0);
        });
        return r;
    }

    // ---- prefix cache (caching pools) --------------------------------------------------------------

    /// Attaches to the empty request r the longest cached prefix H of `tokens` that every group can
    /// serve: the full pages of [0, H) and each group's pages of [hit_first_page(rule, H), H), in
    /// whole pages and never including the last token. Returns H; r then holds H committed tokens,
    /// each group's entries before its dead_pages(H) null. Every pool records the lookup.
    /// Errors: unknown_request, request_not_empty.
    result<std::int64_t> attach_prefix(request_id r, std::span<const token_id> tokens,
                                       std::span<const std::uint64_t> page_extra_keys = {})
        requires caching
    {
        if (!full_.contains(r)) return errc::unknown_request;
        if (full_.length_tokens(r) != 0) return errc::request_not_empty;
        hit_full_.clear();
        const std::int64_t hit =
            hit_pages(tokens, full_.scope(r), page_extra_keys, [&](page_id f) { hit_full_.push_back(f); });
        const std::int64_t hit_tokens = hit * full_.page_size_tokens();
        const auto queried = static_cast<std::int64_t>(tokens.size());
        (void)full_.attach_pages(r, std::span<const page_id>(hit_full_).first(static_cast<std::size_t>(hit)),
                                 hit_tokens, queried);
        each_index([&](auto k) {
            hit_group_.assign(static_cast<std::size_t>(hit), null_page);
            for (auto i = static_cast<std::size_t>(group<k>().live_from(hit_tokens)); i < hit_group_.size(); ++i)
                hit_group_[i] = map<k>(hit_full_[i]);
            (void)group_mut<k>().attach_pages(r, hit_group_, hit_tokens, queried);  // checked by hit_pages
        });
        return hit_tokens;
    }

    /// Tokens `attach_prefix` would hit now for a request under `scope`; changes nothing.
    std::int64_t lookup(std::span<const token_id> tokens, cache_scope scope,
                        std::span<const std::uint64_t> page_extra_keys = {}) const
        requires caching
    {
        return hit_pages(tokens, scope, page_extra_keys, [](page_id) {}) * full_.page_size_tokens();
    }

    /// Keys the request's committed whole full pages (their group pages follow them into the cache).
    /// Errors: those of paged_pool::cache_committed.
    status cache_committed(request_id r, std::span<const token_id> tokens,
                           std::span<const std::uint64_t> page_extra_keys = {})
        requires caching
    {
        return full_.cache_committed(r, tokens, page_extra_keys, full_hooks{*this});
    }

    /// Keys the request's committed whole pages and frees it: a resumed request hits them.
    /// Errors: those of cache_committed.
    status preempt(request_id r, std::span<const token_id> tokens, std::span<const std::uint64_t> page_extra_keys = {})
        requires caching
    {
        if (auto s = cache_committed(r, tokens, page_extra_keys); !s) return s;
        return free_request(r);
    }

    /// Empties every cache. Errors: cache_in_use (some request still owns a page).
    status reset_cache()
        requires caching
    {
        if (full_.used_pages() != 0) return errc::cache_in_use;  // a group page in use has a full page in use
        each_index([&](auto k) { (void)group_mut<k>().reset_cache(group_hooks<k>{*this, evictions::silent}); });
        (void)full_.reset_cache(full_hooks{*this});
        return {};
    }

    /// Events from now on go to `sink`: the full pool's stored / removed / cleared, and per group
    /// `removed` (layers = the group's kind, `group` = k) when a group page is evicted while its
    /// full page stays cached, `stored` when a recomputed copy heals such a tombstone.
    void set_event_sink(kv_event_sink sink)
        requires caching
    {
        full_.set_event_sink(std::move(sink));
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

    // Hooks the full pool calls: a full page whose content is gone takes its cached group pages along.
    struct full_hooks : no_hooks {
        multi_hybrid_pool& h;
        explicit full_hooks(multi_hybrid_pool& pool) noexcept : h(pool) {}
        void dropped(page_id f) {
            each_index([&](auto k) { h.template drop_group_of<k>(f); });
        }
        void unkeyed(page_id f) {
            each_index([&](auto k) {
                const page_id s = h.template map<k>(f);
                if (s != null_page && h.template group<k>().ref_count(s) == 0) h.template drop_group_of<k>(f);
            });
        }
        // A recomputed copy heals a cached page when it has a group page the cached one lost and
        // loses none the cached one has (one group: SGLang's rule on insert over a tombstone).
        bool prefer_copy(page_id cached, page_id copy) const {
            bool heals = false, loses = false;
            each_index([&](auto k) {
                const bool had = h.template map<k>(cached) != null_page, has = h.template map<k>(copy) != null_page;
                heals = heals || (!had && has);
                loses = loses || (had && !has);
            });
            return heals && !loses;
        }
        void replaced(page_id, page_id copy) {
            each_index([&](auto k) {
                if (const page_id s = h.template map<k>(copy); s != null_page)
                    h.full_.keying().report(kv_event_kind::stored, group_pool_type<k>::kind, copy, s,
                                            static_cast<std::uint8_t>(k));
            });
        }
    };
    // Hooks group K's pool calls: its page stays cached while its full page is keyed; a page that
    // leaves (freed, or evicted: a tombstone) clears its mapping entry.
    enum class evictions : bool { silent, reported };  // `removed` for a group page whose full page stays
    template <std::size_t K>
    struct group_hooks : no_hooks {
        multi_hybrid_pool& h;
        evictions reporting;
        group_hooks(multi_hybrid_pool& pool, evictions e) noexcept : h(pool), reporting(e) {}
        std::optional<std::uint64_t> retain_key(page_id s) const {
            const page_id f = h.maps_[K].to_full[static_cast<std::size_t>(s.value)];
            return f == null_page ? std::nullopt : h.full_.key_of(f);
        }
        void freed(page_id s) { h.template unlink<K>(s); }
        void dropped(page_id s) {
            if constexpr (caching) {
                if (reporting == evictions::reported)
                    h.full_.keying().report(kv_event_kind::removed, group_pool_type<K>::kind,
                                            h.maps_[K].to_full[static_cast<std::size_t>(s.value)], s,
                                            static_cast<std::uint8_t>(K));
            }
            h.template unlink<K>(s);
        }
    };
    // f left the cache or lost its key while no request holds its group-K page: that page goes too.
    template <std::size_t K>
    void drop_group_of(page_id f) {
        if (const page_id s = map<K>(f); s != null_page)
            (void)group_mut<K>().drop_cached(s, group_hooks<K>{*this, evictions::silent});
    }

    // The longest hit in pages: the full chain confirmed page by page, cut to the last page i such
    // that in every group k the pages [hit_first_page(rule_k, (i+1)P), i] all still have their
    // group page. Calls out(f) per full page matched.
    template <class Out>
    std::int64_t hit_pages(std::span<const token_id> tokens, cache_scope scope,
                           std::span<const std::uint64_t> page_extra_keys, Out&& out) const {
        const std::int32_t page = full_.page_size_tokens();
        std::int64_t best = 0;
        std::array<std::int64_t, group_count> run{};  // per group: mapped full pages ending at i
        full_.keying().match(tokens, scope, page_extra_keys, [&](std::int64_t i, page_id f) {
            out(f);
            bool served = true;
            each_index([&](auto k) {
                run[k] = map<k>(f) != null_page ? run[k] + 1 : 0;
                served = served && (i + 1) - hit_first_page(group<k>().rule(), (i + 1) * page, page) <= run[k];
            });
            if (served) best = i + 1;
        });
        return best;
    }

    // Group K's half of the mapping: the one home of "which group-K page holds full page f's
    // tokens" and its inverse, written only by link / unlink.
    struct group_map {
        std::vector<page_id> from_full;  // by full page
        std::vector<page_id> to_full;    // by group page
    };

    multi_hybrid_pool(FullPool f, GroupPools... g) : full_(std::move(f)), groups_(std::move(g)...) {
        each_index([&](auto k) {
            maps_[k].from_full.assign(static_cast<std::size_t>(full_.size().pages), null_page);
            maps_[k].to_full.assign(static_cast<std::size_t>(group<k>().size().pages), null_page);
        });
    }

    template <std::size_t K>
    auto& group_mut() noexcept {
        return std::get<K>(groups_);
    }
    // Calls f(integral_constant<K>) for every group K, in order.
    template <class F>
    static void each_index(F&& f) {
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (f(std::integral_constant<std::size_t, K>{}), ...);
        }(std::make_index_sequence<group_count>{});
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
            if (!g.contains(r)) {
                bad = error{errc::invariant_violated, "request missing from a group pool"};
                return;
            }
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
            if (g.is_cached(s) && !full_.key_of(f))
                return error{errc::invariant_violated, "cached group page under an unkeyed full page"};
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
    std::vector<page_id> hit_full_, hit_group_;  // attach_prefix scratch, reused (no per-call allocation)
};

/// A multi-group hybrid whose pools all cache released pages under eviction policy `Evict`; the
/// group pools are named by kind, e.g. `caching_multi_hybrid_pool<lru, attention_kind::sliding,
/// attention_kind::chunked>`.
template <eviction_policy Evict, attention_kind... GroupKinds>
using caching_multi_hybrid_pool =
    multi_hybrid_pool<full_pool<lifo_free_stack, Evict>, paged_pool<lifo_free_stack, GroupKinds, Evict>...>;

}  // namespace pagedkv
