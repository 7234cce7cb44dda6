// The host tier of a full caching pool (pool/tiered_pool.hpp): write-back of evicted pages, loads
// of host hits, the copy-plan contract, all-or-nothing calls, events, invariants over both tiers.
#include <doctest/doctest.h>

#include <pagedkv/pagedkv.hpp>
#include <pagedkv/pool/tiered_pool.hpp>

#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "memcpy_executor.hpp"
#include "pool_helpers.hpp"

using namespace pagedkv;

namespace {

using tiered = tiered_full_pool<lru>;

std::vector<token_id> seq(std::int32_t n, token_id first) {
    std::vector<token_id> t(static_cast<std::size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}

// Runs `t` as a prompt (attaching what either tier holds), completes the step's plan at once, and
// frees the request, leaving its whole pages cached in the GPU tier.
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

std::int64_t host_pages_in(const tiered& pool, host_page_state s) {
    std::int64_t n = 0;
    for (std::int32_t i = 1; i < pool.host().size().pages; ++i) n += pool.host().state(page_id{i}) == s;
    return n;
}

struct event_log {
    std::vector<kv_event> events;
    void operator()(const kv_event& e) {
        events.push_back(e);
        events.back().tokens = {};
    }
    std::int64_t count(kv_event_kind kind, kv_tier tier) const {
        std::int64_t n = 0;
        for (const kv_event& e : events) n += e.kind == kind && e.tier == tier;
        return n;
    }
};

}  // namespace

// A tier needs a pool that keys its pages: the pool without a cache has none to offer.
template <class Pool>
concept can_tier = requires { typename tiered_pool<Pool>; };
static_assert(can_tier<full_pool<lifo_free_stack, lru>> && !can_tier<full_pool<>>);

TEST_CASE("host tier: an evicted cached page is written back to a host page instead of lost") {
    auto pool = tiered::create(pool_size{5}, pool_size{9}, 4).value();  // 4 GPU pages, 8 host pages
    const auto a = seq(13, 100);  // 3 whole pages hit later (the last token never does)
    run(pool, a);
    CHECK(pool.gpu().cached_pages() == 3);
    CHECK(pool.lookup(a, {}) == tier_hit{12, 0});

    run(pool, seq(16, 500));  // needs all 4 GPU pages: evicts a's 3 cached pages
    CHECK(pool.gpu().stats().evicted_pages == 3);
    CHECK(pool.stats().written_back_pages == 3);
    CHECK(host_pages_in(pool, host_page_state::resident) == 3);
    CHECK(pool.lookup(a, {}) == tier_hit{0, 12});  // gone from the GPU tier, found in the host tier
}

TEST_CASE("host tier: a written-back page is not a hit before complete(plan)") {
    auto pool = tiered::create(pool_size{5}, pool_size{9}, 4).value();
    const auto a = seq(13, 100);
    run(pool, a);
    const request_id b = pool.add_request().value();
    REQUIRE(pool.extend(b, 16).ok());  // evicts a's pages: three write-backs planned
    CHECK(pool.planned_copies() == 3);
    CHECK(host_pages_in(pool, host_page_state::writing) == 3);
    CHECK(pool.lookup(a, {}) == tier_hit{0, 0});  // the copies have not run
    const copy_plan& plan = pool.take_plan();
    CHECK(copy_plan::pages(plan.write_backs) == 3);
    CHECK(plan.loads.empty());
    CHECK(pool.lookup(a, {}) == tier_hit{0, 0});  // taken, still in flight
    CHECK(pool.check_invariants().ok());
    REQUIRE(pool.complete(plan));
    CHECK(pool.lookup(a, {}) == tier_hit{0, 12});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("host tier: a hit from the host tier attaches fresh GPU pages and returns their loads") {
    auto pool = tiered::create(pool_size{5}, pool_size{9}, 4).value();
    const auto a = seq(13, 100);
    run(pool, a);
    run(pool, seq(16, 500));
    const request_id c = pool.add_request().value();
    CHECK(pool.attach_prefix(c, a).value() == tier_hit{0, 12});
    CHECK(pool.gpu().committed_tokens(c) == 12);
    CHECK(pool.gpu().stats().evicted_pages == 6);  // the 16-token request's pages made room
    const copy_plan& plan = pool.take_plan();
    CHECK(copy_plan::pages(plan.loads) == 3);
    CHECK(copy_plan::pages(plan.write_backs) == 3);  // the pages evicted for the loads go to host
    std::int32_t i = 0;
    for (const copy_run& run : plan.loads)
        for (std::int32_t k = 0; k < run.count; ++k, ++i)
            CHECK(pool.gpu().pages(c)[static_cast<std::size_t>(i)].value == run.dst + k);
    CHECK(host_pages_in(pool, host_page_state::reading) == 3);
    CHECK(pool.check_invariants().ok());
    REQUIRE(pool.complete(plan));
    CHECK(host_pages_in(pool, host_page_state::reading) == 0);
    CHECK(pool.stats().host_hit_tokens == 12);
    // The loaded pages are keyed in the GPU tier: the next request hits them there.
    const request_id d = pool.add_request().value();
    CHECK(pool.attach_prefix(d, a).value() == tier_hit{12, 0});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("host tier: loaded GPU pages are unusable until complete, host pages read from stay pinned") {
    auto pool = tiered::create(pool_size{5}, pool_size{4}, 4).value();  // 3 host pages only
    const auto a = seq(13, 100);
    run(pool, a);
    run(pool, seq(16, 500));  // a's 3 pages fill the host tier
    const request_id c = pool.add_request().value();
    REQUIRE(pool.attach_prefix(c, a).value() == tier_hit{0, 12});
    for (page_id p : pool.gpu().pages(c)) CHECK(pool.loading(p));
    CHECK_FALSE(pool.request_ready(c));
    // Evicting the 16-token request's last page needs a host page: all three are pinned by c's
    // loads, so its content is lost rather than overwrite a page a load still reads.
    const request_id e = pool.add_request().value();
    REQUIRE(pool.extend(e, 4).ok());
    CHECK(pool.stats().lost_pages == 4);  // the 3 evicted by c's attach, and this one
    CHECK(host_pages_in(pool, host_page_state::reading) == 3);
    const copy_plan& plan = pool.take_plan();
    CHECK(pool.loading(pool.gpu().pages(c)[0]));  // taken is not completed
    REQUIRE(pool.complete(plan));
    CHECK(pool.request_ready(c));
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("host tier: a load whose GPU page is freed before the plan is taken is cancelled") {
    auto pool = tiered::create(pool_size{9}, pool_size{9}, 4).value();
    const auto a = seq(13, 100);
    run(pool, a);
    run(pool, seq(32, 500));  // 8 pages: a's go to the host tier
    const request_id c = pool.add_request().value();
    REQUIRE(pool.attach_prefix(c, a).value() == tier_hit{0, 12});
    CHECK(pool.planned_copies() == 6);  // 3 loads, and the write-backs of the 3 pages they evicted
    REQUIRE(pool.truncate(c, 5).ok());  // page 1 loses its key (c rewrites its tail); page 2 is freed
    CHECK(pool.planned_copies() == 5);
    REQUIRE(pool.truncate(c, 0).ok());  // page 1 is freed; page 0, still keyed, stays cached
    CHECK(pool.planned_copies() == 4);
    const copy_plan& plan = pool.take_plan();
    CHECK(copy_plan::pages(plan.loads) == 1);  // the cached page may be hit: its load stays
    CHECK(host_pages_in(pool, host_page_state::reading) == 1);
    REQUIRE(pool.complete(plan));
    CHECK(pool.lookup(a, {}) == tier_hit{4, 8});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("host tier: a failing call changes nothing in either tier") {
    auto pool = tiered::create(pool_size{5}, pool_size{9}, 4).value();
    const auto a = seq(13, 100);
    run(pool, a);
    const request_id b = pool.add_request().value();
    const auto before = [&] {
        return std::vector<std::int64_t>{pool.gpu().free_pages(),     pool.gpu().cached_pages(),
                                         pool.planned_copies(),       pool.host().free_pages(),
                                         pool.host().writing_pages(), pool.stats().written_back_pages};
    };
    const auto snapshot = before();
    CHECK(pool.extend(b, 17).code() == errc::out_of_full_pages);  // 5 pages > 4: nothing evicted
    CHECK(before() == snapshot);
    REQUIRE(pool.extend(b, 1).ok());
    CHECK(pool.attach_prefix(b, a).code() == errc::request_not_empty);
    CHECK(pool.attach_prefix(request_id{}, a).code() == errc::unknown_request);
    const copy_plan& plan = pool.take_plan();
    copy_plan stranger;
    stranger.sequence = plan.sequence + 1;
    CHECK_FALSE(pool.complete(stranger));  // not the oldest plan in flight
    CHECK(pool.plans_in_flight() == 1);
    CHECK(pool.reset_cache().code() == errc::cache_in_use);
    REQUIRE(pool.complete(plan));
    CHECK_FALSE(pool.complete(plan));  // twice
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("host tier: kv events name the tier") {
    auto pool = tiered::create(pool_size{5}, pool_size{4}, 4).value();
    event_log log;
    pool.set_event_sink([&](const kv_event& e) { log(e); });
    const auto a = seq(13, 100);
    run(pool, a);
    CHECK(log.count(kv_event_kind::stored, kv_tier::gpu) == 3);
    run(pool, seq(16, 500));
    CHECK(log.count(kv_event_kind::removed, kv_tier::gpu) == 3);  // a's pages left the GPU tier...
    CHECK(log.count(kv_event_kind::stored, kv_tier::host) == 3);  // ...and are findable on the host
    for (const kv_event& e : log.events)
        if (e.tier == kv_tier::host) CHECK(pool.host().key(e.page) == e.key);
    run(pool, seq(13, 900));  // evicts 3 more GPU pages: the host tier (3 pages) drops a's
    CHECK(log.count(kv_event_kind::removed, kv_tier::host) == 3);
    REQUIRE(pool.reset_cache().ok());
    CHECK(log.events.back().kind == kv_event_kind::cleared);
    CHECK(log.events.back().tier == kv_tier::host);
    CHECK(pool.lookup(a, {}) == tier_hit{0, 0});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("host tier: a page already on the host is not written back twice") {
    auto pool = tiered::create(pool_size{5}, pool_size{9}, 4).value();
    const auto a = seq(13, 100);
    run(pool, a);
    run(pool, seq(16, 500));
    run(pool, a);             // loaded back from the host, then cached in the GPU tier
    run(pool, seq(16, 700));  // evicted again: the host pages still hold a's content
    CHECK(pool.stats().already_on_host == 3);
    CHECK(pool.lookup(a, {}) == tier_hit{0, 12});
    CHECK(pool.check_invariants().ok());
}

// ---- a randomized multi-turn history, bytes checked through the memcpy executor --------------------

namespace {

// The K/V a forward pass writes for token `pos` of a request: a hash of the tenant and every token
// up to it, so a page attached after the wrong prefix, or not loaded, shows up as wrong bytes.
std::vector<std::uint64_t> kv_of(const std::vector<token_id>& tokens, std::uint64_t tenant) {
    std::vector<std::uint64_t> kv(tokens.size());
    std::uint64_t h = tenant * 0x9e3779b97f4a7c15ull + 1;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        h ^= static_cast<std::uint64_t>(tokens[i]) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdull;
        kv[i] = h;
    }
    return kv;
}

struct multi_turn {
    static constexpr std::int32_t page = 4;
    tiered pool;
    test::kv_bytes gpu, host;
    std::mt19937 rng;
    struct session {
        std::vector<token_id> history;
        std::uint64_t tenant;
        bool busy = false;
    };
    struct live_request {
        request_id r;
        std::size_t session;
        std::vector<token_id> tokens;  // prompt, then the tokens it will decode
        std::vector<std::uint64_t> kv;
    };
    std::vector<session> sessions;
    std::vector<live_request> live;
    std::vector<std::uint64_t> in_flight;  // sequences of plans taken, not completed

    multi_turn(unsigned seed, std::int32_t gpu_pages, std::int32_t host_pages)
        : pool(tiered::create(pool_size{gpu_pages}, pool_size{host_pages}, page).value()),
          gpu(gpu_pages, page * sizeof(std::uint64_t)),
          host(host_pages, page * sizeof(std::uint64_t)),
          rng(seed) {
        const auto system_prompt = seq(9, 1);  // shared by every session of a tenant
        for (std::size_t s = 0; s < 6; ++s) sessions.push_back({system_prompt, s % 2, false});
    }
    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
    void invariants() { REQUIRE(pool.check_invariants().ok()); }

    std::uint64_t stored(std::int32_t gpu_page, std::int64_t offset) {
        std::uint64_t v;
        std::memcpy(&v, gpu.page(gpu_page) + offset * 8, 8);
        return v;
    }

    void start(std::size_t s) {
        session& ss = sessions[s];
        live_request q{pool.add_request(cache_scope{ss.tenant}).value(), s, ss.history, {}};
        for (int i = 0, n = 2 + pick(10); i < n; ++i) q.tokens.push_back(1000 + pick(50));  // the user's turn
        const auto prompt = static_cast<std::ptrdiff_t>(q.tokens.size());
        for (int i = 0, n = 1 + pick(4); i < n; ++i) q.tokens.push_back(2000 + pick(50));  // the reply
        q.kv = kv_of(q.tokens, ss.tenant);
        REQUIRE(
            pool.attach_prefix(q.r, std::span<const token_id>(q.tokens).first(static_cast<std::size_t>(prompt))).ok());
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
        for (std::size_t i = live.size(); i-- > 0;) {  // schedule: a prefill chunk or one decode token
            live_request& q = live[i];
            const std::int64_t length = pool.gpu().length_tokens(q.r);
            const std::int64_t want =
                std::min<std::int64_t>(1 + pick(8), static_cast<std::int64_t>(q.tokens.size()) - length);
            if (want > 0 && !pool.extend(q.r, want).ok()) finish(i, false);  // out of pages: abandon the turn
            invariants();
        }
        const copy_plan& plan = pool.take_plan();
        test::execute(plan, gpu, host);  // before the forward pass
        in_flight.push_back(plan.sequence);
        for (const live_request& q : live) {  // every committed token reads back what was written for it
            const auto pages = pool.gpu().pages(q.r);
            for (std::int64_t t = 0; t < pool.gpu().committed_tokens(q.r); ++t)
                REQUIRE(stored(pages[static_cast<std::size_t>(t / page)].value, t % page) ==
                        q.kv[static_cast<std::size_t>(t)]);
        }
        for (live_request& q : live) {  // the forward pass writes the tokens in flight, then commits them
            const auto pages = pool.gpu().pages(q.r);
            const std::int64_t from = pool.gpu().committed_tokens(q.r), to = pool.gpu().length_tokens(q.r);
            for (std::int64_t t = from; t < to; ++t)
                std::memcpy(gpu.page(pages[static_cast<std::size_t>(t / page)].value) + (t % page) * 8,
                            &q.kv[static_cast<std::size_t>(t)], 8);
            REQUIRE(pool.commit(q.r, to - from, q.tokens).ok());
            invariants();
        }
        for (std::size_t i = live.size(); i-- > 0;)
            if (pool.gpu().committed_tokens(live[i].r) == static_cast<std::int64_t>(live[i].tokens.size()))
                finish(i, true);
        if (in_flight.size() > 1 || pick(2) == 0) {  // completion sometimes lags a step
            copy_plan oldest;
            oldest.sequence = in_flight.front();
            REQUIRE(pool.complete(oldest));
            in_flight.erase(in_flight.begin());
            invariants();
        }
    }
};

}  // namespace

TEST_CASE("host tier: randomized multi-turn histories load back exactly the bytes written for their tokens") {
    for (unsigned seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
        CAPTURE(seed);
        multi_turn sim(seed, 24, 40 + static_cast<std::int32_t>(seed) * 4);
        for (int s = 0; s < 400; ++s) sim.step();
        CHECK(sim.pool.stats().written_back_pages > 0);
        CHECK(sim.pool.stats().host_hit_tokens > 0);
        CHECK(sim.pool.gpu().stats().hit_tokens > 0);
    }
}

TEST_CASE("host tier: the worked example of docs/offload.md") {
    auto pool = tiered::create(pool_size{5}, pool_size{9}, 4).value();  // P = 4: GPU pages 1-4, host pages 1-8
    const auto a = seq(13, 100);
    const request_id ra = pool.add_request().value();
    REQUIRE(pool.extend(ra, 13).ok());
    REQUIRE(pool.commit(ra, 13, a).ok());
    CHECK(test::page_values(pool.gpu(), ra) == std::vector<std::int32_t>{1, 2, 3, 4});
    REQUIRE(pool.free_request(ra).ok());       // 1, 2, 3 cached (keyed), 4 free (partial)
    REQUIRE(pool.complete(pool.take_plan()));  // nothing to copy yet

    const auto b = seq(16, 500);
    const request_id rb = pool.add_request().value();
    REQUIRE(pool.extend(rb, 16).ok());  // takes 4, then evicts 3, 2, 1 (a chain leaves tail first)
    CHECK(test::page_values(pool.gpu(), rb) == std::vector<std::int32_t>{4, 3, 2, 1});
    const copy_plan& first = pool.take_plan();
    CHECK(first.write_backs == std::vector<copy_run>{{3, 1, 1}, {2, 2, 1}, {1, 3, 1}});
    REQUIRE(pool.complete(first));  // host 3, 2, 1 now hold a's pages 0, 1, 2
    REQUIRE(pool.commit(rb, 16, b).ok());
    REQUIRE(pool.free_request(rb).ok());
    CHECK(pool.lookup(a, {}) == tier_hit{0, 12});

    const request_id rc = pool.add_request().value();
    CHECK(pool.attach_prefix(rc, a).value() == tier_hit{0, 12});
    CHECK(test::page_values(pool.gpu(), rc) == std::vector<std::int32_t>{1, 2, 3});  // b's pages, evicted
    const copy_plan& second = pool.take_plan();
    CHECK(second.write_backs == std::vector<copy_run>{{1, 4, 3}});  // b's pages 1, 2, 3 -> host 4, 5, 6
    CHECK(second.loads == std::vector<copy_run>{{3, 1, 1}, {2, 2, 1}, {1, 3, 1}});
    CHECK_FALSE(pool.request_ready(rc));
    REQUIRE(pool.complete(second));
    CHECK(pool.request_ready(rc));
    CHECK(pool.check_invariants().ok());
}
