// The bad-input catalogue (docs/errors.md): every public entry point, with each kind of bad input it
// can receive, returns the error that names the problem and leaves the pool's observable state
// exactly as it was (state digest before == after; output buffers untouched). Each rejection sits
// next to a control: the nearest good input, which succeeds, so the boundary is the documented one.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include <cstdint>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include <pagedkv/debug/state_digest.hpp>
#include <pagedkv/pagedkv.hpp>

using namespace pagedkv;

namespace {

constexpr std::int32_t page_tokens = 4;
constexpr std::int64_t window = 6;
constexpr request_id never_issued{99, 0};

/// `call()` must fail with `want` and change nothing `owner` lets a caller observe.
template <class Owner, class Call>
void rejects(const Owner& owner, errc want, Call&& call) {
    const std::uint64_t before = state_digest(owner);
    const errc got = call().code();
    CHECK_MESSAGE(got == want, "returned " << to_string(got) << ", the catalogue says " << to_string(want));
    CHECK(state_digest(owner) == before);
    CHECK(owner.check_invariants().ok());
}

/// A pool holding requests in every state a bad call can meet:
///   live   12 tokens, 9 committed (3 in flight); in SWA views its page 0 is already released
///   fresh  5 tokens, none committed
///   stale  freed; its slot was reused by `reused`, so only its generation tells it apart
template <class Pool>
struct world {
    Pool pool;
    request_id live, fresh, stale, reused;

    explicit world(Pool p) : pool(std::move(p)) {
        live = pool.add_request().value();
        REQUIRE(pool.extend(live, 10));
        REQUIRE(pool.commit(live, 9));
        REQUIRE(pool.extend(live, 3));
        fresh = pool.add_request().value();
        REQUIRE(pool.extend(fresh, 5));
        stale = pool.add_request().value();
        REQUIRE(pool.free_request(stale));
        reused = pool.add_request().value();
        REQUIRE(reused.slot == stale.slot);
        REQUIRE(reused.generation != stale.generation);
    }
};

// `short_of_pages`: what a slightly too large extend returns; `exhausted`: what one far too large
// returns (in a hybrid pool both pools are short then, and the full pool is named first).
struct full_world : world<full_pool<>> {
    static constexpr errc short_of_pages = errc::out_of_full_pages, exhausted = errc::out_of_full_pages;
    full_world() : world(full_pool<>::create(pool_size{16}, page_tokens).value()) {}
    std::int32_t free_pages() const { return pool.free_pages(); }
};
struct swa_world : world<swa_pool<>> {
    static constexpr errc short_of_pages = errc::out_of_swa_pages, exhausted = errc::out_of_swa_pages;
    swa_world() : world(swa_pool<>::create(pool_size{16}, page_tokens, window).value()) {}
    std::int32_t free_pages() const { return pool.free_pages(); }
};
// The SWA pool is the smaller one here, so it runs dry first.
struct hybrid_world : world<hybrid_pool<>> {
    static constexpr errc short_of_pages = errc::out_of_swa_pages, exhausted = errc::out_of_full_pages;
    hybrid_world() : world(hybrid_pool<>::create(pool_size{16}, pool_size{10}, page_tokens, window).value()) {}
    std::int32_t free_pages() const { return pool.swa().free_pages(); }
};

constexpr bool sliding(const full_world&) { return false; }
constexpr bool sliding(const swa_world&) { return true; }
constexpr bool sliding(const hybrid_world&) { return true; }

template <class T>
bool untouched(std::span<const T> buf, T sentinel) {
    for (T v : buf)
        if (v != sentinel) return false;
    return true;
}

}  // namespace

// ---- create -------------------------------------------------------------------------------------

