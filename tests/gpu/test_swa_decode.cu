// swa_decode against a float64 CPU reference: every head dim, page size, window class, table form,
// GQA and multi-query shape; poisoned outputs; garbage and NaN wherever the kernel must not read.
#include <doctest/doctest.h>

#include "gpu_test_helpers.cuh"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "pagedkv/cuda/swa_decode.cuh"

using namespace pagedkv::gpu;

namespace {

template <class T>
using device_vector = pagedkv::test::device_buffer<T>;

int sm_count() {
    int dev = 0, n = 0;
    CUDA_REQUIRE(cudaGetDevice(&dev));
    CUDA_REQUIRE(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
    return n;
}

template <class T>
double tolerance();
template <>
double tolerance<__nv_bfloat16>() {
    return 1e-2;
}
template <>
double tolerance<__half>() {
    return 1e-3;
}

// One randomized problem: requests with their own lengths, pages shuffled over the pool, tables in
// both forms with garbage everywhere the kernel must not look.
template <class T>
struct problem {
    decode_shape shape;
    std::vector<std::int32_t> lens;                // absolute kv length per request
    std::vector<std::vector<std::int32_t>> pages;  // page of each token page of each request (-1: none)
    std::vector<T> q, k, v;
    std::vector<std::int32_t> dense, kv_len, indptr, indices, last_page_len;
    std::int32_t num_pages = 0;

    int margin = 0;               // keys before the window that also hold data (for a reference with a wider window)
    int first_key(int b) const {  // earliest key any query of row b attends, less the margin
        const int p0 = lens[b] - shape.queries_per_request;
        int lo = shape.window_tokens > 0 ? std::max(0, p0 - shape.window_tokens + 1 - margin) : 0;
        if (shape.chunk_tokens > 0)
            lo = std::max(lo, std::max(0, p0 / shape.chunk_tokens * shape.chunk_tokens - margin));
        return lo;
    }

    problem(decode_shape s, std::vector<std::int32_t> lengths, std::mt19937_64& rng, int margin_keys = 0)
        : shape(s), lens(std::move(lengths)), margin(margin_keys) {
        const int P = s.page_size_tokens, H = s.num_kv_heads, D = s.head_dim, B = s.batch;
        std::uniform_real_distribution<float> unit(-1.f, 1.f);
        const float nan = std::numeric_limits<float>::quiet_NaN();
        // Pool: page 0 (null, NaN), each request's needed pages, and decoy pages of finite values
        // that garbage entries may point at: reading one changes the result without faulting.
        int needed = 0;
        for (int b = 0; b < B; ++b) needed += (lens[b] + P - 1) / P - first_key(b) / P;
        const int decoys = 8;
        num_pages = 1 + needed + decoys;
        std::vector<std::int32_t> ids(static_cast<std::size_t>(num_pages - 1));
        std::iota(ids.begin(), ids.end(), 1);
        std::shuffle(ids.begin(), ids.end(), rng);
        const std::size_t page_elems = static_cast<std::size_t>(P) * H * D;
        k.assign(page_elems * num_pages, T(nan));
        v.assign(page_elems * num_pages, T(nan));
        std::size_t next = 0;
        pages.resize(B);
        for (int b = 0; b < B; ++b) {
            const int n_pages = (lens[b] + P - 1) / P;
            pages[b].assign(n_pages, -1);
            for (int i = first_key(b) / P; i < n_pages; ++i) pages[b][i] = ids[next++];
            // Keys in [first_key, len) get values; the rest of their pages stays NaN.
            for (int t = first_key(b); t < lens[b]; ++t)
                for (std::size_t e = 0; e < static_cast<std::size_t>(H) * D; ++e) {
                    const std::size_t at = (static_cast<std::size_t>(pages[b][t / P]) * P + t % P) * H * D + e;
                    k[at] = T(unit(rng));
                    v[at] = T(unit(rng));
                }
        }
        std::vector<std::int32_t> decoy_ids(ids.begin() + static_cast<std::ptrdiff_t>(next), ids.end());
        for (std::int32_t d : decoy_ids)
            for (std::size_t e = 0; e < page_elems; ++e) {
                k[d * page_elems + e] = T(unit(rng));
                v[d * page_elems + e] = T(unit(rng));
            }
        // Garbage: out-of-range indices (a read faults), the NaN null page, decoys.
        auto garbage = [&, n = 0]() mutable -> std::int32_t {
            switch (n++ % 5) {
                case 0:
                    return std::numeric_limits<std::int32_t>::max();
                case 1:
                    return -1 - static_cast<std::int32_t>(rng() % 1000);
                case 2:
                    return 0;
                case 3:
                    return num_pages + static_cast<std::int32_t>(rng() % 100000);
                default:
                    return decoy_ids[rng() % decoy_ids.size()];
            }
        };
        int row_pages = 0;
        for (int b = 0; b < B; ++b) row_pages = std::max(row_pages, (lens[b] + P - 1) / P);
        row_pages += 3;  // padding past every row's end: garbage too
        dense.assign(static_cast<std::size_t>(B) * row_pages, 0);
        kv_len = lens;
        indptr.assign(1, 0);
        for (int b = 0; b < B; ++b) {
            for (int i = 0; i < row_pages; ++i)
                dense[static_cast<std::size_t>(b) * row_pages + i] =
                    i < static_cast<int>(pages[b].size()) && pages[b][i] >= 0 ? pages[b][i] : garbage();
            // CSR rows start anywhere at or before the first in-window page; the entries before it
            // are garbage and the kv length counts from the row's first entry.
            // With chunks, on a chunk boundary: positions count from the row's first entry.
            const int step = s.chunk_tokens > 0 && s.chunk_tokens % P == 0 ? s.chunk_tokens / P : 1;
            const int start = step * static_cast<int>(rng() % static_cast<std::uint64_t>(first_key(b) / P / step + 1));
            for (int i = start; i < static_cast<int>(pages[b].size()); ++i)
                indices.push_back(pages[b][i] >= 0 ? pages[b][i] : garbage());
            indptr.push_back(static_cast<std::int32_t>(indices.size()));
            last_page_len.push_back(lens[b] - (lens[b] - 1) / P * P);
        }
        shape.max_kv_tokens = row_pages * P;
        const std::size_t q_elems = static_cast<std::size_t>(B) * s.queries_per_request * s.num_q_heads * D;
        q.resize(q_elems);
        for (T& x : q) x = T(3.f * unit(rng));  // scores spread over a few units: a peaked softmax
        dense_row_pages = row_pages;
    }
    int dense_row_pages = 0;

    // out[b, j, h, :] in float64, straight from the definition (with window W, default the shape's).
    std::vector<double> reference(float scale, int W) const {
        const int Q = shape.queries_per_request, Hq = shape.num_q_heads, H = shape.num_kv_heads, D = shape.head_dim,
                  P = shape.page_size_tokens;
        std::vector<double> out(static_cast<std::size_t>(shape.batch) * Q * Hq * D, 0.0);
        for (int b = 0; b < shape.batch; ++b)
            for (int j = 0; j < Q; ++j)
                for (int h = 0; h < Hq; ++h) {
                    const int pos = lens[b] - Q + j, kvh = h / (Hq / H);
                    int lo = W > 0 ? std::max(0, pos - W + 1) : 0;
                    if (shape.chunk_tokens > 0) lo = std::max(lo, pos / shape.chunk_tokens * shape.chunk_tokens);
                    const std::size_t qo = ((static_cast<std::size_t>(b) * Q + j) * Hq + h) * D;
                    std::vector<double> score;
                    double mx = -INFINITY;
                    for (int t = lo; t <= pos; ++t) {
                        const std::size_t ko =
                            (static_cast<std::size_t>(pages[b][t / P]) * P + t % P) * H * D + kvh * D;
                        double dot = 0;
                        for (int d = 0; d < D; ++d)
                            dot += static_cast<double>(static_cast<float>(q[qo + d])) * static_cast<float>(k[ko + d]);
                        score.push_back(dot * scale);
                        mx = std::max(mx, score.back());
                    }
                    double sum = 0;
                    for (double& x : score) sum += (x = std::exp(x - mx));
                    for (int t = lo; t <= pos; ++t) {
                        const std::size_t vo =
                            (static_cast<std::size_t>(pages[b][t / P]) * P + t % P) * H * D + kvh * D;
                        for (int d = 0; d < D; ++d)
                            out[qo + d] +=
                                score[static_cast<std::size_t>(t - lo)] / sum * static_cast<float>(v[vo + d]);
                    }
                }
        return out;
    }
};

// ||out - ref|| / ||ref|| over the elements of request b (or all with b < 0); NaN if any is NaN.
template <class T>
double rel_error(const std::vector<T>& out, const std::vector<double>& ref, std::size_t per_request, int b) {
    const std::size_t begin = b < 0 ? 0 : static_cast<std::size_t>(b) * per_request;
    const std::size_t end = b < 0 ? ref.size() : begin + per_request;
    double num = 0, den = 0;
    for (std::size_t i = begin; i < end; ++i) {
        const double o = static_cast<float>(out[i]);
        if (!std::isfinite(o)) return NAN;
        num += (o - ref[i]) * (o - ref[i]);
        den += ref[i] * ref[i];
    }
    return std::sqrt(num / std::max(den, 1e-300));
}

// Runs the problem through both table forms and through the planned split and a forced one;
// returns the worst relative error. With `off_by_one`, also checks that the output is *not* within
// tolerance of attention with window W + 1: the comparison can see a one-key masking error.
template <class T>
double run_and_compare(problem<T>& pr, bool off_by_one = false, bool with_csr = true) {
    const float scale = 1.f / std::sqrt(static_cast<float>(pr.shape.head_dim));
    const std::vector<double> ref = pr.reference(scale, pr.shape.window_tokens);
    const std::vector<double> ref_wider = off_by_one ? pr.reference(scale, pr.shape.window_tokens + 1) : ref;
    double worst = 0;
    device_vector<T> q(pr.q), k(pr.k), v(pr.v), out(pr.q.size());
    device_vector<std::int32_t> dense(pr.dense), kv_len(pr.kv_len), indptr(pr.indptr), indices(pr.indices),
        last(pr.last_page_len);
    decode_plan planned{};
    REQUIRE(plan_decode(pr.shape, sm_count(), planned).ok());
    decode_plan forced = planned;
    forced.num_splits = 5;  // merge path whatever the plan chose; some splits get no tile at all
    forced.workspace_bytes = workspace_bytes_for(pr.shape, forced.num_splits);
    device_vector<float> workspace(std::max(planned.workspace_bytes, forced.workspace_bytes) / sizeof(float) + 4);
    const std::size_t per_request = pr.q.size() / static_cast<std::size_t>(pr.shape.batch);
    for (const table_form form : {table_form::dense, table_form::csr})
        for (const decode_plan* plan : {&planned, &forced}) {
            if (form == table_form::csr && !with_csr) continue;
            CAPTURE(static_cast<int>(form));
            CAPTURE(plan->num_splits);
            decode_tensors<T> t{q.ptr,
                                out.ptr,
                                k.ptr,
                                v.ptr,
                                form == table_form::dense
                                    ? page_table_view::dense(dense.ptr, pr.dense_row_pages, kv_len.ptr)
                                    : page_table_view::csr(indptr.ptr, indices.ptr, last.ptr),
                                scale};
            out.poison();
            workspace.poison();
            const decode_status st = swa_decode(*plan, t, workspace.ptr, workspace.size * sizeof(float), nullptr);
            REQUIRE(st.ok());
            CUDA_REQUIRE(cudaDeviceSynchronize());
            const std::vector<T> got = out.download();
            for (int b = 0; b < pr.shape.batch; ++b) {
                CAPTURE(b);
                CAPTURE(pr.lens[b]);
                const double err = rel_error(got, ref, per_request, b);
                CHECK(err < tolerance<T>());  // NaN fails: every element written, nothing poisoned read
                worst = std::max(worst, err);
            }
            if (off_by_one) CHECK(rel_error(got, ref_wider, per_request, -1) > 10 * tolerance<T>());
        }
    return worst;
}

}  // namespace

TEST_CASE_TEMPLATE("swa_decode matches float64 for every head dim, page size, window class and table form", T,
                   __nv_bfloat16, __half) {
    std::mt19937_64 rng(20261124);
    int config = 0;
    double worst = 0;
    for (const int D : {64, 128, 256})
        for (const int P : {16, 32, 64}) {
            // No window; smaller than a page; one page; spanning several pages; many pages; longer than any context.
            for (const int W : {0, 5, P, 3 * P + 7, 700, 100000}) {
                const int Q = std::array{1, 2, 4}[static_cast<std::size_t>(config % 3)];
                const bool gqa = config % 2 == 0;
                ++config;
                decode_shape s{};
                s.batch = 5;
                s.queries_per_request = Q;
                s.num_q_heads = gqa ? 8 : 4;
                s.num_kv_heads = gqa ? 2 : 4;
                s.head_dim = D;
                s.page_size_tokens = P;
                s.window_tokens = W;
                std::vector<std::int32_t> lens{Q, 37, 300, 1029, 2 * P + 1};
                std::shuffle(lens.begin(), lens.end(), rng);
                CAPTURE(D);
                CAPTURE(P);
                CAPTURE(W);
                CAPTURE(Q);
                CAPTURE(gqa);
                problem<T> pr(s, lens, rng);
                worst = std::max(worst, run_and_compare(pr));
            }
        }
    MESSAGE("worst relative error over " << config << " shapes x 2 table forms x 2 splits: " << worst);
}

TEST_CASE("swa_decode: a chunk that is not a whole number of pages: dense rows are exact, CSR rows refused") {
    // Dense rows count positions from token 0; a CSR row's first entry could not sit on a chunk
    // boundary, so CSR is refused before any launch.
    std::mt19937_64 rng(20261202);
    decode_shape s{};
    s.batch = 3;
    s.queries_per_request = 2;
    s.num_q_heads = 4;
    s.num_kv_heads = 4;
    s.head_dim = 64;
    s.page_size_tokens = 16;
    s.chunk_tokens = 40;
    problem<__nv_bfloat16> pr(s, {81, 40, 122}, rng);
    CHECK(run_and_compare(pr, false, false) < tolerance<__nv_bfloat16>());
    decode_plan plan{};
    REQUIRE(plan_decode(pr.shape, sm_count(), plan).ok());
    device_vector<std::int32_t> indptr(pr.indptr), indices(pr.indices), last(pr.last_page_len);
    const decode_tensors<__nv_bfloat16> t{
        nullptr, nullptr, nullptr, nullptr, page_table_view::csr(indptr.ptr, indices.ptr, last.ptr), 0.125f};
    CHECK(swa_decode(plan, t, nullptr, 0, nullptr).code == decode_errc::invalid_chunk);
}

TEST_CASE("swa_decode: a long window with a batch of one is split across blocks and still exact") {
    std::mt19937_64 rng(7);
    decode_shape s{};
    s.batch = 1;
    s.num_q_heads = 8;
    s.num_kv_heads = 1;  // GQA group 8: two row chunks share each K/V read
    s.head_dim = 128;
    s.page_size_tokens = 16;
    s.window_tokens = 4096;
    problem<__nv_bfloat16> pr(s, {6000}, rng);
    decode_plan plan{};
    REQUIRE(plan_decode(pr.shape, sm_count(), plan).ok());
    CHECK(plan.num_splits > 8);  // one request must not run on one block per head
    CHECK(plan.row_chunks == 2);
    run_and_compare(pr);
}

TEST_CASE("swa_decode: speculative verification, 1 + 7 queries per request, causal among themselves") {
    std::mt19937_64 rng(11);
    for (const int W : {0, 3, 40}) {
        decode_shape s{};
        s.batch = 3;
        s.queries_per_request = 8;
        s.num_q_heads = 4;
        s.num_kv_heads = 2;
        s.head_dim = 64;
        s.page_size_tokens = 16;
        s.window_tokens = W;
        CAPTURE(W);
        problem<__half> pr(s, {8, 97, 512}, rng, 1);
        run_and_compare(pr, W > 0);
    }
}

TEST_CASE("swa_decode: chunked local attention matches float64, queries crossing a chunk boundary included") {
    std::mt19937_64 rng(15);
    for (const int P : {16, 64})
        for (const int C : {2 * P, 8 * P, 4096})
            for (const int Q : {1, 4}) {
                decode_shape s{};
                s.batch = 5;
                s.queries_per_request = Q;
                s.num_q_heads = 8;
                s.num_kv_heads = 2;
                s.head_dim = 128;
                s.page_size_tokens = P;
                s.chunk_tokens = C;
                // C + 2 with 4 queries: the first two in chunk 0, the last two in chunk 1.
                std::vector<std::int32_t> lens{Q, 37, C + 2, 3 * C + 1, 1029};
                std::shuffle(lens.begin(), lens.end(), rng);
                CAPTURE(P);
                CAPTURE(C);
                CAPTURE(Q);
                problem<__nv_bfloat16> pr(s, lens, rng);
                run_and_compare(pr);
            }
}

TEST_CASE("check_shape: a negative chunk, or a window and a chunk together, is invalid_chunk") {
    decode_shape s{};
    s.batch = 1;
    s.num_q_heads = 4;
    s.num_kv_heads = 4;
    s.head_dim = 64;
    s.page_size_tokens = 16;
    s.chunk_tokens = 8192;
    CHECK(check_shape(s).ok());  // control
    s.chunk_tokens = -1;
    CHECK(check_shape(s).code == decode_errc::invalid_chunk);
    s.chunk_tokens = 8192;
    s.window_tokens = 512;
    CHECK(check_shape(s).code == decode_errc::invalid_chunk);
}

TEST_CASE("plan_decode: one block per head row when the batch fills the GPU, splits when it does not") {
    decode_shape s{};
    s.batch = 256;
    s.num_q_heads = 32;
    s.num_kv_heads = 8;
    s.head_dim = 128;
    s.page_size_tokens = 16;
    s.window_tokens = 1024;
    s.max_kv_tokens = 8192;
    decode_plan plan{};
    REQUIRE(plan_decode(s, 132, plan).ok());
    CHECK(plan.num_splits == 1);
    CHECK(plan.row_chunks == 1);
    CHECK(plan.workspace_bytes == 0);

    s.batch = 1;
    s.window_tokens = 4096;
    REQUIRE(plan_decode(s, 132, plan).ok());
    CHECK(plan.num_splits == 33);  // 2 blocks per SM over 8 heads
    CHECK(plan.workspace_bytes == std::size_t{1} * 32 * 33 * 129 * sizeof(float));

    s.window_tokens = 1024;  // 33 tiles of 32 keys: no split below 2 tiles
    REQUIRE(plan_decode(s, 132, plan).ok());
    CHECK(plan.num_splits == 16);

    s.window_tokens = 64;  // 2 tiles of 32 keys (+1 straddle): at most one split
    REQUIRE(plan_decode(s, 132, plan).ok());
    CHECK(plan.num_splits == 1);

    s.window_tokens = 0;
    s.queries_per_request = 3;  // 4 heads per group x 3 queries = 12 rows: 3 row chunks
    REQUIRE(plan_decode(s, 132, plan).ok());
    CHECK(plan.row_chunks == 3);
}

TEST_CASE("swa_decode rejects bad shapes, plans and buffers, and launches nothing") {
    decode_shape s{};
    s.batch = 2;
    s.num_q_heads = 8;
    s.num_kv_heads = 2;
    s.head_dim = 128;
    s.page_size_tokens = 16;
    s.max_kv_tokens = 64;
    decode_plan plan{};
    auto with = [&](auto edit) {
        decode_shape x = s;
        edit(x);
        return plan_decode(x, 132, plan).code;
    };
    CHECK(with([](decode_shape& x) { x.head_dim = 96; }) == decode_errc::unsupported_head_dim);
    CHECK(with([](decode_shape& x) {
              x.num_q_heads = 6;
              x.num_kv_heads = 4;
          }) == decode_errc::invalid_shape);
    CHECK(with([](decode_shape& x) { x.queries_per_request = 0; }) == decode_errc::invalid_shape);
    CHECK(with([](decode_shape& x) { x.batch = -1; }) == decode_errc::invalid_shape);
    CHECK(with([](decode_shape& x) { x.page_size_tokens = 24; }) == decode_errc::invalid_page_size);
    CHECK(with([](decode_shape& x) { x.page_size_tokens = 0; }) == decode_errc::invalid_page_size);
    CHECK(with([](decode_shape& x) { x.window_tokens = -3; }) == decode_errc::invalid_window);

    REQUIRE(plan_decode(s, 132, plan).ok());
    device_vector<__half> buf(4096);
    std::vector<__half> sentinel(buf.size, __half(1.5f));
    buf.upload(sentinel);
    device_vector<std::int32_t> table(16);
    decode_tensors<__half> t{buf.ptr, buf.ptr + 2048, buf.ptr, buf.ptr, page_table_view::dense(table.ptr, 4, table.ptr),
                             0.1f};
    decode_tensors<__half> bad = t;
    bad.q = buf.ptr + 1;
    CHECK(swa_decode(plan, bad, nullptr, 0, nullptr).code == decode_errc::misaligned_pointer);
    decode_plan other = plan;
    other.shape.queries_per_request = 2;  // 8 rows: needs 2 row chunks, the plan says 1
    CHECK(swa_decode(other, t, nullptr, 0, nullptr).code == decode_errc::plan_mismatch);
    decode_plan split = plan;
    split.num_splits = 2;
    split.workspace_bytes = workspace_bytes_for(s, 2);
    CHECK(swa_decode(split, t, nullptr, 0, nullptr).code == decode_errc::workspace_too_small);
    split.workspace_bytes = 16;
    CHECK(swa_decode(split, t, nullptr, 0, nullptr).code == decode_errc::plan_mismatch);
    CUDA_REQUIRE(cudaDeviceSynchronize());
    const auto after = buf.download();
    CHECK(std::memcmp(after.data(), sentinel.data(), sentinel.size() * sizeof(__half)) == 0);
}
