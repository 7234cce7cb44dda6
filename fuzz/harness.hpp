// The fuzz harness: decodes bytes into calls on a full, an SWA and a hybrid pool, predicts each
// call's result from a model written from the conventions (not from the pool code), and checks
// after every call: the result, the invariants, the model's lengths and page counts, the tables,
// and that a failing call left the state digest unchanged. One decoder for libFuzzer
// (fuzz/fuzz_pools.cpp), the regression replays (tests/test_fuzz_regressions.cpp) and traces
// (tools/trace_gen.cpp). Input format: docs/fuzzing.md.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <pagedkv/debug/state_digest.hpp>
#include <pagedkv/debug/trace.hpp>
#include <pagedkv/pagedkv.hpp>

namespace pagedkv::fuzz {

/// The calls the harness makes, for counting: the trace operations (debug/trace_ops.hpp, same
/// order), plus `resume`, the harness's check that a preempted request hits its own prefix again,
/// and the host tier's plan calls (`take`: take_plan and its execution, `complete`), which only
/// the tier target (`run_tier`, fuzz/fuzz_tier.cpp) makes.
enum class call : std::uint8_t {
    create,
    add,
    extend,
    commit,
    truncate,
    free,
    dense,
    csr,
    slots,
    attach,
    commit_keyed,
    cache,
    preempt,
    reset,  // prefix reuse (the caching hybrid pool)
    resume,
    take,
    complete,      // the host tier
    add_committed  // the multi-group target: add_committed_request
};
inline constexpr std::size_t call_kinds = trace_ops.size() + 4;
/// The kinds `run` (the four pools of fuzz_pools) can reach: every kind before the tier's.
inline constexpr std::size_t pool_call_kinds = static_cast<std::size_t>(call::take);
inline constexpr std::array<std::string_view, call_kinds> call_names = [] {
    std::array<std::string_view, call_kinds> names{};
    for (const trace_op_spec& op : trace_ops) names[static_cast<std::size_t>(op.op)] = op.name;
    names[static_cast<std::size_t>(call::resume)] = "resume";
    names[static_cast<std::size_t>(call::take)] = "take";
    names[static_cast<std::size_t>(call::complete)] = "complete";
    names[static_cast<std::size_t>(call::add_committed)] = "add_committed";
    return names;
}();
static_assert(static_cast<std::size_t>(call::reset) == static_cast<std::size_t>(trace_op::reset) &&
              static_cast<std::size_t>(call::commit_keyed) == static_cast<std::size_t>(trace_op::commit_keyed));

/// Calls made, by kind and by outcome.
struct call_counts {
    std::array<std::int64_t, call_kinds> ok{}, failed{};
    std::int64_t total() const noexcept {
        std::int64_t n = 0;
        for (std::size_t i = 0; i < call_kinds; ++i) n += ok[i] + failed[i];
        return n;
    }
    call_counts& operator+=(const call_counts& o) noexcept {
        for (std::size_t i = 0; i < call_kinds; ++i) ok[i] += o.ok[i], failed[i] += o.failed[i];
        return *this;
    }
};

/// What one input did: the calls made and the first property it broke, if any.
struct outcome {
    call_counts counts;
    std::int64_t failed_call = -1;     ///< 0-based index of the call that broke a property; -1 if none
    std::string what;                  ///< which property, for the crash report
    std::int64_t host_hit_tokens = 0;  ///< run_tier only: tokens attached from the host tier, all pools
    bool ok() const noexcept { return failed_call < 0; }
};

// ---- the model: what every call should do, derived from the conventions alone ---------------------

/// The set of errors a call may return; 0 means it must succeed.
using errc_set = std::uint32_t;
constexpr errc_set bit(errc e) noexcept { return errc_set{1} << static_cast<unsigned>(e); }

struct request_model {
    request_id id;
    std::int64_t length_tokens = 0;
    std::int64_t committed_tokens = 0;
    bool live = true;
    // Prefix reuse only: the request's prompt and generated tokens are `stream_token(stream, i)`.
    std::uint8_t stream = 0;
    cache_scope scope{};
    bool keyed_all = true;        ///< every commit keyed its pages (so released SWA pages stayed cached)
    std::int64_t calm_since = 0;  ///< the session's disturbance count when it was admitted
};

/// Token i of stream s. Streams of one family (s % 4) agree on their first (s / 4 % 8) * 5 tokens,
/// so prompts share prefixes of 0 to 35 tokens and hits really happen; equal streams agree on all.
/// Ids are consecutive within a stream, which the trace's run-length encoding stores in a few bytes.
inline token_id stream_token(std::uint8_t s, std::int64_t i) noexcept {
    const std::int64_t fork = s / 4 % 8 * 5;
    return static_cast<token_id>((i < fork ? s % 4 : 4 + s) * 100000 + i % 100000);
}

/// One pool (or hybrid pair) as the conventions describe it.
struct pool_model {
    std::int32_t page_size_tokens = 1;
    std::int64_t window_tokens = 0;                   // unused by full-attention views
    std::vector<request_model> requests;              // every id ever issued, in order; freed ones stay (stale ids)
    std::vector<std::vector<std::uint32_t>> by_slot;  // indices into `requests` by id slot: find is O(1)
    std::int64_t live_count = 0;                      // requests with `live`

    std::int64_t pages(std::int64_t tokens) const noexcept {
        return tokens / page_size_tokens + (tokens % page_size_tokens != 0);
    }
    /// Page i holds tokens [iP, (i+1)P); the next query (at the committed length L) sees keys from
    /// L - W + 1 on, so an SWA view has released every page that ends before that key.
    /// A chunked view (chunks of C tokens) has released the pages wholly before the next query's
    /// chunk, which starts at floor(L / C) * C. `rule_tokens`: the view's W or C.
    std::int64_t released(attention_kind view, std::int64_t rule_tokens, std::int64_t committed) const noexcept {
        if (view == attention_kind::full) return 0;
        const std::int64_t first_key = view == attention_kind::chunked
                                           ? committed / rule_tokens * rule_tokens
                                           : committed - rule_tokens + 1;  // no overflow: L >= 0, W >= 1
        return first_key <= 0 ? 0 : first_key / page_size_tokens;
    }
    std::int64_t released(attention_kind view, std::int64_t committed) const noexcept {
        return released(view, window_tokens, committed);
    }
    /// Table entries are int32 page indices: one request holds at most INT32_MAX pages.
    std::int64_t max_tokens() const noexcept { return std::int64_t{INT32_MAX} * page_size_tokens; }
    const request_model* find(request_id r) const noexcept {
        if (r.slot >= by_slot.size()) return nullptr;
        for (std::uint32_t i : by_slot[r.slot])
            if (requests[i].id == r) return &requests[i];
        return nullptr;
    }
    request_model* find(request_id r) noexcept { return const_cast<request_model*>(std::as_const(*this).find(r)); }
    /// Records a newly issued id (live). References into `requests` may move.
    request_model& issue(const request_model& m) {
        if (m.id.slot >= by_slot.size()) by_slot.resize(m.id.slot + std::size_t{1});
        by_slot[m.id.slot].push_back(static_cast<std::uint32_t>(requests.size()));
        live_count += m.live;
        return requests.emplace_back(m);
    }
    void retire(request_model& m) noexcept { m.live = false, --live_count; }
    bool live(request_id r) noexcept {
        const request_model* m = find(r);
        return m && m->live;
    }
};

// ---- the targets: one full pool, one SWA pool, one hybrid pool (through a trace recorder) ----------

template <class V>
inline constexpr attention_kind kind_of = std::remove_cvref_t<V>::kind;

template <class Pool>
struct single_target {
    static constexpr bool hybrid = false;
    static constexpr bool caching = false;
    static constexpr std::string_view name = Pool::kind == attention_kind::full ? "full" : "swa";
    static constexpr std::size_t views = 1;
    std::optional<Pool> pool;
    pool_model model;
    std::int64_t disturbed = 0;                 // unused: no cache
    mutable std::int64_t since_full_check = 0;  // successful mutations since its whole state was checked

    Pool& api() noexcept { return *pool; }
    const Pool& state() const noexcept { return *pool; }
    template <class F>
    void for_each_view(F&& f) const {
        f(*pool);
    }
    template <class V>
    std::int64_t rule_tokens(const V&) const noexcept {
        return model.window_tokens;
    }
    std::int64_t evicted_pages() const noexcept { return 0; }
    status check_request_invariants(request_id r) const { return pool->check_request_invariants(r); }
    /// `swa_pages` is unused: a single pool has one size.
    status create(std::int32_t pages, std::int32_t, std::int32_t page_size, std::int64_t window) {
        auto made = [&] {
            if constexpr (Pool::kind == attention_kind::full)
                return Pool::create(pool_size{pages}, page_size);
            else
                return Pool::create(pool_size{pages}, page_size, window);
        }();
        if (!made) return made.err();
        pool.emplace(std::move(made.value()));
        return {};
    }
    template <class V>
    status dense(const V&, std::span<const request_id> b, std::span<std::int32_t> out, std::int64_t row) {
        return emit_dense_table(*pool, b, out, row);
    }
    template <class V>
    result<std::int32_t> csr(const V&, std::span<const request_id> b, csr_table_out out) {
        return emit_csr_table(*pool, b, out);
    }
    template <class V>
    result<std::int64_t> slots(const V&, std::span<const request_id> b, std::span<std::int64_t> out) {
        return emit_slot_mapping(*pool, b, out);
    }
};

/// A hybrid pool through a trace recorder: `hybrid_pool<>`, or with `Caching` the prefix-reuse pool
/// `caching_hybrid_pool<lru>`.
template <bool Caching>
struct hybrid_target {
    using pool_type = std::conditional_t<Caching, caching_hybrid_pool<lru>, hybrid_pool<>>;
    static constexpr bool hybrid = true;
    static constexpr bool caching = Caching;
    static constexpr std::string_view name = Caching ? "cache" : "hybrid";
    static constexpr std::size_t views = 2;
    trace_recorder<pool_type> rec;
    pool_model model;
    std::int64_t disturbed = 0;                 // creates, truncations, resets: what may take a cached prefix away
    mutable std::int64_t since_full_check = 0;  // successful mutations since its whole state was checked

