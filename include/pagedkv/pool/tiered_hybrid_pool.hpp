// A caching hybrid pool with a host tier, SWA-aware: an evicted cached full page is written back
// with its SWA page (when the GPU still holds it), and a host hit loads its full pages but only the
// SWA pages of the window before the hit point (docs/offload.md).
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "pagedkv/alloc/lifo_free_stack.hpp"
#include "pagedkv/cache/copy_plan.hpp"
#include "pagedkv/cache/host_tier.hpp"
#include "pagedkv/core/page_math.hpp"
#include "pagedkv/pool/copy_queue.hpp"
#include "pagedkv/pool/hybrid_pool.hpp"
#include "pagedkv/pool/tiered_pool.hpp"

namespace pagedkv {

/// One step's copies for a hybrid pool: `full` between the GPU full pool's pages and the host
/// pages, `swa` between the GPU SWA pool's pages and the host SWA pages, both under one sequence
/// number. Each is a copy_plan with its contract (write-backs, then loads, before the forward
/// pass); the two touch different buffers, so they may run in either order or side by side.
struct hybrid_copy_plan {
    copy_plan full, swa;
    std::uint64_t sequence() const noexcept { return full.sequence; }
    bool empty() const noexcept { return full.empty() && swa.empty(); }
};

/// SWA pages moved by the tier since creation.
struct swa_tier_stats {
    std::int64_t written_back_pages = 0;  ///< SWA copies planned with their full page's write-back
    std::int64_t loaded_pages = 0;        ///< SWA loads planned: the window pages of host hits
    std::int64_t lost_pages = 0;          ///< SWA pages of written-back full pages no host SWA page could take
};

/// `caching_hybrid_pool<Evict>` with a host tier of N host pages (full layers, a `host_tier` under
/// `HostEvict`) and M host SWA pages (SWA layers). The pool is used through its listener
/// (hybrid_pool's `outer`), so a hybrid pool without a tier runs the code it always did.
///
/// - Write-back: a cached full page f the pool evicts is written back to a host page h (as in
///   `tiered_pool`); if f's SWA page is still mapped (cached), it goes to a free host SWA page
///   linked to h in the same plan. An SWA page evicted on its own (a tombstone) is not kept, nor is
///   the SWA copy when no host SWA page is free: what the GPU tier no longer has is not saved.
/// - Hit: the hybrid's own GPU hit of g pages, then host pages chained after page g - 1, cut to the
///   longest end H whose window pages [dead_pages(H), H) past g all have a host SWA copy (those
///   before g have their GPU SWA page: the GPU hit's window covers them).
/// - Attach: the GPU hit as `hybrid_pool::attach_prefix`, then fresh pages for the host part (as
///   many as both pools have: the hit is cut to the longest valid end that fits), one full load per
///   page and one SWA load per window page only; the pages outside the window leave in the same
///   call, unkeyed (their SWA content is never loaded), and the full pages are keyed.
/// A host SWA page is readable while its host page is (not `writing`) and is freed with it; a load
/// out of it is covered by its host page's pin. Invariants (check_invariants): the pool's, the host
/// tier's, the host SWA links (one writer: link_swa / unlink_swa), and the plans': every `writing`
/// host page has one full write-back, every SWA write-back's host SWA page is linked to a
/// `writing` host page, every SWA load's to a `reading` one, pins == full loads, and the GPU
/// loading counts match the planned and in-flight loads.
template <eviction_policy Evict = lru, eviction_policy HostEvict = lru>
class tiered_hybrid_pool : public detail::tier_calls<tiered_hybrid_pool<Evict, HostEvict>> {
    friend class detail::tier_calls<tiered_hybrid_pool>;

public:
    using pool_type = caching_hybrid_pool<Evict>;
    using host_type = host_tier<HostEvict>;

    /// Errors: those of hybrid_pool::create, and invalid_pool_size for a host side below 2 pages.
    static result<tiered_hybrid_pool> create(pool_size full_pages, pool_size swa_pages, pool_size host_pages,
                                             pool_size host_swa_pages, std::int32_t page_size_tokens,
                                             std::int64_t window_tokens) {
        if (host_pages.pages < 2 || host_swa_pages.pages < 2) return errc::invalid_pool_size;
        auto pool = pool_type::create(full_pages, swa_pages, page_size_tokens, window_tokens);
        if (!pool) return pool.err();
        return tiered_hybrid_pool(std::move(pool.value()), host_pages, host_swa_pages);
    }

