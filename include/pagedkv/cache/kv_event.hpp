// KV events: the stream of cache changes a KV-aware router consumes.
#pragma once
#include <cstdint>
#include <functional>
#include <span>

#include "pagedkv/cache/cache_scope.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"

namespace pagedkv {

enum class kv_event_kind : std::uint8_t {
    stored,   ///< a page's content became findable under `key`
    removed,  ///< `key` is no longer findable in these layers (evicted, or its page was rewritten)
    cleared,  ///< every key of the pool was dropped (reset_cache); key fields are 0
};

/// Which memory holds the content an event is about: the pool's GPU pages, or the host tier's
/// pinned host pages (pool/tiered_pool.hpp; `page` is then a host page index).
enum class kv_tier : std::uint8_t { gpu, host };

/// One cache change. `layers` says which attention layers lost or gained the KV: a hybrid pool
/// reports an evicted SWA page as `removed` with `layers == sliding` while the full page stays.
struct kv_event {
    kv_event_kind kind{};
    attention_kind layers = attention_kind::full;
    std::uint64_t key = 0;
    std::uint64_t parent_key = 0;  ///< 0 for the first page of a sequence
    bool has_parent = false;
    page_id page{};                         ///< the page that held (or holds) the content
    std::span<const token_id> tokens = {};  ///< `stored` only; valid during the callback
    cache_scope scope = {};                 ///< `stored` only
    std::uint64_t page_extra_key = 0;       ///< `stored` only
    kv_tier tier = kv_tier::gpu;            ///< where `page` is (and the content was or is)
    /// For a rule-governed layers' event of a multi_hybrid_pool: which group (k of `group<k>()`),
    /// so two groups of one kind (two windows) are told apart; 0 otherwise.
    std::uint8_t group = 0;
};

/// The optional callback a pool reports events to (empty = no events, no cost but a branch).
using kv_event_sink = std::function<void(const kv_event&)>;

}  // namespace pagedkv
