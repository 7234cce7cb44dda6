// What checking invariants costs (issue 12 point 4): one whole check_invariants(), and a decode
// step's mutations through checked_pool (each followed by its request's check, plus a full check
// every 1024 mutations) against the same pool unchecked, at 64 requests x 8k tokens.
#include <benchmark/benchmark.h>

#include <pagedkv/debug/checked_pool.hpp>
#include <pagedkv/pagedkv.hpp>

#include <vector>

using namespace pagedkv;

namespace {

constexpr std::int32_t page = 16;
constexpr std::int64_t context = 8192, window = 1024, growth = 2048;
constexpr std::size_t batch = 64;
using caching = caching_hybrid_pool<lru>;

template <class Pool>
Pool make_pool() {
    const std::int64_t row = pages_for_tokens(context + growth, page);
    // A caching pool also keeps a cached copy of every prompt's pages (below): room for both.
    const std::int64_t copies = Pool::caching ? 2 : 1;
    return Pool::create(pool_size{static_cast<std::int32_t>(copies * batch * row + 1)},
                        pool_size{static_cast<std::int32_t>(copies * batch * (context / page + 3) + 1)}, page, window)
        .value();
}

// 64 requests prefilled to 8k; a caching pool first keys and frees one prompt per request, so its
// cache holds 64 x 8k tokens of keyed pages (what makes its full check slow).
template <class Pool>
std::vector<request_id> prefill(Pool& pool, bool cache_prompts = true) {
    std::vector<request_id> ids;
    std::vector<token_id> tokens(static_cast<std::size_t>(context));
    for (std::size_t b = 0; b < batch; ++b) {
        for (std::size_t t = 0; t < tokens.size(); ++t) tokens[t] = static_cast<token_id>(b * 100003 + t);
        if constexpr (Pool::caching) {
            if (cache_prompts) {
                const request_id c = pool.add_request().value();
                (void)pool.extend(c, context);
                (void)pool.commit(c, context, tokens);
                (void)pool.free_request(c);
            }
        }
        ids.push_back(pool.add_request().value());
        for (std::int64_t done = 0; done < context; done += 512) {
            (void)pool.extend(ids.back(), 512);
            (void)pool.commit(ids.back(), 512);
        }
    }
    return ids;
}

template <class Pool>
void full_check(benchmark::State& state) {
    Pool pool = make_pool<Pool>();
    const auto ids = prefill(pool);
    for (auto _ : state) benchmark::DoNotOptimize(pool.check_invariants().ok());
    state.counters["cached_pages"] = static_cast<double>(pool.full().cached_pages());
}

// One decode step: every request extends by one token and commits it (2 mutations per request).
template <class Pool>
void decode_step(benchmark::State& state) {
    Pool pool = make_pool<Pool>();
    auto ids = prefill(pool);
    std::int64_t grown = 0;
    for (auto _ : state) {
        for (request_id r : ids) {
            (void)pool.extend(r, 1);
            (void)pool.commit(r, 1);
        }
        if (++grown == growth) {  // keep lengths bounded: start over at 8k (not timed)
            state.PauseTiming();
            for (request_id r : ids) (void)pool.free_request(r);
            ids = prefill(pool, false);
            grown = 0;
            state.ResumeTiming();
        }
    }
    state.counters["mutations"] = benchmark::Counter(static_cast<double>(state.iterations() * 2 * batch));
    state.counters["per_mutation"] = benchmark::Counter(static_cast<double>(state.iterations() * 2 * batch),
                                                        benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK(full_check<hybrid_pool<>>)->Unit(benchmark::kMicrosecond);
BENCHMARK(full_check<caching>)->Unit(benchmark::kMicrosecond);
BENCHMARK(decode_step<hybrid_pool<>>)->Unit(benchmark::kMicrosecond);
BENCHMARK(decode_step<checked_pool<hybrid_pool<>>>)->Unit(benchmark::kMicrosecond);
BENCHMARK(decode_step<caching>)->Unit(benchmark::kMicrosecond);
BENCHMARK(decode_step<checked_pool<caching>>)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
