// Lowest-index-first: always hands out the smallest free page (compact, deterministic layouts).
#pragma once
#include <bit>
#include <cstdint>
#include <vector>

#include "pagedkv/alloc/alloc_policy.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// A bitmap of free pages under a summary bitmap of non-empty words, so finding the lowest free
/// page scans N/4096 summary words at worst, however far a freed low page pulled the hint back.
class lowest_index_first {
    // Invariant: bit p of words_ is set iff page p is free (never the null page); bit w of
    // summary_ is set iff words_[w] != 0; every summary word below hint_ is zero;
    // count_ == popcount(words_).
    std::vector<std::uint64_t> words_, summary_;
    std::size_t hint_ = 0;
    std::int32_t count_ = 0;

public:
    explicit lowest_index_first(pool_size n)
        : words_((static_cast<std::size_t>(n.pages) + 63) / 64, 0), summary_((words_.size() + 63) / 64, 0) {
        for (std::int32_t p = 1; p < n.pages; ++p) push(page_id{p});
        hint_ = 0;
    }
    std::int32_t free_count() const noexcept { return count_; }
    page_id pop() noexcept {
        while (summary_[hint_] == 0) ++hint_;  // amortized: the hint only moves back on push
        const std::size_t w = hint_ * 64 + static_cast<std::size_t>(std::countr_zero(summary_[hint_]));
        const int b = std::countr_zero(words_[w]);
        words_[w] &= words_[w] - 1;
        if (words_[w] == 0) summary_[hint_] &= ~bit(w);
        --count_;
        return page_id{static_cast<std::int32_t>(w * 64 + static_cast<std::size_t>(b))};
    }
    void push(page_id p) noexcept {
        const auto w = static_cast<std::size_t>(p.value) / 64;
        if (words_[w] == 0) summary_[w / 64] |= bit(w);
        words_[w] |= bit(static_cast<std::size_t>(p.value));
        if (w / 64 < hint_) hint_ = w / 64;
        ++count_;
    }
    bool is_free(page_id p) const noexcept {
        return (words_[static_cast<std::size_t>(p.value) / 64] & bit(static_cast<std::size_t>(p.value))) != 0;
    }
    template <class F>
    void for_each_free(F&& f) const {
        for (std::size_t w = hint_ * 64; w < words_.size(); ++w)
            for (std::uint64_t bits = words_[w]; bits != 0; bits &= bits - 1)
                f(page_id{static_cast<std::int32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)))});
    }

private:
    static constexpr std::uint64_t bit(std::size_t i) noexcept { return std::uint64_t{1} << (i % 64); }
};
static_assert(alloc_policy<lowest_index_first>);

}  // namespace pagedkv
