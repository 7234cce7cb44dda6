// Trace record and replay: a hybrid pool's call history as text, replayable against fresh pools.
// A bug report becomes one file; `tools/replay` finds the first call whose result differs.
#pragma once
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <istream>
#include <optional>
#include <ostream>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "pagedkv/debug/state_digest.hpp"
#include "pagedkv/evict/lru.hpp"
#include "pagedkv/pool/hybrid_pool.hpp"
#include "pagedkv/table/csr_table.hpp"
#include "pagedkv/table/dense_table.hpp"
#include "pagedkv/table/slot_mapping.hpp"

namespace pagedkv {

// Trace format, version 1 (docs/fuzzing.md has examples). One call per line; the first line is
// `pagedkv-trace 1`; blank lines and lines starting with `#` are ignored.
//   create <full_pages> <swa_pages> <page_size_tokens> <window_tokens> = <result>
//   add = <result>
//   extend|commit|truncate <id> <tokens> = <result>
//   free <id> = <result>
//   dense <view> <batch> <row_pages> <capacity> = <result>
//   csr <view> <batch> <indptr_cap>,<indices_cap>,<last_page_len_cap> = <result>
//   slots <view> <batch> <capacity> = <result>
// <id> is slot:generation; <batch> is ids joined by ',' ('-' when empty); <view> is f (full) or s
// (SWA). <result> is `ok`, `ok <value>` (add: the new id; csr, slots: the count) or an errc name,
// then optionally ` #<16 hex digits>`: for a mutation the state digest after the call, for a
// successful emission a hash of exactly what it wrote.
//
// A caching pool (`caching_hybrid_pool<lru>`) writes `pagedkv-trace 1 lru` as its first line and may
// also record the prefix-cache calls:
//   add <tenant_salt>:<extra_key> = <result>            add_request(scope)
//   attach <id> <tokens> = ok <hit tokens>               attach_prefix
//   commit <id> <n> <tokens> = <result>                  commit that keys the pages it completes
//   cache|preempt <id> <tokens> = <result>               cache_committed, preempt
//   reset = <result>                                     reset_cache
// <tokens> is run-length encoded: runs `v+n` (the n ids v, v+1, ..., v+n-1) joined by ',', '-'
// when empty; prompts made of consecutive ids (or long repeats of one, `v+1` each) stay short.

/// The word after `pagedkv-trace 1` naming the pool type a trace replays on ("" = hybrid_pool<>).
template <class Hybrid>
inline constexpr std::string_view trace_pool_tag = "";
template <>
inline constexpr std::string_view trace_pool_tag<caching_hybrid_pool<lru>> = "lru";

/// How much a recorder writes.
struct trace_options {
    bool digests = true;  ///< append the state digest to every mutation (O(state) per call)
};

/// Wraps a hybrid pool and writes every call and its result to a stream, then returns the result
/// unchanged. Optional and single-threaded: an engine that never builds one pays nothing. With a
/// null stream it only forwards. `create` may be called again: the trace then restarts on fresh
/// pools, as replay does.
template <class Hybrid = hybrid_pool<>>
class trace_recorder {
public:
    explicit trace_recorder(std::ostream* out, trace_options opts = {}) : out_(out), opts_(opts) {
        if (out_) *out_ << "pagedkv-trace 1" << (trace_pool_tag<Hybrid>.empty() ? "" : " ") << trace_pool_tag<Hybrid> << '\n';
    }

    /// Replaces the wrapped pool on success; a failing create keeps the previous one.
    status create(pool_size full_pages, pool_size swa_pages, std::int32_t page_size_tokens,
                  std::int64_t window_tokens) {
        auto made = Hybrid::create(full_pages, swa_pages, page_size_tokens, window_tokens);
        if (made) pool_.emplace(std::move(made.value()));
        const status s = made ? status{} : status{made.err()};
        if (begin("create")) {
            put(full_pages.pages), put(swa_pages.pages), put(page_size_tokens), put(window_tokens);
            end_mutation(s);
        }
        return s;
    }

