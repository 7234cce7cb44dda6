// Model presets: `key = value` text files (examples/presets/*.preset) describing a model's KV cache.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pagedkv/plan/group_planner.hpp>
#include <pagedkv/plan/model_config.hpp>

namespace engine_sim {

/// A parsed preset: the file's layer description and the model_config derived from it.
struct preset {
    std::string name;
    std::string path;
    std::int32_t layers = 0;            ///< all decoder layers
    std::string layer_pattern;          ///< 'F' full, 'S' window, 'L' long window, 'C' chunked; repeated
    std::int32_t kv_shared_layers = 0;  ///< the last layers reuse earlier layers' caches and own none
    pagedkv::model_config model{};      ///< counts only the layers that own a cache (S and F presets)
    /// The same layers as full layers plus one group per other letter, in the order S, L, C
    /// (every preset; a preset with L or C runs on multi_hybrid_pool).
    pagedkv::grouped_model groups{};
    std::string group_letters;  ///< the letters of `groups`, in its order ("S", "C", "SL", ...)
    bool multi() const { return group_letters != "S"; }
};

/// Loads `name_or_path`: a file path if it contains '/' or ends in ".preset", otherwise
/// `<preset_dir()>/<name>.preset`. Keys: name, layers, layer_pattern, kv_shared_layers (default 0),
/// window_tokens (when the pattern has S), long_window_tokens (L), chunk_tokens (C),
/// {sliding,full}_{kv_heads,head_dim} (sliding_*: every layer that is not full), kv_dtype_bytes; '#' starts a comment.
/// On failure returns nothing and says why in `why`.
std::optional<preset> load_preset(const std::string& name_or_path, std::string& why);

/// The directory of the presets shipped with pagedkv (fixed at build time).
std::string preset_dir();

/// Names of the presets in preset_dir(), sorted.
std::vector<std::string> shipped_presets();

}  // namespace engine_sim
