// The host tier's copy plans on the GPU (cuda/tier_copy.cuh): a tiered full caching pool whose
// evicted pages are written back to pinned host pages and loaded back on a hit, the plans run by
// execute_copy_plan with either engine; the KV-integrity probes then confirm every request reads
// exactly its own tokens, and the host pages hold exactly the device pages' bytes.
#include <doctest/doctest.h>

#include "gpu_test_helpers.cuh"

#include <cuda_bf16.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "pagedkv/cuda/kv_integrity.cuh"
#include "pagedkv/cuda/tier_copy.cuh"
#include "pagedkv/pool/tiered_hybrid_pool.hpp"
#include "pagedkv/pool/tiered_pool.hpp"
#include "pagedkv/table/csr_table.hpp"
#include "pagedkv/table/slot_mapping.hpp"

namespace pagedkv::tier_copy_test {
namespace {

using bf16 = __nv_bfloat16;
using tiered = tiered_full_pool<lru>;
using pagedkv::test::device_buffer;
constexpr int P = 16, kv_heads = 2, head_dim = 64;
constexpr kv_layout layout{attention_kind::full, 1, P, kv_heads, head_dim, 2};

// One layer's K and V: device buffers of the GPU pool's pages, pinned host buffers of the tier's.
struct tier_kv {
    device_buffer<bf16> k, v;
    bf16 *host_k = nullptr, *host_v = nullptr;
    std::size_t host_elems;
    void* dk[1];
    void* dv[1];
    void* hk[1];
    void* hv[1];
    tier_kv(int gpu_pages, int host_pages)
        : k(std::size_t(gpu_pages) * layout.page_bytes() / 2),
          v(k.size),
          host_elems(std::size_t(host_pages) * layout.page_bytes() / 2) {
        k.poison();
        v.poison();
        CUDA_REQUIRE(cudaMallocHost(&host_k, host_elems * sizeof(bf16)));
        CUDA_REQUIRE(cudaMallocHost(&host_v, host_elems * sizeof(bf16)));
        std::memset(static_cast<void*>(host_k), 0xff, host_elems * sizeof(bf16));  // NaN until written
        std::memset(static_cast<void*>(host_v), 0xff, host_elems * sizeof(bf16));
        dk[0] = k.ptr, dv[0] = v.ptr, hk[0] = host_k, hv[0] = host_v;
    }
    tier_kv(const tier_kv&) = delete;
    tier_kv& operator=(const tier_kv&) = delete;
    ~tier_kv() {
        cudaFreeHost(host_k);
        cudaFreeHost(host_v);
    }
    gpu::kv_buffers device() { return {dk, dv}; }
    gpu::kv_buffers host() { return {hk, hv}; }
};

std::vector<token_id> seq(std::int32_t n, token_id first) {
    std::vector<token_id> t(static_cast<std::size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}

// The forward pass of r's tokens in flight: probe rows of content `tag` at their slots, then a keyed commit.
void forward(tiered& pool, tier_kv& kv, request_id r, std::uint32_t tag, const std::vector<token_id>& tokens) {
    const std::int64_t from = pool.gpu().committed_tokens(r), n = pool.gpu().length_tokens(r) - from;
    const request_id one[] = {r};
    std::vector<std::int64_t> slots(static_cast<std::size_t>(n));
    REQUIRE(emit_slot_mapping(pool.gpu(), one, slots).value() == n);
    std::vector<std::uint32_t> tags(slots.size(), tag);
    std::vector<std::int32_t> positions(slots.size());
    std::iota(positions.begin(), positions.end(), static_cast<std::int32_t>(from));
    device_buffer<std::int64_t> d_slots(slots);
    device_buffer<std::uint32_t> d_tags(tags);
    device_buffer<std::int32_t> d_pos(positions);
    CUDA_REQUIRE(
        gpu::write_kv_probes(kv.k.ptr, kv.v.ptr, kv_heads, head_dim, d_slots.ptr, d_tags.ptr, d_pos.ptr, n, nullptr));
    CUDA_REQUIRE(cudaDeviceSynchronize());
    REQUIRE(pool.commit(r, n, tokens).ok());
}

// Offending tokens among r's committed ones, which must spell content `tag` (its CSR row).
unsigned offenders(const tiered& pool, tier_kv& kv, request_id r, std::uint32_t tag) {
    const request_id one[] = {r};
    std::vector<std::int32_t> indptr(2), indices(pool.gpu().pages(r).size() + 1), last(1);
    REQUIRE(emit_csr_table(pool.gpu(), one, {indptr, indices, last}).ok());
    device_buffer<std::int32_t> d_indptr(indptr), d_indices(indices), d_last(last);
    const auto committed = static_cast<std::int32_t>(pool.gpu().committed_tokens(r));
    device_buffer<std::uint32_t> d_tag(std::vector<std::uint32_t>{tag});
    device_buffer<std::int32_t> d_len(std::vector<std::int32_t>{committed});
    device_buffer<gpu::kv_probe_report> report(1);
    pagedkv::test::upload(report.ptr, gpu::kv_probe_report{});
    CUDA_REQUIRE(gpu::check_kv_probes(kv.k.ptr, kv.v.ptr,
                                      gpu::page_table_view::csr(d_indptr.ptr, d_indices.ptr, d_last.ptr), 1, P, 0,
                                      pool.gpu().size().pages, kv_heads, head_dim,
                                      gpu::kv_probe_expect{d_tag.ptr, d_len.ptr, d_len.ptr}, report.ptr, nullptr));
    return report.download(1)[0].offenders;
}

// Which of a plan's copies run_plan executes: all, or only the write-backs (the control that shows
// the probes catch pages that were not loaded).
enum class plan_part : bool { all, write_backs_only };

// Runs the step's plan on the GPU, waits for it and completes it.
void run_plan(tiered& pool, tier_kv& kv, gpu::copy_engine engine, plan_part part = plan_part::all) {
    const copy_plan& plan = pool.take_plan();
    copy_plan ran = plan;
    if (part == plan_part::write_backs_only) ran.loads.clear();
    CUDA_REQUIRE(gpu::execute_copy_plan(layout, kv.device(), kv.host(), ran, nullptr, engine));
    CUDA_REQUIRE(cudaDeviceSynchronize());
    REQUIRE(pool.complete(plan));
}

}  // namespace

TEST_CASE("host tier on the GPU: write-backs copy the device pages' bytes, a host hit loads them back") {
    for (const gpu::copy_engine engine : {gpu::copy_engine::kernel, gpu::copy_engine::dma}) {
        CAPTURE(static_cast<int>(engine));
        auto pool = tiered::create(pool_size{9}, pool_size{17}, P).value();  // 8 GPU pages, 16 host pages
        tier_kv kv(9, 17);
        const auto a = seq(97, 100), b = seq(128, 5000);  // a: 6 whole pages (the last token never hits)
        const request_id ra = pool.add_request().value();
        REQUIRE(pool.extend(ra, 97).ok());
        run_plan(pool, kv, engine);
        forward(pool, kv, ra, 1, a);
        CHECK(offenders(pool, kv, ra, 1) == 0);
        REQUIRE(pool.free_request(ra).ok());  // 6 pages cached

        const request_id rb = pool.add_request().value();
        REQUIRE(pool.extend(rb, 128).ok());  // 8 pages: evicts a's 6, written back
        const copy_plan& wb = pool.take_plan();
        CHECK(copy_plan::pages(wb.write_backs) == 6);
        CHECK(gpu::plan_bytes(layout, wb) == 6 * 2 * layout.page_bytes());
        CUDA_REQUIRE(gpu::execute_copy_plan(layout, kv.device(), kv.host(), wb, nullptr, engine));
        CUDA_REQUIRE(cudaDeviceSynchronize());
        const std::size_t page_elems = static_cast<std::size_t>(layout.page_bytes()) / 2;
        for (const copy_run& run : wb.write_backs)  // byte for byte, K and V
            for (std::int32_t i = 0; i < run.count; ++i) {
                const auto dev_k =
                    pagedkv::test::download(kv.k.ptr + std::size_t(run.src + i) * page_elems, std::int64_t(page_elems));
                const auto dev_v =
                    pagedkv::test::download(kv.v.ptr + std::size_t(run.src + i) * page_elems, std::int64_t(page_elems));
                CHECK(std::memcmp(dev_k.data(), kv.host_k + std::size_t(run.dst + i) * page_elems,
                                  layout.page_bytes()) == 0);
                CHECK(std::memcmp(dev_v.data(), kv.host_v + std::size_t(run.dst + i) * page_elems,
                                  layout.page_bytes()) == 0);
            }
        REQUIRE(pool.complete(wb));
        forward(pool, kv, rb, 2, b);  // overwrites a's former pages with b's rows
        REQUIRE(pool.free_request(rb).ok());

        const request_id rc = pool.add_request().value();
        REQUIRE(pool.attach_prefix(rc, a).value() == tier_hit{0, 96});
        CHECK_FALSE(pool.request_ready(rc));
        run_plan(pool, kv, engine);  // b's evicted pages written back, then a's loaded
        CHECK(pool.request_ready(rc));
        CHECK(offenders(pool, kv, rc, 1) == 0);  // c reads a's 96 tokens, loaded from the host
        REQUIRE(pool.free_request(rc).ok());

        const request_id rd = pool.add_request().value();
        const tier_hit hd = pool.attach_prefix(rd, seq(129, 5000)).value();
        CHECK(hd.tokens() == 128);  // b's 8 pages: those still cached and the rest from the host
        CHECK(hd.host_tokens > 0);
        run_plan(pool, kv, engine);
        CHECK(offenders(pool, kv, rd, 2) == 0);
        CHECK(pool.check_invariants().ok());
    }
}

TEST_CASE("host tier on the GPU: the probes catch a plan whose loads did not run") {
    auto pool = tiered::create(pool_size{9}, pool_size{17}, P).value();
    tier_kv kv(9, 17);
    const auto a = seq(97, 100), b = seq(128, 5000);
    const request_id ra = pool.add_request().value();
    REQUIRE(pool.extend(ra, 97).ok());
    forward(pool, kv, ra, 1, a);
    REQUIRE(pool.free_request(ra).ok());
    const request_id rb = pool.add_request().value();
    REQUIRE(pool.extend(rb, 128).ok());
    run_plan(pool, kv, gpu::copy_engine::kernel);
    forward(pool, kv, rb, 2, b);
    REQUIRE(pool.free_request(rb).ok());
    const request_id rc = pool.add_request().value();
    REQUIRE(pool.attach_prefix(rc, a).value() == tier_hit{0, 96});
    run_plan(pool, kv, gpu::copy_engine::kernel, plan_part::write_backs_only);
    CHECK(offenders(pool, kv, rc, 1) == 96);  // every token still holds b's rows
}

// ---- the hybrid (SWA-aware) tier: full and SWA layers, each plan run by execute_copy_plan -----------

namespace {

using tiered_hybrid = tiered_hybrid_pool<lru>;
constexpr std::int64_t window = 32;  // a hit of H tokens needs the SWA pages from (H - 31) / 16 on

// The forward pass of r's tokens in flight into both layer kinds' caches, then a keyed commit.
void forward(tiered_hybrid& pool, tier_kv& full, tier_kv& swa, request_id r, std::uint32_t tag,
             const std::vector<token_id>& tokens) {
    const std::int64_t from = pool.gpu().full().committed_tokens(r), n = pool.gpu().full().length_tokens(r) - from;
    const request_id one[] = {r};
    std::vector<std::int64_t> full_slots(static_cast<std::size_t>(n)), swa_slots(full_slots.size());
    REQUIRE(emit_slot_mapping(pool.gpu().full(), one, full_slots).value() == n);
    REQUIRE(emit_slot_mapping(pool.gpu().swa(), one, swa_slots).value() == n);
    std::vector<std::uint32_t> tags(full_slots.size(), tag);
    std::vector<std::int32_t> positions(full_slots.size());
    std::iota(positions.begin(), positions.end(), static_cast<std::int32_t>(from));
    device_buffer<std::int64_t> d_full(full_slots), d_swa(swa_slots);
    device_buffer<std::uint32_t> d_tags(tags);
    device_buffer<std::int32_t> d_pos(positions);
    CUDA_REQUIRE(gpu::write_kv_probes(full.k.ptr, full.v.ptr, kv_heads, head_dim, d_full.ptr, d_tags.ptr, d_pos.ptr, n,
                                      nullptr));
    CUDA_REQUIRE(
        gpu::write_kv_probes(swa.k.ptr, swa.v.ptr, kv_heads, head_dim, d_swa.ptr, d_tags.ptr, d_pos.ptr, n, nullptr));
    CUDA_REQUIRE(cudaDeviceSynchronize());
    REQUIRE(pool.commit(r, n, tokens).ok());
}

// Offending tokens among those r's row of `view` must hold (an SWA view: from its first live page).
template <class View>
unsigned offenders(const View& view, tier_kv& kv, request_id r, std::uint32_t tag, std::int64_t w) {
    const request_id one[] = {r};
    std::vector<std::int32_t> indptr(2), indices(view.pages(r).size() + 1), last(1);
    REQUIRE(emit_csr_table(view, one, {indptr, indices, last}).ok());
    device_buffer<std::int32_t> d_indptr(indptr), d_indices(indices), d_last(last);
    const auto committed = static_cast<std::int32_t>(view.committed_tokens(r));
    device_buffer<std::uint32_t> d_tag(std::vector<std::uint32_t>{tag});
    device_buffer<std::int32_t> d_len(std::vector<std::int32_t>{committed});
    device_buffer<gpu::kv_probe_report> report(1);
    pagedkv::test::upload(report.ptr, gpu::kv_probe_report{});
    CUDA_REQUIRE(gpu::check_kv_probes(kv.k.ptr, kv.v.ptr,
                                      gpu::page_table_view::csr(d_indptr.ptr, d_indices.ptr, d_last.ptr), 1, P,
                                      static_cast<int>(w), view.size().pages, kv_heads, head_dim,
                                      gpu::kv_probe_expect{d_tag.ptr, d_len.ptr, d_len.ptr}, report.ptr, nullptr));
    return report.download(1)[0].offenders;
}

// Both plans of the step on the GPU (the SWA loads left out with `write_backs_only`), then complete.
void run_plan(tiered_hybrid& pool, tier_kv& full, tier_kv& swa, plan_part part = plan_part::all) {
    const hybrid_copy_plan& plan = pool.take_plan();
    copy_plan swa_ran = plan.swa;
    if (part == plan_part::write_backs_only) swa_ran.loads.clear();
    CUDA_REQUIRE(gpu::execute_copy_plan(layout, full.device(), full.host(), plan.full, nullptr));
    CUDA_REQUIRE(gpu::execute_copy_plan(layout, swa.device(), swa.host(), swa_ran, nullptr));
    CUDA_REQUIRE(cudaDeviceSynchronize());
    REQUIRE(pool.complete(plan));
}

}  // namespace

TEST_CASE("host tier on the GPU: a hybrid pool's host hit loads its full pages and its window's SWA pages") {
    for (const plan_part part : {plan_part::all, plan_part::write_backs_only}) {
        CAPTURE(static_cast<int>(part));
        auto pool = tiered_hybrid::create(pool_size{9}, pool_size{9}, pool_size{17}, pool_size{17}, P, window).value();
        tier_kv full(9, 17), swa(9, 17);
        const auto a = seq(97, 100), b = seq(128, 5000);
        const request_id ra = pool.add_request().value();
        REQUIRE(pool.extend(ra, 97).ok());
        forward(pool, full, swa, ra, 1, a);
        REQUIRE(pool.free_request(ra).ok());  // 6 full pages cached, with their 6 SWA pages
        const request_id rb = pool.add_request().value();
        REQUIRE(pool.extend(rb, 128).ok());  // evicts them: 6 full and 6 SWA write-backs
        CHECK(pool.swa_stats().written_back_pages == 6);
        run_plan(pool, full, swa);
        forward(pool, full, swa, rb, 2, b);
        REQUIRE(pool.free_request(rb).ok());
        const request_id rc = pool.add_request().value();
        REQUIRE(pool.attach_prefix(rc, a).value() == tier_hit{0, 96});
        CHECK(pool.swa_stats().loaded_pages == 2);  // H = 96: SWA pages 4 and 5 only
        run_plan(pool, full, swa, part);
        CHECK(offenders(pool.gpu().full(), full, rc, 1, 0) == 0);
        // The window's 32 tokens in the SWA layer: loaded, or, without the SWA loads, b's rows.
        CHECK(offenders(pool.gpu().swa(), swa, rc, 1, window) == (part == plan_part::all ? 0u : 32u));
        CHECK(pool.check_invariants().ok());
    }
}

}  // namespace pagedkv::tier_copy_test
