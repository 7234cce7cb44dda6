// The page_table_source concept: what table emission reads from a pool.
#pragma once
#include <concepts>
#include <cstdint>
#include <span>

#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"

namespace pagedkv {

/// A pool whose request page lists can be emitted as tables. `S::kind` is a compile-time constant,
/// so whether a table is a full-layer or an SWA-layer table is decided by the type of the view it is
/// emitted through; no runtime flag exists to go stale. Satisfied by full_pool and swa_pool (and so
/// by `hybrid_pool::full()` and `hybrid_pool::swa()`).
template <class S>
concept page_table_source = requires(const S& s, request_id r) {
    { S::kind } -> std::convertible_to<attention_kind>;
    { s.contains(r) } -> std::same_as<bool>;
    { s.pages(r) } -> std::same_as<std::span<const page_id>>;
    { s.length_tokens(r) } -> std::same_as<std::int64_t>;
    { s.committed_tokens(r) } -> std::same_as<std::int64_t>;
    { s.first_live_page(r) } -> std::same_as<std::int64_t>;
    { s.page_size_tokens() } -> std::same_as<std::int32_t>;
    { s.size() } -> std::same_as<pool_size>;
};

}  // namespace pagedkv
