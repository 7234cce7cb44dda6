// Request ids and what every pool of a request shares: its lengths, cache scope and retention.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "pagedkv/cache/cache_scope.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// One live request's lengths and cache identity. Invariant: 0 <= committed <= length.
struct request_row {
    std::int64_t length_tokens = 0;
    std::int64_t committed_tokens = 0;
    cache_scope scope;
    retention keep;
};

/// The ids a pool issues: dense slots, reused last-freed first, each with a generation that changes
/// on every reuse so a handle kept after free is rejected instead of reaching the slot's next owner.
/// Slot UINT32_MAX is `no_request`'s and never issued.
/// Invariants: a retired slot holds an empty row and is in the free list exactly once; live() is
/// the number of live slots.
class request_table {
public:
    /// A new request. Errors: too_many_requests.
    result<request_id> add(cache_scope scope, retention keep) {
        if (free_slots_.empty()) {
            if (slots_.size() >= no_request.slot) return errc::too_many_requests;
            slots_.emplace_back();
            free_slots_.push_back(static_cast<std::uint32_t>(slots_.size() - 1));
        }
        const std::uint32_t i = free_slots_.back();
        free_slots_.pop_back();
        slot& s = slots_[i];
        s.live = true;
        s.row.scope = scope;
        s.row.keep = keep;
        ++live_;
        return request_id{i, s.generation};
    }
    /// Retires r: its slot's next request gets a new generation. @pre contains(r)
    void retire(request_id r) noexcept {
        slot& s = slots_[r.slot];
        s.row.length_tokens = s.row.committed_tokens = 0;
        s.live = false;
        ++s.generation;
        --live_;
        free_slots_.push_back(r.slot);
    }

    /// r holds `length` tokens, the first `committed` of them committed. @pre contains(r), committed <= length
    void set_lengths(request_id r, std::int64_t length, std::int64_t committed) noexcept {
        request_row& row = slots_[r.slot].row;
        row.length_tokens = length;
        row.committed_tokens = committed;
    }
    /// r rolled back to `n` tokens: committed ones past n are dropped too. @pre contains(r), n >= 0
    void truncate(request_id r, std::int64_t n) noexcept {
        request_row& row = slots_[r.slot].row;
        row.length_tokens = n;
        if (row.committed_tokens > n) row.committed_tokens = n;
    }

    bool contains(request_id r) const noexcept {
        return r.slot < slots_.size() && slots_[r.slot].live && slots_[r.slot].generation == r.generation;
    }
    /// @pre contains(r)
    request_row& row(request_id r) noexcept { return slots_[r.slot].row; }
    const request_row& row(request_id r) const noexcept { return slots_[r.slot].row; }
    std::int64_t live() const noexcept { return live_; }
    /// Slots issued so far (live or retired): per-slot arrays of the pools are this long.
    std::size_t slots() const noexcept { return slots_.size(); }

    /// Calls f(request_id) for every live request, in slot order.
    template <class F>
    void for_each(F&& f) const {
        for (std::uint32_t i = 0; i < slots_.size(); ++i)
            if (slots_[i].live) f(request_id{i, slots_[i].generation});
    }

    /// Checks the invariants above; O(slots).
    status check_invariants() const {
        std::int64_t live = 0;
        for (const slot& s : slots_) {
            if (!s.live) {
                if (s.row.length_tokens != 0 || s.row.committed_tokens != 0)
                    return error{errc::invariant_violated, "retired slot holds tokens"};
                continue;
            }
            ++live;
            if (s.row.committed_tokens < 0 || s.row.committed_tokens > s.row.length_tokens)
                return error{errc::invariant_violated, "committed outside [0, length]"};
        }
        if (live != live_) return error{errc::invariant_violated, "live request count drift"};
        if (static_cast<std::int64_t>(free_slots_.size()) != static_cast<std::int64_t>(slots_.size()) - live_)
            return error{errc::invariant_violated, "free slot list drift"};
        return {};
    }

private:
    struct slot {
        request_row row;
        std::uint32_t generation = 0;
        bool live = false;
    };
    std::vector<slot> slots_;
    std::vector<std::uint32_t> free_slots_;
    std::int64_t live_ = 0;
};

/// Where a pool reads its requests: its own table (a pool used alone), or the one table of the
/// composite it is part of (hybrid_pool, multi_hybrid_pool: `share`), which re-shares its own after
/// it was copied or moved. No pointer to its own table: an object holding its own address would
/// make every store through a page array a possible write to the pool's fields for the optimizer.
class request_home {
public:
    /// The table the pool reads.
    const request_table& table() const noexcept { return shared_ ? *shared_ : own_; }
    /// The pool's own table, which its checked mutations write. @pre owned()
    request_table& own() noexcept { return own_; }
    bool owned() const noexcept { return shared_ == nullptr; }
    /// Reads `composite` from now on. @pre the own table has issued no id
    void share(const request_table& composite) noexcept { shared_ = &composite; }

private:
    request_table own_;
    const request_table* shared_ = nullptr;
};

}  // namespace pagedkv
