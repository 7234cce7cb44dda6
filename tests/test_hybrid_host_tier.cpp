// The SWA-aware host tier of a caching hybrid pool (pool/tiered_hybrid_pool.hpp): full pages written
// back with their SWA pages, host hits loading only the window's SWA pages, the plan contract,
// all-or-nothing calls, invariants across both tiers, and a randomized history whose bytes (full
// and SWA layers) are moved by the memcpy executor and checked token by token.
#include <doctest/doctest.h>

#include <pagedkv/pagedkv.hpp>
#include <pagedkv/pool/tiered_hybrid_pool.hpp>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "memcpy_executor.hpp"

using namespace pagedkv;

namespace {

using tiered = tiered_hybrid_pool<lru>;
constexpr std::int32_t P = 4;
constexpr std::int64_t W = 6;  // a hit of H tokens needs the SWA pages from dead_pages(H) = (H - 5) / 4 on

std::vector<token_id> seq(std::int32_t n, token_id first) {
    std::vector<token_id> t(static_cast<std::size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}

// Runs `t` as a prompt (attaching what either tier holds), completes the step's plan at once, and
// frees the request: its whole pages stay cached in the GPU tier.
void run(tiered& pool, const std::vector<token_id>& t) {
    const request_id r = pool.add_request().value();
    const tier_hit hit = pool.attach_prefix(r, t).value();
    const auto rest = static_cast<std::int64_t>(t.size()) - hit.tokens();
    REQUIRE(pool.extend(r, rest).ok());
    REQUIRE(pool.complete(pool.take_plan()));
    REQUIRE(pool.commit(r, rest, t).ok());
    REQUIRE(pool.free_request(r).ok());
    REQUIRE(pool.check_invariants().ok());
}

}  // namespace

TEST_CASE("hybrid host tier: an evicted full page is written back with its SWA page") {
    auto pool = tiered::create(pool_size{6}, pool_size{9}, pool_size{9}, pool_size{9}, P, W).value();
    const auto a = seq(17, 100);
    run(pool, a);  // full pages 0-3 keyed and cached; their SWA pages cached with them
    CHECK(pool.gpu().full().cached_pages() == 4);
    CHECK(pool.gpu().swa().cached_pages() == 4);
    const request_id b = pool.add_request().value();
    REQUIRE(pool.extend(b, 20).ok());  // 5 full pages: evicts a's 4
    const hybrid_copy_plan& plan = pool.take_plan();
    CHECK(copy_plan::pages(plan.full.write_backs) == 4);
    CHECK(copy_plan::pages(plan.swa.write_backs) == 4);
    CHECK(plan.full.loads.empty());
    CHECK(plan.swa.loads.empty());
    CHECK(pool.lookup(a, {}) == tier_hit{0, 0});  // not a hit before complete
    REQUIRE(pool.complete(plan));
    CHECK(pool.lookup(a, {}) == tier_hit{0, 16});
    CHECK(pool.swa_stats().written_back_pages == 4);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("hybrid host tier: a host hit loads every full page but only the SWA pages of its window") {
    auto pool = tiered::create(pool_size{6}, pool_size{9}, pool_size{9}, pool_size{9}, P, W).value();
    const auto a = seq(17, 100);
    run(pool, a);
    run(pool, seq(20, 500));  // a's pages go to the host tier
    const request_id c = pool.add_request().value();
    REQUIRE(pool.attach_prefix(c, a).value() == tier_hit{0, 16});
    CHECK(pool.gpu().full().committed_tokens(c) == 16);
    // H = 16: the next query sees keys from 11 on, pages 2 and 3; pages 0 and 1 have no SWA page.
    const auto swa = pool.gpu().swa().pages(c);
    REQUIRE(swa.size() == 4);
    CHECK(swa[0] == null_page);
    CHECK(swa[1] == null_page);
    CHECK(swa[2] != null_page);
    CHECK(swa[3] != null_page);
    const hybrid_copy_plan& plan = pool.take_plan();
    CHECK(copy_plan::pages(plan.full.loads) == 4);
    CHECK(copy_plan::pages(plan.swa.loads) == 2);
    std::vector<std::int32_t> loaded_swa;
    for (const copy_run& r : plan.swa.loads)
        for (std::int32_t i = 0; i < r.count; ++i) loaded_swa.push_back(r.dst + i);
    CHECK(loaded_swa == std::vector<std::int32_t>{swa[2].value, swa[3].value});
    CHECK_FALSE(pool.request_ready(c));
    CHECK(pool.check_invariants().ok());
    REQUIRE(pool.complete(plan));
    CHECK(pool.request_ready(c));
    CHECK(pool.swa_stats().loaded_pages == 2);
    CHECK(pool.stats().host_hit_tokens == 16);
    // The loaded pages are keyed in the GPU tier, their window SWA pages with them: a hit there.
    REQUIRE(pool.free_request(c).ok());
    const request_id d = pool.add_request().value();
    CHECK(pool.attach_prefix(d, a).value() == tier_hit{16, 0});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("hybrid host tier: a hit continues from the GPU tier into the host tier") {
    auto pool = tiered::create(pool_size{6}, pool_size{9}, pool_size{9}, pool_size{9}, P, W).value();
    const auto a = seq(17, 100);
    run(pool, a);
    run(pool, seq(16, 500));  // 4 pages: the free one and a's pages 3, 2, 1 (tail first); page 0 stays
    CHECK(pool.stats().written_back_pages == 3);
    CHECK(pool.lookup(a, {}) == tier_hit{4, 12});
    const request_id c = pool.add_request().value();
    REQUIRE(pool.attach_prefix(c, a).value() == tier_hit{4, 12});
    const hybrid_copy_plan& plan = pool.take_plan();
    CHECK(copy_plan::pages(plan.full.loads) == 3);
    CHECK(copy_plan::pages(plan.swa.loads) == 2);  // the window of H = 16: pages 2 and 3
    CHECK(pool.loading_full(pool.gpu().full().pages(c)[1]));
    CHECK_FALSE(pool.loading_full(pool.gpu().full().pages(c)[0]));  // the GPU hit: readable now
    REQUIRE(pool.complete(plan));
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("hybrid host tier: a host hit ends where its window has every SWA copy") {
    // 2 host SWA pages only: of a's 6 pages, evicted tail first, pages 5 and 4 keep their SWA copy.
    auto pool = tiered::create(pool_size{8}, pool_size{10}, pool_size{9}, pool_size{3}, P, W).value();
    const auto a = seq(25, 100);
    run(pool, a);
    run(pool, seq(28, 500));  // evicts a's 6 full pages
    CHECK(pool.stats().written_back_pages == 6);
    CHECK(pool.swa_stats().written_back_pages == 2);
    CHECK(pool.swa_stats().lost_pages == 4);
    CHECK(pool.lookup(a, {}) == tier_hit{0, 24});  // H = 24 needs the SWA pages 4 and 5: kept
    // 17 tokens: H = 16 needs SWA pages 2 and 3, H = 12 pages 1 and 2, H = 8 and H = 4 page 0 on:
    // none was kept, so the host tier has no hit for this shorter prompt.
    CHECK(pool.lookup(seq(17, 100), {}) == tier_hit{0, 0});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("hybrid host tier: the host part is cut to the pages both pools can take") {
    auto pool = tiered::create(pool_size{8}, pool_size{10}, pool_size{9}, pool_size{9}, P, W).value();
    const auto a = seq(25, 100);
    run(pool, a);
    run(pool, seq(28, 500));
    const request_id hold = pool.add_request().value();
    REQUIRE(pool.extend(hold, 16).ok());  // 4 of the 7 full pages owned: 3 left to load into
    const request_id c = pool.add_request().value();
    // 3 pages fit; H = 12 needs the SWA pages 1 and 2, which the host tier holds.
    CHECK(pool.attach_prefix(c, a).value() == tier_hit{0, 12});
    CHECK(pool.gpu().full().available_pages() == 0);
    CHECK(pool.check_invariants().ok());
    REQUIRE(pool.complete(pool.take_plan()));
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("hybrid host tier: loads into pages freed before the plan is taken are cancelled, full and SWA") {
    auto pool = tiered::create(pool_size{6}, pool_size{9}, pool_size{9}, pool_size{9}, P, W).value();
    const auto a = seq(17, 100);
    run(pool, a);
    run(pool, seq(20, 500));
    const request_id c = pool.add_request().value();
    REQUIRE(pool.attach_prefix(c, a).value() == tier_hit{0, 16});
    const std::int64_t planned = pool.planned_copies();
    CHECK(planned ==
          4 + 2 + 4 + 4);  // loads 4 full + 2 SWA; write-backs of the 4 pages evicted for them, and their SWA pages
    REQUIRE(pool.truncate(c, 13).ok());  // page 3 loses its key (c rewrites its tail) but stays c's
    CHECK(pool.planned_copies() == planned);
    REQUIRE(pool.free_request(c).ok());           // pages 0-2 stay cached, keyed: their loads stay; page 3 is freed
    CHECK(pool.planned_copies() == planned - 2);  // its full load and its SWA page's load
    const hybrid_copy_plan& plan = pool.take_plan();
    CHECK(copy_plan::pages(plan.full.loads) == 3);
    CHECK(copy_plan::pages(plan.swa.loads) == 1);  // page 2's SWA page, cached with its full page
    REQUIRE(pool.complete(plan));
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("hybrid host tier: a failing call changes nothing in either tier") {
    auto pool = tiered::create(pool_size{6}, pool_size{9}, pool_size{9}, pool_size{9}, P, W).value();
    run(pool, seq(17, 100));
    const request_id b = pool.add_request().value();
    const auto snapshot = [&] {
        return std::vector<std::int64_t>{pool.gpu().full().free_pages(), pool.gpu().full().cached_pages(),
                                         pool.gpu().swa().free_pages(),  pool.gpu().swa().cached_pages(),
                                         pool.planned_copies(),          pool.host().free_pages(),
                                         pool.host_swa_free_pages(),     pool.stats().written_back_pages};
    };
    const auto before = snapshot();
    CHECK(pool.extend(b, 21).code() == errc::out_of_full_pages);  // 6 pages > 5: nothing evicted
    CHECK(snapshot() == before);
    REQUIRE(pool.extend(b, 1).ok());
    CHECK(pool.attach_prefix(b, seq(17, 100)).code() == errc::request_not_empty);
    CHECK(pool.attach_prefix(request_id{}, seq(17, 100)).code() == errc::unknown_request);
    CHECK(tiered::create(pool_size{6}, pool_size{9}, pool_size{9}, pool_size{1}, P, W).code() ==
          errc::invalid_pool_size);
    const hybrid_copy_plan& plan = pool.take_plan();
    hybrid_copy_plan stranger;
    stranger.full.sequence = plan.sequence() + 1;
    CHECK_FALSE(pool.complete(stranger));
    CHECK(pool.reset_cache().code() == errc::cache_in_use);
    REQUIRE(pool.complete(plan));
    CHECK_FALSE(pool.complete(plan));
    REQUIRE(pool.free_request(b).ok());
    REQUIRE(pool.reset_cache().ok());
    CHECK(pool.host().free_pages() == 8);
    CHECK(pool.host_swa_free_pages() == 8);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("hybrid host tier: kv events name the tier") {
    auto pool = tiered::create(pool_size{6}, pool_size{9}, pool_size{5}, pool_size{9}, P, W).value();  // 4 host pages
    std::vector<kv_event> log;
    pool.set_event_sink([&](const kv_event& e) { log.push_back(e), log.back().tokens = {}; });
    const auto count = [&](kv_event_kind kind, kv_tier tier) {
        return std::count_if(log.begin(), log.end(),
                             [&](const kv_event& e) { return e.kind == kind && e.tier == tier; });
    };
    run(pool, seq(17, 100));
    CHECK(count(kv_event_kind::stored, kv_tier::gpu) == 4);
    run(pool, seq(20, 500));  // a's 4 pages leave the GPU tier for the host tier
    CHECK(count(kv_event_kind::stored, kv_tier::host) == 4);
    for (const kv_event& e : log)
        if (e.tier == kv_tier::host) CHECK(pool.host().key(e.page) == e.key);
    run(pool, seq(17, 900));  // evicts 4 more GPU pages: the host tier (4 pages) drops a's
    CHECK(count(kv_event_kind::removed, kv_tier::host) == 4);
    REQUIRE(pool.reset_cache().ok());
    CHECK(log.back().kind == kv_event_kind::cleared);
    CHECK(log.back().tier == kv_tier::host);
    CHECK(pool.check_invariants().ok());
}

// ---- a randomized multi-turn history, bytes of both layer kinds checked through the memcpy executor --

namespace {

// The K/V a forward pass writes for token `pos`: a hash of the tenant and every token up to it; the
// SWA layers' value differs from the full layers' (`layer` salt), so a page of one kind loaded into
// the other shows up too.
std::vector<std::uint64_t> kv_of(const std::vector<token_id>& tokens, std::uint64_t tenant, std::uint64_t layer) {
    std::vector<std::uint64_t> kv(tokens.size());
    std::uint64_t h = tenant * 0x9e3779b97f4a7c15ull + 1 + layer * 0x632be59bd9b4e019ull;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        h ^= static_cast<std::uint64_t>(tokens[i]) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdull;
        kv[i] = h;
    }
    return kv;
}

struct hybrid_history {
    tiered pool;
    test::kv_bytes gpu_full, gpu_swa, host_full, host_swa;
    std::mt19937 rng;
    struct session {
        std::vector<token_id> history;
        std::uint64_t tenant;
        bool busy = false;
    };
    struct live_request {
        request_id r;
        std::size_t session;
        std::vector<token_id> tokens;
        std::vector<std::uint64_t> full_kv, swa_kv;
    };
    std::vector<session> sessions;
    std::vector<live_request> live;
    std::vector<std::uint64_t> in_flight;
    std::int64_t checked_swa_tokens = 0;
    std::int64_t mixed_hits = 0;  // attaches hitting in both tiers

    hybrid_history(unsigned seed, std::int32_t full_pages, std::int32_t swa_pages, std::int32_t host_pages,
                   std::int32_t host_swa_pages)
        : pool(tiered::create(pool_size{full_pages}, pool_size{swa_pages}, pool_size{host_pages},
                              pool_size{host_swa_pages}, P, W)
                   .value()),
          gpu_full(full_pages, P * 8),
          gpu_swa(swa_pages, P * 8),
          host_full(host_pages, P * 8),
          host_swa(host_swa_pages, P * 8),
          rng(seed) {
        for (std::size_t s = 0; s < 6; ++s) sessions.push_back({seq(9, 1), s % 2, false});
    }
    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
    void invariants() { REQUIRE(pool.check_invariants().ok()); }
    static std::uint64_t read(test::kv_bytes& kv, std::int32_t page, std::int64_t offset) {
        std::uint64_t v;
        std::memcpy(&v, kv.page(page) + offset * 8, 8);
        return v;
    }
    static void write(test::kv_bytes& kv, std::int32_t page, std::int64_t offset, std::uint64_t v) {
        std::memcpy(kv.page(page) + offset * 8, &v, 8);
    }

    void start(std::size_t s) {
        session& ss = sessions[s];
        live_request q{pool.add_request(cache_scope{ss.tenant}).value(), s, ss.history, {}, {}};
        for (int i = 0, n = 2 + pick(10); i < n; ++i) q.tokens.push_back(1000 + pick(50));
        const auto prompt = static_cast<std::size_t>(q.tokens.size());
        for (int i = 0, n = 1 + pick(4); i < n; ++i) q.tokens.push_back(2000 + pick(50));
        q.full_kv = kv_of(q.tokens, ss.tenant, 0);
        q.swa_kv = kv_of(q.tokens, ss.tenant, 1);
        const tier_hit hit = pool.attach_prefix(q.r, std::span<const token_id>(q.tokens).first(prompt)).value();
        mixed_hits += hit.gpu_tokens > 0 && hit.host_tokens > 0;
        invariants();
        ss.busy = true;
        live.push_back(std::move(q));
    }
    void finish(std::size_t i, bool keep_history) {
        live_request& q = live[i];
        if (keep_history) sessions[q.session].history = q.tokens;
        sessions[q.session].busy = false;
        REQUIRE(pool.free_request(q.r).ok());
        invariants();
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
    }

    void step() {
        for (std::size_t s = 0; s < sessions.size(); ++s)
            if (!sessions[s].busy && pick(3) == 0) start(s);
        for (std::size_t i = live.size(); i-- > 0;) {
            live_request& q = live[i];
            const std::int64_t length = pool.gpu().full().length_tokens(q.r);
            const std::int64_t want =
                std::min<std::int64_t>(1 + pick(8), static_cast<std::int64_t>(q.tokens.size()) - length);
            if (want > 0 && !pool.extend(q.r, want).ok()) finish(i, false);
            invariants();
        }
        const hybrid_copy_plan& plan = pool.take_plan();
        test::execute(plan.full, gpu_full, host_full);  // before the forward pass
        test::execute(plan.swa, gpu_swa, host_swa);
        in_flight.push_back(plan.sequence());
        for (const live_request& q : live) {  // committed tokens read back their own K/V, in both layer kinds
            const auto full = pool.gpu().full().pages(q.r);
            const auto swa = pool.gpu().swa().pages(q.r);
            const std::int64_t first_live = pool.gpu().swa().first_live_page(q.r);
            for (std::int64_t t = 0; t < pool.gpu().full().committed_tokens(q.r); ++t) {
                const auto i = static_cast<std::size_t>(t / P);
                REQUIRE(read(gpu_full, full[i].value, t % P) == q.full_kv[static_cast<std::size_t>(t)]);
                if (t / P < first_live) continue;
                REQUIRE(read(gpu_swa, swa[i].value, t % P) == q.swa_kv[static_cast<std::size_t>(t)]);
                ++checked_swa_tokens;
            }
        }
        for (live_request& q : live) {  // the forward pass writes the tokens in flight, then commits them
            const auto full = pool.gpu().full().pages(q.r);
            const auto swa = pool.gpu().swa().pages(q.r);
            const std::int64_t from = pool.gpu().full().committed_tokens(q.r),
                               to = pool.gpu().full().length_tokens(q.r);
            for (std::int64_t t = from; t < to; ++t) {
                const auto i = static_cast<std::size_t>(t / P);
                write(gpu_full, full[i].value, t % P, q.full_kv[static_cast<std::size_t>(t)]);
                write(gpu_swa, swa[i].value, t % P, q.swa_kv[static_cast<std::size_t>(t)]);
            }
            REQUIRE(pool.commit(q.r, to - from, q.tokens).ok());
            invariants();
        }
        for (std::size_t i = live.size(); i-- > 0;)
            if (pool.gpu().full().committed_tokens(live[i].r) == static_cast<std::int64_t>(live[i].tokens.size()))
                finish(i, true);
        if (in_flight.size() > 1 || pick(2) == 0) {  // completion sometimes lags a step
            hybrid_copy_plan oldest;
            oldest.full.sequence = in_flight.front();
            REQUIRE(pool.complete(oldest));
            in_flight.erase(in_flight.begin());
            invariants();
        }
    }
};

}  // namespace

TEST_CASE("hybrid host tier: randomized multi-turn histories load back exactly the bytes written, full and SWA") {
    for (unsigned seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
        CAPTURE(seed);
        hybrid_history sim(seed, 24, 16 + static_cast<std::int32_t>(seed), 40 + static_cast<std::int32_t>(seed) * 4,
                           24);
        for (int s = 0; s < 400; ++s) sim.step();
        CHECK(sim.pool.stats().written_back_pages > 0);
        CHECK(sim.pool.swa_stats().written_back_pages > 0);
        CHECK(sim.pool.stats().host_hit_tokens > 0);
        CHECK(sim.pool.swa_stats().loaded_pages > 0);
        CHECK(sim.pool.swa_stats().loaded_pages < sim.pool.stats().loaded_pages);  // only the windows' SWA pages
        CHECK(sim.checked_swa_tokens > 0);
        CHECK(sim.mixed_hits > 0);
    }
}
