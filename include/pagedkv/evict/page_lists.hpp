// Intrusive doubly-linked lists of pages: the O(1) queues every eviction policy is built from.
#pragma once
#include <cstdint>
#include <vector>

#include "pagedkv/core/contract.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// `L` FIFO lists over the pages of one pool; a page is in at most one list at a time. Links are
/// indices into arrays sized once at construction, so no operation allocates.
class page_lists {
    // Nodes [0, N) are pages; node N + l is the sentinel of list l. Invariant: a page p is linked
    // iff list_[p] != npos; then prev_/next_ form a ring through sentinel N + list_[p], and
    // size_[l] is the number of pages on ring l.
    static constexpr std::int32_t npos = -1;
    std::vector<std::int32_t> prev_, next_;
    std::vector<std::int32_t> list_;
    std::vector<std::int32_t> size_;
    std::int32_t pages_;

public:
    /// `lists` empty lists for a pool of `n` pages.
    page_lists(pool_size n, std::int32_t lists)
        : prev_(static_cast<std::size_t>(n.pages + lists)),
          next_(prev_.size()),
          list_(static_cast<std::size_t>(n.pages), npos),
          size_(static_cast<std::size_t>(lists), 0),
          pages_(n.pages) {
        for (std::int32_t l = 0; l < lists; ++l) prev_[at(pages_ + l)] = next_[at(pages_ + l)] = pages_ + l;
    }

    bool linked(page_id p) const noexcept { return list_[at(p.value)] != npos; }
    /// The list p is on. @pre linked(p)
    std::int32_t list_of(page_id p) const noexcept { return list_[at(p.value)]; }
    std::int32_t size(std::int32_t list) const noexcept { return size_[at(list)]; }
    bool empty(std::int32_t list) const noexcept { return size_[at(list)] == 0; }
    /// Oldest page of the list. @pre !empty(list)
    page_id front(std::int32_t list) const noexcept { return page_id{next_[at(pages_ + list)]}; }

    /// Appends p as the newest page of `list`. @pre !linked(p)
    void push_back(std::int32_t list, page_id p) noexcept {
        PAGEDKV_ASSERT(!linked(p), "push_back(list, p) of a page already on a list");
        const std::int32_t s = pages_ + list, last = prev_[at(s)];
        next_[at(last)] = p.value;
        prev_[at(p.value)] = last;
        next_[at(p.value)] = s;
        prev_[at(s)] = p.value;
        list_[at(p.value)] = list;
        ++size_[at(list)];
    }
    /// Unlinks p from its list. @pre linked(p)
    void erase(page_id p) noexcept {
        PAGEDKV_ASSERT(linked(p), "erase(p) of a page on no list");
        const std::int32_t a = prev_[at(p.value)], b = next_[at(p.value)];
        next_[at(a)] = b;
        prev_[at(b)] = a;
        --size_[at(list_[at(p.value)])];
        list_[at(p.value)] = npos;
    }
    /// Removes and returns the oldest page of `list`. @pre !empty(list)
    page_id pop_front(std::int32_t list) noexcept {
        PAGEDKV_ASSERT(!empty(list), "pop_front(list) of an empty list");
        const page_id p = front(list);
        erase(p);
        return p;
    }

private:
    static constexpr std::size_t at(std::int32_t i) noexcept { return static_cast<std::size_t>(i); }
};

}  // namespace pagedkv
