// Attention rules (full, sliding window, chunked local) and the multi-group hybrid: every pool and
// every group mapping change together, in the same call, or not at all.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include <pagedkv/debug/state_digest.hpp>

#include "pool_helpers.hpp"

using namespace pagedkv;
using test::page_values;
using V = std::vector<std::int32_t>;

namespace {

using lif_full = full_pool<lowest_index_first>;
using lif_swa = swa_pool<lowest_index_first>;
using lif_chunked = chunked_pool<lowest_index_first>;
// P = 4: full layers, a window of 6 and chunks of 8.
using three_pools = multi_hybrid_pool<lif_full, lif_swa, lif_chunked>;

three_pools make_three(std::int32_t full_pages = 16, std::int32_t swa_pages = 8, std::int32_t chunked_pages = 8) {
    return three_pools::create(pool_size{full_pages}, 4, group_size{pool_size{swa_pages}, 6},
                               group_size{pool_size{chunked_pages}, 8})
        .value();
}

template <std::size_t K, class Pool>
V map_values(const Pool& h, request_id r) {
    V v;
    for (page_id f : h.full().pages(r))
        v.push_back(h.template full_to_group<K>()[static_cast<std::size_t>(f.value)].value);
    return v;
}

}  // namespace

// ---- the rules ----------------------------------------------------------------------------------

TEST_CASE("full attention: a query sees every earlier key, no page is ever dead, a hit needs every page") {
    constexpr full_attention rule{};
    static_assert(sees(rule, 1000, 0) && sees(rule, 5, 5) && !sees(rule, 5, 6));
    CHECK(dead_pages(rule, 0, 4) == 0);
    CHECK(dead_pages(rule, 1'000'000, 4) == 0);
    CHECK(hit_first_page(rule, 64, 4) == 0);
}

TEST_CASE("sliding window W: a query at p sees [p - W + 1, p]; the old dead_pages(L, W, P) is this rule") {
    constexpr sliding_window rule{6};
    static_assert(sees(rule, 10, 5) && !sees(rule, 10, 4) && sees(rule, 3, 0));
    CHECK(dead_pages(rule, 8, 4) == 0);       // next query at 8 sees [3, 8]: token 3 is in page 0
    CHECK(dead_pages(rule, 9, 4) == 1);       // [4, 9]
    CHECK(dead_pages(rule, 14, 4) == 2);      // [9, 14]
    CHECK(hit_first_page(rule, 12, 4) == 1);  // a hit of 12 needs pages 1 and 2 (tokens [7, 12))
    for (std::int64_t w = 1; w <= 20; ++w)
        for (std::int32_t p = 1; p <= 8; ++p)
            for (std::int64_t l = 0; l <= 100; ++l) {
                const std::int64_t first = l - w + 1;  // the formula page_math.hpp had before the rule owned it
                REQUIRE(dead_pages(l, w, p) == (first <= 0 ? 0 : first / p));
                REQUIRE(dead_pages(sliding_window{w}, l, p) == dead_pages(l, w, p));
            }
}

TEST_CASE("chunked local attention C: a query at p sees [floor(p / C) * C, p]") {
    constexpr chunked_local rule{8};
    static_assert(sees(rule, 9, 8) && !sees(rule, 9, 7) && sees(rule, 7, 0) && !sees(rule, 7, 8));
    CHECK(rule.first_visible_token(15) == 8);
    CHECK(rule.first_visible_token(16) == 16);
}

TEST_CASE("chunked local attention: pages wholly before floor(L / C) * C are dead") {
    constexpr chunked_local rule{8};
    CHECK(dead_pages(rule, 7, 4) == 0);
    CHECK(dead_pages(rule, 8, 4) == 2);  // the next query starts chunk 1: pages 0 and 1 are dead
    CHECK(dead_pages(rule, 15, 4) == 2);
    CHECK(dead_pages(rule, 16, 4) == 4);
    // C not a multiple of P: page 1 holds tokens 4, 5 of chunk 0 and 6, 7 of chunk 1, so it lives.
    CHECK(dead_pages(chunked_local{6}, 6, 4) == 1);
    CHECK(dead_pages(chunked_local{6}, 12, 4) == 3);
}