    explicit hybrid_target(std::ostream* trace) : rec(trace) {}
    trace_recorder<pool_type>& api() noexcept { return rec; }
    const pool_type& state() const noexcept { return rec.pool(); }
    template <class F>
    void for_each_view(F&& f) const {
        f(rec.pool().full()), f(rec.pool().swa());
    }
    template <class V>
    std::int64_t rule_tokens(const V&) const noexcept {
        return model.window_tokens;
    }
    std::int64_t evicted_pages() const noexcept {
        if constexpr (Caching)
            return rec.has_pool() ? state().full().stats().evicted_pages + state().swa().stats().evicted_pages : 0;
        else
            return 0;
    }
    status check_request_invariants(request_id r) const { return state().check_request_invariants(r); }
    /// View 1's (the SWA view's) slot of a full slot.
    std::int64_t group_slot(std::size_t, std::int64_t full_slot) const { return state().swa_slot(full_slot); }
    status create(std::int32_t full_pages, std::int32_t swa_pages, std::int32_t page_size, std::int64_t window) {
        return rec.create(pool_size{full_pages}, pool_size{swa_pages}, page_size, window);
    }
    template <class V>
    status dense(const V&, std::span<const request_id> b, std::span<std::int32_t> out, std::int64_t row) {
        return rec.template emit_dense_table<kind_of<V>>(b, out, row);
    }
    template <class V>
    result<std::int32_t> csr(const V&, std::span<const request_id> b, csr_table_out out) {
        return rec.template emit_csr_table<kind_of<V>>(b, out);
    }
    template <class V>
    result<std::int64_t> slots(const V&, std::span<const request_id> b, std::span<std::int64_t> out) {
        return rec.template emit_slot_mapping<kind_of<V>>(b, out);
    }
};

/// A full caching pool with a host tier (`tiered_full_pool<lru>`), with the K/V bytes of both
/// tiers: a value per token slot, written by the harness's forward pass and moved by the plans.
struct tier_target {
    using pool_type = tiered_full_pool<lru>;
    static constexpr bool hybrid = false;
    static constexpr bool caching = true;
    static constexpr bool tiered = true;
    static constexpr std::string_view name = "tier";
    static constexpr std::size_t views = 1;
    std::optional<pool_type> pool;
    pool_model model;
    std::int64_t disturbed = 0;                  // creates, truncations, resets
    mutable std::int64_t since_full_check = 0;   // successful mutations since its whole state was checked
    std::vector<std::uint64_t> gpu_kv, host_kv;  // slot p * P + i: token i of page p
    std::vector<std::uint64_t> in_flight;        // sequences of plans taken, not completed, oldest first
    std::uint64_t taken = 0;                     // plans taken from this pool

    pool_type& api() noexcept { return *pool; }
    const pool_type& state() const noexcept { return *pool; }
    template <class F>
    void for_each_view(F&& f) const {
        f(pool->gpu());
    }
    template <class V>
    std::int64_t rule_tokens(const V&) const noexcept {
        return 0;
    }
    std::int64_t evicted_pages() const noexcept { return pool ? pool->gpu().stats().evicted_pages : 0; }
    /// No per-request check across both tiers: the whole pool.
    status check_request_invariants(request_id) const { return pool->check_invariants(); }
    status create(std::int32_t gpu_pages, std::int32_t host_pages, std::int32_t page_size) {
        auto made = pool_type::create(pool_size{gpu_pages}, pool_size{host_pages}, page_size);
        if (!made) return made.err();
        pool.emplace(std::move(made.value()));
        gpu_kv.assign(static_cast<std::size_t>(gpu_pages) * static_cast<std::size_t>(page_size), 0);
        host_kv.assign(static_cast<std::size_t>(host_pages) * static_cast<std::size_t>(page_size), 0);
        in_flight.clear();
        taken = 0;
        return {};
    }
    template <class V>
    status dense(const V&, std::span<const request_id> b, std::span<std::int32_t> out, std::int64_t row) {
        return emit_dense_table(pool->gpu(), b, out, row);
    }
    template <class V>
    result<std::int32_t> csr(const V&, std::span<const request_id> b, csr_table_out out) {
        return emit_csr_table(pool->gpu(), b, out);
    }
    template <class V>
    result<std::int64_t> slots(const V&, std::span<const request_id> b, std::span<std::int64_t> out) {
        return emit_slot_mapping(pool->gpu(), b, out);
    }
    /// The plan's contract, executed on the K/V values: every write-back, then every load.
    void execute(const copy_plan& plan) {
        const auto page = static_cast<std::size_t>(model.page_size_tokens);
        for (const copy_run& r : plan.write_backs)
            std::copy_n(gpu_kv.begin() + static_cast<std::ptrdiff_t>(r.src * page), r.count * page,
                        host_kv.begin() + static_cast<std::ptrdiff_t>(r.dst * page));
        for (const copy_run& r : plan.loads)
            std::copy_n(host_kv.begin() + static_cast<std::ptrdiff_t>(r.src * page), r.count * page,
                        gpu_kv.begin() + static_cast<std::ptrdiff_t>(r.dst * page));
    }
};

/// Whether `T` is the host-tier target (the other targets have no `tiered` member).
template <class T>
concept tier_like = requires { requires T::tiered; };

/// The three-group hybrid (docs/hybrid.md, issue 15): one full pool and three groups — a sliding
/// window, a second window and chunked local attention — every pool caching under LRU. The groups'
/// windows and chunk are the model's, set by its create; `rule_tokens` finds a view's by address.
struct multi_target {
    using pool_type =
        caching_multi_hybrid_pool<lru, attention_kind::sliding, attention_kind::sliding, attention_kind::chunked>;
    static constexpr std::size_t groups = pool_type::group_count;
    static constexpr bool hybrid = false;
    static constexpr bool caching = true;
    static constexpr bool multi = true;
    static constexpr std::size_t views = 1 + groups;
    static constexpr std::string_view name = "multi";
    std::optional<pool_type> pool;
    pool_model model;
    std::array<std::int64_t, groups> group_rule_tokens{};  // W, W', C of groups 0, 1, 2
    std::int64_t disturbed = 0;                            // creates, truncations, resets
    mutable std::int64_t since_full_check = 0;             // successful mutations since its whole state was checked

    pool_type& api() noexcept { return *pool; }
    const pool_type& state() const noexcept { return *pool; }
    template <class F>
    void for_each_view(F&& f) const {
        f(pool->full()), f(pool->group<0>()), f(pool->group<1>()), f(pool->group<2>());
    }
    template <class V>
    std::int64_t rule_tokens(const V& v) const noexcept {
        const void* at = &v;
        if (at == &pool->group<0>()) return group_rule_tokens[0];
        if (at == &pool->group<1>()) return group_rule_tokens[1];
        if (at == &pool->group<2>()) return group_rule_tokens[2];
        return 0;  // the full view
    }
    std::int64_t evicted_pages() const noexcept {
        std::int64_t n = 0;
        if (pool) for_each_view([&](const auto& v) { n += v.stats().evicted_pages; });
        return n;
    }
    status create(std::int32_t full_pages, std::array<std::int32_t, groups> group_pages, std::int32_t page_size,
                  std::array<std::int64_t, groups> rules) {
        auto made = pool_type::create(pool_size{full_pages}, page_size, group_size{pool_size{group_pages[0]}, rules[0]},
                                      group_size{pool_size{group_pages[1]}, rules[1]},
                                      group_size{pool_size{group_pages[2]}, rules[2]});
        if (!made) return made.err();
        pool.emplace(std::move(made.value()));
        group_rule_tokens = rules;
        return {};
    }
    /// r's invariants in every pool, and each group's mapping along r's list (the class comment of
    /// multi_hybrid_pool): an entry before the group's first live page is the null page, every other
    /// one is the group page its mapping gives the full page at that index.
    status check_request_invariants(request_id r) const {
        if (auto s = pool->full().check_request_invariants(r); !s) return s;
        status bad{};
        const auto full = pool->full().pages(r);
        auto check = [&]<std::size_t K>(std::integral_constant<std::size_t, K>) {
            const auto& g = pool->group<K>();
            if (!bad.ok()) return;
            if (auto s = g.check_request_invariants(r); !s) {
                bad = s;
                return;
            }
            const auto list = g.pages(r);
            const auto map = pool->full_to_group<K>();
            const auto live = static_cast<std::size_t>(g.first_live_page(r));
            if (list.size() != full.size())
                bad = error{errc::invariant_violated, "a group's list length != the full one's"};
            for (std::size_t i = 0; bad.ok() && i < list.size(); ++i)
                if (i < live ? list[i] != null_page
                             : list[i] == null_page || list[i] != map[static_cast<std::size_t>(full[i].value)])
                    bad = error{errc::invariant_violated, "a group entry differs from its mapping of the full page"};
        };
        check(std::integral_constant<std::size_t, 0>{});
        check(std::integral_constant<std::size_t, 1>{});
        check(std::integral_constant<std::size_t, 2>{});
        return bad;
    }
    /// View j's (group j - 1's) slot of a full slot.
    std::int64_t group_slot(std::size_t view, std::int64_t full_slot) const {
        switch (view) {
            case 1:
                return pool->group_slot<0>(full_slot);
            case 2:
                return pool->group_slot<1>(full_slot);
            default:
                return pool->group_slot<2>(full_slot);
        }
    }
    template <class V>
    status dense(const V& v, std::span<const request_id> b, std::span<std::int32_t> out, std::int64_t row) {
        return emit_dense_table(v, b, out, row);
    }
    template <class V>
    result<std::int32_t> csr(const V& v, std::span<const request_id> b, csr_table_out out) {
        return emit_csr_table(v, b, out);
    }
    template <class V>
    result<std::int64_t> slots(const V& v, std::span<const request_id> b, std::span<std::int64_t> out) {
        return emit_slot_mapping(v, b, out);
    }
};

/// Whether `T` is the multi-group target.
template <class T>
concept multi_like = requires { requires T::multi; };

// ---- decoding ---------------------------------------------------------------------------------------

/// Bytes in, one at a time; past the end every byte reads as 0.
class byte_reader {
public:
    explicit byte_reader(std::span<const std::uint8_t> in) noexcept : in_(in) {}
    bool done() const noexcept { return at_ >= in_.size(); }
    std::uint8_t next() noexcept { return at_ < in_.size() ? in_[at_++] : 0; }

private:
    std::span<const std::uint8_t> in_;
    std::size_t at_ = 0;
};

inline std::int64_t sat_add(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r = 0;
    if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}
inline std::int64_t sat_mul(std::int64_t a, std::int64_t b) noexcept {
    std::int64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r)) return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
    return r;
}