    bool has_pool() const noexcept { return pool_.has_value(); }
    /// @pre has_pool()
    const Hybrid& pool() const noexcept { return *pool_; }

    // ---- mutations: @pre has_pool() -------------------------------------------------------------
    result<request_id> add_request() {
        auto r = pool_->add_request();
        if (begin("add")) {
            sep(), line_ += '=';
            if (r) put_str("ok"), put(r.value()); else put_str(to_string(r.code()));
            end_digest();
        }
        return r;
    }
    status extend(request_id r, std::int64_t n) { return log_call("extend", r, n, pool_->extend(r, n)); }
    status commit(request_id r, std::int64_t n) { return log_call("commit", r, n, pool_->commit(r, n)); }
    status truncate(request_id r, std::int64_t n) { return log_call("truncate", r, n, pool_->truncate(r, n)); }
    status free_request(request_id r) {
        const status s = pool_->free_request(r);
        if (begin("free")) put(r), end_mutation(s);
        return s;
    }

    // ---- prefix cache (caching pools): @pre has_pool() -------------------------------------------
    result<request_id> add_request(cache_scope scope)
        requires Hybrid::caching
    {
        auto r = pool_->add_request(scope);
        if (begin("add")) {
            sep(), append(static_cast<std::int64_t>(scope.tenant_salt)), line_ += ':';
            append(static_cast<std::int64_t>(scope.extra_key));
            sep(), line_ += '=';
            if (r) put_str("ok"), put(r.value()); else put_str(to_string(r.code()));
            end_digest();
        }
        return r;
    }
    result<std::int64_t> attach_prefix(request_id r, std::span<const token_id> tokens)
        requires Hybrid::caching
    {
        auto hit = pool_->attach_prefix(r, tokens);
        if (begin("attach")) {
            put(r), put(tokens), sep(), line_ += '=';
            if (hit) put_str("ok"), put(hit.value()); else put_str(to_string(hit.code()));
            end_digest();
        }
        return hit;
    }
    status commit(request_id r, std::int64_t n, std::span<const token_id> tokens)
        requires Hybrid::caching
    {
        const status s = pool_->commit(r, n, tokens);
        if (begin("commit")) put(r), put(n), put(tokens), end_mutation(s);
        return s;
    }
    status cache_committed(request_id r, std::span<const token_id> tokens)
        requires Hybrid::caching
    {
        const status s = pool_->cache_committed(r, tokens);
        if (begin("cache")) put(r), put(tokens), end_mutation(s);
        return s;
    }
    status preempt(request_id r, std::span<const token_id> tokens)
        requires Hybrid::caching
    {
        const status s = pool_->preempt(r, tokens);
        if (begin("preempt")) put(r), put(tokens), end_mutation(s);
        return s;
    }
    status reset_cache()
        requires Hybrid::caching
    {
        const status s = pool_->reset_cache();
        if (begin("reset")) end_mutation(s);
        return s;
    }

