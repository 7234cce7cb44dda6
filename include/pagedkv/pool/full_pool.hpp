// The full-attention pool: every token's page is kept until truncate or free.
#pragma once
#include "pagedkv/alloc/lifo_free_stack.hpp"
#include "pagedkv/pool/paged_pool.hpp"

namespace pagedkv {

/// A pool for full-attention layers. `full_pool<>::kind == attention_kind::full`, fixed by type.
template <alloc_policy Alloc = lifo_free_stack>
using full_pool = paged_pool<Alloc, attention_kind::full>;

}  // namespace pagedkv
