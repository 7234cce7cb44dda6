// Disaggregation, host side: coalescing page moves into runs both peers agree on.
#include <doctest/doctest.h>

#include <pagedkv/dist/kv_layout.hpp>
#include <pagedkv/dist/page_runs.hpp>

using namespace pagedkv;

namespace {
std::vector<page_id> ids(std::initializer_list<std::int32_t> v) {
    std::vector<page_id> out;
    for (std::int32_t x : v) out.push_back(page_id{x});
    return out;
}
}  // namespace

TEST_CASE("joint_runs splits where either side stops being consecutive") {
    const auto src = ids({5, 6, 7, 8, 20, 21, 3});
    const auto dst = ids({10, 11, 40, 41, 42, 43, 9});
    auto runs = joint_runs(src, dst);
    REQUIRE(runs.ok());
    CHECK(runs.value() == std::vector<page_run>{{5, 10, 2}, {7, 40, 2}, {20, 42, 2}, {3, 9, 1}});
}

TEST_CASE("joint_runs of identical consecutive lists is one run; of an empty move, none") {
    const auto a = ids({1, 2, 3, 4});
    CHECK(joint_runs(a, a).value() == std::vector<page_run>{{1, 1, 4}});
    CHECK(joint_runs(std::span<const page_id>{}, std::span<const page_id>{}).value().empty());
    CHECK(joint_runs(a, ids({1, 2})).code() == errc::buffer_too_small);
}

TEST_CASE("kv_layout::page_bytes is one page of one layer's K") {
    constexpr kv_layout gemma_swa{attention_kind::sliding, 52, 16, 16, 128, 2};
    static_assert(gemma_swa.page_bytes() == 16 * 16 * 128 * 2);
    CHECK(gemma_swa.page_bytes() == 65536);
}
