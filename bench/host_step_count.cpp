// host_step's decode step as a plain loop, for instruction counts that no tenant's load can move:
//   valgrind --tool=callgrind bench/host_step_count LAYOUT STEPS
// LAYOUT: hybrid (hybrid_pool<>), one-group (multi_hybrid_pool with the same window), window-chunk
// (plus a chunked group of C = 8192). Per request-step cost = (count(STEPS) - count(0)) / (STEPS * B).
#include <pagedkv/pagedkv.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace pagedkv;

namespace {

constexpr std::int32_t page = 16;
constexpr std::int64_t context = 8192, window = 1024, drafts = 3;
constexpr std::size_t batch = 64;

template <class Pool>
const auto& window_view(const Pool& p) {
    if constexpr (requires { p.swa(); })
        return p.swa();
    else
        return p.template group<0>();
}

template <class Pool>
int run(Pool pool, int steps) {
    const std::int64_t row = pages_for_tokens(context + 4096 + 1 + drafts, page);
    std::vector<request_id> ids;
    for (std::size_t b = 0; b < batch; ++b) {  // chunked prefill to 8k, as host_step
        ids.push_back(pool.add_request().value());
        for (std::int64_t done = 0; done < context; done += 512) {
            (void)pool.extend(ids.back(), 512);
            (void)pool.commit(ids.back(), 512);
        }
    }
    std::vector<std::int32_t> dense(batch * static_cast<std::size_t>(row)), indptr(batch + 1),
        indices(batch * (window / page + 2)), last(batch);
    std::vector<std::int64_t> full_slots(batch * (1 + drafts)), swa_slots(batch * (1 + drafts));
    long sink = 0;
    for (int step = 0; step < steps; ++step) {
        for (request_id r : ids) (void)pool.extend(r, 1 + drafts);
        (void)emit_dense_table(pool.full(), ids, dense, row);
        (void)emit_csr_table(window_view(pool), ids, {indptr, indices, last});
        (void)emit_slot_mapping(pool.full(), ids, full_slots);
        (void)emit_slot_mapping(window_view(pool), ids, swa_slots);
        sink += dense[7] + indices[3] + full_slots[1] + swa_slots[2];
        for (request_id r : ids) (void)pool.commit(r, 1 + step % 4);  // 0..3 drafts accepted
    }
    return static_cast<int>(sink & 1) + (pool.check_invariants().ok() ? 0 : 2);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: host_step_count hybrid|one-group|window-chunk STEPS (at most 1000)\n");
        return 2;
    }
    const int steps = std::atoi(argv[2]);
    if (steps < 0 || steps > 1000) return 2;
    const std::int64_t row = pages_for_tokens(context + 4096 + 1 + drafts, page);
    const pool_size full{static_cast<std::int32_t>(batch * static_cast<std::size_t>(row) + 1)};
    const pool_size swa{static_cast<std::int32_t>(batch * (window / page + 3) + 1)};
    if (std::strcmp(argv[1], "hybrid") == 0) return run(hybrid_pool<>::create(full, swa, page, window).value(), steps);
    if (std::strcmp(argv[1], "one-group") == 0)
        return run(multi_hybrid_pool<full_pool<>, swa_pool<>>::create(full, page, group_size{swa, window}).value(),
                   steps);
    if (std::strcmp(argv[1], "window-chunk") == 0)
        return run(multi_hybrid_pool<full_pool<>, swa_pool<>, chunked_pool<>>::create(
                       full, page, group_size{swa, window}, group_size{full, 8192})
                       .value(),
                   steps);
    return 2;
}
