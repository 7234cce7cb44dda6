// HybridPool: a full and an SWA pool tied by the full_to_swa mapping.
#include "pools.hpp"

namespace pagedkv::python {

void bind_hybrid_pools(nb::module_& m) {
    bind_pool<hybrid_pool<>>(
        m, "HybridPool",
        "A full pool and an SWA pool with the same page size, for models mixing full-attention and "
        "sliding-window layers; every call updates both, or neither.");
}

}  // namespace pagedkv::python