    const pool_type& gpu() const noexcept { return pool_; }
    const host_type& host() const noexcept { return host_; }
    /// The host SWA page holding host page h's SWA copy, or null_page.
    page_id host_swa_of(page_id h) const noexcept { return swa_of_[at(h)]; }
    std::int32_t host_swa_free_pages() const noexcept { return swa_free_.free_count(); }
    const tier_stats& stats() const noexcept { return stats_; }
    const swa_tier_stats& swa_stats() const noexcept { return swa_stats_; }
    bool contains(request_id r) const noexcept { return pool_.contains(r); }

    // ---- prefix cache over both tiers ----------------------------------------------------------------

    /// The hit attach_prefix would find now (before cutting the host part to the pages an attach
    /// could take); changes nothing.
    tier_hit lookup(std::span<const token_id> tokens, cache_scope scope,
                    std::span<const std::uint64_t> page_extra_keys = {}) const {
        const std::int64_t g = pool_.lookup(tokens, scope, page_extra_keys) / page_size();
        return {g * page_size(), host_hit(tokens, scope, page_extra_keys, g, INT64_MAX, [](page_id) {}) * page_size()};
    }

    /// Attaches to the empty request r the longest prefix over both tiers (whole pages, never the
    /// last token): the GPU hit, then the host pages after it as far as the window rule and the
    /// free (or evictable) pages of both pools allow, each the destination of a full load, and the
    /// window's pages of a SWA load. r then holds hit.tokens() committed tokens; its loaded pages
    /// must not be read before the plan's loads have run (request_ready). Never fails for lack of
    /// pages: the host part is cut. Errors: unknown_request, request_not_empty.
    result<tier_hit> attach_prefix(request_id r, std::span<const token_id> tokens,
                                   std::span<const std::uint64_t> page_extra_keys = {}) {
        if (!pool_.contains(r)) return errc::unknown_request;
        if (pool_.full().length_tokens(r) != 0) return errc::request_not_empty;
        const cache_scope scope = pool_.full().scope(r);
        const std::int64_t g = pool_.attach_prefix(r, tokens, page_extra_keys).value() / page_size();  // checked above
        // The pages the load takes: the fewer of the two pools' (the extend below takes both).
        const std::int64_t room = std::min<std::int64_t>(pool_.full().available_pages(), pool_.swa().available_pages());
        hit_host_.clear();
        const std::int64_t n =
            host_hit(tokens, scope, page_extra_keys, g, room, [&](page_id h) { hit_host_.push_back(h); });
        if (n == 0) return tier_hit{g * page_size(), 0};
        for (std::int64_t i = 0; i < n; ++i) host_.pin(hit_host_[static_cast<std::size_t>(i)]);  // before any eviction
        (void)pool_.extend(r, n * page_size(), listen());                                        // fits: counted above
        // Unkeyed, so the SWA pages sliding out of the window go to the free list, not the cache:
        // their content is never loaded. Then the full pages are keyed as a keyed commit would.
        (void)pool_.commit(r, n * page_size(), listen());
        (void)pool_.cache_committed(r, tokens, page_extra_keys, listen());
        const auto full = pool_.full().pages(r);
        const auto swa = pool_.swa().pages(r);
        for (std::int64_t i = 0; i < n; ++i) {
            const auto j = static_cast<std::size_t>(g + i);
            const page_id h = hit_host_[static_cast<std::size_t>(i)];
            full_copies_.load(h, full[j]);
            if (swa[j] != null_page) {
                swa_copies_.load(swa_of_[at(h)], swa[j]);
                ++swa_stats_.loaded_pages;
            }
        }
        stats_.loaded_pages += n;
        stats_.host_hit_tokens += n * page_size();
        return tier_hit{g * page_size(), n * page_size()};
    }

    /// Whether a load into GPU full page f (SWA page s) is planned or in flight.
    bool loading_full(page_id f) const noexcept { return full_copies_.loading(f); }
    bool loading_swa(page_id s) const noexcept { return swa_copies_.loading(s); }
    /// Whether the forward pass may read r's pages without waiting for a plan's loads.
    bool request_ready(request_id r) const noexcept {
        const auto f = pool_.full().pages(r);
        const auto s = pool_.swa().pages(r);
        return std::none_of(f.begin(), f.end(), [&](page_id p) { return loading_full(p); }) &&
               std::none_of(s.begin(), s.end(), [&](page_id p) { return p != null_page && loading_swa(p); });
    }

