// libFuzzer entry point for the three-group hybrid: every input is a sequence of calls on a caching
// multi-group hybrid of a full pool, two windows and a chunked group (fuzz/harness.hpp,
// `run_multi`); a broken property aborts, so libFuzzer saves the input as a crash (fuzz/run.sh keeps it).
#include "entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return pagedkv::fuzz::test_one_input(data, size, [](auto in) { return pagedkv::fuzz::run_multi(in); });
}