TEST_CASE("chunked local attention: a hit of H needs only the pages of the chunk holding H, none at a boundary") {
    constexpr chunked_local rule{8};
    CHECK(hit_first_page(rule, 4, 4) == 0);   // H = 4: page 0
    CHECK(hit_first_page(rule, 8, 4) == 2);   // H = 8 = a chunk boundary: pages [2, 2), none
    CHECK(hit_first_page(rule, 12, 4) == 2);  // H = 12: page 2 only
    CHECK(hit_first_page(rule, 16, 4) == 4);
}

// ---- the chunked pool ---------------------------------------------------------------------------

TEST_CASE("chunked_pool: release happens in the commit that crosses a chunk boundary") {
    auto pool = lif_chunked::create(pool_size{8}, 4, 8).value();
    static_assert(lif_chunked::kind == attention_kind::chunked);
    CHECK(pool.chunk_tokens() == 8);
    CHECK(pool.window_tokens() == 0);
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 7).ok());
    REQUIRE(pool.commit(r, 7).ok());
    CHECK(page_values(pool, r) == V{1, 2});
    REQUIRE(pool.extend(r, 1 + 3).ok());  // decode token 7 and three drafts 8, 9, 10
    CHECK(page_values(pool, r) == V{1, 2, 3});
    REQUIRE(pool.commit(r, 1).ok());  // L = 8: only token 7 accepted; the next query is at 8, chunk 1
    CHECK(page_values(pool, r) == V{0, 0});
    CHECK(pool.free_pages() == 7);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("chunked_pool: reservations are released by the committed length, not the reserved one") {
    auto pool = lif_chunked::create(pool_size{8}, 4, 8).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 6).ok());
    REQUIRE(pool.commit(r, 6).ok());
    REQUIRE(pool.extend(r, 1 + 3).ok());  // length 10 crosses into chunk 1, committed still 6
    CHECK(page_values(pool, r) == V{1, 2, 3});
    CHECK(pool.first_live_page(r) == 0);  // token 6's and 7's queries still see chunk 0
    REQUIRE(pool.commit(r, 1).ok());      // L = 7
    CHECK(page_values(pool, r) == V{1, 2});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("chunked_pool: a rollback into a released chunk is window_already_released") {
    auto pool = lif_chunked::create(pool_size{8}, 4, 8).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 10).ok());
    REQUIRE(pool.commit(r, 10).ok());
    CHECK(page_values(pool, r) == V{0, 0, 3});
    const auto before = state_digest(pool);
    CHECK(pool.truncate(r, 7).code() == errc::window_already_released);
    CHECK(state_digest(pool) == before);
    REQUIRE(pool.truncate(r, 8).ok());  // the chunk boundary itself: nothing released is needed
    CHECK(page_values(pool, r) == V{0, 0});
    CHECK(pool.check_invariants().ok());
}

// ---- the multi-group hybrid ---------------------------------------------------------------------

