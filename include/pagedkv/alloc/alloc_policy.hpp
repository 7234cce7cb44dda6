// The allocation-policy concept: which free page a pool hands out next.
#pragma once
#include <concepts>
#include <cstdint>

#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// A free list over pages [1, N) of one pool; page 0 (the null page) is never in it.
/// - `A(pool_size)`     : every page but the null page free.
/// - `free_count()`     : pages currently free.
/// - `pop()`            : @pre free_count() > 0; removes and returns one free page.
/// - `push(p)`          : @pre p is not free and p != null_page; makes p free again.
/// - `is_free(p)`       : O(1); used by invariant checks.
/// - `for_each_free(f)` : calls f(page_id) once per free page (invariant checks, state digests).
template <class A>
concept alloc_policy =
    std::constructible_from<A, pool_size> && requires(A a, const A ca, page_id p, void (*visit)(page_id)) {
        { ca.free_count() } -> std::same_as<std::int32_t>;
        { a.pop() } -> std::same_as<page_id>;
        { a.push(p) } -> std::same_as<void>;
        { ca.is_free(p) } -> std::same_as<bool>;
        { ca.for_each_free(visit) } -> std::same_as<void>;
    };

}  // namespace pagedkv
