// Disaggregation bench (issue 9): moving requests' KV pages between two pools, as coalesced page
// runs, against plain-buffer copies of the same byte count measured in the same run:
//   copy_pages (cudaMemcpyAsync per run)  vs  one cudaMemcpyAsync of the same bytes;
//   NCCL: pack the runs, one send/recv, unpack  vs  one NCCL send/recv of a plain buffer of the same bytes.
// One GPU: NCCL runs a one-rank communicator sending to itself (the two-GPU path needs a two-GPU
// machine). Before timing, the NCCL-moved bytes are compared with the copy-moved bytes.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "pagedkv/cuda/kv_transfer.cuh"
#include "pagedkv/dist/request_transfer.hpp"
#include "pagedkv/alloc/lowest_index_first.hpp"
#include "pagedkv/pool/hybrid_pool.hpp"

using namespace pagedkv;

#define CK(x)                                                                                    \
    do {                                                                                         \
        cudaError_t e_ = (x);                                                                    \
        if (e_ != cudaSuccess) {                                                                 \
            std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
            std::exit(1);                                                                        \
        }                                                                                        \
    } while (0)
#ifdef PAGEDKV_WITH_NCCL
#define NK(x)                                                                                    \
    do {                                                                                         \
        ncclResult_t r_ = (x);                                                                   \
        if (r_ != ncclSuccess) {                                                                 \
            std::printf("NCCL error %s at %s:%d\n", ncclGetErrorString(r_), __FILE__, __LINE__); \
            std::exit(1);                                                                        \
        }                                                                                        \
    } while (0)
#endif

namespace {
constexpr int P = 16, W = 1024, requests = 16, context = 8192;
constexpr kv_layout full_layout{attention_kind::full, 4, P, 8, 128, 2};
constexpr kv_layout swa_layout{attention_kind::sliding, 8, P, 8, 128, 2};

struct pool_kv {
    std::vector<void*> k, v;
    pool_kv(const kv_layout& l, int pages) {
        for (int i = 0; i < l.layers; ++i) {
            void *a, *b;
            CK(cudaMalloc(&a, std::size_t(pages) * l.page_bytes()));
            CK(cudaMalloc(&b, std::size_t(pages) * l.page_bytes()));
            CK(cudaMemset(a, i + 1, std::size_t(pages) * l.page_bytes()));
            CK(cudaMemset(b, i + 101, std::size_t(pages) * l.page_bytes()));
            k.push_back(a);
            v.push_back(b);
        }
    }
    gpu::kv_buffers bufs() const { return {k, v}; }
};

template <class F>
float median_ms(F&& f, int reps = 21) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    f();  // warm-up
    std::vector<float> ms;
    for (int i = 0; i < reps; ++i) {
        CK(cudaEventRecord(a));
        f();
        CK(cudaEventRecord(b));
        CK(cudaEventSynchronize(b));
        float t;
        CK(cudaEventElapsedTime(&t, a, b));
        ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}
}  // namespace

int main() {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("kv_transfer: no CUDA device visible: skipping\n");
        return 0;
    }
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    using dst_pool = hybrid_pool<full_pool<lowest_index_first>, swa_pool<lowest_index_first>>;
    const int full_pages = requests * (context / P) + 1 + 4096, swa_pages = requests * (W / P + 2) + 1 + 1024;
    auto src = hybrid_pool<>::create(pool_size{full_pages}, pool_size{swa_pages}, P, W).value();
    auto dst = dst_pool::create(pool_size{full_pages}, pool_size{swa_pages}, P, W).value();
    // Fragment the decode side: small fillers, every other one freed.
    std::vector<request_id> fillers;
    for (int i = 0; i < 512; ++i) {
        fillers.push_back(dst.add_request().value());
        (void)dst.extend(fillers.back(), 3 * P);
        (void)dst.commit(fillers.back(), 3 * P);
    }
    for (std::size_t i = 0; i < fillers.size(); i += 2) (void)dst.free_request(fillers[i]);

    std::vector<page_run> full_runs, swa_runs;
    std::size_t full_moved = 0, swa_moved = 0;
    for (int i = 0; i < requests; ++i) {
        const request_id r = src.add_request().value();
        for (int done = 0; done < context; done += 512) {
            (void)src.extend(r, 512);
            (void)src.commit(r, 512);
        }
        const auto ex = export_request(src, r).value();
        const request_id d = import_request(dst, ex).value();
        const auto f = joint_runs(ex.full_pages, dst.full().pages(d)).value();
        const auto s =
            joint_runs(ex.swa_pages, dst.swa().pages(d).subspan(std::size_t(dst.swa().first_live_page(d)))).value();
        full_runs.insert(full_runs.end(), f.begin(), f.end());
        swa_runs.insert(swa_runs.end(), s.begin(), s.end());
        full_moved += ex.full_pages.size();
        swa_moved += ex.swa_pages.size();
    }
    if (!dst.check_invariants()) return 1;
    const double bytes = 2.0 * (double(full_moved) * full_layout.page_bytes() * full_layout.layers +
                                double(swa_moved) * swa_layout.page_bytes() * swa_layout.layers);
    pool_kv src_full(full_layout, full_pages), dst_full(full_layout, full_pages);
    pool_kv src_swa(swa_layout, swa_pages), dst_swa(swa_layout, swa_pages);
    void *plain_a, *plain_b;
    CK(cudaMalloc(&plain_a, std::size_t(bytes)));
    CK(cudaMalloc(&plain_b, std::size_t(bytes)));
    CK(cudaMemset(plain_a, 7, std::size_t(bytes)));

    auto copy_runs = [&] {
        CK(gpu::copy_pages(full_layout, src_full.bufs(), dst_full.bufs(), full_runs, nullptr));
        CK(gpu::copy_pages(swa_layout, src_swa.bufs(), dst_swa.bufs(), swa_runs, nullptr));
    };
    const float t_runs = median_ms(copy_runs);
    const float t_plain =
        median_ms([&] { CK(cudaMemcpyAsync(plain_b, plain_a, std::size_t(bytes), cudaMemcpyDeviceToDevice)); });
    std::printf(
        "device: %s; moved %d requests of %d tokens: %zu full pages x %d layers, %zu in-window SWA pages x %d layers "
        "(of %d SWA pages a full copy would move), %zu + %zu runs, %.1f MB\n",
        prop.name, requests, context, full_moved, full_layout.layers, swa_moved, swa_layout.layers,
        requests * context / P, full_runs.size(), swa_runs.size(), bytes / 1e6);
    std::printf("%-34s %10s %10s %8s\n", "path", "ms", "GB/s", "ratio");
    std::printf("%-34s %10.3f %10.1f %8s\n", "memcpy, one plain buffer", t_plain, bytes / t_plain / 1e6, "1.00");
    std::printf("%-34s %10.3f %10.1f %8.2f\n", "copy_pages, coalesced runs", t_runs, bytes / t_runs / 1e6,
                t_plain / t_runs);