/// Pool sizes: mostly 2..121 pages (small, so pools run dry), sometimes invalid.
inline std::int32_t decode_pool_size(std::uint8_t b) noexcept {
    constexpr std::int32_t odd[] = {0, 1, -1, INT32_MIN, 2, 3, -2, 1};
    return b < 224 ? 2 + b % 120 : odd[b % 8];
}
/// Page sizes: common ones, 1 and INT32_MAX (extremes of the arithmetic), and invalid ones.
inline std::int32_t decode_page_size(std::uint8_t b) noexcept {
    constexpr std::int32_t common[] = {1, 2, 3, 4, 5, 7, 8, 16, 64, 256};
    constexpr std::int32_t odd[] = {0, -1, -16, INT32_MIN, INT32_MAX, 1 << 20, 1, 2};
    return b < 224 ? common[b % 10] : odd[b % 8];
}
/// Windows: small, around page multiples, and the extremes (0 and negatives are invalid).
inline std::int64_t decode_window(std::uint8_t b, std::int32_t page) noexcept {
    const std::int64_t odd[] = {0, -1, INT64_MIN, INT64_MAX, 1, page, INT64_MAX - 1, 2};
    if (b < 128) return 1 + b % 40;
    if (b < 192) return sat_add(sat_mul(page, (b >> 2) % 4 + 1), b % 3 - 1);
    return odd[b % 8];
}
/// Token counts: small; page multiples +-1; around the window; relative to the request's length,
/// committed length and tokens in flight; and the extremes of the int64 and int32 table ranges.
inline std::int64_t decode_tokens(std::uint8_t b, const pool_model& m, const request_model* r) noexcept {
    const std::int64_t page = m.page_size_tokens;
    if (b < 112) return b % 20;
    if (b < 160) return sat_add(sat_mul(page, (b - 112) % 8), (b - 112) / 8 % 3 - 1);
    if (b < 184) return sat_add(m.window_tokens, b % 5 - 2);
    const std::int64_t len = r ? r->length_tokens : 0, com = r ? r->committed_tokens : 0;
    if (b < 224) {
        const std::int64_t base[] = {len, com, len - com, com - m.window_tokens};
        return sat_add(base[(b - 184) % 4], (b - 184) / 4 % 3 - 1);
    }
    const std::int64_t odd[] = {
        -1,   INT64_MIN, INT64_MAX, INT32_MAX, m.max_tokens() - len, m.max_tokens() - len + 1, std::int64_t{1} << 20,
        -page};
    return odd[b % 8];
}
/// A request: mostly one the pool issued (live or freed, so stale ids are exercised), sometimes
/// one it never issued.
inline request_id decode_request(std::uint8_t b, const pool_model& m) noexcept {
    if (b >= 248 || m.requests.empty()) return request_id{(b % 8u) * 2u, (b % 3u) * 5u};
    return m.requests[b % m.requests.size()].id;
}

// ---- running ----------------------------------------------------------------------------------------

/// Thrown inside `run` when a property fails; never escapes it.
struct property_violation {
    std::string what;
};

/// Decodes and runs one input. With `trace`, the hybrid pool's calls are also recorded to it.
class session {
public:
    explicit session(std::ostream* trace, std::ostream* cache_trace = nullptr) : hybrid_(trace), cache_(cache_trace) {}

    outcome run(std::span<const std::uint8_t> input) {
        outcome out;
        try {
            // Valid starting pools, so that short inputs already exercise requests and tables.
            do_create(full_, 40, 0, 4, 0);
            do_create(swa_, 12, 0, 4, 6);
            do_create(hybrid_, 40, 12, 4, 6);
            do_create(cache_, 40, 12, 4, 6);
            byte_reader in(input);
            while (!in.done()) {
                const std::uint8_t b = in.next();
                if (b >= cache_opcodes) {
                    cache_step(cache_, b - cache_opcodes, in);
                    continue;
                }
                switch (b % 3) {
                    case 0:
                        step(full_, b / 3 % 10, in);
                        break;
                    case 1:
                        step(swa_, b / 3 % 10, in);
                        break;
                    default:
                        step(hybrid_, b / 3 % 10, in);
                        break;
                }
            }
            check_at_end(full_), check_at_end(swa_), check_at_end(hybrid_), check_at_end(cache_);
        } catch (property_violation& v) {
            out.failed_call = counts_.total() - 1;
            out.what = std::move(v.what);
        }
        out.counts = counts_;
        return out;
    }

    /// The host tier's input: every byte is a call on the tier target (`tier_step`), which starts
    /// as 24 GPU pages, 16 host pages, P = 4. Separate from `run`, so old inputs make the same calls.
    outcome run_tier(std::span<const std::uint8_t> input) {
        outcome out;
        try {
            do_tier_create(24, 16, 4);
            byte_reader in(input);
            while (!in.done()) tier_step(in.next() % 16, in);
            check_at_end(tier_);
        } catch (property_violation& v) {
            out.failed_call = counts_.total() - 1;
            out.what = std::move(v.what);
        }
        out.counts = counts_;
        out.host_hit_tokens = host_hit_tokens_ + (tier_.pool ? tier_.state().stats().host_hit_tokens : 0);
        return out;
    }

    /// The three-group hybrid's input: every byte is call `b % 17` on the multi target, as for the
    /// caching hybrid pool (`cache_step`), plus 16: add_committed_request. It starts as 40 full
    /// pages and three groups of 12 (windows 6 and 9, chunks of 8), P = 4.
    outcome run_multi(std::span<const std::uint8_t> input) {
        outcome out;
        try {
            do_multi_create(multi_, 40, {12, 12, 12}, 4, {6, 9, 8});
            byte_reader in(input);
            while (!in.done()) {
                const unsigned opcode = in.next() % 17;
                if (opcode == 16)
                    do_add_committed(multi_, decode_tokens(in.next(), multi_.model, nullptr));
                else
                    cache_step(multi_, opcode, in);
            }
            check_at_end(multi_);
        } catch (property_violation& v) {
            out.failed_call = counts_.total() - 1;
            out.what = std::move(v.what);
        }
        out.counts = counts_;
        return out;
    }

private:
    static constexpr std::uint8_t cache_opcodes = 240;  // bytes 240..255 drive the caching pool
    single_target<full_pool<>> full_;
    single_target<swa_pool<>> swa_;
    hybrid_target<false> hybrid_;
    hybrid_target<true> cache_;
    tier_target tier_;
    multi_target multi_;
    call_counts counts_;
    std::vector<request_id> batch_;
    std::vector<token_id> tokens_;  // scratch: a request's stream tokens

    template <class T>
    [[noreturn]] static void violated(const T&, call c, const std::string& what) {
        throw property_violation{std::string(T::name) + " " + std::string(call_names[static_cast<std::size_t>(c)]) +
                                 ": " + what};
    }
    template <class T>
    static void expect(const T& t, call c, bool holds, const char* what) {
        if (!holds) violated(t, c, what);
    }

    // ---- checking: what every call must leave behind --------------------------------------------
    //
    // A failing call must leave the state digest unchanged (all-or-nothing), so the state is the
    // one already checked after the previous call and nothing else needs checking. A successful
    // mutation of request r is checked at the cost of what it touched (`check_touched`): r's
    // invariants and its agreement with the model in every view, and the pool's O(1) counts. Every
    // `full_check_every` successful mutations of a target, after every pool-wide one (create,
    // reset_cache) and at the end of every input, the target's whole state is checked
    // (`check_state`): check_invariants(), every request against the model, every page's owners. A
    // broken property is therefore still found in the input that breaks it, at most
    // full_check_every mutations of that target later.
    static constexpr std::int64_t full_check_every = 16;  // per target (`since_full_check`)

    // The digest before a call, where its check needs one: a call the model expects to fail. (A
    // call expected to succeed that fails breaks the model check before any digest is compared.)
    template <class T>
    static std::optional<std::uint64_t> digest_if_failing(const T& t, errc_set allowed) {
        if (allowed == 0) return std::nullopt;
        return state_digest(t.state());
    }

    // Counts the call and checks the result against the allowed errors, and all-or-nothing.
    // `touched`: the request a mutation changed, or no_request for a pool-wide call. A const call
    // (`mutating` false) compares its digest in the caller, once for every view it emits through.
    template <class T>
    void settle(const T& t, call c, errc got, errc_set allowed, std::optional<std::uint64_t> digest_before,
                request_id touched, bool mutating = true) {
        const auto i = static_cast<std::size_t>(c);
        (got == errc{} ? counts_.ok[i] : counts_.failed[i]) += 1;
        if (got == errc{} && allowed != 0) violated(t, c, "succeeded where the model expects an error");
        if (got != errc{} && (allowed & bit(got)) == 0)
            violated(t, c, std::string("returned ") + std::string(to_string(got)) + ", not an error the model allows");
        if (!mutating) return;
        if (got != errc{}) {
            if (digest_before && state_digest(t.state()) != *digest_before)
                violated(t, c, "state changed by a failing call");
            return;
        }
        check_touched(t, c, touched);
    }

    // A create's result: the first create of a target (nothing to compare against) must succeed;
    // a later one is settled like any pool-wide call.
    template <class T>
    void settle_create(const T& t, status s, bool had, errc_set allowed, std::optional<std::uint64_t> before,
                       const char* first_must_succeed) {
        if (had) return settle(t, call::create, s.code(), allowed, before, no_request);
        if (!s) violated(t, call::create, first_must_succeed);
        counts_.ok[0] += 1;
        check_state(t, call::create);
    }

