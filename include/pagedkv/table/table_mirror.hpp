// Host-side change recording for device page tables: a copy of what the device holds, diffed
// against the pool each step into one compact delta (copied host-to-device in one transfer).
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"
#include "pagedkv/table/delta_format.hpp"
#include "pagedkv/table/page_table_source.hpp"

namespace pagedkv {

/// The default `on_change` of `table_mirror::stage`: ignores every change.
struct ignore_changes {
    void operator()(request_id, std::int64_t, page_id, page_id) const noexcept {}
};

/// How much of each tracked row a stage re-reads.
enum class diff_scope : std::uint8_t {
    /// O(changed + rows): pages under min(committed length at the last stage, committed length now)
    /// are taken as unchanged. Exact for every history in which no `commit` follows a `truncate`
    /// below the committed length between two stages (the engine loop: stage, run, commit, roll back).
    committed_prefix,
    /// O(live pages of every tracked row): exact after any history.
    full_rows,
};

/// A pool a mirror can follow: emit-able, and able to list its live requests (to find new and freed ones).
template <class S>
concept mirrored_source = page_table_source<S> && requires(const S& s, void (*visit)(request_id)) {
    { s.for_each_request(visit) } -> std::same_as<void>;
};

/// The device's state of one pool, kept on the host: for each live request a store row and the
/// page list as last staged. `stage` diffs the pool against it and records the delta: store
/// writes (appended or replaced entries), owner writes (pages that changed hands), and one
/// descriptor per batch row (where its pages are, which are live, where its outputs go).
/// Window release, rollback and free need no store writes: a descriptor's lengths and first live
/// page already tell the device which entries to emit.
template <mirrored_source S>
class table_mirror {
public:
    /// Errors: those of check_capacity.
    static result<table_mirror> create(const table_capacity& cap, const S& src,
                                       diff_scope scope = diff_scope::committed_prefix) {
        if (auto s = check_capacity(cap); !s) return s.err();
        return table_mirror(cap, src, scope);
    }

    /// Diffs `src` against the mirror and records this step's delta for `batch` (rows in that order).
    /// `on_change(request_id, column, old_page, new_page)` sees every entry that changed.
    /// Errors (nothing changed): buffer_too_small (batch, store rows, new tokens or a record list
    /// over capacity), unknown_request, duplicate_request, row_too_short.
    template <class OnChange = ignore_changes>
    status stage(const S& src, std::span<const request_id> batch, OnChange&& on_change = {}) {
        if (auto s = plan(src, batch, on_change); !s) return s;
        apply(src, batch, on_change);
        return {};
    }

    /// The checks and counts of `stage`, changing nothing (lets a hybrid plan both pools first).
    template <class OnChange>
    status plan(const S& src, std::span<const request_id> batch, OnChange& on_change) {
        if (static_cast<std::int64_t>(batch.size()) > cap_.max_batch) return errc::buffer_too_small;
        const std::uint32_t mark = next_epoch();
        std::int64_t new_tokens = 0;
        for (request_id r : batch) {
            if (!src.contains(r)) return errc::unknown_request;
            grow_slots(r.slot);
            if (slot_mark_[r.slot] == mark) return errc::duplicate_request;
            slot_mark_[r.slot] = mark;
            new_tokens += src.length_tokens(r) - src.committed_tokens(r);
        }
        std::int64_t live = 0;
        bool too_long = false;
        src.for_each_request([&](request_id r) {
            ++live;
            too_long |= static_cast<std::int64_t>(src.pages(r).size()) > cap_.max_pages_per_request;
        });
        if (too_long) return errc::row_too_short;
        if (live > cap_.max_requests || new_tokens > cap_.max_new_tokens) return errc::buffer_too_small;
        counter c{this};
        walk(src, batch, c, on_change);
        if (c.writes[0] > cap_.max_writes || c.writes[1] > cap_.max_writes || c.owners > cap_.max_writes)
            return errc::buffer_too_small;
        return {};
    }

