// The KV-cache geometry of a hybrid model: what one token costs in each pool.
#pragma once
#include <cstdint>

namespace pagedkv {

/// KV heads and head dimension of one kind of attention layer (K and V each hold heads * dim).
struct kv_geometry {
    std::int32_t kv_heads = 0;
    std::int32_t head_dim = 0;
    friend constexpr bool operator==(const kv_geometry&, const kv_geometry&) = default;
};

/// The KV-cache shape of a model mixing full-attention and sliding-window layers. Counts only
/// layers that own a KV cache (a layer that reuses another layer's cache costs nothing). The full
/// and sliding layers may differ in geometry (Gemma 4 gives its full layers a larger head_dim).
struct model_config {
    std::int32_t full_layers = 0;     ///< full-attention layers with their own KV cache
    std::int32_t sliding_layers = 0;  ///< sliding-window layers with their own KV cache
    std::int64_t window_tokens = 0;   ///< W: a query at p attends keys [p - W + 1, p]
    kv_geometry full{};
    kv_geometry sliding{};
    std::int32_t kv_dtype_bytes = 2;  ///< bytes per K or V element (2 for bf16/fp16, 1 for fp8)
    friend constexpr bool operator==(const model_config&, const model_config&) = default;

    /// Bytes one token occupies in the full pool: K and V of every full layer.
    constexpr std::int64_t full_bytes_per_token() const noexcept {
        return 2 * std::int64_t{full_layers} * full.kv_heads * full.head_dim * kv_dtype_bytes;
    }
    /// Bytes one token occupies in the SWA pool: K and V of every sliding layer.
    constexpr std::int64_t sliding_bytes_per_token() const noexcept {
        return 2 * std::int64_t{sliding_layers} * sliding.kv_heads * sliding.head_dim * kv_dtype_bytes;
    }
    /// Bytes one token occupies when every layer keeps every token (one full pool, no SWA pool).
    constexpr std::int64_t all_layers_bytes_per_token() const noexcept {
        return full_bytes_per_token() + sliding_bytes_per_token();
    }
};

}  // namespace pagedkv