TEST_CASE(
    "create: page size below 1 -> invalid_page_size; pool below 2 pages -> invalid_pool_size; "
    "window below 1 -> invalid_window") {
    for (std::int32_t bad_page : {0, -1, INT32_MIN}) {
        CHECK(full_pool<>::create(pool_size{8}, bad_page).code() == errc::invalid_page_size);
        CHECK(swa_pool<>::create(pool_size{8}, bad_page, window).code() == errc::invalid_page_size);
        CHECK(hybrid_pool<>::create(pool_size{8}, pool_size{8}, bad_page, window).code() == errc::invalid_page_size);
    }
    for (std::int32_t bad_size : {1, 0, -1, INT32_MIN}) {
        CHECK(full_pool<>::create(pool_size{bad_size}, page_tokens).code() == errc::invalid_pool_size);
        CHECK(swa_pool<>::create(pool_size{bad_size}, page_tokens, window).code() == errc::invalid_pool_size);
        CHECK(hybrid_pool<>::create(pool_size{bad_size}, pool_size{8}, page_tokens, window).code() ==
              errc::invalid_pool_size);
        CHECK(hybrid_pool<>::create(pool_size{8}, pool_size{bad_size}, page_tokens, window).code() ==
              errc::invalid_pool_size);
    }
    for (std::int64_t bad_window : {std::int64_t{0}, std::int64_t{-1}, INT64_MIN}) {
        CHECK(swa_pool<>::create(pool_size{8}, page_tokens, bad_window).code() == errc::invalid_window);
        CHECK(hybrid_pool<>::create(pool_size{8}, pool_size{8}, page_tokens, bad_window).code() ==
              errc::invalid_window);
    }
    // Controls: the smallest valid values, and the largest page size and window.
    CHECK(full_pool<>::create(pool_size{2}, 1).ok());
    CHECK(swa_pool<>::create(pool_size{2}, INT32_MAX, INT64_MAX).ok());
    CHECK(hybrid_pool<>::create(pool_size{2}, pool_size{2}, 1, 1).ok());
}

// Pool sizes are int32 page counts (what table entries can address): a larger count does not
// convert to pool_size at all, nor does any wider type (issue 12: `pool_size(v)` narrowed);
// wide counts go through pool_size::from_count (test_contracts.cpp).
template <auto Pages>
constexpr bool expressible_pool_size = requires { pool_size{Pages}; };
static_assert(expressible_pool_size<std::int32_t{INT32_MAX}>);
static_assert(!expressible_pool_size<std::int64_t{INT32_MAX} + 1>);
static_assert(!expressible_pool_size<std::int64_t{8}>);

// ---- mutations ----------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("extend: ids that are not live -> unknown_request", W, full_world, swa_world, hybrid_world) {
    W w;
    for (request_id bad : {w.stale, never_issued})
        rejects(w.pool, errc::unknown_request, [&] { return w.pool.extend(bad, 1); });
    auto copy = w.pool;  // a double free leaves an id behind too
    REQUIRE(copy.free_request(w.fresh));
    rejects(copy, errc::unknown_request, [&] { return copy.extend(w.fresh, 1); });
    CHECK(w.pool.extend(w.reused, 1).ok());  // control: the slot's new owner
}

TEST_CASE_TEMPLATE("extend: negative token count -> negative_length", W, full_world, swa_world, hybrid_world) {
    W w;
    for (std::int64_t n : {std::int64_t{-1}, INT64_MIN})
        rejects(w.pool, errc::negative_length, [&] { return w.pool.extend(w.live, n); });
    CHECK(w.pool.extend(w.live, 0).ok());
}

TEST_CASE_TEMPLATE("extend: more pages than int32 table entries address -> length_overflow", W, full_world, swa_world,
                   hybrid_world) {
    W w;
    const std::int64_t room = max_tokens_per_request(page_tokens) - 5;  // fresh holds 5 tokens
    for (std::int64_t n : {room + 1, INT64_MAX})
        rejects(w.pool, errc::length_overflow, [&] { return w.pool.extend(w.fresh, n); });
    // Control: exactly INT32_MAX pages is addressable, so the error becomes the pool's size.
    rejects(w.pool, W::exhausted, [&] { return w.pool.extend(w.fresh, room); });
}

TEST_CASE_TEMPLATE("extend: more pages than the pool has free -> out_of_full_pages / out_of_swa_pages", W, full_world,
                   swa_world, hybrid_world) {
    W w;
    // fresh's last page has 3 free slots; every further 4 tokens need one more page.
    const std::int64_t fits = 3 + std::int64_t{w.free_pages()} * page_tokens;
    rejects(w.pool, W::short_of_pages, [&] { return w.pool.extend(w.fresh, fits + 1); });
    auto copy = w.pool;
    CHECK(copy.extend(w.fresh, fits).ok());
    CHECK(copy.check_invariants().ok());
}

