// Host-tier copy bench (issue 17): execute_copy_plan moving a plan's pages between a device pool and
// pinned host pages, with either engine (kernel, dma), against one plain cudaMemcpyAsync of the same
// bytes between a pinned buffer and a device buffer, measured in the same run. Plans of 1024 pages
// per direction, as one run, runs of 8 pages and single pages scattered over the pool. Before
// timing, each engine's moved bytes are compared with the source pages.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "pagedkv/cuda/tier_copy.cuh"

using namespace pagedkv;

#define CK(x)                                                                                    \
    do {                                                                                         \
        cudaError_t e_ = (x);                                                                    \
        if (e_ != cudaSuccess) {                                                                 \
            std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
            std::exit(1);                                                                        \
        }                                                                                        \
    } while (0)

namespace {
// 8 layers of 8 KV heads x 128 dims in bf16, P = 16: 32 KiB per page of one layer's K (or V),
// 512 KiB per page over all of them.
constexpr kv_layout layout{attention_kind::full, 8, 16, 8, 128, 2};
constexpr int gpu_pages = 4097, host_pages = 4097, plan_pages = 1024, reps = 10;

struct buffers {
    std::vector<void*> k, v;
    bool pinned;
    buffers(int pages, bool host) : pinned(host) {
        for (int l = 0; l < layout.layers; ++l)
            for (auto* list : {&k, &v}) {
                void* p = nullptr;
                const std::size_t bytes = std::size_t(pages) * layout.page_bytes();
                if (host) {
                    CK(cudaMallocHost(&p, bytes));
                    std::memset(p, 7 + l + (list == &v ? 50 : 0), bytes);
                } else {
                    CK(cudaMalloc(&p, bytes));
                    CK(cudaMemset(p, 100 + l + (list == &v ? 50 : 0), bytes));
                }
                list->push_back(p);
            }
    }
    ~buffers() {
        for (auto* list : {&k, &v})
            for (void* p : *list) pinned ? (void)cudaFreeHost(p) : (void)cudaFree(p);
    }
    gpu::kv_buffers bufs() const { return {k, v}; }
};

// `plan_pages` pages in runs of `run` pages, sources and destinations each a random permutation of
// run-aligned slots (so no page is named twice), in `list` (loads or write-backs).
copy_plan make_plan(int run, bool loads, std::mt19937& rng) {
    const int slots = (std::min(gpu_pages, host_pages) - 1) / run;
    std::vector<int> src(static_cast<std::size_t>(slots)), dst(src.size());
    std::iota(src.begin(), src.end(), 0);
    std::iota(dst.begin(), dst.end(), 0);
    std::shuffle(src.begin(), src.end(), rng);
    std::shuffle(dst.begin(), dst.end(), rng);
    copy_plan plan;
    auto& list = loads ? plan.loads : plan.write_backs;
    for (int i = 0; i < plan_pages / run; ++i)
        list.push_back({1 + src[std::size_t(i)] * run, 1 + dst[std::size_t(i)] * run, run});
    if (run == plan_pages) list = {{1, 1, plan_pages}};
    return plan;
}

template <class F>
float median_ms(F&& f, cudaStream_t s) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    f();  // warm-up
    CK(cudaStreamSynchronize(s));
    std::vector<float> ms;
    for (int i = 0; i < reps; ++i) {
        CK(cudaEventRecord(a, s));
        f();
        CK(cudaEventRecord(b, s));
        CK(cudaEventSynchronize(b));
        float t = 0;
        CK(cudaEventElapsedTime(&t, a, b));
        ms.push_back(t);
    }
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
}

// The plan's first and last runs moved exactly the source bytes (layer 0's K and the last layer's V).
bool moved_right(const copy_plan& plan, const buffers& dev, const buffers& host) {
    const bool loads = !plan.loads.empty();
    const auto& runs = loads ? plan.loads : plan.write_backs;
    const std::size_t page = static_cast<std::size_t>(layout.page_bytes());
    const auto last = static_cast<std::size_t>(layout.layers - 1);
    const std::pair<const void*, const void*> sides[] = {{dev.k[0], host.k[0]}, {dev.v[last], host.v[last]}};
    for (const copy_run& r : {runs.front(), runs.back()})
        for (const auto& [d, h] : sides) {
            std::vector<char> got(std::size_t(r.count) * page);
            const std::size_t dev_page = std::size_t(loads ? r.dst : r.src),
                              host_page = std::size_t(loads ? r.src : r.dst);
            CK(cudaMemcpy(got.data(), static_cast<const char*>(d) + dev_page * page, got.size(),
                          cudaMemcpyDeviceToHost));
            if (std::memcmp(got.data(), static_cast<const char*>(h) + host_page * page, got.size()) != 0) return false;
        }
    return true;
}
}  // namespace

