// Disaggregation on one GPU: requests prefilled in one hybrid pool are exported, imported into a
// second pool (different sizes, allocation policy and occupancy, so every page id differs), their
// K/V bytes moved run by run, and then (1) every token's K/V on the decode side equals the prefill
// side's, for the full layer and the in-window SWA layer, and (2) decode attention through the decode
// side's tables is bit-identical to the same decode through the prefill side's.
#include <doctest/doctest.h>

#include "gpu_test_helpers.cuh"

#include <cuda_bf16.h>

#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "pagedkv/cuda/kv_transfer.cuh"
#include "pagedkv/cuda/swa_decode.cuh"
#include "pagedkv/dist/request_transfer.hpp"
#include "pagedkv/alloc/lowest_index_first.hpp"
#include "pagedkv/pool/hybrid_pool.hpp"
#include "pagedkv/table/csr_table.hpp"
#include "pagedkv/table/dense_table.hpp"

namespace pagedkv::transfer_test {
namespace {

using bf16 = __nv_bfloat16;
constexpr int P = 16, W = 128, kv_heads = 2, q_heads = 8, head_dim = 128;
constexpr std::size_t row_elems = std::size_t(kv_heads) * head_dim;  // one token's K (or V) in one layer

using pagedkv::test::device_buffer;

// One pool's KV cache for one layer: K and V, [pages, P, kv_heads, head_dim], NaN until written.
struct layer_kv {
    device_buffer<bf16> k, v;
    void* k_ptrs[1];
    void* v_ptrs[1];
    explicit layer_kv(int pages) : k(std::size_t(pages) * P * row_elems), v(k.size) {
        CUDA_REQUIRE(cudaMemset(k.ptr, 0xff, k.size * sizeof(bf16)));
        CUDA_REQUIRE(cudaMemset(v.ptr, 0xff, v.size * sizeof(bf16)));
        k_ptrs[0] = k.ptr;
        v_ptrs[0] = v.ptr;
    }
    gpu::kv_buffers buffers() { return {k_ptrs, v_ptrs}; }
};

std::uint16_t bits(bf16 x) {
    std::uint16_t b;
    std::memcpy(&b, &x, 2);
    return b;
}

// The K and V rows of one token in one layer's host copy, at page `page`, offset `t % P`.
std::size_t row_at(page_id page, std::int64_t t) {
    return (std::size_t(page.value) * P + std::size_t(t % P)) * row_elems;
}

template <class Pool>
void decode_through(const Pool& view, std::span<const request_id> batch, layer_kv& kv, const device_buffer<bf16>& q,
                    device_buffer<bf16>& out, int window, std::int32_t row_pages) {
    const int b = static_cast<int>(batch.size());
    std::vector<std::int32_t> dense(std::size_t(b) * row_pages), kv_len(b), indptr(b + 1), indices(dense.size()),
        last(b);
    device_buffer<std::int32_t> d_dense(dense.size()), d_len(b), d_indptr(b + 1), d_indices(dense.size()), d_last(b);
    gpu::page_table_view table;
    if constexpr (Pool::kind == attention_kind::full) {
        REQUIRE(emit_dense_table(view, batch, dense, row_pages).ok());
        for (int i = 0; i < b; ++i) kv_len[i] = static_cast<std::int32_t>(view.length_tokens(batch[i]));
        d_dense.upload(dense);
        d_len.upload(kv_len);
        table = gpu::page_table_view::dense(d_dense.ptr, row_pages, d_len.ptr);
    } else {
        REQUIRE(emit_csr_table(view, batch, {indptr, indices, last}).ok());
        d_indptr.upload(indptr);
        d_indices.upload(indices);
        d_last.upload(last);
        table = gpu::page_table_view::csr(d_indptr.ptr, d_indices.ptr, d_last.ptr);
    }
    const gpu::decode_shape shape{b, 1, q_heads, kv_heads, head_dim, P, window, row_pages * P};
    gpu::decode_plan plan;
    REQUIRE(gpu::plan_decode(shape, 132, plan).ok());
    device_buffer<float> workspace(plan.workspace_bytes / sizeof(float) + 4);
    const gpu::decode_tensors<bf16> t{q.ptr, out.ptr, kv.k.ptr, kv.v.ptr, table, 1.0f / 11.3137085f};
    REQUIRE(gpu::swa_decode(plan, t, workspace.ptr, workspace.size * sizeof(float), nullptr).ok());
    CUDA_REQUIRE(cudaDeviceSynchronize());
}

}  // namespace

TEST_CASE("disaggregation: moved requests keep every token's K/V and decode bit-identically") {
    using prefill_pool = hybrid_pool<>;
    using decode_pool = hybrid_pool<full_pool<lowest_index_first>, swa_pool<lowest_index_first>>;
    auto src = prefill_pool::create(pool_size{400}, pool_size{160}, P, W).value();
    auto dst = decode_pool::create(pool_size{700}, pool_size{200}, P, W).value();
    // Scatter the decode side's free pages: occupy, then free every other filler.
    std::vector<request_id> fillers;
    for (int i = 0; i < 6; ++i) {
        fillers.push_back(dst.add_request().value());
        REQUIRE(dst.extend(fillers.back(), 40 + 16 * i).ok());
        REQUIRE(dst.commit(fillers.back(), 40 + 16 * i).ok());
    }
    for (int i = 0; i < 6; i += 2) REQUIRE(dst.free_request(fillers[std::size_t(i)]).ok());

    layer_kv src_full(src.full().size().pages), src_swa(src.swa().size().pages);
    layer_kv dst_full(dst.full().size().pages), dst_swa(dst.swa().size().pages);
    std::vector<bf16> hk_full(src_full.k.size), hv_full(hk_full.size()), hk_swa(src_swa.k.size), hv_swa(hk_swa.size());
    std::mt19937 rng(2026);
    std::normal_distribution<float> normal;
    auto fill_row = [&](std::vector<bf16>& h, std::size_t at) {
        for (std::size_t e = 0; e < row_elems; ++e) h[at + e] = __float2bfloat16(normal(rng));
    };

    // Prefill on the source side in chunks, writing every token's K/V as its chunk is computed.
    const std::int64_t lengths[] = {37, 300, 700, 1000, 129};
    std::vector<request_id> batch;
    for (std::int64_t len : lengths) {
        const request_id r = src.add_request().value();
        batch.push_back(r);
        for (std::int64_t done = 0; done < len;) {
            const std::int64_t chunk = std::min<std::int64_t>(256, len - done);
            REQUIRE(src.extend(r, chunk).ok());
            for (std::int64_t t = done; t < done + chunk; ++t) {
                const auto page = std::size_t(t / P);
                fill_row(hk_full, row_at(src.full().pages(r)[page], t));
                fill_row(hv_full, row_at(src.full().pages(r)[page], t));
                fill_row(hk_swa, row_at(src.swa().pages(r)[page], t));
                fill_row(hv_swa, row_at(src.swa().pages(r)[page], t));
            }
            REQUIRE(src.commit(r, chunk).ok());
            done += chunk;
        }
    }
    src_full.k.upload(hk_full);
    src_full.v.upload(hv_full);
    src_swa.k.upload(hk_swa);
    src_swa.v.upload(hv_swa);

    const kv_layout full_layout{attention_kind::full, 1, P, kv_heads, head_dim, 2};
    const kv_layout swa_layout{attention_kind::sliding, 1, P, kv_heads, head_dim, 2};
    std::vector<request_id> moved;
    std::size_t swa_pages_moved = 0, full_pages_moved = 0, swa_in_window = 0;
    for (request_id r : batch) {
        auto ex = export_request(src, r);
        REQUIRE(ex.ok());
        auto imported = import_request(dst, ex.value());
        REQUIRE(imported.ok());
        const request_id d = imported.value();
        moved.push_back(d);
        // As if prefilled locally: same lengths, same window release, and a consistent mapping.
        CHECK(dst.full().length_tokens(d) == src.full().length_tokens(r));
        CHECK(dst.full().committed_tokens(d) == src.full().committed_tokens(r));
        CHECK(dst.swa().first_live_page(d) == src.swa().first_live_page(r));
        REQUIRE(dst.check_invariants().ok());
        const auto full_runs = joint_runs(ex.value().full_pages, dst.full().pages(d)).value();
        const auto swa_dst = dst.swa().pages(d).subspan(std::size_t(dst.swa().first_live_page(d)));
        const auto swa_runs = joint_runs(ex.value().swa_pages, swa_dst).value();
        if (moved.size() % 2 == 1) {  // page to page, as on one device
            CUDA_REQUIRE(gpu::copy_pages(full_layout, src_full.buffers(), dst_full.buffers(), full_runs, nullptr));
            CUDA_REQUIRE(gpu::copy_pages(swa_layout, src_swa.buffers(), dst_swa.buffers(), swa_runs, nullptr));
        } else {  // packed through a staging buffer, as the NCCL path sends it
            for (const auto& [layout, from, to, runs] :
                 {std::tuple{full_layout, src_full.buffers(), dst_full.buffers(), std::span<const page_run>(full_runs)},
                  std::tuple{swa_layout, src_swa.buffers(), dst_swa.buffers(), std::span<const page_run>(swa_runs)}}) {
                device_buffer<char> staging(std::size_t(gpu::packed_bytes(layout, runs)) + 16);
                CUDA_REQUIRE(gpu::gather_pages(layout, from, runs, staging.ptr, nullptr));
                CUDA_REQUIRE(gpu::scatter_pages(layout, to, runs, staging.ptr, nullptr));
                CUDA_REQUIRE(cudaDeviceSynchronize());
            }
        }
        full_pages_moved += ex.value().full_pages.size();
        const std::int64_t len = src.full().length_tokens(r);
        swa_in_window += std::size_t(pages_for_tokens(len, P) - dead_pages(len, W, P));
        swa_pages_moved += ex.value().swa_pages.size();
    }
    CUDA_REQUIRE(cudaDeviceSynchronize());
    CHECK(full_pages_moved == 3 + 19 + 44 + 63 + 9);  // ceil(length / 16) each
    CHECK(swa_pages_moved == swa_in_window);          // only in-window SWA pages travel: 3 + 9 + 9 + 9 + 9
    CHECK(swa_in_window == 39);

    // (1) KV integrity on the decode side: every token's rows, byte for byte.
    const auto dk_full = dst_full.k.download(), dv_full = dst_full.v.download(), dk_swa = dst_swa.k.download(),
               dv_swa = dst_swa.v.download();
    std::size_t rows_checked = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const request_id r = batch[i], d = moved[i];
        for (std::int64_t t = 0; t < src.full().length_tokens(r); ++t) {
            const auto page = std::size_t(t / P);
            const std::size_t s_at = row_at(src.full().pages(r)[page], t), d_at = row_at(dst.full().pages(d)[page], t);
            for (std::size_t e = 0; e < row_elems; ++e) {
                REQUIRE(bits(dk_full[d_at + e]) == bits(hk_full[s_at + e]));
                REQUIRE(bits(dv_full[d_at + e]) == bits(hv_full[s_at + e]));
            }
            ++rows_checked;
            if (static_cast<std::int64_t>(page) < src.swa().first_live_page(r)) continue;  // released: never moved
            const std::size_t s_swa = row_at(src.swa().pages(r)[page], t), d_swa = row_at(dst.swa().pages(d)[page], t);
            for (std::size_t e = 0; e < row_elems; ++e) {
                REQUIRE(bits(dk_swa[d_swa + e]) == bits(hk_swa[s_swa + e]));
                REQUIRE(bits(dv_swa[d_swa + e]) == bits(hv_swa[s_swa + e]));
            }
        }
    }
    CHECK(rows_checked == 37 + 300 + 700 + 1000 + 129);

