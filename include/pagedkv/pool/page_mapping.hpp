// Which page of a group pool holds the tokens of each full page, and its inverse.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// The one home of "which group page holds full page f's tokens" in a composite pool: `of(f)` is
/// that group page or the group's null page, `full_of(s)` its inverse, both written only by `link`
/// and `unlink` (one writer for a mapping and its inverse).
/// Invariants (check_against): the two agree; a mapped pair is in use in both pools (or cached in
/// both); a cached group page's full page has a content key; a group page is mapped iff not free.
class page_mapping {
public:
    page_mapping(pool_size full, pool_size group)
        : from_full_(static_cast<std::size_t>(full.pages), null_page),
          to_full_(static_cast<std::size_t>(group.pages), null_page) {}

    /// The group page of full page f, or null_page. @pre f is a page of the full pool
    page_id of(page_id f) const noexcept { return from_full_[at(f)]; }
    /// The full page whose tokens group page s holds, or null_page. @pre s is a page of the group's pool
    page_id full_of(page_id s) const noexcept { return to_full_[at(s)]; }
    /// Indexed by full page; every entry is a page of the group's pool.
    std::span<const page_id> from_full() const noexcept { return from_full_; }

    void link(page_id f, page_id s) noexcept {
        from_full_[at(f)] = s;
        to_full_[at(s)] = f;
    }
    /// Group page s leaves its full page (s freed, or evicted while its full page stays: a tombstone).
    void unlink(page_id s) noexcept {
        page_id& f = to_full_[at(s)];
        from_full_[at(f)] = null_page;
        f = null_page;
    }

    /// Checks the invariants above against the two pools (`Full`, `Group`: their page queries).
    template <class Full, class Group>
    status check_against(const Full& full, const Group& group) const {
        for (std::int32_t i = 0; i < full.size().pages; ++i) {
            const page_id f{i}, s = of(f);
            if (s.value < 0 || s.value >= group.size().pages)
                return error{errc::invariant_violated, "full-to-group entry out of the group pool's range"};
            if (s == null_page) continue;
            if (full_of(s) != f) return error{errc::invariant_violated, "full-to-group and group-to-full disagree"};
            if (full.allocator().is_free(f) || group.allocator().is_free(s))
                return error{errc::invariant_violated, "mapping entry of a free page"};
            if (group.ref_count(s) > full.ref_count(f))
                return error{errc::invariant_violated, "group page held by more requests than its full page"};
            if (group.is_cached(s) && !full.key_of(f))
                return error{errc::invariant_violated, "cached group page under an unkeyed full page"};
        }
        for (std::int32_t i = 1; i < group.size().pages; ++i) {
            const page_id s{i}, f = full_of(s);
            if (f.value < 0 || f.value >= full.size().pages || (f != null_page && of(f) != s))
                return error{errc::invariant_violated, "group-to-full entry without its full-to-group entry"};
            if ((f == null_page) != group.allocator().is_free(s))
                return error{errc::invariant_violated, "group page in use but unmapped, or free but mapped"};
        }
        return {};
    }

private:
    static std::size_t at(page_id p) noexcept { return static_cast<std::size_t>(p.value); }
    std::vector<page_id> from_full_;  // by full page
    std::vector<page_id> to_full_;    // by group page
};

}  // namespace pagedkv
