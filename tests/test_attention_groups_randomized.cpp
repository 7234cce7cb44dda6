// Randomized histories over multi_hybrid_pool with 1 to 3 groups of mixed rules, against a shadow
// model that predicts every call's exact errc and every pool's page count; invariants after every
// operation, and the state digest unchanged after every refused one.
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include <pagedkv/alloc/lowest_index_first.hpp>
#include <pagedkv/evict/adaptive_s3fifo.hpp>
#include <pagedkv/evict/lru.hpp>
#include <pagedkv/debug/state_digest.hpp>

using namespace pagedkv;

namespace {

struct shadow {
    request_id id;
    std::int64_t length = 0, committed = 0;
};

template <class Pool>
class history {
public:
    history(Pool pool, unsigned seed) : pool_(std::move(pool)), rng_(seed) {}

    /// How often each errc came back (index 0: success).
    using tally = std::array<std::int64_t, static_cast<std::size_t>(errc_last) + 1>;

    /// Runs `ops` random operations, each returning the errc the model predicts.
    tally run(std::int64_t ops) {
        tally seen{};
        for (std::int64_t i = 0; i < ops; ++i) {
            const std::uint64_t before = state_digest(pool_);
            const outcome o = step();               // named fields, not a structured binding: clang 14's lambdas
            const errc want = o.want, got = o.got;  // (doctest's messages) cannot capture one
            ++seen[static_cast<std::size_t>(got)];
            REQUIRE_MESSAGE(got == want,
                            "op " << i << ": returned " << to_string(got) << ", the model says " << to_string(want));
            if (got != errc{}) REQUIRE(state_digest(pool_) == before);
            const status inv = pool_.check_invariants();
            REQUIRE_MESSAGE(inv.ok(), "op " << i << ": " << inv.err().detail);
            check_counts();
        }
        return seen;
    }

private:
    static constexpr std::size_t groups = Pool::group_count;
    struct outcome {
        errc want, got;
    };

    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
    std::int32_t page() const { return pool_.full().page_size_tokens(); }
    std::int64_t pages_for(std::int64_t tokens) const { return pages_for_tokens(tokens, page()); }

    template <class F>
    static void each_group(F&& f) {
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            (f(std::integral_constant<std::size_t, K>{}), ...);
        }(std::make_index_sequence<groups>{});
    }
    template <std::size_t K>
    std::int64_t live_from(std::int64_t committed) const {
        return dead_pages(pool_.template group<K>().rule(), committed, page());
    }
    template <std::size_t K>
    static constexpr errc out_of_group_pages() {
        return Pool::template group_pool_type<K>::kind == attention_kind::sliding ? errc::out_of_swa_pages
                                                                                  : errc::out_of_chunked_pages;
    }
    // The first group (in order) whose free pages are fewer than need(k); errc{} if none.
    template <class Need>
    errc short_group(Need&& need) const {
        errc bad{};
        each_group([&](auto k) {
            if (bad == errc{} && need(k) > pool_.template group<k>().free_pages()) bad = out_of_group_pages<k>();
        });
        return bad;
    }

    // A live request, or a stale / never-issued id (1 time in 16).
    shadow* pick_request(request_id& id) {
        if (live_.empty() || pick(16) == 0) {
            id = stale_.empty() || pick(2) == 0
                     ? request_id{77, 3}
                     : stale_[static_cast<std::size_t>(pick(static_cast<int>(stale_.size())))];
            return nullptr;
        }
        shadow& s = live_[static_cast<std::size_t>(pick(static_cast<int>(live_.size())))];
        id = s.id;
        return &s;
    }
    std::int64_t amount(std::int64_t typical) {
        switch (pick(64)) {
            case 0:
                return -1 - pick(3);
            case 1:
                return std::numeric_limits<std::int64_t>::max();
            default:
                return pick(static_cast<int>(typical) + 1);
        }
    }

    outcome step() {
        switch (pick(16)) {
            case 0:
            case 1:
                return add();
            case 2:
                return add_committed();
            case 3:
            case 4:
            case 5:
            case 6:
            case 7:
                return extend();
            case 8:
            case 9:
            case 10:
            case 11:
                return commit();
            case 12:
            case 13:
                return truncate();
            default:
                return free();
        }
    }

    outcome add() {
        if (live_.size() >= 6) return free();
        const request_id r = pool_.add_request().value();
        live_.push_back({r});
        return {errc{}, errc{}};
    }