TEST_CASE("multi_hybrid_pool: one request's life in a full pool, a window of 6 and chunks of 8") {
    auto h = make_three();
    static_assert(three_pools::group_count == 2);
    static_assert(std::remove_cvref_t<decltype(h.group<0>())>::kind == attention_kind::sliding);
    static_assert(std::remove_cvref_t<decltype(h.group<1>())>::kind == attention_kind::chunked);
    const request_id r = h.add_request().value();

    REQUIRE(h.extend(r, 8).ok());
    REQUIRE(h.commit(r, 8).ok());  // L = 8: window keys [3, 8]; chunk 1 starts, chunk 0 is dead
    CHECK(page_values(h.full(), r) == V{1, 2});
    CHECK(page_values(h.group<0>(), r) == V{1, 2});
    CHECK(page_values(h.group<1>(), r) == V{0, 0});
    CHECK(map_values<0>(h, r) == V{1, 2});
    CHECK(map_values<1>(h, r) == V{0, 0});

    REQUIRE(h.extend(r, 4).ok());
    REQUIRE(h.commit(r, 4).ok());  // L = 12: window keys [7, 12], chunk keys [8, 12]
    CHECK(page_values(h.full(), r) == V{1, 2, 3});
    CHECK(page_values(h.group<0>(), r) == V{0, 2, 3});
    CHECK(page_values(h.group<1>(), r) == V{0, 0, 1});
    CHECK(map_values<0>(h, r) == V{0, 2, 3});
    CHECK(map_values<1>(h, r) == V{0, 0, 1});

    REQUIRE(h.extend(r, 1 + 3).ok());  // decode token + 3 drafts: length 16, committed 12
    CHECK(page_values(h.group<0>(), r) == V{0, 2, 3, 1});
    CHECK(page_values(h.group<1>(), r) == V{0, 0, 1, 2});
    REQUIRE(h.commit(r, 2).ok());  // L = 14: window keys [9, 14]; chunk keys [8, 14]
    CHECK(page_values(h.full(), r) == V{1, 2, 3, 4});
    CHECK(page_values(h.group<0>(), r) == V{0, 0, 3, 1});
    CHECK(page_values(h.group<1>(), r) == V{0, 0, 1, 2});
    CHECK(h.group_slot<0>(4 * 4 + 1) == 1 * 4 + 1);  // token 13: full page 4 -> window page 1
    CHECK(h.group_slot<1>(4 * 4 + 1) == 2 * 4 + 1);  //                      -> chunk page 2

    REQUIRE(h.extend(r, 2).ok());
    REQUIRE(h.commit(r, 2).ok());  // L = 16: window keys [11, 16]; chunk 2 starts
    CHECK(page_values(h.group<0>(), r) == V{0, 0, 3, 1});
    CHECK(page_values(h.group<1>(), r) == V{0, 0, 0, 0});
    CHECK(h.group<1>().free_pages() == 7);
    CHECK(h.check_invariants().ok());

    REQUIRE(h.free_request(r).ok());
    CHECK(h.full().free_pages() == 15);
    CHECK(h.group<0>().free_pages() == 7);
    CHECK(h.group<1>().free_pages() == 7);
    for (page_id p : h.full_to_group<0>()) CHECK(p == null_page);
    for (page_id p : h.full_to_group<1>()) CHECK(p == null_page);
    CHECK(h.check_invariants().ok());
}

TEST_CASE("multi_hybrid_pool: an extend takes pages from no pool unless all three can satisfy it") {
    SUBCASE("the chunked pool short") {
        auto h = make_three(16, 8, 3);
        const request_id r = h.add_request().value();
        const auto before = state_digest(h);
        CHECK(h.extend(r, 9).code() == errc::out_of_chunked_pages);  // 3 pages; the chunked pool has 2
        CHECK(state_digest(h) == before);
        CHECK(h.full().free_pages() == 15);
        REQUIRE(h.extend(r, 8).ok());
        CHECK(h.check_invariants().ok());
    }
    SUBCASE("the window pool short, and both groups short: the first group is named") {
        auto h = make_three(16, 3, 3);
        const request_id r = h.add_request().value();
        const auto before = state_digest(h);
        CHECK(h.extend(r, 9).code() == errc::out_of_swa_pages);
        CHECK(state_digest(h) == before);
    }
    SUBCASE("the full pool short") {
        auto h = make_three(3, 8, 8);
        const request_id r = h.add_request().value();
        const auto before = state_digest(h);
        CHECK(h.extend(r, 9).code() == errc::out_of_full_pages);
        CHECK(state_digest(h) == before);
    }
}

TEST_CASE("multi_hybrid_pool: a rollback refused by one group changes no pool") {
    auto h = make_three();
    const request_id r = h.add_request().value();
    REQUIRE(h.extend(r, 14).ok());
    REQUIRE(h.commit(r, 14).ok());  // window pages from 2, chunk pages from 2
    REQUIRE(h.truncate(r, 13).ok());
    CHECK(page_values(h.full(), r) == V{1, 2, 3, 4});
    const auto before = state_digest(h);
    CHECK(h.truncate(r, 9).code() == errc::window_already_released);  // the window needs page 1 again
    CHECK(state_digest(h) == before);

    auto chunk_only =
        multi_hybrid_pool<lif_full, lif_chunked>::create(pool_size{16}, 4, group_size{pool_size{8}, 8}).value();
    const request_id c = chunk_only.add_request().value();
    REQUIRE(chunk_only.extend(c, 10).ok());
    REQUIRE(chunk_only.commit(c, 10).ok());
    const auto chunk_before = state_digest(chunk_only);
    CHECK(chunk_only.truncate(c, 7).code() == errc::window_already_released);  // back into chunk 0
    CHECK(state_digest(chunk_only) == chunk_before);
    REQUIRE(chunk_only.truncate(c, 8).ok());
    CHECK(chunk_only.full().length_tokens(c) == 8);
    CHECK(chunk_only.check_invariants().ok());
}

