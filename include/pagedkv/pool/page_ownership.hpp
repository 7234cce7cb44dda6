// Who holds each page of a pool: free, owned by requests (reference counts), or cached for reuse.
#pragma once
#include <concepts>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "pagedkv/alloc/alloc_policy.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/evict/eviction_policy.hpp"
#include "pagedkv/evict/no_eviction.hpp"
#include "pagedkv/pool/pool_hooks.hpp"

namespace pagedkv {

/// What became of a cached page's content when the page left the cache.
enum class cached_content : std::uint8_t {
    lost,            ///< evicted or dropped: counted in `evicted_pages`
    kept_elsewhere,  ///< another page took over its key (prefix_keying's take_over): not counted
};

/// The state of pages [1, N) of one pool. Allocation takes a free page (fast path) and otherwise
/// evicts the policy's victim (slow path). Every page leaving the cache goes through `discard`,
/// which counts it and reports `dropped(p)` to the hooks, so a listener (the pool's prefix keying, a
/// hybrid's mapping) follows every content loss from one place.
/// Invariants (check_invariants): every page 1..N-1 is exactly one of free, owned (ref > 0) or
/// cached (in the eviction policy); the null page is none of them; without a cache (no_eviction)
/// a page has at most one owner.
template <alloc_policy Alloc, eviction_policy Evict>
class page_ownership {
public:
    static constexpr bool caching = !std::same_as<Evict, no_eviction>;

    explicit page_ownership(pool_size n) : free_(n), evict_(n), refs_(static_cast<std::size_t>(n.pages), 0), size_(n) {}

    std::int32_t free_count() const noexcept { return free_.free_count(); }
    std::int32_t cached_count() const noexcept { return evict_.size(); }
    /// Pages an allocation can take: free, then cached.
    std::int32_t available() const noexcept { return free_.free_count() + evict_.size(); }
    std::int32_t owned_count() const noexcept { return size_.pages - 1 - available(); }
    std::int32_t refs(page_id p) const noexcept { return refs_[at(p)]; }
    bool is_cached(page_id p) const noexcept { return evict_.contains(p); }
    bool is_free(page_id p) const noexcept { return free_.is_free(p); }
    std::int64_t evicted_pages() const noexcept { return evicted_; }
    const Alloc& allocator() const noexcept { return free_; }
    const Evict& evictor() const noexcept { return evict_; }

    /// A page for a new owner: a free one, else the eviction policy's victim (its loss reported).
    /// @pre available() > 0
    template <class Hooks>
    page_id take(Hooks& hooks) {
        const page_id p = free_.free_count() > 0 ? free_.pop() : evict_for_reuse(hooks);
        refs_[at(p)] = 1;
        return p;
    }
    /// One more owner for p, taking it out of the cache if it was cached (a hit). @pre p not free
    void acquire(page_id p) noexcept {
        if (refs_[at(p)]++ == 0 && caching) evict_.revive(p);
    }
    /// One owner fewer; true when p has none left (the caller then caches or frees it).
    bool drop_owner(page_id p) noexcept { return --refs_[at(p)] == 0; }
    /// p, owned by nobody, becomes evictable. @pre refs(p) == 0, not cached
    void cache(page_id p, eviction_hint hint)
        requires caching
    {
        evict_.insert(p, hint);
    }
    /// p, owned by nobody and not cached, goes to the free list.
    template <class Hooks>
    void free(page_id p, Hooks& hooks) {
        free_.push(p);
        detail::hook_freed(hooks, p);
    }

    /// The one place a cached page leaves the cache other than by a hit: counted when its content is
    /// lost, reported as `dropped` (before the page is reused), then freed. @pre is_cached(p)
    template <class Hooks>
    void discard(page_id p, Hooks& hooks, cached_content what = cached_content::lost)
        requires caching
    {
        evict_.erase(p);
        lose(p, hooks, what);
        free_.push(p);
    }
    /// Discards every cached page, in the policy's eviction order.
    template <class Hooks>
    void discard_all(Hooks& hooks)
        requires caching
    {
        while (evict_.size() > 0) {
            const page_id p = evict_.evict();
            lose(p, hooks, cached_content::lost);
            free_.push(p);
        }
    }

    /// Checks the invariants above against `owners[p]`, the owner entries the pool's lists hold.
    status check_invariants(std::span<const std::int32_t> owners) const {
        if (free_.is_free(null_page) || evict_.contains(null_page) || refs_[0] != 0)
            return error{errc::invariant_violated, "null page free, cached, owned or keyed"};
        std::int32_t owned = 0, cached = 0;
        for (std::int32_t i = 1; i < size_.pages; ++i) {
            const page_id p{i};
            const bool is_free = free_.is_free(p), in_cache = evict_.contains(p);
            const std::int32_t held = owners[at(p)];
            if (held != refs_[at(p)]) return error{errc::invariant_violated, "reference count != owner entries"};
            if (!caching && held > 1) return error{errc::invariant_violated, "page owned twice"};
            if (held > 0 && (is_free || in_cache))
                return error{errc::invariant_violated, "owned page also free or cached"};
            if (is_free && in_cache) return error{errc::invariant_violated, "page both free and cached"};
            if (held == 0 && !is_free && !in_cache)
                return error{errc::invariant_violated, "page neither free, owned nor cached (leak)"};
            owned += held > 0;
            cached += in_cache;
        }
        if (cached != evict_.size()) return error{errc::invariant_violated, "eviction policy size drift"};
        if (owned + cached + free_.free_count() + 1 != size_.pages)
            return error{errc::invariant_violated, "free + owned + cached + null != N"};
        return {};
    }

private:
    static std::size_t at(page_id p) noexcept { return static_cast<std::size_t>(p.value); }

    // Slow path of allocation: the policy's victim, its content reported gone, ready for reuse.
    template <class Hooks>
    page_id evict_for_reuse(Hooks& hooks) {
        if constexpr (caching) {
            const page_id v = evict_.evict();
            lose(v, hooks, cached_content::lost);
            return v;
        } else {
            (void)hooks;
            return null_page;  // unreachable: without a cache available() == free_count()
        }
    }
    template <class Hooks>
    void lose(page_id p, Hooks& hooks, cached_content what) {
        if (what == cached_content::lost) {
            ++evicted_;
            detail::hook_losing(hooks, p);
        }
        detail::hook_dropped(hooks, p);
    }

    Alloc free_;
    [[no_unique_address]] Evict evict_;
    std::vector<std::int32_t> refs_;
    pool_size size_;
    std::int64_t evicted_ = 0;
};

}  // namespace pagedkv
