// Capacity planning for a model of full layers and any number of rule-governed layer groups
// (windows, chunks): one full pool and one pool per group, sized from one byte budget.
#pragma once
#include <cstdint>
#include <type_traits>
#include <variant>
#include <vector>

#include "pagedkv/core/attention_rule.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/plan/capacity_planner.hpp"
#include "pagedkv/plan/model_config.hpp"

namespace pagedkv {

/// The rule of a layer group beside the full layers: a window or a chunk (a full group is not
/// expressible: full layers are `grouped_model::full_layers`).
using group_rule = std::variant<sliding_window, chunked_local>;

/// One group of layers: its rule, its layers that own a KV cache, and their geometry.
struct layer_group {
    group_rule rule{sliding_window{1}};
    std::int32_t layers = 0;
    kv_geometry geometry{};
    friend bool operator==(const layer_group&, const layer_group&) = default;
};

/// A model's KV shape as full layers plus any number of groups (Llama 4: 12 full + one chunked
/// group of 36 layers, C = 8192; a three-group model: full + windows 512 and 4096).
struct grouped_model {
    std::int32_t full_layers = 0;
    kv_geometry full{};
    std::vector<layer_group> groups;
    std::int32_t kv_dtype_bytes = 2;

    /// Bytes one token occupies in the full pool.
    std::int64_t full_bytes_per_token() const noexcept {
        return 2 * std::int64_t{full_layers} * full.kv_heads * full.head_dim * kv_dtype_bytes;
    }
    /// Bytes one token occupies in group g's pool.
    std::int64_t group_bytes_per_token(std::size_t g) const noexcept {
        const layer_group& l = groups[g];
        return 2 * std::int64_t{l.layers} * l.geometry.kv_heads * l.geometry.head_dim * kv_dtype_bytes;
    }
    /// Bytes one token occupies when every layer keeps every token (one full pool).
    std::int64_t all_layers_bytes_per_token() const noexcept {
        std::int64_t b = full_bytes_per_token();
        for (std::size_t g = 0; g < groups.size(); ++g) b += group_bytes_per_token(g);
        return b;
    }
};

/// The most consecutive tokens a rule keeps for the next query: W for a window ([p - W + 1, p]),
/// C for a chunk (at most [floor(p / C) * C, p], C tokens). A decode step adds its drafts to it.
constexpr std::int64_t kept_span_tokens(const group_rule& rule) noexcept {
    return std::visit(
        [](const auto& r) -> std::int64_t {
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(r)>, sliding_window>)
                return r.window_tokens;
            else
                return r.chunk_tokens;
        },
        rule);
}

/// The plan: one pool per group beside the full pool, and the same budget as one full pool.
struct group_capacity_plan {
    request_demand full_demand{};              ///< the full pool's per-request demand (full_pages, peak)
    std::vector<request_demand> group_demand;  ///< per group: `swa_pages` is the group's pages per request
    pool_size full_pages{};                    ///< null page included
    std::vector<pool_size> group_pages;        ///< per group, null page included
    std::int64_t full_page_bytes = 0;
    std::vector<std::int64_t> group_page_bytes;
    std::int64_t bytes = 0;        ///< every pool's pages times its page bytes
    std::int32_t concurrency = 0;  ///< requests that fit at their peak in every pool at once
    pool_size full_only_pages{};   ///< the budget as one full pool holding every layer
    std::int64_t full_only_page_bytes = 0;
    std::int32_t full_only_concurrency = 0;
};

/// Bytes the N-pool layout needs so that n requests of `w` fit at their peak (null pages
/// included), the pools sized as plan_group_capacity sizes them before sharing the leftover.
/// Errors: those of plan_group_capacity's demand (invalid_page_size, invalid_window, invalid_chunk,
/// negative_length, length_overflow).
inline result<std::int64_t> group_bytes_for(const grouped_model& m, const workload_shape& w,
                                            std::int32_t page_size_tokens, std::int64_t n_requests) {
    for (const layer_group& g : m.groups)
        if (const auto* c = std::get_if<chunked_local>(&g.rule); c && c->chunk_tokens < 1) return errc::invalid_chunk;
    const model_config full_only{m.full_layers, 0, 1, m.full, {}, m.kv_dtype_bytes};
    auto fd = demand_of(full_only, w, page_size_tokens);
    if (!fd) return fd.err();
    std::int64_t bytes = fd.value().full_pool_pages(n_requests) * page_size_tokens * m.full_bytes_per_token();
    for (std::size_t g = 0; g < m.groups.size(); ++g) {
        const layer_group& l = m.groups[g];
        auto d = demand_of(
            model_config{m.full_layers, l.layers, kept_span_tokens(l.rule), m.full, l.geometry, m.kv_dtype_bytes}, w,
            page_size_tokens);
        if (!d) return d.err();
        bytes += d.value().swa_pool_pages(n_requests) * page_size_tokens * m.group_bytes_per_token(g);
    }
    return bytes;
}

