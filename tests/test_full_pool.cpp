// full_pool: add, extend, commit, truncate, free; every failure returns its errc and changes nothing.
#include <doctest/doctest.h>

#include "pool_helpers.hpp"

using namespace pagedkv;
using test::page_values;

TEST_CASE("full_pool::create rejects invalid sizes") {
    CHECK(full_pool<>::create(pool_size{16}, 0).code() == errc::invalid_page_size);
    CHECK(full_pool<>::create(pool_size{16}, -4).code() == errc::invalid_page_size);
    CHECK(full_pool<>::create(pool_size{1}, 16).code() == errc::invalid_pool_size);
    CHECK(full_pool<>::create(pool_size{-5}, 16).code() == errc::invalid_pool_size);
    auto ok = full_pool<>::create(pool_size{2}, 1);
    REQUIRE(ok.ok());
    CHECK(ok.value().free_pages() == 1);  // the null page is never free
}

TEST_CASE_TEMPLATE("extend takes a page each time the length crosses a page boundary", A, lifo_free_stack,
                   lowest_index_first) {
    auto pool = full_pool<A>::create(pool_size{9}, 4).value();
    const request_id r = pool.add_request().value();
    CHECK(pool.pages(r).empty());
    REQUIRE(pool.extend(r, 5).ok());
    CHECK(page_values(pool, r) == std::vector<std::int32_t>{1, 2});
    CHECK(pool.length_tokens(r) == 5);
    CHECK(pool.committed_tokens(r) == 0);
    REQUIRE(pool.extend(r, 3).ok());  // 8 tokens: still two pages
    CHECK(pool.pages(r).size() == 2);
    REQUIRE(pool.extend(r, 1).ok());
    CHECK(page_values(pool, r) == std::vector<std::int32_t>{1, 2, 3});
    REQUIRE(pool.extend(r, 0).ok());
    CHECK(pool.used_pages() == 3);
    CHECK(pool.free_pages() == 5);
    CHECK(pool.pages_held(r) == 3);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE_TEMPLATE("commit keeps the accepted tokens and frees the pages of the rest", A, lifo_free_stack,
                   lowest_index_first) {
    auto pool = full_pool<A>::create(pool_size{9}, 4).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 6).ok());
    REQUIRE(pool.commit(r, 6).ok());
    REQUIRE(pool.extend(r, 4).ok());  // 1 decode token + 3 drafts: 10 tokens, 3 pages
    CHECK(pool.pages(r).size() == 3);
    REQUIRE(pool.commit(r, 2).ok());  // 8 tokens stay: page 3 is dropped
    CHECK(pool.length_tokens(r) == 8);
    CHECK(pool.committed_tokens(r) == 8);
    CHECK(page_values(pool, r) == std::vector<std::int32_t>{1, 2});
    CHECK(pool.free_pages() == 6);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a failing call returns its error and changes nothing") {
    auto pool = full_pool<lowest_index_first>::create(pool_size{9}, 4).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 10).ok());
    REQUIRE(pool.commit(r, 9).ok());
    const auto before = page_values(pool, r);
    auto unchanged = [&] {
        CHECK(page_values(pool, r) == before);
        CHECK(pool.length_tokens(r) == 9);
        CHECK(pool.committed_tokens(r) == 9);
        CHECK(pool.free_pages() == 5);
        CHECK(pool.check_invariants().ok());
    };
    CHECK(pool.extend(r, 4 * 5 + 4).code() == errc::out_of_full_pages);  // needs 6 pages, 5 free
    unchanged();
    CHECK(pool.extend(r, -1).code() == errc::negative_length);
    unchanged();
    CHECK(pool.extend(r, max_tokens_per_request(4)).code() == errc::length_overflow);
    unchanged();
    CHECK(pool.commit(r, 1).code() == errc::commit_exceeds_reserved);  // nothing in flight
    unchanged();
    CHECK(pool.commit(r, -1).code() == errc::negative_length);
    unchanged();
    CHECK(pool.truncate(r, 10).code() == errc::truncate_past_length);
    unchanged();
    CHECK(pool.truncate(r, -3).code() == errc::negative_length);
    unchanged();
    const request_id ghost{7, 0};
    CHECK(pool.extend(ghost, 1).code() == errc::unknown_request);
    CHECK(pool.commit(ghost, 0).code() == errc::unknown_request);
    CHECK(pool.truncate(ghost, 0).code() == errc::unknown_request);
    CHECK(pool.free_request(ghost).code() == errc::unknown_request);
    unchanged();
    CHECK(pool.extend(r, 4 * 5 + 3).ok());  // exactly the 5 free pages: succeeds
    CHECK(pool.free_pages() == 0);
}

