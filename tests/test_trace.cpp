// Trace record and replay (include/pagedkv/debug/trace.hpp): the stored traces under tests/data/
// replay without divergence; a recorder changes no result; and replay names the first call that
// differs, by step number, for every kind of difference.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <pagedkv/debug/state_digest.hpp>
#include <pagedkv/debug/trace.hpp>

#include "../tools/engine_history.hpp"

#ifndef PAGEDKV_SOURCE_DIR
#define PAGEDKV_SOURCE_DIR "."
#endif

using namespace pagedkv;

namespace {

namespace fs = std::filesystem;

std::vector<fs::path> stored_traces() {
    std::vector<fs::path> files;
    const fs::path dir = fs::path(PAGEDKV_SOURCE_DIR) / "tests/data";
    if (fs::is_directory(dir))
        for (const auto& e : fs::directory_iterator(dir))
            if (e.path().extension() == ".trace") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const std::string& l : lines) s += l + '\n';
    return s;
}

replay_report replay(const std::string& text) {
    std::istringstream in(text);
    return replay_trace(in);
}

std::string engine_trace(std::uint64_t seed, int steps, trace_options opts = {}) {
    std::ostringstream out;
    trace_recorder<> rec(&out, opts);
    tools::engine_history(rec, seed, steps);
    return out.str();
}

// Index of the first line (after the header) starting with `prefix` at or after `from`.
std::size_t find_line(const std::vector<std::string>& lines, const std::string& prefix, std::size_t from = 1) {
    for (std::size_t i = from; i < lines.size(); ++i)
        if (lines[i].rfind(prefix, 0) == 0) return i;
    FAIL("no line starts with " << prefix);
    return 0;
}

}  // namespace

TEST_CASE("every stored trace (engine history and fuzz corpus) replays without divergence") {
    const auto files = stored_traces();
    REQUIRE_MESSAGE(files.size() >= 2, "traces missing under " PAGEDKV_SOURCE_DIR "/tests/data");
    bool engine = false, fuzz = false, caching = false, engine_example = false;
    for (const fs::path& f : files) {
        CAPTURE(f.filename().string());
        std::ifstream in(f);
        std::stringstream text;
        text << in.rdbuf();
        const replay_report rep = replay(text.str());
        CHECK_MESSAGE(rep.ok(), "step " << rep.divergent_step << " (line " << rep.line << "): " << rep.message);
        CHECK(rep.steps == static_cast<std::int64_t>(lines_of(text.str()).size()) - 1);  // every line but the header
        CHECK(rep.steps > 40);
        caching = caching || text.str().starts_with("pagedkv-trace 1 lru\n");
        engine = engine || f.filename().string().starts_with("engine-");
        fuzz = fuzz || f.filename().string().starts_with("fuzz-");
        engine_example = engine_example || f.filename().string().starts_with("engine-sim-");
    }
    CHECK(engine_example);  // recorded by examples/engine_sim --trace (docs/fuzzing.md)
    CHECK(engine);
    CHECK(fuzz);
    CHECK(caching);  // a prefix-reuse history: tests/data/fuzz-cache-share.trace
}