    outcome add_committed() {
        const std::int64_t length = amount(3 * 8 * page());
        errc want{};
        if (length < 0)
            want = errc::negative_length;
        else if (length > max_tokens_per_request(page()))
            want = errc::length_overflow;
        else if (pages_for(length) > pool_.full().free_pages())
            want = errc::out_of_full_pages;
        else
            want = short_group([&](auto k) { return pages_for(length) - live_from<k>(length); });
        const auto got = pool_.add_committed_request(length);
        if (got) live_.push_back({got.value(), length, length});
        return {want, got.code()};
    }

    outcome extend() {
        request_id r{};
        shadow* s = pick_request(r);
        const std::int64_t n = amount(pick(4) == 0 ? 3 * page() : 4);
        errc want{};
        if (!s)
            want = errc::unknown_request;
        else if (n < 0)
            want = errc::negative_length;
        else if (n > max_tokens_per_request(page()) - s->length)
            want = errc::length_overflow;
        else {
            const std::int64_t need = pages_for(s->length + n) - pages_for(s->length);
            if (need > pool_.full().free_pages())
                want = errc::out_of_full_pages;
            else
                want = short_group([&](auto) { return need; });
        }
        const errc got = pool_.extend(r, n).code();
        if (got == errc{}) s->length += n;
        return {want, got};
    }

    outcome commit() {
        request_id r{};
        shadow* s = pick_request(r);
        const std::int64_t in_flight = s ? s->length - s->committed : 0;
        const std::int64_t n = pick(32) == 0 ? -1 : pick(static_cast<int>(in_flight) + 2);
        errc want{};
        if (!s)
            want = errc::unknown_request;
        else if (n < 0)
            want = errc::negative_length;
        else if (n > in_flight)
            want = errc::commit_exceeds_reserved;
        const errc got = pool_.commit(r, n).code();
        if (got == errc{}) s->length = s->committed = s->committed + n;
        return {want, got};
    }

    outcome truncate() {
        request_id r{};
        shadow* s = pick_request(r);
        const std::int64_t length = s ? s->length : 0;
        const std::int64_t n =
            pick(32) == 0 ? -1 : length - pick(static_cast<int>(length < 12 ? length : 12) + 1) + (pick(16) == 0);
        errc want{};
        if (!s)
            want = errc::unknown_request;
        else if (n < 0)
            want = errc::negative_length;
        else if (n > length)
            want = errc::truncate_past_length;
        else {
            const std::int64_t kept = n < s->committed ? n : s->committed;
            each_group([&](auto k) {
                if (want == errc{} && live_from<k>(kept) < live_from<k>(s->committed))
                    want = errc::window_already_released;
            });
        }
        const errc got = pool_.truncate(r, n).code();
        if (got == errc{}) {
            s->length = n;
            if (s->committed > n) s->committed = n;
        }
        return {want, got};
    }

    outcome free() {
        request_id r{};
        shadow* s = pick_request(r);
        const errc want = s ? errc{} : errc::unknown_request;
        const errc got = pool_.free_request(r).code();
        if (got == errc{}) {
            stale_.push_back(r);
            std::erase_if(live_, [&](const shadow& x) { return x.id == r; });
        }
        return {want, got};
    }

    // Every pool holds exactly what the model says each rule keeps: the full pool every page, a
    // group the pages from dead_pages(rule, committed) on.
    void check_counts() const {
        std::int64_t full_pages = 0;
        std::array<std::int64_t, groups> group_pages{};
        for (const shadow& s : live_) {
            REQUIRE(pool_.full().length_tokens(s.id) == s.length);
            REQUIRE(pool_.full().committed_tokens(s.id) == s.committed);
            full_pages += pages_for(s.length);
            each_group([&](auto k) { group_pages[k] += pages_for(s.length) - live_from<k>(s.committed); });
        }
        REQUIRE(pool_.full().used_pages() == full_pages);
        each_group([&](auto k) { REQUIRE(pool_.template group<k>().used_pages() == group_pages[k]); });
    }

    Pool pool_;
    std::mt19937 rng_;
    std::vector<shadow> live_;
    std::vector<request_id> stale_;
};

constexpr std::int64_t ops_per_seed = 45'000;  // 6 layouts x 4 seeds x 45k = 1.08 million operations
constexpr unsigned seeds[] = {1, 2, 3, 4};

// Sizes drawn per seed: P in {1, 2, 4}, windows and chunks in [1, 24], pools tight enough that every
// out_of_*_pages is hit.
struct draw {
    std::mt19937 rng;
    explicit draw(unsigned seed) : rng(seed * 7919u) {}
    std::int64_t in(std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    }
    std::int32_t page() { return std::int32_t{1} << in(0, 2); }
    group_size group() { return {pool_size{static_cast<std::int32_t>(in(6, 20))}, in(1, 24)}; }
};