TEST_CASE("hybrid extend: the pool that runs short is named; the full pool first when both do") {
    hybrid_world w;  // full pool: 10 free pages; SWA pool: 5
    REQUIRE(w.pool.full().free_pages() == 10);
    REQUIRE(w.pool.swa().free_pages() == 5);
    rejects(w.pool, errc::out_of_swa_pages, [&] { return w.pool.extend(w.fresh, 3 + 6 * page_tokens); });
    rejects(w.pool, errc::out_of_full_pages, [&] { return w.pool.extend(w.fresh, 3 + 11 * page_tokens); });
    auto tight_full = hybrid_pool<>::create(pool_size{4}, pool_size{32}, page_tokens, window).value();
    const request_id r = tight_full.add_request().value();
    rejects(tight_full, errc::out_of_full_pages, [&] { return tight_full.extend(r, 3 * page_tokens + 1); });
    CHECK(tight_full.extend(r, 3 * page_tokens).ok());
}

TEST_CASE_TEMPLATE("commit: ids that are not live -> unknown_request", W, full_world, swa_world, hybrid_world) {
    W w;
    for (request_id bad : {w.stale, never_issued})
        rejects(w.pool, errc::unknown_request, [&] { return w.pool.commit(bad, 0); });
}

TEST_CASE_TEMPLATE("commit: negative token count -> negative_length", W, full_world, swa_world, hybrid_world) {
    W w;
    for (std::int64_t n : {std::int64_t{-1}, INT64_MIN})
        rejects(w.pool, errc::negative_length, [&] { return w.pool.commit(w.live, n); });
}

TEST_CASE_TEMPLATE("commit: more tokens than are in flight -> commit_exceeds_reserved", W, full_world, swa_world,
                   hybrid_world) {
    W w;  // live has 3 tokens in flight, fresh 5
    for (std::int64_t n : {std::int64_t{4}, INT64_MAX})
        rejects(w.pool, errc::commit_exceeds_reserved, [&] { return w.pool.commit(w.live, n); });
    rejects(w.pool, errc::commit_exceeds_reserved, [&] { return w.pool.commit(w.fresh, 6); });
    auto copy = w.pool;
    REQUIRE(copy.commit(w.live, 3));  // nothing in flight now: committing even one token is too many
    rejects(copy, errc::commit_exceeds_reserved, [&] { return copy.commit(w.live, 1); });
    CHECK(copy.commit(w.live, 0).ok());
}

TEST_CASE_TEMPLATE("truncate: ids that are not live -> unknown_request", W, full_world, swa_world, hybrid_world) {
    W w;
    for (request_id bad : {w.stale, never_issued})
        rejects(w.pool, errc::unknown_request, [&] { return w.pool.truncate(bad, 0); });
}

TEST_CASE_TEMPLATE("truncate: negative length -> negative_length", W, full_world, swa_world, hybrid_world) {
    W w;
    for (std::int64_t n : {std::int64_t{-1}, INT64_MIN})
        rejects(w.pool, errc::negative_length, [&] { return w.pool.truncate(w.live, n); });
}

TEST_CASE_TEMPLATE("truncate: longer than the request -> truncate_past_length", W, full_world, swa_world,
                   hybrid_world) {
    W w;  // live holds 12 tokens
    for (std::int64_t n : {std::int64_t{13}, INT64_MAX})
        rejects(w.pool, errc::truncate_past_length, [&] { return w.pool.truncate(w.live, n); });
    auto copy = w.pool;
    CHECK(copy.truncate(w.live, 12).ok());
}

TEST_CASE_TEMPLATE("truncate: into pages the window already released -> window_already_released (SWA views)", W,
                   full_world, swa_world, hybrid_world) {
    W w;  // committed 9, W = 6, P = 4: the next query sees keys from 4 on, so page 0 is released
    auto copy = w.pool;
    if (sliding(w)) {
        // At 8 committed tokens the next query would see key 3, in the released page 0.
        rejects(w.pool, errc::window_already_released, [&] { return w.pool.truncate(w.live, 8); });
        rejects(w.pool, errc::window_already_released, [&] { return w.pool.truncate(w.live, 0); });
    } else {
        CHECK(copy.truncate(w.live, 0).ok());  // full pools release nothing, so any rollback works
    }
    auto control = w.pool;
    CHECK(control.truncate(w.live, 9).ok());
}

TEST_CASE_TEMPLATE("free_request: double free, stale or never-issued id -> unknown_request", W, full_world, swa_world,
                   hybrid_world) {
    W w;
    for (request_id bad : {w.stale, never_issued})
        rejects(w.pool, errc::unknown_request, [&] { return w.pool.free_request(bad); });
    REQUIRE(w.pool.free_request(w.live));
    rejects(w.pool, errc::unknown_request, [&] { return w.pool.free_request(w.live); });
}

