// The chunked-local-attention pool: pages leave a request once its committed length enters a later chunk.
#pragma once
#include "pagedkv/alloc/lifo_free_stack.hpp"
#include "pagedkv/evict/no_eviction.hpp"
#include "pagedkv/pool/paged_pool.hpp"

namespace pagedkv {

/// A pool for chunked local attention with chunks of C tokens (Llama-4's 8192): a query at p sees
/// only [floor(p / C) * C, p], so once the committed length L reaches a chunk boundary every page
/// wholly before floor(L / C) * C is released in that same `commit`, exactly as a sliding pool
/// releases the pages its window left. `chunked_pool<>::kind == attention_kind::chunked`.
template <alloc_policy Alloc = lifo_free_stack, eviction_policy Evict = no_eviction>
using chunked_pool = paged_pool<Alloc, attention_kind::chunked, Evict>;

}  // namespace pagedkv
