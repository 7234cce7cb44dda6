// libFuzzer entry point: every input is a sequence of pool calls (fuzz/harness.hpp decodes it);
// a broken property aborts, so libFuzzer saves the input as a crash (fuzz/run.sh keeps it).
#include "entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return pagedkv::fuzz::test_one_input(data, size, [](auto in) { return pagedkv::fuzz::run(in); });
}
