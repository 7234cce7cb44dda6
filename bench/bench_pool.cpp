// Host benchmarks for issue 2: page alloc+free per policy, and decode-batch table emission.
#include <benchmark/benchmark.h>

#include <pagedkv/pagedkv.hpp>
#include <vector>

using namespace pagedkv;

namespace {

// One page allocated and freed through the pool (extend by one page, truncate back).
template <class Alloc>
void page_alloc_free(benchmark::State& state) {
    auto pool = full_pool<Alloc>::create(pool_size{1 << 20}, 16).value();
    const request_id r = pool.add_request().value();
    (void)pool.extend(r, 16 * 4096);  // a realistic, non-empty pool
    (void)pool.commit(r, 16 * 4096);
    for (auto _ : state) {
        (void)pool.extend(r, 16);
        (void)pool.truncate(r, 16 * 4096);
    }
    state.SetItemsProcessed(state.iterations());
    state.counters["ns_per_page"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
// The free list alone: the floor under the pool-level figure above.
template <class Alloc>
void freelist_pop_push(benchmark::State& state) {
    Alloc a(pool_size{1 << 20});
    for (auto _ : state) {
        const page_id p = a.pop();
        benchmark::DoNotOptimize(p);
        a.push(p);
    }
    state.SetItemsProcessed(state.iterations());
}

constexpr int batch = 256;
constexpr std::int64_t context_tokens = 8192;
constexpr std::int32_t page = 16;

struct decode_batch {
    full_pool<> pool = full_pool<>::create(pool_size{batch * 520 + 1}, page).value();
    std::vector<request_id> ids;
    decode_batch() {
        for (int b = 0; b < batch; ++b) {
            ids.push_back(pool.add_request().value());
            (void)pool.extend(ids.back(), context_tokens - 1);
            (void)pool.commit(ids.back(), context_tokens - 1);
            (void)pool.extend(ids.back(), 1);  // this step's decode token
        }
    }
};

void emit_dense(benchmark::State& state) {
    decode_batch d;
    const std::int64_t row = context_tokens / page;
    std::vector<std::int32_t> out(static_cast<std::size_t>(batch * row));
    for (auto _ : state) {
        benchmark::DoNotOptimize(emit_dense_table(d.pool, d.ids, out, row));
        benchmark::ClobberMemory();
    }
    state.counters["ns_per_request"] = benchmark::Counter(static_cast<double>(state.iterations()) * batch,
                                                          benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
void emit_csr(benchmark::State& state) {
    decode_batch d;
    std::vector<std::int32_t> indptr(batch + 1), indices(static_cast<std::size_t>(batch * context_tokens / page)),
        last(batch);
    for (auto _ : state) {
        benchmark::DoNotOptimize(emit_csr_table(d.pool, d.ids, {indptr, indices, last}));
        benchmark::ClobberMemory();
    }
    state.counters["ns_per_request"] = benchmark::Counter(static_cast<double>(state.iterations()) * batch,
                                                          benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
void emit_slots(benchmark::State& state) {
    decode_batch d;
    std::vector<std::int64_t> slots(batch);
    for (auto _ : state) {
        benchmark::DoNotOptimize(emit_slot_mapping(d.pool, d.ids, slots));
        benchmark::ClobberMemory();
    }
    state.counters["ns_per_request"] = benchmark::Counter(static_cast<double>(state.iterations()) * batch,
                                                          benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
// Floor for table emission: a plain copy of the same number of int32 entries.
void memcpy_floor(benchmark::State& state) {
    std::vector<std::int32_t> in(static_cast<std::size_t>(batch * context_tokens / page), 7), out(in.size());
    for (auto _ : state) {
        std::copy(in.begin(), in.end(), out.begin());
        benchmark::ClobberMemory();
    }
    state.counters["ns_per_request"] = benchmark::Counter(static_cast<double>(state.iterations()) * batch,
                                                          benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK(page_alloc_free<lifo_free_stack>);
BENCHMARK(page_alloc_free<lowest_index_first>);
BENCHMARK(freelist_pop_push<lifo_free_stack>);
BENCHMARK(freelist_pop_push<lowest_index_first>);
BENCHMARK(emit_dense);
BENCHMARK(emit_csr);
BENCHMARK(emit_slots);
BENCHMARK(memcpy_floor);
BENCHMARK_MAIN();