TEST_CASE("multi_hybrid_pool: add_committed_request holds in each group what its rule keeps") {
    auto h = make_three();
    const request_id r = h.add_committed_request(20).value();
    CHECK(page_values(h.full(), r) == V{1, 2, 3, 4, 5});
    CHECK(page_values(h.group<0>(), r) == V{0, 0, 0, 1, 2});  // window keys [15, 20]
    CHECK(page_values(h.group<1>(), r) == V{0, 0, 0, 0, 1});  // chunk keys [16, 20]
    CHECK(map_values<0>(h, r) == V{0, 0, 0, 1, 2});
    CHECK(map_values<1>(h, r) == V{0, 0, 0, 0, 1});
    CHECK(h.check_invariants().ok());

    auto tight = make_three(16, 8, 2);  // one chunked page: a committed 20 needs 1, a committed 24 none
    REQUIRE(tight.add_committed_request(20).ok());
    const auto before = state_digest(tight);
    CHECK(tight.add_committed_request(20).code() == errc::out_of_chunked_pages);
    CHECK(state_digest(tight) == before);
    const request_id boundary = tight.add_committed_request(24).value();  // no chunked page at all
    CHECK(page_values(tight.group<1>(), boundary) == V{0, 0, 0, 0, 0, 0});
    CHECK(tight.check_invariants().ok());
}

TEST_CASE("multi_hybrid_pool: two windows and a chunk, every group's table from its own view") {
    using four_pools = multi_hybrid_pool<lif_full, lif_swa, lif_swa, lif_chunked>;
    auto h = four_pools::create(pool_size{16}, 4, group_size{pool_size{8}, 4}, group_size{pool_size{8}, 9},
                                group_size{pool_size{8}, 8})
                 .value();
    const request_id r = h.add_request().value();
    REQUIRE(h.extend(r, 12).ok());
    REQUIRE(h.commit(r, 12).ok());
    REQUIRE(h.extend(r, 1).ok());                          // L = 12, token 12 in flight
    CHECK(page_values(h.group<0>(), r) == V{0, 0, 3, 1});  // W = 4: keys [9, 12]
    CHECK(page_values(h.group<1>(), r) == V{0, 2, 3, 1});  // W = 9: keys [4, 12]: page 0 dead
    CHECK(page_values(h.group<2>(), r) == V{0, 0, 3, 1});  // C = 8: keys [8, 12]
    // ... a CSR row for each group:
    std::int32_t indptr[2], indices[4], last[1];
    CHECK(emit_csr_table(h.group<0>(), std::span<const request_id>(&r, 1), {indptr, indices, last}).value() == 2);
    CHECK(V(indices, indices + 2) == V{3, 1});
    CHECK(emit_csr_table(h.group<2>(), std::span<const request_id>(&r, 1), {indptr, indices, last}).value() == 2);
    CHECK(V(indices, indices + 2) == V{3, 1});  // chunk 1 starts at token 8 = page 2
    CHECK(last[0] == 1);                        // kv length (2 - 1) * 4 + 1 = 5 = 13 - 8
    CHECK(h.check_invariants().ok());
}

// ---- bad inputs (docs/errors.md): each rejection beside its nearest passing control -------------

namespace {
template <class Full, class... Groups>
concept composable = requires { typename multi_hybrid_pool<Full, Groups...>; };
}  // namespace

TEST_CASE("bad inputs: a chunk below 1 token is invalid_chunk") {
    for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-1}, INT64_MIN})
        CHECK(chunked_pool<>::create(pool_size{8}, 4, bad).code() == errc::invalid_chunk);
    CHECK(chunked_pool<>::create(pool_size{8}, 4, 1).ok());
    CHECK(chunked_pool<>::create(pool_size{8}, 0, 0).code() == errc::invalid_page_size);  // the page size first
    CHECK(chunked_pool<>::create(pool_size{1}, 4, 8).code() == errc::invalid_pool_size);
    CHECK(to_string(errc::invalid_chunk) == "invalid_chunk");
    CHECK(describe(errc::invalid_chunk) == "attention chunk below 1 token");
}

