// Least-recently-used eviction: the page cached longest ago goes first.
#pragma once
#include <cstdint>

#include "pagedkv/evict/eviction_policy.hpp"
#include "pagedkv/evict/page_lists.hpp"

namespace pagedkv {

/// LRU over one intrusive list, oldest at the front. A page's recency is the moment its last
/// owner released it (a hit takes it off the list; its next release puts it at the back).
class lru {
    page_lists list_;

public:
    explicit lru(pool_size n) : list_(n, 1) {}
    void insert(page_id p, eviction_hint) noexcept { list_.push_back(0, p); }
    void revive(page_id p) noexcept { list_.erase(p); }
    void erase(page_id p) noexcept { list_.erase(p); }
    page_id evict() noexcept { return list_.pop_front(0); }
    std::int32_t size() const noexcept { return list_.size(0); }
    bool contains(page_id p) const noexcept { return list_.linked(p); }
};
static_assert(eviction_policy<lru>);

}  // namespace pagedkv
