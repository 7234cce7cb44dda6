// Eviction policies on their own: the exact order each one evicts in, and what revive/erase do.
#include <doctest/doctest.h>

#include <pagedkv/pagedkv.hpp>

#include <vector>

using namespace pagedkv;

namespace {

template <class E>
std::vector<std::int32_t> drain(E& e) {
    std::vector<std::int32_t> order;
    while (e.size() > 0) order.push_back(e.evict().value);
    return order;
}
eviction_hint key(std::uint64_t k, std::uint8_t priority = default_retention_priority) { return {k, priority}; }

}  // namespace

static_assert(eviction_policy<no_eviction> && eviction_policy<lru> && eviction_policy<priority_lru> &&
              eviction_policy<adaptive_s3fifo>);
static_assert(!eviction_policy<int> && !eviction_policy<lifo_free_stack>);
static_assert(sizeof(full_pool<lifo_free_stack, no_eviction>) == sizeof(full_pool<>));  // same type

TEST_CASE("page_lists keeps FIFO order per list and unlinks in O(1)") {
    page_lists l(pool_size{8}, 2);
    l.push_back(0, page_id{3});
    l.push_back(1, page_id{5});
    l.push_back(0, page_id{1});
    l.push_back(0, page_id{7});
    CHECK(l.size(0) == 3);
    CHECK(l.list_of(page_id{5}) == 1);
    l.erase(page_id{1});
    CHECK_FALSE(l.linked(page_id{1}));
    CHECK(l.pop_front(0) == page_id{3});
    CHECK(l.pop_front(0) == page_id{7});
    CHECK(l.empty(0));
    CHECK(l.front(1) == page_id{5});
}

TEST_CASE("lru evicts in insertion order; a revived page leaves the order and re-enters at the back") {
    lru e(pool_size{8});
    for (std::int32_t p : {4, 2, 6, 1}) e.insert(page_id{p}, key(static_cast<std::uint64_t>(p)));
    e.revive(page_id{2});  // a hit: the page is in use, not evictable
    CHECK_FALSE(e.contains(page_id{2}));
    CHECK(e.size() == 3);
    e.insert(page_id{2}, key(2));  // released again: now the most recent
    e.erase(page_id{6});           // dropped without being chosen
    CHECK(drain(e) == std::vector<std::int32_t>{4, 1, 2});
}

TEST_CASE("priority_lru evicts every page of a lower priority before any of a higher one") {
    priority_lru e(pool_size{10});
    e.insert(page_id{1}, key(1, 80));
    e.insert(page_id{2}, key(2, 35));
    e.insert(page_id{3}, key(3, 0));
    e.insert(page_id{4}, key(4, 35));
    e.insert(page_id{5}, key(5, 100));
    e.insert(page_id{6}, key(6, 200));  // clamped to 100, after page 5 in LRU order
    e.insert(page_id{7}, key(7, 64));   // the second bitmap word's first level
    e.revive(page_id{2});
    e.insert(page_id{2}, key(2, 35));  // back into its level as the most recent
    CHECK(drain(e) == std::vector<std::int32_t>{3, 4, 2, 7, 1, 5, 6});
}

TEST_CASE("adaptive_s3fifo evicts one-hit pages from small while small is over its target") {
    adaptive_s3fifo e(pool_size{32});
    CHECK(e.small_target() == 3);  // 10% of the pool to start with
    // Pages 1..3 were hit once: they enter the main queue when released again.
    for (std::int32_t p : {1, 2, 3}) {
        e.insert(page_id{p}, key(100 + static_cast<std::uint64_t>(p)));
        e.revive(page_id{p});
    }
    for (std::int32_t p : {1, 2, 3}) e.insert(page_id{p}, key(100 + static_cast<std::uint64_t>(p)));
    // A flood of one-hit pages (a long unique prompt) goes through small, down to its target;
    // then main gives each hit page one more pass, then evicts it; small's last pages go last.
    for (std::int32_t p = 10; p < 20; ++p) e.insert(page_id{p}, key(static_cast<std::uint64_t>(p)));
    CHECK(drain(e) == std::vector<std::int32_t>{10, 11, 12, 13, 14, 15, 16, 1, 2, 3, 17, 18, 19});
}