TEST_CASE("bad inputs: multi_hybrid_pool::create names the first pool that refuses") {
    using W = group_size;
    CHECK(three_pools::create(pool_size{16}, 4, W{pool_size{8}, 6}, W{pool_size{8}, 8}).ok());  // control
    CHECK(three_pools::create(pool_size{1}, 4, W{pool_size{8}, 6}, W{pool_size{8}, 8}).code() ==
          errc::invalid_pool_size);
    CHECK(three_pools::create(pool_size{16}, 0, W{pool_size{8}, 6}, W{pool_size{8}, 8}).code() ==
          errc::invalid_page_size);
    CHECK(three_pools::create(pool_size{16}, -4, W{pool_size{8}, 6}, W{pool_size{8}, 8}).code() ==
          errc::invalid_page_size);
    CHECK(three_pools::create(pool_size{16}, 4, W{pool_size{8}, 0}, W{pool_size{8}, 8}).code() == errc::invalid_window);
    CHECK(three_pools::create(pool_size{16}, 4, W{pool_size{8}, -6}, W{pool_size{8}, 8}).code() ==
          errc::invalid_window);
    CHECK(three_pools::create(pool_size{16}, 4, W{pool_size{8}, 6}, W{pool_size{8}, 0}).code() == errc::invalid_chunk);
    CHECK(three_pools::create(pool_size{16}, 4, W{pool_size{8}, 6}, W{pool_size{8}, -8}).code() == errc::invalid_chunk);
    CHECK(three_pools::create(pool_size{16}, 4, W{pool_size{1}, 6}, W{pool_size{8}, 8}).code() ==
          errc::invalid_pool_size);
    CHECK(three_pools::create(pool_size{16}, 4, W{pool_size{-8}, 6}, W{pool_size{8}, 8}).code() ==
          errc::invalid_pool_size);
    CHECK(three_pools::create(pool_size{16}, 4, W{pool_size{8}, 0}, W{pool_size{8}, 0}).code() == errc::invalid_window);
}

TEST_CASE("bad inputs: from_pools refuses mismatched page sizes and pools that have issued requests") {
    auto full = [] { return lif_full::create(pool_size{16}, 4).value(); };
    auto swa = [](std::int32_t page) { return lif_swa::create(pool_size{8}, page, 6).value(); };
    auto chunked = [](std::int32_t page) { return lif_chunked::create(pool_size{8}, page, 8).value(); };
    CHECK(three_pools::from_pools(full(), swa(4), chunked(4)).ok());  // control
    CHECK(three_pools::from_pools(full(), swa(8), chunked(4)).code() == errc::page_size_mismatch);
    CHECK(three_pools::from_pools(full(), swa(4), chunked(2)).code() == errc::page_size_mismatch);
    auto used = chunked(4);
    const request_id r = used.add_request().value();
    REQUIRE(used.free_request(r).ok());  // empty again, but its next id would differ from the others'
    CHECK(three_pools::from_pools(full(), swa(4), std::move(used)).code() == errc::pool_not_empty);
    CHECK(describe(errc::page_size_mismatch) == "hybrid pools whose page sizes differ");
}

TEST_CASE("bad inputs: a group list with no full pool, no group, or a full pool as a group does not compile") {
    static_assert(composable<full_pool<>, swa_pool<>, chunked_pool<>>);  // control
    static_assert(!composable<swa_pool<>, chunked_pool<>>);
    static_assert(!composable<chunked_pool<>, swa_pool<>>);
    static_assert(!composable<full_pool<>>);
    static_assert(!composable<full_pool<>, full_pool<>>);
    static_assert(!composable<full_pool<lowest_index_first, lru>, swa_pool<>>);  // caching: the two-group hybrid's
}