    // ---- copy plans ----------------------------------------------------------------------------------

    /// The copies planned since the last call; the reference stays valid until complete(plan).
    /// Every plan taken must be completed, in the order taken.
    const hybrid_copy_plan& take_plan() {
        hybrid_copy_plan& plan = flights_.emplace_back();
        plan.full.sequence = plan.swa.sequence = ++taken_;
        full_copies_.take(plan.full);
        swa_copies_.take(plan.swa);
        return plan;
    }
    /// The copies of `plan` have finished: its written-back host pages (and their SWA copies)
    /// become hits, the host pages it loaded from can be evicted again, its loaded GPU pages may be
    /// read. Returns false, changing nothing, unless `plan` is the oldest plan in flight.
    [[nodiscard]] bool complete(const hybrid_copy_plan& plan) {
        if (flights_.empty() || flights_.front().sequence() != plan.sequence()) return false;
        const hybrid_copy_plan& done = flights_.front();
        for (const copy_run& run : done.full.write_backs)
            for (std::int32_t i = 0; i < run.count; ++i) host_.finish_write(page_id{run.dst + i});
        for (const copy_run& run : done.full.loads)
            for (std::int32_t i = 0; i < run.count; ++i) host_.unpin(page_id{run.src + i});
        full_copies_.landed(done.full);
        swa_copies_.landed(done.swa);
        flights_.pop_front();
        return true;
    }
    std::int64_t plans_in_flight() const noexcept { return static_cast<std::int64_t>(flights_.size()); }
    /// Copies planned and not yet taken (cancelled loads excluded), full and SWA.
    std::int64_t planned_copies() const noexcept { return full_copies_.planned() + swa_copies_.planned(); }

    /// Empties both tiers. Errors: cache_in_use (a request owns a page, or a copy is planned or in
    /// flight).
    status reset_cache() {
        if (!flights_.empty() || planned_copies() != 0) return errc::cache_in_use;
        if (auto s = pool_.reset_cache(); !s) return s;  // no listener: nothing is written back
        full_copies_.drop_cancelled();                   // cancelled loads only
        swa_copies_.drop_cancelled();
        host_.reset();
        for (std::int32_t h = 1; h < host_.size().pages; ++h)
            if (swa_of_[static_cast<std::size_t>(h)] != null_page) unlink_swa(page_id{h});
        return {};
    }

    /// Events of both tiers go to `sink` from now on (`tier` says which; host events name host
    /// pages): the hybrid pool's, and the host tier's `stored` (a write-back completed), `removed`
    /// (a host page reused) and `cleared`.
    void set_event_sink(const kv_event_sink& sink) {
        pool_.set_event_sink(sink);
        host_.set_sink(sink);
    }

