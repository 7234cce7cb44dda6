// Randomized histories against a shadow model, invariants checked after every operation.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include <pagedkv/debug/state_digest.hpp>

#include "pool_helpers.hpp"

using namespace pagedkv;

namespace {

// What the model says about one request: lengths, and the pages it held after the last call.
struct shadow {
    request_id id;
    std::int64_t length = 0, committed = 0;
    std::vector<page_id> full, swa;
};

template <class Pool>
std::vector<page_id> snapshot(const Pool& p, request_id r) {
    const auto s = p.pages(r);
    return {s.begin(), s.end()};
}

// Drives one pool (full, SWA or hybrid) through `ops` random operations. `Adapter` exposes the
// pool under test uniformly so one driver covers all three.
template <class Adapter>
void random_history(Adapter& a, std::uint64_t seed, int ops) {
    std::mt19937_64 rng(seed);
    auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    const std::int32_t page = a.page_size();
    std::vector<shadow> live;
    std::vector<request_id> retired;
    for (int op = 0; op < ops; ++op) {
        const auto digest_before = a.digest();
        const int kind = static_cast<int>(pick(0, 99));
        status s;
        shadow* r = live.empty() ? nullptr
                                 : &live[static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(live.size()) - 1))];
        if (r == nullptr || (kind < 8 && live.size() < 12)) {
            live.push_back({a.add(), 0, 0, {}, {}});
            continue;
        }
        const std::int64_t in_flight = r->length - r->committed;
        std::int64_t expect_len = r->length, expect_committed = r->committed;
        if (kind < 45) {  // extend: mostly small, sometimes a chunk, rarely absurd
            const std::int64_t n =
                kind < 43 ? pick(0, 3 * page) : (kind == 43 ? -pick(1, 5) : max_tokens_per_request(page));
            s = a.extend(r->id, n);
            if (s)
                expect_len += n;
            else
                CHECK((s.code() == errc::negative_length || s.code() == errc::length_overflow ||
                       s.code() == errc::out_of_full_pages || s.code() == errc::out_of_swa_pages));
        } else if (kind < 75) {  // commit: accept some drafts; sometimes one too many
            const std::int64_t n = kind < 72 ? pick(0, in_flight) : in_flight + 1;
            s = a.commit(r->id, n);
            if (s)
                expect_len = expect_committed = r->committed + n;
            else
                CHECK(s.code() == errc::commit_exceeds_reserved);
        } else if (kind < 88) {  // truncate / rollback anywhere (into a released window fails)
            const std::int64_t n = kind < 87 ? pick(0, r->length) : r->length + 1;
            s = a.truncate(r->id, n);
            if (s) {
                expect_len = n;
                expect_committed = std::min(r->committed, n);
            } else {
                CHECK((s.code() == errc::window_already_released || s.code() == errc::truncate_past_length));
            }
        } else if (kind < 96) {
            REQUIRE(a.free(r->id).ok());
            retired.push_back(r->id);
            *r = live.back();
            live.pop_back();
            REQUIRE(a.check().ok());
            continue;
        } else if (!retired.empty()) {  // a finished request's id: always rejected
            const request_id ghost =
                retired[static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(retired.size()) - 1))];
            CHECK(a.extend(ghost, 1).code() == errc::unknown_request);
            CHECK(a.free(ghost).code() == errc::unknown_request);
            s = errc::unknown_request;
        }
        REQUIRE(a.check().ok());
        if (!s) {  // all-or-nothing
            REQUIRE(a.digest() == digest_before);
            continue;
        }
        REQUIRE(a.length(r->id) == expect_len);
        REQUIRE(a.committed(r->id) == expect_committed);
        // Pages that survive a call keep their identity: KV is never moved or swapped under a request.
        const auto full = a.full_pages(r->id), swa = a.swa_pages(r->id);
        for (std::size_t i = 0; i < std::min(full.size(), r->full.size()); ++i) REQUIRE(full[i] == r->full[i]);
        for (std::size_t i = 0; i < std::min(swa.size(), r->swa.size()); ++i)
            REQUIRE((swa[i] == r->swa[i] || swa[i] == null_page));
        r->length = expect_len;
        r->committed = expect_committed;
        r->full = full;
        r->swa = swa;
    }
    for (const shadow& r : live) REQUIRE(a.free(r.id).ok());
    REQUIRE(a.check().ok());
    REQUIRE(a.used() == 0);
}

