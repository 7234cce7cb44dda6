// trace_gen: writes the traces kept under tests/data/ (docs/fuzzing.md says when to regenerate).
//   trace_gen engine SEED STEPS   a seeded engine-like history (tools/engine_history.hpp)
//   trace_gen fuzz INPUT          the hybrid pool's calls while the fuzz harness runs INPUT
//   trace_gen cache INPUT         the caching hybrid pool's (prefix reuse) calls for that input
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string_view>
#include <vector>

#include "../fuzz/harness.hpp"
#include "engine_history.hpp"

int main(int argc, char** argv) {
    const std::string_view mode = argc > 1 ? argv[1] : "";
    if (mode == "engine" && argc == 4) {
        pagedkv::trace_recorder<> rec(&std::cout);
        pagedkv::tools::engine_history(rec, std::strtoull(argv[2], nullptr, 10), std::atoi(argv[3]));
        return std::cout ? 0 : 1;
    }
    if ((mode == "fuzz" || mode == "cache") && argc == 3) {
        std::ifstream in(argv[2], std::ios::binary);
        const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        if (!in.eof() && !in) return std::fprintf(stderr, "%s: cannot read\n", argv[2]), 1;
        const auto out =
            mode == "fuzz" ? pagedkv::fuzz::run(bytes, &std::cout) : pagedkv::fuzz::run(bytes, nullptr, &std::cout);
        if (!out.ok())
            return std::fprintf(stderr, "property violated at call %lld: %s\n", static_cast<long long>(out.failed_call),
                                out.what.c_str()),
                   1;
        return 0;
    }
    std::fprintf(stderr, "usage: trace_gen engine SEED STEPS | trace_gen fuzz|cache INPUT\n");
    return 2;
}
