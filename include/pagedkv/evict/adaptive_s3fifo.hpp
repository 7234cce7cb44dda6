// S3-FIFO (Yang et al., SOSP'23) with its small-queue size adapted by ghost hits, as ARC adapts.
#pragma once
#include <bit>
#include <cstdint>
#include <vector>

#include "pagedkv/evict/eviction_policy.hpp"
#include "pagedkv/evict/page_lists.hpp"

namespace pagedkv {

/// S3-FIFO adapted to a KV cache, where an access is a prefix hit and a hit takes the page out of
/// the cache until its owners release it again:
/// - a page cached for the first time joins the small FIFO; a page that was hit since its content
///   was stored, or whose key is in the ghost table (it was evicted and has been recomputed), joins
///   the main FIFO;
/// - while small holds more than its target, small evicts its oldest page outright (no page in
///   small was hit: a hit would have moved it); otherwise main gives its oldest page another pass
///   while the page's hit count (capped at 3) lasts, and evicts it when the count is 0;
/// - the target starts at the paper's 10% of the pool and moves as in ARC: a recomputed page last
///   evicted from small means small was too short (+1 page); one last evicted from main means main
///   was (-1 page). Adapting keeps S3-FIFO's gain over LRU under heavy
///   pressure without its loss when reuse distances are long (measured: bench/RESULTS.md).
/// The ghost table is direct-mapped by key (a slot holds the last key that hashed to it, tagged
/// with the queue it left): an O(1), allocation-free stand-in for the paper's ghost FIFO.
class adaptive_s3fifo {
    static constexpr std::int32_t small = 0, main = 1;
    static constexpr std::uint8_t max_hits = 3;
    static constexpr std::uint64_t from_main = 1;  // ghost tag: the key's low bit
    page_lists lists_;
    std::vector<std::uint8_t> hits_;  // per page: hits since its content was stored, capped
    std::vector<std::uint64_t> key_;  // per page: content key given at insert (for the ghost)
    std::vector<std::uint64_t> ghost_;
    std::uint64_t ghost_mask_;
    std::int32_t target_, pages_;

public:
    explicit adaptive_s3fifo(pool_size n)
        : lists_(n, 2),
          hits_(static_cast<std::size_t>(n.pages), 0),
          key_(static_cast<std::size_t>(n.pages), 0),
          ghost_(std::bit_ceil(static_cast<std::size_t>(n.pages)), 0),
          ghost_mask_(ghost_.size() - 1),
          target_(n.pages / 10),
          pages_(n.pages) {}

    void insert(page_id p, eviction_hint h) noexcept {
        // New content (a page can be unkeyed and freed without erase): its old hits do not count.
        if (key_[at(p)] != h.key) hits_[at(p)] = 0;
        key_[at(p)] = h.key;
        std::uint64_t& g = ghost_[slot(h.key)];
        const bool ghost_hit = g != 0 && (g | from_main) == (h.key | from_main);
        if (ghost_hit) {
            if (g & from_main)
                target_ -= target_ > 0;
            else
                target_ += target_ < pages_;
            g = 0;
        }
        lists_.push_back(hits_[at(p)] > 0 || ghost_hit ? main : small, p);
    }
    void revive(page_id p) noexcept {
        lists_.erase(p);
        if (hits_[at(p)] < max_hits) ++hits_[at(p)];
    }
    void erase(page_id p) noexcept {
        lists_.erase(p);
        hits_[at(p)] = 0;
    }
    page_id evict() noexcept {
        if (!lists_.empty(small) && (lists_.size(small) > target_ || lists_.empty(main))) {
            const page_id p = lists_.pop_front(small);
            remember(p, 0);
            return p;
        }
        for (;;) {  // terminates: every pass decrements a hit count
            const page_id p = lists_.pop_front(main);
            if (hits_[at(p)] == 0) {
                remember(p, from_main);
                return p;
            }
            --hits_[at(p)];
            lists_.push_back(main, p);
        }
    }
    std::int32_t size() const noexcept { return lists_.size(small) + lists_.size(main); }
    bool contains(page_id p) const noexcept { return lists_.linked(p); }
    /// Pages small may hold before main is asked for victims.
    std::int32_t small_target() const noexcept { return target_; }

private:
    static std::size_t at(page_id p) noexcept { return static_cast<std::size_t>(p.value); }
    std::size_t slot(std::uint64_t key) const noexcept { return static_cast<std::size_t>((key >> 1) & ghost_mask_); }
    void remember(page_id p, std::uint64_t tag) noexcept {
        if (key_[at(p)] != 0) ghost_[slot(key_[at(p)])] = (key_[at(p)] & ~from_main) | tag;
    }
};
static_assert(eviction_policy<adaptive_s3fifo>);

}  // namespace pagedkv