TEST_CASE("bad inputs: multi_hybrid_pool mutations refuse and change nothing") {
    auto h = make_three();
    const request_id r = h.add_request().value();
    REQUIRE(h.extend(r, 6).ok());
    const auto before = state_digest(h);
    const request_id never_issued{99, 0};
    CHECK(h.extend(never_issued, 1).code() == errc::unknown_request);
    CHECK(h.extend(r, -1).code() == errc::negative_length);
    CHECK(h.extend(r, INT64_MAX).code() == errc::length_overflow);
    CHECK(h.commit(r, 7).code() == errc::commit_exceeds_reserved);
    CHECK(h.commit(r, -1).code() == errc::negative_length);
    CHECK(h.truncate(r, 7).code() == errc::truncate_past_length);
    CHECK(h.truncate(never_issued, 0).code() == errc::unknown_request);
    CHECK(h.free_request(never_issued).code() == errc::unknown_request);
    CHECK(h.add_committed_request(-1).code() == errc::negative_length);
    CHECK(h.add_committed_request(INT64_MAX).code() == errc::length_overflow);
    CHECK(state_digest(h) == before);
    CHECK(h.commit(r, 6).ok());  // the controls
    CHECK(h.truncate(r, 6).ok());
    CHECK(h.free_request(r).ok());
    CHECK(h.free_request(r).code() == errc::unknown_request);
}

// ---- prefix reuse across groups ------------------------------------------------------------------

namespace {
// P = 4, a window of 6 and chunks of 8, every pool caching under LRU.
using caching_three = multi_hybrid_pool<full_pool<lifo_free_stack, lru>, swa_pool<lifo_free_stack, lru>,
                                        chunked_pool<lifo_free_stack, lru>>;
static_assert(
    std::is_same_v<caching_three, caching_multi_hybrid_pool<lru, attention_kind::sliding, attention_kind::chunked>>);

std::vector<token_id> prompt(std::int32_t n, token_id first = 100) {
    std::vector<token_id> t;
    for (std::int32_t i = 0; i < n; ++i) t.push_back(first + i);
    return t;
}

// A's prompt of 17 tokens, prefilled, committed with its tokens (pages 0..3 keyed) and freed: the
// window pages 0..2 and the chunk pages 0..3 it released on commit stay cached under full keys.
template <class Pool>
void prefill_and_free(Pool& h, const std::vector<token_id>& tokens) {
    const request_id a = h.add_request().value();
    REQUIRE(h.extend(a, 17).ok());
    REQUIRE(h.commit(a, 17, tokens).ok());
    REQUIRE(h.free_request(a).ok());
    REQUIRE(h.check_invariants().ok());
}
}  // namespace

TEST_CASE("prefix reuse: a hit attaches the full prefix and, per group, only the pages its rule needs") {
    auto h =
        caching_three::create(pool_size{32}, 4, group_size{pool_size{16}, 6}, group_size{pool_size{16}, 8}).value();
    const auto tokens = prompt(17);
    prefill_and_free(h, tokens);
    CHECK(h.full().cached_pages() == 4);
    CHECK(h.group<0>().cached_pages() == 4);  // window pages 0..2 (released) and 3 (freed with A)
    CHECK(h.group<1>().cached_pages() == 4);  // chunk pages 0..3, released when L reached 16
    CHECK(h.lookup(tokens, cache_scope{}) == 16);

    const request_id b = h.add_request().value();
    CHECK(h.attach_prefix(b, tokens).value() == 16);  // H = 16, a chunk boundary
    CHECK(h.full().pages_held(b) == 4);
    CHECK(h.group<0>().first_live_page(b) == 2);  // window keys [11, 16]: pages 2 and 3
    const V window = page_values(h.group<0>(), b), mapped = map_values<0>(h, b);
    CHECK(window[0] == 0);
    CHECK(window[1] == 0);
    CHECK(window[2] != 0);
    CHECK(window[2] == mapped[2]);  // the cached window pages of full pages 2 and 3
    CHECK(window[3] == mapped[3]);
    CHECK(page_values(h.group<1>(), b) == V{0, 0, 0, 0});  // the next query starts chunk 2: no chunk page
    CHECK(h.group<1>().cached_pages() == 4);               // still cached, for other hits
    CHECK(h.check_invariants().ok());
}

