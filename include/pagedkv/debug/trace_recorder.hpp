// Trace recording: a hybrid pool's call history as text (the format below), replayable against fresh
// pools by debug/trace.hpp. A bug report becomes one file.
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
#include "pagedkv/debug/trace_ops.hpp"
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
        if (out_)
            *out_ << "pagedkv-trace 1" << (trace_pool_tag<Hybrid>.empty() ? "" : " ") << trace_pool_tag<Hybrid> << '\n';
    }

    /// Replaces the wrapped pool on success; a failing create keeps the previous one.
    status create(pool_size full_pages, pool_size swa_pages, std::int32_t page_size_tokens,
                  std::int64_t window_tokens) {
        auto made = Hybrid::create(full_pages, swa_pages, page_size_tokens, window_tokens);
        if (made) pool_.emplace(std::move(made.value()));
        const status s = made ? status{} : status{made.err()};
        if (begin(trace_op::create)) {
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
        if (begin(trace_op::add)) {
            sep(), line_ += '=';
            if (r)
                put_str("ok"), put(r.value());
            else
                put_str(to_string(r.code()));
            end_digest();
        }
        return r;
    }
    status extend(request_id r, std::int64_t n) { return log_call(trace_op::extend, r, n, pool_->extend(r, n)); }
    status commit(request_id r, std::int64_t n) { return log_call(trace_op::commit, r, n, pool_->commit(r, n)); }
    status truncate(request_id r, std::int64_t n) { return log_call(trace_op::truncate, r, n, pool_->truncate(r, n)); }
    status free_request(request_id r) {
        const status s = pool_->free_request(r);
        if (begin(trace_op::free)) put(r), end_mutation(s);
        return s;
    }

    // ---- prefix cache (caching pools): @pre has_pool() -------------------------------------------
    result<request_id> add_request(cache_scope scope)
        requires Hybrid::caching
    {
        auto r = pool_->add_request(scope);
        if (begin(trace_op::add)) {
            sep(), append(static_cast<std::int64_t>(scope.tenant_salt)), line_ += ':';
            append(static_cast<std::int64_t>(scope.extra_key));
            sep(), line_ += '=';
            if (r)
                put_str("ok"), put(r.value());
            else
                put_str(to_string(r.code()));
            end_digest();
        }
        return r;
    }
    result<std::int64_t> attach_prefix(request_id r, std::span<const token_id> tokens)
        requires Hybrid::caching
    {
        auto hit = pool_->attach_prefix(r, tokens);
        if (begin(trace_op::attach)) {
            put(r), put(tokens), sep(), line_ += '=';
            if (hit)
                put_str("ok"), put(hit.value());
            else
                put_str(to_string(hit.code()));
            end_digest();
        }
        return hit;
    }
    status commit(request_id r, std::int64_t n, std::span<const token_id> tokens)
        requires Hybrid::caching
    {
        const status s = pool_->commit(r, n, tokens);
        if (begin(trace_op::commit_keyed)) put(r), put(n), put(tokens), end_mutation(s);
        return s;
    }
    status cache_committed(request_id r, std::span<const token_id> tokens)
        requires Hybrid::caching
    {
        const status s = pool_->cache_committed(r, tokens);
        if (begin(trace_op::cache)) put(r), put(tokens), end_mutation(s);
        return s;
    }
    status preempt(request_id r, std::span<const token_id> tokens)
        requires Hybrid::caching
    {
        const status s = pool_->preempt(r, tokens);
        if (begin(trace_op::preempt)) put(r), put(tokens), end_mutation(s);
        return s;
    }
    status reset_cache()
        requires Hybrid::caching
    {
        const status s = pool_->reset_cache();
        if (begin(trace_op::reset)) end_mutation(s);
        return s;
    }

    // ---- emission through the view of kind View: @pre has_pool() --------------------------------
    template <attention_kind View>
    status emit_dense_table(std::span<const request_id> batch, std::span<std::int32_t> out, std::int64_t row_pages) {
        const status s = pagedkv::emit_dense_table(view<View>(), batch, out, row_pages);
        if (begin(trace_op::dense)) {
            put_view<View>(), put(batch), put(row_pages), put(static_cast<std::int64_t>(out.size()));
            end_emission(s.code(), std::nullopt,
                         s ? hash_of(out.first(batch.size() * static_cast<std::size_t>(row_pages))) : 0);
        }
        return s;
    }
    template <attention_kind View>
    result<std::int32_t> emit_csr_table(std::span<const request_id> batch, csr_table_out out) {
        auto n = pagedkv::emit_csr_table(view<View>(), batch, out);
        if (begin(trace_op::csr)) {
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
        if (begin(trace_op::slots)) {
            put_view<View>(), put(batch), put(static_cast<std::int64_t>(out.size()));
            end_emission(n.code(), n ? std::optional<std::int64_t>(n.value()) : std::nullopt,
                         n ? hash_of(out.first(static_cast<std::size_t>(n.value()))) : 0);
        }
        return n;
    }

private:
    template <attention_kind View>
    const auto& view() const noexcept {
        if constexpr (View == attention_kind::full)
            return pool_->full();
        else
            return pool_->swa();
    }
    template <class T>
    static std::uint64_t hash_of(std::span<T> values) {
        state_hasher h;
        for (T v : values) h.add(v);
        return h.value();
    }

    bool begin(trace_op op) {
        if (!out_) return false;
        line_.assign(spec_of(op).word);
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
            while (i + n < tokens.size() &&
                   std::int64_t{tokens[i + n]} == std::int64_t{tokens[i]} + static_cast<std::int64_t>(n))
                ++n;
            if (i) line_ += ',';
            append(tokens[i]), line_ += '+', append(static_cast<std::int64_t>(n));
            i += n;
        }
    }
    template <attention_kind View>
    void put_view() {
        put_str(View == attention_kind::full ? "f" : "s");
    }
    void put_hash(std::uint64_t h) {
        char buf[16];
        for (int i = 15; i >= 0; --i, h >>= 4) buf[i] = "0123456789abcdef"[h & 15];
        sep(), line_ += '#', line_.append(buf, 16);
    }

    status log_call(trace_op op, request_id r, std::int64_t n, status s) {
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

}  // namespace pagedkv