// ---- table emission -----------------------------------------------------------------------------

namespace {

constexpr std::int32_t sentinel32 = -7;
constexpr std::int64_t sentinel64 = -7;

// Runs the emission catalogue through one view. `owner` is the pool the view belongs to;
// `nnz` is what a CSR table of {live, fresh} lists through this view.
template <class Owner, class View>
void emission_catalogue(const Owner& owner, const View& view, const world<Owner>& w, std::int32_t nnz) {
    const std::vector<request_id> batch{w.live, w.fresh};  // 3 and 2 pages; 3 and 5 tokens in flight
    const std::vector<request_id> with_stale{w.live, w.stale};
    const std::vector<request_id> with_never{never_issued};

    SUBCASE("emit_dense_table") {
        std::vector<std::int32_t> buf(64, sentinel32);
        auto dense = [&](std::span<const request_id> b, std::size_t cap, std::int64_t row) {
            return [&, b, cap, row] { return emit_dense_table(view, b, std::span(buf).first(cap), row); };
        };
        rejects(owner, errc::buffer_too_small, dense(batch, 5, 3));    // one entry short
        rejects(owner, errc::buffer_too_small, dense(batch, 3, 3));    // more requests than rows
        rejects(owner, errc::buffer_too_small, dense(batch, 64, -1));  // negative row width
        rejects(owner, errc::buffer_too_small, dense(batch, 64, INT64_MIN));
        rejects(owner, errc::buffer_too_small, dense(batch, 64, INT64_MAX / 2 + 1));  // batch * row overflows
        rejects(owner, errc::row_too_short, dense(batch, 64, 2));                     // live holds 3 pages
        rejects(owner, errc::unknown_request, dense(with_stale, 64, 3));
        rejects(owner, errc::unknown_request, dense(with_never, 64, 3));
        CHECK(untouched<std::int32_t>(buf, sentinel32));
        CHECK(emit_dense_table(view, batch, std::span(buf).first(6), 3).ok());  // control
    }
    SUBCASE("emit_csr_table") {
        std::vector<std::int32_t> indptr(8, sentinel32), indices(64, sentinel32), last(8, sentinel32);
        auto csr = [&](std::span<const request_id> b, std::size_t n_indptr, std::size_t n_indices, std::size_t n_last) {
            return [&, b, n_indptr, n_indices, n_last] {
                return emit_csr_table(view, b,
                                      {std::span(indptr).first(n_indptr), std::span(indices).first(n_indices),
                                       std::span(last).first(n_last)});
            };
        };
        const auto nnz_cap = static_cast<std::size_t>(nnz);
        rejects(owner, errc::buffer_too_small, csr(batch, 2, nnz_cap, 2));      // more requests than indptr rows
        rejects(owner, errc::buffer_too_small, csr(batch, 3, nnz_cap, 1));      // last_page_len one short
        rejects(owner, errc::buffer_too_small, csr(batch, 3, nnz_cap - 1, 2));  // indices one short
        rejects(owner, errc::unknown_request, csr(with_stale, 3, 64, 2));
        rejects(owner, errc::unknown_request, csr(with_never, 3, 64, 2));
        CHECK(untouched<std::int32_t>(indptr, sentinel32));
        CHECK(untouched<std::int32_t>(indices, sentinel32));
        CHECK(untouched<std::int32_t>(last, sentinel32));
        const auto n = csr(batch, 3, nnz_cap, 2)();  // control
        REQUIRE(n.ok());
        CHECK(n.value() == nnz);
    }
    SUBCASE("emit_slot_mapping") {
        std::vector<std::int64_t> slots(16, sentinel64);
        auto map = [&](std::span<const request_id> b, std::size_t cap) {
            return [&, b, cap] { return emit_slot_mapping(view, b, std::span(slots).first(cap)); };
        };
        rejects(owner, errc::buffer_too_small, map(batch, 7));  // 3 + 5 tokens in flight
        rejects(owner, errc::unknown_request, map(with_stale, 16));
        rejects(owner, errc::unknown_request, map(with_never, 16));
        CHECK(untouched<std::int64_t>(slots, sentinel64));
        const auto n = map(batch, 8)();
        REQUIRE(n.ok());
        CHECK(n.value() == 8);
    }
}

}  // namespace