    // ---- emission through the view of kind View: @pre has_pool() --------------------------------
    template <attention_kind View>
    status emit_dense_table(std::span<const request_id> batch, std::span<std::int32_t> out,
                            std::int64_t row_pages) {
        const status s = pagedkv::emit_dense_table(view<View>(), batch, out, row_pages);
        if (begin("dense")) {
            put_view<View>(), put(batch), put(row_pages), put(static_cast<std::int64_t>(out.size()));
            end_emission(s.code(), std::nullopt,
                         s ? hash_of(out.first(batch.size() * static_cast<std::size_t>(row_pages))) : 0);
        }
        return s;
    }
    template <attention_kind View>
    result<std::int32_t> emit_csr_table(std::span<const request_id> batch, csr_table_out out) {
        auto n = pagedkv::emit_csr_table(view<View>(), batch, out);
        if (begin("csr")) {
            put_view<View>(), put(batch), sep();
            append(static_cast<std::int64_t>(out.indptr.size())), line_ += ',';
            append(static_cast<std::int64_t>(out.indices.size())), line_ += ',';
            append(static_cast<std::int64_t>(out.last_page_len.size()));
            std::uint64_t h = 0;
            if (n) {
                state_hasher hs;
                for (std::int32_t v : out.indptr.first(batch.size() + 1)) hs.add(v);
                for (std::int32_t v : out.indices.first(static_cast<std::size_t>(n.value()))) hs.add(v);
                for (std::int32_t v : out.last_page_len.first(batch.size())) hs.add(v);
                h = hs.value();
            }
            end_emission(n.code(), n ? std::optional<std::int64_t>(n.value()) : std::nullopt, h);
        }
        return n;
    }
    template <attention_kind View>
    result<std::int64_t> emit_slot_mapping(std::span<const request_id> batch, std::span<std::int64_t> out) {
        auto n = pagedkv::emit_slot_mapping(view<View>(), batch, out);
        if (begin("slots")) {
            put_view<View>(), put(batch), put(static_cast<std::int64_t>(out.size()));
            end_emission(n.code(), n ? std::optional<std::int64_t>(n.value()) : std::nullopt,
                         n ? hash_of(out.first(static_cast<std::size_t>(n.value()))) : 0);
        }
        return n;
    }

private:
    template <attention_kind View>
    const auto& view() const noexcept {
        if constexpr (View == attention_kind::full) return pool_->full();
        else return pool_->swa();
    }
    template <class T>
    static std::uint64_t hash_of(std::span<T> values) {
        state_hasher h;
        for (T v : values) h.add(v);
        return h.value();
    }

    bool begin(std::string_view op) {
        if (!out_) return false;
        line_.assign(op);
        return true;
    }
    void sep() { line_ += ' '; }
    void put_str(std::string_view s) { sep(), line_ += s; }
    void append(std::int64_t v) {
        char buf[24];
        line_.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
    }
    void put(std::int64_t v) { sep(), append(v); }
    void put(request_id r) { sep(), append_id(r); }
    void append_id(request_id r) { append(r.slot), line_ += ':', append(r.generation); }
    void put(std::span<const request_id> batch) {
        sep();
        if (batch.empty()) line_ += '-';
        for (std::size_t i = 0; i < batch.size(); ++i) {
            if (i) line_ += ',';
            append_id(batch[i]);
        }
    }
    // Runs of consecutive ids: `v+n` (see the format above).
    void put(std::span<const token_id> tokens) {
        sep();
        if (tokens.empty()) line_ += '-';
        for (std::size_t i = 0; i < tokens.size();) {
            std::size_t n = 1;
            while (i + n < tokens.size() && std::int64_t{tokens[i + n]} == std::int64_t{tokens[i]} + static_cast<std::int64_t>(n)) ++n;
            if (i) line_ += ',';
            append(tokens[i]), line_ += '+', append(static_cast<std::int64_t>(n));
            i += n;
        }
    }
    template <attention_kind View>
    void put_view() { put_str(View == attention_kind::full ? "f" : "s"); }
    void put_hash(std::uint64_t h) {
        char buf[16];
        for (int i = 15; i >= 0; --i, h >>= 4) buf[i] = "0123456789abcdef"[h & 15];
        sep(), line_ += '#', line_.append(buf, 16);
    }

    status log_call(std::string_view op, request_id r, std::int64_t n, status s) {
        if (begin(op)) put(r), put(n), end_mutation(s);
        return s;
    }
    void end_mutation(status s) {
        sep(), line_ += '=';
        put_str(s ? std::string_view("ok") : to_string(s.code()));
        end_digest();
    }
    void end_digest() {
        if (opts_.digests && pool_) put_hash(state_digest(*pool_));
        flush();
    }
    void end_emission(errc code, std::optional<std::int64_t> value, std::uint64_t hash) {
        sep(), line_ += '=';
        if (code != errc{}) {
            put_str(to_string(code));
        } else {
            put_str("ok");
            if (value) put(*value);
            put_hash(hash);
        }
        flush();
    }
    void flush() {
        line_ += '\n';
        out_->write(line_.data(), static_cast<std::streamsize>(line_.size()));
    }

