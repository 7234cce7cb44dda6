// The attention rule of a layer group: which keys a query sees. Every other window fact (dead
// pages, the pages a prefix hit needs, the kernels' mask) is derived here from that one function.
#pragma once
#include <concepts>
#include <cstdint>

#include "pagedkv/core/attention_kind.hpp"
#include "pagedkv/core/host_device.hpp"

namespace pagedkv {

/// What an attention rule is: a small value (its sizes are runtime values, its kind a type
/// property) with `==`, whose one function says where a query's keys begin.
/// - `R::kind` names the rule (the pool kind that serves it);
/// - `r.first_visible_token(p)`: a query at position p >= 0 sees the keys [max(0, that), p];
/// - it is nondecreasing in p: a key one query no longer sees, no later query sees (this is what
///   makes "dead" final and lets a pool release pages by its committed length);
/// - it is PAGEDKV_HD constexpr, so pools, planners and kernels share one definition.
template <class R>
concept attention_rule = std::equality_comparable<R> && requires(const R& r, std::int64_t p) {
    { R::kind } -> std::convertible_to<attention_kind>;
    { r.first_visible_token(p) } -> std::same_as<std::int64_t>;
};

/// Full attention: a query at p sees [0, p].
struct full_attention {
    static constexpr attention_kind kind = attention_kind::full;
    PAGEDKV_HD constexpr std::int64_t first_visible_token(std::int64_t) const noexcept { return 0; }
    friend constexpr bool operator==(full_attention, full_attention) noexcept = default;
};
static_assert(attention_rule<full_attention>);

/// Sliding window of W tokens (W >= 1): a query at p sees [p - W + 1, p].
struct sliding_window {
    static constexpr attention_kind kind = attention_kind::sliding;
    std::int64_t window_tokens = 1;
    PAGEDKV_HD constexpr std::int64_t first_visible_token(std::int64_t p) const noexcept {
        return p - window_tokens + 1;
    }
    friend constexpr bool operator==(sliding_window, sliding_window) noexcept = default;
};
static_assert(attention_rule<sliding_window>);

/// Chunked local attention with chunks of C tokens (C >= 1; Llama-4: 8192): a query at p sees
/// [floor(p / C) * C, p], the keys of its own chunk up to itself.
struct chunked_local {
    static constexpr attention_kind kind = attention_kind::chunked;
    std::int64_t chunk_tokens = 1;
    PAGEDKV_HD constexpr std::int64_t first_visible_token(std::int64_t p) const noexcept {
        return p / chunk_tokens * chunk_tokens;
    }
    friend constexpr bool operator==(chunked_local, chunked_local) noexcept = default;
};
static_assert(attention_rule<chunked_local>);

/// Whether a query at position `query` sees the key at position `key` (causal: key <= query).
template <attention_rule R>
PAGEDKV_HD constexpr bool sees(const R& rule, std::int64_t query, std::int64_t key) noexcept {
    return key <= query && key >= rule.first_visible_token(query);
}

/// Leading pages no future query can attend, for committed length L and pages of P tokens: the
/// next query is at p >= L and (the rule being nondecreasing) sees nothing before
/// first_visible_token(L), so page i is dead when (i + 1) * P <= first_visible_token(L).
template <attention_rule R>
PAGEDKV_HD constexpr std::int64_t dead_pages(const R& rule, std::int64_t committed_tokens,
                                             std::int32_t page_size) noexcept {
    const std::int64_t first_visible = rule.first_visible_token(committed_tokens);
    return first_visible <= 0 ? 0 : first_visible / page_size;
}

/// The first page a prefix hit of H tokens (whole pages) needs: the query after the hit is at H,
/// so the hit needs pages [hit_first_page(H), H / P), exactly the pages not dead at length H.
/// Full: every page. Sliding: the window's. Chunked: the pages of the chunk holding H; none when H
/// is a chunk boundary (the next query starts a new chunk).
template <attention_rule R>
PAGEDKV_HD constexpr std::int64_t hit_first_page(const R& rule, std::int64_t hit_tokens,
                                                 std::int32_t page_size) noexcept {
    return dead_pages(rule, hit_tokens, page_size);
}

/// The rule that pools of kind `Kind` serve (pool_state stores one).
template <attention_kind Kind>
struct rule_of_kind;
template <>
struct rule_of_kind<attention_kind::full> {
    using type = full_attention;
};
template <>
struct rule_of_kind<attention_kind::sliding> {
    using type = sliding_window;
};
template <>
struct rule_of_kind<attention_kind::chunked> {
    using type = chunked_local;
};
template <attention_kind Kind>
using rule_of = typename rule_of_kind<Kind>::type;

}  // namespace pagedkv