TEST_CASE(
    "prefix reuse: the hit is the longest prefix every group can serve (a window tombstone shortens it, a chunk one "
    "does not)") {
    // The window and chunk pools hold 5 pages each: after A, 4 cached and 1 free. X's 8 fresh tokens
    // take the free page and evict the oldest cached one in each group: window page 2 (released
    // first on commit: the chain's tail leaves first) and chunk page 3.
    auto h = caching_three::create(pool_size{32}, 4, group_size{pool_size{6}, 6}, group_size{pool_size{6}, 8}).value();
    std::vector<kv_event> events;
    h.set_event_sink([&](const kv_event& e) { events.push_back(e); });
    const auto tokens = prompt(17);
    prefill_and_free(h, tokens);
    events.clear();
    const request_id x = h.add_request().value();
    REQUIRE(h.extend(x, 8).ok());
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == kv_event_kind::removed);
    CHECK(events[0].layers == attention_kind::sliding);
    CHECK(events[0].group == 0);
    CHECK(events[1].kind == kv_event_kind::removed);
    CHECK(events[1].layers == attention_kind::chunked);
    CHECK(events[1].group == 1);
    CHECK(h.full().cached_pages() == 4);  // tombstones: the full pages stay cached
    CHECK(h.check_invariants().ok());

    // H = 16 needs window pages 2, 3 and H = 12 pages 1, 2: page 2 is gone. H = 8 needs window pages
    // 0, 1 and no chunk page. The chunk tombstone (page 3) would matter only to H = 16, which needs none.
    CHECK(h.lookup(tokens, cache_scope{}) == 8);
    const request_id b = h.add_request().value();
    CHECK(h.attach_prefix(b, tokens).value() == 8);
    CHECK(h.group<0>().first_live_page(b) == 0);
    CHECK(h.group<0>().pages_held(b) == 2);
    CHECK(page_values(h.group<1>(), b) == V{0, 0});
    CHECK(h.check_invariants().ok());

    // The same history without the window group hits all 16 tokens.
    auto chunk_only =
        caching_multi_hybrid_pool<lru, attention_kind::chunked>::create(pool_size{32}, 4, group_size{pool_size{6}, 8})
            .value();
    prefill_and_free(chunk_only, tokens);
    const request_id y = chunk_only.add_request().value();
    REQUIRE(chunk_only.extend(y, 8).ok());
    CHECK(chunk_only.lookup(tokens, cache_scope{}) == 16);
}

TEST_CASE(
    "prefix reuse: group pages released by a commit without tokens are not cached, so no hit needs them in vain") {
    auto h =
        caching_three::create(pool_size{32}, 4, group_size{pool_size{16}, 6}, group_size{pool_size{16}, 8}).value();
    const auto tokens = prompt(23);
    const request_id a = h.add_request().value();
    REQUIRE(h.extend(a, 22).ok());
    REQUIRE(h.commit(a, 22).ok());       // window pages 0..3 and chunk pages 0..3 freed: not keyed yet
    REQUIRE(h.preempt(a, tokens).ok());  // keys full pages 0..4; their group pages are gone
    CHECK(h.full().cached_pages() == 5);
    CHECK(h.lookup(tokens, cache_scope{}) == 0);  // H = 4 already needs window page 0 and chunk page 0
    CHECK(h.check_invariants().ok());
}

TEST_CASE("prefix reuse: a preempted request resumes on its own prefix in every group, then reset_cache empties all") {
    auto h =
        caching_three::create(pool_size{32}, 4, group_size{pool_size{16}, 6}, group_size{pool_size{16}, 8}).value();
    const auto tokens = prompt(23);
    const request_id a = h.add_request().value();
    REQUIRE(h.extend(a, 22).ok());
    REQUIRE(h.commit(a, 22, tokens).ok());  // keys pages 0..4 first: the released group pages stay cached
    REQUIRE(h.preempt(a, tokens).ok());     // frees a; its pages stay cached
    const request_id b = h.add_request().value();
    CHECK(h.attach_prefix(b, tokens).value() == 20);
    CHECK(h.group<0>().first_live_page(b) == 3);  // window keys [15, 20]
    CHECK(h.group<1>().first_live_page(b) == 4);  // chunk keys [16, 20]: page 4 only
    CHECK(h.group<1>().pages_held(b) == 1);
    CHECK(h.reset_cache().code() == errc::cache_in_use);
    REQUIRE(h.free_request(b).ok());
    REQUIRE(h.reset_cache().ok());
    CHECK(h.full().cached_pages() == 0);
    CHECK(h.group<0>().cached_pages() == 0);
    CHECK(h.group<1>().cached_pages() == 0);
    for (page_id p : h.full_to_group<0>()) CHECK(p == null_page);
    CHECK(h.check_invariants().ok());
}

