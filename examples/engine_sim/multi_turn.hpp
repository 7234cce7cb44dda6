// The multi-turn chat workload: sessions that return after think time, sharing a system prompt,
// served on a full caching pool alone or on the same pool with a host tier (docs/engine_sim.md).
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <pagedkv/pagedkv.hpp>
#include <pagedkv/plan/model_config.hpp>
#include <pagedkv/pool/tiered_pool.hpp>

#include "workload.hpp"

namespace engine_sim {

/// One run's figures. A token is *recomputed* when its prompt prefills it although an earlier
/// forward pass had computed its KV (the session's earlier turns, or the shared system prompt).
struct multi_turn_result {
    std::string layout;
    std::int64_t steps = 0;           ///< until the last turn's reply, think time included
    std::int64_t forward_passes = 0;  ///< steps that ran a batch
    std::int64_t turns_served = 0;
    std::int64_t preemptions = 0;
    std::int64_t prompt_tokens = 0;     ///< looked up at admissions (readmissions included)
    std::int64_t gpu_hit_tokens = 0;    ///< attached from the GPU tier's cached pages
    std::int64_t host_hit_tokens = 0;   ///< attached from the host tier (loaded)
    std::int64_t prefilled_tokens = 0;  ///< prompt tokens computed by prefill
    std::int64_t recomputed_tokens = 0;
    std::int64_t decoded_tokens = 0;
    std::int64_t written_back_pages = 0, loaded_pages = 0;  ///< GPU -> host, host -> GPU
    std::int64_t peak_step_copy_pages = 0;                  ///< the largest plan of the run
    std::int64_t gpu_evicted_pages = 0;
    std::int64_t host_evicted_pages = 0;
    std::int64_t first_token_steps = 0;  ///< summed over turns: arrival to the prompt's last prefill step
    std::int64_t turn_steps = 0;         ///< summed over turns: arrival to the reply's last token
    std::int64_t invariant_checks = 0;
    std::string error;  ///< empty when the run completed
    double hit_rate() const noexcept {
        return prompt_tokens == 0 ? 0.0 : double(gpu_hit_tokens + host_hit_tokens) / double(prompt_tokens);
    }
};

/// How the loop reaches a pool with or without a host tier: one specialization each.
template <class Pool>
struct tier_access;

/// A full caching pool alone: an evicted page's KV is lost.
template <>
struct tier_access<pagedkv::full_pool<pagedkv::lifo_free_stack, pagedkv::lru>> {
    using pool_type = pagedkv::full_pool<pagedkv::lifo_free_stack, pagedkv::lru>;
    static const pool_type& gpu(const pool_type& p) { return p; }
    static pagedkv::tier_hit attach(pool_type& p, pagedkv::request_id r, std::span<const pagedkv::token_id> prompt) {
        return {p.attach_prefix(r, prompt).value(), 0};
    }
    /// No copies: {write-back pages, load pages} = {0, 0}.
    static std::pair<std::int64_t, std::int64_t> run_copies(pool_type&) { return {0, 0}; }
    static std::int64_t host_evicted(const pool_type&) { return 0; }
};

/// The same pool with a host tier: the step's plan is taken and completed before the forward pass
/// (the copies run first on the forward pass's stream).
template <>
struct tier_access<pagedkv::tiered_full_pool<pagedkv::lru>> {
    using pool_type = pagedkv::tiered_full_pool<pagedkv::lru>;
    static const auto& gpu(const pool_type& p) { return p.gpu(); }
    static pagedkv::tier_hit attach(pool_type& p, pagedkv::request_id r, std::span<const pagedkv::token_id> prompt) {
        return p.attach_prefix(r, prompt).value();
    }
    static std::pair<std::int64_t, std::int64_t> run_copies(pool_type& p) {
        const pagedkv::copy_plan& plan = p.take_plan();
        const std::pair<std::int64_t, std::int64_t> pages{pagedkv::copy_plan::pages(plan.write_backs),
                                                          pagedkv::copy_plan::pages(plan.loads)};
        (void)p.complete(plan);  // the oldest plan: plans are completed as soon as taken
        return pages;
    }
    static std::int64_t host_evicted(const pool_type& p) { return p.host().evicted_pages(); }
};

/// Token i of session s's turn t (user message, then reply): distinct per session and turn.
inline pagedkv::token_id chat_token(std::int32_t session, std::int32_t turn, std::int64_t i) noexcept {
    return static_cast<pagedkv::token_id>(100'000 + (session * 64 + turn) * 4096 + i % 4096);
}

/// Serves every turn of every session of `w` on `pool`, FCFS with chunked prefill and one decode
/// token per step; out of pages, the newest request is preempted (`preempt`: its committed whole
/// pages stay cached) and readmitted first. Every `check_every` steps (0: never) the pool's
/// invariants run.
template <class Pool>
multi_turn_result run_multi_turn(Pool& pool, const multi_turn_spec& w, std::uint64_t seed, std::int32_t check_every,
                                 std::string layout_name, std::int64_t max_steps = 10'000'000) {
    using T = tier_access<Pool>;
    multi_turn_result out;
    out.layout = std::move(layout_name);
    struct session {
        std::int32_t turn = 0;                   // the turn being served or awaited
        std::int64_t ready_step = 0;             // when turn `turn` arrives
        bool active = false;                     // waiting or running
        std::vector<pagedkv::token_id> history;  // system prompt and every finished turn
        std::int64_t computed_tokens = 0;        // prefix of history (and beyond) some pass computed
    };
    struct request {
        std::int32_t session = 0;
        std::vector<pagedkv::token_id> tokens;  // prompt, then the reply
        std::int64_t prefill_target = 0;        // prompt, or more after a preemption mid-reply
        std::int64_t committed = 0, in_flight = 0;
        std::int64_t arrival_step = 0;
        bool answered = false;  // the prompt's prefill has ended (first token sampled)
        pagedkv::request_id id{};
        bool prefilling() const noexcept { return committed < prefill_target; }
    };
    std::vector<pagedkv::token_id> system(static_cast<std::size_t>(w.system_tokens));
    for (std::size_t i = 0; i < system.size(); ++i) system[i] = static_cast<pagedkv::token_id>(1 + i);
    std::vector<session> sessions(static_cast<std::size_t>(w.sessions));
    for (std::size_t s = 0; s < sessions.size(); ++s) {
        sessions[s].history = system;
        sessions[s].ready_step = static_cast<std::int64_t>(s) * w.arrival_gap_steps;
    }
    bool system_computed = false;
    std::vector<request> reqs;
    std::vector<std::size_t> waiting;  // front = next admitted
    std::vector<std::size_t> running;  // admission order; the back is preempted first
    std::vector<std::size_t> scheduled;
    std::vector<std::size_t> free_slots;
    const std::int64_t total_turns = std::int64_t{w.sessions} * w.turns;

    const auto think = [&](std::size_t s, std::int32_t turn) {
        const double u = uniform_hash(seed, s, static_cast<std::uint64_t>(turn), 0x7417);
        return std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(w.think_steps) * (0.5 + u)));
    };
    const auto preempt_newest = [&] {
        const std::size_t v = running.back();
        running.pop_back();
        request& q = reqs[v];
        (void)pool.preempt(q.id, q.tokens);  // committed whole pages stay cached (and may be written back)
        q.prefill_target = std::max(q.prefill_target, q.committed);
        sessions[static_cast<std::size_t>(q.session)].computed_tokens =
            std::max(sessions[static_cast<std::size_t>(q.session)].computed_tokens, q.committed);
        q.committed = q.in_flight = 0;
        waiting.insert(waiting.begin(), v);
        ++out.preemptions;
        return v;
    };

