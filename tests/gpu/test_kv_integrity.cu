// End-to-end KV integrity: a hybrid pool driven through a long randomized engine history while
// K/V rows spelling (request, position) are written through its slot mappings; after every step a
// kernel walks every request's full and SWA tables (dense and CSR) and confirms it sees exactly its
// own tokens, in order; swa_decode run on the same tables matches a float64 reference.
#include <doctest/doctest.h>

#include "gpu_test_helpers.cuh"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <tuple>
#include <random>
#include <vector>

#include "pagedkv/cuda/kv_integrity.cuh"
#include "pagedkv/cuda/swa_decode.cuh"
#include "pagedkv/pool/hybrid_pool.hpp"
#include "pagedkv/pool/multi_hybrid_pool.hpp"
#include "pagedkv/table/csr_table.hpp"
#include "pagedkv/table/dense_table.hpp"
#include "pagedkv/table/slot_mapping.hpp"

using namespace pagedkv;
using namespace pagedkv::gpu;
using bf16 = __nv_bfloat16;

namespace {

template <class T>
using device_vector = pagedkv::test::device_buffer<T>;

constexpr int kv_heads = 2, q_heads = 4, head_dim = 64;

// One layer's K and V caches, [pages, P, kv_heads, head_dim], poisoned (NaN) until written.
struct layer_cache {
    device_vector<bf16> k, v;
    int pages;
    layer_cache(int n_pages, int page_size)
        : k(std::size_t(n_pages) * page_size * kv_heads * head_dim), v(k.size), pages(n_pages) {
        CUDA_REQUIRE(cudaMemset(k.ptr, 0xff, k.size * sizeof(bf16)));
        CUDA_REQUIRE(cudaMemset(v.ptr, 0xff, v.size * sizeof(bf16)));
    }
};

struct decoded_fault {
    int row;
    long long token;
    int kind;
};
decoded_fault decode(const kv_probe_report& r) {
    return {static_cast<int>(r.first >> 40), static_cast<long long>((r.first >> 8) & 0xffffffffull) - 1,
            static_cast<int>(r.first & 0xff)};
}

// Device buffers for one batch's tables and expectations, sized once.
struct table_buffers {
    std::int32_t row_pages;
    device_vector<std::int32_t> dense, kv_len, indptr, indices, last;
    device_vector<std::uint32_t> tags;
    device_vector<std::int32_t> length, committed;
    device_vector<kv_probe_report> report;
    table_buffers(int max_batch, std::int32_t row_pages_)
        : row_pages(row_pages_),
          dense(std::size_t(max_batch) * row_pages_),
          kv_len(max_batch),
          indptr(max_batch + 1),
          indices(std::size_t(max_batch) * row_pages_),
          last(max_batch),
          tags(max_batch),
          length(max_batch),
          committed(max_batch),
          report(1) {}

    // Emits `src`'s table for `batch` in `form` into the device buffers and returns its view.
    template <page_table_source S>
    page_table_view emit(const S& src, std::span<const request_id> batch, table_form form) {
        const std::size_t n = batch.size();
        if (form == table_form::dense) {
            std::vector<std::int32_t> d(n * static_cast<std::size_t>(row_pages)), len(n);
            REQUIRE(emit_dense_table(src, batch, d, row_pages).ok());
            for (std::size_t b = 0; b < n; ++b) len[b] = static_cast<std::int32_t>(src.length_tokens(batch[b]));
            dense.upload(d);
            kv_len.upload(len);
            return page_table_view::dense(dense.ptr, row_pages, kv_len.ptr);
        }
        std::vector<std::int32_t> ip(n + 1), idx(n * static_cast<std::size_t>(row_pages)), lp(n);
        REQUIRE(emit_csr_table(src, batch, {ip, idx, lp}).ok());
        indptr.upload(ip);
        indices.upload(idx);
        last.upload(lp);
        return page_table_view::csr(indptr.ptr, indices.ptr, last.ptr);
    }

