// Content keys: a page's key chains its parent's key, its tokens and its scope through XXH3.
#pragma once
#include <cstdint>
#include <span>

#include "pagedkv/cache/cache_scope.hpp"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL  // header-only: static inline copies, nothing to link
#define PAGEDKV_DEFINED_XXH_INLINE_ALL
#endif
#include <xxhash.h>
#ifdef PAGEDKV_DEFINED_XXH_INLINE_ALL
#undef XXH_INLINE_ALL
#undef PAGEDKV_DEFINED_XXH_INLINE_ALL
#endif

namespace pagedkv {

/// Everything that determines the KV of one full page besides the pages before it.
struct page_content {
    std::span<const token_id> tokens;  ///< exactly one page of token ids
    cache_scope scope;
    std::uint64_t page_extra_key = 0;  ///< per-page extra identity (multimodal item hash); 0 if none
};

/// The key of a page whose parent has key `parent_key` (0 for the first page of a sequence).
/// A key only *indexes* pages: the prefix index confirms every hit against the stored tokens,
/// scope and parent, so a non-cryptographic hash is safe here (XXH3: fast, well kept, in Debian).
inline std::uint64_t content_key(std::uint64_t parent_key, const page_content& c) noexcept {
    const std::uint64_t header[4] = {parent_key, c.scope.tenant_salt, c.scope.extra_key, c.page_extra_key};
    return XXH3_64bits_withSeed(c.tokens.data(), c.tokens.size_bytes(), XXH3_64bits(header, sizeof header));
}

}  // namespace pagedkv