#ifdef PAGEDKV_WITH_NCCL
    ncclComm_t comm;
    int dev = 0;
    NK(ncclCommInitAll(&comm, 1, &dev));
    // One rank sending to itself: pack, one send/recv pair in a group, unpack (what
    // nccl_send_pages / nccl_recv_pages do on two ranks, where no group is needed).
    const auto full_bytes = std::size_t(gpu::packed_bytes(full_layout, full_runs));
    const auto swa_bytes = std::size_t(gpu::packed_bytes(swa_layout, swa_runs));
    char *stage_out, *stage_in;
    CK(cudaMalloc(&stage_out, full_bytes + swa_bytes));
    CK(cudaMalloc(&stage_in, full_bytes + swa_bytes));
    auto nccl_runs = [&] {
        CK(gpu::gather_pages(full_layout, src_full.bufs(), full_runs, stage_out, nullptr));
        CK(gpu::gather_pages(swa_layout, src_swa.bufs(), swa_runs, stage_out + full_bytes, nullptr));
        NK(ncclGroupStart());
        NK(ncclSend(stage_out, full_bytes + swa_bytes, ncclUint8, 0, comm, nullptr));
        NK(ncclRecv(stage_in, full_bytes + swa_bytes, ncclUint8, 0, comm, nullptr));
        NK(ncclGroupEnd());
        CK(gpu::scatter_pages(full_layout, dst_full.bufs(), full_runs, stage_in, nullptr));
        CK(gpu::scatter_pages(swa_layout, dst_swa.bufs(), swa_runs, stage_in + full_bytes, nullptr));
    };
    // Correctness first: from a zeroed destination, what NCCL moves must equal what copy_pages moves.
    const std::size_t layer_bytes = std::size_t(full_pages) * full_layout.page_bytes();
    for (void* p : dst_full.k) CK(cudaMemset(p, 0, layer_bytes));
    copy_runs();
    std::vector<std::vector<char>> expect;
    for (void* p : dst_full.k) {
        expect.emplace_back(layer_bytes);
        CK(cudaMemcpy(expect.back().data(), p, layer_bytes, cudaMemcpyDeviceToHost));
        CK(cudaMemset(p, 0, layer_bytes));
    }
    nccl_runs();
    CK(cudaDeviceSynchronize());
    int version = 0;
    NK(ncclGetVersion(&version));
    for (std::size_t i = 0; i < dst_full.k.size(); ++i) {
        std::vector<char> got(expect[i].size());
        CK(cudaMemcpy(got.data(), dst_full.k[i], got.size(), cudaMemcpyDeviceToHost));
        if (got != expect[i]) {
            std::size_t bad = 0, first = got.size();
            for (std::size_t b = 0; b < got.size(); ++b)
                if (got[b] != expect[i][b]) {
                    ++bad;
                    first = std::min(first, b);
                }
            std::printf(
                "NCCL %d: moved bytes differ from copy_pages in full layer %zu: %zu bytes, first at page %lld\n",
                version, i, bad, static_cast<long long>(first / std::size_t(full_layout.page_bytes())));
            return 1;
        }
    }
    std::printf("NCCL-moved K bytes of every full layer match copy_pages\n");
    const float t_nccl_runs = median_ms(nccl_runs);
    const float t_nccl_plain = median_ms([&] {
        NK(ncclGroupStart());
        NK(ncclSend(plain_a, std::size_t(bytes), ncclUint8, 0, comm, nullptr));
        NK(ncclRecv(plain_b, std::size_t(bytes), ncclUint8, 0, comm, nullptr));
        NK(ncclGroupEnd());
    });
    std::printf("%-34s %10.3f %10.1f %8s\n", "NCCL, one plain buffer", t_nccl_plain, bytes / t_nccl_plain / 1e6,
                "1.00");
    std::printf("%-34s %10.3f %10.1f %8.2f\n", "NCCL, pages packed + unpacked", t_nccl_runs, bytes / t_nccl_runs / 1e6,
                t_nccl_plain / t_nccl_runs);
    NK(ncclCommDestroy(comm));
    CK(cudaFree(stage_out));
    CK(cudaFree(stage_in));
#else
    std::printf("(built without PAGEDKV_WITH_NCCL: NCCL rows skipped)\n");
#endif
    return 0;
}