    // A const call changed nothing: the digest after equals `before`.
    template <class T>
    static void expect_unchanged(const T& t, call c, std::uint64_t before) {
        if (state_digest(t.state()) != before) violated(t, c, "state changed by a const call");
    }

    // After a successful mutation of `r` (no_request: of the whole pool): r's invariants and r in
    // every view against the model, the pool's counts; or, when due, the whole state.
    template <class T>
    void check_touched(const T& t, call c, request_id r) {
        if (r == no_request || ++t.since_full_check >= full_check_every) return check_state(t, c);
        const request_model* m = t.model.find(r);
        const bool live = m && m->live;
        if (live)
            if (const status s = t.check_request_invariants(r); !s)
                violated(t, c, std::string("invariant: ") + s.err().detail);
        t.for_each_view([&](const auto& v) {
            expect(t, c, v.contains(r) == live, "liveness differs from the model");
            expect(t, c, v.live_requests() == t.model.live_count, "live request count differs");
            const std::int64_t cached = [&] {
                if constexpr (T::caching)
                    return v.cached_pages();
                else
                    return 0;
            }();
            expect(t, c, v.free_pages() + v.used_pages() + cached + 1 == v.size().pages,
                   "free + used + cached + null != pool size");
            if (live) check_request(t, c, v, *m);
        });
    }

    // Pages the view's rule has released at committed length `committed`, by the model.
    template <class T, class V>
    static std::int64_t released(const T& t, const V& v, std::int64_t committed) noexcept {
        return t.model.released(kind_of<V>, t.rule_tokens(v), committed);
    }

    // One live request in one view against the model.
    template <class T, class V>
    static void check_request(const T& t, call c, const V& v, const request_model& m) {
        expect(t, c, v.length_tokens(m.id) == m.length_tokens, "length differs from the model");
        expect(t, c, v.committed_tokens(m.id) == m.committed_tokens, "committed length differs");
        expect(t, c, v.first_live_page(m.id) == released(t, v, m.committed_tokens),
               "released pages differ from the window rule");
        expect(t, c, static_cast<std::int64_t>(v.pages(m.id).size()) == t.model.pages(m.length_tokens),
               "page list length != ceil(length / P)");
    }

    // The whole state once more after the input's last call (which check_touched may have checked
    // only in part).
    template <class T>
    void check_at_end(const T& t) {
        try {
            check_state(t, call::create);
        } catch (property_violation& v) {
            v.what = "at the end of the input: " + v.what;
            throw;
        }
    }

    // Every view agrees with the model: invariants, liveness, lengths, released pages, page counts.
    template <class T>
    void check_state(const T& t, call c) {
        t.since_full_check = 0;
        if (const status s = t.state().check_invariants(); !s)
            violated(t, c, std::string("invariant: ") + s.err().detail);
        t.for_each_view([&](const auto& v) {
            std::int64_t used = 0, live = 0;
            for (const request_model& m : t.model.requests) {
                expect(t, c, v.contains(m.id) == m.live, "liveness differs from the model");
                if (!m.live) continue;
                ++live;
                check_request(t, c, v, m);
                used += t.model.pages(m.length_tokens) - released(t, v, m.committed_tokens);
            }
            expect(t, c, v.live_requests() == live && live == t.model.live_count, "live request count differs");
            if constexpr (T::caching) {
                check_sharing(t, c, v);
            } else {
                expect(t, c, v.used_pages() == used, "pages in use differ from the model's count");
                expect(t, c, v.free_pages() + used + 1 == v.size().pages, "free + used + null != pool size");
            }
        });
    }

    // Prefix reuse: a page's reference count is its owners; pages are shared only by requests that
    // hold the same committed tokens under the same scope at the same index (one user's KV is never
    // read as another's); a keyed full page stores exactly its owners' tokens.
    template <class T, class V>
    void check_sharing(const T& t, call c, const V& v) {
        constexpr attention_kind k = kind_of<V>;
        const std::int64_t page = t.model.page_size_tokens;
        const auto n = static_cast<std::size_t>(v.size().pages);
        std::vector<std::int32_t> owners(n, 0);
        std::vector<const request_model*> first_owner(n, nullptr);
        std::vector<std::int64_t> first_index(n, 0);
        std::int64_t used = 0;
        for (const request_model& m : t.model.requests) {
            if (!m.live) continue;
            const auto list = v.pages(m.id);
            for (std::size_t i = static_cast<std::size_t>(released(t, v, m.committed_tokens)); i < list.size(); ++i) {
                const auto p = static_cast<std::size_t>(list[i].value);
                const auto idx = static_cast<std::int64_t>(i);
                if (owners[p]++ == 0) {
                    ++used, first_owner[p] = &m, first_index[p] = idx;
                    if constexpr (k == attention_kind::full) {
                        if (const auto key = v.key_of(list[i])) {
                            const page_content pc = v.index().content(list[i]);
                            expect(t, c, pc.scope == m.scope, "a keyed page's scope differs from its owner's");
                            expect(t, c, (idx + 1) * page <= m.committed_tokens,
                                   "a keyed page holds uncommitted tokens");
                            for (std::int64_t j = 0; j < page; ++j)
                                expect(t, c,
                                       pc.tokens[static_cast<std::size_t>(j)] == stream_token(m.stream, idx * page + j),
                                       "a keyed page's stored tokens differ from its owner's tokens");
                        }
                    }
                    continue;
                }
                const request_model& o = *first_owner[p];
                expect(t, c, first_index[p] == idx, "a shared page sits at different indices");
                expect(t, c, o.scope == m.scope, "a page shared across scopes (tenants)");
                expect(t, c, (idx + 1) * page <= std::min(o.committed_tokens, m.committed_tokens),
                       "a shared page holds uncommitted tokens");
                for (std::int64_t j = idx * page; j < (idx + 1) * page; ++j)
                    expect(t, c, stream_token(o.stream, j) == stream_token(m.stream, j),
                           "a page shared by requests whose tokens differ");
            }
        }
        for (std::int32_t p = 1; p < v.size().pages; ++p)
            expect(t, c, v.ref_count(page_id{p}) == owners[static_cast<std::size_t>(p)], "reference count != owners");
        expect(t, c, v.used_pages() == used, "pages in use != pages with owners");
        expect(t, c, v.free_pages() + used + v.cached_pages() + 1 == v.size().pages,
               "free + used + cached + null != pool size");
    }

    template <class T>
    void do_create(T& t, std::int32_t pages, std::int32_t swa_pages, std::int32_t page, std::int64_t window) {
        const bool sliding = T::hybrid || std::is_same_v<T, single_target<swa_pool<>>>;
        errc_set allowed = 0;
        if (page < 1) allowed |= bit(errc::invalid_page_size);
        if (pages < 2 || (T::hybrid && swa_pages < 2)) allowed |= bit(errc::invalid_pool_size);
        if (T::caching && std::int64_t{pages} * page > INT32_MAX)
            allowed |= bit(errc::invalid_pool_size);  // the index's tokens
        if (sliding && window < 1) allowed |= bit(errc::invalid_window);
        const bool had = [&] {
            if constexpr (T::hybrid)
                return t.rec.has_pool();
            else
                return t.pool.has_value();
        }();
        if (T::caching && had && too_many_slots(pages, std::array{swa_pages}, page)) return;
        const auto before = had ? digest_if_failing(t, allowed) : std::nullopt;
        const status s = t.create(pages, swa_pages, page, window);
        if (s) t.model = pool_model{page, sliding ? window : 0, {}, {}, 0};
        if (s && T::caching) ++t.disturbed;
        settle_create(t, s, had, allowed, before, "the starting pools must be valid");
    }

    template <class T>
    void step(T& t, unsigned opcode, byte_reader& in) {
        pool_model& m = t.model;
        switch (opcode) {
            case 0: {  // create, possibly with invalid parameters
                if constexpr (tier_like<T>) {
                    return;  // tier_step decodes the tier's own create
                } else if constexpr (multi_like<T>) {
                    const std::int32_t full_pages = decode_pool_size(in.next());
                    std::array<std::int32_t, multi_target::groups> group_pages{};
                    for (std::int32_t& g : group_pages) g = decode_pool_size(in.next());
                    const std::int32_t page = decode_page_size(in.next());
                    std::array<std::int64_t, multi_target::groups> rules{};
                    for (std::int64_t& r : rules) r = decode_window(in.next(), page);
                    return do_multi_create(t, full_pages, group_pages, page, rules);
                } else {
                    const std::int32_t pages = decode_pool_size(in.next());
                    const std::int32_t swa_pages = T::hybrid ? decode_pool_size(in.next()) : 0;
                    const std::int32_t page = decode_page_size(in.next());
                    do_create(t, pages, swa_pages, page, decode_window(in.next(), page));
                    return;
                }
            }
            case 1:
                do_add(t);
                return;
            case 2: {
                const request_id r = decode_request(in.next(), m);
                return do_extend(t, r, decode_tokens(in.next(), m, m.find(r)));
            }
            case 3: {
                const request_id r = decode_request(in.next(), m);
                return do_commit(t, r, decode_tokens(in.next(), m, m.find(r)));
            }
            case 4: {  // a speculative step: 1 token + up to 7 drafts in flight, then some accepted
                const request_id r = decode_request(in.next(), m);
                const std::int64_t in_flight = 1 + in.next() % 8;
                do_extend(t, r, in_flight);
                return do_commit(t, r, in.next() % (in_flight + 2));  // in_flight + 1: one too many
            }
            case 5: {
                const request_id r = decode_request(in.next(), m);
                return do_truncate(t, r, decode_tokens(in.next(), m, m.find(r)));
            }
            case 6:
                return do_free(t, decode_request(in.next(), m));
            case 7:
                read_batch(m, in);
                return do_dense(t, in.next());
            case 8:
                read_batch(m, in);
                return do_csr(t, in.next());
            default:
                read_batch(m, in);
                return do_slots(t, in.next());
        }
    }

    // ---- prefix reuse: the caching hybrid pool ------------------------------------------------------

    // Evictions, truncations, resets and new pools: what may take a request's cached prefix away.
    std::int64_t host_hit_tokens_ = 0;  // of the tier pools replaced by a create
    template <class T>
    static std::int64_t disturbances_of(const T& t) {
        return t.disturbed + t.evicted_pages();
    }

