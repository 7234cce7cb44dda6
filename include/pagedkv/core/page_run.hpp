// A run of consecutive pages copied to consecutive pages: the unit of every page-copy plan.
#pragma once
#include <cstdint>

namespace pagedkv {

/// `count` pages starting at `src` on the sending side land at `dst` on the receiving side; both
/// ranges are consecutive page ids, so each run is one contiguous copy per layer and K/V buffer.
/// Used by disaggregation (dist/page_runs.hpp) and by the host tier's copy plans (cache/copy_plan.hpp).
struct page_run {
    std::int32_t src = 0;
    std::int32_t dst = 0;
    std::int32_t count = 0;
    friend constexpr bool operator==(const page_run&, const page_run&) = default;
};

}  // namespace pagedkv
