// The calls a trace records: one table shared by the recorder (the word it writes), the replay (the
// word and arguments it reads) and the fuzz harness (its per-call counts).
#pragma once
#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/token_id.hpp"

namespace pagedkv {

/// One kind of recorded call (trace format: debug/trace_recorder.hpp).
enum class trace_op : std::uint8_t {
    create,
    add,
    extend,
    commit,
    truncate,
    free,
    dense,
    csr,
    slots,  // every hybrid pool
    attach,
    commit_keyed,
    cache,
    preempt,
    reset,  // caching pools: prefix reuse
};

/// A row of the table: the word in a trace, the op's own name (two ops share the word `commit`),
/// how many argument words come before `=`, and whether only caching pools record it.
struct trace_op_spec {
    trace_op op;
    std::string_view word;
    std::string_view name;
    std::uint8_t min_args, max_args;
    bool caching_only;
};

inline constexpr std::array<trace_op_spec, 14> trace_ops{{
    {trace_op::create, "create", "create", 4, 4, false},
    {trace_op::add, "add", "add", 0, 1, false},  // one argument (a cache scope): caching pools only
    {trace_op::extend, "extend", "extend", 2, 2, false},
    {trace_op::commit, "commit", "commit", 2, 2, false},
    {trace_op::truncate, "truncate", "truncate", 2, 2, false},
    {trace_op::free, "free", "free", 1, 1, false},
    {trace_op::dense, "dense", "dense", 4, 4, false},
    {trace_op::csr, "csr", "csr", 3, 3, false},
    {trace_op::slots, "slots", "slots", 3, 3, false},
    {trace_op::attach, "attach", "attach", 2, 2, true},
    {trace_op::commit_keyed, "commit", "commit_keyed", 3, 3, true},
    {trace_op::cache, "cache", "cache", 2, 2, true},
    {trace_op::preempt, "preempt", "preempt", 2, 2, true},
    {trace_op::reset, "reset", "reset", 0, 0, true},
}};
static_assert(
    [] {
        for (std::size_t i = 0; i < trace_ops.size(); ++i)
            if (static_cast<std::size_t>(trace_ops[i].op) != i) return false;
        return true;
    }(),
    "trace_ops is indexed by trace_op");

constexpr const trace_op_spec& spec_of(trace_op op) noexcept { return trace_ops[static_cast<std::size_t>(op)]; }

/// The op a trace line names with `word` and `args` argument words, if any.
constexpr std::optional<trace_op> find_trace_op(std::string_view word, std::size_t args) noexcept {
    for (const trace_op_spec& s : trace_ops)
        if (s.word == word && args >= s.min_args && args <= s.max_args) return s.op;
    return std::nullopt;
}
/// Whether some op is spelled `word` (then a line that finds none has the wrong argument count).
constexpr bool is_trace_word(std::string_view word) noexcept {
    return std::any_of(trace_ops.begin(), trace_ops.end(), [&](const trace_op_spec& s) { return s.word == word; });
}

namespace detail {

inline std::vector<std::string_view> split_words(std::string_view s) {
    std::vector<std::string_view> words;
    while (!s.empty()) {
        const auto start = s.find_first_not_of(" \t\r\n");
        if (start == std::string_view::npos) break;
        s.remove_prefix(start);
        const auto len = std::min(s.find_first_of(" \t\r\n"), s.size());
        words.push_back(s.substr(0, len));
        s.remove_prefix(len);
    }
    return words;
}

inline bool parse_int(std::string_view s, std::int64_t& v) {
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && p == s.data() + s.size();
}

inline bool parse_id(std::string_view s, request_id& r) {
    const auto colon = s.find(':');
    std::int64_t slot = 0, gen = 0;
    if (colon == std::string_view::npos || !parse_int(s.substr(0, colon), slot) ||
        !parse_int(s.substr(colon + 1), gen) || slot < 0 || slot > UINT32_MAX || gen < 0 || gen > UINT32_MAX)
        return false;
    r = request_id{static_cast<std::uint32_t>(slot), static_cast<std::uint32_t>(gen)};
    return true;
}

// Decodes the run-length token encoding written by trace_recorder (at most `max_tokens` ids).
inline bool parse_tokens(std::string_view s, std::vector<token_id>& tokens, std::int64_t max_tokens) {
    tokens.clear();
    if (s == "-") return true;
    while (!s.empty()) {
        const auto comma = std::min(s.find(','), s.size());
        const std::string_view run = s.substr(0, comma);
        const auto plus = run.find('+');
        std::int64_t v = 0, n = 0;
        if (plus == std::string_view::npos || !parse_int(run.substr(0, plus), v) ||
            !parse_int(run.substr(plus + 1), n) || n < 1 || n > max_tokens - static_cast<std::int64_t>(tokens.size()) ||
            v < INT32_MIN || v + n - 1 > INT32_MAX)
            return false;
        for (std::int64_t i = 0; i < n; ++i) tokens.push_back(static_cast<token_id>(v + i));
        if (comma == s.size()) return true;
        s.remove_prefix(comma + 1);
        if (s.empty()) return false;
    }
    return false;
}

inline bool parse_list(std::string_view s, std::vector<std::string_view>& items) {
    items.clear();
    if (s == "-") return true;
    while (true) {
        const auto comma = s.find(',');
        items.push_back(s.substr(0, comma));
        if (items.back().empty()) return false;
        if (comma == std::string_view::npos) return true;
        s.remove_prefix(comma + 1);
    }
}

}  // namespace detail
}  // namespace pagedkv
