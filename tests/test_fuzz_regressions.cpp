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
    for (std::size_t i = 0; i < pagedkv::fuzz::pool_call_kinds; ++i) {
        CAPTURE(pagedkv::fuzz::call_names[i]);
        CHECK(total.ok[i] > 0);
        if (i != index(call::add) && i != index(call::resume)) CHECK(total.failed[i] > 0);  // these cannot fail
    }
    for (std::size_t i = pagedkv::fuzz::pool_call_kinds; i < call_kinds; ++i)
        CHECK(total.ok[i] + total.failed[i] == 0);  // fuzz_tier's
}

TEST_CASE("the host tier's seeds and kept inputs pass, load from the host tier and reach every tier call") {
    auto files = files_under("fuzz/corpus-tier");
    REQUIRE_MESSAGE(files.size() >= 3, "tier seeds missing under " PAGEDKV_SOURCE_DIR "/fuzz/corpus-tier");
    for (const fs::path& f : files_under("fuzz/regressions-tier")) files.push_back(f);
    pagedkv::fuzz::call_counts total;
    std::int64_t host_hit_tokens = 0;
    for (const fs::path& f : files) {
        const auto out = pagedkv::fuzz::run_tier(bytes_of(f));
        CHECK_MESSAGE(out.ok(), f.filename().string() << ": call " << out.failed_call << ": " << out.what);
        total += out.counts;
        host_hit_tokens += out.host_hit_tokens;
    }
    CHECK(host_hit_tokens > 0);  // loads really ran, and their bytes were checked
    for (call c : {call::create, call::extend, call::truncate, call::free, call::dense, call::csr, call::slots,
                   call::attach, call::commit_keyed, call::preempt, call::reset, call::complete}) {
        CAPTURE(pagedkv::fuzz::call_names[index(c)]);
        CHECK(total.ok[index(c)] > 0);
        CHECK(total.failed[index(c)] > 0);
    }
    for (call c : {call::add, call::resume, call::take}) CHECK(total.ok[index(c)] > 0);  // these cannot fail
    CHECK(total.ok[index(call::commit)] + total.ok[index(call::cache)] == 0);  // the tier target keys every commit
}

TEST_CASE("the three-group hybrid's seeds and kept inputs pass and reach every call kind both succeeding and failing") {
    auto files = files_under("fuzz/corpus-multi");
    REQUIRE_MESSAGE(files.size() >= 3, "multi seeds missing under " PAGEDKV_SOURCE_DIR "/fuzz/corpus-multi");
    for (const fs::path& f : files_under("fuzz/regressions-multi")) files.push_back(f);
    pagedkv::fuzz::call_counts total;
    for (const fs::path& f : files) {
        const auto out = pagedkv::fuzz::run_multi(bytes_of(f));
        CHECK_MESSAGE(out.ok(), f.filename().string() << ": call " << out.failed_call << ": " << out.what);
        total += out.counts;
    }
    for (call c :
         {call::create, call::extend, call::commit, call::truncate, call::free, call::dense, call::csr, call::slots,
          call::attach, call::commit_keyed, call::cache, call::preempt, call::reset, call::add_committed}) {
        CAPTURE(pagedkv::fuzz::call_names[index(c)]);
        CHECK(total.ok[index(c)] > 0);
        CHECK(total.failed[index(c)] > 0);
    }
    for (call c : {call::add, call::resume}) CHECK(total.ok[index(c)] > 0);     // these cannot fail
    CHECK(total.ok[index(call::take)] + total.ok[index(call::complete)] == 0);  // the tier's
}

TEST_CASE("the tier decoder: an evicted page written back, then loaded by a hit, its bytes checked") {
    // One byte per call (b % 16): see docs/fuzzing.md. Starting tier: 24 GPU pages, 16 host, P = 4.
    const std::vector<std::uint8_t> input{
        0,  4, 6,           3,  // create: 6 GPU pages (5 usable), 8 host pages, P = 4
        1,  0,                  // add(tenant 0, stream 0)                      -> request 0
        3,  0, 112 + 5 + 8,     // extend(request 0, 5 pages)
        4,  0, 190,         0,  // forward pass (takes plan 1), commit 20 tokens keyed
        7,  0,                  // free: 5 cached pages
        1,  2,                  // add(tenant 0, stream 1)                      -> request 1
        3,  1, 112 + 5 + 8,     // extend(request 1, 20): evicts the 5 pages, written back
        9,                      // take plan 2: 5 write-backs, executed
        10, 0, 10,          0,  // complete plans 1 and 2
        7,  1,                  // free request 1
        1,  0,                  // add(tenant 0, stream 0)                      -> request 2
        2,  2, 21,              // attach 21 tokens: 20 from the host tier, loaded
        9,                      // take plan 3: the loads (and request 1's write-backs), bytes checked
        10, 0,                  // complete plan 3
    };
    const auto out = pagedkv::fuzz::run_tier(input);
    REQUIRE_MESSAGE(out.ok(), out.what);
    CHECK(out.host_hit_tokens == 20);
    CHECK(out.counts.ok[index(call::take)] == 3);
    CHECK(out.counts.ok[index(call::complete)] == 3);
    CHECK(out.counts.ok[index(call::attach)] == 1);
    CHECK(out.counts.total() == 2 + 15);  // the two creates, the 14 calls and the forward pass's take
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
            if (l.starts_with("attach") && l.find("= ok 0 ") == std::string::npos &&
                l.find("= ok") != std::string::npos)
                ++hit_lines;
        CHECK(hit_lines > 0);
        std::istringstream again(trace.str());
        const pagedkv::replay_report rep = pagedkv::replay_trace(again);
        CHECK_MESSAGE(rep.ok(), rep.message);
    }
}

TEST_CASE("the decoder turns bytes into the documented calls") {
    // Byte = 3 * opcode + target (0 full, 1 SWA, 2 hybrid); see docs/fuzzing.md.
    const std::vector<std::uint8_t> input{
        3 * 1 + 2,         // hybrid: add                       -> request 0:0
        3 * 2 + 2, 0, 9,   // hybrid: extend(request 0, 9)      -> 3 pages at P = 4
        3 * 3 + 2, 0, 8,   // hybrid: commit(request 0, 8)
        3 * 5 + 2, 0, 19,  // hybrid: truncate(request 0, 19)   -> truncate_past_length
        3 * 6 + 2, 0,      // hybrid: free(request 0)
        3 * 6 + 2, 0,      // hybrid: free(request 0) again     -> unknown_request
        3 * 9 + 0, 0, 0,   // full: slot mapping of an empty batch
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
        "pagedkv-trace 1",   "create 40 12 4 6 = ok",      "add = ok 0:0",
        "extend 0:0 9 = ok", "commit 0:0 8 = ok",          "truncate 0:0 19 = truncate_past_length",
        "free 0:0 = ok",     "free 0:0 = unknown_request",
    };
    CHECK(calls == want);
}