    /// @pre plan(src, batch, ...) succeeded and neither changed since.
    template <class OnChange>
    void apply(const S& src, std::span<const request_id> batch, OnChange& on_change) {
        const std::uint32_t mark = next_epoch();
        for (request_id r : batch) slot_mark_[r.slot] = mark;  // walk's batch mark for this pass
        rows_out_.clear();
        batch_writes_.clear();
        other_writes_.clear();
        owner_writes_.clear();
        recorder rec{this};
        walk(src, batch, rec, on_change);
        // Sets after every clear: a page that moved between rows this step ends with its new row.
        for (const auto* list : {&batch_writes_, &other_writes_})
            for (const entry_write& w : *list) owner_[static_cast<std::size_t>(w.value)] = w.index / stride();
        for (std::int32_t p : touched_) owner_writes_.push_back({p, owner_[static_cast<std::size_t>(p)]});
        touched_.clear();
    }

    /// The last stage's delta.
    pool_delta delta() const noexcept { return {rows_out_, batch_writes_, other_writes_, owner_writes_}; }
    /// Packs the last stage's delta alone. Errors: buffer_too_small.
    result<std::int32_t> pack(std::span<std::byte> out) const {
        const pool_delta d = delta();
        return pack_delta(out, cap_, std::span<const pool_delta>(&d, 1), {});
    }

    const table_capacity& capacity() const noexcept { return cap_; }
    /// The store row of a tracked request, or -1.
    std::int32_t store_row(request_id r) const noexcept { return row_of(r); }
    /// owner[page]: the store row holding the page as last staged, or -1.
    std::span<const std::int32_t> owners() const noexcept { return owner_; }

    /// Compares every tracked row with `src` in full (debug and tests). Errors: invariant_violated.
    status check_against(const S& src) const {
        status bad{};
        src.for_each_request([&](request_id r) {
            const std::int32_t row = row_of(r);
            if (!bad.ok()) return;
            if (row < 0) {
                bad = error{errc::invariant_violated, "live request not tracked"};
                return;
            }
            const tracked& t = rows_[static_cast<std::size_t>(row)];
            const auto pages = src.pages(r);
            if (t.length != src.length_tokens(r) || t.committed != src.committed_tokens(r) ||
                t.first_live != src.first_live_page(r) || t.page_count != static_cast<std::int64_t>(pages.size())) {
                bad = error{errc::invariant_violated, "tracked lengths differ from the pool"};
                return;
            }
            for (std::int64_t i = t.first_live; i < t.page_count; ++i)
                if (copy_at(row, i) != pages[static_cast<std::size_t>(i)].value) {
                    bad = error{errc::invariant_violated, "tracked page differs from the pool"};
                    return;
                }
        });
        return bad;
    }

private:
    // Invariants: rows_[row].live iff the row is on no free list; row_of(rows_[row].id) == row for
    // live rows; copy_ row entries in [first_live, page_count) equal the device store's; owner_[p] is
    // the live row whose entries [first_live, page_count) hold p, or -1.
    struct tracked {
        request_id id{};
        std::int64_t length = 0, committed = 0, first_live = 0, page_count = 0;
        bool live = false;
    };

    table_mirror(const table_capacity& cap, const S& src, diff_scope scope)
        : cap_(cap),
          scope_(scope),
          page_size_(src.page_size_tokens()),
          rows_(static_cast<std::size_t>(cap.max_requests)),
          copy_(static_cast<std::size_t>(cap.max_requests) * static_cast<std::size_t>(cap.max_pages_per_request)),
          owner_(static_cast<std::size_t>(src.size().pages), -1),
          owner_mark_(static_cast<std::size_t>(src.size().pages), 0) {
        for (std::int32_t r = cap.max_requests - 1; r >= 0; --r) free_rows_.push_back(r);
        rows_out_.reserve(static_cast<std::size_t>(cap.max_batch));
        batch_writes_.reserve(static_cast<std::size_t>(cap.max_writes));
        other_writes_.reserve(static_cast<std::size_t>(cap.max_writes));
        owner_writes_.reserve(static_cast<std::size_t>(cap.max_writes));
        touched_.reserve(static_cast<std::size_t>(cap.max_writes));
        grow_slots(static_cast<std::uint32_t>(2 * cap.max_requests));
    }

