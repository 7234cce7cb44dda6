// Capacity planner: per-request demand, the budget split, and that a planned hybrid pool really
// holds the planned concurrency at its peak (and not one request more).
#include <doctest/doctest.h>

#include <cstdint>
#include <random>

#include "pagedkv/plan/capacity_planner.hpp"
#include "pagedkv/pool/hybrid_pool.hpp"

using namespace pagedkv;

namespace {

// Gemma-3-27B's KV shape (examples/presets/gemma-3-27b.preset): 10 full + 52 sliding layers,
// 16 KV heads of dim 128, bf16, window 1024.
constexpr model_config gemma3_27b{10, 52, 1024, {16, 128}, {16, 128}, 2};

// A small model whose numbers are easy to follow by hand: 1 full + 3 sliding layers, 1 KV head of
// dim 8, 2-byte elements: 32 bytes per token in the full pool, 96 in the SWA pool.
constexpr model_config tiny{1, 3, 8, {1, 8}, {1, 8}, 2};
// 40-token prompts, 12 output tokens, 2 drafts per step, 16 prefill tokens per step.
constexpr workload_shape tiny_work{40, 12, 5, 2, 16};

}  // namespace

TEST_CASE("bytes per token count K and V of every layer that owns a cache") {
    CHECK(gemma3_27b.full_bytes_per_token() == 2 * 10 * 16 * 128 * 2);
    CHECK(gemma3_27b.full_bytes_per_token() == 81920);
    CHECK(gemma3_27b.sliding_bytes_per_token() == 425984);
    CHECK(gemma3_27b.all_layers_bytes_per_token() == 507904);
    constexpr model_config mixed{4, 20, 512, {2, 512}, {2, 256}, 2};  // geometry differs per kind
    CHECK(mixed.full_bytes_per_token() == 16384);
    CHECK(mixed.sliding_bytes_per_token() == 40960);
}

TEST_CASE("worst_case_pages is the most pages n consecutive tokens can touch") {
    CHECK(worst_case_pages(0, 16) == 0);
    CHECK(worst_case_pages(1, 16) == 1);
    CHECK(worst_case_pages(2, 16) == 2);
    CHECK(worst_case_pages(16, 16) == 2);
    CHECK(worst_case_pages(17, 16) == 2);
    CHECK(worst_case_pages(18, 16) == 3);
    CHECK(worst_case_pages(1027, 16) == 66);
    CHECK(worst_case_pages(5, 1) == 5);
    for (std::int32_t p = 1; p <= 9; ++p) {
        for (std::int64_t n = 1; n <= 40; ++n) {
            std::int64_t most = 0;
            for (std::int64_t first = 0; first < 2 * p; ++first)
                most = std::max(most, (first + n - 1) / p - first / p + 1);
            CHECK(most == worst_case_pages(n, p));
        }
    }
}

TEST_CASE("demand of the default summarization workload on Gemma-3-27B, P = 16") {
    const workload_shape w{8192, 1024, 64, 3, 2048};
    const auto d = demand_of(gemma3_27b, w, 16);
    REQUIRE(d.ok());
    CHECK(d.value().peak_tokens == 8192 + 1023 + 3);
    CHECK(d.value().full_pages == 577);
    CHECK(d.value().swa_pages == 66);  // 1024 + 3 tokens at worst alignment
    CHECK(d.value().prefill_requests_per_step == 2);
    CHECK(d.value().swa_prefill_pages(64) == 2048 / 16 + 2);
    CHECK(d.value().swa_prefill_pages(1) == 2048 / 16 + 1);
    CHECK(d.value().swa_prefill_pages(0) == 0);
}

TEST_CASE("a window longer than the request makes the SWA demand equal the full demand") {
    const auto d = demand_of(gemma3_27b, workload_shape{100, 20, 1, 3, 64}, 16);
    REQUIRE(d.ok());
    CHECK(d.value().full_pages == 8);  // 100 + 19 + 3 = 122 tokens
    CHECK(d.value().swa_pages == 8);
    CHECK(d.value().swa_prefill_pages(4) == 0);
}