    // Runs the probe check of one table; returns the report.
    template <page_table_source S>
    kv_probe_report check(const S& src, std::span<const request_id> batch, const std::vector<std::uint32_t>& batch_tags,
                          const layer_cache& cache, table_form form, int window, int chunk = 0) {
        const page_table_view view = emit(src, batch, form);
        std::vector<std::int32_t> len, com;
        for (request_id r : batch) {
            len.push_back(static_cast<std::int32_t>(src.length_tokens(r)));
            com.push_back(static_cast<std::int32_t>(src.committed_tokens(r)));
        }
        tags.upload(batch_tags);
        length.upload(len);
        committed.upload(com);
        report.upload({kv_probe_report{}});
        CUDA_REQUIRE(check_kv_probes(cache.k.ptr, cache.v.ptr, view, static_cast<int>(batch.size()),
                                     src.page_size_tokens(), window, cache.pages, kv_heads, head_dim,
                                     kv_probe_expect{tags.ptr, length.ptr, committed.ptr}, report.ptr, nullptr, chunk));
        CUDA_REQUIRE(cudaDeviceSynchronize());
        return report.download(1)[0];
    }
};

struct engine_config {
    std::int32_t page_size, window, full_pages, swa_pages, steps, max_live, max_prompt, max_output;
    std::uint64_t seed;
};

struct live_request {
    request_id id;
    std::uint32_t tag;
    std::int32_t prompt, output, generated = 0;
};

// swa_decode over `batch` (each with exactly `queries` tokens in flight) for one layer, against
// float64 attention computed from the probe values the request's own tokens must hold.
template <class Src>
void check_attention(const Src& src, std::span<const request_id> batch, const std::vector<std::uint32_t>& tags,
                     const layer_cache& cache, int window, int queries, table_buffers& tb, std::mt19937_64& rng) {
    const int nb = static_cast<int>(batch.size());
    decode_shape s{};
    s.batch = nb;
    s.queries_per_request = queries;
    s.num_q_heads = q_heads;
    s.num_kv_heads = kv_heads;
    s.head_dim = head_dim;
    s.page_size_tokens = src.page_size_tokens();
    s.window_tokens = window;
    s.max_kv_tokens = tb.row_pages * src.page_size_tokens();
    // example-begin plan (docs/kernels.md)
    decode_plan plan{};
    REQUIRE(plan_decode(s, 132, plan).ok());  // once per shape; 132 = the H100's SM count
    // example-end plan
    const std::size_t n_q = std::size_t(nb) * queries * q_heads * head_dim;
    std::vector<bf16> q(n_q);
    std::uniform_real_distribution<float> unit(-1.f, 1.f);
    for (bf16& x : q) x = bf16(unit(rng));
    const float scale = 0.002f;  // probe keys are integers up to 255
    std::vector<double> ref(n_q, 0.0);
    for (int b = 0; b < nb; ++b) {
        const auto len = static_cast<int>(src.length_tokens(batch[b]));
        for (int j = 0; j < queries; ++j)
            for (int h = 0; h < q_heads; ++h) {
                const int pos = len - queries + j, kvh = h / (q_heads / kv_heads);
                const int lo = window > 0 ? std::max(0, pos - window + 1) : 0;
                const std::size_t qo = ((std::size_t(b) * queries + j) * q_heads + h) * head_dim;
                std::vector<double> w;
                double mx = -INFINITY, sum = 0;
                for (int t = lo; t <= pos; ++t) {
                    double dot = 0;
                    for (int d = 0; d < head_dim; ++d)
                        dot += double(float(q[qo + d])) * kv_probe(tags[b], t, kvh, d, false);
                    w.push_back(dot * scale);
                    mx = std::max(mx, w.back());
                }
                for (double& x : w) sum += (x = std::exp(x - mx));
                for (int t = lo; t <= pos; ++t)
                    for (int d = 0; d < head_dim; ++d)
                        ref[qo + d] += w[std::size_t(t - lo)] / sum * kv_probe(tags[b], t, kvh, d, true);
            }
    }
    device_vector<bf16> dq(n_q), dout(n_q);
    device_vector<float> ws(plan.workspace_bytes / sizeof(float) + 4);
    dq.upload(q);
    for (const table_form form : {table_form::dense, table_form::csr}) {
        CAPTURE(static_cast<int>(form));
        const page_table_view view = tb.emit(src, batch, form);
        CUDA_REQUIRE(cudaMemset(dout.ptr, 0xff, n_q * sizeof(bf16)));
        // example-begin launch (docs/kernels.md)
        REQUIRE(swa_decode(plan, decode_tensors<bf16>{dq.ptr, dout.ptr, cache.k.ptr, cache.v.ptr, view, scale}, ws.ptr,
                           ws.size * sizeof(float), nullptr)
                    .ok());
        // example-end launch
        CUDA_REQUIRE(cudaDeviceSynchronize());
        const std::vector<bf16> out = dout.download(n_q);
        double num = 0, den = 0;
        for (std::size_t i = 0; i < n_q; ++i) {
            const double o = float(out[i]);
            num += (o - ref[i]) * (o - ref[i]);
            den += ref[i] * ref[i];
        }
        CHECK(std::sqrt(num / den) < 1e-2);  // NaN (an unwritten or poisoned element) fails too
    }
}

struct engine_stats {
    long long finished = 0, preempted = 0, rollbacks = 0;
};

engine_stats run_engine(const engine_config& cfg) {
    CAPTURE(cfg.page_size);
    CAPTURE(cfg.window);
    CAPTURE(cfg.seed);
    std::mt19937_64 rng(cfg.seed);
    auto pool =
        hybrid_pool<>::create(pool_size{cfg.full_pages}, pool_size{cfg.swa_pages}, cfg.page_size, cfg.window).value();
    layer_cache full_cache(cfg.full_pages, cfg.page_size), swa_cache(cfg.swa_pages, cfg.page_size);
    const std::int32_t row_pages = (cfg.max_prompt + cfg.max_output + 8) / cfg.page_size + 2;
    table_buffers tb(cfg.max_live, row_pages);
    const std::size_t max_tokens = std::size_t(cfg.max_live) * (cfg.max_prompt + 8);
    device_vector<std::int64_t> d_full_slots(max_tokens), d_swa_slots(max_tokens);
    device_vector<std::uint32_t> d_tags(max_tokens);
    device_vector<std::int32_t> d_pos(max_tokens);

    std::vector<live_request> live;
    std::uint32_t next_tag = 1;
    long long preempted = 0, finished = 0, rollbacks = 0, written_tokens = 0;

    auto check_all_tables = [&] {
        std::vector<request_id> batch;
        std::vector<std::uint32_t> tags;
        for (const live_request& r : live) {
            batch.push_back(r.id);
            tags.push_back(r.tag);
        }
        if (batch.empty()) return;
        for (const table_form form : {table_form::dense, table_form::csr}) {
            const kv_probe_report f = tb.check(pool.full(), batch, tags, full_cache, form, 0);
            const kv_probe_report s = tb.check(pool.swa(), batch, tags, swa_cache, form, cfg.window);
            CAPTURE(static_cast<int>(form));
            CAPTURE(decode(f).row);
            CAPTURE(decode(f).token);
            CAPTURE(decode(f).kind);
            CAPTURE(decode(s).row);
            CAPTURE(decode(s).token);
            CAPTURE(decode(s).kind);
            REQUIRE(f.offenders == 0);
            REQUIRE(s.offenders == 0);
        }
    };

    for (int step = 0; step < cfg.steps; ++step) {
        CAPTURE(step);
        while (static_cast<int>(live.size()) < cfg.max_live && rng() % 3 == 0) {
            const request_id id = pool.add_request().value();
            live.push_back({id, next_tag++, 1 + static_cast<std::int32_t>(rng() % cfg.max_prompt),
                            1 + static_cast<std::int32_t>(rng() % cfg.max_output)});
        }
        std::shuffle(live.begin(), live.end(), rng);
        const int drafts = static_cast<int>(rng() % 4);  // this step's speculative tokens per decoding request
        std::vector<std::int64_t> full_slots, swa_slots;
        std::vector<std::uint32_t> tags;
        std::vector<std::int32_t> positions;
        std::vector<std::pair<std::size_t, std::int64_t>> commits;
        std::vector<request_id> decoding;
        std::vector<std::uint32_t> decoding_tags;
        std::vector<std::size_t> dropped;
        for (std::size_t i = 0; i < live.size(); ++i) {
            live_request& r = live[i];
            const std::int64_t committed = pool.full().committed_tokens(r.id);
            const bool prefill = committed < r.prompt;
            const std::int64_t chunk = 1 + static_cast<std::int64_t>(rng() % 160);  // chunked prefill
            const std::int64_t n = prefill ? std::min<std::int64_t>(chunk, r.prompt - committed) : 1 + drafts;
            const std::int64_t accept =
                prefill ? n : 1 + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
            const status st = pool.extend(r.id, n);
            REQUIRE(pool.check_invariants().ok());
            if (!st) {  // out of pages: preempt (the engine would recompute it later)
                REQUIRE((st.code() == errc::out_of_full_pages || st.code() == errc::out_of_swa_pages));
                REQUIRE(pool.free_request(r.id).ok());
                REQUIRE(pool.check_invariants().ok());
                dropped.push_back(i);
                ++preempted;
                continue;
            }
            const request_id one[] = {r.id};
            std::vector<std::int64_t> fs(static_cast<std::size_t>(n)), ss(static_cast<std::size_t>(n));
            REQUIRE(emit_slot_mapping(pool.full(), one, fs).value() == n);
            REQUIRE(emit_slot_mapping(pool.swa(), one, ss).value() == n);
            for (std::int64_t t = 0; t < n; ++t) {
                full_slots.push_back(fs[static_cast<std::size_t>(t)]);
                swa_slots.push_back(ss[static_cast<std::size_t>(t)]);
                CHECK(pool.swa_slot(fs[static_cast<std::size_t>(t)]) == ss[static_cast<std::size_t>(t)]);
                tags.push_back(r.tag);
                positions.push_back(static_cast<std::int32_t>(committed + t));
            }
            commits.emplace_back(i, accept);
            if (!prefill) {
                decoding.push_back(r.id);
                decoding_tags.push_back(r.tag);
            }
        }
        // The forward pass writes this step's K/V (every token in flight) through both slot mappings.
        if (!tags.empty()) {
            d_full_slots.upload(full_slots);
            d_swa_slots.upload(swa_slots);
            d_tags.upload(tags);
            d_pos.upload(positions);
            const auto n = static_cast<std::int64_t>(tags.size());
            CUDA_REQUIRE(write_kv_probes(full_cache.k.ptr, full_cache.v.ptr, kv_heads, head_dim, d_full_slots.ptr,
                                         d_tags.ptr, d_pos.ptr, n, nullptr));
            CUDA_REQUIRE(write_kv_probes(swa_cache.k.ptr, swa_cache.v.ptr, kv_heads, head_dim, d_swa_slots.ptr,
                                         d_tags.ptr, d_pos.ptr, n, nullptr));
            written_tokens += n;
        }
        for (auto it = dropped.rbegin(); it != dropped.rend(); ++it) {
            for (auto& c : commits)
                if (c.first > *it) --c.first;
            live.erase(live.begin() + static_cast<std::ptrdiff_t>(*it));
        }
        check_all_tables();  // tokens in flight are visible before their commit
        if (step % 8 == 0 && !decoding.empty()) {
            check_attention(pool.swa(), decoding, decoding_tags, swa_cache, cfg.window, 1 + drafts, tb, rng);
            check_attention(pool.full(), decoding, decoding_tags, full_cache, 0, 1 + drafts, tb, rng);
        }
        for (const auto& [i, accept] : commits) {
            REQUIRE(pool.commit(live[i].id, accept).ok());
            REQUIRE(pool.check_invariants().ok());
            if (pool.full().committed_tokens(live[i].id) > live[i].prompt)
                live[i].generated += static_cast<std::int32_t>(accept);
        }
        if (!live.empty() && rng() % 10 == 0) {  // rollback, e.g. a rejected constrained-decoding branch
            live_request& r = live[rng() % live.size()];
            const std::int64_t len = pool.full().length_tokens(r.id);
            const std::int64_t to = std::max<std::int64_t>(0, len - 1 - static_cast<std::int64_t>(rng() % 40));
            const status st = pool.truncate(r.id, to);
            if (st)
                ++rollbacks;
            else
                REQUIRE(st.code() == errc::window_already_released);  // and nothing changed:
            REQUIRE(pool.check_invariants().ok());
        }
        for (std::size_t i = live.size(); i-- > 0;)
            if (live[i].generated >= live[i].output) {
                REQUIRE(pool.free_request(live[i].id).ok());
                REQUIRE(pool.check_invariants().ok());
                live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
                ++finished;
            }
        check_all_tables();
    }
    MESSAGE("kv integrity: " << cfg.steps << " steps, " << next_tag - 1 << " requests, " << finished << " finished, "
                             << preempted << " preempted, " << rollbacks << " rollbacks, " << written_tokens
                             << " tokens written");
    return {finished, preempted, rollbacks};
}

}  // namespace