// ---- tables per group ----------------------------------------------------------------------------

TEST_CASE("chunked tables: CSR from the chunk's first page, dense full width, slots of the tokens in flight") {
    auto h = make_three();
    const request_id a = h.add_request().value();
    const request_id b = h.add_request().value();
    REQUIRE(h.extend(a, 14).ok());
    REQUIRE(h.commit(a, 14).ok());  // a: chunk 1 holds tokens 8..13 -> chunk pages from page 2
    REQUIRE(h.extend(b, 5).ok());
    REQUIRE(h.commit(b, 5).ok());  // b: still in chunk 0
    REQUIRE(h.extend(a, 3).ok());  // a: 14, 15 and 16 in flight; 16 starts chunk 2
    REQUIRE(h.extend(b, 1).ok());
    const std::vector<request_id> batch{a, b};
    CHECK(page_values(h.group<1>(), a) == V{0, 0, 3, 4, 5});
    CHECK(page_values(h.group<1>(), b) == V{1, 2});

    std::int32_t indptr[3], indices[8], last[2];
    CHECK(emit_csr_table(h.group<1>(), batch, {indptr, indices, last}).value() == 5);
    CHECK(V(indptr, indptr + 3) == V{0, 3, 5});
    CHECK(V(indices, indices + 5) == V{3, 4, 5, 1, 2});
    CHECK(V(last, last + 2) == V{1, 2});  // a: kv length 2 * 4 + 1 = 9 = 17 - 8; b: 1 * 4 + 2 = 6

    std::int32_t dense[2 * 6];
    REQUIRE(emit_dense_table(h.group<1>(), batch, dense, 6).ok());
    CHECK(V(dense, dense + 12) == V{0, 0, 3, 4, 5, 0, 1, 2, 0, 0, 0, 0});

    std::int64_t slots[4];
    CHECK(emit_slot_mapping(h.group<1>(), batch, slots).value() == 4);
    CHECK(std::vector<std::int64_t>(slots, slots + 4) ==
          std::vector<std::int64_t>{4 * 4 + 2, 4 * 4 + 3, 5 * 4 + 0, 2 * 4 + 1});
    std::int64_t full_slots[4];
    REQUIRE(emit_slot_mapping(h.full(), batch, full_slots).ok());
    for (int i = 0; i < 4; ++i) CHECK(h.group_slot<1>(full_slots[i]) == slots[i]);
}

TEST_CASE("prefix reuse: a recomputed copy heals a tombstone in any group and is reported per group") {
    // As above: after X, full page 2 has lost its window page and full page 3 its chunk page.
    auto h = caching_three::create(pool_size{32}, 4, group_size{pool_size{6}, 6}, group_size{pool_size{6}, 8}).value();
    const auto tokens = prompt(17);
    prefill_and_free(h, tokens);
    const request_id x = h.add_request().value();
    REQUIRE(h.extend(x, 8).ok());
    REQUIRE(h.free_request(x).ok());  // x's pages were never keyed: freed
    REQUIRE(h.lookup(tokens, cache_scope{}) == 8);

    std::vector<kv_event> events;
    h.set_event_sink([&](const kv_event& e) { events.push_back(e); });
    const request_id c = h.add_request().value();
    REQUIRE(h.attach_prefix(c, tokens).value() == 8);
    REQUIRE(h.extend(c, 9).ok());
    REQUIRE(h.commit(c, 9, tokens).ok());  // c's pages 2 and 3 have every group page: they take the keys over
    int healed_window = 0, healed_chunk = 0;
    for (const kv_event& e : events) {
        if (e.kind != kv_event_kind::stored) continue;
        healed_window += e.layers == attention_kind::sliding && e.group == 0;
        healed_chunk += e.layers == attention_kind::chunked && e.group == 1;
    }
    CHECK(healed_window == 2);  // pages 2 and 3 (page 3's window page was intact, but the copy replaces both)
    CHECK(healed_chunk == 2);
    CHECK(h.check_invariants().ok());
    REQUIRE(h.free_request(c).ok());
    CHECK(h.lookup(tokens, cache_scope{}) == 16);  // every group can serve 16 tokens again
    CHECK(h.check_invariants().ok());
}