TEST_CASE("the plan fits the most requests and stays within the budget") {
    const auto d = demand_of(tiny, tiny_work, 4).value();
    REQUIRE(d.full_pages == 14);  // peak 40 + 11 + 2 = 53 tokens
    REQUIRE(d.swa_pages == 4);    // 8 + 2 tokens at worst alignment
    REQUIRE(d.swa_prefill_pages(5) == 4 + 2);
    CHECK(hybrid_bytes_for(d, tiny, 5) == 71 * 128 + 27 * 384);

    SUBCASE("a budget of exactly five requests") {
        const auto plan = plan_capacity(19456, tiny, tiny_work, 4);
        REQUIRE(plan.ok());
        CHECK(plan.value().concurrency == 5);
        CHECK(plan.value().full_pages == pool_size{71});
        CHECK(plan.value().swa_pages == pool_size{27});
        CHECK(plan.value().bytes == 19456);
        CHECK(plan.value().full_page_bytes == 128);
        CHECK(plan.value().swa_page_bytes == 384);
        CHECK(plan.value().full_only_page_bytes == 512);
        CHECK(plan.value().full_only_pages == pool_size{38});
        CHECK(plan.value().full_only_concurrency == 2);  // 37 usable pages / 14
    }
    SUBCASE("one byte less: four requests, the rest shared in the ratio of a request's bytes") {
        const auto plan = plan_capacity(19455, tiny, tiny_work, 4);
        REQUIRE(plan.ok());
        CHECK(plan.value().concurrency == 4);
        // 3327 bytes left; the full pool's share is 3327 * 1792 / 3328 -> 13 pages of 128 bytes,
        // and the SWA pool takes what remains: (19455 - 70 * 128 - 23 * 384) / 384 -> 4 pages.
        CHECK(plan.value().full_pages == pool_size{57 + 13});
        CHECK(plan.value().swa_pages == pool_size{23 + 4});
        CHECK(plan.value().bytes == 70 * 128 + 27 * 384);
    }
}