    for (std::int64_t step = 0; out.turns_served < total_turns; ++step) {
        if (step >= max_steps) {
            out.error = "no progress after " + std::to_string(step) + " steps";
            return out;
        }
        // 0. turns that arrive now join the queue
        for (std::size_t s = 0; s < sessions.size(); ++s) {
            session& ss = sessions[s];
            if (ss.active || ss.turn >= w.turns || ss.ready_step > step) continue;
            std::size_t slot = reqs.size();
            if (!free_slots.empty())
                slot = free_slots.back(), free_slots.pop_back();
            else
                reqs.emplace_back();
            request& q = reqs[slot];
            q = request{};
            q.session = static_cast<std::int32_t>(s);
            q.arrival_step = step;
            q.tokens = ss.history;
            for (std::int64_t i = 0; i < w.user_tokens; ++i) q.tokens.push_back(chat_token(q.session, ss.turn, i));
            q.prefill_target = static_cast<std::int64_t>(q.tokens.size());
            for (std::int64_t i = 0; i < w.reply_tokens; ++i)
                q.tokens.push_back(chat_token(q.session, ss.turn, w.user_tokens + i));
            ss.active = true;
            waiting.push_back(slot);
        }
        // 1. running requests reserve their tokens, oldest first
        std::int64_t budget = w.prefill_chunk_tokens;
        bool preempted = false;
        scheduled.clear();
        for (std::size_t i = 0; i < running.size();) {
            const std::size_t qi = running[i];
            request& q = reqs[qi];
            const std::int64_t need = q.prefilling() ? std::min(q.prefill_target - q.committed, budget) : 1;
            if (need == 0) {
                ++i;
                continue;
            }
            bool gone = false;
            while (!pool.extend(q.id, need).ok()) {
                preempted = true;
                if (preempt_newest() == qi) {
                    gone = true;
                    break;
                }
            }
            if (gone) break;
            if (q.prefilling()) budget -= need;
            q.in_flight = need;
            scheduled.push_back(qi);
            ++i;
        }
        // 2. admissions: attach what either tier holds, prefill the rest
        while (!preempted && !waiting.empty() && running.size() < static_cast<std::size_t>(w.max_concurrency) &&
               budget > 0) {
            const std::size_t qi = waiting.front();
            request& q = reqs[qi];
            q.id = pool.add_request().value();
            const auto prompt =
                std::span<const pagedkv::token_id>(q.tokens).first(static_cast<std::size_t>(q.prefill_target));
            const pagedkv::tier_hit hit = T::attach(pool, q.id, prompt);
            const std::int64_t need = std::min(q.prefill_target - hit.tokens(), budget);
            if (!pool.extend(q.id, need).ok()) {
                (void)pool.free_request(q.id);
                break;
            }
            session& ss = sessions[static_cast<std::size_t>(q.session)];
            const std::int64_t known = std::max(ss.computed_tokens, system_computed ? w.system_tokens : 0);
            out.prompt_tokens += q.prefill_target;
            out.gpu_hit_tokens += hit.gpu_tokens;
            out.host_hit_tokens += hit.host_tokens;
            out.recomputed_tokens += std::max<std::int64_t>(0, std::min(known, q.prefill_target) - hit.tokens());
            q.committed = hit.tokens();
            waiting.erase(waiting.begin());
            running.push_back(qi);
            budget -= need;
            q.in_flight = need;
            scheduled.push_back(qi);
        }
        // 3. the step's copies run before its forward pass
        const auto [written_back, loaded] = T::run_copies(pool);
        out.written_back_pages += written_back;
        out.loaded_pages += loaded;
        out.peak_step_copy_pages = std::max(out.peak_step_copy_pages, written_back + loaded);
        // 4. the forward pass computed the tokens in flight: commit them, keyed
        for (std::size_t qi : scheduled) {
            request& q = reqs[qi];
            (q.prefilling() ? out.prefilled_tokens : out.decoded_tokens) += q.in_flight;
            if (q.prefilling() && q.committed + q.in_flight >= w.system_tokens) system_computed = true;
            if (auto s = pool.commit(q.id, q.in_flight, q.tokens); !s) {
                out.error = "commit failed";
                return out;
            }
            q.committed += q.in_flight;
            q.in_flight = 0;
            if (!q.answered && q.committed >= q.prefill_target) {
                q.answered = true;
                out.first_token_steps += step + 1 - q.arrival_step;
            }
        }
        for (std::size_t i = 0; i < running.size();) {
            request& q = reqs[running[i]];
            if (q.committed < static_cast<std::int64_t>(q.tokens.size())) {
                ++i;
                continue;
            }
            session& ss = sessions[static_cast<std::size_t>(q.session)];
            (void)pool.free_request(q.id);  // its keyed pages stay cached for the next turn
            ss.history = std::move(q.tokens);
            ss.computed_tokens = static_cast<std::int64_t>(ss.history.size());
            ss.active = false;
            ss.ready_step = step + 1 + think(static_cast<std::size_t>(q.session), ss.turn);
            ++ss.turn;
            ++out.turns_served;
            out.turn_steps += step + 1 - q.arrival_step;
            free_slots.push_back(running[i]);
            running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
        }
        out.steps = step + 1;
        out.forward_passes += !scheduled.empty();
        if (check_every > 0 && step % check_every == 0) {
            ++out.invariant_checks;
            if (auto s = pool.check_invariants(); !s) {
                out.error = "invariant violated: " + std::string(pagedkv::to_string(s.code()));
                return out;
            }
        }
    }
    out.gpu_evicted_pages = T::gpu(pool).stats().evicted_pages;
    out.host_evicted_pages = T::host_evicted(pool);
    return out;
}

/// What the multi-turn run needs from the command line.
struct multi_turn_run {
    std::string preset_name;
    pagedkv::model_config model;
    multi_turn_spec workload;
    std::int32_t page_size = 16;
    double budget_gib = 0;  ///< the GPU tier; 0: the concurrency cap's requests at their longest turn
    double host_gib = 0;    ///< the host tier; 0: every session's longest context
    std::uint64_t seed = 1;
    std::int32_t check_every = 1;
};

/// Serves `o.workload` on a full caching pool alone, then on the same pool with a host tier, and
/// prints both runs side by side (multi_turn.cpp). Returns the process's exit code.
int serve_multi_turn(const multi_turn_run& o);

}  // namespace engine_sim
