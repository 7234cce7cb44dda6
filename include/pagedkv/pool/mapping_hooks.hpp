// What each pool of a mapped_pools tells the others inside its calls, through pool_hooks: a full
// page's content loss takes its cached group pages along; a group page that leaves clears its
// mapping entry.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "pagedkv/cache/kv_event.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/pool/each_group.hpp"
#include "pagedkv/pool/pool_hooks.hpp"

namespace pagedkv::detail {

/// Whether a group page evicted while its full page stays cached is reported (`removed`, of the
/// group's layers); reset_cache and pages dropped with their full page are not.
enum class group_evictions : bool { silent, reported };

/// The hooks group K's pool calls, with the caller's listener `outer` (mapped_pools' comment). Its
/// page stays cached while its full page is keyed; a page that leaves clears its mapping entry.
template <class Pools, std::size_t K, class Outer>
struct group_hooks : no_hooks {
    Pools& h;
    group_evictions reporting;
    Outer& outer;
    group_hooks(Pools& pools, group_evictions e, Outer& o) noexcept : h(pools), reporting(e), outer(o) {}
    std::optional<std::uint64_t> retain_key(page_id s) const {
        const page_id f = h.maps_[K].full_of(s);
        return f == null_page ? std::nullopt : h.full_.key_of(f);
    }
    void freed(page_id s) {
        tell_released(s);
        h.maps_[K].unlink(s);
    }
    void dropped(page_id s) {
        tell_released(s);
        if constexpr (Pools::caching) {
            if (reporting == group_evictions::reported)
                h.full_.keying().report(kv_event_kind::removed, Pools::template group_pool_type<K>::kind,
                                        h.maps_[K].full_of(s), s, static_cast<std::uint8_t>(K));
        }
        h.maps_[K].unlink(s);
    }
    void tell_released(page_id s) {
        if constexpr (requires { outer.group_released(K, s); }) outer.group_released(K, s);
    }
};

/// The hooks the full pool calls, with the caller's listener `outer`: a full page whose content is
/// gone (or that lost its key while no request holds its group page) takes its cached group pages
/// along.
template <class Pools, class Outer>
struct full_hooks : no_hooks {
    Pools& h;
    Outer& outer;
    full_hooks(Pools& pools, Outer& o) noexcept : h(pools), outer(o) {}
    void losing(page_id f) {
        if constexpr (requires { outer.full_losing(f); }) outer.full_losing(f);
    }
    void freed(page_id f) {
        if constexpr (requires { outer.full_freed(f); }) outer.full_freed(f);
    }
    void dropped(page_id f) {
        each_group<Pools::group_count>([&](auto k) { drop_group_page<k>(f); });
    }
    void unkeyed(page_id f) {
        each_group<Pools::group_count>([&](auto k) {
            const page_id s = h.maps_[k].of(f);
            if (s != null_page && h.template group<k>().ref_count(s) == 0) drop_group_page<k>(f);
        });
    }
    // A recomputed copy heals a cached page when it has a group page the cached one lost and loses
    // none the cached one has (one group: SGLang's rule on insert over a tombstone).
    bool prefer_copy(page_id cached, page_id copy) const {
        bool heals = false, loses = false;
        each_group<Pools::group_count>([&](auto k) {
            const bool had = h.maps_[k].of(cached) != null_page, has = h.maps_[k].of(copy) != null_page;
            heals = heals || (!had && has);
            loses = loses || (had && !has);
        });
        return heals && !loses;
    }
    void replaced(page_id, page_id copy) {
        each_group<Pools::group_count>([&](auto k) {
            if (const page_id s = h.maps_[k].of(copy); s != null_page)
                h.full_.keying().report(kv_event_kind::stored, Pools::template group_pool_type<k>::kind, copy, s,
                                        static_cast<std::uint8_t>(k));
        });
    }

private:
    template <std::size_t K>
    void drop_group_page(page_id f) {
        if (const page_id s = h.maps_[K].of(f); s != null_page)
            (void)h.template group_mut<K>().drop_cached(
                s, group_hooks<Pools, K, Outer>(h, group_evictions::silent, outer));
    }
};

}  // namespace pagedkv::detail
