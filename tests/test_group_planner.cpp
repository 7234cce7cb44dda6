// The N-pool capacity planner: one group is the two-pool plan, a chunk keeps C tokens as a window
// keeps W, and planned pools really hold the planned concurrency at its peak.
#include <doctest/doctest.h>

#include <cstdint>

#include "pagedkv/plan/group_planner.hpp"
#include "pagedkv/pool/multi_hybrid_pool.hpp"

using namespace pagedkv;

namespace {

constexpr model_config gemma3_27b{10, 52, 1024, {16, 128}, {16, 128}, 2};
// 1 full layer + 3 layers of chunked local attention (C = 8), 1 KV head of dim 8, 2-byte elements:
// 32 bytes per token in the full pool, 96 in the chunked pool.
const grouped_model tiny_chunked{1, {1, 8}, {layer_group{chunked_local{8}, 3, {1, 8}}}, 2};
constexpr workload_shape tiny_work{40, 12, 5, 2, 16};

}  // namespace

TEST_CASE("group planner: one sliding group plans exactly what plan_capacity plans") {
    const grouped_model g{10, {16, 128}, {layer_group{sliding_window{1024}, 52, {16, 128}}}, 2};
    const workload_shape w{8192, 1024, 64, 3, 2048};
    for (std::int32_t page : {16, 32, 64})
        for (std::int64_t budget : {std::int64_t{40} << 30, std::int64_t{70} << 30, (std::int64_t{70} << 30) + 12345}) {
            const auto two = plan_capacity(budget, gemma3_27b, w, page).value();
            const auto n = plan_group_capacity(budget, g, w, page).value();
            CHECK(n.concurrency == two.concurrency);
            CHECK(n.full_pages == two.full_pages);
            REQUIRE(n.group_pages.size() == 1);
            CHECK(n.group_pages[0] == two.swa_pages);
            CHECK(n.bytes == two.bytes);
            CHECK(n.full_only_pages == two.full_only_pages);
            CHECK(n.full_only_concurrency == two.full_only_concurrency);
        }
}

TEST_CASE("group planner: a chunk of C keeps C + drafts tokens per request, at worst alignment") {
    const auto plan = plan_group_capacity(100'000, tiny_chunked, tiny_work, 4).value();
    CHECK(plan.full_demand.full_pages == 14);    // peak 40 + 11 + 2 = 53 tokens
    CHECK(plan.group_demand[0].swa_pages == 4);  // 8 + 2 tokens: worst_case_pages(10, 4)
    CHECK(plan.full_page_bytes == 4 * 32);
    CHECK(plan.group_page_bytes[0] == 4 * 96);
    // n requests: (1 + 14 n) * 128 + (1 + 4 n + 16 / 4 + min(n, 2)) * 384 bytes: 99,328 for n = 29,
    // 102,656 for n = 30.
    CHECK(plan.concurrency == 29);
    CHECK(plan.bytes <= 100'000);
    CHECK(plan.full_pages.pages >= 1 + 14 * 29);
    CHECK(plan.group_pages[0].pages >= 1 + 4 * 29 + 4 + 2);
    // All layers in one pool: 512 bytes a page, 195 pages, 13 requests of 14 pages.
    CHECK(plan.full_only_page_bytes == 512);
    CHECK(plan.full_only_concurrency == 13);
}

TEST_CASE("group planner: the planned pools hold the planned concurrency at its peak") {
    const auto plan = plan_group_capacity(100'000, tiny_chunked, tiny_work, 4).value();
    auto pool =
        multi_hybrid_pool<full_pool<>, chunked_pool<>>::create(plan.full_pages, 4, group_size{plan.group_pages[0], 8})
            .value();
    std::vector<request_id> ids;
    for (int i = 0; i < plan.concurrency; ++i) {
        ids.push_back(pool.add_request().value());
        for (std::int64_t done = 0; done < tiny_work.prompt_tokens; done += tiny_work.prefill_chunk_tokens) {
            const std::int64_t n = std::min(tiny_work.prefill_chunk_tokens, tiny_work.prompt_tokens - done);
            REQUIRE(pool.extend(ids.back(), n).ok());
            REQUIRE(pool.commit(ids.back(), n).ok());
        }
    }
    // Decode: every step reserves 1 + drafts and accepts only its own token (the longest reservations).
    const std::int64_t last_committed = tiny_work.prompt_tokens + tiny_work.output_tokens - 1;
    for (std::int64_t c = tiny_work.prompt_tokens; c < last_committed; ++c)
        for (request_id r : ids) {
            REQUIRE(pool.extend(r, 1 + tiny_work.draft_tokens).ok());
            REQUIRE(pool.commit(r, 1).ok());
        }
    CHECK(pool.full().length_tokens(ids[0]) == last_committed);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("group planner: Llama-4-Scout (12 full + 36 chunked layers of C = 8192) against one full pool") {
    // 48 layers, every fourth full; 8 KV heads of dim 128, bf16 (examples/presets/llama-4-scout.preset).
    const grouped_model scout{12, {8, 128}, {layer_group{chunked_local{8192}, 36, {8, 128}}}, 2};
    CHECK(scout.full_bytes_per_token() == 49152);
    CHECK(scout.group_bytes_per_token(0) == 147456);
    const workload_shape w{32768, 1024, 64, 3, 2048};
    const auto plan = plan_group_capacity(std::int64_t{80} << 30, scout, w, 16).value();
    CHECK(plan.full_demand.full_pages == 2113);    // 32768 + 1023 + 3 tokens
    CHECK(plan.group_demand[0].swa_pages == 514);  // worst_case_pages(8192 + 3, 16): a bound, see below
    CHECK(plan.bytes <= std::int64_t{80} << 30);
    CHECK(plan.concurrency > 2 * plan.full_only_concurrency);  // the chunked layers keep a quarter of the context
}

TEST_CASE("group planner: bad inputs") {
    const workload_shape w{40, 12, 5, 2, 16};
    grouped_model m = tiny_chunked;
    m.groups[0].rule = chunked_local{0};
    CHECK(plan_group_capacity(100'000, m, w, 4).code() == errc::invalid_chunk);
    m.groups[0].rule = sliding_window{0};
    CHECK(plan_group_capacity(100'000, m, w, 4).code() == errc::invalid_window);
    CHECK(plan_group_capacity(100'000, tiny_chunked, w, 0).code() == errc::invalid_page_size);
    m = tiny_chunked;
    m.groups[0].layers = -1;
    CHECK(plan_group_capacity(100'000, m, w, 4).code() == errc::negative_length);
    CHECK(plan_group_capacity(100, tiny_chunked, w, 4).code() == errc::invalid_pool_size);  // not one request
    CHECK(plan_group_capacity(100'000, tiny_chunked, w, 4).ok());                           // control
}
