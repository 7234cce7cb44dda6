// The simulated serving engine: a step loop with chunked prefill, MTP decode, admission and
// preemption, over a hybrid pool or over one full pool (the layout of an engine without SWA pools).
#pragma once
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <pagedkv/debug/trace.hpp>
#include <pagedkv/pagedkv.hpp>
#include <pagedkv/plan/model_config.hpp>

#include "workload.hpp"

namespace engine_sim {

/// One request's progress. Tokens known = prompt + generated; the pool holds `committed` of them
/// (between steps) plus, during a step, `in_flight` more. While decoding, committed == known - 1:
/// the last sampled token is the next step's input and has no KV yet.
struct sim_request {
    request_spec spec;
    std::int64_t generated = 0;       ///< output tokens sampled so far
    std::int64_t committed = 0;       ///< tokens whose KV the pool holds (== the pool's committed length)
    std::int64_t prefill_target = 0;  ///< tokens to prefill since admission: prompt + generated then
    std::int64_t in_flight = 0;       ///< tokens extended this step
    std::int64_t decode_steps = 0;    ///< decode steps taken: indexes the acceptance draws
    pagedkv::request_id id{};
    bool prefilling() const noexcept { return committed < prefill_target; }
};

/// Where prefix reuse plugs in: every admission and release goes through these calls. The
/// simulated requests carry lengths, not token ids, so there is no content to key pages by and
/// nothing is reused: admission starts from token 0, release returns every page to the free list.
/// A caching pool (`caching_hybrid_pool`, docs/prefix_reuse.md) would keep released pages instead.
struct no_prefix_reuse {
    /// Adds `r` to the pool. Returns its id and the tokens already held for it (a reused prefix,
    /// committed): the engine prefills only the rest.
    template <class Pool>
    std::pair<pagedkv::request_id, std::int64_t> admit(Pool& pool, const sim_request&) {
        return {pool.add_request().value(), 0};
    }
    /// Releases a finished or preempted request (a cache would keep its prefix pages instead).
    template <class Pool>
    void release(Pool& pool, const sim_request& r) {
        (void)pool.free_request(r.id);
    }
    /// Pages of the pool serving `kind` that the cache holds unowned but revivable.
    std::int32_t cached_pages(pagedkv::attention_kind) const noexcept { return 0; }
};

/// One pool's occupancy over a run, sampled at each step's peak (after every extend, before the
/// commits): the memory the step's forward pass needs.
struct pool_trace {
    std::string name;
    pagedkv::attention_kind kind{};
    std::int32_t capacity_pages = 0;  ///< pages a request can own (the null page excluded)
    std::int64_t page_bytes = 0;
    std::vector<std::int32_t> owned, cached;
    std::vector<std::int64_t> ideal;  ///< sum over running requests of the ideal pages (docs/engine_sim.md)
};

/// An error as engine_sim prints it: "code: detail" (just "code" when it has no detail).
inline std::string format_error(pagedkv::error e) {
    std::string text(pagedkv::to_string(e.code));
    if (*e.detail) text += std::string(": ") + e.detail;
    return text;
}

/// What one run did and how long the host side took.
struct run_result {
    std::string layout;
    std::vector<pool_trace> pools;
    std::vector<double> step_ns;           ///< host time of each step's pool and table work
    std::vector<double> table_ns;          ///< the part of step_ns spent emitting tables
    std::vector<std::int32_t> batch_size;  ///< requests in each step's forward pass
    std::vector<std::int32_t> running;     ///< requests holding pages at each step's peak
    std::int64_t preemptions = 0;
    std::int64_t finished = 0;
    std::int64_t invariant_checks = 0;
    std::int64_t ideal_bytes = 0;  ///< summed over steps: the ideal pages' bytes under the hybrid layout
    std::int64_t used_bytes = 0;   ///< summed over steps: the bytes this layout's pools hold
    std::string error;             ///< empty when the run completed
    std::int64_t steps() const noexcept { return static_cast<std::int64_t>(step_ns.size()); }
};

/// The knobs of a run that are not the workload.
struct run_options {
    std::int32_t page_size_tokens = 16;
    std::int32_t check_every = 1;  ///< run the invariant checkers every N steps; 0 disables them
    std::uint64_t seed = 1;
    std::int64_t max_steps = 10'000'000;
    std::function<void(const run_result&, std::int32_t running, std::int32_t waiting)> on_step;
};

/// One pool of the hybrid layout as the ideal sees it: the rule of its layers and its page bytes.
/// The ideal pages of a request are those holding the keys its next query can see,
/// [max(0, first_visible_token(committed)), length): every token for full layers, W - 1 + the tokens
/// in flight for a window, the current chunk so far for chunked layers.
struct ideal_pool {
    std::variant<pagedkv::full_attention, pagedkv::sliding_window, pagedkv::chunked_local> rule;
    std::int64_t page_bytes = 0;
    std::int64_t ideal_pages(std::int64_t committed, std::int64_t length, std::int32_t page) const {
        const std::int64_t first = std::visit([&](const auto& r) { return r.first_visible_token(committed); }, rule);
        return pagedkv::pages_for_tokens(length - std::max<std::int64_t>(first, 0), page);
    }
};
/// The ideal pools of a two-pool model: its full and sliding layers.
inline std::vector<ideal_pool> ideal_pools_of(const pagedkv::model_config& model, std::int32_t page) {
    return {{pagedkv::full_attention{}, page * model.full_bytes_per_token()},
            {pagedkv::sliding_window{model.window_tokens}, page * model.sliding_bytes_per_token()}};
}

/// How a pool layout is sampled and emitted; one specialization per layout.
template <class Pool>
struct layout;

/// Full-attention layers in a full pool, sliding-window layers in an SWA pool.
template <>
struct layout<pagedkv::hybrid_pool<>> {
    using pool_type = pagedkv::hybrid_pool<>;
    static constexpr std::size_t pools = 2;
    static std::array<std::int32_t, pools> free_pages(const pool_type& p) {
        return {p.full().free_pages(), p.swa().free_pages()};
    }
    /// The ideal pages of each pool, given the ideal pages of the hybrid layout's pools (docs/engine_sim.md).
    static std::array<std::int64_t, pools> ideal(std::span<const std::int64_t> ideal, std::span<const std::int64_t>) {
        return {ideal[0], ideal[1]};
    }
    static pagedkv::status check(const pool_type& p) { return p.check_invariants(); }
    static std::int64_t committed(const pool_type& p, pagedkv::request_id r) { return p.full().committed_tokens(r); }
    static std::int64_t length(const pool_type& p, pagedkv::request_id r) { return p.full().length_tokens(r); }
};

/// Every layer in one full pool: a page holds P tokens of all layers.
template <>
struct layout<pagedkv::full_pool<>> {
    using pool_type = pagedkv::full_pool<>;
    static constexpr std::size_t pools = 1;
    static std::array<std::int32_t, pools> free_pages(const pool_type& p) { return {p.free_pages()}; }
    /// The ideal expressed in this pool's pages: the hybrid layout's ideal pages' bytes over the
    /// bytes of one all-layer page, so the gap to `owned` is what the layout wastes.
    static std::array<std::int64_t, pools> ideal(std::span<const std::int64_t> ideal,
                                                 std::span<const std::int64_t> page_bytes) {
        std::int64_t bytes = 0, page = 0;
        for (std::size_t k = 0; k < ideal.size(); ++k) {
            bytes += ideal[k] * page_bytes[k];
            page += page_bytes[k];
        }
        return {(bytes + page - 1) / page};
    }
    static pagedkv::status check(const pool_type& p) { return p.check_invariants(); }
    static std::int64_t committed(const pool_type& p, pagedkv::request_id r) { return p.committed_tokens(r); }
    static std::int64_t length(const pool_type& p, pagedkv::request_id r) { return p.length_tokens(r); }
};

/// A hybrid pool behind the trace recorder (`--trace FILE`): sampled and emitted as the pool itself;
/// its mutations go through the recorder, which logs each call, its result and the state digest.
template <>
struct layout<pagedkv::trace_recorder<pagedkv::hybrid_pool<>>> {
    using pool_type = pagedkv::trace_recorder<pagedkv::hybrid_pool<>>;
    using base = layout<pagedkv::hybrid_pool<>>;
    static constexpr std::size_t pools = base::pools;
    static auto free_pages(const pool_type& p) { return base::free_pages(p.pool()); }
    static auto ideal(std::span<const std::int64_t> i, std::span<const std::int64_t> b) { return base::ideal(i, b); }
    static pagedkv::status check(const pool_type& p) { return base::check(p.pool()); }
    static std::int64_t committed(const pool_type& p, pagedkv::request_id r) { return base::committed(p.pool(), r); }
    static std::int64_t length(const pool_type& p, pagedkv::request_id r) { return base::length(p.pool(), r); }
};

/// Full layers in a full pool and each group (windows, chunks) in its own pool.
template <class... Groups>
struct layout<pagedkv::multi_hybrid_pool<pagedkv::full_pool<>, Groups...>> {
    using pool_type = pagedkv::multi_hybrid_pool<pagedkv::full_pool<>, Groups...>;
    static constexpr std::size_t pools = 1 + sizeof...(Groups);
    static std::array<std::int32_t, pools> free_pages(const pool_type& p) {
        return [&]<std::size_t... K>(std::index_sequence<K...>) {
            return std::array<std::int32_t, pools>{p.full().free_pages(), p.template group<K>().free_pages()...};
        }(std::make_index_sequence<sizeof...(Groups)>{});
    }
    static std::array<std::int64_t, pools> ideal(std::span<const std::int64_t> ideal, std::span<const std::int64_t>) {
        std::array<std::int64_t, pools> out{};
        for (std::size_t k = 0; k < pools; ++k) out[k] = ideal[k];
        return out;
    }
    static pagedkv::status check(const pool_type& p) { return p.check_invariants(); }
    static std::int64_t committed(const pool_type& p, pagedkv::request_id r) { return p.full().committed_tokens(r); }
    static std::int64_t length(const pool_type& p, pagedkv::request_id r) { return p.full().length_tokens(r); }
};

/// Caller-sized buffers for one step's tables, allocated once per run (none on the step path).
struct table_buffers {
    std::vector<pagedkv::request_id> batch;
    std::vector<std::int32_t> indptr, indices, last_page_len;
    std::vector<std::int64_t> slots, swa_slots;
    table_buffers(std::size_t max_batch, std::size_t max_pages, std::size_t max_tokens)
        : indptr(max_batch + 1),
          indices(max_pages),
          last_page_len(max_batch),
          slots(max_tokens),
          swa_slots(max_tokens) {
        batch.reserve(max_batch);
    }
    pagedkv::csr_table_out csr() { return {indptr, indices, last_page_len}; }
};

/// What a kernel launch would consume this step: CSR page tables of every pool and the slot of
/// every in-flight token (the SWA slots derived through full_to_swa).
inline pagedkv::status emit_tables(const pagedkv::hybrid_pool<>& p, table_buffers& t) {
    if (auto n = pagedkv::emit_csr_table(p.full(), t.batch, t.csr()); !n) return n.err();
    if (auto n = pagedkv::emit_csr_table(p.swa(), t.batch, t.csr()); !n) return n.err();
    const auto slots = pagedkv::emit_slot_mapping(p.full(), t.batch, t.slots);
    if (!slots) return slots.err();
    for (std::int64_t i = 0; i < slots.value(); ++i)
        t.swa_slots[static_cast<std::size_t>(i)] = p.swa_slot(t.slots[static_cast<std::size_t>(i)]);
    return {};
}
inline pagedkv::status emit_tables(const pagedkv::trace_recorder<pagedkv::hybrid_pool<>>& p, table_buffers& t) {
    return emit_tables(p.pool(), t);
}
template <class... Groups>
pagedkv::status emit_tables(const pagedkv::multi_hybrid_pool<pagedkv::full_pool<>, Groups...>& p, table_buffers& t) {
    if (auto n = pagedkv::emit_csr_table(p.full(), t.batch, t.csr()); !n) return n.err();
    const auto slots = pagedkv::emit_slot_mapping(p.full(), t.batch, t.slots);
    if (!slots) return slots.err();
    pagedkv::status bad{};
    [&]<std::size_t... K>(std::index_sequence<K...>) {
        const auto one = [&](auto k) {
            if (!bad.ok()) return;
            if (auto n = pagedkv::emit_csr_table(p.template group<k>(), t.batch, t.csr()); !n) {
                bad = n.err();
                return;
            }
            for (std::int64_t i = 0; i < slots.value(); ++i)  // each group's slots, derived through its mapping
                t.swa_slots[static_cast<std::size_t>(i)] =
                    p.template group_slot<k>(t.slots[static_cast<std::size_t>(i)]);
        };
        (one(std::integral_constant<std::size_t, K>{}), ...);
    }(std::make_index_sequence<sizeof...(Groups)>{});
    return bad;
}
inline pagedkv::status emit_tables(const pagedkv::full_pool<>& p, table_buffers& t) {
    if (auto n = pagedkv::emit_csr_table(p, t.batch, t.csr()); !n) return n.err();
    if (auto n = pagedkv::emit_slot_mapping(p, t.batch, t.slots); !n) return n.err();
    return {};
}

/// Runs the requests of `specs` through `pool` to completion (or to an error in run_result::error).
/// Per step, in admission order (vLLM-style FCFS): every running request reserves its tokens
/// (a prefill chunk from the step's prefill budget, or 1 + drafts to decode); when the pool runs
/// out, the most recently admitted request is preempted (released and re-queued at the front; it
/// recomputes prompt + generated on readmission). Then, if nothing was preempted, waiting requests
/// are admitted while the concurrency cap, the prefill budget and free pages allow. Tables are
/// emitted, and each request commits: a prefill chunk whole, a decode step 1 + accepted drafts.
/// `ideal` lists the hybrid layout's pools (ideal_pools_of for a two-pool model): every layout's
/// ideal is measured against it.
template <class Pool, class Reuse = no_prefix_reuse>
run_result run_engine(Pool& pool, std::vector<pool_trace> traces, const std::vector<request_spec>& specs,
                      const workload_spec& w, const std::vector<ideal_pool>& ideal_layout, const run_options& opt,
                      std::string layout_name, Reuse reuse = {}) {
    using L = layout<Pool>;
    using clock = std::chrono::steady_clock;
    run_result out;
    out.layout = std::move(layout_name);
    out.pools = std::move(traces);
    const acceptance accept(w.draft_tokens, w.mean_accepted, opt.seed ^ 0xacce97ULL);
    const std::int64_t page = opt.page_size_tokens;
    std::vector<std::int64_t> ideal_pages(ideal_layout.size()), ideal_page_bytes;
    for (const ideal_pool& i : ideal_layout) ideal_page_bytes.push_back(i.page_bytes);

    std::vector<sim_request> reqs(specs.size());
    for (std::size_t i = 0; i < specs.size(); ++i) reqs[i].spec = specs[i];
    std::vector<std::int32_t> waiting;  // back = front of the queue: preempted requests go back first
    std::vector<std::int32_t> running;  // admission order; the back is preempted first
    std::vector<std::int32_t> scheduled;
    waiting.reserve(reqs.size());
    running.reserve(reqs.size());
    scheduled.reserve(reqs.size());
    for (std::size_t i = reqs.size(); i-- > 0;) waiting.push_back(static_cast<std::int32_t>(i));
    std::size_t max_pages = 0;
    for (const pool_trace& t : out.pools)
        max_pages = std::max<std::size_t>(max_pages, static_cast<std::size_t>(t.capacity_pages));
    table_buffers tables(
        static_cast<std::size_t>(w.max_concurrency), max_pages,
        static_cast<std::size_t>(w.prefill_chunk_tokens) +
            static_cast<std::size_t>(w.max_concurrency) * static_cast<std::size_t>(1 + w.draft_tokens));

    const auto preempt_newest = [&] {
        const std::int32_t victim = running.back();
        running.pop_back();
        sim_request& v = reqs[static_cast<std::size_t>(victim)];
        reuse.release(pool, v);
        v.committed = v.prefill_target = v.in_flight = 0;
        waiting.push_back(victim);
        ++out.preemptions;
        return victim;
    };

    for (std::int64_t step = 0; out.finished < static_cast<std::int64_t>(reqs.size()); ++step) {
        if (step >= opt.max_steps) {
            out.error = "no progress after " + std::to_string(step) + " steps";
            return out;
        }
        const auto t0 = clock::now();
        std::int64_t prefill_budget = w.prefill_chunk_tokens;
        bool preempted = false;
        scheduled.clear();
        // 1. running requests reserve this step's tokens, oldest first
        for (std::size_t i = 0; i < running.size();) {
            const std::int32_t ri = running[i];
            sim_request& r = reqs[static_cast<std::size_t>(ri)];
            const std::int64_t need =
                r.prefilling() ? std::min(r.prefill_target - r.committed, prefill_budget) : 1 + w.draft_tokens;
            if (need == 0) {
                ++i;
                continue;
            }  // a prefill with no budget left this step
            bool gone = false;
            while (!pool.extend(r.id, need).ok()) {
                preempted = true;
                if (preempt_newest() == ri) {
                    gone = true;
                    break;
                }
            }
            if (gone) break;  // r was the newest: nothing after it is running
            if (r.prefilling()) prefill_budget -= need;
            r.in_flight = need;
            scheduled.push_back(ri);
            ++i;
        }
        // 2. admissions, while nothing had to be preempted this step
        while (!preempted && !waiting.empty() && running.size() < static_cast<std::size_t>(w.max_concurrency) &&
               prefill_budget > 0) {
            const std::int32_t ri = waiting.back();
            sim_request& r = reqs[static_cast<std::size_t>(ri)];
            const auto [id, reused] = reuse.admit(pool, r);
            r.id = id;
            r.committed = reused;
            r.prefill_target = r.spec.prompt_tokens + r.generated;
            const std::int64_t need = std::min(r.prefill_target - r.committed, prefill_budget);
            if (!pool.extend(r.id, need).ok()) {
                reuse.release(pool, r);
                r.committed = r.prefill_target = 0;
                break;
            }
            waiting.pop_back();
            running.push_back(ri);
            prefill_budget -= need;
            r.in_flight = need;
            scheduled.push_back(ri);
        }
        if (running.empty()) {
            out.error = "the pool cannot hold a single request (its first prefill chunk, or its peak)";
            return out;
        }
        // 3. the forward pass's inputs
        const auto t_tables = clock::now();
        tables.batch.clear();
        for (std::int32_t ri : scheduled) tables.batch.push_back(reqs[static_cast<std::size_t>(ri)].id);
        if (auto s = emit_tables(pool, tables); !s) {
            out.error = "table emission failed: " + format_error(s.err());
            return out;
        }
        const auto t1 = clock::now();

        // Sample the step's peak (not timed).
        std::fill(ideal_pages.begin(), ideal_pages.end(), 0);
        for (std::int32_t ri : running) {
            const sim_request& r = reqs[static_cast<std::size_t>(ri)];
            for (std::size_t k = 0; k < ideal_layout.size(); ++k)
                ideal_pages[k] += ideal_layout[k].ideal_pages(r.committed, r.committed + r.in_flight,
                                                              static_cast<std::int32_t>(page));
        }
        const auto free = L::free_pages(pool);
        const auto ideal = L::ideal(ideal_pages, ideal_page_bytes);
        for (std::size_t k = 0; k < L::pools; ++k) {
            pool_trace& t = out.pools[k];
            const std::int32_t cached = reuse.cached_pages(t.kind);
            t.owned.push_back(t.capacity_pages - free[k] - cached);
            t.cached.push_back(cached);
            t.ideal.push_back(ideal[k]);
            out.used_bytes += std::int64_t{t.owned.back()} * t.page_bytes;
        }
        for (std::size_t k = 0; k < ideal_layout.size(); ++k) out.ideal_bytes += ideal_pages[k] * ideal_page_bytes[k];
        out.batch_size.push_back(static_cast<std::int32_t>(scheduled.size()));
        out.running.push_back(static_cast<std::int32_t>(running.size()));

        // 4. verification: commit what each request keeps
        const auto t2 = clock::now();
        for (std::int32_t ri : scheduled) {
            sim_request& r = reqs[static_cast<std::size_t>(ri)];
            std::int64_t keep = r.in_flight;
            if (r.prefilling()) {
                if (r.committed + keep == r.prefill_target) r.generated += 1;  // prefill samples a token
            } else {
                const std::int64_t room = r.spec.output_tokens - r.generated - 1;
                const std::int64_t a = std::min<std::int64_t>(accept.accepted(ri, r.decode_steps++), room);
                keep = 1 + a;
                r.generated += 1 + a;
            }
            (void)pool.commit(r.id, keep);
            r.committed += keep;
            r.in_flight = 0;
        }
        for (std::size_t i = 0; i < running.size();) {
            sim_request& r = reqs[static_cast<std::size_t>(running[i])];
            if (r.generated < r.spec.output_tokens) {
                ++i;
                continue;
            }
            reuse.release(pool, r);
            running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
            ++out.finished;
        }
        const auto t3 = clock::now();
        out.step_ns.push_back(std::chrono::duration<double, std::nano>((t1 - t0) + (t3 - t2)).count());
        out.table_ns.push_back(std::chrono::duration<double, std::nano>(t1 - t_tables).count());

        // 5. invariant checks (not timed): the pools', then the engine's view against the pools'
        if (opt.check_every > 0 && step % opt.check_every == 0) {
            ++out.invariant_checks;
            if (auto s = L::check(pool); !s) {
                out.error = "invariant violated: " + format_error(s.err());
                return out;
            }
            for (std::int32_t ri : running) {
                const sim_request& r = reqs[static_cast<std::size_t>(ri)];
                if (L::committed(pool, r.id) != r.committed || L::length(pool, r.id) != r.committed) {
                    out.error = "engine and pool disagree on a request's length";
                    return out;
                }
            }
        }
        if (opt.on_step)
            opt.on_step(out, static_cast<std::int32_t>(running.size()), static_cast<std::int32_t>(waiting.size()));
    }
    return out;
}

}  // namespace engine_sim