TEST_CASE("prefix-reuse calls replay: tokens round-trip, and a different hit or token diverges") {
    std::ostringstream out;
    trace_recorder<caching_hybrid_pool<lru>> rec(&out);
    REQUIRE(rec.create(pool_size{16}, pool_size{16}, 4, 6));
    std::vector<token_id> prompt{5, 6, 7, 8, 9, 9, 9, 9, 1, 2, 3, 4, 70};
    const request_id a = rec.add_request(cache_scope{3, 1}).value();
    REQUIRE(rec.attach_prefix(a, prompt).value() == 0);
    REQUIRE(rec.extend(a, 12));
    REQUIRE(rec.commit(a, 12, prompt));
    REQUIRE(rec.preempt(a, prompt));
    const request_id b = rec.add_request(cache_scope{3, 1}).value();
    REQUIRE(rec.attach_prefix(b, prompt).value() == 12);
    CHECK(rec.reset_cache().code() == errc::cache_in_use);
    REQUIRE(rec.cache_committed(b, prompt));
    auto lines = lines_of(out.str());
    CHECK(lines[0] == "pagedkv-trace 1 lru");
    const std::size_t attach = find_line(lines, "attach 0:1");
    CHECK(lines[attach].starts_with("attach 0:1 5+5,9+1,9+1,9+1,1+4,70+1 = ok 12 #"));
    const replay_report rep = replay(out.str());
    CHECK_MESSAGE(rep.ok(), rep.message);
    CHECK(rep.steps == static_cast<std::int64_t>(lines.size()) - 1);
    auto changed = lines;
    changed[attach].replace(changed[attach].find("= ok 12"), 7, "= ok 8");
    CHECK(replay(joined(changed)).divergent_step == static_cast<std::int64_t>(attach));
    changed = lines;
    changed[attach].replace(changed[attach].find("70+1"), 4, "71+1");  // another last token: same hit, same digest
    CHECK(replay(joined(changed)).ok());
    changed = lines;
    changed[attach].replace(changed[attach].find("5+5"), 3, "5+4");  // one token fewer: a different hit
    CHECK(replay(joined(changed)).divergent_step == static_cast<std::int64_t>(attach));
    CHECK(replay("pagedkv-trace 1\ncreate 8 8 4 4 = ok\nreset = ok\n").message.starts_with("prefix-cache call"));
}

TEST_CASE("a recorded engine history replays to the same results, with or without digests") {
    const std::string with = engine_trace(11, 60);
    const replay_report rep = replay(with);
    CHECK_MESSAGE(rep.ok(), rep.message);
    CHECK(rep.steps == static_cast<std::int64_t>(lines_of(with).size()) - 1);
    // Without digests, mutations carry only their result; emissions keep the hash of their output.
    const std::string without = engine_trace(11, 60, trace_options{false});
    for (const std::string& l : lines_of(without))
        if (!l.starts_with("dense") && !l.starts_with("csr") && !l.starts_with("slots"))
            CHECK(l.find('#') == std::string::npos);
    CHECK(without.size() < with.size());
    CHECK(replay(without).ok());
}

TEST_CASE("the recorder returns exactly what the bare pool returns, call for call") {
    auto bare = hybrid_pool<>::create(pool_size{24}, pool_size{10}, 4, 7).value();
    std::ostringstream out;
    trace_recorder<> rec(&out);
    REQUIRE(rec.create(pool_size{24}, pool_size{10}, 4, 7));
    std::mt19937_64 rng(5);
    std::vector<request_id> ids;
    for (int i = 0; i < 3000; ++i) {
        const auto pick = [&](std::uint64_t n) { return static_cast<std::int64_t>(rng() % n); };
        const request_id r = ids.empty() ? request_id{} : ids[static_cast<std::size_t>(pick(ids.size()))];
        const std::int64_t n = pick(12) - 1;
        switch (pick(5)) {
            case 0: {
                const auto a = bare.add_request(), b = rec.add_request();
                REQUIRE(a.value() == b.value());
                ids.push_back(a.value());
                break;
            }
            case 1:
                CHECK(bare.extend(r, n).code() == rec.extend(r, n).code());
                break;
            case 2:
                CHECK(bare.commit(r, n).code() == rec.commit(r, n).code());
                break;
            case 3:
                CHECK(bare.truncate(r, n).code() == rec.truncate(r, n).code());
                break;
            default:
                CHECK(bare.free_request(r).code() == rec.free_request(r).code());
                break;
        }
        REQUIRE(state_digest(bare) == state_digest(rec.pool()));
    }
    CHECK(lines_of(out.str()).size() == 3000 + 2);
}