    std::int32_t stride() const noexcept { return cap_.max_pages_per_request; }
    // Marks compare equal to the current epoch only; on wrap-around every old mark is cleared.
    std::uint32_t next_epoch() {
        if (++epoch_ == 0) {
            std::fill(slot_mark_.begin(), slot_mark_.end(), 0u);
            std::fill(owner_mark_.begin(), owner_mark_.end(), 0u);
            epoch_ = 1;
        }
        return epoch_;
    }
    std::int32_t copy_at(std::int32_t row, std::int64_t col) const noexcept {
        return copy_[static_cast<std::size_t>(row) * static_cast<std::size_t>(stride()) +
                     static_cast<std::size_t>(col)];
    }
    std::int32_t row_of(request_id r) const noexcept {
        if (r.slot >= slot_row_.size()) return -1;
        const std::int32_t row = slot_row_[r.slot];
        return row >= 0 && rows_[static_cast<std::size_t>(row)].live && rows_[static_cast<std::size_t>(row)].id == r
                   ? row
                   : -1;
    }
    // Grows only when the pool uses a request slot beyond every one seen before (rare, amortized).
    void grow_slots(std::uint32_t slot) {
        if (slot >= slot_row_.size()) {
            slot_row_.resize(static_cast<std::size_t>(slot) + 1, -1);
            slot_mark_.resize(static_cast<std::size_t>(slot) + 1, 0);
        }
    }

    // The dry pass of plan: counts what the recorder would write, changes nothing but scratch marks.
    struct counter {
        table_mirror* m;
        std::int64_t writes[2] = {0, 0};
        std::int64_t owners = 0;
        // plan checked live <= max_requests and walk frees before it assigns: a row is always free.
        std::int32_t assign(request_id) { return -1; }
        void release(std::int32_t) {}
        void write(bool in_batch, std::int32_t, std::int64_t, std::int32_t page) {
            ++writes[in_batch ? 0 : 1];
            touch(page);
        }
        void clear(std::int32_t, std::int32_t page) { touch(page); }
        void touch(std::int32_t page) {
            auto& mk = m->owner_mark_[static_cast<std::size_t>(page)];
            if (mk != m->epoch_) {
                mk = m->epoch_;
                ++owners;
            }
        }
        void synced(std::int32_t, request_id, const S&) {}
        void row(std::int32_t, std::int32_t, std::int32_t, request_id, const S&) {}
    };

    // The applying pass: records the delta and moves the mirror to the pool's state.
    struct recorder {
        table_mirror* m;
        std::int32_t csr_at = 0, slot_at = 0;
        std::int32_t assign(request_id r) {
            const std::int32_t row = m->free_rows_.back();
            m->free_rows_.pop_back();
            m->rows_[static_cast<std::size_t>(row)] = tracked{r, 0, 0, 0, 0, true};
            m->slot_row_[r.slot] = row;
            return row;
        }
        void release(std::int32_t row) {
            m->rows_[static_cast<std::size_t>(row)].live = false;
            m->free_rows_.push_back(row);
        }
        void write(bool in_batch, std::int32_t row, std::int64_t col, std::int32_t page) {
            const std::int32_t index = row * m->stride() + static_cast<std::int32_t>(col);
            m->copy_[static_cast<std::size_t>(index)] = page;
            (in_batch ? m->batch_writes_ : m->other_writes_).push_back({index, page});
            touch(page);
        }
        void clear(std::int32_t, std::int32_t page) {
            m->owner_[static_cast<std::size_t>(page)] = -1;  // apply() re-sets pages that moved to another row
            touch(page);
        }
        void touch(std::int32_t page) {
            auto& mk = m->owner_mark_[static_cast<std::size_t>(page)];
            if (mk != m->epoch_) {
                mk = m->epoch_;
                m->touched_.push_back(page);
            }
        }
        void synced(std::int32_t row, request_id r, const S& src) {
            tracked& t = m->rows_[static_cast<std::size_t>(row)];
            t.length = src.length_tokens(r);
            t.committed = src.committed_tokens(r);
            t.first_live = src.first_live_page(r);
            t.page_count = static_cast<std::int64_t>(src.pages(r).size());
        }
        void row(std::int32_t row, std::int32_t write_begin, std::int32_t write_end, request_id r, const S& src) {
            const tracked& t = m->rows_[static_cast<std::size_t>(row)];
            m->rows_out_.push_back(row_desc{t.length, t.committed, row, static_cast<std::int32_t>(t.first_live), csr_at,
                                            slot_at, write_begin, write_end - write_begin});
            csr_at += static_cast<std::int32_t>(t.page_count - t.first_live);
            slot_at += static_cast<std::int32_t>(src.length_tokens(r) - src.committed_tokens(r));
        }
    };

