// Coalescing a page-to-page copy into runs that are contiguous on both sides.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_run.hpp"

namespace pagedkv {

/// Splits the copy src[i] -> dst[i] into the fewest runs contiguous on both sides. Both peers call
/// it with the same lists, so their sends and receives pair up one to one.
/// Errors: length_mismatch (the lists differ in length).
inline result<std::vector<page_run>> joint_runs(std::span<const page_id> src, std::span<const page_id> dst) {
    if (src.size() != dst.size()) return errc::length_mismatch;
    std::vector<page_run> runs;
    for (std::size_t i = 0; i < src.size(); ++i) {
        if (!runs.empty()) {
            page_run& last = runs.back();
            if (src[i].value == last.src + last.count && dst[i].value == last.dst + last.count) {
                ++last.count;
                continue;
            }
        }
        runs.push_back({src[i].value, dst[i].value, 1});
    }
    return runs;
}

}  // namespace pagedkv
