// The sliding-window pool: pages leave a request as soon as its committed length passes them by W.
#pragma once
#include "pagedkv/alloc/lifo_free_stack.hpp"
#include "pagedkv/evict/no_eviction.hpp"
#include "pagedkv/pool/paged_pool.hpp"

namespace pagedkv {

/// A pool for sliding-window layers with window W. Window release is *eager*: `commit` and
/// `truncate` release the pages that no future query can attend in the same call, and their
/// entries become the null page. `swa_pool<>::kind == attention_kind::sliding`, fixed by type.
/// With an eviction policy (`swa_pool<Alloc, lru>`) a released page can stay cached, but only on
/// behalf of a hybrid pool, whose full pages own the content keys; used alone it frees them.
template <alloc_policy Alloc = lifo_free_stack, eviction_policy Evict = no_eviction>
using swa_pool = paged_pool<Alloc, attention_kind::sliding, Evict>;

}  // namespace pagedkv
