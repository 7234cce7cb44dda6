// Host benchmarks for issue 4: prefix-cache hit rate on a seeded multi-turn chat trace with shared
// system prompts, per eviction policy and capacity; ns per lookup, per hit page and per eviction.
#include <benchmark/benchmark.h>

#include <pagedkv/pagedkv.hpp>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

using namespace pagedkv;

namespace {

constexpr std::int32_t page = 16;
constexpr std::int64_t window = 1024;  // SWA window of the hybrid runs (Gemma 3's)

// The trace. Half the requests are single-turn: a system prompt (16 prompts of 256..2048 tokens,
// popularity 1/(rank+1)), a fresh question of 32..512 tokens, an answer of 32..512. The other half
// are turns of 64 concurrent conversations: each starts on a system prompt and adds a user message
// of 16..256 tokens and an answer of 32..512 per turn; it lasts 1 + Geometric(mean 4) turns (at
// most 16) and is then replaced by a new one. Tokens are uniform in [0, 32000). Everything derives
// from the seed, so every replay sees the same requests.
class chat_trace {
public:
    explicit chat_trace(std::uint64_t seed) : rng_(seed) {
        for (int i = 0; i < 16; ++i) {
            system_.push_back(random_tokens(uniform(256, 2048)));
            popularity_.push_back(1.0 / (i + 1));
        }
        for (auto& c : conversations_) start(c);
    }

    struct request {
        const std::vector<token_id>* tokens;  // prompt then answer
        std::int64_t prompt_tokens;
        std::int64_t system_tokens;
    };

    request next() {
        if (std::bernoulli_distribution(0.5)(rng_)) {
            const auto& sys = system_[pick_system()];
            single_ = sys;
            append(single_, uniform(32, 512));
            const auto prompt = static_cast<std::int64_t>(single_.size());
            append(single_, uniform(32, 512));
            return {&single_, prompt, static_cast<std::int64_t>(sys.size())};
        }
        conversation& c = conversations_[static_cast<std::size_t>(uniform(0, 63))];
        if (c.turns_left == 0) start(c);
        --c.turns_left;
        append(c.history, uniform(16, 256));
        const auto prompt = static_cast<std::int64_t>(c.history.size());
        append(c.history, uniform(32, 512));
        return {&c.history, prompt, c.system_tokens};
    }

private:
    struct conversation {
        std::vector<token_id> history;
        std::int64_t system_tokens = 0;
        int turns_left = 0;
    };
    std::int64_t uniform(std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
    }
    std::size_t pick_system() {
        return static_cast<std::size_t>(std::discrete_distribution<int>(popularity_.begin(), popularity_.end())(rng_));
    }
    std::vector<token_id> random_tokens(std::int64_t n) {
        std::vector<token_id> t;
        append(t, n);
        return t;
    }
    void append(std::vector<token_id>& t, std::int64_t n) {
        for (std::int64_t i = 0; i < n; ++i) t.push_back(static_cast<token_id>(uniform(0, 31999)));
    }
    void start(conversation& c) {
        c.history = system_[pick_system()];
        c.system_tokens = static_cast<std::int64_t>(c.history.size());
        c.turns_left = 1 + std::min(15, std::geometric_distribution<int>(0.25)(rng_));
    }

