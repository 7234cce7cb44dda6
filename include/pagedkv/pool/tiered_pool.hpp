// A full caching pool with a host tier: evicted cached pages are written back to host pages, and
// a prefix hit in the host tier is loaded back, through one copy plan per step.
#pragma once
#include <algorithm>
#include <cstdint>
#include <deque>
#include <span>
#include <utility>
#include <vector>

#include "pagedkv/cache/copy_plan.hpp"
#include "pagedkv/cache/host_tier.hpp"
#include "pagedkv/evict/lru.hpp"
#include "pagedkv/pool/copy_queue.hpp"
#include "pagedkv/pool/full_pool.hpp"
#include "pagedkv/pool/tier_calls.hpp"

namespace pagedkv {

/// Tokens a prefix hits in each tier: the first `gpu_tokens` from the pool's own cached pages, the
/// next `host_tokens` from host pages (loaded by the step's copy plan).
struct tier_hit {
    std::int64_t gpu_tokens = 0;
    std::int64_t host_tokens = 0;
    std::int64_t tokens() const noexcept { return gpu_tokens + host_tokens; }
    friend constexpr bool operator==(const tier_hit&, const tier_hit&) = default;
};

/// What the host tier has done since creation, in pages.
struct tier_stats {
    std::int64_t host_hit_tokens = 0;     ///< tokens attached from host pages
    std::int64_t loaded_pages = 0;        ///< loads planned (cancelled ones included)
    std::int64_t written_back_pages = 0;  ///< write-backs planned
    std::int64_t already_on_host = 0;     ///< evicted pages whose content a host page already held
    std::int64_t lost_pages = 0;          ///< evicted pages no host page could take (all pinned)
};

/// A full caching pool (`full_pool<Alloc, Evict>`) and a host tier of N pages under `HostEvict`.
/// The pool is used unchanged; this type listens to it through pool_hooks (`losing`, `freed`), so
/// pools without a tier compile to the code they always did.
///
/// - A cached GPU page the pool evicts (`losing`, while it is still keyed) is written back: a host
///   page is reserved (`writing`) and the copy GPU page -> host page joins the step's plan. If a
///   host page already holds that content it is only refreshed; if no host page can be taken
///   (all writing or reading) the content is lost, as without a tier.
/// - `attach_prefix` attaches the GPU hit, then continues the walk in the host tier: for each host
///   hit it allocates a GPU page, plans the copy host page -> GPU page, pins the host page
///   (`reading`) and keys the GPU page as usual (so later requests hit it in the GPU tier).
/// - `take_plan` hands over the copies planned since the last one; the engine runs its write-backs,
///   then its loads, before the step's forward pass, and calls `complete(plan)` when they are done
///   (copy_plan.hpp, docs/offload.md).
/// A planned load whose GPU page leaves its requests before the plan is taken (freed, or cached and
/// evicted) is cancelled: its host page still holds the content, so nothing is written back.
/// Invariants (check_invariants): the pool's and the host tier's; every host page `writing` is the
/// destination of exactly one planned or in-flight write-back, every `reading` one is the source of
/// exactly `pins` planned or in-flight loads; a planned load's GPU page is owned or cached, and,
/// while keyed, under the same key as its host page.
template <class Pool, eviction_policy HostEvict = lru>
    requires(Pool::indexed)
class tiered_pool : public detail::tier_calls<tiered_pool<Pool, HostEvict>> {
    friend class detail::tier_calls<tiered_pool>;

public:
    using pool_type = Pool;
    using host_type = host_tier<HostEvict>;

    /// Errors: those of Pool::create, and invalid_pool_size for the host tier (below 2 pages).
    static result<tiered_pool> create(pool_size gpu_pages, pool_size host_pages, std::int32_t page_size_tokens) {
        if (host_pages.pages < 2) return errc::invalid_pool_size;
        auto pool = Pool::create(gpu_pages, page_size_tokens);
        if (!pool) return pool.err();
        return tiered_pool(std::move(pool.value()), host_pages);
    }

