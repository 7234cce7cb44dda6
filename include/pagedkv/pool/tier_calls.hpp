// The calls a tiered pool forwards to its GPU pool unchanged, each with the tier's listener.
#pragma once
#include <cstdint>
#include <span>

#include "pagedkv/cache/cache_scope.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/token_id.hpp"

namespace pagedkv::detail {

/// The mutations of `Tier` (CRTP: tiered_pool, tiered_hybrid_pool) that are its GPU pool's own:
/// each is the pool's call with the listener `Tier::listen()` appended, through which the tier
/// hears the pages the call evicts (written back) and frees (cancelling their loads). Errors:
/// those of the pool's call. `Tier` befriends this class for `pool_` and `listen()`.
template <class Tier>
class tier_calls {
public:
    result<request_id> add_request(cache_scope scope = {}, retention keep = {}) {
        return pool().add_request(scope, keep);
    }
    status extend(request_id r, std::int64_t n) { return pool().extend(r, n, tier().listen()); }
    status commit(request_id r, std::int64_t n) { return pool().commit(r, n, tier().listen()); }
    status commit(request_id r, std::int64_t n, std::span<const token_id> tokens,
                  std::span<const std::uint64_t> page_extra_keys = {}) {
        return pool().commit(r, n, tokens, page_extra_keys, tier().listen());
    }
    status truncate(request_id r, std::int64_t n) { return pool().truncate(r, n, tier().listen()); }
    status free_request(request_id r) { return pool().free_request(r, tier().listen()); }
    status cache_committed(request_id r, std::span<const token_id> tokens,
                           std::span<const std::uint64_t> page_extra_keys = {}) {
        return pool().cache_committed(r, tokens, page_extra_keys, tier().listen());
    }
    status preempt(request_id r, std::span<const token_id> tokens,
                   std::span<const std::uint64_t> page_extra_keys = {}) {
        return pool().preempt(r, tokens, page_extra_keys, tier().listen());
    }

private:
    Tier& tier() noexcept { return static_cast<Tier&>(*this); }
    auto& pool() noexcept { return tier().pool_; }
};

}  // namespace pagedkv::detail
