// swa_pool: window release follows the committed length, eagerly, and nulls the released entries.
#include <doctest/doctest.h>

#include "pool_helpers.hpp"

using namespace pagedkv;
using test::page_values;
using V = std::vector<std::int32_t>;

namespace {
swa_pool<lowest_index_first> make(std::int64_t window) {
    return swa_pool<lowest_index_first>::create(pool_size{17}, 4, window).value();
}
}  // namespace

TEST_CASE("swa_pool::create rejects a window below one token") {
    CHECK(swa_pool<>::create(pool_size{17}, 4, 0).code() == errc::invalid_window);
    CHECK(swa_pool<>::create(pool_size{17}, 4, -1).code() == errc::invalid_window);
    CHECK(swa_pool<>::create(pool_size{17}, 0, 8).code() == errc::invalid_page_size);
    CHECK(swa_pool<>::create(pool_size{17}, 4, 1).ok());
}

TEST_CASE("dead_pages follows the window rule [p - W + 1, p] for the next query p = L") {
    // L = 10, W = 6: the next query sees keys [5, 10], so page 0 (tokens 0..3) is dead, page 1 is not.
    CHECK(dead_pages(10, 6, 4) == 1);
    CHECK(dead_pages(9, 6, 4) == 1);
    CHECK(dead_pages(8, 6, 4) == 0);     // keys [3, 8]: token 3 lives in page 0
    CHECK(dead_pages(9, 2, 4) == 2);     // window smaller than a page
    CHECK(dead_pages(7, 4, 4) == 1);     // window equal to a page
    CHECK(dead_pages(10, 100, 4) == 0);  // window longer than the context
    CHECK(dead_pages(0, 1, 4) == 0);
    CHECK(dead_pages(4, 1, 4) == 1);  // W = 1: only the query's own key
}

TEST_CASE("commit releases the pages that left the window and nulls their entries") {
    auto pool = make(6);
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 10).ok());
    CHECK(page_values(pool, r) == V{1, 2, 3});
    CHECK(pool.first_live_page(r) == 0);  // nothing committed yet: nothing released
    REQUIRE(pool.commit(r, 10).ok());
    CHECK(page_values(pool, r) == V{0, 2, 3});
    CHECK(pool.first_live_page(r) == 1);
    CHECK(pool.pages_held(r) == 2);
    CHECK(pool.free_pages() == 14);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("window release uses the committed length, never the speculative one") {
    auto pool = make(6);
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 10).ok());
    REQUIRE(pool.commit(r, 10).ok());
    REQUIRE(pool.extend(r, 4).ok());               // 1 + 3 drafts: length 14
    CHECK(page_values(pool, r) == V{0, 2, 3, 1});  // page 1 was freed by the window, reused here
    CHECK(pool.first_live_page(r) == 1);           // a length-14 window would already drop page 1
    REQUIRE(pool.commit(r, 1).ok());               // one accepted: committed 11, drafts dropped
    CHECK(pool.length_tokens(r) == 11);
    CHECK(page_values(pool, r) == V{0, 2, 3});
    CHECK(pool.first_live_page(r) == 1);  // keys [6, 11]: page 1 (tokens 4..7) still visible
    REQUIRE(pool.extend(r, 3).ok());
    REQUIRE(pool.commit(r, 3).ok());  // committed 14: keys [9, 14] -> pages 0 and 1 dead
    CHECK(page_values(pool, r) == V{0, 0, 3, 1});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a window smaller than a page keeps at most two pages live") {
    auto pool = make(2);
    const request_id r = pool.add_request().value();
    for (int t = 0; t < 40; ++t) {
        REQUIRE(pool.extend(r, 1).ok());
        REQUIRE(pool.commit(r, 1).ok());
        CHECK(pool.pages_held(r) <= 2);
        CHECK(pool.check_invariants().ok());
    }
    CHECK(pool.first_live_page(r) == dead_pages(40, 2, 4));
    CHECK(pool.pages_held(r) == 1);  // L = 40: keys [39, 40] both in page 9
}

TEST_CASE("a window longer than the context releases nothing") {
    auto pool = make(100);
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 60).ok());
    REQUIRE(pool.commit(r, 60).ok());
    CHECK(pool.first_live_page(r) == 0);
    CHECK(pool.pages_held(r) == 15);
}

TEST_CASE("truncate cannot roll back into pages the window already released") {
    auto pool = make(6);
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 10).ok());
    REQUIRE(pool.commit(r, 10).ok());
    CHECK(pool.truncate(r, 5).code() == errc::window_already_released);  // L = 5 would need page 0
    CHECK(page_values(pool, r) == V{0, 2, 3});
    CHECK(pool.committed_tokens(r) == 10);
    REQUIRE(pool.truncate(r, 9).ok());  // L = 9 still has page 0 dead
    CHECK(page_values(pool, r) == V{0, 2, 3});
    CHECK(pool.committed_tokens(r) == 9);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("freeing a window-released request frees only the pages it still holds") {
    auto pool = make(6);
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 16).ok());
    REQUIRE(pool.commit(r, 16).ok());  // keys [11, 16]: pages 0, 1 released
    CHECK(pool.pages_held(r) == 2);
    REQUIRE(pool.free_request(r).ok());
    CHECK(pool.free_pages() == 16);  // every page exactly once: no double free of released pages
    CHECK(pool.check_invariants().ok());
}