    const Pool& gpu() const noexcept { return pool_; }
    const host_type& host() const noexcept { return host_; }
    const tier_stats& stats() const noexcept { return stats_; }
    bool contains(request_id r) const noexcept { return pool_.contains(r); }

    // ---- prefix cache over both tiers ------------------------------------------------------------

    /// The hit `attach_prefix` would find now in each tier (before capping the host part to the
    /// GPU pages an attach could take); changes nothing.
    tier_hit lookup(std::span<const token_id> tokens, cache_scope scope,
                    std::span<const std::uint64_t> page_extra_keys = {}) const {
        const gpu_walk g = walk_gpu(tokens, scope, page_extra_keys);
        const std::int64_t host = walk_host(tokens, scope, page_extra_keys, g, [](page_id) {});
        return {g.pages * page_size(), host * page_size()};
    }

    /// Attaches to the empty request r the longest cached prefix of `tokens` over both tiers (whole
    /// pages, never the last token): the GPU tier's pages, then, for the host tier's pages that
    /// follow, as many fresh GPU pages as the pool can take (free, then evicted: written back), each
    /// the destination of a load in the step's plan. r then holds hit.tokens() committed tokens; the
    /// loaded pages must not be read before the plan's loads have run (`loading`, request_ready).
    /// Never fails for lack of pages: the host part is cut instead. Errors: unknown_request,
    /// request_not_empty.
    result<tier_hit> attach_prefix(request_id r, std::span<const token_id> tokens,
                                   std::span<const std::uint64_t> page_extra_keys = {}) {
        if (!pool_.contains(r)) return errc::unknown_request;
        if (pool_.length_tokens(r) != 0) return errc::request_not_empty;
        const cache_scope scope = pool_.scope(r);
        const gpu_walk g = walk_gpu(tokens, scope, page_extra_keys);
        hit_host_.clear();
        (void)walk_host(tokens, scope, page_extra_keys, g, [&](page_id h) { hit_host_.push_back(h); });
        (void)pool_.attach_prefix(r, tokens, page_extra_keys);  // checked above: attaches g.pages
        // Pages it takes from the cache are its own now; the rest bound what the host hit can load.
        const auto load = std::min<std::int64_t>(static_cast<std::int64_t>(hit_host_.size()), pool_.available_pages());
        if (load > 0) {
            for (std::int64_t i = 0; i < load; ++i)
                host_.pin(hit_host_[static_cast<std::size_t>(i)]);  // before any eviction
            (void)pool_.extend(r, load * page_size(), listen());    // fits: counted above
            const auto pages = pool_.pages(r);
            for (std::int64_t i = 0; i < load; ++i)
                copies_.load(hit_host_[static_cast<std::size_t>(i)], pages[static_cast<std::size_t>(g.pages + i)]);
            (void)pool_.commit(r, load * page_size(), tokens, page_extra_keys, listen());  // keys them
            stats_.loaded_pages += load;
            stats_.host_hit_tokens += load * page_size();
        }
        return tier_hit{g.pages * page_size(), load * page_size()};
    }

    /// Whether a load into GPU page p is planned or in flight (its content is not there yet).
    bool loading(page_id p) const noexcept { return copies_.loading(p); }
    /// Whether the forward pass may read r's pages without waiting for a plan's loads.
    bool request_ready(request_id r) const noexcept {
        return std::none_of(pool_.pages(r).begin(), pool_.pages(r).end(), [&](page_id p) { return loading(p); });
    }

    // ---- copy plans --------------------------------------------------------------------------------

