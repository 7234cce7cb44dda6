// The device state of a composite pool (a hybrid, or a full pool with any number of attention
// groups): a table mirror per pool plus the step's writes to every group's mapping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pagedkv/table/table_mirror.hpp"

namespace pagedkv {

namespace detail {
/// Group K's pool of a composite: multi_hybrid_pool's `group<K>()`, or a hybrid_pool's one group,
/// its SWA pool.
template <std::size_t K, class Composite>
const auto& composite_group(const Composite& c) {
    if constexpr (requires { c.template group<K>(); })
        return c.template group<K>();
    else
        return c.swa();
}
/// Group K's mapping, indexed by full page: `full_to_group<K>()`, or a hybrid's `full_to_swa()`.
template <std::size_t K, class Composite>
std::span<const page_id> composite_map(const Composite& c) {
    if constexpr (requires { c.template full_to_group<K>(); })
        return c.template full_to_group<K>();
    else
        return c.full_to_swa();
}
template <class Composite>
struct composite_groups : std::integral_constant<std::size_t, 1> {};
template <class Composite>
    requires requires { Composite::group_count; }
struct composite_groups<Composite> : std::integral_constant<std::size_t, Composite::group_count> {};
}  // namespace detail

/// The device state of a composite pool: a mirror of the full pool, one per group, and the map
/// writes of the step. Pool 0 of the delta is the full pool, pool 1 + g group g. The device holds
/// the groups' mappings one after the other: entry g * F + f (F full pages) is group g's page for
/// full page f. A map write holds the composite's own mapping value at every full page whose group-g
/// entry may have changed (a full entry, or a group-g entry at its position), so every entry a
/// kernel can read is a copy of that one home instead of being recomputed from lists that could
/// disagree. With one group (a hybrid_pool) the delta is exactly the hybrid's: entry f is
/// full_to_swa[f].
template <class Composite>
class composite_table_mirror {
public:
    static constexpr std::size_t group_count = detail::composite_groups<Composite>::value;
    using full_mirror = table_mirror<typename Composite::full_pool_type>;
    template <std::size_t K>
    using group_mirror =
        table_mirror<std::remove_cvref_t<decltype(detail::composite_group<K>(std::declval<const Composite&>()))>>;

    /// Errors: those of check_capacity for 1 + group_count pools.
    static result<composite_table_mirror> create(const table_capacity& cap, const Composite& c,
                                                 diff_scope scope = diff_scope::committed_prefix) {
        if (auto s = check_capacity(cap, 1 + static_cast<int>(group_count)); !s) return s.err();
        // table_mirror::create fails only on check_capacity, which passed for these very capacities.
        return composite_table_mirror(cap, c, scope, std::make_index_sequence<group_count>{});
    }

    /// Stages every pool and the mappings for `batch`, or nothing. Errors: those of
    /// table_mirror::stage; buffer_too_small when the map writes of all groups exceed max_writes.
    status stage(const Composite& c, std::span<const request_id> batch) {
        return stage_all(c, batch, std::make_index_sequence<group_count>{});
    }

    /// Packs the last stage (full pool, the groups in order, then the map writes). Errors:
    /// buffer_too_small.
    result<std::int32_t> pack(std::span<std::byte> out) const {
        return [&]<std::size_t... K>(std::index_sequence<K...>) {
            const pool_delta d[] = {full_.delta(), std::get<K>(groups_).delta()...};
            return pack_delta(out, full_.capacity(), d, map_writes_);
        }(std::make_index_sequence<group_count>{});
    }

    const full_mirror& full() const noexcept { return full_; }
    template <std::size_t K>
        requires(K < group_count)
    const group_mirror<K>& group() const noexcept {
        return std::get<K>(groups_);
    }
    /// A hybrid's one group mirror.
    const group_mirror<0>& swa() const noexcept
        requires(group_count == 1)
    {
        return std::get<0>(groups_);
    }
    std::span<const entry_write> map_writes() const noexcept { return map_writes_; }

private:
    template <std::size_t... K>
    composite_table_mirror(const table_capacity& cap, const Composite& c, diff_scope scope, std::index_sequence<K...>)
        : full_(full_mirror::create(cap, c.full(), scope).value()),
          groups_(group_mirror<K>::create(cap, detail::composite_group<K>(c), scope).value()...),
          full_pages_(c.full().size().pages) {
        for (auto& t : touched_) {
            t.mark.assign(static_cast<std::size_t>(full_pages_), 0u);
            t.pages.reserve(static_cast<std::size_t>(cap.max_writes));
        }
        map_writes_.reserve(static_cast<std::size_t>(cap.max_writes));
    }