TEST_CASE("a model without sliding layers gets an SWA pool that costs nothing") {
    constexpr model_config dense{4, 0, 8, {1, 8}, {1, 8}, 2};
    const auto plan = plan_capacity(100'000, dense, tiny_work, 4);
    REQUIRE(plan.ok());
    const std::int64_t page = 4 * 2 * 4 * 8 * 2;
    CHECK(plan.value().swa_page_bytes == 0);
    CHECK(plan.value().concurrency == (100'000 / page - 1) / 14);
    CHECK(plan.value().concurrency == plan.value().full_only_concurrency);
    CHECK(plan.value().swa_pages.pages == plan.value().demand.swa_pool_pages(plan.value().concurrency));
    CHECK(plan.value().full_pages.pages == 100'000 / page);
}

TEST_CASE("planning errors name the problem") {
    CHECK(plan_capacity(1 << 30, tiny, tiny_work, 0).code() == errc::invalid_page_size);
    model_config no_window = tiny;
    no_window.window_tokens = 0;
    CHECK(plan_capacity(1 << 30, no_window, tiny_work, 4).code() == errc::invalid_window);
    workload_shape negative = tiny_work;
    negative.draft_tokens = -1;
    CHECK(plan_capacity(1 << 30, tiny, negative, 4).code() == errc::negative_length);
    model_config negative_heads = tiny;
    negative_heads.sliding.kv_heads = -2;
    CHECK(plan_capacity(1 << 30, negative_heads, tiny_work, 4).code() == errc::negative_length);
    CHECK(plan_capacity(hybrid_bytes_for(demand_of(tiny, tiny_work, 4).value(), tiny, 1) - 1, tiny, tiny_work, 4)
              .code() == errc::invalid_pool_size);
    constexpr model_config no_bytes{0, 0, 8, {1, 8}, {1, 8}, 2};
    CHECK(plan_capacity(1 << 30, no_bytes, tiny_work, 4).code() == errc::invalid_pool_size);
    CHECK(plan_capacity(1 << 30, tiny, workload_shape{0, 1, 1, 0, 0}, 4).code() == errc::invalid_pool_size);
    CHECK(plan_capacity(1 << 30, gemma3_27b, tiny_work, INT32_MAX).code() == errc::length_overflow);
}

TEST_CASE("randomized plans: the chosen concurrency is the largest that fits") {
    std::mt19937_64 rng(20261124);
    const auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return lo + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(hi - lo + 1));
    };
    for (int i = 0; i < 300; ++i) {
        const model_config m{static_cast<std::int32_t>(pick(0, 12)),
                             static_cast<std::int32_t>(pick(0, 60)),
                             pick(1, 5000),
                             {static_cast<std::int32_t>(pick(1, 16)), static_cast<std::int32_t>(pick(1, 256))},
                             {static_cast<std::int32_t>(pick(1, 16)), static_cast<std::int32_t>(pick(1, 256))},
                             static_cast<std::int32_t>(pick(1, 4))};
        const workload_shape w{pick(0, 20000), pick(1, 4000), 64, static_cast<std::int32_t>(pick(0, 7)), pick(0, 8192)};
        const auto p = static_cast<std::int32_t>(pick(1, 64));
        const std::int64_t budget = pick(1, std::int64_t{1} << 40);
        const auto plan = plan_capacity(budget, m, w, p);
        if (!plan) {
            CHECK((plan.code() == errc::invalid_pool_size || plan.code() == errc::length_overflow));
            continue;
        }
        const capacity_plan& c = plan.value();
        const std::int64_t n = c.concurrency;
        CHECK(n >= 1);
        CHECK(c.bytes <= budget);
        CHECK(c.bytes == std::int64_t{c.full_pages.pages} * c.full_page_bytes +
                             std::int64_t{c.swa_pages.pages} * c.swa_page_bytes);
        CHECK(c.full_pages.pages >= c.demand.full_pool_pages(n));
        CHECK(c.swa_pages.pages >= c.demand.swa_pool_pages(n));
        CHECK(hybrid_bytes_for(c.demand, m, n) <= budget);
        const bool page_limit =
            c.demand.full_pool_pages(n + 1) > INT32_MAX || c.demand.swa_pool_pages(n + 1) > INT32_MAX;
        CHECK((page_limit || hybrid_bytes_for(c.demand, m, n + 1) > budget));
        CHECK(std::int64_t{c.full_only_pages.pages} * c.full_only_page_bytes <= budget);
        CHECK(c.full_only_concurrency <= c.concurrency);  // one full pool can never beat the split
    }
}

TEST_CASE("a hybrid pool sized by the plan holds the planned requests at their peak, and no more") {
    const capacity_plan plan = plan_capacity(19456, tiny, tiny_work, 4).value();
    REQUIRE(plan.concurrency == 5);
    auto pool = hybrid_pool<>::create(plan.full_pages, plan.swa_pages, 4, tiny.window_tokens).value();
    // Each request in turn: prefill in chunks of 16, then one-token decode steps with 2 drafts
    // rejected, up to the last step's committed length 40 + 12 - 2 = 50; the others rest meanwhile.
    std::vector<request_id> ids;
    for (int i = 0; i < plan.concurrency; ++i) {
        const request_id r = pool.add_request().value();
        ids.push_back(r);
        for (std::int64_t done = 0; done < 40; done += 16) {
            const std::int64_t chunk = std::min<std::int64_t>(16, 40 - done);
            REQUIRE(pool.extend(r, chunk).ok());
            REQUIRE(pool.commit(r, chunk).ok());
        }
        while (pool.full().committed_tokens(r) < 50) {
            REQUIRE(pool.extend(r, 3).ok());
            REQUIRE(pool.commit(r, 1).ok());
        }
        REQUIRE(pool.check_invariants().ok());
    }
    // The last decode step of every request at once: 53 tokens each, the window [43, 53) straddling
    // four SWA pages (43 sits in the last slot of page 10).
    for (request_id r : ids) REQUIRE(pool.extend(r, 3).ok());
    CHECK(pool.check_invariants().ok());
    CHECK(pool.full().free_pages() == 0);  // the full pool is exactly tight
    CHECK(pool.swa().used_pages() == plan.concurrency * plan.demand.swa_pages);
    CHECK(pool.swa().free_pages() == plan.demand.swa_prefill_pages(plan.concurrency));  // left for prefill
    const request_id extra = pool.add_request().value();
    CHECK(pool.extend(extra, 1).code() == errc::out_of_full_pages);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("demand_of rejects counts past the table limit instead of overflowing") {
    const model_config m{1, 1, 4096, {8, 128}, {8, 128}, 2};
    workload_shape w{};
    w.prompt_tokens = INT64_MAX;
    CHECK(demand_of(m, w, 16).code() == errc::length_overflow);
    workload_shape w2{};
    w2.prompt_tokens = INT64_MAX - 1;
    w2.output_tokens = INT64_MAX;
    CHECK(demand_of(m, w2, 16).code() == errc::length_overflow);
    workload_shape w3{};
    w3.prompt_tokens = 1000;
    w3.output_tokens = INT64_MAX;
    CHECK(demand_of(m, w3, 16).code() == errc::length_overflow);
    w3.output_tokens = 100;
    CHECK(demand_of(m, w3, 16).ok());
}
