// Prefix reuse on a hybrid pool: a hit needs the full pages and the SWA window; SWA pages are
// cached and evicted on their own (tombstones), and full_to_swa stays the one home of the pairing.
#include <doctest/doctest.h>

#include <pagedkv/pagedkv.hpp>

#include <numeric>
#include <vector>

using namespace pagedkv;

namespace {

using lru_hybrid = caching_hybrid_pool<lru>;
using prio_hybrid = caching_hybrid_pool<priority_lru>;

std::vector<token_id> seq(std::int32_t n, token_id first) {
    std::vector<token_id> t(static_cast<std::size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}
template <class Pool>
std::vector<std::int32_t> swa_values(const Pool& pool, request_id r) {
    std::vector<std::int32_t> v;
    for (page_id p : pool.swa().pages(r)) v.push_back(p.value);
    return v;
}
// SWA page of full page i of request r's prompt, through the mapping.
template <class Pool>
page_id swa_of(const Pool& pool, const std::vector<page_id>& full, std::size_t i) {
    return pool.full_to_swa()[static_cast<std::size_t>(full[i].value)];
}

// Prefills `t` in one chunk (keying the pages as it commits when `keyed_commit`), then frees it.
// Returns the full pages it held.
template <class Pool>
std::vector<page_id> prefill_and_free(Pool& pool, const std::vector<token_id>& t, std::int64_t n, bool keyed_commit,
                                      retention keep = {}) {
    const request_id r = pool.add_request(cache_scope{}, keep).value();
    REQUIRE(pool.attach_prefix(r, t).value() == 0);
    REQUIRE(pool.extend(r, n).ok());
    if (keyed_commit) {
        REQUIRE(pool.commit(r, n, t).ok());
    } else {
        REQUIRE(pool.commit(r, n).ok());  // the window slides before the pages have keys
        REQUIRE(pool.cache_committed(r, t).ok());
    }
    const auto f = pool.full().pages(r);
    std::vector<page_id> full(f.begin(), f.end());
    REQUIRE(pool.free_request(r).ok());
    REQUIRE(pool.check_invariants().ok());
    return full;
}

}  // namespace

static_assert(lru_hybrid::caching && !hybrid_pool<>::caching);

TEST_CASE("an SWA hit needs every SWA page of the window before it") {
    const auto t = seq(25, 0);
    for (const std::int64_t window : {9, 10}) {
        CAPTURE(window);
        auto pool = lru_hybrid::create(pool_size{32}, pool_size{16}, 4, window).value();
        // Commit before keying: the pages that leave the window are freed, not cached.
        // dead_pages(24, W, 4) is 4 for W = 9 (tokens 0..15 gone) and 3 for W = 10 (0..11 gone).
        prefill_and_free(pool, t, 24, false);
        CHECK(pool.swa().cached_pages() == (window == 9 ? 2 : 3));
        CHECK(pool.full().lookup(t, {}) == 24);
        // H = 24: the next query sees [24 - W + 1, 24]: from token 16 (page 4) or 15 (page 3).
        CHECK(pool.lookup(t, {}) == 24);
        // H = 20 would see from token 12 (page 3, W = 9) or 11 (page 2, W = 10): both released,
        // and every shorter H needs older pages still. The full pages alone would give 20.
        CHECK(pool.full().lookup(seq(21, 0), {}) == 20);
        CHECK(pool.lookup(seq(21, 0), {}) == 0);
        const request_id r = pool.add_request(cache_scope{}).value();
        CHECK(pool.attach_prefix(r, seq(21, 0)).value() == 0);
        CHECK(pool.full().pages(r).empty());
        CHECK(pool.check_invariants().ok());
    }
}

TEST_CASE("committing with tokens keeps the SWA pages that leave the window cached") {
    auto pool = lru_hybrid::create(pool_size{32}, pool_size{16}, 4, 8).value();
    const auto t = seq(25, 0);
    const auto full = prefill_and_free(pool, t, 24, true);
    CHECK(pool.swa().cached_pages() == 6);
    for (std::size_t i = 0; i < 6; ++i) CHECK(swa_of(pool, full, i) != null_page);
    CHECK(pool.lookup(t, {}) == 24);
    CHECK(pool.lookup(seq(21, 0), {}) == 20);  // window [13, 20): pages 3, 4
    CHECK(pool.lookup(seq(6, 0), {}) == 4);
}

TEST_CASE("a hybrid hit attaches the full prefix and exactly the mapped SWA pages of its window") {
    auto pool = lru_hybrid::create(pool_size{32}, pool_size{16}, 4, 8).value();
    const auto t = seq(25, 0);
    const auto full = prefill_and_free(pool, t, 24, true);
    const request_id b = pool.add_request(cache_scope{}).value(), c = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(b, t).value() == 24);
    REQUIRE(pool.attach_prefix(c, t).value() == 24);
    const auto fb = pool.full().pages(b);
    CHECK(std::vector<page_id>(fb.begin(), fb.end()) == full);
    CHECK(pool.swa().first_live_page(b) == 4);  // dead_pages(24, 8, 4)
    CHECK(swa_values(pool, b) ==
          std::vector<std::int32_t>{0, 0, 0, 0, swa_of(pool, full, 4).value, swa_of(pool, full, 5).value});
    CHECK(pool.swa().ref_count(swa_of(pool, full, 4)) == 2);
    CHECK(pool.swa().is_cached(swa_of(pool, full, 3)));  // out of both windows: still cached
    CHECK(pool.full().ref_count(full[0]) == 2);
    CHECK(pool.check_invariants().ok());