    /// The pool's and the host tier's invariants, the host SWA links' and the plans' (class comment).
    status check_invariants() const {
        if (auto s = pool_.check_invariants(); !s) return s;
        if (auto s = host_.check_invariants(); !s) return s;
        std::int32_t linked = 0;
        for (std::int32_t i = 1; i < host_.size().pages; ++i) {
            const page_id h{i}, hs = swa_of_[at(h)];
            if (hs == null_page) continue;
            ++linked;
            if (owner_of_[at(hs)] != h || swa_free_.is_free(hs))
                return error{errc::invariant_violated, "host SWA link and its inverse disagree"};
            if (host_.state(h) == host_page_state::free)
                return error{errc::invariant_violated, "free host page keeps a SWA copy"};
        }
        if (linked + swa_free_.free_count() + 1 != static_cast<std::int32_t>(owner_of_.size()))
            return error{errc::invariant_violated, "host SWA free + linked + null != M"};
        std::vector<std::int32_t> writes(static_cast<std::size_t>(host_.size().pages), 0), pins(writes.size(), 0);
        std::vector<std::int32_t> swa_writes(owner_of_.size(), 0);
        std::vector<std::int32_t> full_loads(static_cast<std::size_t>(pool_.full().size().pages), 0);
        std::vector<std::int32_t> swa_loads(static_cast<std::size_t>(pool_.swa().size().pages), 0);
        status bad{};
        const auto visit = [&](const copy_queue::copy& c, bool is_swa, bool is_load) {
            if (!bad.ok() || (is_load && c.src == null_page)) return;
            if (!is_load && !is_swa) ++writes[at(c.dst)];
            if (!is_load && is_swa) {
                ++swa_writes[at(c.dst)];
                if (host_.state(owner_of_[at(c.dst)]) != host_page_state::writing)
                    bad = error{errc::invariant_violated,
                                "SWA write-back into a host SWA page whose host page is not writing"};
            }
            if (is_load && !is_swa) ++pins[at(c.src)], ++full_loads[at(c.dst)];
            if (is_load && is_swa) {
                ++swa_loads[at(c.dst)];
                if (host_.state(owner_of_[at(c.src)]) != host_page_state::reading)
                    bad = error{errc::invariant_violated,
                                "SWA load out of a host SWA page whose host page is not pinned"};
            }
        };
        for (const copy_queue::copy& c : full_copies_.write_backs()) visit(c, false, false);
        for (const copy_queue::copy& c : swa_copies_.write_backs()) visit(c, true, false);
        for (const copy_queue::copy& c : full_copies_.loads()) visit(c, false, true);
        for (const copy_queue::copy& c : swa_copies_.loads()) visit(c, true, true);
        const auto planned_full = full_loads, planned_swa = swa_loads;  // the loads not taken yet
        for (const hybrid_copy_plan& plan : flights_) {
            const auto runs = [&](const std::vector<copy_run>& list, bool is_swa, bool is_load) {
                for (const copy_run& run : list)
                    for (std::int32_t i = 0; i < run.count; ++i)
                        visit({page_id{run.src + i}, page_id{run.dst + i}}, is_swa, is_load);
            };
            runs(plan.full.write_backs, false, false);
            runs(plan.swa.write_backs, true, false);
            runs(plan.full.loads, false, true);
            runs(plan.swa.loads, true, true);
        }
        if (!bad.ok()) return bad;
        for (std::int32_t i = 1; i < host_.size().pages; ++i) {
            const page_id h{i};
            if ((host_.state(h) == host_page_state::writing ? 1 : 0) != writes[at(h)])
                return error{errc::invariant_violated, "host page writing without exactly one write-back"};
            if (host_.pins(h) != pins[at(h)])
                return error{errc::invariant_violated, "host page pins != loads out of it"};
        }
        for (std::size_t i = 0; i < swa_writes.size(); ++i)
            if (swa_writes[i] > 1) return error{errc::invariant_violated, "host SWA page written twice"};
        // The loads of taken plans: all counted loads less the planned ones.
        for (std::size_t i = 0; i < full_loads.size(); ++i) full_loads[i] -= planned_full[i];
        for (std::size_t i = 0; i < swa_loads.size(); ++i) swa_loads[i] -= planned_swa[i];
        if (auto s = full_copies_.check_invariants(full_loads); !s) return s;
        if (auto s = swa_copies_.check_invariants(swa_loads); !s) return s;
        const auto held = [](const auto& pool, const copy_queue& copies) {
            return std::all_of(copies.loads().begin(), copies.loads().end(), [&](const copy_queue::copy& c) {
                return c.src == null_page || pool.ref_count(c.dst) > 0 || pool.is_cached(c.dst);
            });
        };
        if (!held(pool_.full(), full_copies_) || !held(pool_.swa(), swa_copies_))
            return error{errc::invariant_violated, "planned load into a free GPU page"};
        return {};
    }

private:
    // What the pool tells the tier, inside its calls (hybrid_pool's listener).
    struct listener : no_hooks {
        tiered_hybrid_pool& t;
        explicit listener(tiered_hybrid_pool& tier) noexcept : t(tier) {}
        void full_losing(page_id f) { t.write_back(f); }
        void full_freed(page_id f) {
            if (t.full_copies_.load_planned(f)) t.host_.unpin(t.full_copies_.cancel_load(f));
        }
        void group_released(std::size_t, page_id s) {                               // the SWA pool is group 0
            if (t.swa_copies_.load_planned(s)) (void)t.swa_copies_.cancel_load(s);  // covered by its host page's pin
        }
    };
    // The listener the pool's calls get (tier_calls and this class's own calls).
    listener listen() noexcept { return listener{*this}; }

    tiered_hybrid_pool(pool_type pool, pool_size host_pages, pool_size host_swa_pages)
        : pool_(std::move(pool)),
          host_(host_pages, pool_.full().page_size_tokens()),
          swa_of_(static_cast<std::size_t>(host_pages.pages), null_page),
          owner_of_(static_cast<std::size_t>(host_swa_pages.pages), null_page),
          swa_free_(host_swa_pages),
          full_copies_(pool_.full().size()),
          swa_copies_(pool_.swa().size()) {}