TEST_CASE("kv integrity: every request sees exactly its own tokens, in order, in full and SWA layers") {
    // Window spanning pages; window smaller than a page; page size 1. Pools small enough to preempt.
    engine_stats total;
    for (const engine_config& cfg :
         {engine_config{16, 100, 200, 70, 260, 8, 700, 120, 1}, engine_config{32, 8, 80, 25, 200, 8, 600, 100, 2},
          engine_config{1, 3, 700, 200, 120, 6, 300, 60, 3}}) {
        const engine_stats s = run_engine(cfg);
        total.finished += s.finished;
        total.preempted += s.preempted;
        total.rollbacks += s.rollbacks;
    }
    CHECK(total.finished > 30);  // the history really reached finishes, preemption and page reuse
    CHECK(total.preempted > 0);
    CHECK(total.rollbacks > 0);
}

TEST_CASE("kv integrity: a chunked group holds each request's current chunk, and a stale chunk row is caught") {
    // Chunks of 32 tokens, P = 16: a request committed to 40 keeps tokens 32..39 (page 2) only.
    auto pool = multi_hybrid_pool<full_pool<>, chunked_pool<>>::create(pool_size{16}, 16, group_size{pool_size{16}, 32})
                    .value();
    layer_cache cache(16, 16);
    const request_id a = pool.add_request().value(), b = pool.add_request().value();
    const std::uint32_t tag_a = 3, tag_b = 5;
    for (auto [r, tag, n] : {std::tuple{a, tag_a, 40}, std::tuple{b, tag_b, 20}}) {
        REQUIRE(pool.extend(r, n).ok());
        const request_id one[] = {r};
        std::vector<std::int64_t> slots(static_cast<std::size_t>(n));
        REQUIRE(emit_slot_mapping(pool.group<0>(), one, slots).ok());
        std::vector<std::uint32_t> tags(static_cast<std::size_t>(n), tag);
        std::vector<std::int32_t> pos(static_cast<std::size_t>(n));
        for (int t = 0; t < n; ++t) pos[std::size_t(t)] = t;
        device_vector<std::int64_t> ds(slots.size());
        device_vector<std::uint32_t> dt(tags.size());
        device_vector<std::int32_t> dp(pos.size());
        ds.upload(slots);
        dt.upload(tags);
        dp.upload(pos);
        CUDA_REQUIRE(write_kv_probes(cache.k.ptr, cache.v.ptr, kv_heads, head_dim, ds.ptr, dt.ptr, dp.ptr, n, nullptr));
        REQUIRE(pool.commit(r, n).ok());
    }
    REQUIRE(pool.group<0>().first_live_page(a) == 2);  // chunk 0 released
    REQUIRE(pool.group<0>().first_live_page(b) == 0);
    const request_id batch[] = {a, b};
    const std::vector<std::uint32_t> tags{tag_a, tag_b};
    table_buffers tb(2, 4);
    for (const table_form form : {table_form::dense, table_form::csr})
        CHECK(tb.check(pool.group<0>(), batch, tags, cache, form, 0, 32).offenders == 0);
    // Read as a window of 32 instead, a's row should still hold tokens 9..31 of chunk 0: reported.
    CHECK(tb.check(pool.group<0>(), batch, tags, cache, table_form::csr, 32).offenders > 0);
}

