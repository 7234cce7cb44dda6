// FullPool, its caching variants, and SwaPool.
#include "pools.hpp"

namespace pagedkv::python {

void bind_full_pools(nb::module_& m) {
    bind_pool<full_pool<>>(m, "FullPool", "A pool for full-attention layers (no prefix cache).");
    bind_pool<full_pool<lifo_free_stack, lru>>(
        m, "LruFullPool",
        "A full-attention pool whose released keyed pages stay cached, evicted least recently used first.");
    bind_pool<full_pool<lifo_free_stack, priority_lru>>(
        m, "PriorityLruFullPool",
        "A caching full-attention pool evicting by retention priority (0 first), then least recently used.");
    bind_pool<full_pool<lifo_free_stack, adaptive_s3fifo>>(
        m, "S3FifoFullPool", "A caching full-attention pool evicting by adaptive S3-FIFO.");
    bind_pool<swa_pool<>>(
        m, "SwaPool",
        "A pool for sliding-window layers: pages leave a request once its committed length passes them by W.");
}

}  // namespace pagedkv::python