    // One traversal for both passes: freed rows, then the batch in order, then every other live request.
    template <class Sink, class OnChange>
    void walk(const S& src, std::span<const request_id> batch, Sink& sink, OnChange& on_change) {
        for (std::int32_t row = 0; row < cap_.max_requests; ++row) {
            const tracked& t = rows_[static_cast<std::size_t>(row)];
            if (!t.live || src.contains(t.id)) continue;
            for (std::int64_t i = t.first_live; i < t.page_count; ++i) {
                sink.clear(row, copy_at(row, i));
                on_change(t.id, i, page_id{copy_at(row, i)}, null_page);
            }
            sink.release(row);
        }
        for (request_id r : batch) {
            std::int32_t row = row_of(r);
            if (row < 0) row = sink.assign(r);
            const auto begin = static_cast<std::int32_t>(batch_writes_.size());
            diff(src, r, row, true, sink, on_change);
            sink.synced(row, r, src);
            sink.row(row, begin, static_cast<std::int32_t>(batch_writes_.size()), r, src);
        }
        src.for_each_request([&](request_id r) {
            if (r.slot < slot_mark_.size() && slot_mark_[r.slot] == epoch_) return;  // in the batch
            std::int32_t row = row_of(r);
            if (row < 0) row = sink.assign(r);
            diff(src, r, row, false, sink, on_change);
            sink.synced(row, r, src);
        });
    }

    // Entries of one row that differ between the last stage and `src` (see diff_scope).
    template <class Sink, class OnChange>
    void diff(const S& src, request_id r, std::int32_t row, bool in_batch, Sink& sink, OnChange& on_change) {
        static const tracked fresh{};
        const tracked& t = row >= 0 ? rows_[static_cast<std::size_t>(row)] : fresh;
        const bool known = row >= 0 && t.id == r && t.live;  // false: a new request (dry pass or fresh row)
        const std::int64_t staged_pages = known ? t.page_count : 0, staged_first_live = known ? t.first_live : 0;
        const auto pages = src.pages(r);
        const auto pages_now = static_cast<std::int64_t>(pages.size());
        const std::int64_t first_live_now = src.first_live_page(r);
        std::int64_t k = 0;  // entries [0, k) are unchanged since the last stage
        if (known && scope_ == diff_scope::committed_prefix) {
            const std::int64_t committed_now = src.committed_tokens(r);
            k = pages_for_tokens(t.committed < committed_now ? t.committed : committed_now, page_size_);
            k = std::min({k, staged_pages, pages_now, first_live_now < staged_first_live ? first_live_now : k});
        }
        // Window release inside the unchanged prefix: entries only leave.
        for (std::int64_t i = staged_first_live; i < std::min(first_live_now, k); ++i) {
            sink.clear(row, copy_at(row, i));
            on_change(r, i, page_id{copy_at(row, i)}, null_page);
        }
        const std::int64_t end = staged_pages > pages_now ? staged_pages : pages_now;
        for (std::int64_t i = k; i < end; ++i) {
            const std::int32_t old_page =
                i >= staged_first_live && i < staged_pages ? copy_at(row, i) : null_page.value;
            const std::int32_t new_page =
                i >= first_live_now && i < pages_now ? pages[static_cast<std::size_t>(i)].value : null_page.value;
            if (old_page == new_page) continue;
            if (old_page != null_page.value) sink.clear(row, old_page);
            if (new_page != null_page.value) sink.write(in_batch, row, i, new_page);
            on_change(r, i, page_id{old_page}, page_id{new_page});
        }
    }

    table_capacity cap_;
    diff_scope scope_;
    std::int32_t page_size_;
    std::vector<tracked> rows_;       // indexed by store row
    std::vector<std::int32_t> copy_;  // [max_requests][max_pages_per_request], as on the device
    std::vector<std::int32_t> free_rows_;
    std::vector<std::int32_t> slot_row_;     // request slot -> store row (checked against rows_[].id)
    std::vector<std::uint32_t> slot_mark_;   // request slot -> epoch of the batch it is in
    std::vector<std::int32_t> owner_;        // page -> store row, or -1
    std::vector<std::uint32_t> owner_mark_;  // page -> epoch it was last touched in
    std::uint32_t epoch_ = 0;
    // The last stage's delta (capacity reserved at construction: staging allocates nothing).
    std::vector<row_desc> rows_out_;
    std::vector<entry_write> batch_writes_;  // the batch's rows, grouped per row
    std::vector<entry_write> other_writes_;  // other tracked rows
    std::vector<entry_write> owner_writes_;
    std::vector<std::int32_t> touched_;
};

}  // namespace pagedkv