TEST_CASE("adaptive_s3fifo: a recomputed page grows small if small evicted it, shrinks it if main did") {
    adaptive_s3fifo e(pool_size{32});
    e.insert(page_id{1}, key(70));
    CHECK(e.evict() == page_id{1});  // from small (main is empty): key 70 remembered as small's
    e.insert(page_id{2}, key(70));   // the same content recomputed into another page
    CHECK(e.small_target() == 4);
    for (std::int32_t p = 10; p < 20; ++p) e.insert(page_id{p}, key(static_cast<std::uint64_t>(p)));
    for (int i = 0; i < 6; ++i) CHECK(e.evict() == page_id{10 + i});  // small down to its target 4
    CHECK(e.evict() == page_id{2});  // page 2 went to main; main's victim is remembered as main's
    e.insert(page_id{3}, key(70));
    CHECK(e.small_target() == 3);
    e.insert(page_id{4}, key(71));  // no ghost: small, target unchanged
    CHECK(e.small_target() == 3);
    CHECK(drain(e) == std::vector<std::int32_t>{16, 17, 3, 18, 19, 4});
}

TEST_CASE("adaptive_s3fifo forgets a page's hits when the page is erased") {
    adaptive_s3fifo e(pool_size{8});  // target 0: small is evicted first whenever it holds a page
    e.insert(page_id{2}, key(2));
    e.revive(page_id{2});
    e.insert(page_id{2}, key(2));  // main
    e.insert(page_id{1}, key(1));
    e.revive(page_id{1});
    e.insert(page_id{1}, key(1));  // main too
    e.erase(page_id{1});           // its content dropped (a page above it was evicted): history ends
    e.insert(page_id{1}, key(9));  // new content in the same page: small, not main
    CHECK(drain(e) == std::vector<std::int32_t>{1, 2});
}

namespace {
using s3_pool = full_pool<lifo_free_stack, adaptive_s3fifo>;
void store_and_release(s3_pool& p, std::vector<token_id> t) {  // one request: prefill t, key it, free it
    const request_id r = p.add_request().value();
    REQUIRE(p.extend(r, static_cast<std::int64_t>(t.size())).ok());
    REQUIRE(p.commit(r, static_cast<std::int64_t>(t.size())).ok());
    REQUIRE(p.cache_committed(r, t).ok());
    REQUIRE(p.free_request(r).ok());
}
// Whether page X, given new content after its first content left by `forget_first`, survives the
// first eviction among 8 once-seen pages (it must not: the old content's hit is not the new one's).
bool reused_page_survives(bool revive_then_unkey) {
    auto p = s3_pool::create(pool_size{64}, 2).value();
    store_and_release(p, {0, 1, 2});
    const page_id x = p.allocator().is_free(page_id{1}) ? page_id{2} : page_id{1};
    if (revive_then_unkey) {
        const request_id b = p.add_request().value();
        const std::vector<token_id> t{0, 1, 2};
        REQUIRE(p.attach_prefix(b, t).value() == 2);  // a hit revives X
        REQUIRE(p.truncate(b, 1).ok());               // X's tail is rewritten: X loses its key
        REQUIRE(p.free_request(b).ok());              // unkeyed X goes to the free list, not via erase
    } else {
        REQUIRE(p.drop_cached(x).ok());
    }
    store_and_release(p, {9, 9});  // X (LIFO) now holds [9, 9]
    REQUIRE(p.key_of(x).has_value());
    for (token_id k = 0; k < 7; ++k) store_and_release(p, {100 + 2 * k, 101 + 2 * k});
    const request_id e = p.add_request().value();
    REQUIRE(p.extend(e, 2 * std::int64_t{p.free_pages() + 1}).ok());  // exactly one eviction
    REQUIRE(p.check_invariants().ok());
    return p.is_cached(x);
}
}  // namespace

TEST_CASE("adaptive_s3fifo: a page's hits end with its content, also when the pool forgets it without erase") {
    CHECK_FALSE(reused_page_survives(false));
    CHECK_FALSE(reused_page_survives(true));
}
