// The token id type every prefix-cache call takes.
#pragma once
#include <cstdint>

namespace pagedkv {

/// Token ids as the model sees them.
using token_id = std::int32_t;

}  // namespace pagedkv
