// A step's page copies between the GPU pool and the host tier: write-backs, then loads.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_run.hpp"

namespace pagedkv {

/// One copy of a plan: `count` consecutive pages from `src` onto consecutive pages from `dst`.
using copy_run = page_run;

/// The copies one step of pool calls needs (tiered_pool::take_plan). The contract
/// (docs/offload.md):
/// - execute every `write_backs` run (GPU page -> host page), then every `loads` run (host page ->
///   GPU page), before the forward pass that follows reads or writes any page: a write-back's GPU
///   page may already belong to a request (or be a load's destination) in this very step;
/// - within each list no destination appears twice and no run overlaps another's destination, so
///   either list may run as one batched copy in any order;
/// - plans run in the order they were taken (one stream, or events chaining them);
/// - call `complete(plan)` once its copies have finished: only then do written-back host pages
///   become hits and the host pages loaded from become evictable again.
struct copy_plan {
    std::uint64_t sequence = 0;         ///< 1, 2, ... in the order plans are taken
    std::vector<copy_run> write_backs;  ///< src: GPU page, dst: host page
    std::vector<copy_run> loads;        ///< src: host page, dst: GPU page

    bool empty() const noexcept { return write_backs.empty() && loads.empty(); }
    static std::int64_t pages(std::span<const copy_run> runs) noexcept {
        std::int64_t n = 0;
        for (const copy_run& r : runs) n += r.count;
        return n;
    }
};

/// Appends the copy src -> dst to `runs`, extending the last run when both sides continue it.
inline void append_copy(std::vector<copy_run>& runs, page_id src, page_id dst) {
    if (!runs.empty()) {
        copy_run& last = runs.back();
        if (src.value == last.src + last.count && dst.value == last.dst + last.count) {
            ++last.count;
            return;
        }
    }
    runs.push_back({src.value, dst.value, 1});
}

}  // namespace pagedkv
