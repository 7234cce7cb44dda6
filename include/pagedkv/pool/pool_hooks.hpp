// Hook points through which a caller composing pools (hybrid_pool) follows a pool's page moves.
#pragma once
#include <concepts>
#include <cstdint>
#include <optional>
#include <type_traits>

#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// A pool used on its own passes `no_hooks`. A composing caller passes an object of a class derived
/// from `no_hooks` (so a hooks argument is never mistaken for another overload's) with any of:
/// - `retain_key(p) -> std::optional<std::uint64_t>`: whether page p, released by its last owner,
///   stays cached and under which content key (replaces the pool's own decision: its index);
/// - `freed(p)`   : p went back to the free list;
/// - `losing(p)`  : p was cached and its content is about to be lost (counted in `evicted_pages`):
///                  called before `dropped(p)`, while p still has its key and tokens in the pool's
///                  index, so a listener can save the content elsewhere (tiered_pool's host tier);
/// - `dropped(p)` : p was cached and its content is gone (evicted for reuse, reset, or its parent
///                  left the index); called before p is reused or pushed on the free list;
/// - `unkeyed(p)` : p is still owned but lost its content key;
/// - `prefer_copy(c, d) -> bool`: when a request keys its page d and finds page c already keyed
///   with the same content, whether d should take over c's key (default: no, d stays unkeyed);
/// - `replaced(c, d)`: d has taken over c's key (c is unkeyed, and freed if it was cached).
/// Hooks run inside the pool's call, so a composite updates its own state in that same call.
struct no_hooks {};

/// What a pool's hooked overloads accept: `no_hooks` or a class derived from it.
template <class H>
concept pool_hooks = std::derived_from<std::remove_cvref_t<H>, no_hooks>;

namespace detail {
template <class H>
void hook_freed(H& h, page_id p) {
    if constexpr (requires { h.freed(p); }) h.freed(p);
}
template <class H>
void hook_dropped(H& h, page_id p) {
    if constexpr (requires { h.dropped(p); }) h.dropped(p);
}
template <class H>
void hook_losing(H& h, page_id p) {
    if constexpr (requires { h.losing(p); }) h.losing(p);
}
template <class H>
void hook_unkeyed(H& h, page_id p) {
    if constexpr (requires { h.unkeyed(p); }) h.unkeyed(p);
}
template <class H>
bool hook_prefer_copy(H& h, page_id cached, page_id copy) {
    if constexpr (requires { h.prefer_copy(cached, copy); })
        return h.prefer_copy(cached, copy);
    else
        return false;
}
template <class H>
void hook_replaced(H& h, page_id cached, page_id copy) {
    if constexpr (requires { h.replaced(cached, copy); }) h.replaced(cached, copy);
}
template <class H>
inline constexpr bool overrides_retain = requires(H& h, page_id p) {
    { h.retain_key(p) } -> std::same_as<std::optional<std::uint64_t>>;
};
}  // namespace detail

}  // namespace pagedkv