/// Splits `budget_bytes` into a full pool and one pool per group that fit the most requests of `w`
/// at their peak, then shares the bytes left over in the ratio of one request's needs (the full
/// pool and the groups in order; the last pool takes the rest). Each group's demand is the
/// two-pool planner's SWA demand with W replaced by the group's kept span (`kept_span_tokens`):
/// a chunk keeps at most C tokens as a window keeps W. With one sliding group the plan equals
/// `plan_capacity`'s. For a chunk with C % P == 0 the kept span starts on a page boundary, so the
/// bound (any alignment) is one page per request above the exact need.
/// @post plan.bytes <= budget_bytes.
/// Errors: invalid_page_size, invalid_window (W < 1), invalid_chunk (C < 1), negative_length,
/// length_overflow, invalid_pool_size (as plan_capacity's).
inline result<group_capacity_plan> plan_group_capacity(std::int64_t budget_bytes, const grouped_model& m,
                                                       const workload_shape& w, std::int32_t page_size_tokens) {
    for (const layer_group& g : m.groups)
        if (const auto* c = std::get_if<chunked_local>(&g.rule); c && c->chunk_tokens < 1) return errc::invalid_chunk;
    // Every demand comes from demand_of, the one home of the per-request formulas.
    auto as_pair = [&](std::int64_t span, std::int32_t layers, kv_geometry geometry) {
        return model_config{m.full_layers, layers, span, m.full, geometry, m.kv_dtype_bytes};
    };
    auto full_d = demand_of(as_pair(1, 0, {}), w, page_size_tokens);
    if (!full_d) return full_d.err();
    group_capacity_plan plan;
    plan.full_demand = full_d.value();
    for (const layer_group& g : m.groups) {
        const model_config pair = as_pair(kept_span_tokens(g.rule), g.layers, g.geometry);
        auto d = demand_of(pair, w, page_size_tokens);
        if (!d) return d.err();
        if (auto s = check_model(pair); !s) return s.err();
        plan.group_demand.push_back(d.value());
    }
    if (auto s = check_model(as_pair(1, 0, {})); !s) return s.err();
    const request_demand& fd = plan.full_demand;
    if (fd.full_pages == 0) return error{errc::invalid_pool_size, "a request of the workload holds no token"};
    const std::int64_t all = m.all_layers_bytes_per_token();
    if (all == 0) return error{errc::invalid_pool_size, "the model has no KV bytes per token"};
    if (page_size_tokens > max_pool_bytes / INT32_MAX / all) return errc::length_overflow;
    const std::size_t groups = m.groups.size();
    plan.full_page_bytes = page_size_tokens * m.full_bytes_per_token();
    for (std::size_t g = 0; g < groups; ++g)
        plan.group_page_bytes.push_back(page_size_tokens * m.group_bytes_per_token(g));

    const auto bytes_for = [&](std::int64_t n) {
        std::int64_t b = fd.full_pool_pages(n) * plan.full_page_bytes;
        for (std::size_t g = 0; g < groups; ++g) b += plan.group_demand[g].swa_pool_pages(n) * plan.group_page_bytes[g];
        return b;
    };
    const auto fits = [&](std::int64_t n) {
        if (fd.full_pool_pages(n) > INT32_MAX) return false;
        for (const request_demand& d : plan.group_demand)
            if (d.swa_pool_pages(n) > INT32_MAX) return false;
        return bytes_for(n) <= budget_bytes;
    };
    std::int64_t lo = 0, hi = INT32_MAX;  // pages per request >= 1, so INT32_MAX + 1 requests never fit
    while (lo < hi) {
        const std::int64_t mid = lo + (hi - lo + 1) / 2;
        if (fits(mid))
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo == 0 || !fits(lo)) return error{errc::invalid_pool_size, "the budget holds no request at its peak"};
    plan.concurrency = static_cast<std::int32_t>(lo);

    // Pools in order: full, then the groups. Each but the last takes its share of the leftover by
    // one request's bytes; the last takes whatever is left (plan_capacity's split for one group).
    std::vector<std::int64_t> pages{fd.full_pool_pages(lo)}, page_bytes{plan.full_page_bytes},
        per_request{fd.full_pages * plan.full_page_bytes};
    for (std::size_t g = 0; g < groups; ++g) {
        pages.push_back(plan.group_demand[g].swa_pool_pages(lo));
        page_bytes.push_back(plan.group_page_bytes[g]);
        per_request.push_back(plan.group_demand[g].swa_pages * plan.group_page_bytes[g]);
    }
    std::int64_t request_bytes = 0;
    for (std::int64_t b : per_request) request_bytes += b;
    const std::int64_t left = budget_bytes - bytes_for(lo);
    for (std::size_t i = 0; i < pages.size(); ++i) {
        if (page_bytes[i] == 0) continue;
        std::int64_t add = 0;
        if (i + 1 < pages.size()) {
            if (request_bytes == 0) continue;
            const auto share = static_cast<long double>(left) * static_cast<long double>(per_request[i]) /
                               static_cast<long double>(request_bytes);
            add = static_cast<std::int64_t>(share) / page_bytes[i];
        } else {
            std::int64_t used = 0;
            for (std::size_t j = 0; j < pages.size(); ++j) used += pages[j] * page_bytes[j];
            add = (budget_bytes - used) / page_bytes[i];
        }
        pages[i] += add < INT32_MAX - pages[i] ? add : INT32_MAX - pages[i];
    }
    plan.full_pages = pool_size{static_cast<std::int32_t>(pages[0])};
    for (std::size_t g = 0; g < groups; ++g)
        plan.group_pages.push_back(pool_size{static_cast<std::int32_t>(pages[g + 1])});
    for (std::size_t i = 0; i < pages.size(); ++i) plan.bytes += pages[i] * page_bytes[i];

    plan.full_only_page_bytes = page_size_tokens * all;
    const std::int64_t fo =
        budget_bytes / plan.full_only_page_bytes < INT32_MAX ? budget_bytes / plan.full_only_page_bytes : INT32_MAX;
    plan.full_only_pages = pool_size{static_cast<std::int32_t>(fo)};
    plan.full_only_concurrency = fo >= 1 ? static_cast<std::int32_t>((fo - 1) / fd.full_pages) : 0;
    return plan;
}

}  // namespace pagedkv
