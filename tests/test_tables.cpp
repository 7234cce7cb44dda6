// Table emission: dense, CSR and slot mapping, exact values; a failing emission writes nothing.
#include <doctest/doctest.h>

#include <algorithm>

#include "pool_helpers.hpp"

using namespace pagedkv;
using V = std::vector<std::int32_t>;

namespace {
struct two_requests {
    full_pool<lowest_index_first> pool = full_pool<lowest_index_first>::create(pool_size{16}, 4).value();
    request_id a = pool.add_request().value();
    request_id b = pool.add_request().value();
    two_requests() {
        (void)pool.extend(a, 6);  // pages 1, 2
        (void)pool.extend(b, 9);  // pages 3, 4, 5
        (void)pool.commit(a, 5);  // a: committed 5, length 5 -> page 2 keeps token 4
        (void)pool.extend(a, 2);  // a: tokens 5, 6 in flight
        (void)pool.commit(b, 8);  // b: committed 8, page 5 dropped
        (void)pool.extend(b, 1);  // b: token 8 in flight -> page 5 again (lowest free)
    }
};
}  // namespace

TEST_CASE("dense table rows list each request's pages, padded with the null page") {
    two_requests t;
    const request_id batch[] = {t.b, t.a};
    V out(2 * 4, -1);
    REQUIRE(emit_dense_table(t.pool, batch, out, 4).ok());
    CHECK(out == V{3, 4, 5, 0, 1, 2, 0, 0});
}

TEST_CASE("CSR lists the pages back to back with each row's last-page length") {
    two_requests t;
    const request_id batch[] = {t.a, t.b};
    V indptr(3, -1), indices(8, -1), last(2, -1);
    auto nnz = emit_csr_table(t.pool, batch, {indptr, indices, last});
    REQUIRE(nnz.ok());
    CHECK(nnz.value() == 5);
    CHECK(indptr == V{0, 2, 5});
    CHECK(V(indices.begin(), indices.begin() + 5) == V{1, 2, 3, 4, 5});
    CHECK(last == V{3, 1});  // a: 7 tokens = 4 + 3; b: 9 tokens = 4 + 4 + 1
}

TEST_CASE("slot mapping covers exactly the tokens in flight") {
    two_requests t;
    const request_id batch[] = {t.a, t.b};
    std::vector<std::int64_t> slots(4, -1);
    auto n = emit_slot_mapping(t.pool, batch, slots);
    REQUIRE(n.ok());
    CHECK(n.value() == 3);
    // a: tokens 5, 6 -> page 2 offsets 1, 2; b: token 8 -> page 5 offset 0.
    CHECK(slots == std::vector<std::int64_t>{2 * 4 + 1, 2 * 4 + 2, 5 * 4 + 0, -1});
}

TEST_CASE("a failing emission returns its error and writes nothing") {
    two_requests t;
    const request_id batch[] = {t.a, t.b};
    V dense(8, -7);
    CHECK(emit_dense_table(t.pool, batch, std::span(dense).first(7), 4).code() == errc::buffer_too_small);
    CHECK(emit_dense_table(t.pool, batch, dense, 2).code() == errc::row_too_short);  // b has 3 pages
    const request_id with_ghost[] = {t.a, request_id{9, 0}};
    CHECK(emit_dense_table(t.pool, with_ghost, dense, 4).code() == errc::unknown_request);
    CHECK(std::all_of(dense.begin(), dense.end(), [](int v) { return v == -7; }));

    V indptr(3, -7), indices(4, -7), last(2, -7);
    CHECK(emit_csr_table(t.pool, batch, {indptr, indices, last}).code() == errc::buffer_too_small);  // nnz 5
    CHECK(emit_csr_table(t.pool, batch, {std::span(indptr).first(2), indices, last}).code() == errc::buffer_too_small);
    CHECK(emit_csr_table(t.pool, with_ghost, {indptr, indices, last}).code() == errc::unknown_request);
    for (const V* v : {&indptr, &indices, &last})
        CHECK(std::all_of(v->begin(), v->end(), [](int x) { return x == -7; }));

    std::vector<std::int64_t> slots(2, -7);
    CHECK(emit_slot_mapping(t.pool, batch, slots).code() == errc::buffer_too_small);
    CHECK(slots == std::vector<std::int64_t>{-7, -7});
}

TEST_CASE("an empty batch and an empty request emit empty rows") {
    auto pool = full_pool<>::create(pool_size{4}, 16).value();
    const request_id r = pool.add_request().value();
    V dense(3, -1);
    const request_id batch[] = {r};
    REQUIRE(emit_dense_table(pool, batch, dense, 3).ok());
    CHECK(dense == V{0, 0, 0});
    V indptr(2, -1), indices(1, -1), last(1, -1);
    CHECK(emit_csr_table(pool, batch, {indptr, indices, last}).value() == 0);
    CHECK(indptr == V{0, 0});
    CHECK(last == V{0});
    CHECK(emit_csr_table(pool, std::span<const request_id>{}, {indptr, indices, last}).value() == 0);
}

TEST_CASE("SWA tables: dense rows keep the released prefix as null, CSR rows trim it") {
    auto pool = swa_pool<lowest_index_first>::create(pool_size{17}, 4, 6).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 10).ok());
    REQUIRE(pool.commit(r, 10).ok());  // page 0 released
    REQUIRE(pool.extend(r, 3).ok());   // tokens 10, 11, 12 in flight: page index 3 is new
    const request_id batch[] = {r};
    V dense(5, -1);
    REQUIRE(emit_dense_table(pool, batch, dense, 5).ok());
    CHECK(dense == V{0, 2, 3, 1, 0});  // column i is always token page i
    V indptr(2), indices(4, -1), last(1);
    CHECK(emit_csr_table(pool, batch, {indptr, indices, last}).value() == 3);
    CHECK(V(indices.begin(), indices.begin() + 3) == V{2, 3, 1});
    CHECK(last == V{1});  // 13 tokens: the kernel's kv length is (3 - 1) * 4 + 1 = 9 = 13 - 1 * 4
    std::vector<std::int64_t> slots(3);
    CHECK(emit_slot_mapping(pool, batch, slots).value() == 3);
    CHECK(slots == std::vector<std::int64_t>{3 * 4 + 2, 3 * 4 + 3, 1 * 4 + 0});
}

TEST_CASE("an SWA CSR row whose every page the window released is empty, with last_page_len 0") {
    auto pool = swa_pool<>::create(pool_size{8}, 4, 1).value();  // W = 1: only the query's own key
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 8).ok());
    REQUIRE(pool.commit(r, 8).ok());  // next query at 8 sees key 8 only: pages 0 and 1 are dead
    CHECK(pool.pages_held(r) == 0);
    const request_id batch[] = {r};
    V indptr(2, -1), indices(2, -1), last(1, -1);
    CHECK(emit_csr_table(pool, batch, {indptr, indices, last}).value() == 0);
    CHECK(indptr == V{0, 0});
    CHECK(last == V{0});
}