TEST_CASE_TEMPLATE("truncate frees the pages past the new length", A, lifo_free_stack, lowest_index_first) {
    auto pool = full_pool<A>::create(pool_size{9}, 4).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 13).ok());
    REQUIRE(pool.commit(r, 13).ok());
    REQUIRE(pool.truncate(r, 9).ok());  // mid-page: page 3 keeps token 8
    CHECK(page_values(pool, r) == std::vector<std::int32_t>{1, 2, 3});
    CHECK(pool.committed_tokens(r) == 9);
    REQUIRE(pool.truncate(r, 8).ok());  // page boundary: page 3 is freed
    CHECK(page_values(pool, r) == std::vector<std::int32_t>{1, 2});
    CHECK(pool.free_pages() == 6);
    REQUIRE(pool.truncate(r, 0).ok());
    CHECK(pool.pages(r).empty());
    CHECK(pool.free_pages() == 8);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("truncate keeps the committed length at or below the new length") {
    auto pool = full_pool<>::create(pool_size{9}, 4).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 6).ok());
    REQUIRE(pool.commit(r, 5).ok());  // length 5, committed 5
    REQUIRE(pool.extend(r, 3).ok());  // length 8, committed 5
    REQUIRE(pool.truncate(r, 7).ok());
    CHECK(pool.length_tokens(r) == 7);
    CHECK(pool.committed_tokens(r) == 5);
    REQUIRE(pool.truncate(r, 3).ok());
    CHECK(pool.committed_tokens(r) == 3);
}

TEST_CASE("free_request returns every page and retires the id") {
    auto pool = full_pool<lowest_index_first>::create(pool_size{9}, 4).value();
    const request_id a = pool.add_request().value();
    const request_id b = pool.add_request().value();
    REQUIRE(pool.extend(a, 8).ok());
    REQUIRE(pool.extend(b, 4).ok());
    CHECK(page_values(pool, b) == std::vector<std::int32_t>{3});
    REQUIRE(pool.free_request(a).ok());
    CHECK(pool.free_pages() == 7);
    CHECK_FALSE(pool.contains(a));
    CHECK(pool.live_requests() == 1);
    CHECK(pool.free_request(a).code() == errc::unknown_request);  // double free
    const request_id c = pool.add_request().value();              // reuses a's slot with a new generation
    CHECK(c.slot == a.slot);
    CHECK(c.generation != a.generation);
    CHECK(pool.extend(a, 1).code() == errc::unknown_request);  // the stale id never reaches c
    REQUIRE(pool.extend(c, 5).ok());
    CHECK(page_values(pool, c) == std::vector<std::int32_t>{1, 2});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("pages_to_extend predicts extend exactly") {
    auto pool = full_pool<>::create(pool_size{5}, 16).value();
    const request_id r = pool.add_request().value();
    CHECK(pool.pages_to_extend(r, 0).value() == 0);
    CHECK(pool.pages_to_extend(r, 1).value() == 1);
    CHECK(pool.pages_to_extend(r, 17).value() == 2);
    CHECK(pool.pages_to_extend(r, 64).value() == 4);
    CHECK(pool.pages_to_extend(r, 65).code() == errc::out_of_full_pages);
    REQUIRE(pool.extend(r, 10).ok());
    CHECK(pool.pages_to_extend(r, 6).value() == 0);
    CHECK(pool.pages_to_extend(r, 7).value() == 1);
}
