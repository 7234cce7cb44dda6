// Host time per decode step per request: MTP reserve/commit, window release and table emission.
#include <benchmark/benchmark.h>

#include <pagedkv/pagedkv.hpp>

#include <random>
#include <vector>

using namespace pagedkv;

namespace {

constexpr std::int32_t page = 16;
constexpr std::int64_t context = 8192, window = 1024, drafts = 3, growth = 4096;

// The pools of one layout for B requests of the longest row: the two-pool hybrid, or a
// multi_hybrid_pool whose first group is the same window (more groups: chunks of 8192).
template <class Pool>
Pool make_pool(std::size_t batch, std::int64_t row) {
    const pool_size full{static_cast<std::int32_t>(batch * static_cast<std::size_t>(row) + 1)};
    const pool_size swa{static_cast<std::int32_t>(batch * (window / page + 3) + 1)};
    if constexpr (requires { &Pool::swa; }) {
        return Pool::create(full, swa, page, window).value();
    } else {
        return [&]<std::size_t... K>(std::index_sequence<K...>) {
            return Pool::create(full, page, group_size{swa, window}, group_size{(static_cast<void>(K), full), 8192}...)
                .value();
        }(std::make_index_sequence<Pool::group_count - 1>{});
    }
}
// The view SWA-layer tables come from: `swa()`, or group 0.
template <class Pool>
const auto& window_view(const Pool& p) {
    if constexpr (requires { p.swa(); })
        return p.swa();
    else
        return p.template group<0>();
}

// B requests at 8k context on a hybrid pool; every iteration is one engine decode step.
template <class Pool>
void decode_step_on(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    const std::int64_t row = pages_for_tokens(context + growth + 1 + drafts, page);  // the longest row
    auto pool = make_pool<Pool>(batch, row);
    std::vector<request_id> ids;
    for (std::size_t b = 0; b < batch; ++b) {
        ids.push_back(pool.add_request().value());
        for (std::int64_t done = 0; done < context;
             done += 512) {  // chunked prefill: the SWA pool holds window + chunk
            (void)pool.extend(ids.back(), 512);
            (void)pool.commit(ids.back(), 512);
        }
    }
    std::vector<std::int32_t> dense(batch * static_cast<std::size_t>(row));
    std::vector<std::int32_t> indptr(batch + 1), indices(batch * (window / page + 2)), last(batch);
    std::vector<std::int64_t> full_slots(batch * (1 + drafts)), swa_slots(batch * (1 + drafts));
    std::mt19937 rng(1);
    std::vector<std::int64_t> accepted(4096);
    for (auto& a : accepted) a = 1 + static_cast<std::int64_t>(rng() % 4);  // 1 + 0..3 drafts, mean 2.5
    std::size_t step = 0;
    std::int64_t grown = 0;
    for (auto _ : state) {
        for (request_id r : ids) (void)pool.extend(r, 1 + drafts);  // reserve the token and drafts
        (void)emit_dense_table(pool.full(), ids, dense, row);
        (void)emit_csr_table(window_view(pool), ids, {indptr, indices, last});
        (void)emit_slot_mapping(pool.full(), ids, full_slots);
        (void)emit_slot_mapping(window_view(pool), ids, swa_slots);
        benchmark::ClobberMemory();
        const std::int64_t a = accepted[step++ % accepted.size()];
        for (request_id r : ids) (void)pool.commit(r, a);  // drop rejected drafts, slide the window
        grown += a;
        if (grown > growth - 4) {  // keep lengths bounded: roll everyone back to 8k (not timed)
            state.PauseTiming();
            for (request_id r : ids) (void)pool.free_request(r);
            ids.clear();
            for (std::size_t b = 0; b < batch; ++b) {
                ids.push_back(pool.add_request().value());
                for (std::int64_t done = 0; done < context; done += 512) {
                    (void)pool.extend(ids.back(), 512);
                    (void)pool.commit(ids.back(), 512);
                }
            }
            grown = 0;
            state.ResumeTiming();
        }
    }
    state.counters["ns_per_request_step"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(batch),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void decode_step(benchmark::State& state) { decode_step_on<hybrid_pool<>>(state); }
// The same step on multi_hybrid_pool with that one window group: the N-group pool's cost for two pools.
void decode_step_one_group(benchmark::State& state) {
    decode_step_on<multi_hybrid_pool<full_pool<>, swa_pool<>>>(state);
}
// A third pool of chunked layers (C = 8192) beside them; its tables are not emitted (same work as the window's).
void decode_step_window_and_chunk(benchmark::State& state) {
    decode_step_on<multi_hybrid_pool<full_pool<>, swa_pool<>, chunked_pool<>>>(state);
}

// Floor: copying the step's dense full-layer table (B rows of the same width) with std::copy.
void emission_floor(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    const auto row = static_cast<std::size_t>(pages_for_tokens(context + growth + 1 + drafts, page));
    std::vector<std::int32_t> in(batch * row, 7), out(in.size());
    for (auto _ : state) {
        std::copy(in.begin(), in.end(), out.begin());
        benchmark::ClobberMemory();
    }
    state.counters["ns_per_request_step"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(batch),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK(decode_step)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(decode_step_one_group)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(decode_step_window_and_chunk)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK(emission_floor)->Arg(64)->Arg(256)->Arg(1024)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
