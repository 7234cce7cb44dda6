// Capacity planning: split a KV memory budget into full and SWA pages so the most requests fit.
#pragma once
#include <algorithm>
#include <cstdint>

#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"
#include "pagedkv/plan/model_config.hpp"

namespace pagedkv {

/// The serving workload a plan is made for. Plan for the longest request when lengths vary.
struct workload_shape {
    std::int64_t prompt_tokens = 0;         ///< tokens prefilled per request
    std::int64_t output_tokens = 1;         ///< tokens generated per request (0 counts as 1: prefill samples one)
    std::int32_t concurrency = 1;           ///< the concurrency the plan is reported against
    std::int32_t draft_tokens = 0;          ///< speculative tokens verified per decode step (MTP, EAGLE)
    std::int64_t prefill_chunk_tokens = 0;  ///< prompt tokens prefilled per step, all requests together;
                                            ///< 0: one whole prompt per step
    friend constexpr bool operator==(const workload_shape&, const workload_shape&) = default;
};

/// Pages that n consecutive tokens can touch at worst, i.e. when the first one sits in the last
/// slot of a page: floor((n + P - 2) / P) + 1 for n >= 1 (one more than ceil(n / P) unless n % P == 1).
constexpr std::int64_t worst_case_pages(std::int64_t n_tokens, std::int32_t page_size_tokens) noexcept {
    return n_tokens <= 0 ? 0 : (n_tokens + page_size_tokens - 2) / page_size_tokens + 1;
}

/// What one request needs at its peak, per pool, for a workload on pages of P tokens.
struct request_demand {
    /// Longest length a request reaches with tokens in flight: the last decode step holds
    /// prompt + output - 1 committed-or-pending tokens plus its drafts.
    std::int64_t peak_tokens = 0;
    /// F = ceil(peak_tokens / P): the full pool keeps every token.
    std::int64_t full_pages = 0;
    /// S = min(F, worst_case_pages(min(peak, W + drafts))): a decode step at committed length C
    /// holds keys [C - W + 1, C + 1 + drafts) in the SWA pool, W + drafts tokens at any alignment.
    std::int64_t swa_pages = 0;
    /// k = ceil(chunk / prompt) + 1: requests that can prefill in one step (all but the last one
    /// finish their prompt in it, and the first may be finishing a previous step's partial chunk).
    std::int64_t prefill_requests_per_step = 0;
    /// Prefill chunk tokens per step (the workload's, or one whole prompt when it gave 0).
    std::int64_t chunk_tokens = 0;
    std::int32_t page_size_tokens = 1;

