// The attention a pool serves, as a type property.
#pragma once
#include <cstdint>

namespace pagedkv {

/// The attention a pool serves. Part of a pool's *type* (never a runtime flag that can go stale).
/// Each kind's rule (which keys a query sees) is core/attention_rule.hpp's `rule_of<kind>`.
enum class attention_kind : std::uint8_t { full, sliding, chunked };

}  // namespace pagedkv
