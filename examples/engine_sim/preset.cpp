#include "preset.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>

#ifndef ENGINE_SIM_PRESET_DIR
#define ENGINE_SIM_PRESET_DIR "examples/presets"
#endif

namespace engine_sim {
namespace {

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

bool to_int(const std::string& text, std::int64_t& out) {
    const char* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc{} && p == end;
}

}  // namespace

std::string preset_dir() { return ENGINE_SIM_PRESET_DIR; }

std::vector<std::string> shipped_presets() {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(preset_dir(), ec))
        if (e.path().extension() == ".preset") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::optional<preset> load_preset(const std::string& name_or_path, std::string& why) {
    const bool is_path =
        name_or_path.find('/') != std::string::npos || (name_or_path.size() > 7 && name_or_path.ends_with(".preset"));
    preset p;
    p.path = is_path ? name_or_path : preset_dir() + "/" + name_or_path + ".preset";
    std::ifstream in(p.path);
    if (!in) {
        why = "cannot open preset file " + p.path;
        return std::nullopt;
    }
    std::map<std::string, std::string> kv;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        line = trim(line.substr(0, line.find('#')));
        if (line.empty()) continue;
        const auto eq = line.find('=');
        if (eq == std::string::npos) {
            why = p.path + ":" + std::to_string(number) + ": expected `key = value`";
            return std::nullopt;
        }
        kv[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
    }
    const auto take_int = [&](const char* key, std::int64_t lo, std::int64_t hi, std::int64_t fallback, bool required,
                              std::int64_t& out) {
        const auto it = kv.find(key);
        if (it == kv.end()) {
            if (required) why = p.path + ": missing key `" + key + "`";
            out = fallback;
            return !required;
        }
        if (!to_int(it->second, out) || out < lo || out > hi) {
            why = p.path + ": `" + key + " = " + it->second + "` is not an integer in [" + std::to_string(lo) + ", " +
                  std::to_string(hi) + "]";
            return false;
        }
        kv.erase(it);
        return true;
    };
    const auto pattern = kv.find("layer_pattern");
    if (pattern == kv.end() || pattern->second.empty() ||
        pattern->second.find_first_not_of("SFLC") != std::string::npos) {
        why = p.path +
              ": `layer_pattern` must be a non-empty string of S (sliding), L (long window), C (chunked) "
              "and F (full)";
        return std::nullopt;
    }
    p.layer_pattern = pattern->second;
    kv.erase(pattern);
    const auto has = [&](char c) { return p.layer_pattern.find(c) != std::string::npos; };
    std::int64_t layers, shared, window, long_window, chunk, s_heads, s_dim, f_heads, f_dim, dtype;
    if (!take_int("layers", 1, 1 << 16, 0, true, layers) ||
        !take_int("kv_shared_layers", 0, layers - 1, 0, false, shared) ||
        !take_int("window_tokens", 1, INT32_MAX, 0, has('S'), window) ||
        !take_int("long_window_tokens", 1, INT32_MAX, 0, has('L'), long_window) ||
        !take_int("chunk_tokens", 1, INT32_MAX, 0, has('C'), chunk) ||
        !take_int("sliding_kv_heads", 1, 1 << 16, 0, true, s_heads) ||
        !take_int("sliding_head_dim", 1, 1 << 16, 0, true, s_dim) ||
        !take_int("full_kv_heads", 1, 1 << 16, 0, true, f_heads) ||
        !take_int("full_head_dim", 1, 1 << 16, 0, true, f_dim) || !take_int("kv_dtype_bytes", 1, 64, 0, true, dtype))
        return std::nullopt;
    const auto name = kv.find("name");
    p.name = name != kv.end() ? name->second : std::filesystem::path(p.path).stem().string();
    if (name != kv.end()) kv.erase(name);
    if (!kv.empty()) {
        why = p.path + ": unknown key `" + kv.begin()->first + "`";
        return std::nullopt;
    }
    p.layers = static_cast<std::int32_t>(layers);
    p.kv_shared_layers = static_cast<std::int32_t>(shared);
    for (std::int32_t i = 0; i < p.layers - p.kv_shared_layers; ++i) {
        if (p.layer_pattern[static_cast<std::size_t>(i) % p.layer_pattern.size()] == 'F')
            ++p.model.full_layers;
        else
            ++p.model.sliding_layers;
    }
    p.model.window_tokens = window;
    p.model.sliding = {static_cast<std::int32_t>(s_heads), static_cast<std::int32_t>(s_dim)};
    p.model.full = {static_cast<std::int32_t>(f_heads), static_cast<std::int32_t>(f_dim)};
    p.model.kv_dtype_bytes = static_cast<std::int32_t>(dtype);
    // The grouped view: full layers, then one group per other letter in the order S, L, C.
    p.groups.full_layers = p.model.full_layers;
    p.groups.full = p.model.full;
    p.groups.kv_dtype_bytes = p.model.kv_dtype_bytes;
    const auto count = [&](char c) {
        std::int32_t n = 0;
        for (std::int32_t i = 0; i < p.layers - p.kv_shared_layers; ++i)
            n += p.layer_pattern[static_cast<std::size_t>(i) % p.layer_pattern.size()] == c;
        return n;
    };
    const std::pair<char, pagedkv::group_rule> kinds[] = {{'S', pagedkv::sliding_window{window}},
                                                          {'L', pagedkv::sliding_window{long_window}},
                                                          {'C', pagedkv::chunked_local{chunk}}};
    for (const auto& [letter, rule] : kinds)
        if (const std::int32_t n = count(letter); n > 0) {
            p.groups.groups.push_back({rule, n, p.model.sliding});
            p.group_letters += letter;
        }
    return p;
}

}  // namespace engine_sim