// Runs every seed on one layout and checks that each refusal the layout can produce was produced.
template <class Pool>
void run_layout() {
    typename history<Pool>::tally seen{};
    for (unsigned seed : seeds) {
        draw d(seed);
        const std::int32_t page = d.page();
        const auto full_pages = pool_size{static_cast<std::int32_t>(d.in(12, 40))};
        std::array<group_size, Pool::group_count> sizes{};
        for (group_size& g : sizes) g = d.group();  // drawn in group order, whatever the compiler
        auto pool = [&]<std::size_t... K>(std::index_sequence<K...>) {
            return Pool::create(full_pages, page, sizes[K]...);
        }(std::make_index_sequence<Pool::group_count>{});
        REQUIRE(pool.ok());
        const auto t = history<Pool>(std::move(pool.value()), seed).run(ops_per_seed);
        for (std::size_t i = 0; i < t.size(); ++i) seen[i] += t[i];
    }
    constexpr bool has_window = [] {
        bool any = false;
        [&]<std::size_t... K>(std::index_sequence<K...>) {
            any = ((Pool::template group_pool_type<K>::kind == attention_kind::sliding) || ...);
        }(std::make_index_sequence<Pool::group_count>{});
        return any;
    }();
    std::vector<errc> expected{errc{},
                               errc::unknown_request,
                               errc::negative_length,
                               errc::length_overflow,
                               errc::commit_exceeds_reserved,
                               errc::truncate_past_length,
                               errc::window_already_released,
                               errc::out_of_full_pages};
    expected.push_back(has_window ? errc::out_of_swa_pages : errc::out_of_chunked_pages);
    for (errc e : expected) CHECK_MESSAGE(seen[static_cast<std::size_t>(e)] > 0, to_string(e) << " never returned");
}

}  // namespace

TEST_CASE("randomized: one window group, exact errc and page counts, invariants after every operation") {
    run_layout<multi_hybrid_pool<full_pool<>, swa_pool<>>>();
}

TEST_CASE("randomized: one chunked group (Llama-4 layout)") {
    run_layout<multi_hybrid_pool<full_pool<lowest_index_first>, chunked_pool<>>>();
}

TEST_CASE("randomized: a window and a chunk") {
    run_layout<multi_hybrid_pool<full_pool<>, swa_pool<lowest_index_first>, chunked_pool<>>>();
}

TEST_CASE("randomized: two windows") { run_layout<multi_hybrid_pool<full_pool<>, swa_pool<>, swa_pool<>>>(); }

TEST_CASE("randomized: chunk, window, chunk (three groups, four pools)") {
    run_layout<multi_hybrid_pool<full_pool<>, chunked_pool<>, swa_pool<>, chunked_pool<lowest_index_first>>>();
}

TEST_CASE("randomized: two windows and a chunk (three groups, four pools)") {
    run_layout<multi_hybrid_pool<full_pool<lowest_index_first>, swa_pool<>, swa_pool<>, chunked_pool<>>>();
}

// ---- caching pools: prefix hits over several groups ---------------------------------------------

namespace {

// Requests read prefixes of a few fixed documents, so hits, shared pages, tombstones and
// recomputed copies all occur; tokens at position t of document d are always the same.
template <class Pool>
class caching_history {
public:
    caching_history(Pool pool, unsigned seed) : pool_(std::move(pool)), rng_(seed) {
        for (int d = 0; d < 3; ++d) {
            docs_.emplace_back();
            for (int t = 0; t < 96; ++t) docs_.back().push_back(d * 1000 + (t % 7 == 0 ? 0 : t));
        }
    }

    /// Runs `ops` operations; returns the tokens attach_prefix hit in all.
    std::int64_t run(std::int64_t ops) {
        std::int64_t hit_tokens = 0;
        for (std::int64_t i = 0; i < ops; ++i) {
            const std::uint64_t before = state_digest(pool_);
            const errc got = step(hit_tokens);
            if (got != errc{}) {
                REQUIRE_MESSAGE(allowed(got), "op " << i << ": " << to_string(got));
                REQUIRE(state_digest(pool_) == before);
            }
            const status inv = pool_.check_invariants();
            REQUIRE_MESSAGE(inv.ok(), "op " << i << ": " << inv.err().detail);
        }
        return hit_tokens;
    }

