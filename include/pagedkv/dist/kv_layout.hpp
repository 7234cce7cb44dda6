// What a pool's KV bytes look like in device memory, so two engines can agree on what they move.
#pragma once
#include <cstdint>

#include "pagedkv/core/page_math.hpp"

namespace pagedkv {

/// The layout of one pool's KV cache: for each of `layers` layers, a K and a V buffer of
/// `[pages, page_size_tokens, kv_heads, head_dim]` elements of `dtype_bytes` each (NHD, the layout
/// of `cuda/swa_decode.cuh`). A page of one layer's K (or V) is therefore contiguous, and so is a
/// run of consecutive pages.
struct kv_layout {
    attention_kind kind = attention_kind::full;
    std::int32_t layers = 0;
    std::int32_t page_size_tokens = 0;
    std::int32_t kv_heads = 0;
    std::int32_t head_dim = 0;
    std::int32_t dtype_bytes = 0;
    friend constexpr bool operator==(const kv_layout&, const kv_layout&) = default;

    /// Bytes of one page of one layer's K (or V).
    constexpr std::int64_t page_bytes() const noexcept {
        return std::int64_t{page_size_tokens} * kv_heads * head_dim * dtype_bytes;
    }
};

}  // namespace pagedkv
