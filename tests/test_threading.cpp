// The threading contract (docs/threading.md), exercised for real: .ci/run also builds this file
// under ThreadSanitizer, which reports any data race the promises below would hide.
//  - One thread (the scheduler) mutates a pool.
//  - Between mutations, any number of threads may make const calls on it at once: table emission
//    into their own buffers, queries, check_invariants, state_digest.
//  - Separate pools share nothing, so each may live on its own thread.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include <pagedkv/debug/state_digest.hpp>
#include <pagedkv/pagedkv.hpp>

using namespace pagedkv;

namespace {

constexpr int readers = 4;

// Everything one reader derives from the pool: every table kind through both views, and digests.
struct tables {
    std::vector<std::int32_t> dense_full, dense_swa, indptr_full, indices_full, last_full, indptr_swa, indices_swa,
        last_swa;
    std::vector<std::int64_t> slots_full, slots_swa;
    std::uint64_t digest = 0;
    bool invariants = false;
    friend bool operator==(const tables&, const tables&) = default;
};

template <class View>
void emit_all(const View& v, std::span<const request_id> batch, std::int64_t row, std::vector<std::int32_t>& dense,
              std::vector<std::int32_t>& indptr, std::vector<std::int32_t>& indices, std::vector<std::int32_t>& last,
              std::vector<std::int64_t>& slots) {
    std::int64_t nnz = 0, in_flight = 0;
    for (request_id r : batch) {
        nnz += static_cast<std::int64_t>(csr_row(v, r).size());
        in_flight += tokens_in_flight(v, r);
    }
    dense.assign(batch.size() * static_cast<std::size_t>(row), -1);
    indptr.assign(batch.size() + 1, -1), indices.assign(static_cast<std::size_t>(nnz), -1),
        last.assign(batch.size(), -1);
    slots.assign(static_cast<std::size_t>(in_flight), -1);
    const bool ok = emit_dense_table(v, batch, dense, row).ok() &&
                    emit_csr_table(v, batch, {indptr, indices, last}).ok() && emit_slot_mapping(v, batch, slots).ok();
    if (!ok) dense.clear();  // makes the comparison with the reference fail
}

tables read_all(const hybrid_pool<>& pool, std::span<const request_id> batch) {
    tables t;
    std::int64_t row = 0;
    for (request_id r : batch) row = std::max(row, static_cast<std::int64_t>(pool.full().pages(r).size()));
    emit_all(pool.full(), batch, row, t.dense_full, t.indptr_full, t.indices_full, t.last_full, t.slots_full);
    emit_all(pool.swa(), batch, row, t.dense_swa, t.indptr_swa, t.indices_swa, t.last_swa, t.slots_swa);
    t.digest = state_digest(pool);
    t.invariants = pool.check_invariants().ok();
    return t;
}

// A scheduler step in two halves: reserve (add, extend by 1 + drafts, preempt by freeing what does
// not fit), then verify (commit 1..all of the tokens in flight). False on an unexpected error;
// no doctest assertion here, since the third test runs these on worker threads.
bool schedule(hybrid_pool<>& pool, std::vector<request_id>& live, std::mt19937_64& rng) {
    if (live.size() < 12 && rng() % 3 == 0) live.push_back(pool.add_request().value());
    for (std::size_t i = 0; i < live.size();) {
        const std::int64_t drafts = static_cast<std::int64_t>(rng() % 4);
        if (!pool.extend(live[i], 1 + drafts)) {  // out of pages: preempt
            if (!pool.free_request(live[i])) return false;
            live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        ++i;
    }
    return true;
}
bool verify(hybrid_pool<>& pool, std::vector<request_id>& live, std::mt19937_64& rng) {
    for (request_id r : live) {
        const std::int64_t in_flight = pool.full().length_tokens(r) - pool.full().committed_tokens(r);
        if (in_flight < 1 ||
            !pool.commit(r, 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(in_flight))))
            return false;
    }
    return true;
}

hybrid_pool<> busy_pool(std::vector<request_id>& live) {
    auto pool = hybrid_pool<>::create(pool_size{200}, pool_size{64}, 8, 40).value();
    std::mt19937_64 rng(1);
    for (int i = 0; i < 12; ++i) live.push_back(pool.add_request().value());
    for (int step = 0; step < 30; ++step) REQUIRE((schedule(pool, live, rng) && verify(pool, live, rng)));
    REQUIRE(schedule(pool, live, rng));  // leave tokens in flight, as between reservation and forward pass
    return pool;
}

}  // namespace

