// Priority LRU (TensorRT-LLM's scheme): every page of the lowest priority goes before any of the next.
#pragma once
#include <bit>
#include <cstdint>

#include "pagedkv/evict/eviction_policy.hpp"
#include "pagedkv/evict/page_lists.hpp"

namespace pagedkv {

/// One LRU list per retention priority 0..100 (hint.priority, clamped to 100) and a bitmap of the
/// non-empty ones, so `evict` finds the lowest non-empty level in two word scans.
class priority_lru {
    static constexpr std::int32_t levels = max_retention_priority + 1;
    // Invariant: bit l of nonempty_ is set iff list l is non-empty.
    page_lists lists_;
    std::uint64_t nonempty_[2] = {0, 0};
    std::int32_t size_ = 0;

public:
    explicit priority_lru(pool_size n) : lists_(n, levels) {}
    void insert(page_id p, eviction_hint h) noexcept {
        const std::int32_t l = h.priority > max_retention_priority ? max_retention_priority : h.priority;
        lists_.push_back(l, p);
        nonempty_[l / 64] |= std::uint64_t{1} << (l % 64);
        ++size_;
    }
    void revive(page_id p) noexcept { erase(p); }
    void erase(page_id p) noexcept {
        const std::int32_t l = lists_.list_of(p);
        lists_.erase(p);
        if (lists_.empty(l)) nonempty_[l / 64] &= ~(std::uint64_t{1} << (l % 64));
        --size_;
    }
    page_id evict() noexcept {
        const std::int32_t l = nonempty_[0] != 0 ? std::countr_zero(nonempty_[0]) : 64 + std::countr_zero(nonempty_[1]);
        const page_id p = lists_.front(l);
        erase(p);
        return p;
    }
    std::int32_t size() const noexcept { return size_; }
    bool contains(page_id p) const noexcept { return lists_.linked(p); }
};
static_assert(eviction_policy<priority_lru>);

}  // namespace pagedkv