    /// SWA pages beyond S that the requests prefilling in one step can need: a chunk of c tokens
    /// holds W - 1 + c tokens, at most ceil(c / P) pages more than a decode step, so the chunks of
    /// one step (summing to `chunk_tokens`, at most k of them) need ceil(chunk / P) + k more.
    /// Zero when S == F (the window never drops a page, so nobody exceeds S).
    constexpr std::int64_t swa_prefill_pages(std::int64_t n_requests) const noexcept {
        if (n_requests <= 0 || swa_pages >= full_pages) return 0;
        return pages_for_tokens(chunk_tokens, page_size_tokens) + std::min(n_requests, prefill_requests_per_step);
    }
    /// Full pool size (null page included) that holds n requests at their peak.
    constexpr std::int64_t full_pool_pages(std::int64_t n_requests) const noexcept {
        return 1 + n_requests * full_pages;
    }
    /// SWA pool size (null page included) that holds n requests at their peak.
    constexpr std::int64_t swa_pool_pages(std::int64_t n_requests) const noexcept {
        return 1 + n_requests * swa_pages + swa_prefill_pages(n_requests);
    }
};

/// The demand of one request of `w` under model `m` with pages of P tokens.
/// Errors: invalid_page_size (P < 1), invalid_window (W < 1), negative_length (a negative count in
/// `w`), length_overflow (a request needs more pages than int32 tables address).
constexpr result<request_demand> demand_of(const model_config& m, const workload_shape& w,
                                           std::int32_t page_size_tokens) noexcept {
    if (page_size_tokens < 1) return errc::invalid_page_size;
    if (m.window_tokens < 1) return errc::invalid_window;
    if (w.prompt_tokens < 0 || w.output_tokens < 0 || w.draft_tokens < 0 || w.prefill_chunk_tokens < 0 ||
        w.concurrency < 0)
        return errc::negative_length;
    // Bound every count before adding any two: past the table limit there is no valid plan.
    const std::int64_t limit = max_tokens_per_request(page_size_tokens);
    if (w.prompt_tokens > limit || w.output_tokens > limit || w.draft_tokens > limit ||
        w.prefill_chunk_tokens > limit || m.window_tokens > limit)
        return errc::length_overflow;
    request_demand d;
    d.page_size_tokens = page_size_tokens;
    const std::int64_t decode_steps_tokens = w.output_tokens > 1 ? w.output_tokens - 1 + w.draft_tokens : 0;
    d.peak_tokens = w.prompt_tokens + decode_steps_tokens;
    if (pages_for_tokens(d.peak_tokens, page_size_tokens) > INT32_MAX - 1) return errc::length_overflow;
    d.full_pages = pages_for_tokens(d.peak_tokens, page_size_tokens);
    const std::int64_t window_span = std::min(d.peak_tokens, m.window_tokens + w.draft_tokens);
    d.swa_pages = std::min(d.full_pages, worst_case_pages(window_span, page_size_tokens));
    d.chunk_tokens = w.prefill_chunk_tokens > 0 ? w.prefill_chunk_tokens : w.prompt_tokens;
    d.prefill_requests_per_step =
        w.prompt_tokens > 0 ? (d.chunk_tokens + w.prompt_tokens - 1) / w.prompt_tokens + 1 : 0;
    return d;
}

/// Largest byte count a planned pool may reach; keeps the planner's arithmetic inside int64.
inline constexpr std::int64_t max_pool_bytes = INT64_MAX / 4;

/// Rejects model shapes whose byte counts would overflow: negative counts (negative_length), or a
/// count above 2^16 (dtype above 64 bytes), far beyond any real model (length_overflow).
constexpr status check_model(const model_config& m) noexcept {
    const std::int64_t counts[] = {m.full_layers,      m.sliding_layers,   m.full.kv_heads, m.full.head_dim,
                                   m.sliding.kv_heads, m.sliding.head_dim, m.kv_dtype_bytes};
    for (std::int64_t c : counts) {
        if (c < 0) return errc::negative_length;
        if (c > (1 << 16)) return errc::length_overflow;
    }
    if (m.kv_dtype_bytes > 64) return errc::length_overflow;
    return {};
}

/// The plan: pool sizes, what a page and a token cost, and the concurrency each layout reaches.
struct capacity_plan {
    request_demand demand{};
    pool_size full_pages{};  ///< full pool size, null page included
    pool_size swa_pages{};   ///< SWA pool size, null page included
    std::int64_t full_bytes_per_token = 0;
    std::int64_t swa_bytes_per_token = 0;
    std::int64_t full_page_bytes = 0;  ///< P * full_bytes_per_token
    std::int64_t swa_page_bytes = 0;   ///< P * swa_bytes_per_token
    std::int64_t bytes = 0;            ///< full_pages * full_page_bytes + swa_pages * swa_page_bytes
    std::int32_t concurrency = 0;      ///< requests that fit at their peak in both pools at once
    /// The same budget as one full pool holding every layer (an engine without an SWA pool).
    pool_size full_only_pages{};
    std::int64_t full_only_page_bytes = 0;
    std::int32_t full_only_concurrency = 0;
};

/// Bytes a hybrid layout needs so that n requests of `d` fit at their peak (null pages included).
constexpr std::int64_t hybrid_bytes_for(const request_demand& d, const model_config& m,
                                        std::int64_t n_requests) noexcept {
    const std::int64_t p = d.page_size_tokens;
    return d.full_pool_pages(n_requests) * p * m.full_bytes_per_token() +
           d.swa_pool_pages(n_requests) * p * m.sliding_bytes_per_token();
}

/// Splits `budget_bytes` into a full and an SWA pool that fit the most requests of `w` at their
/// peak (`request_demand`), then shares the bytes left over between the pools in the ratio of one
/// request's needs. A pool whose layers cost nothing (a model without sliding layers, say) gets
/// exactly the pages the chosen concurrency needs. Also reports the full-only layout (every layer
/// in one full pool) under the same budget.
/// @post plan.bytes <= budget_bytes; hybrid_bytes_for(demand, m, concurrency + 1) > budget_bytes
///       (or the int32 page limit binds).
/// Errors: those of `demand_of` and `check_model`; length_overflow (a page of P tokens would exceed
/// `max_pool_bytes / INT32_MAX`); invalid_pool_size (the model has no KV bytes, a request holds no
/// token, or the budget holds no request at its peak).
constexpr result<capacity_plan> plan_capacity(std::int64_t budget_bytes, const model_config& m, const workload_shape& w,
                                              std::int32_t page_size_tokens) noexcept {
    auto dr = demand_of(m, w, page_size_tokens);
    if (!dr) return dr.err();
    const request_demand& d = dr.value();
    if (auto s = check_model(m); !s) return s.err();
    if (d.full_pages == 0) return error{errc::invalid_pool_size, "a request of the workload holds no token"};
    capacity_plan plan;
    plan.demand = d;
    plan.full_bytes_per_token = m.full_bytes_per_token();
    plan.swa_bytes_per_token = m.sliding_bytes_per_token();
    if (plan.full_bytes_per_token + plan.swa_bytes_per_token == 0)
        return error{errc::invalid_pool_size, "the model has no KV bytes per token"};
    // Keeps every product below in int64: a pool of INT32_MAX pages stays under INT64_MAX / 4 bytes.
    if (page_size_tokens > max_pool_bytes / INT32_MAX / m.all_layers_bytes_per_token()) return errc::length_overflow;
    plan.full_page_bytes = page_size_tokens * plan.full_bytes_per_token;
    plan.swa_page_bytes = page_size_tokens * plan.swa_bytes_per_token;

    // Largest n whose pools fit the budget and int32 page ids. The bytes grow with n, so bisect.
    const auto fits = [&](std::int64_t n) {
        return d.full_pool_pages(n) <= INT32_MAX && d.swa_pool_pages(n) <= INT32_MAX &&
               hybrid_bytes_for(d, m, n) <= budget_bytes;
    };
    std::int64_t lo = 0, hi = INT32_MAX;  // fits(lo) or lo == 0; !fits(hi + 1) by the page limit
    while (lo < hi) {
        const std::int64_t mid = lo + (hi - lo + 1) / 2;
        if (fits(mid))
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo == 0 || !fits(lo)) return error{errc::invalid_pool_size, "the budget holds no request at its peak"};
    plan.concurrency = static_cast<std::int32_t>(lo);

    // Share the bytes left over (less than one more request) in the ratio of one request's bytes.
    std::int64_t full = d.full_pool_pages(lo), swa = d.swa_pool_pages(lo);
    const std::int64_t left = budget_bytes - hybrid_bytes_for(d, m, lo);
    const std::int64_t per_request = d.full_pages * plan.full_page_bytes + d.swa_pages * plan.swa_page_bytes;
    if (plan.full_page_bytes > 0 && per_request > 0) {
        const auto share = static_cast<long double>(left) *
                           static_cast<long double>(d.full_pages * plan.full_page_bytes) /
                           static_cast<long double>(per_request);
        full += std::min<std::int64_t>(static_cast<std::int64_t>(share) / plan.full_page_bytes, INT32_MAX - full);
    }
    if (plan.swa_page_bytes > 0) {
        const std::int64_t rest = budget_bytes - full * plan.full_page_bytes - swa * plan.swa_page_bytes;
        swa += std::min<std::int64_t>(rest / plan.swa_page_bytes, INT32_MAX - swa);
    }
    plan.full_pages = pool_size{static_cast<std::int32_t>(full)};
    plan.swa_pages = pool_size{static_cast<std::int32_t>(swa)};
    plan.bytes = full * plan.full_page_bytes + swa * plan.swa_page_bytes;

    plan.full_only_page_bytes = page_size_tokens * m.all_layers_bytes_per_token();
    const std::int64_t fo = std::min<std::int64_t>(budget_bytes / plan.full_only_page_bytes, INT32_MAX);
    plan.full_only_pages = pool_size{static_cast<std::int32_t>(fo)};
    plan.full_only_concurrency = fo >= 1 && d.full_pages > 0 ? static_cast<std::int32_t>((fo - 1) / d.full_pages) : 0;
    return plan;
}

}  // namespace pagedkv