TEST_CASE("emission through a full pool: each bad buffer or batch names its error, nothing written") {
    full_world w;
    emission_catalogue(w.pool, w.pool, w, 5);
}
TEST_CASE("emission through an SWA pool: each bad buffer or batch names its error, nothing written") {
    swa_world w;
    emission_catalogue(w.pool, w.pool, w, 4);  // live's released page 0 is not listed
}
TEST_CASE("emission through a hybrid pool's full view: each bad input names its error, nothing written") {
    hybrid_world w;
    emission_catalogue(w.pool, w.pool.full(), w, 5);
}
TEST_CASE("emission through a hybrid pool's SWA view: each bad input names its error, nothing written") {
    hybrid_world w;
    emission_catalogue(w.pool, w.pool.swa(), w, 4);
}

TEST_CASE("emit_csr_table: more than INT32_MAX indices -> length_overflow, nothing written") {
    // One request of 2^20 pages listed 2^11 times is 2^31 indices, one past what int32 indptr can
    // hold. The indices buffer really has room for them: 8 GiB reserved, never touched.
    constexpr std::int64_t pages = std::int64_t{1} << 20;
    auto pool = full_pool<>::create(pool_size{static_cast<std::int32_t>(pages) + 1}, 1).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, pages));
    const std::vector<request_id> batch(std::size_t{1} << 11, r);
    constexpr std::size_t index_bytes = (std::size_t{1} << 31) * sizeof(std::int32_t);
    void* mem = mmap(nullptr, index_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        MESSAGE("skipped: cannot reserve 8 GiB of address space here");
        return;
    }
    const std::span<std::int32_t> indices(static_cast<std::int32_t*>(mem), std::size_t{1} << 31);
    std::vector<std::int32_t> indptr(batch.size() + 1, sentinel32), last(batch.size(), sentinel32);
    rejects(pool, errc::length_overflow, [&] { return emit_csr_table(pool, batch, {indptr, indices, last}); });
    CHECK(untouched<std::int32_t>(indptr, sentinel32));
    CHECK(untouched<std::int32_t>(last, sentinel32));
    CHECK(indices[0] == 0);  // untouched anonymous memory reads as zero
    munmap(mem, index_bytes);
}

// ---- prefix cache (caching pools) ---------------------------------------------------------------

namespace {

/// A caching pool holding a cached prefix and requests in every state a bad cache call can meet:
///   cached   3 pages of `prompt` (tokens 1..13), keyed by `donor`, which was freed
///   holder   hit those 3 pages (12 committed tokens), then extended 3 more (in flight)
///   twin     hit the same 3 pages: every one of them has two owners
///   empty    a request with no tokens
template <class Pool>
struct cache_world {
    Pool pool;
    std::vector<token_id> prompt;
    request_id holder, twin, empty;

    explicit cache_world(Pool p) : pool(std::move(p)) {
        for (token_id t = 1; t <= 13; ++t) prompt.push_back(t);
        const cache_scope scope{7, 0};
        const request_id donor = pool.add_request(scope).value();
        REQUIRE(pool.extend(donor, 12));
        REQUIRE(pool.commit(donor, 12, prompt));
        REQUIRE(pool.free_request(donor));
        holder = pool.add_request(scope).value();
        REQUIRE(pool.attach_prefix(holder, prompt).value() == 12);
        REQUIRE(pool.extend(holder, 3));
        twin = pool.add_request(scope).value();
        REQUIRE(pool.attach_prefix(twin, prompt).value() == 12);
        empty = pool.add_request(scope).value();
        REQUIRE(pool.check_invariants());
    }
    /// The first `n` prompt tokens.
    std::span<const token_id> first(std::size_t n) const { return std::span<const token_id>(prompt).first(n); }
};

using caching_full = full_pool<lifo_free_stack, lru>;
struct caching_full_world : cache_world<caching_full> {
    caching_full_world() : cache_world(caching_full::create(pool_size{16}, page_tokens).value()) {}
};
struct caching_hybrid_world : cache_world<caching_hybrid_pool<lru>> {
    caching_hybrid_world()
        : cache_world(caching_hybrid_pool<lru>::create(pool_size{16}, pool_size{16}, page_tokens, window).value()) {}
};

}  // namespace