template <class Pool>
struct single_adapter {
    Pool pool;
    std::int32_t page_size() const { return pool.page_size_tokens(); }
    request_id add() { return pool.add_request().value(); }
    status extend(request_id r, std::int64_t n) { return pool.extend(r, n); }
    status commit(request_id r, std::int64_t n) { return pool.commit(r, n); }
    status truncate(request_id r, std::int64_t n) { return pool.truncate(r, n); }
    status free(request_id r) { return pool.free_request(r); }
    status check() const { return pool.check_invariants(); }
    std::int64_t length(request_id r) const { return pool.length_tokens(r); }
    std::int64_t committed(request_id r) const { return pool.committed_tokens(r); }
    static constexpr bool sliding = Pool::kind == attention_kind::sliding;
    std::vector<page_id> full_pages(request_id r) const { return sliding ? std::vector<page_id>{} : snapshot(pool, r); }
    std::vector<page_id> swa_pages(request_id r) const { return sliding ? snapshot(pool, r) : std::vector<page_id>{}; }
    std::int64_t used() const { return pool.used_pages(); }
    std::uint64_t digest() const { return state_digest(pool); }
};

template <class Hybrid>
struct hybrid_adapter {
    Hybrid h;
    std::int32_t page_size() const { return h.full().page_size_tokens(); }
    request_id add() { return h.add_request().value(); }
    status extend(request_id r, std::int64_t n) { return h.extend(r, n); }
    status commit(request_id r, std::int64_t n) { return h.commit(r, n); }
    status truncate(request_id r, std::int64_t n) { return h.truncate(r, n); }
    status free(request_id r) { return h.free_request(r); }
    status check() const { return h.check_invariants(); }
    std::int64_t length(request_id r) const { return h.full().length_tokens(r); }
    std::int64_t committed(request_id r) const { return h.full().committed_tokens(r); }
    std::vector<page_id> full_pages(request_id r) const { return snapshot(h.full(), r); }
    std::vector<page_id> swa_pages(request_id r) const { return snapshot(h.swa(), r); }
    std::int64_t used() const { return h.full().used_pages() + h.swa().used_pages(); }
    std::uint64_t digest() const { return state_digest(h); }
};

}  // namespace

TEST_CASE_TEMPLATE("randomized full_pool history: 10^5 ops per policy, invariants after every op", A, lifo_free_stack,
                   lowest_index_first) {
    for (std::uint64_t seed : {1u, 2u}) {
        single_adapter<full_pool<A>> a{full_pool<A>::create(pool_size{80}, 16).value()};
        random_history(a, seed, 50'000);
    }
}

TEST_CASE("randomized swa_pool history, invariants after every op") {
    single_adapter<swa_pool<>> a{swa_pool<>::create(pool_size{40}, 16, 20).value()};
    random_history(a, 7, 50'000);
}

TEST_CASE("randomized hybrid_pool history: 10^6 ops over page sizes 1, 16, 64 and windows <, =, > a page") {
    struct config {
        std::int32_t page;
        std::int64_t window;
    };
    // P = 1 cannot have a window below a page; every other size gets all three cases.
    const config configs[] = {{1, 1}, {1, 7}, {16, 5}, {16, 16}, {16, 50}, {64, 20}, {64, 64}, {64, 200}};
    std::uint64_t seed = 100;
    for (const config c : configs) {
        CAPTURE(c.page);
        CAPTURE(c.window);
        for (int rep = 0; rep < 2; ++rep) {
            using H = hybrid_pool<>;
            const std::int32_t full_pages = c.page == 1 ? 400 : 64, swa_pages = c.page == 1 ? 120 : 24;
            hybrid_adapter<H> a{H::create(pool_size{full_pages}, pool_size{swa_pages}, c.page, c.window).value()};
            random_history(a, seed++, 62'500);
        }
    }
}