TEST_CASE("kv integrity check reports a swapped page, an out-of-range entry and a stale SWA table") {
    auto pool = hybrid_pool<>::create(pool_size{16}, pool_size{16}, 16, 20).value();
    layer_cache full_cache(16, 16), swa_cache(16, 16);
    const request_id a = pool.add_request().value(), b = pool.add_request().value();
    const std::uint32_t tag_a = 7, tag_b = 9;
    for (auto [r, tag] : {std::pair{a, tag_a}, std::pair{b, tag_b}}) {
        REQUIRE(pool.extend(r, 40).ok());
        const request_id one[] = {r};
        std::vector<std::int64_t> fs(40), ss(40);
        REQUIRE(emit_slot_mapping(pool.full(), one, fs).ok());
        REQUIRE(emit_slot_mapping(pool.swa(), one, ss).ok());
        std::vector<std::uint32_t> tags(40, tag);
        std::vector<std::int32_t> pos(40);
        for (int t = 0; t < 40; ++t) pos[std::size_t(t)] = t;
        device_vector<std::int64_t> dfs(40), dss(40);
        device_vector<std::uint32_t> dt(40);
        device_vector<std::int32_t> dp(40);
        dfs.upload(fs);
        dss.upload(ss);
        dt.upload(tags);
        dp.upload(pos);
        CUDA_REQUIRE(write_kv_probes(full_cache.k.ptr, full_cache.v.ptr, kv_heads, head_dim, dfs.ptr, dt.ptr, dp.ptr,
                                     40, nullptr));
        CUDA_REQUIRE(write_kv_probes(swa_cache.k.ptr, swa_cache.v.ptr, kv_heads, head_dim, dss.ptr, dt.ptr, dp.ptr, 40,
                                     nullptr));
        REQUIRE(pool.commit(r, 40).ok());  // committed 40, W 20: SWA page 0 (tokens 0..15) released
    }
    const request_id batch[] = {a, b};
    const std::vector<std::uint32_t> tags{tag_a, tag_b};
    table_buffers tb(2, 4);
    for (const table_form form : {table_form::dense, table_form::csr}) {
        CHECK(tb.check(pool.full(), batch, tags, full_cache, form, 0).offenders == 0);
        CHECK(tb.check(pool.swa(), batch, tags, swa_cache, form, 20).offenders == 0);
    }

    // Swap the pages of tokens 16..31 between the two rows of the full table.
    std::vector<std::int32_t> dense(8), len{40, 40};
    REQUIRE(emit_dense_table(pool.full(), batch, dense, 4).ok());
    std::swap(dense[1], dense[5]);
    tb.dense.upload(dense);
    tb.kv_len.upload(len);
    tb.tags.upload(tags);
    tb.length.upload(len);
    tb.committed.upload(len);
    auto run = [&](const layer_cache& cache, int window, int rows) {
        tb.report.upload({kv_probe_report{}});
        CUDA_REQUIRE(check_kv_probes(cache.k.ptr, cache.v.ptr, page_table_view::dense(tb.dense.ptr, 4, tb.kv_len.ptr),
                                     rows, 16, window, cache.pages, kv_heads, head_dim,
                                     kv_probe_expect{tb.tags.ptr, tb.length.ptr, tb.committed.ptr}, tb.report.ptr,
                                     nullptr));
        CUDA_REQUIRE(cudaDeviceSynchronize());
        return tb.report.download(1)[0];
    };
    kv_probe_report r = run(full_cache, 0, 2);
    CHECK(r.offenders == 32);  // 16 tokens in each row
    CHECK(decode(r).row == 0);
    CHECK(decode(r).token == 16);
    CHECK(decode(r).kind == static_cast<int>(kv_probe_fault::wrong_row));

    // An entry at the pool's size: reported, never dereferenced.
    REQUIRE(emit_dense_table(pool.full(), batch, dense, 4).ok());
    dense[6] = 16;
    tb.dense.upload(dense);
    r = run(full_cache, 0, 2);
    CHECK(r.offenders == 8);  // tokens 32..39 of row 1
    CHECK(decode(r).row == 1);
    CHECK(decode(r).token == 32);
    CHECK(decode(r).kind == static_cast<int>(kv_probe_fault::page_out_of_range));

    // An SWA table emitted before window release and read after it: its first entry is stale.
    auto fresh = hybrid_pool<>::create(pool_size{16}, pool_size{16}, 16, 20).value();
    const request_id c = fresh.add_request().value();
    REQUIRE(fresh.extend(c, 40).ok());
    const request_id only_c[] = {c};
    std::vector<std::int32_t> stale(4);
    REQUIRE(emit_dense_table(fresh.swa(), only_c, stale, 4).ok());  // before commit: page 0 still live
    REQUIRE(fresh.commit(c, 40).ok());
    CHECK(stale[0] != 0);
    tb.dense.upload(stale);
    r = run(swa_cache, 20, 1);  // row 0 expects committed 40: its first live page is 1
    CHECK(r.offenders == 1);    // tokens 16..39 are still a's own rows: only the stale entry offends
    CHECK(decode(r).kind == static_cast<int>(kv_probe_fault::live_entry_before_window));
    CHECK(decode(r).token == 0);
}
