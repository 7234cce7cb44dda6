// A randomized engine history shared by the host (Thrust CPP) and GPU device-table tests.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <span>
#include <vector>

#include <pagedkv/pool/hybrid_pool.hpp>

namespace pagedkv::test {

/// A randomized engine over a hybrid pool (fixed seed): add, prefill, decode with drafts, commit,
/// roll back, free; at most `max_live` requests at once.
template <class Hybrid>
struct random_engine {
    Hybrid hp;
    std::mt19937 rng;
    std::vector<request_id> live;
    std::int64_t max_tokens;
    std::size_t max_live;
    random_engine(Hybrid pool, unsigned seed, std::int64_t max_tok, std::size_t max_live_requests)
        : hp(std::move(pool)), rng(seed), max_tokens(max_tok), max_live(max_live_requests) {}
    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

    /// Picks a shuffled batch and gives each member its tokens in flight.
    std::vector<request_id> schedule(std::size_t max_batch) {
        if (live.size() < max_live && pick(3) == 0) {
            const request_id r = hp.add_request().value();
            live.push_back(r);
            if (pick(4) == 0) (void)hp.extend(r, 1 + pick(20));  // a request prefilled outside this batch
        }
        std::vector<request_id> batch;
        for (request_id r : live)
            if (batch.size() < max_batch && pick(4) != 0) batch.push_back(r);
        std::shuffle(batch.begin(), batch.end(), rng);
        std::erase_if(batch, [&](request_id r) {
            const std::int64_t in_flight = hp.full().length_tokens(r) - hp.full().committed_tokens(r);
            const std::int64_t want =
                in_flight > 0 ? 0 : (hp.full().length_tokens(r) == 0 ? 1 + pick(17) : 1 + pick(3));
            return hp.full().length_tokens(r) + want > max_tokens || !hp.extend(r, want).ok();
        });
        return batch;
    }
    /// After the forward pass: accept some tokens, sometimes roll back or finish a request.
    void finish(std::span<const request_id> batch) {
        for (request_id r : batch) {
            const std::int64_t in_flight = hp.full().length_tokens(r) - hp.full().committed_tokens(r);
            REQUIRE(hp.commit(r, in_flight == 0 ? 0 : 1 + pick(static_cast<int>(in_flight))).ok());
        }
        for (request_id r : live)
            if (pick(9) == 0) (void)hp.truncate(r, std::max<std::int64_t>(0, hp.full().length_tokens(r) - 1 - pick(6)));
        if (!live.empty() && pick(7) == 0) {
            const auto i = static_cast<std::size_t>(pick(static_cast<int>(live.size())));
            REQUIRE(hp.free_request(live[i]).ok());
            live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
        }
        REQUIRE(hp.check_invariants().ok());
    }
};

}  // namespace pagedkv::test