    /// The copies planned since the last call, as runs; the reference stays valid until
    /// complete(plan). Every plan taken must be completed, in the order taken.
    const copy_plan& take_plan() {
        copy_plan& plan = flights_.emplace_back();
        plan.sequence = ++taken_;
        copies_.take(plan);
        return plan;
    }
    /// The copies of `plan` have finished: its written-back host pages become hits (reported
    /// `stored`, tier host), the host pages it loaded from can be evicted again, and its loaded GPU
    /// pages may be read. Returns false, changing nothing, unless `plan` is the oldest plan taken
    /// and not yet completed.
    [[nodiscard]] bool complete(const copy_plan& plan) {
        if (flights_.empty() || flights_.front().sequence != plan.sequence) return false;
        const copy_plan& done = flights_.front();
        for (const copy_run& run : done.write_backs)
            for (std::int32_t i = 0; i < run.count; ++i) host_.finish_write(page_id{run.dst + i});
        for (const copy_run& run : done.loads)
            for (std::int32_t i = 0; i < run.count; ++i) host_.unpin(page_id{run.src + i});
        copies_.landed(done);
        flights_.pop_front();
        return true;
    }
    /// Plans taken and not yet completed.
    std::int64_t plans_in_flight() const noexcept { return static_cast<std::int64_t>(flights_.size()); }
    /// Copies planned and not yet taken (cancelled loads excluded).
    std::int64_t planned_copies() const noexcept { return copies_.planned(); }

    /// Empties both tiers. Errors: cache_in_use (a request owns a page, or a copy is planned or in
    /// flight).
    status reset_cache() {
        if (!flights_.empty() || planned_copies() != 0) return errc::cache_in_use;
        if (auto s = pool_.reset_cache(); !s) return s;  // no hooks: nothing is written back
        copies_.drop_cancelled();  // cancelled loads only: their slots wait for take_plan otherwise
        host_.reset();
        return {};
    }

    /// Events of both tiers go to `sink` from now on (`tier` says which; host events name host pages).
    void set_event_sink(const kv_event_sink& sink) {
        pool_.set_event_sink(sink);
        host_.set_sink(sink);
    }

    /// The pool's and the host tier's invariants, and the plans' (see the class comment).
    status check_invariants() const {
        if (auto s = pool_.check_invariants(); !s) return s;
        if (auto s = host_.check_invariants(); !s) return s;
        std::vector<std::int32_t> pins(static_cast<std::size_t>(host_.size().pages), 0);
        std::vector<std::int32_t> writes(pins.size(), 0);
        std::vector<std::int32_t> in_flight(static_cast<std::size_t>(pool_.size().pages), 0);
        for (const copy_queue::copy& c : copies_.write_backs()) ++writes[at(c.dst)];
        for (const copy_queue::copy& c : copies_.loads()) {
            if (c.src == null_page) continue;
            ++pins[at(c.src)];
            if (pool_.ref_count(c.dst) == 0 && !pool_.is_cached(c.dst))
                return error{errc::invariant_violated, "planned load into a free GPU page"};
            if (const auto key = pool_.key_of(c.dst); key && *key != host_.key(c.src))
                return error{errc::invariant_violated, "loaded GPU page keyed unlike its host page"};
        }
        for (const copy_plan& plan : flights_) {
            for (const copy_run& run : plan.write_backs)
                for (std::int32_t i = 0; i < run.count; ++i) ++writes[static_cast<std::size_t>(run.dst + i)];
            for (const copy_run& run : plan.loads)
                for (std::int32_t i = 0; i < run.count; ++i) {
                    ++pins[static_cast<std::size_t>(run.src + i)];
                    ++in_flight[static_cast<std::size_t>(run.dst + i)];
                }
        }
        for (std::int32_t i = 1; i < host_.size().pages; ++i) {
            const page_id h{i};
            if ((host_.state(h) == host_page_state::writing ? 1 : 0) != writes[at(h)])
                return error{errc::invariant_violated, "host page writing without exactly one write-back"};
            if (host_.pins(h) != pins[at(h)])
                return error{errc::invariant_violated, "host page pins != loads planned out of it"};
        }
        return copies_.check_invariants(in_flight);
    }

private:
    struct gpu_walk {
        std::int64_t pages = 0;
        std::uint64_t last_key = 0;  // the key of the last page hit (0: none)
    };
    // What the pool tells the tier, inside its calls.
    struct hooks : no_hooks {
        tiered_pool& t;
        explicit hooks(tiered_pool& tier) noexcept : t(tier) {}
        void losing(page_id p) { t.write_back(p); }
        void freed(page_id p) {
            if (t.copies_.load_planned(p)) t.host_.unpin(t.copies_.cancel_load(p));
        }
    };
    // The listener the pool's calls get (tier_calls and this class's own calls).
    hooks listen() noexcept { return hooks{*this}; }

