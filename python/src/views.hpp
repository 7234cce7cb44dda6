// The typed views `pool.full` and `pool.swa`: read-only access to one pool's page lists and the
// table emitters. The attention kind is the view's type (FullView / SwaView), so an SWA-layer table
// can only come from an SWA view, as in C++ (table/page_table_source.hpp).
#pragma once
#include <variant>

#include "binding.hpp"

namespace pagedkv::python {

// Every pool type a view can read: the plain one and the caching ones the module binds.
using full_sources =
    std::variant<const full_pool<>*, const full_pool<lifo_free_stack, lru>*,
                 const full_pool<lifo_free_stack, priority_lru>*, const full_pool<lifo_free_stack, adaptive_s3fifo>*>;
using swa_sources =
    std::variant<const swa_pool<>*, const swa_pool<lifo_free_stack, lru>*,
                 const swa_pool<lifo_free_stack, priority_lru>*, const swa_pool<lifo_free_stack, adaptive_s3fifo>*>;

/// A view of one pool of kind `Kind`. The Python object keeps its pool alive (keep_alive at the
/// property that makes it); `scratch` is the pool object's batch scratch.
template <attention_kind Kind>
struct pool_view {
    using sources = std::conditional_t<Kind == attention_kind::full, full_sources, swa_sources>;
    sources source;
    batch_scratch* scratch;

    /// Calls f(pool) with the concrete pool type (one dispatch per call, not per request).
    template <class F>
    decltype(auto) visit(F&& f) const {
        return std::visit([&](auto* pool) -> decltype(auto) { return f(*pool); }, source);
    }
};
using full_view = pool_view<attention_kind::full>;
using swa_view = pool_view<attention_kind::sliding>;

template <class Pool>
full_view make_full_view(const Pool& pool, batch_scratch& scratch) {
    return full_view{full_sources{&pool}, &scratch};
}
template <class Pool>
swa_view make_swa_view(const Pool& pool, batch_scratch& scratch) {
    return swa_view{swa_sources{&pool}, &scratch};
}

void bind_views(nb::module_& m);

}  // namespace pagedkv::python