TEST_CASE("replay reports the first divergence with its step number") {
    const std::vector<std::string> lines = lines_of(engine_trace(3, 40));
    REQUIRE(replay(joined(lines)).ok());
    // Line i (i >= 1) is step i: the header is line 0.
    SUBCASE("a different result") {
        auto bad = lines;
        const std::size_t i = find_line(bad, "extend", 10);
        bad[i].replace(bad[i].find("= ok"), 4, "= out_of_full_pages");
        const replay_report rep = replay(joined(bad));
        CHECK(rep.divergent_step == static_cast<std::int64_t>(i));
        CHECK(rep.line == static_cast<std::int64_t>(i) + 1);
        CHECK(rep.steps == static_cast<std::int64_t>(i) - 1);
        CHECK(rep.message.find("expected `" + bad[i] + "`") != std::string::npos);
    }
    SUBCASE("a different argument: the digest after the call differs") {
        auto bad = lines;
        const std::size_t i = find_line(bad, "commit", 10);
        const std::size_t from = bad[i].find(' ', bad[i].find(' ') + 1) + 1, to = bad[i].find(' ', from);
        const bool zero = bad[i].substr(from, to - from) == "0";
        bad[i].replace(from, to - from, zero ? "1" : "0");  // another commit: another result or state
        const replay_report rep = replay(joined(bad));
        CHECK(rep.divergent_step == static_cast<std::int64_t>(i));
    }
    SUBCASE("a different digest") {
        auto bad = lines;
        const std::size_t i = find_line(bad, "add", 5);
        bad[i].back() = bad[i].back() == '0' ? '1' : '0';
        CHECK(replay(joined(bad)).divergent_step == static_cast<std::int64_t>(i));
    }
    SUBCASE("a missing mutation: the next call's digest differs") {
        auto bad = lines;
        const std::size_t i = find_line(bad, "extend", 20);
        bad.erase(bad.begin() + static_cast<std::ptrdiff_t>(i));
        // Usually at once; an emission that the missing call did not change may match first.
        const replay_report rep = replay(joined(bad));
        CHECK(rep.divergent_step >= static_cast<std::int64_t>(i));
        CHECK(rep.divergent_step <= static_cast<std::int64_t>(i) + 2);
    }
    SUBCASE("a table hash that differs") {
        auto bad = lines;
        const std::size_t i = find_line(bad, "csr s", 10);
        bad[i].back() = bad[i].back() == '0' ? '1' : '0';
        CHECK(replay(joined(bad)).divergent_step == static_cast<std::int64_t>(i));
    }
    SUBCASE("a malformed line") {
        auto bad = lines;
        const std::size_t i = find_line(bad, "free", 5);
        bad[i] = "free 1-0 = ok";
        const replay_report rep = replay(joined(bad));
        CHECK(rep.divergent_step == static_cast<std::int64_t>(i));
        CHECK(rep.message == "malformed free");
    }
    SUBCASE("an unknown call") {
        auto bad = lines;
        bad.insert(bad.begin() + 7, "resize 0:0 4 = ok");
        const replay_report rep = replay(joined(bad));
        CHECK(rep.divergent_step == 7);
        CHECK(rep.message == "unknown call `resize`");
    }
}

TEST_CASE("replay rejects what is not a version-1 trace, and calls before a successful create") {
    CHECK(replay("").divergent_step == 1);
    CHECK(replay("").message == "empty trace");
    CHECK(replay("pagedkv-trace 2\ncreate 8 8 4 4 = ok\n").message.starts_with("not a version-1 trace"));
    const replay_report early = replay("pagedkv-trace 1\n# a comment\n\nadd = ok 0:0\n");
    CHECK(early.divergent_step == 1);
    CHECK(early.line == 4);
    CHECK(early.message == "call before a successful create");
    const replay_report failed = replay("pagedkv-trace 1\ncreate 8 8 0 4 = invalid_page_size\nadd = ok 0:0\n");
    CHECK(failed.divergent_step == 2);
    CHECK(failed.steps == 1);
}