TEST_CASE_TEMPLATE("the state digest sees the prefix index and the cached set, not only page lists", W,
                   caching_full_world, caching_hybrid_world) {
    W w;
    REQUIRE(w.pool.commit(w.holder, 3));
    REQUIRE(w.pool.extend(w.empty, 8));
    REQUIRE(w.pool.commit(w.empty, 8));  // a plain commit keys nothing
    // Keying touches only the index (and its counter): page lists and the free list stay as they are.
    auto keyed = w.pool;
    std::vector<token_id> other(8, 99);
    REQUIRE(keyed.cache_committed(w.empty, other));
    CHECK(state_digest(keyed) != state_digest(w.pool));
    // Two pools that differ only in which pages are cached and which are free.
    auto a = w.pool, b = w.pool;
    REQUIRE(a.free_request(w.holder));
    REQUIRE(a.free_request(w.twin));
    REQUIRE(a.free_request(w.empty));
    REQUIRE(b.free_request(w.holder));
    REQUIRE(b.free_request(w.twin));
    REQUIRE(b.free_request(w.empty));
    CHECK(state_digest(a) == state_digest(b));
    REQUIRE(a.reset_cache());
    CHECK(state_digest(a) != state_digest(b));
}

TEST_CASE_TEMPLATE("attach_prefix: a request that holds tokens -> request_not_empty; ids not live -> unknown_request",
                   W, caching_full_world, caching_hybrid_world) {
    W w;
    rejects(w.pool, errc::request_not_empty, [&] { return w.pool.attach_prefix(w.holder, w.prompt); });
    rejects(w.pool, errc::request_not_empty, [&] { return w.pool.attach_prefix(w.twin, w.first(5)); });
    rejects(w.pool, errc::unknown_request, [&] { return w.pool.attach_prefix(never_issued, w.prompt); });
    CHECK(w.pool.attach_prefix(w.empty, w.prompt).value() == 12);  // control: the empty request
}

TEST_CASE_TEMPLATE(
    "commit with tokens, cache_committed, preempt: fewer tokens than the committed whole pages "
    "-> tokens_too_short",
    W, caching_full_world, caching_hybrid_world) {
    W w;
    // holder: 12 committed + 3 in flight. A commit of 3 makes 15 committed: 3 whole pages = 12 tokens.
    rejects(w.pool, errc::tokens_too_short, [&] { return w.pool.commit(w.holder, 3, w.first(11)); });
    rejects(w.pool, errc::tokens_too_short, [&] { return w.pool.cache_committed(w.holder, w.first(11)); });
    rejects(w.pool, errc::tokens_too_short, [&] { return w.pool.preempt(w.twin, w.first(0)); });
    // The commit's own errors come first, as documented.
    rejects(w.pool, errc::commit_exceeds_reserved, [&] { return w.pool.commit(w.holder, 4, w.first(0)); });
    rejects(w.pool, errc::unknown_request, [&] { return w.pool.cache_committed(never_issued, w.prompt); });
    rejects(w.pool, errc::unknown_request, [&] { return w.pool.preempt(never_issued, w.prompt); });
    // Controls: exactly the whole pages' tokens.
    CHECK(w.pool.cache_committed(w.holder, w.first(12)).ok());
    CHECK(w.pool.commit(w.holder, 3, w.first(12)).ok());
    CHECK(w.pool.preempt(w.twin, w.first(12)).ok());
}

TEST_CASE_TEMPLATE("truncate: into a partial page another request holds -> truncate_into_shared_page", W,
                   caching_full_world, caching_hybrid_world) {
    W w;
    // Page 2 (tokens 8..11) is held by holder and twin; holder's SWA window still needs it.
    rejects(w.pool, errc::truncate_into_shared_page, [&] { return w.pool.truncate(w.holder, 10); });
    rejects(w.pool, errc::truncate_into_shared_page, [&] { return w.pool.truncate(w.twin, 9); });
    CHECK(w.pool.truncate(w.holder, 12).ok());  // control: a page boundary rewrites nothing shared
    REQUIRE(w.pool.free_request(w.twin));
    CHECK(w.pool.truncate(w.holder, 10).ok());  // control: the page has one owner now
}

TEST_CASE_TEMPLATE("reset_cache: while any request owns a page -> cache_in_use", W, caching_full_world,
                   caching_hybrid_world) {
    W w;
    rejects(w.pool, errc::cache_in_use, [&] { return w.pool.reset_cache(); });
    REQUIRE(w.pool.free_request(w.holder));
    rejects(w.pool, errc::cache_in_use, [&] { return w.pool.reset_cache(); });  // twin still holds the prefix
    REQUIRE(w.pool.free_request(w.twin));
    CHECK(w.pool.reset_cache().ok());  // control: only the empty request is left, holding nothing
    CHECK(w.pool.attach_prefix(w.empty, w.prompt).value() == 0);
}