    std::ostream* out_;
    trace_options opts_;
    std::optional<Hybrid> pool_;
    std::string line_;  // reused: recording allocates only while a line outgrows every earlier one
};

/// What `replay_trace` found.
struct replay_report {
    std::int64_t steps = 0;           ///< calls replayed whose result matched
    std::int64_t divergent_step = 0;  ///< 1-based number of the first call that diverged; 0 if none
    std::int64_t line = 0;            ///< that call's line in the trace
    std::string message;              ///< what differed: expected vs replayed result, or why
    bool ok() const noexcept { return divergent_step == 0; }
};

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
        if (plus == std::string_view::npos || !parse_int(run.substr(0, plus), v) || !parse_int(run.substr(plus + 1), n) ||
            n < 1 || n > max_tokens - static_cast<std::int64_t>(tokens.size()) || v < INT32_MIN || v + n - 1 > INT32_MAX)
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

/// Replays a version-1 trace against fresh pools: each call is re-executed and re-recorded, and
/// its line must match the trace's (the digest only where the trace has one); the pools'
/// invariants are checked after every call. Stops at the first divergence. Emission buffers are
/// allocated at the recorded capacities (pools and buffers of at most 2^24 entries) and must stay untouched when
/// the call fails.
template <class Hybrid = hybrid_pool<>>
replay_report replay_trace_as(std::istream& in) {
    constexpr std::int64_t max_capacity = std::int64_t{1} << 24;
    constexpr std::int32_t sentinel = -0x5a5a5a5b;
    replay_report rep;
    std::ostringstream replayed;
    trace_recorder<Hybrid> rec(&replayed);
    std::string text;
    std::int64_t line_no = 0;
    bool header = false;
    std::vector<std::string_view> items;
    std::vector<request_id> batch;
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
                               std::string(trace_pool_tag<Hybrid>.empty() ? "" : " ") + std::string(trace_pool_tag<Hybrid>) + "`)");
            header = true;
            continue;
        }
        const auto eq = std::find(words.begin(), words.end(), std::string_view("="));
        if (eq == words.end()) return diverge("malformed line: no ` = <result>`");
        const std::string_view op = words[0];
        const std::span<const std::string_view> args(words.begin() + 1, eq);
        std::int64_t num[4] = {};
        auto ints = [&](std::size_t first, std::size_t count) {
            if (args.size() != first + count) return false;
            for (std::size_t i = 0; i < count; ++i)
                if (!detail::parse_int(args[first + i], num[i])) return false;
            return true;
        };
        auto parse_batch = [&](std::string_view s) {
            batch.clear();
            if (!detail::parse_list(s, items)) return false;
            for (std::string_view it : items)
                if (request_id r; detail::parse_id(it, r)) batch.push_back(r); else return false;
            return true;
        };
        auto fits_int32 = [](std::int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; };
        request_id r;
        const bool needs_pool = op != "create";
        if (needs_pool && !rec.has_pool()) return diverge("call before a successful create");
        replayed.str({});
        if (op == "create") {
            if (!ints(0, 4) || !fits_int32(num[0]) || !fits_int32(num[1]) || !fits_int32(num[2]))
                return diverge("malformed create");
            if (num[0] > max_capacity || num[1] > max_capacity) return diverge("pool too large to replay");
            (void)rec.create(pool_size{static_cast<std::int32_t>(num[0])}, pool_size{static_cast<std::int32_t>(num[1])},
                             static_cast<std::int32_t>(num[2]), num[3]);
        } else if (op == "add" && args.empty()) {
            (void)rec.add_request();
        } else if (op == "add" || op == "attach" || (op == "commit" && args.size() == 3) || op == "cache" ||
                   op == "preempt" || op == "reset") {
            if constexpr (Hybrid::caching) {
                std::int64_t salt = 0, extra = 0;
                const auto colon = args.empty() ? std::string_view::npos : args[0].find(':');
                const bool with_id = op != "add" && op != "reset";
                const std::size_t want_args = op == "reset" ? 0 : op == "add" ? 1 : op == "commit" ? 3 : 2;
                if (args.size() != want_args || (with_id && !detail::parse_id(args[0], r)) ||
                    (op == "commit" && !detail::parse_int(args[1], num[0])) ||
                    (with_id && !detail::parse_tokens(args.back(), tokens, max_capacity)) ||
                    (op == "add" && (colon == std::string_view::npos || !detail::parse_int(args[0].substr(0, colon), salt) ||
                                     !detail::parse_int(args[0].substr(colon + 1), extra))))
                    return diverge("malformed " + std::string(op));
                if (op == "add") (void)rec.add_request(cache_scope{static_cast<std::uint64_t>(salt), static_cast<std::uint64_t>(extra)});
                else if (op == "attach") (void)rec.attach_prefix(r, tokens);
                else if (op == "commit") (void)rec.commit(r, num[0], tokens);
                else if (op == "cache") (void)rec.cache_committed(r, tokens);
                else if (op == "preempt") (void)rec.preempt(r, tokens);
                else (void)rec.reset_cache();
            } else {
                return diverge("prefix-cache call `" + std::string(op) + "` in a trace of a pool without a cache");
            }
        } else if (op == "extend" || op == "commit" || op == "truncate") {
            if (args.size() != 2 || !detail::parse_id(args[0], r) || !detail::parse_int(args[1], num[0]))
                return diverge("malformed " + std::string(op));
            if (op == "extend") (void)rec.extend(r, num[0]);
            else if (op == "commit") (void)rec.commit(r, num[0]);
            else (void)rec.truncate(r, num[0]);
        } else if (op == "free") {
            if (args.size() != 1 || !detail::parse_id(args[0], r)) return diverge("malformed free");
            (void)rec.free_request(r);
        } else if (op == "dense" || op == "csr" || op == "slots") {
            if (args.size() < 3 || (args[0] != "f" && args[0] != "s") || !parse_batch(args[1]))
                return diverge("malformed " + std::string(op));
            const bool full = args[0] == "f";
            if (op == "dense") {
                if (!ints(2, 2) || num[1] < 0 || num[1] > max_capacity) return diverge("malformed dense");
                std::vector<std::int32_t> out(static_cast<std::size_t>(num[1]), sentinel);
                const status s = full ? rec.template emit_dense_table<attention_kind::full>(batch, out, num[0])
                                      : rec.template emit_dense_table<attention_kind::sliding>(batch, out, num[0]);
                if (!s && std::any_of(out.begin(), out.end(), [](std::int32_t v) { return v != sentinel; }))
                    return diverge("failing dense emission wrote to its buffer");
            } else if (op == "csr") {
                if (args.size() != 3 || !detail::parse_list(args[2], items) || items.size() != 3)
                    return diverge("malformed csr");
                std::vector<std::int32_t> bufs[3];
                for (std::size_t i = 0; i < 3; ++i) {
                    if (!detail::parse_int(items[i], num[i]) || num[i] < 0 || num[i] > max_capacity)
                        return diverge("malformed csr");
                    bufs[i].assign(static_cast<std::size_t>(num[i]), sentinel);
                }
                const csr_table_out out{bufs[0], bufs[1], bufs[2]};
                const auto n = full ? rec.template emit_csr_table<attention_kind::full>(batch, out)
                                    : rec.template emit_csr_table<attention_kind::sliding>(batch, out);
                for (const auto& b : bufs)
                    if (!n && std::any_of(b.begin(), b.end(), [](std::int32_t v) { return v != sentinel; }))
                        return diverge("failing csr emission wrote to its buffers");
            } else {
                if (!ints(2, 1) || num[0] < 0 || num[0] > max_capacity) return diverge("malformed slots");
                std::vector<std::int64_t> out(static_cast<std::size_t>(num[0]), sentinel);
                const auto n = full ? rec.template emit_slot_mapping<attention_kind::full>(batch, out)
                                    : rec.template emit_slot_mapping<attention_kind::sliding>(batch, out);
                if (!n && std::any_of(out.begin(), out.end(), [](std::int64_t v) { return v != sentinel; }))
                    return diverge("failing slot emission wrote to its buffer");
            }
        } else {
            return diverge("unknown call `" + std::string(op) + "`");
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
