// Prefix reuse on a full pool: content keys, lookup, reference counts, eviction order, events, stats.
#include <doctest/doctest.h>

#include <pagedkv/pagedkv.hpp>

#include <numeric>
#include <vector>

using namespace pagedkv;

namespace {

using lru_pool = full_pool<lifo_free_stack, lru>;
using prio_pool = full_pool<lifo_free_stack, priority_lru>;

std::vector<token_id> seq(std::int32_t n, token_id first) {
    std::vector<token_id> t(static_cast<std::size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}
std::vector<std::int32_t> values(std::span<const page_id> pages) {
    std::vector<std::int32_t> v;
    for (page_id p : pages) v.push_back(p.value);
    return v;
}

// A request that runs `t` as its prompt (reusing what the cache holds) and keeps its pages cached
// when `release` is set. Returns its id.
template <class Pool>
request_id run(Pool& pool, const std::vector<token_id>& t, bool release = true, cache_scope scope = {},
               retention keep = {}) {
    const request_id r = pool.add_request(scope, keep).value();
    const std::int64_t hit = pool.attach_prefix(r, t).value();
    const auto rest = static_cast<std::int64_t>(t.size()) - hit;
    REQUIRE(pool.extend(r, rest).ok());
    REQUIRE(pool.commit(r, rest, t).ok());
    if (release) REQUIRE(pool.free_request(r).ok());
    return r;
}

// Events as a router would keep them: `tokens` is only valid during the callback, so it is copied.
struct event_log {
    std::vector<kv_event> events;
    std::vector<std::vector<token_id>> tokens;
    void operator()(const kv_event& e) {
        events.push_back(e);
        tokens.emplace_back(e.tokens.begin(), e.tokens.end());
        events.back().tokens = {};
    }
    std::vector<std::int32_t> pages(kv_event_kind kind) const {
        std::vector<std::int32_t> v;
        for (const kv_event& e : events)
            if (e.kind == kind) v.push_back(e.page.value);
        return v;
    }
};

}  // namespace

static_assert(!full_pool<>::caching && !full_pool<>::indexed && !swa_pool<>::caching);
static_assert(lru_pool::caching && lru_pool::indexed);
static_assert(swa_pool<lifo_free_stack, lru>::caching && !swa_pool<lifo_free_stack, lru>::indexed);
// A pool without a cache has no cache API at all: misuse fails to compile rather than at runtime.
template <class Pool>
concept has_cache_api = requires(Pool p, request_id r, std::span<const token_id> t) {
    p.attach_prefix(r, t);
    p.reset_cache();
};
static_assert(!has_cache_api<full_pool<>> && has_cache_api<lru_pool>);

TEST_CASE("a released request's whole committed pages are hit by the next request with its prompt") {
    auto pool = lru_pool::create(pool_size{17}, 4).value();
    const auto t = seq(10, 100);
    const request_id a = run(pool, t, false);
    const std::vector<std::int32_t> a_pages = values(pool.pages(a));
    CHECK(a_pages == std::vector<std::int32_t>{1, 2, 3});
    REQUIRE(pool.free_request(a).ok());
    CHECK(pool.cached_pages() == 2);  // pages 1, 2 hold tokens 0..7; the partial page is freed
    CHECK(pool.free_pages() == 14);
    CHECK(pool.used_pages() == 0);

    const request_id b = pool.add_request(cache_scope{}).value();
    CHECK(pool.attach_prefix(b, t).value() == 8);
    CHECK(values(pool.pages(b)) == std::vector<std::int32_t>{1, 2});
    CHECK(pool.length_tokens(b) == 8);
    CHECK(pool.committed_tokens(b) == 8);
    CHECK(pool.ref_count(page_id{1}) == 1);
    CHECK(pool.cached_pages() == 0);
    CHECK(pool.attach_prefix(b, t).code() == errc::request_not_empty);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("the last token is never part of a hit") {
    auto pool = lru_pool::create(pool_size{17}, 4).value();
    run(pool, seq(8, 0));                    // two whole pages cached
    CHECK(pool.lookup(seq(8, 0), {}) == 4);  // 8 tokens: the hit must leave token 7 to compute
    CHECK(pool.lookup(seq(9, 0), {}) == 8);
    CHECK(pool.lookup(seq(5, 0), {}) == 4);
    CHECK(pool.lookup(seq(4, 0), {}) == 0);
    CHECK(pool.lookup(seq(1, 0), {}) == 0);
    CHECK(pool.lookup({}, {}) == 0);
    CHECK(pool.lookup(seq(9, 1), {}) == 0);  // a different first page: nothing
}

TEST_CASE("tenant salt, extra key and per-page extra keys isolate cached pages") {
    auto pool = lru_pool::create(pool_size{33}, 4).value();
    const auto t = seq(9, 0);
    run(pool, t, true, cache_scope{1, 0});
    CHECK(pool.lookup(t, cache_scope{1, 0}) == 8);
    CHECK(pool.lookup(t, cache_scope{2, 0}) == 0);  // another tenant never sees them
    CHECK(pool.lookup(t, cache_scope{0, 0}) == 0);
    CHECK(pool.lookup(t, cache_scope{1, 5}) == 0);  // another adapter's KV differs

    const request_id m = pool.add_request(cache_scope{}).value();  // multimodal: an image per page
    const std::vector<std::uint64_t> images{11, 12};
    REQUIRE(pool.extend(m, 9).ok());
    REQUIRE(pool.commit(m, 9, t, images).ok());
    REQUIRE(pool.free_request(m).ok());
    CHECK(pool.lookup(t, {}, images) == 8);
    CHECK(pool.lookup(t, {}, std::vector<std::uint64_t>{11, 13}) == 4);
    CHECK(pool.lookup(t, {}, std::vector<std::uint64_t>{10, 12}) == 0);
    CHECK(pool.lookup(t, {}) == 0);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a hash alone never matches: find compares parent, scope, extra key and every token") {
    prefix_index ix(pool_size{8}, 2);
    const token_id a[2] = {1, 2}, b[2] = {3, 4};
    const page_content ca{a, {}, 0}, cb{b, {}, 0};
    ix.insert(page_id{1}, null_page, 42, ca);  // key 42 stands for any colliding hash
    CHECK(ix.find(null_page, 42, ca) == page_id{1});
    CHECK(ix.find(null_page, 42, cb) == null_page);              // same key, other tokens
    CHECK(ix.find(null_page, 42, {a, {7, 0}, 0}) == null_page);  // other tenant
    CHECK(ix.find(null_page, 42, {a, {0, 7}, 0}) == null_page);  // other adapter
    CHECK(ix.find(null_page, 42, {a, {}, 9}) == null_page);      // other image
    CHECK(ix.find(page_id{1}, 42, ca) == null_page);             // other parent
    ix.insert(page_id{2}, null_page, 42, cb);                    // two contents under one key both stay findable
    CHECK(ix.find(null_page, 42, cb) == page_id{2});
    CHECK(ix.find(null_page, 42, ca) == page_id{1});
    CHECK(ix.keyed_pages() == 2);
}

TEST_CASE("content keys chain the parent's key, the tokens and the scope") {
    const auto t = seq(8, 0);
    const cache_scope s{3, 4};
    const std::uint64_t k0 = content_key(0, {std::span(t).first(4), s, 0});
    const std::uint64_t k1 = content_key(k0, {std::span(t).subspan(4, 4), s, 0});
    CHECK(k0 != content_key(0, {std::span(t).first(4), cache_scope{3, 5}, 0}));
    CHECK(k0 != content_key(0, {std::span(t).first(4), s, 1}));
    CHECK(k1 != content_key(k0 + 1, {std::span(t).subspan(4, 4), s, 0}));

    auto pool = lru_pool::create(pool_size{9}, 4).value();
    event_log log;
    pool.set_event_sink([&](const kv_event& e) { log(e); });
    run(pool, seq(9, 0), true, s);
    REQUIRE(log.events.size() == 2);
    CHECK(log.events[0].kind == kv_event_kind::stored);
    CHECK(log.events[0].key == k0);
    CHECK_FALSE(log.events[0].has_parent);
    CHECK(log.events[1].key == k1);
    CHECK(log.events[1].parent_key == k0);
    CHECK(log.events[1].has_parent);
    CHECK(log.tokens[1] == seq(4, 4));
    CHECK(log.events[1].scope == s);
    CHECK(log.events[1].layers == attention_kind::full);
    CHECK(pool.key_of(log.events[1].page) == k1);
}

TEST_CASE("a page held by two requests is owned by both and cached only when both let go") {
    auto pool = lru_pool::create(pool_size{17}, 4).value();
    const auto t = seq(9, 0);
    run(pool, t);
    const request_id b = pool.add_request(cache_scope{}).value(), c = pool.add_request(cache_scope{}).value();
    CHECK(pool.attach_prefix(b, t).value() == 8);
    CHECK(pool.attach_prefix(c, t).value() == 8);
    CHECK(pool.ref_count(page_id{1}) == 2);
    CHECK(pool.used_pages() == 2);
    CHECK(pool.check_invariants().ok());
    REQUIRE(pool.free_request(b).ok());
    CHECK(pool.ref_count(page_id{1}) == 1);
    CHECK_FALSE(pool.is_cached(page_id{1}));
    REQUIRE(pool.free_request(c).ok());
    CHECK(pool.ref_count(page_id{1}) == 0);
    CHECK(pool.is_cached(page_id{1}));
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("allocation takes free pages first, then evicts in LRU order, a chain's tail first") {
    auto pool = lru_pool::create(pool_size{9}, 4).value();
    event_log log;
    pool.set_event_sink([&](const kv_event& e) { log(e); });
    const auto a = seq(9, 100), b = seq(9, 200), c = seq(9, 300);
    run(pool, a);  // pages 1, 2
    run(pool, b);  // pages 3, 4
    run(pool, c);  // pages 5, 6; cache order (oldest first): 2 1 4 3 6 5
    CHECK(pool.cached_pages() == 6);
    CHECK(pool.free_pages() == 2);

    const request_id d = pool.add_request().value();
    REQUIRE(pool.extend(d, 12).ok());  // the 2 free pages, then one eviction
    CHECK(values(pool.pages(d)) == std::vector<std::int32_t>{7, 8, 2});
    CHECK(log.pages(kv_event_kind::removed) == std::vector<std::int32_t>{2});
    CHECK(pool.lookup(a, {}) == 4);  // a's first page is still cached
    REQUIRE(pool.extend(d, 8).ok());
    CHECK(log.pages(kv_event_kind::removed) == std::vector<std::int32_t>{2, 1, 4});
    CHECK(pool.lookup(a, {}) == 0);
    CHECK(pool.lookup(b, {}) == 4);
    CHECK(pool.lookup(c, {}) == 8);
    CHECK(pool.stats().evicted_pages == 3);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a hit takes pages out of the eviction order; released again they are the most recent") {
    auto pool = lru_pool::create(pool_size{9}, 4).value();
    const auto a = seq(9, 100), b = seq(9, 200), c = seq(9, 300);
    run(pool, a);
    run(pool, b);
    run(pool, c);  // cache order: 2 1 4 3 6 5
    const request_id hit = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(hit, a).value() == 8);  // pages 1, 2 are in use now
    CHECK(pool.cached_pages() == 4);
    const request_id d = pool.add_request().value();
    REQUIRE(pool.extend(d, 12).ok());  // free 7, 8, then evicts 4 (not 2: it is held)
    CHECK(values(pool.pages(d)) == std::vector<std::int32_t>{7, 8, 4});
    REQUIRE(pool.free_request(hit).ok());  // cache order: 3 6 5 2 1
    REQUIRE(pool.extend(d, 12).ok());      // evicts 3 6 5
    CHECK(pool.lookup(a, {}) == 8);
    CHECK(pool.lookup(b, {}) == 0);
    CHECK(pool.lookup(c, {}) == 0);
    REQUIRE(pool.extend(d, 4).ok());  // evicts 2: a's tail before its head
    CHECK(pool.lookup(a, {}) == 4);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("evicting a page drops the cached pages below it: no key outlives its parent") {
    auto pool = prio_pool::create(pool_size{5}, 4).value();
    event_log log;
    pool.set_event_sink([&](const kv_event& e) { log(e); });
    // The first page gets a low priority, so it is chosen while its children are still cached.
    run(pool, seq(13, 0), true, {}, retention{50, 4, 10});  // pages 1 2 3 cached, page 4 free
    const std::uint64_t k1 = *pool.key_of(page_id{1}), k2 = *pool.key_of(page_id{2});
    const request_id d = pool.add_request().value();
    REQUIRE(pool.extend(d, 8).ok());  // free page 4, then evicts page 1, whose subtree goes too
    CHECK(values(pool.pages(d)) == std::vector<std::int32_t>{4, 1});
    CHECK(log.pages(kv_event_kind::removed) == std::vector<std::int32_t>{3, 2, 1});  // leaves first
    CHECK(log.events[3].parent_key == k2);
    CHECK(log.events[4].parent_key == k1);
    CHECK_FALSE(log.events[5].has_parent);
    CHECK(pool.cached_pages() == 0);
    CHECK(pool.free_pages() == 2);
    CHECK(pool.index().keyed_pages() == 0);
    CHECK(pool.stats().evicted_pages == 3);
    CHECK(pool.lookup(seq(13, 0), {}) == 0);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a failed allocation changes no reference count, cached page or key") {
    auto pool = lru_pool::create(pool_size{9}, 4).value();
    const auto a = seq(9, 100), b = seq(9, 200);
    run(pool, a);
    run(pool, b);
    const request_id r = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(r, a).value() == 8);  // pages 1, 2 shared by r; 3, 4 cached
    std::vector<std::int32_t> refs_before;
    for (std::int32_t p = 0; p < 9; ++p) refs_before.push_back(pool.ref_count(page_id{p}));
    const cache_stats stats_before = pool.stats();
    // 4 free + 2 cached pages can be had; 7 cannot.
    CHECK(pool.extend(r, 7 * 4).code() == errc::out_of_full_pages);
    std::vector<std::int32_t> refs_after;
    for (std::int32_t p = 0; p < 9; ++p) refs_after.push_back(pool.ref_count(page_id{p}));
    CHECK(refs_after == refs_before);
    CHECK(pool.stats() == stats_before);
    CHECK(pool.cached_pages() == 2);
    CHECK(pool.free_pages() == 4);
    CHECK(pool.length_tokens(r) == 8);
    CHECK(pool.lookup(b, {}) == 8);
    REQUIRE(pool.extend(r, 6 * 4).ok());  // exactly what is available
    CHECK(pool.available_pages() == 0);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("reset_cache succeeds only when no page is in use") {
    auto pool = lru_pool::create(pool_size{9}, 4).value();
    event_log log;
    pool.set_event_sink([&](const kv_event& e) { log(e); });
    const auto a = seq(9, 0);
    run(pool, a);
    const request_id idle = pool.add_request().value();  // live but empty: holds nothing
    const request_id r = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(r, seq(5, 0)).value() == 4);
    CHECK(pool.reset_cache().code() == errc::cache_in_use);
    CHECK(pool.lookup(a, {}) == 8);
    CHECK(pool.cached_pages() == 1);
    REQUIRE(pool.free_request(r).ok());
    REQUIRE(pool.reset_cache().ok());
    CHECK(pool.cached_pages() == 0);
    CHECK(pool.free_pages() == 8);
    CHECK(pool.index().keyed_pages() == 0);
    CHECK(pool.lookup(a, {}) == 0);
    CHECK(log.events.back().kind == kv_event_kind::cleared);
    CHECK(pool.contains(idle));
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a preempted request resumes on its own prefix") {
    auto pool = lru_pool::create(pool_size{17}, 4).value();
    auto t = seq(10, 0);
    const request_id r = run(pool, t, false);
    for (token_id next : {50, 51, 52}) {  // three decode steps
        t.push_back(next);
        REQUIRE(pool.extend(r, 1).ok());
        REQUIRE(pool.commit(r, 1).ok());  // plain commit: keys nothing
    }
    const std::vector<std::int32_t> held = values(pool.pages(r));
    REQUIRE(pool.preempt(r, t).ok());  // 13 tokens: pages of 0..11 stay cached
    CHECK_FALSE(pool.contains(r));
    CHECK(pool.cached_pages() == 3);
    const request_id resumed = pool.add_request(cache_scope{}).value();
    CHECK(pool.attach_prefix(resumed, t).value() == 12);
    CHECK(values(pool.pages(resumed)) == std::vector<std::int32_t>(held.begin(), held.begin() + 3));
    REQUIRE(pool.extend(resumed, 1).ok());  // recompute token 12 only
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a page computed twice stays unkeyed; the request's next pages chain onto the cached one") {
    auto pool = lru_pool::create(pool_size{17}, 4).value();
    const auto t = seq(8, 0);
    auto u = t;
    for (token_id x : {90, 91, 92, 93}) u.push_back(x);
    const request_id a = pool.add_request(cache_scope{}).value(), b = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.extend(a, 8).ok());
    REQUIRE(pool.extend(b, 8).ok());  // both prefill the same prompt in the same step
    REQUIRE(pool.commit(a, 8, t).ok());
    REQUIRE(pool.commit(b, 8, t).ok());
    CHECK(pool.stats().stored_pages == 2);  // b's pages 3, 4 duplicate a's 1, 2
    CHECK_FALSE(pool.key_of(page_id{3}));
    REQUIRE(pool.extend(b, 4).ok());
    REQUIRE(pool.commit(b, 4, u).ok());
    CHECK(pool.stats().stored_pages == 3);
    CHECK(pool.index().parent(page_id{5}) == page_id{2});  // under a's page, not b's own page 4
    REQUIRE(pool.free_request(a).ok());
    REQUIRE(pool.free_request(b).ok());
    CHECK(pool.cached_pages() == 3);  // 1, 2, 5; the duplicates 3, 4 went to the free list
    CHECK(pool.free_pages() == 13);
    auto v = u;
    v.push_back(94);
    const request_id c = pool.add_request(cache_scope{}).value();
    CHECK(pool.attach_prefix(c, v).value() == 12);
    CHECK(values(pool.pages(c)) == std::vector<std::int32_t>{1, 2, 5});
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("truncating into a shared page fails; into an own keyed page unkeys it") {
    auto pool = lru_pool::create(pool_size{17}, 4).value();
    event_log log;
    pool.set_event_sink([&](const kv_event& e) { log(e); });
    const auto t = seq(9, 0);
    const request_id a = run(pool, seq(8, 0), false);  // holds keyed pages 1, 2
    const request_id b = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.attach_prefix(b, t).value() == 8);
    CHECK(pool.truncate(b, 5).code() == errc::truncate_into_shared_page);  // would rewrite page 2
    CHECK(pool.length_tokens(b) == 8);
    CHECK(pool.ref_count(page_id{2}) == 2);
    REQUIRE(pool.truncate(b, 4).ok());  // drops page 2 whole: fine
    CHECK(pool.ref_count(page_id{2}) == 1);
    REQUIRE(pool.truncate(a, 6).ok());  // a alone holds page 2 and will rewrite tokens 6, 7
    CHECK_FALSE(pool.key_of(page_id{2}));
    CHECK(log.pages(kv_event_kind::removed) == std::vector<std::int32_t>{2});
    CHECK(pool.lookup(t, {}) == 4);
    auto rewritten = seq(6, 0);
    rewritten.push_back(70);
    rewritten.push_back(71);
    REQUIRE(pool.extend(a, 2).ok());
    REQUIRE(pool.commit(a, 2, rewritten).ok());  // page 2 keyed again, with its new content
    rewritten.push_back(72);
    CHECK(pool.lookup(rewritten, {}) == 8);
    CHECK(pool.lookup(t, {}) == 4);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("stats count lookups, queried and hit tokens, stored and evicted pages") {
    auto pool = lru_pool::create(pool_size{5}, 4).value();
    run(pool, seq(9, 0));   // lookup of 9 tokens, 0 hit; stores 2 pages
    run(pool, seq(9, 0));   // lookup of 9 tokens, 8 hit
    run(pool, seq(13, 0));  // lookup of 13 tokens, 8 hit; stores 1 page (12 tokens committed)
    run(pool, seq(5, 50));  // 0 hit; needs 2 pages: 1 free page + 1 eviction; stores 1
    const cache_stats s = pool.stats();
    CHECK(s.lookups == 4);
    CHECK(s.queried_tokens == 36);
    CHECK(s.hit_tokens == 16);
    CHECK(s.stored_pages == 4);
    CHECK(s.evicted_pages == 1);
    CHECK(s.hit_rate() == doctest::Approx(16.0 / 36.0));
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("the prefix cache's errors have names") {
    CHECK(to_string(errc::request_not_empty) == "request_not_empty");
    CHECK(to_string(errc::invalid_attach) == "invalid_attach");
    CHECK(to_string(errc::tokens_too_short) == "tokens_too_short");
    CHECK(to_string(errc::truncate_into_shared_page) == "truncate_into_shared_page");
    CHECK(to_string(errc::not_cached) == "not_cached");
    auto pool = lru_pool::create(pool_size{9}, 4).value();
    const request_id r = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.extend(r, 8).ok());
    CHECK(pool.commit(r, 8, seq(7, 0)).code() == errc::tokens_too_short);  // 2 whole pages need 8
    CHECK(pool.committed_tokens(r) == 0);
    CHECK(pool.drop_cached(page_id{1}).code() == errc::not_cached);  // owned, not cached
    const page_id two[2] = {page_id{5}, page_id{6}};
    const request_id e = pool.add_request(cache_scope{}).value();
    CHECK(pool.attach_pages(e, two, 8, 8).code() == errc::invalid_attach);  // free pages
    CHECK(pool.attach_pages(e, std::span(two).first(1), 8, 8).code() == errc::invalid_attach);
    CHECK(pool.attach_pages(r, std::span(two).first(1), 4, 4).code() == errc::request_not_empty);
    CHECK(pool.check_invariants().ok());
}

TEST_CASE("a pool without a cache frees every released page, as before") {
    auto pool = full_pool<>::create(pool_size{9}, 4).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 12).ok());
    REQUIRE(pool.commit(r, 12).ok());
    REQUIRE(pool.free_request(r).ok());
    CHECK(pool.free_pages() == 8);
    CHECK(pool.cached_pages() == 0);
    CHECK(pool.stats() == cache_stats{});
    CHECK(pool.check_invariants().ok());
}