    std::mt19937_64 rng_;
    std::vector<std::vector<token_id>> system_;
    std::vector<double> popularity_;
    conversation conversations_[64];
    std::vector<token_id> single_;
};

constexpr std::uint64_t trace_seed = 2026;
constexpr int trace_requests = 10000;

// Replays the trace one request at a time: attach the cached prefix, compute the rest in chunks of
// 2048 tokens (extend, then commit keying the pages), release. System-prompt pages get retention
// priority 80 (the others the default 35); only priority_lru reads it.
template <class Pool>
void replay(benchmark::State& state, Pool& pool) {
    chat_trace trace(trace_seed);
    double lookup_ns = 0;
    for (int i = 0; i < trace_requests; ++i) {
        const chat_trace::request q = trace.next();
        const auto& t = *q.tokens;
        const request_id r = pool.add_request(cache_scope{}, retention{35, q.system_tokens, 80}).value();
        const auto start = std::chrono::steady_clock::now();
        const std::int64_t hit =
            pool.attach_prefix(r, std::span(t).first(static_cast<std::size_t>(q.prompt_tokens))).value();
        lookup_ns += std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        for (std::int64_t done = hit; done < static_cast<std::int64_t>(t.size());) {
            const std::int64_t n = std::min<std::int64_t>(2048, static_cast<std::int64_t>(t.size()) - done);
            if (!pool.extend(r, n) || !pool.commit(r, n, t)) {
                state.SkipWithError("pool too small for one request");
                return;
            }
            done += n;
        }
        (void)pool.free_request(r);
    }
    const cache_stats s = [&]() -> cache_stats {
        if constexpr (requires { pool.full(); })
            return pool.full().stats();
        else
            return pool.stats();
    }();
    state.counters["hit_rate"] = s.hit_rate();
    state.counters["ns_per_lookup"] = lookup_ns / trace_requests;
    state.counters["prompt_pages"] = static_cast<double>(s.queried_tokens) / page / trace_requests;
    if constexpr (requires { pool.full(); }) {
        state.counters["evicted_full"] = static_cast<double>(s.evicted_pages);
        state.counters["evicted_swa"] = static_cast<double>(pool.swa().stats().evicted_pages);
    } else {
        state.counters["evicted"] = static_cast<double>(s.evicted_pages);
    }
}

// Hit rate of a full pool of state.range(0) pages.
template <class Evict>
void trace_full(benchmark::State& state) {
    for (auto _ : state) {
        auto pool =
            full_pool<lifo_free_stack, Evict>::create(pool_size{static_cast<std::int32_t>(state.range(0))}, page)
                .value();
        replay(state, pool);
    }
}
// Hit rate of a hybrid pool: state.range(0) full pages, a quarter as many SWA pages, W = 1024.
template <class Evict>
void trace_hybrid(benchmark::State& state) {
    for (auto _ : state) {
        const auto full = static_cast<std::int32_t>(state.range(0));
        auto pool = caching_hybrid_pool<Evict>::create(pool_size{full}, pool_size{full / 4}, page, window).value();
        replay(state, pool);
    }
}

// A 2048-token prompt whose 128 pages are cached, looked up again (const lookup: no policy work).
std::vector<token_id> cached_prompt() {
    std::vector<token_id> t(2049);
    std::mt19937 rng(7);
    for (auto& x : t) x = static_cast<token_id>(rng() % 32000);
    return t;
}
void lookup_128_pages(benchmark::State& state) {
    auto pool = full_pool<lifo_free_stack, lru>::create(pool_size{1024}, page).value();
    const auto t = cached_prompt();
    const request_id r = pool.add_request(cache_scope{}).value();
    (void)pool.extend(r, 2048);
    (void)pool.commit(r, 2048, t);
    (void)pool.free_request(r);
    for (auto _ : state) benchmark::DoNotOptimize(pool.lookup(t, {}));
    state.counters["ns_per_page"] = benchmark::Counter(static_cast<double>(state.iterations()) * 128,
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
// Floor for a lookup: hashing the same 128 pages into their chained content keys, nothing else.
void hash_128_pages(benchmark::State& state) {
    const auto t = cached_prompt();
    for (auto _ : state) {
        std::uint64_t key = 0;
        for (std::size_t i = 0; i < 128; ++i) key = content_key(key, {std::span(t).subspan(i * page, page), {}, 0});
        benchmark::DoNotOptimize(key);
    }
    state.counters["ns_per_page"] = benchmark::Counter(static_cast<double>(state.iterations()) * 128,
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
// A hit through the policy: attach the 128 cached pages (each revived), release them (each inserted).
template <class Evict>
void attach_release_128_pages(benchmark::State& state) {
    auto pool = full_pool<lifo_free_stack, Evict>::create(pool_size{1024}, page).value();
    const auto t = cached_prompt();
    const request_id w = pool.add_request(cache_scope{}).value();
    (void)pool.extend(w, 2048);
    (void)pool.commit(w, 2048, t);
    (void)pool.free_request(w);
    for (auto _ : state) {
        const request_id r = pool.add_request(cache_scope{}).value();
        benchmark::DoNotOptimize(pool.attach_prefix(r, t));
        (void)pool.free_request(r);
    }
    state.counters["ns_per_page"] = benchmark::Counter(static_cast<double>(state.iterations()) * 128,
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Eviction: every one of K = 4096 pages is cached; extend takes all of them (K evictions, each
// unkeying its page). The untimed part re-keys them.
constexpr std::int32_t evict_pages = 4096;
template <class Evict>
void evict_4096_pages(benchmark::State& state) {
    auto pool = full_pool<lifo_free_stack, Evict>::create(pool_size{evict_pages + 1}, page).value();
    std::vector<token_id> t(static_cast<std::size_t>(evict_pages) * page);
    std::mt19937 rng(3);
    for (auto& x : t) x = static_cast<token_id>(rng() % 32000);
    auto fill = [&] {
        const request_id w = pool.add_request(cache_scope{}).value();
        (void)pool.extend(w, static_cast<std::int64_t>(t.size()));
        (void)pool.commit(w, static_cast<std::int64_t>(t.size()), t);
        (void)pool.free_request(w);
    };
    fill();
    for (auto _ : state) {
        const request_id r = pool.add_request().value();
        benchmark::DoNotOptimize(pool.extend(r, static_cast<std::int64_t>(t.size())));
        state.PauseTiming();
        (void)pool.free_request(r);
        fill();
        state.ResumeTiming();
    }
    state.counters["ns_per_page"] = benchmark::Counter(static_cast<double>(state.iterations()) * evict_pages,
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
// Floor: the same extend served by the free list of a pool without a cache.
void alloc_4096_free_pages(benchmark::State& state) {
    auto pool = full_pool<>::create(pool_size{evict_pages + 1}, page).value();
    for (auto _ : state) {
        const request_id r = pool.add_request().value();
        benchmark::DoNotOptimize(pool.extend(r, std::int64_t{evict_pages} * page));
        state.PauseTiming();
        (void)pool.free_request(r);
        state.ResumeTiming();
    }
    state.counters["ns_per_page"] = benchmark::Counter(static_cast<double>(state.iterations()) * evict_pages,
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void capacities(benchmark::internal::Benchmark* b) {
    for (std::int64_t pages : {2048, 4096, 8192, 16384, 65536}) b->Arg(pages);
    b->Iterations(1)->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK_TEMPLATE(trace_full, lru)->Apply(capacities);
BENCHMARK_TEMPLATE(trace_full, priority_lru)->Apply(capacities);
BENCHMARK_TEMPLATE(trace_full, adaptive_s3fifo)->Apply(capacities);
BENCHMARK_TEMPLATE(trace_hybrid, lru)->Apply(capacities);
BENCHMARK_TEMPLATE(trace_hybrid, priority_lru)->Apply(capacities);
BENCHMARK_TEMPLATE(trace_hybrid, adaptive_s3fifo)->Apply(capacities);
BENCHMARK(lookup_128_pages);
BENCHMARK(hash_128_pages);
BENCHMARK_TEMPLATE(attach_release_128_pages, lru);
BENCHMARK_TEMPLATE(attach_release_128_pages, priority_lru);
BENCHMARK_TEMPLATE(attach_release_128_pages, adaptive_s3fifo);
BENCHMARK_TEMPLATE(evict_4096_pages, lru);
BENCHMARK_TEMPLATE(evict_4096_pages, priority_lru);
BENCHMARK_TEMPLATE(evict_4096_pages, adaptive_s3fifo);
BENCHMARK(alloc_4096_free_pages);
BENCHMARK_MAIN();