TEST_CASE("const calls from many threads at once, each into its own buffers, match one thread's") {
    std::vector<request_id> live;
    const hybrid_pool<> pool = busy_pool(live);
    REQUIRE(live.size() >= 4);
    const tables reference = read_all(pool, live);
    REQUIRE(reference.invariants);
    REQUIRE_FALSE(reference.dense_full.empty());
    std::array<std::atomic<int>, readers> mismatches{};
    std::vector<std::thread> threads;
    for (int t = 0; t < readers; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i)
                if (!(read_all(pool, live) == reference)) mismatches[static_cast<std::size_t>(t)]++;
        });
    for (std::thread& th : threads) th.join();
    for (const auto& m : mismatches) CHECK(m.load() == 0);
}

TEST_CASE("one scheduling thread mutates; between its steps, reader threads emit tables") {
    std::vector<request_id> live;
    hybrid_pool<> pool = busy_pool(live);
    std::mt19937_64 rng(2);
    constexpr int rounds = 150;
    // Each round: the scheduler mutates, then opens the barrier; readers emit while the scheduler
    // also reads; everyone meets at the barrier again before the next mutation.
    std::barrier sync(readers + 1);
    std::vector<std::vector<tables>> seen(readers, std::vector<tables>(rounds));
    std::vector<std::thread> threads;
    for (int t = 0; t < readers; ++t)
        threads.emplace_back([&, t] {
            for (int round = 0; round < rounds; ++round) {
                sync.arrive_and_wait();  // the scheduler's mutation happens-before this
                seen[static_cast<std::size_t>(t)][static_cast<std::size_t>(round)] = read_all(pool, live);
                sync.arrive_and_wait();  // done reading: the scheduler may mutate again
            }
        });
    std::vector<tables> expected(rounds);
    for (int round = 0; round < rounds; ++round) {
        REQUIRE((round % 2 == 1 ? verify(pool, live, rng) : schedule(pool, live, rng)));
        sync.arrive_and_wait();
        expected[static_cast<std::size_t>(round)] = read_all(pool, live);
        sync.arrive_and_wait();
    }
    for (std::thread& th : threads) th.join();
    int mismatches = 0, changed = 0;
    for (int round = 0; round < rounds; ++round) {
        const auto r = static_cast<std::size_t>(round);
        CHECK(expected[r].invariants);
        for (int t = 0; t < readers; ++t) mismatches += !(seen[static_cast<std::size_t>(t)][r] == expected[r]);
        changed += round > 0 && expected[r].digest != expected[r - 1].digest;
    }
    CHECK(mismatches == 0);
    CHECK(changed >= rounds / 2);  // the readers really saw a pool that kept changing
}

TEST_CASE("separate pools on separate threads share no state") {
    // Each thread runs the same seeded history on its own pool; any hidden shared mutable state
    // (a static cache, a global counter) would be a race under TSan or a digest that differs.
    auto history = [](std::uint64_t seed) {
        std::vector<request_id> live;
        auto pool = hybrid_pool<>::create(pool_size{120}, pool_size{40}, 4, 16).value();
        std::mt19937_64 rng(seed);
        bool ok = true;
        for (int step = 0; step < 400 && ok; ++step) ok = schedule(pool, live, rng) && verify(pool, live, rng);
        return ok ? state_digest(pool) : 0;
    };
    const std::uint64_t alone = history(9);
    std::array<std::uint64_t, readers> digests{};
    std::vector<std::thread> threads;
    for (int t = 0; t < readers; ++t)
        threads.emplace_back([&, t] { digests[static_cast<std::size_t>(t)] = history(9); });
    for (std::thread& th : threads) th.join();
    CHECK(alone != 0);
    for (std::uint64_t d : digests) CHECK(d == alone);
    CHECK(alone != history(10));
}