    const Pool& pool() const { return pool_; }

private:
    struct live_request {
        request_id id;
        int doc;
    };
    static bool allowed(errc e) {
        return e == errc::out_of_full_pages || e == errc::out_of_swa_pages || e == errc::out_of_chunked_pages ||
               e == errc::window_already_released || e == errc::truncate_into_shared_page ||
               e == errc::commit_exceeds_reserved;
    }
    int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
    std::span<const token_id> doc_tokens(const live_request& r, std::int64_t n) const {
        return std::span<const token_id>(docs_[static_cast<std::size_t>(r.doc)]).first(static_cast<std::size_t>(n));
    }

    errc step(std::int64_t& hit_tokens) {
        const int op = pick(12);
        if (live_.empty() || (op == 0 && live_.size() < 5)) {
            const int doc = pick(3);
            const request_id r = pool_.add_request(cache_scope{}).value();
            live_.push_back({r, doc});
            // A prompt: a prefix of the document; attach what the cache holds.
            const auto prompt = std::span<const token_id>(docs_[static_cast<std::size_t>(doc)])
                                    .first(static_cast<std::size_t>(1 + pick(80)));
            const std::int64_t expect = pool_.lookup(prompt, cache_scope{});
            const std::int64_t hit = pool_.attach_prefix(r, prompt).value();
            REQUIRE(hit == expect);
            REQUIRE(hit % pool_.full().page_size_tokens() == 0);
            hit_tokens += hit;
            return errc{};
        }
        live_request& r = live_[static_cast<std::size_t>(pick(static_cast<int>(live_.size())))];
        const std::int64_t length = pool_.full().length_tokens(r.id), committed = pool_.full().committed_tokens(r.id);
        switch (op % 6) {
            case 0:
            case 1: {
                const std::int64_t n = 1 + pick(pick(3) == 0 ? 16 : 4);
                if (length + n > 95) return free_one(r);
                return pool_.extend(r.id, n).code();
            }
            case 2: {
                const std::int64_t n = pick(static_cast<int>(length - committed) + 1);
                return pick(4) == 0 ? pool_.commit(r.id, n).code()
                                    : pool_.commit(r.id, n, doc_tokens(r, committed + n)).code();
            }
            case 3:
                return pool_.truncate(r.id, length - pick(static_cast<int>(length < 9 ? length : 9) + 1)).code();
            case 4:
                if (pick(2) == 0)
                    return pool_.preempt(r.id, doc_tokens(r, committed)).code() == errc{} ? forget(r)
                                                                                          : errc::invariant_violated;
                return pool_.cache_committed(r.id, doc_tokens(r, committed)).code();
            default:
                return free_one(r);
        }
    }
    errc free_one(live_request& r) {
        REQUIRE(pool_.free_request(r.id).ok());
        return forget(r);
    }
    errc forget(live_request& r) {
        const request_id id = r.id;
        std::erase_if(live_, [&](const live_request& x) { return x.id == id; });
        return errc{};
    }

    Pool pool_;
    std::mt19937 rng_;
    std::vector<std::vector<token_id>> docs_;
    std::vector<live_request> live_;
};

template <class Pool>
void run_caching_layout(std::int64_t ops) {
    std::int64_t hits = 0;
    for (unsigned seed : seeds) {
        draw d(seed + 100);
        const std::int32_t page = d.page() * 2;
        std::array<group_size, Pool::group_count> sizes{};
        for (group_size& g : sizes) g = {pool_size{static_cast<std::int32_t>(d.in(10, 40))}, d.in(1, 24)};
        auto pool = [&]<std::size_t... K>(std::index_sequence<K...>) {
            return Pool::create(pool_size{static_cast<std::int32_t>(d.in(24, 60))}, page, sizes[K]...);
        }(std::make_index_sequence<Pool::group_count>{});
        REQUIRE(pool.ok());
        caching_history<Pool> hist(std::move(pool.value()), seed);
        hits += hist.run(ops);
    }
    CHECK(hits > 0);
}

}  // namespace

TEST_CASE("randomized caching: window and chunk groups, hits equal lookups, invariants after every operation") {
    run_caching_layout<caching_multi_hybrid_pool<lru, attention_kind::sliding, attention_kind::chunked>>(10'000);
}

TEST_CASE("randomized caching: two windows and a chunk") {
    run_caching_layout<
        caching_multi_hybrid_pool<lru, attention_kind::sliding, attention_kind::sliding, attention_kind::chunked>>(
        10'000);
}

TEST_CASE("randomized caching: one chunked group under adaptive S3-FIFO") {
    run_caching_layout<caching_multi_hybrid_pool<adaptive_s3fifo, attention_kind::chunked>>(10'000);
}