    // The first `n` tokens of m's stream (n clamped to what a pool can hold), in tokens_.
    std::span<const token_id> stream_of(const request_model* m, std::int64_t n) {
        n = std::clamp<std::int64_t>(n, 0, std::int64_t{1} << 16);
        tokens_.resize(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) tokens_[static_cast<std::size_t>(i)] = stream_token(m ? m->stream : 0, i);
        return tokens_;
    }
    // Token-count variants for keying calls: the new committed length, its whole pages, one short
    // of them (tokens_too_short), or a few more.
    static std::int64_t keying_tokens(std::uint8_t v, std::int64_t committed, std::int64_t page) {
        const std::int64_t whole = committed / page * page;
        switch (v % 4) {
            case 0:
                return committed;
            case 1:
                return whole;
            case 2:
                return std::max<std::int64_t>(0, whole - 1);  // no tokens at all when no whole page
            default:
                return committed + 5;
        }
    }

    template <class T>
    void cache_step(T& t, unsigned opcode, byte_reader& in) {
        pool_model& m = t.model;
        switch (opcode) {
            case 0:
                return step(t, 0, in);  // create
            case 1:
            case 15: {  // add under a scope (tenant 0 or 1), with a stream
                const std::uint8_t b = opcode == 1 ? in.next() : 0;
                do_add(t, cache_scope{b % 2u, 0}, static_cast<std::uint8_t>(b / 2));
                return;
            }
            case 2: {
                const request_id r = decode_request(in.next(), m);
                return do_attach(t, r, in.next() % 64);
            }
            case 3:
                return step(t, 2, in);  // extend
            case 4: {
                const request_id r = decode_request(in.next(), m);
                const std::int64_t n = decode_tokens(in.next(), m, m.find(r));
                return do_commit_keyed(t, r, n, in.next());
            }
            case 5:
                return step(t, 3, in);  // a plain commit
            case 6: {                   // a speculative step whose commit keys its pages
                const request_id r = decode_request(in.next(), m);
                const std::int64_t in_flight = 1 + in.next() % 8;
                do_extend(t, r, in_flight);
                return do_commit_keyed(t, r, in.next() % (in_flight + 2), in.next());
            }
            case 7: {
                const request_id r = decode_request(in.next(), m);
                return do_cache(t, r, in.next());
            }
            case 8: {
                const request_id r = decode_request(in.next(), m);
                return do_preempt(t, r, in.next());
            }
            case 9:
                return step(t, 5, in);  // truncate
            case 10:
                return step(t, 6, in);  // free
            case 11:
                return do_reset(t);
            case 12:
                return step(t, 7, in);  // tables
            case 13:
                return step(t, 8, in);
            default:
                return step(t, 9, in);
        }
    }

    template <class T>
    void do_attach(T& t, request_id r, std::int64_t n_tokens) {
        request_model* m = t.model.find(r);
        errc_set allowed = 0;
        if (!m || !m->live)
            allowed = bit(errc::unknown_request);
        else if (m->length_tokens != 0)
            allowed = bit(errc::request_not_empty);
        const auto tokens = stream_of(m, n_tokens);
        const std::int64_t predicted = m && m->live ? t.state().lookup(tokens, m->scope) : 0;
        const std::int64_t hits_before = t.state().full().stats().hit_tokens;
        const auto before = digest_if_failing(t, allowed);
        const auto hit = t.api().attach_prefix(r, tokens);
        if (hit) m->length_tokens = m->committed_tokens = hit.value();
        settle(t, call::attach, hit.code(), allowed, before, r);
        if (!hit) return;
        const std::int64_t page = t.model.page_size_tokens;
        expect(t, call::attach, hit.value() % page == 0 && hit.value() >= 0, "a hit of a partial page");
        expect(t, call::attach, n_tokens == 0 ? hit.value() == 0 : hit.value() <= (n_tokens - 1) / page * page,
               "a hit includes the last token");
        expect(t, call::attach, hit.value() == predicted, "attach_prefix differs from lookup just before");
        expect(t, call::attach, t.state().full().stats().hit_tokens == hits_before + hit.value(),
               "hit tokens not counted");
    }

    // Every call that keys a request's whole pages up to `keyed_len` tokens (keyed commit,
    // cache_committed, preempt) gets `variant`'s token count, and fails when it is short.
    template <class T>
    errc_set keying_errors(const T& t, std::uint8_t variant, std::int64_t keyed_len, std::int64_t& n_tokens) const {
        const std::int64_t page = t.model.page_size_tokens;
        n_tokens = keying_tokens(variant, keyed_len, page);
        return n_tokens < keyed_len / page * page ? bit(errc::tokens_too_short) : errc_set{0};
    }

    template <class T>
    void do_commit_keyed(T& t, request_id r, std::int64_t n, std::uint8_t variant) {
        request_model* m = t.model.find(r);
        errc_set allowed = 0;
        std::int64_t n_tokens = 0;
        if (!m || !m->live)
            allowed = bit(errc::unknown_request);
        else if (n < 0)
            allowed = bit(errc::negative_length);
        else if (n > m->length_tokens - m->committed_tokens)
            allowed = bit(errc::commit_exceeds_reserved);
        else
            allowed = keying_errors(t, variant, m->committed_tokens + n, n_tokens);
        if constexpr (tier_like<T>) {
            if (allowed == 0) forward_pass(t, *m, n);  // the K/V of the tokens it commits
        }
        const auto tokens = stream_of(m, n_tokens);
        const auto before = digest_if_failing(t, allowed);
        const status s = t.api().commit(r, n, tokens);
        if (s) m->committed_tokens += n, m->length_tokens = m->committed_tokens;
        settle(t, call::commit_keyed, s.code(), allowed, before, r);
    }

    template <class T>
    void do_cache(T& t, request_id r, std::uint8_t variant) {
        request_model* m = t.model.find(r);
        errc_set allowed = 0;
        std::int64_t n_tokens = 0;
        if (!m || !m->live)
            allowed = bit(errc::unknown_request);
        else
            allowed = keying_errors(t, variant, m->committed_tokens, n_tokens);
        const auto tokens = stream_of(m, n_tokens);
        const auto before = digest_if_failing(t, allowed);
        const status s = t.api().cache_committed(r, tokens);
        settle(t, call::cache, s.code(), allowed, before, r);
    }

    // Preempts r, then resumes it as a new request (same scope, same stream) that attaches its
    // committed tokens plus the next one: it hits every committed whole page unless something
    // (eviction, truncation, a plain commit that let SWA pages go) may have taken them away.
    template <class T>
    void do_preempt(T& t, request_id r, std::uint8_t variant) {
        request_model* m = t.model.find(r);
        errc_set allowed = 0;
        std::int64_t n_tokens = 0;
        if (!m || !m->live)
            allowed = bit(errc::unknown_request);
        else
            allowed = keying_errors(t, variant, m->committed_tokens, n_tokens);
        const auto tokens = stream_of(m, n_tokens);
        const auto before = digest_if_failing(t, allowed);
        const status s = t.api().preempt(r, tokens);
        if (s) t.model.retire(*m);
        settle(t, call::preempt, s.code(), allowed, before, r);
        if (!s) return;
        const request_model was = *m;  // do_add may reallocate the model's vector
        const bool calm = was.keyed_all && disturbances_of(t) == was.calm_since;
        const request_id again = do_add(t, was.scope, was.stream);
        std::int64_t hit = 0;
        if constexpr (tier_like<T>) {
            hit = do_tier_attach(t, again, was.committed_tokens + 1);
        } else {
            const std::int64_t hits_before = t.state().full().stats().hit_tokens;
            do_attach(t, again, was.committed_tokens + 1);
            hit = t.state().full().stats().hit_tokens - hits_before;
        }
        const std::int64_t page = t.model.page_size_tokens;
        counts_.ok[static_cast<std::size_t>(call::resume)] += calm;
        if (calm)
            expect(t, call::resume, hit == was.committed_tokens / page * page,
                   "a resumed request missed its own prefix");
        t.model.find(again)->keyed_all = was.keyed_all;
    }

    template <class T>
    void do_reset(T& t) {
        errc_set allowed = 0;
        for (const request_model& m : t.model.requests)
            if (m.live && m.length_tokens > 0) allowed = bit(errc::cache_in_use);
        const auto before = digest_if_failing(t, allowed);
        const status s = t.api().reset_cache();
        settle(t, call::reset, s.code(), allowed, before, no_request);
        if (s) {
            ++t.disturbed;
            t.for_each_view(
                [&](const auto& v) { expect(t, call::reset, v.cached_pages() == 0, "reset_cache left cached pages"); });
        }
    }

    // ---- the host tier: a tiered full caching pool, its plans executed on K/V values -------------------

    // The K/V value of token i of m's stream: a hash of the tenant and every token up to i, so a page
    // loaded wrong, not loaded, overwritten before its write-back or hit after another prefix reads
    // back a wrong value. Memoized per (tenant bit, stream).
    std::vector<std::uint64_t> kv_memo_[2][256];
    std::uint64_t kv_value(const request_model& m, std::int64_t i) {
        std::vector<std::uint64_t>& v = kv_memo_[m.scope.tenant_salt % 2][m.stream];
        while (static_cast<std::int64_t>(v.size()) <= i) {
            std::uint64_t h = v.empty() ? (m.scope.tenant_salt % 2) * 0x9e3779b97f4a7c15ULL + 1 : v.back();
            h ^= static_cast<std::uint64_t>(stream_token(m.stream, static_cast<std::int64_t>(v.size()))) +
                 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
            v.push_back(h * 0xff51afd7ed558ccdULL);
        }
        return v[static_cast<std::size_t>(i)];
    }

