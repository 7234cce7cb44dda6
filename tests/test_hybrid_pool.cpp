// hybrid_pool: both pools and full_to_swa change together, in the same call, or not at all.
#include <doctest/doctest.h>

#include <type_traits>

#include "pool_helpers.hpp"

using namespace pagedkv;
using test::map_values;
using test::page_values;
using V = std::vector<std::int32_t>;
using compact_hybrid = hybrid_pool<full_pool<lowest_index_first>, swa_pool<lowest_index_first>>;

TEST_CASE("hybrid_pool::create validates both pools") {
    CHECK(hybrid_pool<>::create(pool_size{16}, pool_size{8}, 4, 0).code() == errc::invalid_window);
    CHECK(hybrid_pool<>::create(pool_size{16}, pool_size{1}, 4, 8).code() == errc::invalid_pool_size);
    CHECK(hybrid_pool<>::create(pool_size{1}, pool_size{8}, 4, 8).code() == errc::invalid_pool_size);
    CHECK(hybrid_pool<>::create(pool_size{16}, pool_size{8}, 0, 8).code() == errc::invalid_page_size);
}

TEST_CASE("full_to_swa maps each full page to the SWA page holding the same tokens") {
    auto h = compact_hybrid::create(pool_size{17}, pool_size{9}, 4, 6).value();
    const request_id a = h.add_request().value();
    const request_id b = h.add_request().value();
    REQUIRE(h.extend(b, 4).ok());   // b: full {1}, SWA {1}
    REQUIRE(h.extend(a, 10).ok());  // a: full {2, 3, 4}, SWA {2, 3, 4}
    CHECK(page_values(h.full(), a) == V{2, 3, 4});
    CHECK(map_values(h, a) == V{2, 3, 4});
    REQUIRE(h.commit(a, 10).ok());  // a's page 0 leaves the window in the SWA pool only
    CHECK(page_values(h.full(), a) == V{2, 3, 4});
    CHECK(page_values(h.swa(), a) == V{0, 3, 4});
    CHECK(map_values(h, a) == V{0, 3, 4});
    CHECK(h.full_to_swa()[1] == page_id{1});  // b untouched
    CHECK(h.full_to_swa()[5] == null_page);   // free full pages map to the null page
    CHECK(h.check_invariants().ok());
}

TEST_CASE("an extend takes pages from neither pool unless both can satisfy it") {
    auto h = compact_hybrid::create(pool_size{17}, pool_size{3}, 4, 64).value();
    const request_id r = h.add_request().value();
    CHECK(h.extend(r, 9).code() == errc::out_of_swa_pages);  // 3 pages; the SWA pool has 2
    CHECK(h.full().free_pages() == 16);
    CHECK(h.swa().free_pages() == 2);
    CHECK(h.full().length_tokens(r) == 0);
    REQUIRE(h.extend(r, 8).ok());
    CHECK(h.check_invariants().ok());

    auto g = compact_hybrid::create(pool_size{3}, pool_size{17}, 4, 64).value();
    const request_id s = g.add_request().value();
    CHECK(g.extend(s, 9).code() == errc::out_of_full_pages);
    CHECK(g.swa().free_pages() == 16);
    CHECK(g.check_invariants().ok());
}

TEST_CASE("commit after a speculative reservation clears the dropped drafts' mapping entries") {
    auto h = compact_hybrid::create(pool_size{17}, pool_size{9}, 4, 6).value();
    const request_id r = h.add_request().value();
    REQUIRE(h.extend(r, 7).ok());
    REQUIRE(h.commit(r, 7).ok());
    REQUIRE(h.extend(r, 4).ok());  // 1 + 3 drafts -> 11 tokens, 3 pages
    const page_id draft_page = h.full().pages(r)[2];
    CHECK(h.full_to_swa()[static_cast<std::size_t>(draft_page.value)] != null_page);
    REQUIRE(h.commit(r, 1).ok());  // committed 8: page 2 held only drafts
    CHECK(h.full().pages(r).size() == 2);
    CHECK(h.full_to_swa()[static_cast<std::size_t>(draft_page.value)] == null_page);
    CHECK(h.commit(r, 1).code() == errc::commit_exceeds_reserved);
    CHECK(h.check_invariants().ok());
}

TEST_CASE("truncate and free clear exactly the entries they drop") {
    auto h = compact_hybrid::create(pool_size{17}, pool_size{9}, 4, 6).value();
    const request_id r = h.add_request().value();
    REQUIRE(h.extend(r, 10).ok());
    REQUIRE(h.commit(r, 10).ok());  // SWA page 0 released
    REQUIRE(h.extend(r, 6).ok());   // 16 tokens, 4 pages
    const page_id tail = h.full().pages(r)[3];
    CHECK(h.truncate(r, 4).code() == errc::window_already_released);
    CHECK(map_values(h, r) == V{0, 2, 3, 1});  // SWA page 1, released, is reused
    REQUIRE(h.truncate(r, 12).ok());
    CHECK(map_values(h, r) == V{0, 2, 3});
    CHECK(h.full_to_swa()[static_cast<std::size_t>(tail.value)] == null_page);
    const V full_pages = page_values(h.full(), r);
    REQUIRE(h.free_request(r).ok());
    for (std::int32_t f : full_pages) CHECK(h.full_to_swa()[static_cast<std::size_t>(f)] == null_page);
    CHECK(h.full().free_pages() == 16);
    CHECK(h.swa().free_pages() == 8);
    CHECK(h.free_request(r).code() == errc::unknown_request);
    CHECK(h.check_invariants().ok());
}

TEST_CASE("swa_slot translates a full KV slot to the SWA slot of the same token") {
    auto h = compact_hybrid::create(pool_size{17}, pool_size{9}, 4, 6).value();
    const request_id a = h.add_request().value();
    REQUIRE(h.extend(a, 4).ok());  // occupy full page 1 / SWA page 1 so the pools diverge
    const request_id r = h.add_request().value();
    REQUIRE(h.extend(h.add_request().value(), 8).ok());  // full 2,3 / SWA 2,3
    REQUIRE(h.extend(r, 10).ok());                       // full 4,5,6 / SWA 4,5,6
    REQUIRE(h.free_request(a).ok());
    REQUIRE(h.commit(r, 10).ok());
    const std::int64_t p = 4;
    for (std::int64_t t = 4; t < 10; ++t) {
        const std::int64_t full_slot = h.full().pages(r)[static_cast<std::size_t>(t / p)].value * p + t % p;
        const std::int64_t swa_slot = h.swa().pages(r)[static_cast<std::size_t>(t / p)].value * p + t % p;
        CHECK(h.swa_slot(full_slot) == swa_slot);
    }
    const std::int64_t released = h.full().pages(r)[0].value * p + 1;  // token 1: out of the window
    CHECK(h.swa_slot(released) == 1);                                  // null page, offset 1
}

// The typed views: a table emitted through hybrid.swa() is an SWA table by type.
static_assert(compact_hybrid::full_pool_type::kind == attention_kind::full);
static_assert(std::remove_cvref_t<decltype(std::declval<compact_hybrid>().swa())>::kind == attention_kind::sliding);
static_assert(!std::is_convertible_v<const compact_hybrid::swa_pool_type&, const compact_hybrid::full_pool_type&>);