    static std::size_t at(page_id p) noexcept { return static_cast<std::size_t>(p.value); }
    std::int32_t page_size() const noexcept { return pool_.full().page_size_tokens(); }

    // The one writer of the host SWA link and its inverse.
    void link_swa(page_id h, page_id hs) noexcept { swa_of_[at(h)] = hs, owner_of_[at(hs)] = h; }
    void unlink_swa(page_id h) noexcept {
        const page_id hs = swa_of_[at(h)];
        owner_of_[at(hs)] = null_page;
        swa_of_[at(h)] = null_page;
        swa_free_.push(hs);
    }

    // The host pages chained after the GPU hit of g pages, each passed to `visit` in order, until
    // the first miss or `room` pages; returns how many the hit takes: the longest run whose end H
    // has a host SWA copy for every window page from max(g, dead_pages(H)) on. One walk, no
    // storage: a run of n pages is valid iff the last page without a copy lies before its window.
    template <class Visit>
    std::int64_t host_hit(std::span<const token_id> tokens, cache_scope scope, std::span<const std::uint64_t> extra,
                          std::int64_t g, std::int64_t room, Visit&& visit) const {
        const std::int64_t max_pages =
            tokens.empty() ? 0 : (static_cast<std::int64_t>(tokens.size()) - 1) / page_size();
        std::uint64_t parent_key = 0;
        if (g > 0) {  // the key of the GPU hit's last page (its full chain may run further)
            page_id last = null_page;
            (void)pool_.full().keying().match(tokens, scope, extra, [&](std::int64_t i, page_id f) {
                if (i == g - 1) last = f;
            });
            parent_key = pool_.full().index().key(last);
        }
        const std::int64_t window = pool_.swa().window_tokens();
        std::int64_t best = 0, last_missing = -1;
        for (std::int64_t i = g; i < max_pages && i - g < room; ++i) {
            const auto page = static_cast<std::size_t>(page_size());
            const auto idx = static_cast<std::size_t>(i);
            const page_content c{tokens.subspan(idx * page, page), scope, idx < extra.size() ? extra[idx] : 0};
            const std::uint64_t key = content_key(parent_key, c);
            const page_id h = host_.find_hit(parent_key, key, c);
            if (h == null_page) break;
            visit(h);
            if (swa_of_[at(h)] == null_page) last_missing = i;
            if (last_missing < std::max(g, dead_pages((i + 1) * page_size(), window, page_size()))) best = i + 1 - g;
            parent_key = key;
        }
        return best;
    }

    // The pool evicts cached full page f, still keyed and still mapped to its SWA page (if any).
    void write_back(page_id f) {
        if (full_copies_.load_planned(f)) {  // its load has not been taken: the host page has the content
            host_.unpin(full_copies_.cancel_load(f));
            ++stats_.already_on_host;
            return;
        }
        const auto target = host_.reserve_for(pool_.full().index(), f);
        if (target.host == null_page) {
            ++(target.already_held ? stats_.already_on_host : stats_.lost_pages);
            return;
        }
        const page_id h = target.host;
        if (swa_of_[at(h)] != null_page) unlink_swa(h);  // a reused host page's SWA copy goes with its content
        full_copies_.write_back(f, h);
        ++stats_.written_back_pages;
        const page_id s = pool_.full_to_swa()[at(f)];
        if (s == null_page) return;  // a tombstone: the GPU tier no longer has the SWA content
        if (swa_free_.free_count() == 0) {
            ++swa_stats_.lost_pages;
            return;
        }
        const page_id hs = swa_free_.pop();
        link_swa(h, hs);
        swa_copies_.write_back(s, hs);
        ++swa_stats_.written_back_pages;
    }

    pool_type pool_;
    host_type host_;
    std::vector<page_id> swa_of_;           // by host page: its host SWA page, or null (link_swa / unlink_swa)
    std::vector<page_id> owner_of_;         // by host SWA page: the host page it belongs to (the inverse)
    lifo_free_stack swa_free_;              // host SWA pages not linked
    copy_queue full_copies_;                // between GPU full pages and host pages
    copy_queue swa_copies_;                 // between GPU SWA pages and host SWA pages
    std::deque<hybrid_copy_plan> flights_;  // taken, not completed, oldest first
    std::uint64_t taken_ = 0;
    std::vector<page_id> hit_host_;  // attach_prefix scratch
    tier_stats stats_;
    swa_tier_stats swa_stats_;
};

}  // namespace pagedkv