    void tier_step(unsigned opcode, byte_reader& in) {
        tier_target& t = tier_;
        pool_model& m = t.model;
        switch (opcode) {
            case 0: {  // create: GPU pages, host pages, page size
                const std::int32_t gpu = decode_pool_size(in.next());
                const std::int32_t host = decode_pool_size(in.next());
                return do_tier_create(gpu, host, decode_page_size(in.next()));
            }
            case 1:
            case 15: {  // add under a scope (tenant 0 or 1), with a stream
                const std::uint8_t b = opcode == 1 ? in.next() : 0;
                do_add(t, cache_scope{b % 2u, 0}, static_cast<std::uint8_t>(b / 2));
                return;
            }
            case 2: {
                const request_id r = decode_request(in.next(), m);
                (void)do_tier_attach(t, r, in.next() % 64);
                return;
            }
            case 3:
                return step(t, 2, in);  // extend
            case 4: {                   // a forward pass, then a keyed commit
                const request_id r = decode_request(in.next(), m);
                const std::int64_t n = decode_tokens(in.next(), m, m.find(r));
                return do_commit_keyed(t, r, n, in.next());
            }
            case 5: {  // a speculative step whose commit keys its pages
                const request_id r = decode_request(in.next(), m);
                const std::int64_t in_flight = 1 + in.next() % 8;
                do_extend(t, r, in_flight);
                return do_commit_keyed(t, r, in.next() % (in_flight + 2), in.next());
            }
            case 6:
                return step(t, 5, in);  // truncate
            case 7:
                return step(t, 6, in);  // free
            case 8: {
                const request_id r = decode_request(in.next(), m);
                return do_preempt(t, r, in.next());
            }
            case 9:
                return do_take(t);
            case 10:
                return do_complete(t, in.next());
            case 11:
                return do_tier_reset(t);
            case 12:
                return step(t, 7, in);  // tables of the GPU pool
            case 13:
                return step(t, 8, in);
            default:
                return step(t, 9, in);
        }
    }

    // A caching pool's digest, sharing check and index cost its token slots (the full pool's index
    // stores every page's tokens, allocated when the full pool is made, before the other pools'
    // parameters are checked): a create whose full pool is valid and whose pools of a valid size
    // hold more than max_cache_tokens slots is skipped, so pools stay small enough to run dry and
    // every check stays cheap. Every other invalid create still runs.
    static bool too_many_slots(std::int32_t full_pages, std::span<const std::int32_t> other_pages, std::int32_t page) {
        if (page < 1 || full_pages < 2 || std::int64_t{full_pages} * page > INT32_MAX) return false;
        std::int64_t pages = full_pages;
        for (std::int32_t p : other_pages) pages += std::max(0, p);
        return pages * page > max_cache_tokens;
    }

    // ---- the three-group hybrid ------------------------------------------------------------------------

    void do_multi_create(multi_target& t, std::int32_t full_pages,
                         std::array<std::int32_t, multi_target::groups> groups, std::int32_t page,
                         std::array<std::int64_t, multi_target::groups> rules) {
        errc_set allowed = 0;
        if (page < 1) allowed |= bit(errc::invalid_page_size);
        if (full_pages < 2 || std::any_of(groups.begin(), groups.end(), [](std::int32_t g) { return g < 2; }))
            allowed |= bit(errc::invalid_pool_size);
        if (std::int64_t{full_pages} * page > INT32_MAX) allowed |= bit(errc::invalid_pool_size);  // the index's tokens
        if (rules[0] < 1 || rules[1] < 1) allowed |= bit(errc::invalid_window);
        if (rules[2] < 1) allowed |= bit(errc::invalid_chunk);
        const bool had = t.pool.has_value();
        if (had && too_many_slots(full_pages, groups, page)) return;
        const auto before = had ? digest_if_failing(t, allowed) : std::nullopt;
        const status s = t.create(full_pages, groups, page, rules);
        if (s) t.model = pool_model{page, 0, {}, {}, 0}, ++t.disturbed;
        settle_create(t, s, had, allowed, before, "the starting pool must be valid");
    }

    // A request holding n committed tokens in every pool, as if prefilled here: full pages for all
    // of them, in each group the pages its rule still lets the next query see; nothing keyed.
    template <class T>
    void do_add_committed(T& t, std::int64_t n) {
        errc_set allowed = 0;
        if (n < 0)
            allowed = bit(errc::negative_length);
        else if (n > t.model.max_tokens())
            allowed = bit(errc::length_overflow);
        else
            t.for_each_view([&](const auto& v) {
                if (t.model.pages(n) - released(t, v, n) > v.available_pages())
                    allowed |= bit(out_of_pages(kind_of<decltype(v)>));
            });
        const auto before = digest_if_failing(t, allowed);
        const auto r = t.api().add_committed_request(n);
        const bool fresh = !r || !t.model.find(r.value());
        if (r && fresh)
            t.model.issue(request_model{r.value(), n, n, true, 0, cache_scope{}, false, disturbances_of(t)});
        settle(t, call::add_committed, r.code(), allowed, before, r ? r.value() : no_request);
        expect(t, call::add_committed, fresh, "an id was issued twice");
    }

    void do_tier_create(std::int32_t gpu_pages, std::int32_t host_pages, std::int32_t page) {
        tier_target& t = tier_;
        errc_set allowed = 0;
        if (page < 1) allowed |= bit(errc::invalid_page_size);
        if (gpu_pages < 2 || host_pages < 2) allowed |= bit(errc::invalid_pool_size);
        if (std::int64_t{gpu_pages} * page > INT32_MAX) allowed |= bit(errc::invalid_pool_size);  // the index's tokens
        // The harness mirrors both tiers' K/V values: a valid create too large for that is skipped.
        if (allowed == 0 && (std::int64_t{gpu_pages} + host_pages) * page > max_entries) return;
        const bool had = t.pool.has_value();
        const auto before = had ? digest_if_failing(t, allowed) : std::nullopt;
        const std::int64_t host_hits = t.pool ? t.state().stats().host_hit_tokens : 0;
        const status s = t.create(gpu_pages, host_pages, page);
        if (s) t.model = pool_model{page, 0, {}, {}, 0}, ++t.disturbed, host_hit_tokens_ += host_hits;
        settle_create(t, s, had, allowed, before, "the starting pool must be valid");
    }

    // attach_prefix over both tiers; returns the tokens attached (0 when it fails).
    std::int64_t do_tier_attach(tier_target& t, request_id r, std::int64_t n_tokens) {
        request_model* m = t.model.find(r);
        errc_set allowed = 0;
        if (!m || !m->live)
            allowed = bit(errc::unknown_request);
        else if (m->length_tokens != 0)
            allowed = bit(errc::request_not_empty);
        const auto tokens = stream_of(m, n_tokens);
        const tier_hit predicted = m && m->live ? t.state().lookup(tokens, m->scope) : tier_hit{};
        const std::int64_t host_hits_before = t.state().stats().host_hit_tokens;
        const auto before = digest_if_failing(t, allowed);
        const auto hit = t.api().attach_prefix(r, tokens);
        if (hit) m->length_tokens = m->committed_tokens = hit.value().tokens();
        settle(t, call::attach, hit.code(), allowed, before, r);
        if (!hit) return 0;
        const tier_hit h = hit.value();
        const std::int64_t page = t.model.page_size_tokens;
        expect(t, call::attach, h.gpu_tokens % page == 0 && h.host_tokens % page == 0 && h.host_tokens >= 0,
               "a hit of a partial page");
        expect(t, call::attach, n_tokens == 0 ? h.tokens() == 0 : h.tokens() <= (n_tokens - 1) / page * page,
               "a hit includes the last token");
        expect(t, call::attach, h.gpu_tokens == predicted.gpu_tokens, "the GPU part differs from lookup just before");
        expect(t, call::attach,
               h.host_tokens == predicted.host_tokens ||
                   (h.host_tokens < predicted.host_tokens && t.state().gpu().available_pages() == 0),
               "the host part was cut although GPU pages were left");
        expect(t, call::attach, t.state().stats().host_hit_tokens == host_hits_before + h.host_tokens,
               "host hit tokens not counted");
        const auto pages = t.state().gpu().pages(r);
        for (std::int64_t i = h.gpu_tokens / page; i < h.tokens() / page; ++i)
            expect(t, call::attach, t.state().loading(pages[static_cast<std::size_t>(i)]),
                   "a loaded page is readable before its plan");
        if (h.host_tokens > 0)
            expect(t, call::attach, !t.state().request_ready(r), "a request with loads in flight is ready");
        return h.tokens();
    }

    // take_plan, then the plan executed on the K/V values (write-backs, then loads); every live
    // request's committed tokens must then read back their own values.
    void do_take(tier_target& t) {
        const std::int64_t planned = t.state().planned_copies();
        const copy_plan& plan = t.api().take_plan();
        counts_.ok[static_cast<std::size_t>(call::take)] += 1;
        expect(t, call::take, plan.sequence == ++t.taken, "plans numbered out of order");
        expect(t, call::take, copy_plan::pages(plan.write_backs) + copy_plan::pages(plan.loads) == planned,
               "the plan's pages differ from planned_copies()");
        expect(t, call::take, t.state().planned_copies() == 0, "copies left planned after take_plan");
        std::vector<std::uint8_t> host_dst(static_cast<std::size_t>(t.state().host().size().pages), 0);
        std::vector<std::uint8_t> gpu_dst(static_cast<std::size_t>(t.state().gpu().size().pages), 0);
        for (const copy_run& r : plan.write_backs)
            for (std::int32_t i = 0; i < r.count; ++i) {
                expect(t, call::take, t.state().host().state(page_id{r.dst + i}) == host_page_state::writing,
                       "a write-back into a host page not writing");
                expect(t, call::take, host_dst[static_cast<std::size_t>(r.dst + i)]++ == 0,
                       "a host page written twice in a plan");
            }
        for (const copy_run& r : plan.loads)
            for (std::int32_t i = 0; i < r.count; ++i) {
                expect(t, call::take, t.state().loading(page_id{r.dst + i}), "a load into a GPU page not loading");
                expect(t, call::take, gpu_dst[static_cast<std::size_t>(r.dst + i)]++ == 0,
                       "a GPU page loaded twice in a plan");
            }
        t.execute(plan);
        t.in_flight.push_back(plan.sequence);
        check_state(t, call::take);
        const std::int64_t page = t.model.page_size_tokens;
        for (const request_model& rm : t.model.requests) {
            if (!rm.live) continue;
            const auto list = t.state().gpu().pages(rm.id);
            for (std::int64_t tok = 0; tok < rm.committed_tokens; ++tok) {
                const auto slot =
                    static_cast<std::size_t>(list[static_cast<std::size_t>(tok / page)].value * page + tok % page);
                expect(t, call::take, t.gpu_kv[slot] == kv_value(rm, tok),
                       "a committed token reads back another token's K/V");
            }
        }
    }

