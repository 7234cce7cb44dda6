// Randomized prefix-cache histories (fixed seeds) on full and hybrid caching pools, every policy.
// After every operation: the pools' invariants (reference count == owners, every cached page found
// by its key, no page both free and cached, pages conserved, the hybrid mapping), and, per call,
// what the call promises: a hit attaches pages whose KV holds exactly the prompt's tokens (a shadow
// of every page's KV is written as an engine would: drafts at extend, accepted tokens at commit),
// no longer hit exists, and a failing call changes nothing.
#include <doctest/doctest.h>

#include <pagedkv/pagedkv.hpp>

#include <random>
#include <vector>

using namespace pagedkv;

namespace {

constexpr std::int32_t page = 4;
constexpr std::int32_t max_tokens = 64;
constexpr std::int64_t window = 10;

template <class Pool>
constexpr bool is_hybrid = requires(const Pool& p) { p.full_to_swa(); };

template <class Pool>
const auto& full_of(const Pool& p) {
    if constexpr (is_hybrid<Pool>)
        return p.full();
    else
        return p;
}

// Everything a failing call must leave as it was.
template <class Pool>
std::vector<std::int64_t> digest(const Pool& pool) {
    std::vector<std::int64_t> d;
    auto add_pool = [&](const auto& p) {
        for (std::int32_t i = 0; i < p.size().pages; ++i) {
            d.push_back(p.ref_count(page_id{i}));
            d.push_back(p.is_cached(page_id{i}));
            d.push_back(static_cast<std::int64_t>(p.key_of(page_id{i}).value_or(0)));
        }
        d.push_back(p.free_pages());
        d.push_back(p.stats().evicted_pages);
        d.push_back(p.stats().stored_pages);
        p.for_each_request([&](request_id r) {
            d.push_back(p.length_tokens(r));
            d.push_back(p.committed_tokens(r));
            for (page_id x : p.pages(r)) d.push_back(x.value);
        });
    };
    if constexpr (is_hybrid<Pool>) {
        add_pool(pool.full());
        add_pool(pool.swa());
        for (page_id s : pool.full_to_swa()) d.push_back(s.value);
    } else {
        add_pool(pool);
    }
    return d;
}

struct request {
    request_id id;
    cache_scope scope;
    std::vector<token_id> tokens;  // the whole sequence this request will ever hold
};

// Tokens over a 3-letter alphabet (so equal pages follow different prefixes): a family's shared
// prefix up to a random split, then random tokens of this request.
std::vector<token_id> make_tokens(std::mt19937_64& rng, int family) {
    std::vector<token_id> t(max_tokens);
    const auto split = std::uniform_int_distribution<int>(0, max_tokens)(rng);
    std::mt19937 family_rng(static_cast<std::uint32_t>(family));
    for (int i = 0; i < max_tokens; ++i) {
        const auto shared = static_cast<token_id>(family_rng() % 3);
        t[static_cast<std::size_t>(i)] = i < split ? shared : static_cast<token_id>(rng() % 3);
    }
    return t;
}

// What each page's KV holds, position by position, as the engine wrote it.
struct shadow_kv {
    std::vector<std::vector<token_id>> full, swa;
    template <class Pool>
    explicit shadow_kv(const Pool& pool) {
        if constexpr (is_hybrid<Pool>) {
            full.assign(static_cast<std::size_t>(pool.full().size().pages), std::vector<token_id>(page, -1));
            swa.assign(static_cast<std::size_t>(pool.swa().size().pages), std::vector<token_id>(page, -1));
        } else {
            full.assign(static_cast<std::size_t>(pool.size().pages), std::vector<token_id>(page, -1));
        }
    }
    // Token `value` written at positions [from, to) of request r, in every layer kind's page.
    template <class Pool>
    void write(const Pool& pool, request_id r, std::int64_t from, std::int64_t to, auto value) {
        for (std::int64_t pos = from; pos < to; ++pos) {
            const auto i = static_cast<std::size_t>(pos / page), off = static_cast<std::size_t>(pos % page);
            full[static_cast<std::size_t>(full_of(pool).pages(r)[i].value)][off] = value(pos);
            if constexpr (is_hybrid<Pool>) {
                const page_id s = pool.swa().pages(r)[i];
                if (s != null_page) swa[static_cast<std::size_t>(s.value)][off] = value(pos);
            }
        }
    }
};

// The attach of `hit` tokens for prompt `prompt` is correct: each page holds the prompt's tokens
// under the request's scope, and no longer hit exists (checked by brute force over every page).
template <class Pool>
void check_hit(const Pool& pool, const shadow_kv& kv, const request& r, std::span<const token_id> prompt,
               std::int64_t hit) {
    const auto& full = full_of(pool);
    REQUIRE(hit % page == 0);
    REQUIRE(hit <= (static_cast<std::int64_t>(prompt.size()) - 1) / page * page);
    const auto pages = full.pages(r.id);
    REQUIRE(static_cast<std::int64_t>(pages.size()) == hit / page);
    for (std::size_t i = 0; i < pages.size(); ++i) {
        const auto slice = prompt.subspan(i * page, page);
        const auto& written = kv.full[static_cast<std::size_t>(pages[i].value)];
        REQUIRE(std::equal(slice.begin(), slice.end(), written.begin()));  // the KV is the prompt's
        const page_content c = full.index().content(pages[i]);
        REQUIRE(std::equal(c.tokens.begin(), c.tokens.end(), slice.begin()));
        REQUIRE(c.scope == r.scope);
        REQUIRE(full.index().parent(pages[i]) == (i == 0 ? null_page : pages[i - 1]));
    }
    const std::int64_t max_pages = (static_cast<std::int64_t>(prompt.size()) - 1) / page;
    // The full chain continues past the hit only where the SWA window is missing (hybrid pools).
    std::vector<page_id> chain(pages.begin(), pages.end());
    for (std::int64_t i = hit / page; i < max_pages; ++i) {
        page_id next = null_page;
        for (std::int32_t p = 1; p < full.size().pages; ++p) {
            const page_id cand{p};
            if (!full.key_of(cand) || full.index().parent(cand) != (i == 0 ? null_page : chain.back())) continue;
            const page_content c = full.index().content(cand);
            if (c.scope == r.scope && c.page_extra_key == 0 &&
                std::equal(c.tokens.begin(), c.tokens.end(), prompt.begin() + i * page))
                next = cand;
        }
        if (next == null_page) break;
        chain.push_back(next);
        if constexpr (is_hybrid<Pool>) {
            const std::int64_t h = (i + 1) * page;
            bool window_whole = true;
            for (std::int64_t j = dead_pages(h, window, page); j <= i; ++j)
                window_whole =
                    window_whole &&
                    pool.full_to_swa()[static_cast<std::size_t>(chain[static_cast<std::size_t>(j)].value)] != null_page;
            REQUIRE_FALSE(window_whole);  // else the hit would have been longer
        } else {
            FAIL("a longer cached prefix exists");
        }
    }
    if constexpr (is_hybrid<Pool>) {
        const auto swa = pool.swa().pages(r.id);
        for (std::size_t i = 0; i < swa.size(); ++i) {
            const bool released = static_cast<std::int64_t>(i) < dead_pages(hit, window, page);
            REQUIRE(swa[i] == (released ? null_page : pool.full_to_swa()[static_cast<std::size_t>(pages[i].value)]));
            if (released) continue;
            const auto slice = prompt.subspan(i * page, page);
            REQUIRE(std::equal(slice.begin(), slice.end(), kv.swa[static_cast<std::size_t>(swa[i].value)].begin()));
        }
    }
}

template <class Pool>
Pool make_pool() {
    if constexpr (is_hybrid<Pool>)
        return Pool::create(pool_size{41}, pool_size{17}, page, window).value();
    else
        return Pool::create(pool_size{41}, page).value();
}

template <class Pool>
void random_history(std::uint64_t seed, int ops) {
    Pool pool = make_pool<Pool>();
    shadow_kv kv(pool);
    std::mt19937_64 rng(seed);
    auto pick = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    std::vector<request> live;
    std::int64_t hits = 0, evictions_seen = 0;
    for (int op = 0; op < ops; ++op) {
        CAPTURE(op);
        const auto before = digest(pool);
        const int kind = static_cast<int>(pick(0, 99));
        if (live.empty() || (kind < 12 && live.size() < 8)) {  // a new request reuses what it can
            request r;
            r.scope = cache_scope{static_cast<std::uint64_t>(pick(0, 1)), 0};
            r.tokens = make_tokens(rng, static_cast<int>(pick(0, 2)));
            const retention keep{static_cast<std::uint8_t>(pick(0, 100)), pick(0, 32),
                                 static_cast<std::uint8_t>(pick(0, 100))};
            r.id = pool.add_request(r.scope, keep).value();
            const auto prompt = std::span<const token_id>(r.tokens).first(static_cast<std::size_t>(pick(1, 48)));
            const std::int64_t expected = pool.lookup(prompt, r.scope);
            const std::int64_t hit = pool.attach_prefix(r.id, prompt).value();
            REQUIRE(hit == expected);
            check_hit(pool, kv, r, prompt, hit);
            hits += hit > 0;
            live.push_back(std::move(r));
        } else {
            const auto at = static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(live.size()) - 1));
            request& r = live[at];
            const auto& full = full_of(pool);
            const std::int64_t length = full.length_tokens(r.id), committed = full.committed_tokens(r.id);
            status s;
            if (kind < 45) {
                const std::int64_t n = pick(0, std::min<std::int64_t>(12, max_tokens - length));
                s = pool.extend(r.id, n);
                if (!s)
                    CHECK((s.code() == errc::out_of_full_pages || s.code() == errc::out_of_swa_pages));
                else
                    kv.write(pool, r.id, length, length + n,
                             [](std::int64_t pos) { return static_cast<token_id>(-2 - pos); });
            } else if (kind < 70) {
                const std::int64_t n = pick(0, length - committed);
                kv.write(pool, r.id, committed, committed + n,
                         [&](std::int64_t pos) { return r.tokens[static_cast<std::size_t>(pos)]; });
                s = kind < 62 ? pool.commit(r.id, n, r.tokens) : pool.commit(r.id, n);
                REQUIRE(s.ok());
            } else if (kind < 78) {
                const std::int64_t n = pick(0, length);
                s = pool.truncate(r.id, n);
                if (!s)
                    CHECK((s.code() == errc::window_already_released || s.code() == errc::truncate_into_shared_page));
                else  // a rollback: what the request computes next may differ from before
                    for (std::size_t i = static_cast<std::size_t>(n); i < r.tokens.size(); ++i)
                        r.tokens[i] = static_cast<token_id>(rng() % 3);
            } else if (kind < 84) {
                REQUIRE(pool.cache_committed(r.id, r.tokens).ok());
            } else if (kind < 97) {
                const bool preempt = kind < 90;
                if (preempt)
                    REQUIRE(pool.preempt(r.id, r.tokens).ok());
                else
                    REQUIRE(pool.free_request(r.id).ok());
                if (preempt && !is_hybrid<Pool> && committed < max_tokens) {
                    // Resume at once: nothing was allocated since, so every whole committed page hits.
                    request back{pool.add_request(r.scope).value(), r.scope, r.tokens};
                    const auto prompt =
                        std::span<const token_id>(r.tokens).first(static_cast<std::size_t>(committed + 1));
                    const std::int64_t hit = pool.attach_prefix(back.id, prompt).value();
                    CHECK(hit == committed / page * page);
                    check_hit(pool, kv, back, prompt, hit);
                    live.push_back(back);
                }
                live.erase(live.begin() + static_cast<std::ptrdiff_t>(at));
            } else {
                s = pool.reset_cache();
                if (!s) CHECK(s.code() == errc::cache_in_use);
            }
            if (!s) CHECK(digest(pool) == before);
        }
        const status inv = pool.check_invariants();
        INFO(inv.err().detail);
        REQUIRE(inv.ok());
        if constexpr (is_hybrid<Pool>)
            evictions_seen = pool.full().stats().evicted_pages + pool.swa().stats().evicted_pages;
        else
            evictions_seen = pool.stats().evicted_pages;
    }
    // The history exercised what it is meant to: hits and evictions both happened.
    CHECK(hits > ops / 200);
    CHECK(evictions_seen > ops / 100);
}

}  // namespace

TEST_CASE_TEMPLATE("randomized prefix-cache histories keep every invariant on a full pool", Evict, lru, priority_lru,
                   adaptive_s3fifo) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        CAPTURE(seed);
        random_history<full_pool<lifo_free_stack, Evict>>(seed, 4000);
    }
    random_history<full_pool<lowest_index_first, Evict>>(7, 4000);
}

TEST_CASE_TEMPLATE("randomized prefix-cache histories keep every invariant on a hybrid pool", Evict, lru, priority_lru,
                   adaptive_s3fifo) {
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        CAPTURE(seed);
        random_history<caching_hybrid_pool<Evict>>(seed, 4000);
    }
    random_history<caching_hybrid_pool<Evict, lowest_index_first>>(7, 4000);
}