TEST_CASE("attach_pages: pages that do not fit the length, free, null or out-of-range pages -> invalid_attach") {
    caching_full_world w;
    const page_id shared = w.pool.pages(w.holder)[0], tail = w.pool.pages(w.holder)[3];
    REQUIRE(w.pool.free_request(w.twin));
    REQUIRE(w.pool.free_request(w.holder));  // pages 0..2 cached again, the tail page free
    const request_id r = w.empty;
    const page_id one[] = {shared};
    const page_id two[] = {shared, shared};
    rejects(w.pool, errc::invalid_attach, [&] { return w.pool.attach_pages(r, one, 5, 5); });   // not whole pages
    rejects(w.pool, errc::invalid_attach, [&] { return w.pool.attach_pages(r, one, 8, 8); });   // too few pages
    rejects(w.pool, errc::invalid_attach, [&] { return w.pool.attach_pages(r, two, 4, 4); });   // too many
    rejects(w.pool, errc::invalid_attach, [&] { return w.pool.attach_pages(r, one, -4, 0); });  // negative
    for (page_id bad : {tail, null_page, page_id{16}, page_id{-1}}) {  // free, null, out of range
        const page_id list[] = {bad};
        rejects(w.pool, errc::invalid_attach, [&] { return w.pool.attach_pages(r, list, 4, 4); });
    }
    rejects(w.pool, errc::unknown_request, [&] { return w.pool.attach_pages(never_issued, one, 4, 4); });
    CHECK(w.pool.attach_pages(r, one, 4, 4).ok());  // control: one cached page, 4 tokens
    rejects(w.pool, errc::request_not_empty, [&] { return w.pool.attach_pages(r, one, 4, 4); });
}

TEST_CASE("attach_pages on an SWA pool: a live entry inside the released prefix -> invalid_attach") {
    auto pool = swa_pool<lifo_free_stack, lru>::create(pool_size{8}, page_tokens, window).value();
    const request_id owner = pool.add_request(cache_scope{}).value();
    REQUIRE(pool.extend(owner, 12));
    const page_id p1 = pool.pages(owner)[1], p2 = pool.pages(owner)[2];
    const request_id r = pool.add_request(cache_scope{}).value();
    // 12 tokens: the next query sees keys from 7 on, so page 0 is released (null) and pages 1, 2 live.
    const page_id live_in_released[] = {p1, p1, p2};
    const page_id null_in_window[] = {null_page, null_page, p2};
    rejects(pool, errc::invalid_attach, [&] { return pool.attach_pages(r, live_in_released, 12, 12); });
    rejects(pool, errc::invalid_attach, [&] { return pool.attach_pages(r, null_in_window, 12, 12); });
    const page_id good[] = {null_page, p1, p2};
    CHECK(pool.attach_pages(r, good, 12, 12).ok());  // control
    CHECK(pool.ref_count(p1) == 2);
}

TEST_CASE("drop_cached: a page that is not cached -> not_cached") {
    caching_full_world w;
    const page_id owned = w.pool.pages(w.holder)[0], tail = w.pool.pages(w.holder)[3];
    for (page_id bad : {owned, null_page, page_id{16}, page_id{-1}})
        rejects(w.pool, errc::not_cached, [&] { return w.pool.drop_cached(bad); });
    REQUIRE(w.pool.free_request(w.twin));
    REQUIRE(w.pool.free_request(w.holder));
    rejects(w.pool, errc::not_cached, [&] { return w.pool.drop_cached(tail); });  // free, not cached
    CHECK(w.pool.drop_cached(owned).ok());  // control: the prefix's first page, cached now
    CHECK(w.pool.free_pages() == 15);       // its descendants went with it: every page is free
}

// ---- wrong kinds: not expressible, so compile errors rather than runtime errors ------------------