    tiered_pool(Pool pool, pool_size host_pages)
        : pool_(std::move(pool)), host_(host_pages, pool_.page_size_tokens()), copies_(pool_.size()) {}

    static std::size_t at(page_id p) noexcept { return static_cast<std::size_t>(p.value); }
    std::int32_t page_size() const noexcept { return pool_.page_size_tokens(); }
    page_content content_at(std::span<const token_id> tokens, cache_scope scope, std::span<const std::uint64_t> extra,
                            std::int64_t i) const noexcept {
        const auto page = static_cast<std::size_t>(page_size());
        const auto idx = static_cast<std::size_t>(i);
        return {tokens.subspan(idx * page, page), scope, idx < extra.size() ? extra[idx] : 0};
    }

    gpu_walk walk_gpu(std::span<const token_id> tokens, cache_scope scope, std::span<const std::uint64_t> extra) const {
        gpu_walk g;
        page_id last = null_page;
        g.pages = pool_.keying().match(tokens, scope, extra, [&](std::int64_t, page_id p) { last = p; });
        if (last != null_page) g.last_key = pool_.index().key(last);
        return g;
    }
    // The host pages holding the pages after the GPU hit, in order, until the first miss.
    template <class Visit>
    std::int64_t walk_host(std::span<const token_id> tokens, cache_scope scope, std::span<const std::uint64_t> extra,
                           gpu_walk g, Visit&& visit) const {
        const std::int64_t max_pages =
            tokens.empty() ? 0 : (static_cast<std::int64_t>(tokens.size()) - 1) / page_size();
        std::uint64_t parent_key = g.last_key;
        for (std::int64_t i = g.pages; i < max_pages; ++i) {
            const page_content c = content_at(tokens, scope, extra, i);
            const std::uint64_t key = content_key(parent_key, c);
            const page_id h = host_.find_hit(parent_key, key, c);
            if (h == null_page) return i - g.pages;
            visit(h);
            parent_key = key;
        }
        return max_pages - g.pages;
    }

    // The pool evicts cached page p, still keyed: save its content in the host tier.
    void write_back(page_id p) {
        if (copies_.load_planned(p)) {  // its load has not even been taken: the host page has it
            host_.unpin(copies_.cancel_load(p));
            ++stats_.already_on_host;
            return;
        }
        const auto target = host_.reserve_for(pool_.index(), p);
        if (target.host == null_page) {
            ++(target.already_held ? stats_.already_on_host : stats_.lost_pages);
            return;
        }
        copies_.write_back(p, target.host);
        ++stats_.written_back_pages;
    }

    Pool pool_;
    host_type host_;
    copy_queue copies_;              // planned, not taken yet
    std::deque<copy_plan> flights_;  // taken, not completed, oldest first
    std::uint64_t taken_ = 0;
    std::vector<page_id> hit_host_;  // attach_prefix scratch
    tier_stats stats_;
};

/// A full caching pool under `Evict` with a host tier under `HostEvict`.
template <eviction_policy Evict, eviction_policy HostEvict = lru, alloc_policy Alloc = lifo_free_stack>
using tiered_full_pool = tiered_pool<full_pool<Alloc, Evict>, HostEvict>;

}  // namespace pagedkv