    // b's window slides past page 4: b lets go of its SWA page, c still holds it.
    REQUIRE(pool.extend(b, 4).ok());
    REQUIRE(pool.commit(b, 4, seq(28, 0)).ok());
    CHECK(pool.swa().first_live_page(b) == 5);
    const page_id s4 = swa_of(pool, full, 4);
    CHECK(pool.swa().ref_count(s4) == 1);
    REQUIRE(pool.free_request(c).ok());
    CHECK(pool.swa().is_cached(s4));  // unowned, and full page 4 is keyed: cached, still mapped
    CHECK(swa_of(pool, full, 4) == s4);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("evicting out-of-window SWA pages keeps a hit; evicting an in-window one shortens it") {
    // SWA pool of 7: the prompt's 6 SWA pages fill it, so every later SWA page is an eviction.
    auto pool = lru_hybrid::create(pool_size{64}, pool_size{7}, 4, 8).value();
    std::vector<kv_event> removed, healed;
    pool.set_event_sink([&](const kv_event& e) {
        if (e.kind == kv_event_kind::removed) removed.push_back(e);
        if (e.kind == kv_event_kind::stored && e.layers == attention_kind::sliding) healed.push_back(e);
    });
    const auto t = seq(25, 0);
    const auto full = prefill_and_free(pool, t, 24, true);  // SWA cache order: 3 2 1 0 5 4
    const request_id c = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(c, seq(17, 0)).value() == 16);  // holds SWA pages 2, 3 (window [9, 16))
    REQUIRE(pool.free_request(c).ok());                        // SWA cache order: 1 0 5 4 3 2
    CHECK(pool.lookup(t, {}) == 24);

    const request_id d = pool.add_request().value();
    REQUIRE(pool.extend(d, 8).ok());            // two SWA pages: evicts the SWA pages of pages 1 and 0
    CHECK(swa_of(pool, full, 0) == null_page);  // tombstones: the full pages stay cached
    CHECK(swa_of(pool, full, 1) == null_page);
    CHECK(pool.full().is_cached(full[0]));
    CHECK(pool.lookup(t, {}) == 24);         // out of the window of H = 24: same hit
    CHECK(pool.lookup(seq(9, 0), {}) == 0);  // but H = 8 needed them
    REQUIRE(removed.size() == 2);
    CHECK(removed[0].layers == attention_kind::sliding);
    CHECK(removed[0].key == *pool.full().key_of(full[1]));
    CHECK(removed[0].parent_key == *pool.full().key_of(full[0]));

    REQUIRE(pool.extend(d, 4).ok());  // evicts the SWA page of page 5: inside H = 24's window
    CHECK(swa_of(pool, full, 5) == null_page);
    CHECK(pool.lookup(t, {}) == 20);  // H = 20 needs pages 3, 4 only
    CHECK(pool.swa().stats().evicted_pages == 3);
    CHECK(pool.full().stats().evicted_pages == 0);
    CHECK(pool.check_invariants().ok());

