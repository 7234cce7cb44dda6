// The copies a tier has planned for one GPU pool and not yet handed out in a copy_plan.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "pagedkv/cache/copy_plan.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// Write-backs (GPU page -> host page) and loads (host page -> GPU page) planned since the last
/// plan was taken, and per GPU page the loads planned or in flight into it (its content is not
/// there yet). A load cancelled before its plan is taken keeps its slot with src == null_page.
/// Invariants (check_invariants): a GPU page indexes its one live planned load, and no other;
/// loading(p) counts the live planned loads into p plus those of plans taken and not landed.
class copy_queue {
public:
    struct copy {
        page_id src, dst;
    };

    explicit copy_queue(pool_size gpu_pages)
        : load_of_(static_cast<std::size_t>(gpu_pages.pages), 0), loading_(load_of_.size(), 0) {}

    void write_back(page_id gpu, page_id host) { write_backs_.push_back({gpu, host}); }
    void load(page_id host, page_id gpu) {
        load_of_[at(gpu)] = static_cast<std::int32_t>(loads_.size()) + 1;
        ++loading_[at(gpu)];
        loads_.push_back({host, gpu});
    }
    /// Whether a load into `gpu` is planned and not yet taken.
    bool load_planned(page_id gpu) const noexcept { return load_of_[at(gpu)] != 0; }
    /// Drops the planned load into `gpu` (the page left its requests first); returns its host page.
    /// @pre load_planned(gpu)
    page_id cancel_load(page_id gpu) noexcept {
        copy& c = loads_[static_cast<std::size_t>(load_of_[at(gpu)] - 1)];
        const page_id host = c.src;
        c.src = null_page;
        load_of_[at(gpu)] = 0;
        --loading_[at(gpu)];
        return host;
    }
    /// Whether a load into `gpu` is planned or in flight.
    bool loading(page_id gpu) const noexcept { return loading_[at(gpu)] > 0; }

    /// Moves the planned copies into `plan` as runs (cancelled loads dropped).
    void take(copy_plan& plan) {
        for (const copy& c : write_backs_) append_copy(plan.write_backs, c.src, c.dst);
        for (const copy& c : loads_) {
            if (c.src == null_page) continue;
            append_copy(plan.loads, c.src, c.dst);
            load_of_[at(c.dst)] = 0;
        }
        write_backs_.clear();
        loads_.clear();
    }
    /// The loads of `plan`, taken from this queue, have landed.
    void landed(const copy_plan& plan) noexcept {
        for (const copy_run& run : plan.loads)
            for (std::int32_t i = 0; i < run.count; ++i) --loading_[static_cast<std::size_t>(run.dst + i)];
    }
    /// Copies planned and not yet taken, cancelled loads excluded.
    std::int64_t planned() const noexcept {
        return static_cast<std::int64_t>(write_backs_.size()) +
               std::count_if(loads_.begin(), loads_.end(), [](const copy& c) { return c.src != null_page; });
    }
    /// Forgets the cancelled loads' slots. @pre planned() == 0
    void drop_cancelled() noexcept { loads_.clear(); }

    std::span<const copy> write_backs() const noexcept { return write_backs_; }
    /// Cancelled ones included (src == null_page).
    std::span<const copy> loads() const noexcept { return loads_; }

    /// Checks the invariants above; `in_flight[p]`: the loads into GPU page p of plans taken and not
    /// yet landed.
    status check_invariants(std::span<const std::int32_t> in_flight) const {
        std::vector<std::int32_t> loads(loading_.size(), 0);
        for (std::size_t i = 0; i < loads_.size(); ++i) {
            const copy& c = loads_[i];
            if (c.src == null_page) continue;
            ++loads[at(c.dst)];
            if (load_of_[at(c.dst)] != static_cast<std::int32_t>(i) + 1)
                return error{errc::invariant_violated, "planned load not indexed by its GPU page"};
        }
        for (std::size_t p = 0; p < loads.size(); ++p) {
            if (load_of_[p] != 0 && loads[p] == 0) return error{errc::invariant_violated, "stale planned-load index"};
            if (loading_[p] != loads[p] + in_flight[p])
                return error{errc::invariant_violated, "GPU page loading count drift"};
        }
        return {};
    }

private:
    static std::size_t at(page_id p) noexcept { return static_cast<std::size_t>(p.value); }
    std::vector<copy> write_backs_;      // src: GPU page, dst: host page
    std::vector<copy> loads_;            // src: host page, dst: GPU page
    std::vector<std::int32_t> load_of_;  // by GPU page: 1 + its entry in loads_, 0 if none
    std::vector<std::int32_t> loading_;  // by GPU page: planned plus in-flight loads into it
};

}  // namespace pagedkv