    // The forward pass over m's next n tokens: the step's copies first (the plan contract), then
    // the tokens' K/V values into m's pages.
    void forward_pass(tier_target& t, const request_model& m, std::int64_t n) {
        do_take(t);
        const std::int64_t page = t.model.page_size_tokens;
        const auto list = t.state().gpu().pages(m.id);
        for (std::int64_t tok = m.committed_tokens; tok < m.committed_tokens + n; ++tok)
            t.gpu_kv[static_cast<std::size_t>(list[static_cast<std::size_t>(tok / page)].value * page + tok % page)] =
                kv_value(m, tok);
    }

    // complete(): the oldest plan in flight (variant 0), one never taken (1), or the newest (2,
    // which succeeds only when it is also the oldest).
    void do_complete(tier_target& t, std::uint8_t variant) {
        copy_plan which;
        bool should = false;
        switch (variant % 3) {
            case 0:
                which.sequence = t.in_flight.empty() ? 0 : t.in_flight.front(), should = !t.in_flight.empty();
                break;
            case 1:
                which.sequence = t.taken + 1;
                break;
            default:
                which.sequence = t.in_flight.empty() ? t.taken : t.in_flight.back(), should = t.in_flight.size() == 1;
                break;
        }
        const std::uint64_t before = state_digest(t.state());
        const bool done = t.api().complete(which);
        (done ? counts_.ok : counts_.failed)[static_cast<std::size_t>(call::complete)] += 1;
        if (done != should)
            violated(t, call::complete,
                     done ? "completed a plan that is not the oldest in flight" : "refused the oldest plan");
        if (done)
            t.in_flight.erase(t.in_flight.begin());
        else if (state_digest(t.state()) != before)
            violated(t, call::complete, "state changed by a refused complete");
        check_state(t, call::complete);
    }

    void do_tier_reset(tier_target& t) {
        errc_set allowed = 0;
        for (const request_model& m : t.model.requests)
            if (m.live && m.length_tokens > 0) allowed = bit(errc::cache_in_use);
        if (t.state().planned_copies() > 0 || t.state().plans_in_flight() > 0) allowed = bit(errc::cache_in_use);
        const auto before = digest_if_failing(t, allowed);
        const status s = t.api().reset_cache();
        settle(t, call::reset, s.code(), allowed, before, no_request);
        if (s) {
            ++t.disturbed;
            expect(t, call::reset,
                   t.state().gpu().cached_pages() == 0 &&
                       t.state().host().free_pages() + 1 == t.state().host().size().pages,
                   "reset_cache left pages in a tier");
        }
    }

    void read_batch(const pool_model& m, byte_reader& in) {
        batch_.clear();
        for (int n = in.next() % 6; n > 0; --n) batch_.push_back(decode_request(in.next(), m));
    }

    template <class T>
    request_id do_add(T& t, cache_scope scope = {}, std::uint8_t stream = 0) {
        const auto r = [&] {
            if constexpr (T::caching)
                return t.api().add_request(scope);
            else
                return t.api().add_request();
        }();
        const bool fresh = !r || !t.model.find(r.value());
        if (r && fresh) t.model.issue(request_model{r.value(), 0, 0, true, stream, scope, true, disturbances_of(t)});
        settle(t, call::add, r.code(), 0, std::nullopt, r ? r.value() : no_request);
        expect(t, call::add, fresh, "an id was issued twice");
        return r ? r.value() : request_id{};
    }

    static constexpr errc out_of_pages(attention_kind view) noexcept {
        switch (view) {
            case attention_kind::full:
                return errc::out_of_full_pages;
            case attention_kind::sliding:
                return errc::out_of_swa_pages;
            default:
                return errc::out_of_chunked_pages;
        }
    }

    template <class T>
    void do_extend(T& t, request_id r, std::int64_t n) {
        request_model* m = t.model.find(r);
        errc_set allowed = 0;
        if (!m || !m->live)
            allowed = bit(errc::unknown_request);
        else if (n < 0)
            allowed = bit(errc::negative_length);
        else if (n > t.model.max_tokens() - m->length_tokens)
            allowed = bit(errc::length_overflow);
        else {
            const std::int64_t need = t.model.pages(m->length_tokens + n) - t.model.pages(m->length_tokens);
            t.for_each_view([&](const auto& v) {
                if (need > (T::caching ? v.available_pages() : v.free_pages()))
                    allowed |= bit(out_of_pages(kind_of<decltype(v)>));
            });
        }
        const auto before = digest_if_failing(t, allowed);
        const status s = t.api().extend(r, n);
        if (s) m->length_tokens += n;
        settle(t, call::extend, s.code(), allowed, before, r);
    }

    template <class T>
    void do_commit(T& t, request_id r, std::int64_t n) {
        request_model* m = t.model.find(r);
        errc_set allowed = 0;
        if (!m || !m->live)
            allowed = bit(errc::unknown_request);
        else if (n < 0)
            allowed = bit(errc::negative_length);
        else if (n > m->length_tokens - m->committed_tokens)
            allowed = bit(errc::commit_exceeds_reserved);
        const auto before = digest_if_failing(t, allowed);
        const status s = t.api().commit(r, n);
        if (s) m->committed_tokens += n, m->length_tokens = m->committed_tokens, m->keyed_all = false;
        settle(t, call::commit, s.code(), allowed, before, r);
    }

    template <class T>
    void do_truncate(T& t, request_id r, std::int64_t n) {
        request_model* m = t.model.find(r);
        errc_set allowed = 0;
        if (!m || !m->live)
            allowed = bit(errc::unknown_request);
        else if (n < 0)
            allowed = bit(errc::negative_length);
        else if (n > m->length_tokens)
            allowed = bit(errc::truncate_past_length);
        else {
            const std::int64_t committed = std::min(m->committed_tokens, n);
            t.for_each_view([&](const auto& v) {
                if (released(t, v, committed) < released(t, v, m->committed_tokens))
                    allowed |= bit(errc::window_already_released);
                const std::int64_t partial = n / t.model.page_size_tokens;
                if (T::caching && n % t.model.page_size_tokens != 0 && partial < t.model.pages(m->length_tokens) &&
                    partial >= released(t, v, m->committed_tokens) &&
                    v.ref_count(v.pages(r)[static_cast<std::size_t>(partial)]) > 1)
                    allowed |= bit(errc::truncate_into_shared_page);
            });
        }
        const auto before = digest_if_failing(t, allowed);
        const status s = t.api().truncate(r, n);
        if (s) m->length_tokens = n, m->committed_tokens = std::min(m->committed_tokens, n);
        if (s && T::caching) ++t.disturbed;  // it may unkey pages other requests chain through
        settle(t, call::truncate, s.code(), allowed, before, r);
    }

    template <class T>
    void do_free(T& t, request_id r) {
        request_model* m = t.model.find(r);
        const errc_set allowed = (!m || !m->live) ? bit(errc::unknown_request) : 0;
        const auto before = digest_if_failing(t, allowed);
        const status s = t.api().free_request(r);
        if (s) t.model.retire(*m);
        settle(t, call::free, s.code(), allowed, before, r);
    }

    // ---- tables -------------------------------------------------------------------------------------

    static constexpr std::int32_t sentinel = -0x3c3c3c3d;
    static constexpr std::size_t guard = 4;  // sentinel entries past every buffer's capacity
    static constexpr std::int64_t max_entries = std::int64_t{1} << 18;
    static constexpr std::int64_t max_cache_tokens = std::int64_t{1} << 12;
    static constexpr std::size_t max_views = 4;  // the multi-group target: full + 3 groups

    // Pages of distinct requests in one table must never coincide: that is one user's KV read as
    // another's. `owner` is indexed by page; duplicate ids in a batch are the same request.
    struct ownership {
        std::vector<request_id> owner;
        std::vector<std::uint8_t> seen;
        explicit ownership(std::int32_t pages) : owner(static_cast<std::size_t>(pages)), seen(owner.size(), 0) {}
        bool claim(std::int64_t page, request_id r) {
            auto i = static_cast<std::size_t>(page);
            if (seen[i] && owner[i] != r) return false;
            seen[i] = 1, owner[i] = r;
            return true;
        }
    };

    template <class V>
    static bool valid_page(const V& v, std::int64_t p) noexcept {
        return p >= 1 && p < v.size().pages;
    }