    const request_id e = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(e, t).value() == 20);
    CHECK(pool.full().pages(e).size() == 5);
    CHECK(pool.check_invariants().ok());

    // e recomputes page 5: its copy, whose SWA page is live, takes over the cached page's key.
    REQUIRE(pool.free_request(d).ok());
    REQUIRE(pool.extend(e, 4).ok());
    const page_id copy = pool.full().pages(e)[5];
    REQUIRE(pool.commit(e, 4, t).ok());
    CHECK(pool.full().key_of(copy) == removed[2].key);  // the key the tombstone left without SWA
    CHECK_FALSE(pool.full().key_of(full[5]));
    CHECK(pool.full().allocator().is_free(full[5]));  // the stale page was cached: freed
    CHECK(pool.full().stats().stored_pages == 6);     // no new content
    CHECK(removed.size() == 3);
    REQUIRE(healed.size() == 1);  // the sliding layers have this key's KV again
    CHECK(healed[0].key == removed[2].key);
    CHECK(healed[0].parent_key == *pool.full().key_of(full[4]));
    CHECK(pool.lookup(t, {}) == 24);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("evicting the first full page is a total miss and frees the SWA pages below it") {
    // The first page has the lowest retention priority, so the full pool picks it first.
    auto pool = prio_hybrid::create(pool_size{7}, pool_size{16}, 4, 8).value();
    const auto t = seq(25, 0);
    const auto full = prefill_and_free(pool, t, 24, true, retention{60, 4, 10});
    CHECK(pool.full().free_pages() == 0);
    CHECK(pool.swa().cached_pages() == 6);
    const request_id d = pool.add_request().value();
    REQUIRE(pool.extend(d, 4).ok());
    CHECK(pool.full().pages(d)[0] == full[0]);
    CHECK(pool.lookup(t, {}) == 0);
    CHECK(pool.full().lookup(t, {}) == 0);
    CHECK(pool.full().cached_pages() == 0);
    CHECK(pool.full().free_pages() == 5);
    CHECK(pool.full().stats().evicted_pages == 6);
    CHECK(pool.swa().cached_pages() == 0);  // no SWA page outlives its full page's key
    CHECK(pool.swa().free_pages() == 14);
    for (std::size_t i = 1; i < 6; ++i) CHECK(swa_of(pool, full, i) == null_page);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a failing hybrid extend evicts nothing in either pool") {
    auto pool = lru_hybrid::create(pool_size{7}, pool_size{7}, 4, 8).value();
    const auto t = seq(25, 0);
    prefill_and_free(pool, t, 24, true);
    const request_id b = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(b, seq(9, 0)).value() == 8);  // holds full pages 0, 1 and SWA 0, 1
    // 3 pages: the full pool could evict 3 of its 4 cached pages, the SWA pool has 4 too: fits.
    // 5 pages: the full pool has only 4 to give.
    CHECK(pool.extend(b, 20).code() == errc::out_of_full_pages);
    CHECK(pool.full().cached_pages() == 4);
    CHECK(pool.swa().cached_pages() == 4);
    CHECK(pool.full().stats().evicted_pages == 0);
    CHECK(pool.swa().stats().evicted_pages == 0);
    CHECK(pool.lookup(t, {}) == 24);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a failing hybrid extend on the SWA side leaves the full pool's cache untouched") {
    auto pool = lru_hybrid::create(pool_size{16}, pool_size{7}, 4, 8).value();
    const auto t = seq(25, 0);
    prefill_and_free(pool, t, 24, true);
    const request_id b = pool.add_request().value();
    REQUIRE(pool.extend(b, 24).ok());  // 6 SWA pages: every cached SWA page is evicted
    const request_id c = pool.add_request().value();
    CHECK(pool.extend(c, 4).code() == errc::out_of_swa_pages);  // the full pool has 9 free pages
    CHECK(pool.full().cached_pages() == 6);
    CHECK(pool.full().free_pages() == 3);
    CHECK(pool.full().length_tokens(c) == 0);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a preempted hybrid request resumes on its own prefix, window included") {
    auto pool = lru_hybrid::create(pool_size{32}, pool_size{16}, 4, 8).value();
    auto t = seq(10, 0);
    const request_id r = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(r, t).value() == 0);
    REQUIRE(pool.extend(r, 10).ok());
    REQUIRE(pool.commit(r, 10, t).ok());
    for (token_id next : {40, 41, 42}) {
        t.push_back(next);
        REQUIRE(pool.extend(r, 1).ok());
        REQUIRE(pool.commit(r, 1, t).ok());
    }
    const auto f = pool.full().pages(r);
    const std::vector<page_id> held(f.begin(), f.begin() + 3);
    REQUIRE(pool.preempt(r, t).ok());
    CHECK_FALSE(pool.contains(r));
    const request_id resumed = pool.add_request(cache_scope{}).value();
    CHECK(pool.attach_prefix(resumed, t).value() == 12);  // window [5, 12): pages 1, 2
    const auto g = pool.full().pages(resumed);
    CHECK(std::vector<page_id>(g.begin(), g.end()) == held);
    CHECK(pool.swa().first_live_page(resumed) == 1);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("reset_cache on a hybrid pool clears both caches and the mapping") {
    auto pool = lru_hybrid::create(pool_size{32}, pool_size{16}, 4, 8).value();
    const auto t = seq(25, 0);
    prefill_and_free(pool, t, 24, true);
    const request_id b = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(b, t).value() == 24);
    CHECK(pool.reset_cache().code() == errc::cache_in_use);
    CHECK(pool.lookup(t, {}) == 24);
    REQUIRE(pool.free_request(b).ok());
    REQUIRE(pool.reset_cache().ok());
    CHECK(pool.full().free_pages() == 31);
    CHECK(pool.swa().free_pages() == 15);
    for (page_id s : pool.full_to_swa()) CHECK(s == null_page);
    CHECK(pool.lookup(t, {}) == 0);
    CHECK(pool.check_invariants().ok());
}
