// libFuzzer entry point for the host tier: every input is a sequence of calls on a tiered full
// caching pool, its plans executed on K/V values (fuzz/harness.hpp, `run_tier`); a broken property
// aborts, so libFuzzer saves the input as a crash (fuzz/run.sh keeps it).
#include "entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return pagedkv::fuzz::test_one_input(data, size, [](auto in) { return pagedkv::fuzz::run_tier(in); });
}
