// A seeded, engine-like call history on a recorded hybrid pool: requests arrive, prefill in chunks,
// decode with speculative drafts of which some are accepted, are preempted when pages run out,
// roll back now and then, and finish. Every step emits the batch's tables through both views.
// Used by tools/trace_gen (tests/data/engine-*.trace) and tests/test_trace.cpp.
#pragma once
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include <pagedkv/debug/trace.hpp>

namespace pagedkv::tools {

/// Pool shape of the history: small enough that preemption and window release both happen often.
struct engine_shape {
    std::int32_t full_pages = 160, swa_pages = 48, page_size_tokens = 16;
    std::int64_t window_tokens = 96, max_prompt_tokens = 700, prefill_chunk_tokens = 128;
    int max_running = 6, max_drafts = 3;
};

/// Runs `steps` scheduler steps on `rec` (which it creates). Only mt19937_64's raw output is
/// used, so a seed gives the same history with any standard library.
inline void engine_history(trace_recorder<hybrid_pool<>>& rec, std::uint64_t seed, int steps, engine_shape shape = {}) {
    std::mt19937_64 rng(seed);
    auto below = [&](std::int64_t n) { return static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n)); };
    struct running {
        request_id id;
        std::int64_t prompt_left, output_left, in_flight = 0;
        bool prefill_step = false;
    };
    std::vector<running> batch;
    std::vector<request_id> finished;  // kept for the occasional double free a buggy engine makes
    std::vector<request_id> ids;
    std::vector<std::int32_t> dense, indptr, indices, last;
    std::vector<std::int64_t> slots;
    if (!rec.create(pool_size{shape.full_pages}, pool_size{shape.swa_pages}, shape.page_size_tokens,
                    shape.window_tokens))
        return;
    const hybrid_pool<>& pool = rec.pool();

    for (int step = 0; step < steps; ++step) {
        if (static_cast<int>(batch.size()) < shape.max_running && below(3) == 0)
            batch.push_back({rec.add_request().value(), 1 + below(shape.max_prompt_tokens), 1 + below(200)});
        // Reserve this step's tokens; a request that does not fit is preempted (freed; it would
        // be recomputed later, here it simply leaves).
        for (std::size_t i = 0; i < batch.size();) {
            running& r = batch[i];
            r.prefill_step = r.prompt_left > 0;
            r.in_flight =
                r.prefill_step ? std::min(r.prompt_left, shape.prefill_chunk_tokens) : 1 + below(shape.max_drafts + 1);
            if (rec.extend(r.id, r.in_flight)) {
                ++i;
                continue;
            }
            (void)rec.free_request(r.id);
            finished.push_back(r.id);
            batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(i));
        }
        // The forward pass's tables, sized exactly, through both views.
        ids.clear();
        std::int64_t row = 0, full_nnz = 0, swa_nnz = 0, in_flight = 0;
        for (const running& r : batch) {
            ids.push_back(r.id);
            const auto pages = static_cast<std::int64_t>(pool.full().pages(r.id).size());
            row = std::max(row, pages);
            full_nnz += pages;
            swa_nnz += pages - pool.swa().first_live_page(r.id);
            in_flight += r.in_flight;
        }
        dense.assign(static_cast<std::size_t>(row) * ids.size(), 0);
        (void)rec.emit_dense_table<attention_kind::full>(ids, dense, row);
        (void)rec.emit_dense_table<attention_kind::sliding>(ids, dense, row);
        indptr.assign(ids.size() + 1, 0), last.assign(ids.size(), 0);
        indices.assign(static_cast<std::size_t>(full_nnz), 0);
        (void)rec.emit_csr_table<attention_kind::full>(ids, {indptr, indices, last});
        indices.assign(static_cast<std::size_t>(swa_nnz), 0);
        (void)rec.emit_csr_table<attention_kind::sliding>(ids, {indptr, indices, last});
        slots.assign(static_cast<std::size_t>(in_flight), 0);
        (void)rec.emit_slot_mapping<attention_kind::full>(ids, slots);
        (void)rec.emit_slot_mapping<attention_kind::sliding>(ids, slots);
        // Verify: prefill chunks are committed whole; of 1 + k decode tokens, 1 to 1 + k are accepted.
        for (std::size_t i = 0; i < batch.size();) {
            running& r = batch[i];
            const std::int64_t accepted = r.prefill_step ? r.in_flight : 1 + below(r.in_flight);
            (void)rec.commit(r.id, accepted);
            if (r.prefill_step)
                r.prompt_left -= accepted;
            else
                r.output_left -= accepted;
            if (below(40) == 0) {  // a rollback of a few tokens; may meet window_already_released
                const std::int64_t len = pool.full().length_tokens(r.id);
                (void)rec.truncate(r.id, std::max<std::int64_t>(0, len - 1 - below(24)));
            }
            if (r.prompt_left <= 0 && r.output_left <= 0) {
                (void)rec.free_request(r.id);
                finished.push_back(r.id);
                batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            ++i;
        }
        if (!finished.empty() && below(25) == 0)  // a buggy engine's double free: unknown_request
            (void)rec.free_request(
                finished[static_cast<std::size_t>(below(static_cast<std::int64_t>(finished.size())))]);
    }
}

}  // namespace pagedkv::tools