    template <class T>
    void do_dense(T& t, std::uint8_t variant) {
        pool_model& m = t.model;
        const auto batch_size = static_cast<std::int64_t>(batch_.size());
        std::int64_t widest = 0;
        for (request_id r : batch_)
            if (m.live(r)) widest = std::max(widest, m.pages(m.find(r)->length_tokens));
        std::int64_t row = widest, cap = 0;
        switch (variant % 6) {
            case 1:
                row += 1 + variant / 6 % 3;
                break;  // wider rows than needed
            case 2:
                row = std::max<std::int64_t>(0, row - 1);
                break;  // a row too short
            case 5:
                row = variant & 64 ? INT64_MIN : -1;
                break;  // negative row width
            default:
                break;
        }
        cap = row >= 0 ? batch_size * row : variant % 8;
        if (variant % 6 == 3 && cap > 0) cap -= 1;                                         // one entry short
        if (variant % 6 == 4 && batch_size > 0 && row >= 0) cap = (batch_size - 1) * row;  // a row short
        if (cap > max_entries) return;
        errc_set allowed = 0;
        if (row < 0 || batch_size * row > cap) allowed |= bit(errc::buffer_too_small);
        for (request_id r : batch_) {
            if (!m.live(r))
                allowed |= bit(errc::unknown_request);
            else if (m.pages(m.find(r)->length_tokens) > row)
                allowed |= bit(errc::row_too_short);
        }
        const std::uint64_t before = state_digest(t.state());
        t.for_each_view([&](const auto& v) {
            std::vector<std::int32_t> buf(static_cast<std::size_t>(cap) + guard, sentinel);
            const status s = t.dense(v, batch_, std::span(buf).first(static_cast<std::size_t>(cap)), row);
            settle(t, call::dense, s.code(), allowed, std::nullopt, no_request, false);
            std::size_t written = 0;
            if (s) {
                ownership own(v.size().pages);
                for (std::size_t b = 0; b < batch_.size(); ++b) {
                    const request_model& rm = *m.find(batch_[b]);
                    const std::int64_t n = m.pages(rm.length_tokens), gone = released(t, v, rm.committed_tokens);
                    const std::int32_t* e = buf.data() + b * static_cast<std::size_t>(row);
                    for (std::int64_t i = 0; i < row; ++i) {
                        const std::int32_t p = e[i];
                        if (i < gone || i >= n)
                            expect(t, call::dense, p == null_page.value, "entry should be the null page");
                        else {
                            expect(t, call::dense, valid_page(v, p), "entry outside the pool");
                            expect(t, call::dense, p == v.pages(rm.id)[static_cast<std::size_t>(i)].value,
                                   "entry differs from the request's page list");
                            expect(t, call::dense, T::caching || own.claim(p, rm.id), "two requests share a page");
                        }
                    }
                }
                written = static_cast<std::size_t>(batch_size * row);
            }
            expect(t, call::dense,
                   std::all_of(buf.begin() + static_cast<std::ptrdiff_t>(written), buf.end(),
                               [](std::int32_t x) { return x == sentinel; }),
                   "wrote past the table it returned (or wrote while failing)");
        });
        expect_unchanged(t, call::dense, before);
    }

    template <class T>
    void do_csr(T& t, std::uint8_t variant) {
        pool_model& m = t.model;
        const std::size_t batch_size = batch_.size();
        const std::uint64_t before = state_digest(t.state());
        t.for_each_view([&](const auto& v) {
            std::int64_t nnz = 0;
            bool all_live = true;
            for (request_id r : batch_) {
                if (!m.live(r)) {
                    all_live = false;
                    continue;
                }
                const request_model& rm = *m.find(r);
                nnz += m.pages(rm.length_tokens) - released(t, v, rm.committed_tokens);
            }
            if (nnz > max_entries) return;
            std::size_t caps[3] = {batch_size + 1, static_cast<std::size_t>(nnz), batch_size};
            switch (variant % 5) {
                case 1:
                    caps[0] -= 1;
                    break;  // more requests than indptr rows
                case 2:
                    caps[1] -= caps[1] > 0 ? 1 : 0;
                    break;  // indices one short
                case 3:
                    caps[2] -= caps[2] > 0 ? 1 : 0;
                    break;  // last_page_len one short
                case 4:
                    for (std::size_t& c : caps) c += 1 + variant / 5 % 3;
                    break;
                default:
                    break;
            }
            errc_set allowed = 0;
            if (caps[0] < batch_size + 1 || caps[2] < batch_size) allowed |= bit(errc::buffer_too_small);
            if (!all_live)
                allowed |= bit(errc::unknown_request);
            else if (static_cast<std::size_t>(nnz) > caps[1])
                allowed |= bit(errc::buffer_too_small);
            std::vector<std::int32_t> bufs[3];
            for (std::size_t i = 0; i < 3; ++i) bufs[i].assign(caps[i] + guard, sentinel);
            const csr_table_out out{std::span(bufs[0]).first(caps[0]), std::span(bufs[1]).first(caps[1]),
                                    std::span(bufs[2]).first(caps[2])};
            const auto n = t.csr(v, batch_, out);
            settle(t, call::csr, n.code(), allowed, std::nullopt, no_request, false);
            std::size_t written[3] = {0, 0, 0};
            if (n) {
                expect(t, call::csr, n.value() == nnz, "nnz differs from the in-window page count");
                expect(t, call::csr, bufs[0][0] == 0, "indptr[0] != 0");
                ownership own(v.size().pages);
                const std::int64_t page = m.page_size_tokens;
                for (std::size_t b = 0; b < batch_size; ++b) {
                    const request_model& rm = *m.find(batch_[b]);
                    const std::int64_t gone = released(t, v, rm.committed_tokens);
                    const std::int64_t rows = m.pages(rm.length_tokens) - gone;
                    expect(t, call::csr, bufs[0][b + 1] - bufs[0][b] == rows, "row length != in-window pages");
                    for (std::int64_t j = 0; j < rows; ++j) {
                        const std::int32_t p = bufs[1][static_cast<std::size_t>(bufs[0][b] + j)];
                        expect(t, call::csr, valid_page(v, p), "index outside the pool (or a null page)");
                        expect(t, call::csr, p == v.pages(rm.id)[static_cast<std::size_t>(gone + j)].value,
                               "index differs from the request's page list");
                        expect(t, call::csr, T::caching || own.claim(p, rm.id), "two requests share a page");
                    }
                    const std::int64_t len = rm.length_tokens, last = bufs[2][b];
                    expect(t, call::csr, last == (rows == 0 ? 0 : (len - 1) % page + 1),
                           "last_page_len wrong");  // empty row: 0
                    // The length a kernel derives from the row spans exactly the tokens from the first
                    // listed page on, so every query-key distance, hence the window mask, is unchanged.
                    if (rows > 0)
                        expect(t, call::csr, (rows - 1) * page + last == len - gone * page, "derived kv length wrong");
                    else
                        expect(t, call::csr, len == gone * page, "an empty row for a request with live tokens");
                }
                written[0] = batch_size + 1, written[1] = static_cast<std::size_t>(nnz), written[2] = batch_size;
            }
            for (std::size_t i = 0; i < 3; ++i)
                expect(t, call::csr,
                       std::all_of(bufs[i].begin() + static_cast<std::ptrdiff_t>(written[i]), bufs[i].end(),
                                   [](std::int32_t x) { return x == sentinel; }),
                       "wrote past the table it returned (or wrote while failing)");
        });
        expect_unchanged(t, call::csr, before);
    }

    template <class T>
    void do_slots(T& t, std::uint8_t variant) {
        pool_model& m = t.model;
        std::int64_t total = 0;
        bool all_live = true;
        for (request_id r : batch_) {
            if (!m.live(r)) {
                all_live = false;
                continue;
            }
            total = sat_add(total, m.find(r)->length_tokens - m.find(r)->committed_tokens);
        }
        std::int64_t cap = total;
        if (total > max_entries)
            cap = variant % 16;  // only the too-small case is affordable
        else if (variant % 3 == 1 && cap > 0)
            cap -= 1;  // one slot short
        else if (variant % 3 == 2)
            cap += 1 + variant / 3 % 3;
        errc_set allowed = 0;
        if (!all_live)
            allowed |= bit(errc::unknown_request);
        else if (total > cap)
            allowed |= bit(errc::buffer_too_small);
        std::array<std::vector<std::int64_t>, max_views> per_view;
        std::size_t view = 0;
        const std::uint64_t before = state_digest(t.state());
        t.for_each_view([&](const auto& v) {
            std::vector<std::int64_t>& buf = per_view[view++];
            buf.assign(static_cast<std::size_t>(cap) + guard, sentinel);
            const auto n = t.slots(v, batch_, std::span(buf).first(static_cast<std::size_t>(cap)));
            settle(t, call::slots, n.code(), allowed, std::nullopt, no_request, false);
            std::size_t written = 0;
            if (n) {
                expect(t, call::slots, n.value() == total, "slot count != tokens in flight");
                ownership own(v.size().pages);
                const std::int64_t page = m.page_size_tokens;
                std::size_t at = 0;
                for (request_id r : batch_) {
                    const request_model& rm = *m.find(r);
                    for (std::int64_t tok = rm.committed_tokens; tok < rm.length_tokens; ++tok) {
                        const std::int64_t slot = buf[at++];
                        expect(t, call::slots, slot % page == tok % page, "slot offset != token offset in its page");
                        expect(t, call::slots, valid_page(v, slot / page),
                               "slot outside the pool (or in the null page)");
                        expect(t, call::slots, slot / page == v.pages(r)[static_cast<std::size_t>(tok / page)].value,
                               "slot's page differs from the request's page list");
                        expect(t, call::slots, own.claim(slot / page, r), "a slot in a page another request holds");
                    }
                }
                written = static_cast<std::size_t>(total);
            }
            expect(t, call::slots,
                   std::all_of(buf.begin() + static_cast<std::ptrdiff_t>(written), buf.end(),
                               [](std::int64_t x) { return x == sentinel; }),
                   "wrote past the slots it returned (or wrote while failing)");
            buf.resize(written);  // a failing view leaves nothing to compare
        });
        expect_unchanged(t, call::slots, before);
        // A hybrid pool's slot of a token in group view j is its full slot mapped through the group's
        // mapping (full_to_swa, full_to_group<j - 1>).
        if constexpr (T::views > 1) {
            for (std::size_t j = 1; j < T::views; ++j) {
                if (per_view[0].empty() && per_view[j].empty()) continue;
                expect(t, call::slots, per_view[0].size() == per_view[j].size(), "views disagree on slot count");
                for (std::size_t i = 0; i < per_view[0].size(); ++i)
                    expect(t, call::slots, t.group_slot(j, per_view[0][i]) == per_view[j][i],
                           "a group's slot != its mapping applied to the full slot");
            }
        }
    }
};

/// Runs one input of the three-group target (fuzz/fuzz_multi.cpp) on a fresh multi-group hybrid.
inline outcome run_multi(std::span<const std::uint8_t> input) { return session(nullptr).run_multi(input); }

/// Runs one input of the host-tier target (fuzz/fuzz_tier.cpp) on a fresh tiered pool.
inline outcome run_tier(std::span<const std::uint8_t> input) { return session(nullptr).run_tier(input); }

/// Runs one input on fresh pools; `trace` (optional) receives the hybrid pool's calls.
/// `cache_trace` (optional) receives the caching hybrid pool's calls.
inline outcome run(std::span<const std::uint8_t> input, std::ostream* trace = nullptr,
                   std::ostream* cache_trace = nullptr) {
    return session(trace, cache_trace).run(input);
}

}  // namespace pagedkv::fuzz
