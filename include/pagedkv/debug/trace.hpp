// Trace replay: a recorded call history (format: debug/trace_recorder.hpp) re-executed against fresh
// pools; `tools/replay` finds the first call whose result differs.
#pragma once
#include <algorithm>
#include <cstdint>
#include <istream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "pagedkv/debug/trace_ops.hpp"
#include "pagedkv/debug/trace_recorder.hpp"

namespace pagedkv {

/// What `replay_trace` found.
struct replay_report {
    std::int64_t steps = 0;           ///< calls replayed whose result matched
    std::int64_t divergent_step = 0;  ///< 1-based number of the first call that diverged; 0 if none
    std::int64_t line = 0;            ///< that call's line in the trace
    std::string message;              ///< what differed: expected vs replayed result, or why
    bool ok() const noexcept { return divergent_step == 0; }
};

namespace detail {

inline constexpr std::int64_t replay_max_capacity = std::int64_t{1} << 24;  // pools and buffers replayed
inline constexpr std::int32_t replay_sentinel = -0x5a5a5a5b;                // fills emission buffers

// An emission call of a trace line (dense, csr, slots): run at the recorded capacities; a failing
// emission must leave its buffers untouched. Returns why the line diverges, or "".
template <class Rec>
std::string replay_emission(Rec& rec, trace_op op, std::span<const std::string_view> args) {
    const std::string malformed = "malformed " + std::string(spec_of(op).word);
    std::vector<std::string_view> items;
    std::vector<request_id> batch;
    if ((args[0] != "f" && args[0] != "s") || !parse_list(args[1], items)) return malformed;
    for (std::string_view it : items)
        if (request_id r; parse_id(it, r))
            batch.push_back(r);
        else
            return malformed;
    const bool full = args[0] == "f";
    const auto untouched = [](const auto& buf) {
        return std::all_of(buf.begin(), buf.end(), [](auto v) { return v == replay_sentinel; });
    };
    std::int64_t num[3] = {};
    if (op == trace_op::dense) {
        if (!parse_int(args[2], num[0]) || !parse_int(args[3], num[1]) || num[1] < 0 || num[1] > replay_max_capacity)
            return malformed;
        std::vector<std::int32_t> out(static_cast<std::size_t>(num[1]), replay_sentinel);
        const status s = full ? rec.template emit_dense_table<attention_kind::full>(batch, out, num[0])
                              : rec.template emit_dense_table<attention_kind::sliding>(batch, out, num[0]);
        return !s && !untouched(out) ? "failing dense emission wrote to its buffer" : "";
    }
    if (op == trace_op::csr) {
        if (!parse_list(args[2], items) || items.size() != 3) return malformed;
        std::vector<std::int32_t> bufs[3];
        for (std::size_t i = 0; i < 3; ++i) {
            if (!parse_int(items[i], num[i]) || num[i] < 0 || num[i] > replay_max_capacity) return malformed;
            bufs[i].assign(static_cast<std::size_t>(num[i]), replay_sentinel);
        }
        const csr_table_out out{bufs[0], bufs[1], bufs[2]};
        const auto n = full ? rec.template emit_csr_table<attention_kind::full>(batch, out)
                            : rec.template emit_csr_table<attention_kind::sliding>(batch, out);
        for (const auto& b : bufs)
            if (!n && !untouched(b)) return "failing csr emission wrote to its buffers";
        return "";
    }
    if (!parse_int(args[2], num[0]) || num[0] < 0 || num[0] > replay_max_capacity) return malformed;
    std::vector<std::int64_t> out(static_cast<std::size_t>(num[0]), replay_sentinel);
    const auto n = full ? rec.template emit_slot_mapping<attention_kind::full>(batch, out)
                        : rec.template emit_slot_mapping<attention_kind::sliding>(batch, out);
    return !n && !untouched(out) ? "failing slot emission wrote to its buffer" : "";
}

// A prefix-cache call of a trace line (add with or without a scope, attach, commit with tokens,
// cache, preempt, reset) on a caching pool. Returns why the line diverges, or "".
template <class Rec>
std::string replay_cache_call(Rec& rec, trace_op op, std::span<const std::string_view> args,
                              std::vector<token_id>& tokens) {
    const std::string malformed = "malformed " + std::string(spec_of(op).word);
    request_id r;
    std::int64_t n = 0;
    switch (op) {
        case trace_op::add: {
            if (args.empty()) {
                (void)rec.add_request();
                return "";
            }
            std::int64_t salt = 0, extra = 0;
            const auto colon = args[0].find(':');
            if (colon == std::string_view::npos || !parse_int(args[0].substr(0, colon), salt) ||
                !parse_int(args[0].substr(colon + 1), extra))
                return malformed;
            (void)rec.add_request(cache_scope{static_cast<std::uint64_t>(salt), static_cast<std::uint64_t>(extra)});
            return "";
        }
        case trace_op::reset:
            (void)rec.reset_cache();
            return "";
        default:
            break;
    }
    if (!parse_id(args[0], r) || !parse_tokens(args.back(), tokens, replay_max_capacity) ||
        (op == trace_op::commit_keyed && !parse_int(args[1], n)))
        return malformed;
    if (op == trace_op::attach)
        (void)rec.attach_prefix(r, tokens);
    else if (op == trace_op::commit_keyed)
        (void)rec.commit(r, n, tokens);
    else if (op == trace_op::cache)
        (void)rec.cache_committed(r, tokens);
    else
        (void)rec.preempt(r, tokens);
    return "";
}

}  // namespace detail

/// Replays a version-1 trace against fresh pools: each call is re-executed and re-recorded, and
/// its line must match the trace's (the digest only where the trace has one); the pools'
/// invariants are checked after every call. Stops at the first divergence. Emission buffers are
/// allocated at the recorded capacities (pools and buffers of at most 2^24 entries) and must stay untouched when
/// the call fails.
template <class Hybrid = hybrid_pool<>>
replay_report replay_trace_as(std::istream& in) {
    constexpr std::int64_t max_capacity = detail::replay_max_capacity;
    replay_report rep;
    std::ostringstream replayed;
    trace_recorder<Hybrid> rec(&replayed);
    std::string text;
    std::int64_t line_no = 0;
    bool header = false;
    std::vector<token_id> tokens;
    auto diverge = [&](std::string msg) {
        rep.divergent_step = rep.steps + 1;
        rep.line = line_no;
        rep.message = std::move(msg);
        return rep;
    };
    while (std::getline(in, text)) {
        ++line_no;
        const auto words = detail::split_words(text);
        if (words.empty() || words[0].starts_with('#')) continue;
        if (!header) {
            const std::string_view tag = words.size() == 3 ? words[2] : "";
            if (words.size() < 2 || words.size() > 3 || words[0] != "pagedkv-trace" || words[1] != "1" ||
                tag != trace_pool_tag<Hybrid>)
                return diverge("not a version-1 trace of this pool type (first line must be `pagedkv-trace 1" +
                               std::string(trace_pool_tag<Hybrid>.empty() ? "" : " ") +
                               std::string(trace_pool_tag<Hybrid>) + "`)");
            header = true;
            continue;
        }
        const auto eq = std::find(words.begin(), words.end(), std::string_view("="));
        if (eq == words.end()) return diverge("malformed line: no ` = <result>`");
        const std::string_view word = words[0];
        const std::span<const std::string_view> args(words.begin() + 1, eq);
        std::int64_t num[4] = {};
        auto ints = [&](std::size_t first, std::size_t count) {
            if (args.size() != first + count) return false;
            for (std::size_t i = 0; i < count; ++i)
                if (!detail::parse_int(args[first + i], num[i])) return false;
            return true;
        };
        auto fits_int32 = [](std::int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; };
        auto malformed = [&] { return diverge("malformed " + std::string(word)); };
        if (word != spec_of(trace_op::create).word && !rec.has_pool())
            return diverge("call before a successful create");
        const std::optional<trace_op> found = find_trace_op(word, args.size());
        if (!found) return is_trace_word(word) ? malformed() : diverge("unknown call `" + std::string(word) + "`");
        const trace_op op = *found;
        const bool caching_call = spec_of(op).caching_only || (op == trace_op::add && args.size() == 1);
        if (caching_call && !Hybrid::caching)
            return diverge("prefix-cache call `" + std::string(word) + "` in a trace of a pool without a cache");
        request_id r;
        replayed.str({});
        switch (op) {
            case trace_op::create:
                if (!ints(0, 4) || !fits_int32(num[0]) || !fits_int32(num[1]) || !fits_int32(num[2]))
                    return malformed();
                if (num[0] > max_capacity || num[1] > max_capacity) return diverge("pool too large to replay");
                (void)rec.create(pool_size{static_cast<std::int32_t>(num[0])},
                                 pool_size{static_cast<std::int32_t>(num[1])}, static_cast<std::int32_t>(num[2]),
                                 num[3]);
                break;
            case trace_op::extend:
            case trace_op::commit:
            case trace_op::truncate:
                if (!detail::parse_id(args[0], r) || !detail::parse_int(args[1], num[0])) return malformed();
                if (op == trace_op::extend)
                    (void)rec.extend(r, num[0]);
                else if (op == trace_op::commit)
                    (void)rec.commit(r, num[0]);
                else
                    (void)rec.truncate(r, num[0]);
                break;
            case trace_op::free:
                if (!detail::parse_id(args[0], r)) return malformed();
                (void)rec.free_request(r);
                break;
            case trace_op::dense:
            case trace_op::csr:
            case trace_op::slots:
                if (auto why = detail::replay_emission(rec, op, args); !why.empty()) return diverge(std::move(why));
                break;
            default:
                if constexpr (Hybrid::caching) {
                    if (auto why = detail::replay_cache_call(rec, op, args, tokens); !why.empty())
                        return diverge(std::move(why));
                } else if (op == trace_op::add) {
                    (void)rec.add_request();
                }
                break;
        }
        // Compare the re-recorded line with the trace's, word by word; a trace without a digest
        // (recorded with digests off) is compared without one.
        std::string got = replayed.str();
        auto got_words = detail::split_words(got);
        const bool want_hash = words.back().starts_with('#');
        if (!want_hash && !got_words.empty() && got_words.back().starts_with('#')) got_words.pop_back();
        if (!std::equal(words.begin(), words.end(), got_words.begin(), got_words.end())) {
            if (!got.empty() && got.back() == '\n') got.pop_back();
            return diverge("expected `" + text + "`, replayed `" + got + "`");
        }
        if (rec.has_pool())
            if (const status inv = rec.pool().check_invariants(); !inv)
                return diverge(std::string("invariant violated after the call: ") + inv.err().detail);
        ++rep.steps;
    }
    if (!header) return diverge("empty trace");
    return rep;
}

/// Replays a version-1 trace on the pool type its first line names: `pagedkv-trace 1` on
/// hybrid_pool<>, `pagedkv-trace 1 lru` on caching_hybrid_pool<lru> (see replay_trace_as).
inline replay_report replay_trace(std::istream& in) {
    std::stringstream text;
    text << in.rdbuf();
    std::string line;
    bool caching = false;
    while (std::getline(text, line)) {
        const auto words = detail::split_words(line);
        if (words.empty() || words[0].starts_with('#')) continue;
        caching = words.size() == 3 && words[2] == trace_pool_tag<caching_hybrid_pool<lru>>;
        break;
    }
    text.clear();
    text.seekg(0);
    return caching ? replay_trace_as<caching_hybrid_pool<lru>>(text) : replay_trace_as<hybrid_pool<>>(text);
}

}  // namespace pagedkv