int main() {
    int device = 0;
    cudaDeviceProp prop{};
    CK(cudaGetDevice(&device));
    CK(cudaGetDeviceProperties(&prop, device));
    std::printf(
        "tier_copy: %s; layout %d layers x K,V x %lld B pages (%lld KiB per page, all layers); %d pages per plan "
        "(%.1f MiB); median of %d\n",
        prop.name, layout.layers, static_cast<long long>(layout.page_bytes()),
        static_cast<long long>(2 * layout.layers * layout.page_bytes() / 1024), plan_pages,
        double(plan_pages) * 2 * layout.layers * layout.page_bytes() / (1024.0 * 1024.0), reps);
    buffers dev(gpu_pages, false), host(host_pages, true);
    cudaStream_t s;
    CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    // The floor: one copy of the same bytes between one pinned buffer and one device buffer.
    const std::size_t bytes = std::size_t(plan_pages) * 2 * layout.layers * layout.page_bytes();
    void *plain_host = nullptr, *plain_dev = nullptr;
    CK(cudaMallocHost(&plain_host, bytes));
    CK(cudaMalloc(&plain_dev, bytes));
    std::memset(plain_host, 1, bytes);
    std::mt19937 rng(17);
    std::printf(
        "\n| direction | runs | engine | calls | ms | GB/s | plain cudaMemcpyAsync GB/s | ratio "
        "|\n|---|---|---|---|---|---|---|---|\n");
    bool all_right = true;
    for (const bool loads : {true, false}) {
        const float plain_ms = median_ms(
            [&] {
                CK(loads ? cudaMemcpyAsync(plain_dev, plain_host, bytes, cudaMemcpyHostToDevice, s)
                         : cudaMemcpyAsync(plain_host, plain_dev, bytes, cudaMemcpyDeviceToHost, s));
            },
            s);
        const double plain_gbs = double(bytes) / (plain_ms * 1e6);
        for (const int run : {plan_pages, 8, 1}) {
            const copy_plan plan = make_plan(run, loads, rng);
            for (const gpu::copy_engine engine : {gpu::copy_engine::kernel, gpu::copy_engine::dma}) {
                CK(gpu::execute_copy_plan(layout, dev.bufs(), host.bufs(), plan, s, engine));
                CK(cudaStreamSynchronize(s));
                const bool right = moved_right(plan, dev, host);
                all_right &= right;
                const float ms =
                    median_ms([&] { CK(gpu::execute_copy_plan(layout, dev.bufs(), host.bufs(), plan, s, engine)); }, s);
                const double gbs = double(gpu::plan_bytes(layout, plan)) / (ms * 1e6);
                const std::size_t n_runs = loads ? plan.loads.size() : plan.write_backs.size();
                const std::size_t calls =
                    engine == gpu::copy_engine::kernel ? (n_runs + 511) / 512 : n_runs * 2 * layout.layers;
                std::printf("| %s | %zu x %d pages | %s | %zu | %.3f | %.1f | %.1f | %.2fx |%s\n",
                            loads ? "host -> device (loads)" : "device -> host (write-backs)", n_runs, run,
                            engine == gpu::copy_engine::kernel ? "kernel" : "dma", calls, ms, gbs, plain_gbs,
                            gbs / plain_gbs, right ? "" : " WRONG BYTES");
            }
        }
    }
    CK(cudaFreeHost(plain_host));
    CK(cudaFree(plain_dev));
    CK(cudaStreamDestroy(s));
    std::printf("\ntier_copy: %s\n", all_right ? "every plan moved its source bytes" : "A PLAN MOVED WRONG BYTES");
    return all_right ? 0 : 1;
}
