// Disaggregation, host side: coalescing page moves into runs both peers agree on.
#include <doctest/doctest.h>

#include <pagedkv/dist/kv_layout.hpp>
#include <pagedkv/dist/page_runs.hpp>
#include <pagedkv/dist/request_transfer.hpp>
#include <pagedkv/alloc/lowest_index_first.hpp>
#include <pagedkv/pool/hybrid_pool.hpp>

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
    CHECK(joint_runs(a, ids({1, 2})).code() == errc::length_mismatch);
}

TEST_CASE("kv_layout::page_bytes is one page of one layer's K") {
    constexpr kv_layout gemma_swa{attention_kind::sliding, 52, 16, 16, 128, 2};
    static_assert(gemma_swa.page_bytes() == 16 * 16 * 128 * 2);
    CHECK(gemma_swa.page_bytes() == 65536);
}

TEST_CASE("export then import: the decode side holds the request as if it had prefilled it") {
    auto src = hybrid_pool<>::create(pool_size{200}, pool_size{40}, 16, 100).value();
    auto dst = hybrid_pool<full_pool<lowest_index_first>, swa_pool<lowest_index_first>>::create(pool_size{300},
                                                                                                pool_size{50}, 16, 100)
                   .value();
    const request_id r = src.add_request().value();
    for (int chunk = 0; chunk < 5; ++chunk) {
        REQUIRE(src.extend(r, 200).ok());
        REQUIRE(src.commit(r, 200).ok());
    }
    auto ex = export_request(src, r);
    REQUIRE(ex.ok());
    CHECK(ex.value().length_tokens == 1000);
    CHECK(ex.value().full_pages.size() == 63);
    CHECK(ex.value().swa_first_live_page == dead_pages(1000, 100, 16));  // 56: keys [901, 1000]
    CHECK(ex.value().swa_pages.size() == 63 - 56);

    const request_id d = import_request(dst, ex.value()).value();
    CHECK(dst.full().length_tokens(d) == 1000);
    CHECK(dst.full().committed_tokens(d) == 1000);
    CHECK(dst.swa().first_live_page(d) == 56);
    CHECK(dst.full().used_pages() == 63);
    CHECK(dst.swa().used_pages() == 7);
    for (std::size_t i = 56; i < 63; ++i)
        CHECK(dst.full_to_swa()[static_cast<std::size_t>(dst.full().pages(d)[i].value)] == dst.swa().pages(d)[i]);
    REQUIRE(dst.check_invariants().ok());
    // It decodes on as a local request would.
    REQUIRE(dst.extend(d, 4).ok());
    REQUIRE(dst.commit(d, 2).ok());
    CHECK(dst.swa().first_live_page(d) == dead_pages(1002, 100, 16));
    REQUIRE(dst.check_invariants().ok());
}

TEST_CASE("import is all-or-nothing, and only committed, compatible requests move") {
    auto src = hybrid_pool<>::create(pool_size{200}, pool_size{40}, 16, 100).value();
    const request_id r = src.add_request().value();
    REQUIRE(src.extend(r, 500).ok());
    CHECK(export_request(src, r).code() == errc::uncommitted_tokens);  // its K/V is not computed yet
    REQUIRE(src.commit(r, 500).ok());
    CHECK(export_request(src, request_id{9, 0}).code() == errc::unknown_request);
    const request_export ex = export_request(src, r).value();

    auto small_swa = hybrid_pool<>::create(pool_size{300}, pool_size{5}, 16, 100).value();  // 4 SWA pages free; needs 8
    CHECK(import_request(small_swa, ex).code() == errc::out_of_swa_pages);
    CHECK(small_swa.full().used_pages() == 0);
    CHECK(small_swa.full().live_requests() == 0);
    auto small_full = hybrid_pool<>::create(pool_size{20}, pool_size{50}, 16, 100).value();
    CHECK(import_request(small_full, ex).code() == errc::out_of_full_pages);
    CHECK(small_full.swa().used_pages() == 0);
    auto other_page = hybrid_pool<>::create(pool_size{300}, pool_size{50}, 32, 100).value();
    CHECK(import_request(other_page, ex).code() == errc::page_size_mismatch);
    auto other_window = hybrid_pool<>::create(pool_size{300}, pool_size{50}, 16, 64).value();
    CHECK(import_request(other_window, ex).code() == errc::invalid_window);
}
