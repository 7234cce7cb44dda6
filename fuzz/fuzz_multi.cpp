// libFuzzer entry point for the three-group hybrid: every input is a sequence of calls on a caching
// multi-group hybrid of a full pool, two windows and a chunked group (fuzz/harness.hpp,
// `run_multi`); a broken property aborts, so libFuzzer saves the input as a crash (fuzz/run.sh keeps it).
#include <cstdio>
#include <cstdlib>

#include "harness.hpp"

namespace {
// Totals over the whole run, printed at exit for docs/fuzzing.md (the fuzzer binary only).
pagedkv::fuzz::call_counts totals;

void print_totals() {
    std::fprintf(stderr, "pagedkv calls: %lld\n", static_cast<long long>(totals.total()));
    for (std::size_t i = 0; i < pagedkv::fuzz::call_kinds; ++i)
        if (totals.ok[i] + totals.failed[i] > 0)
            std::fprintf(stderr, "  %-9s ok %lld, failed %lld\n", pagedkv::fuzz::call_names[i].data(),
                         static_cast<long long>(totals.ok[i]), static_cast<long long>(totals.failed[i]));
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::atexit(print_totals);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto out = pagedkv::fuzz::run_multi({data, size});
    totals += out.counts;
    if (!out.ok()) {
        std::fprintf(stderr, "pagedkv property violated at call %lld: %s\n", static_cast<long long>(out.failed_call),
                     out.what.c_str());
        std::abort();
    }
    return 0;
}
