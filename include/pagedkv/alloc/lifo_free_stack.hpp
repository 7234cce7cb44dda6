// LIFO free stack: the most recently freed page is handed out next (hot in L2, fastest to pop).
#pragma once
#include <cstdint>
#include <vector>

#include "pagedkv/alloc/alloc_policy.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// A free stack with a position index, so `is_free` and `remove` are O(1) as well as push/pop.
class lifo_free_stack {
    // Invariant: stack_[pos_[p]] == p for every free page p; pos_[p] == npos otherwise;
    // the null page is never in stack_.
    static constexpr std::int32_t npos = -1;
    std::vector<page_id> stack_;
    std::vector<std::int32_t> pos_;

public:
    /// All pages but the null page free; page 1 is popped first.
    explicit lifo_free_stack(pool_size n) : pos_(static_cast<std::size_t>(n.pages), npos) {
        stack_.reserve(pos_.size());
        for (std::int32_t p = n.pages - 1; p >= 1; --p) {
            pos_[static_cast<std::size_t>(p)] = static_cast<std::int32_t>(stack_.size());
            stack_.push_back(page_id{p});
        }
    }
    std::int32_t free_count() const noexcept { return static_cast<std::int32_t>(stack_.size()); }
    page_id pop() noexcept {
        const page_id p = stack_.back();
        stack_.pop_back();
        pos_[static_cast<std::size_t>(p.value)] = npos;
        return p;
    }
    void push(page_id p) noexcept {
        pos_[static_cast<std::size_t>(p.value)] = static_cast<std::int32_t>(stack_.size());
        stack_.push_back(p);
    }
    bool is_free(page_id p) const noexcept { return pos_[static_cast<std::size_t>(p.value)] != npos; }
    void remove(page_id p) noexcept {
        const std::int32_t i = pos_[static_cast<std::size_t>(p.value)];
        const page_id last = stack_.back();
        stack_[static_cast<std::size_t>(i)] = last;  // swap-remove keeps removal O(1)
        pos_[static_cast<std::size_t>(last.value)] = i;
        stack_.pop_back();
        pos_[static_cast<std::size_t>(p.value)] = npos;
    }
    template <class F>
    void for_each_free(F&& f) const {
        for (page_id p : stack_) f(p);
    }
};
static_assert(alloc_policy<lifo_free_stack>);

}  // namespace pagedkv