namespace {

template <class Source>
constexpr bool emits_tables = requires(const Source& s, std::span<const request_id> b, std::span<std::int32_t> d,
                                       csr_table_out c, std::span<std::int64_t> m) {
    emit_dense_table(s, b, d, 1);
    emit_csr_table(s, b, c);
    emit_slot_mapping(s, b, m);
};
template <class Hybrid>
constexpr bool views_mutate = requires(Hybrid& h, request_id r) { h.full().extend(r, 1); } ||
                              requires(Hybrid& h, request_id r) { h.swa().free_request(r); };
template <class Hybrid>
constexpr bool mapping_writable = requires(Hybrid& h) { h.full_to_swa()[0] = null_page; };
template <class Full, class Swa>
constexpr bool pairs_as_hybrid = requires { typename hybrid_pool<Full, Swa>; };
template <class Pool>
constexpr bool takes_window = requires { Pool::create(pool_size{8}, page_tokens, window); };
template <class Pool>
constexpr bool takes_no_window = requires { Pool::create(pool_size{8}, page_tokens); };
template <class Pool>
constexpr bool frees_by_page_id = requires(Pool& p, page_id g) { p.free_request(g); };

}  // namespace

// A hybrid pool holds two kinds of pages: a table must name its view (full() or swa()), and the
// view's type fixes whether SWA rows are trimmed. No view of the wrong kind can be asked for.
static_assert(emits_tables<full_pool<>> && emits_tables<swa_pool<>>);
static_assert(!emits_tables<hybrid_pool<>>);
static_assert(std::remove_cvref_t<decltype(std::declval<const hybrid_pool<>&>().swa())>::kind ==
              attention_kind::sliding);
// Views are read-only: nothing can change one pool of a hybrid without the other and the mapping.
static_assert(!views_mutate<hybrid_pool<>>);
static_assert(!mapping_writable<hybrid_pool<>>);
// The kinds are part of the types: swapped pools, a windowed full pool or a windowless SWA pool,
// and a page id passed as a request id do not compile.
static_assert(pairs_as_hybrid<full_pool<>, swa_pool<>> && !pairs_as_hybrid<swa_pool<>, full_pool<>>);
static_assert(takes_window<swa_pool<>> && !takes_window<full_pool<>>);
static_assert(takes_no_window<full_pool<>> && !takes_no_window<swa_pool<>>);
static_assert(!frees_by_page_id<full_pool<>>);

// docs/errors.md, "When several errors apply": the first error of each entry point's order.
TEST_CASE("bad inputs: when several errors apply, each entry point returns the first of its documented order") {
    CHECK(full_pool<>::create(pool_size{1}, 0).code() == errc::invalid_page_size);
    CHECK(swa_pool<>::create(pool_size{1}, 4, 0).code() == errc::invalid_pool_size);
    CHECK(hybrid_pool<>::create(pool_size{8}, pool_size{1}, 0, 0).code() == errc::invalid_page_size);

    auto pool = hybrid_pool<>::create(pool_size{6}, pool_size{4}, 4, 4).value();
    const request_id r = pool.add_request().value();
    const std::uint64_t before = state_digest(pool);
    CHECK(pool.extend(no_request, -1).code() == errc::unknown_request);
    CHECK(pool.extend(r, -1).code() == errc::negative_length);
    CHECK(pool.extend(r, 100).code() == errc::out_of_full_pages);  // both pools short: the full one first
    CHECK(pool.commit(r, -1).code() == errc::negative_length);
    CHECK(pool.truncate(r, -1).code() == errc::negative_length);
    CHECK(pool.truncate(no_request, 5).code() == errc::unknown_request);
    CHECK(pool.add_committed_request(-1).code() == errc::negative_length);
    CHECK(state_digest(pool) == before);

    // The hybrid truncate checks the SWA pool first: with both a released window and a shared
    // partial page, window_already_released wins.
    auto cached = caching_hybrid_pool<lru>::create(pool_size{32}, pool_size{32}, 4, 8).value();
    std::vector<token_id> tokens(12);
    for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<token_id>(i + 1);
    const request_id a = cached.add_request().value();
    REQUIRE(cached.extend(a, 12).ok());
    REQUIRE(cached.commit(a, 12, tokens).ok());
    const request_id b = cached.add_request().value();
    REQUIRE(cached.attach_prefix(b, tokens).value() == 8);  // b shares a's first two pages
    const std::uint64_t shared = state_digest(cached);
    REQUIRE(cached.swa().first_live_page(a) == 1);  // a's window (W = 8 at 12 tokens) released page 0
    REQUIRE(cached.swa().first_live_page(b) == 0);
    CHECK(cached.truncate(a, 6).code() == errc::window_already_released);    // page 1 is also shared
    CHECK(cached.truncate(b, 6).code() == errc::truncate_into_shared_page);  // b still holds page 0
    CHECK(state_digest(cached) == shared);
}
