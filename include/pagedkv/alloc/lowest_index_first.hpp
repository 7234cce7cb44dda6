// Lowest-index-first: always hands out the smallest free page (compact, deterministic layouts).
#pragma once
#include <bit>
#include <cstdint>
#include <vector>

#include "pagedkv/alloc/alloc_policy.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// A bitmap of free pages with a hint at the lowest word that may hold a set bit.
class lowest_index_first {
    // Invariant: bit p of words_ is set iff page p is free; bit 0 (null page) is never set;
    // every word below hint_ is zero; count_ == popcount(words_).
    std::vector<std::uint64_t> words_;
    std::size_t hint_ = 0;
    std::int32_t count_ = 0;

public:
    explicit lowest_index_first(pool_size n) : words_((static_cast<std::size_t>(n.pages) + 63) / 64, 0) {
        for (std::int32_t p = 1; p < n.pages; ++p) words_[static_cast<std::size_t>(p) / 64] |= bit(p);
        count_ = n.pages > 0 ? n.pages - 1 : 0;
    }
    std::int32_t free_count() const noexcept { return count_; }
    page_id pop() noexcept {
        while (words_[hint_] == 0) ++hint_;  // amortized: the hint only moves back on push
        const int b = std::countr_zero(words_[hint_]);
        words_[hint_] &= words_[hint_] - 1;
        --count_;
        return page_id{static_cast<std::int32_t>(hint_ * 64 + static_cast<std::size_t>(b))};
    }
    void push(page_id p) noexcept {
        const auto w = static_cast<std::size_t>(p.value) / 64;
        words_[w] |= bit(p.value);
        if (w < hint_) hint_ = w;
        ++count_;
    }
    bool is_free(page_id p) const noexcept {
        return (words_[static_cast<std::size_t>(p.value) / 64] & bit(p.value)) != 0;
    }
    void remove(page_id p) noexcept {
        words_[static_cast<std::size_t>(p.value) / 64] &= ~bit(p.value);
        --count_;
    }
    template <class F>
    void for_each_free(F&& f) const {
        for (std::size_t w = hint_; w < words_.size(); ++w)
            for (std::uint64_t bits = words_[w]; bits != 0; bits &= bits - 1)
                f(page_id{static_cast<std::int32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)))});
    }

private:
    static constexpr std::uint64_t bit(std::int32_t p) noexcept { return std::uint64_t{1} << (p % 64); }
};
static_assert(alloc_policy<lowest_index_first>);

}  // namespace pagedkv
