// Compile-time loops over the groups of a composite pool, in group order.
#pragma once
#include <cstddef>
#include <type_traits>
#include <utility>

#include "pagedkv/core/error.hpp"

namespace pagedkv::detail {

/// Calls f(std::integral_constant<std::size_t, K>{}) for K = 0, ..., N - 1, in order.
template <std::size_t N, class F>
void each_group(F&& f) {
    [&]<std::size_t... K>(std::index_sequence<K...>) {
        (f(std::integral_constant<std::size_t, K>{}), ...);
    }(std::make_index_sequence<N>{});
}

/// The first refusal of f(k) (a status, or an errc), for K = 0, ..., N - 1 in order: the groups
/// after it are not asked. Success when none refuses.
template <std::size_t N, class F>
status first_refusal(F&& f) {
    status bad{};
    [&]<std::size_t... K>(std::index_sequence<K...>) {
        (void)((bad = status(f(std::integral_constant<std::size_t, K>{})), bad.ok()) && ...);
    }(std::make_index_sequence<N>{});
    return bad;
}

}  // namespace pagedkv::detail
