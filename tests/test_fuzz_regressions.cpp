// Every input the fuzzer ever failed on (fuzz/regressions/) and the seed corpus (fuzz/corpus/),
// replayed through the fuzzer's own decoder and checks on every test run, without libFuzzer.
// The sanitizer build of this suite (.ci/run) is what turns a memory or UB finding into a failure.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "../fuzz/harness.hpp"

#ifndef PAGEDKV_SOURCE_DIR
#define PAGEDKV_SOURCE_DIR "."
#endif

namespace {

namespace fs = std::filesystem;
using pagedkv::fuzz::call;
using pagedkv::fuzz::call_kinds;

std::vector<fs::path> files_under(const char* dir) {
    std::vector<fs::path> files;
    const fs::path root = fs::path(PAGEDKV_SOURCE_DIR) / dir;
    if (fs::is_directory(root))
        for (const auto& e : fs::directory_iterator(root))
            if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<std::uint8_t> bytes_of(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Runs every file through the harness; returns the summed call counts.
pagedkv::fuzz::call_counts replay_all(const std::vector<fs::path>& files) {
    pagedkv::fuzz::call_counts total;
    for (const fs::path& f : files) {
        const auto out = pagedkv::fuzz::run(bytes_of(f));
        CHECK_MESSAGE(out.ok(), f.filename().string() << ": call " << out.failed_call << ": " << out.what);
        total += out.counts;
    }
    return total;
}

std::size_t index(call c) { return static_cast<std::size_t>(c); }

}  // namespace

TEST_CASE("every input the fuzzer ever failed on now passes every property") {
    const auto files = files_under("fuzz/regressions");
    REQUIRE_MESSAGE(!files.empty(), "no files under " PAGEDKV_SOURCE_DIR "/fuzz/regressions");
    const auto total = replay_all(files);
    CHECK(total.total() > static_cast<std::int64_t>(files.size()) * 3);  // beyond the 3 starting creates
}

TEST_CASE("the seed corpus passes and reaches every call kind both succeeding and failing") {
    const auto files = files_under("fuzz/corpus");
    REQUIRE_MESSAGE(files.size() >= 8, "seed corpus missing under " PAGEDKV_SOURCE_DIR "/fuzz/corpus");
    const auto total = replay_all(files);
    for (std::size_t i = 0; i < call_kinds; ++i) {
        CAPTURE(pagedkv::fuzz::call_names[i]);
        CHECK(total.ok[i] > 0);
        if (i != index(call::add) && i != index(call::resume)) CHECK(total.failed[i] > 0);  // these cannot fail
    }
}

TEST_CASE("prefix-reuse seeds really hit: attached tokens, and resumed requests checked against their prefix") {
    for (const char* name : {"fuzz/corpus/seed-cache-share", "fuzz/corpus/seed-cache-pressure"}) {
        CAPTURE(name);
        std::ostringstream trace;
        const auto out = pagedkv::fuzz::run(bytes_of(fs::path(PAGEDKV_SOURCE_DIR) / name), nullptr, &trace);
        REQUIRE(out.ok());
        CHECK(out.counts.ok[index(call::resume)] > 0);
        std::int64_t hit_lines = 0;
        std::istringstream lines(trace.str());
        for (std::string l; std::getline(lines, l);)
            if (l.starts_with("attach") && l.find("= ok 0 ") == std::string::npos && l.find("= ok") != std::string::npos) ++hit_lines;
        CHECK(hit_lines > 0);
        std::istringstream again(trace.str());
        const pagedkv::replay_report rep = pagedkv::replay_trace(again);
        CHECK_MESSAGE(rep.ok(), rep.message);
    }
}

TEST_CASE("the decoder turns bytes into the documented calls") {
    // Byte = 3 * opcode + target (0 full, 1 SWA, 2 hybrid); see docs/fuzzing.md.
    const std::vector<std::uint8_t> input{
        3 * 1 + 2,           // hybrid: add                       -> request 0:0
        3 * 2 + 2, 0, 9,     // hybrid: extend(request 0, 9)      -> 3 pages at P = 4
        3 * 3 + 2, 0, 8,     // hybrid: commit(request 0, 8)
        3 * 5 + 2, 0, 19,    // hybrid: truncate(request 0, 19)   -> truncate_past_length
        3 * 6 + 2, 0,        // hybrid: free(request 0)
        3 * 6 + 2, 0,        // hybrid: free(request 0) again     -> unknown_request
        3 * 9 + 0, 0, 0,     // full: slot mapping of an empty batch
    };
    std::ostringstream trace;
    const auto out = pagedkv::fuzz::run(input, &trace);
    REQUIRE(out.ok());
    CHECK(out.counts.total() == 4 + 7);  // 4 starting pools: full, SWA, hybrid, caching hybrid
    CHECK(out.counts.failed[index(call::truncate)] == 1);
    CHECK(out.counts.failed[index(call::free)] == 1);
    CHECK(out.counts.ok[index(call::slots)] == 1);
    // The hybrid calls, as the trace recorder saw them (digests stripped for readability).
    std::istringstream lines(trace.str());
    std::vector<std::string> calls;
    for (std::string l; std::getline(lines, l);) calls.push_back(l.substr(0, l.find(" #")));
    const std::vector<std::string> want{
        "pagedkv-trace 1",
        "create 40 12 4 6 = ok",
        "add = ok 0:0",
        "extend 0:0 9 = ok",
        "commit 0:0 8 = ok",
        "truncate 0:0 19 = truncate_past_length",
        "free 0:0 = ok",
        "free 0:0 = unknown_request",
    };
    CHECK(calls == want);
}
