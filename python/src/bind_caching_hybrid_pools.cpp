// The caching hybrid pools (prefix reuse with SWA tombstones), one per eviction policy.
#include "pools.hpp"

namespace pagedkv::python {

void bind_caching_hybrid_pools(nb::module_& m) {
    bind_pool<caching_hybrid_pool<lru>>(
        m, "LruHybridPool", "A hybrid pool with prefix reuse; cached pages are evicted least recently used first.");
    bind_pool<caching_hybrid_pool<priority_lru>>(
        m, "PriorityLruHybridPool",
        "A hybrid pool with prefix reuse; eviction by retention priority (0 first), then recency.");
    bind_pool<caching_hybrid_pool<adaptive_s3fifo>>(m, "S3FifoHybridPool",
                                                    "A hybrid pool with prefix reuse; eviction by adaptive S3-FIFO.");
}

}  // namespace pagedkv::python
