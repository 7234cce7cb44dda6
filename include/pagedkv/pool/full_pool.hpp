// The full-attention pool: every token's page is kept until truncate or free.
#pragma once
#include "pagedkv/alloc/lifo_free_stack.hpp"
#include "pagedkv/evict/no_eviction.hpp"
#include "pagedkv/pool/paged_pool.hpp"

namespace pagedkv {

/// A pool for full-attention layers. `full_pool<>::kind == attention_kind::full`, fixed by type.
/// `full_pool<Alloc, lru>` (any eviction_policy) adds the prefix cache: released keyed pages stay
/// cached and later requests attach them (see paged_pool and docs/prefix_reuse.md).
template <alloc_policy Alloc = lifo_free_stack, eviction_policy Evict = no_eviction>
using full_pool = paged_pool<Alloc, attention_kind::full, Evict>;

}  // namespace pagedkv
