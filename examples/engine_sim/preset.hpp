// Model presets: `key = value` text files (examples/presets/*.preset) describing a model's KV cache.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <pagedkv/plan/model_config.hpp>

namespace engine_sim {

/// A parsed preset: the file's layer description and the model_config derived from it.
struct preset {
    std::string name;
    std::string path;
    std::int32_t layers = 0;            ///< all decoder layers
    std::string layer_pattern;          ///< 'S' sliding / 'F' full, repeated over the layers
    std::int32_t kv_shared_layers = 0;  ///< the last layers reuse earlier layers' caches and own none
    pagedkv::model_config model{};      ///< counts only the layers that own a cache
};

/// Loads `name_or_path`: a file path if it contains '/' or ends in ".preset", otherwise
/// `<preset_dir()>/<name>.preset`. Keys: name, layers, layer_pattern, kv_shared_layers (default 0),
/// window_tokens, {sliding,full}_{kv_heads,head_dim}, kv_dtype_bytes; '#' starts a comment.
/// On failure returns nothing and says why in `why`.
std::optional<preset> load_preset(const std::string& name_or_path, std::string& why);

/// The directory of the presets shipped with pagedkv (fixed at build time).
std::string preset_dir();

/// Names of the presets in preset_dir(), sorted.
std::vector<std::string> shipped_presets();

}  // namespace engine_sim