    /// The full pages whose group-g entry may have changed this stage, each once (epoch marks).
    struct touched_pages {
        std::vector<std::uint32_t> mark;  // full page -> epoch it was last touched in
        std::vector<std::int32_t> pages;
    };

    template <std::size_t... K>
    status stage_all(const Composite& c, std::span<const request_id> batch, std::index_sequence<K...>) {
        next_epoch();
        // A full entry changed: every group's mapping of the old and the new page may have changed.
        auto on_full = [this](request_id, std::int64_t, page_id old_page, page_id new_page) {
            for (std::size_t g = 0; g < group_count; ++g) {
                touch(g, old_page);
                touch(g, new_page);
            }
        };
        // A group-g entry changed at column i: the mapping of the full page at i changed with it.
        // Columns past the full list were dropped there too, and the full mirror touched those pages.
        auto on_group = [this, &c](std::size_t g) {
            return [this, &c, g](request_id r, std::int64_t col, page_id, page_id) {
                if (!c.full().contains(r)) return;
                const auto pages = c.full().pages(r);
                if (col < static_cast<std::int64_t>(pages.size())) touch(g, pages[static_cast<std::size_t>(col)]);
            };
        };
        if (auto s = full_.plan(c.full(), batch, on_full); !s) return s;
        status planned;
        (void)((planned = plan_group<K>(c, batch, on_group(K)), planned.ok()) && ...);
        if (!planned) return planned;
        std::int64_t writes = 0;
        for (const auto& t : touched_) writes += static_cast<std::int64_t>(t.pages.size());
        if (writes > full_.capacity().max_writes) return errc::buffer_too_small;
        map_writes_.clear();  // only now: a failing stage leaves the last staged delta whole
        next_epoch();
        full_.apply(c.full(), batch, on_full);
        (apply_group<K>(c, batch, on_group(K)), ...);
        (record_map<K>(c), ...);
        return {};
    }
    template <std::size_t K, class OnChange>
    status plan_group(const Composite& c, std::span<const request_id> batch, OnChange on_change) {
        return std::get<K>(groups_).plan(detail::composite_group<K>(c), batch, on_change);
    }
    template <std::size_t K, class OnChange>
    void apply_group(const Composite& c, std::span<const request_id> batch, OnChange on_change) {
        std::get<K>(groups_).apply(detail::composite_group<K>(c), batch, on_change);
    }
    template <std::size_t K>
    void record_map(const Composite& c) {
        const auto map = detail::composite_map<K>(c);
        const std::int64_t base = static_cast<std::int64_t>(K) * full_pages_;
        for (std::int32_t f : touched_[K].pages)
            map_writes_.push_back({static_cast<std::int32_t>(base + f), map[static_cast<std::size_t>(f)].value});
    }

    void next_epoch() {
        for (auto& t : touched_) t.pages.clear();
        if (++epoch_ == 0) {
            for (auto& t : touched_) std::fill(t.mark.begin(), t.mark.end(), 0u);
            epoch_ = 1;
        }
    }
    void touch(std::size_t g, page_id f) {
        if (f == null_page) return;
        touched_pages& t = touched_[g];
        auto& m = t.mark[static_cast<std::size_t>(f.value)];
        if (m != epoch_) {
            m = epoch_;
            t.pages.push_back(f.value);
        }
    }

    template <class Seq>
    struct mirrors_of;
    template <std::size_t... K>
    struct mirrors_of<std::index_sequence<K...>> {
        using type = std::tuple<group_mirror<K>...>;
    };

    full_mirror full_;
    typename mirrors_of<std::make_index_sequence<group_count>>::type groups_;
    std::int32_t full_pages_ = 0;
    touched_pages touched_[group_count];
    std::uint32_t epoch_ = 0;
    std::vector<entry_write> map_writes_;
};

}  // namespace pagedkv
