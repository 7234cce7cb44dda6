// The libFuzzer entry points every target shares: one input through one harness run, a broken
// property aborting (libFuzzer keeps the input as a crash; fuzz/run.sh keeps it), and the per-call
// totals printed at exit for docs/fuzzing.md. A target defines LLVMFuzzerTestOneInput as
// `return pagedkv::fuzz::test_one_input(data, size, [](auto in) { return pagedkv::fuzz::run_X(in); });`.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "harness.hpp"

namespace pagedkv::fuzz {

/// Totals over the whole fuzzing run (one target per binary).
inline call_counts totals;

inline void print_totals() {
    std::fprintf(stderr, "pagedkv calls: %lld\n", static_cast<long long>(totals.total()));
    for (std::size_t i = 0; i < call_kinds; ++i)
        if (totals.ok[i] + totals.failed[i] > 0)
            std::fprintf(stderr, "  %-9s ok %lld, failed %lld\n", call_names[i].data(),
                         static_cast<long long>(totals.ok[i]), static_cast<long long>(totals.failed[i]));
}

template <class Run>
int test_one_input(const std::uint8_t* data, std::size_t size, Run run) {
    const outcome out = run(std::span<const std::uint8_t>(data, size));
    totals += out.counts;
    if (!out.ok()) {
        std::fprintf(stderr, "pagedkv property violated at call %lld: %s\n", static_cast<long long>(out.failed_call),
                     out.what.c_str());
        std::abort();
    }
    return 0;
}

}  // namespace pagedkv::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::atexit(pagedkv::fuzz::print_totals);
    return 0;
}