    // (2) The same decode on both sides: identical bits, full layer (dense) and SWA layer (CSR).
    const std::size_t q_elems = batch.size() * q_heads * head_dim;
    std::vector<bf16> hq(q_elems);
    for (auto& x : hq) x = __float2bfloat16(normal(rng));
    device_buffer<bf16> q(q_elems), out_src(q_elems), out_dst(q_elems);
    q.upload(hq);
    for (int layer = 0; layer < 2; ++layer) {
        CUDA_REQUIRE(cudaMemset(out_src.ptr, 0xff, q_elems * 2));
        CUDA_REQUIRE(cudaMemset(out_dst.ptr, 0x7f, q_elems * 2));
        if (layer == 0) {
            decode_through(src.full(), batch, src_full, q, out_src, 0, 64);
            decode_through(dst.full(), moved, dst_full, q, out_dst, 0, 64);
        } else {
            decode_through(src.swa(), batch, src_swa, q, out_src, W, 64);
            decode_through(dst.swa(), moved, dst_swa, q, out_dst, W, 64);
        }
        const auto a = out_src.download(), b = out_dst.download();
        for (std::size_t i = 0; i < q_elems; ++i) {
            REQUIRE(bits(a[i]) == bits(b[i]));
            REQUIRE(std::isfinite(__bfloat162float(a[i])));
        }
    }
}

}  // namespace pagedkv::transfer_test
