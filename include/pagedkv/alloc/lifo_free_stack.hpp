// LIFO free stack: the most recently freed page is handed out next (hot in L2, fastest to pop).
#pragma once
#include <cstdint>
#include <vector>

#include "pagedkv/alloc/alloc_policy.hpp"
#include "pagedkv/core/contract.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// A free stack plus a free flag per page, so `is_free` is O(1) as well as push and pop.
class lifo_free_stack {
    // Invariant: free_[p] == 1 iff p is in stack_, exactly once; the null page never is.
    std::vector<page_id> stack_;
    std::vector<std::uint8_t> free_;

public:
    /// All pages but the null page free; page 1 is popped first.
    explicit lifo_free_stack(pool_size n) : free_(static_cast<std::size_t>(n.pages), 1) {
        if (!free_.empty()) free_[0] = 0;
        stack_.reserve(free_.size());
        for (std::int32_t p = n.pages - 1; p >= 1; --p) stack_.push_back(page_id{p});
    }
    std::int32_t free_count() const noexcept { return static_cast<std::int32_t>(stack_.size()); }
    page_id pop() noexcept {
        PAGEDKV_ASSERT(!stack_.empty(), "pop() of an empty free stack");
        const page_id p = stack_.back();
        stack_.pop_back();
        free_[static_cast<std::size_t>(p.value)] = 0;
        return p;
    }
    void push(page_id p) noexcept {
        PAGEDKV_ASSERT(p.value > 0 && p.value < static_cast<std::int32_t>(free_.size()) && !is_free(p),
                       "push(p) of the null page, a page outside the pool or a free page");
        free_[static_cast<std::size_t>(p.value)] = 1;
        stack_.push_back(p);
    }
    bool is_free(page_id p) const noexcept { return free_[static_cast<std::size_t>(p.value)] != 0; }
    template <class F>
    void for_each_free(F&& f) const {
        for (page_id p : stack_) f(p);
    }
};
static_assert(alloc_policy<lifo_free_stack>);

}  // namespace pagedkv
