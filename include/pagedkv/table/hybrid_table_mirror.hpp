// The device state of a hybrid pool: the one-group case of composite_table_mirror.
#pragma once
#include "pagedkv/table/composite_table_mirror.hpp"

namespace pagedkv {

/// The device state of a hybrid pool: a mirror per pool plus the `full_to_swa` writes of the step
/// (composite_table_mirror with one group: `full()`, `swa()`, `map_writes()`).
template <class Hybrid>
using hybrid_table_mirror = composite_table_mirror<Hybrid>;

}  // namespace pagedkv
