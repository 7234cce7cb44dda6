// bench/swa_decode: achieved bandwidth of swa_decode (in-window K/V bytes + Q + O over kernel time)
// as a ratio to the device-to-device copy bandwidth measured in the same run.
// Usage: swa_decode [--csv FILE] [--quick] [--small] [--splits-sweep]  (--splits-sweep: also 2x and 4x the
// plan's split count, each checked against the plan's output; the small-batch split choice)
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pagedkv/cuda/swa_decode.cuh"

using namespace pagedkv::gpu;
using bf16 = __nv_bfloat16;

namespace {

void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) {
        std::fprintf(stderr, "swa_decode bench: %s: %s\n", what, cudaGetErrorString(e));
        std::exit(1);
    }
}

template <class T>
T* device_alloc(std::size_t n) {
    T* p = nullptr;
    check(cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(T)), "cudaMalloc");
    return p;
}

__global__ void fill_random(bf16* x, std::size_t n, std::uint64_t seed) {
    for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
         i += std::size_t{gridDim.x} * blockDim.x) {
        std::uint64_t h = (i + seed) * 0x9E3779B97F4A7C15ull;
        h ^= h >> 31;
        h *= 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
        x[i] = __float2bfloat16(static_cast<float>(h >> 40) / static_cast<float>(1ull << 23) - 1.f);
    }
}

// Median over `reps` launches of `launch(i)`, each timed alone with a pair of events.
template <class F>
float median_ms(int reps, F&& launch) {
    cudaEvent_t a, b;
    check(cudaEventCreate(&a), "event");
    check(cudaEventCreate(&b), "event");
    for (int i = 0; i < 3; ++i) launch(i);  // warm-up
    std::vector<float> ms;
    for (int i = 0; i < reps; ++i) {
        check(cudaEventRecord(a), "record");
        launch(i);
        check(cudaEventRecord(b), "record");
        check(cudaEventSynchronize(b), "sync");
        float t = 0;
        check(cudaEventElapsedTime(&t, a, b), "elapsed");
        ms.push_back(t);
    }
    check(cudaGetLastError(), "launch");
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::nth_element(ms.begin(), ms.begin() + reps / 2, ms.end());
    return ms[static_cast<std::size_t>(reps / 2)];
}

// Median over `reps` batches of `per` back-to-back launches (one event pair per batch), per launch:
// the steady state of a graph-captured decode step, where launch latency overlaps the previous kernel.
template <class F>
float median_ms_back_to_back(int reps, int per, F&& launch) {
    cudaEvent_t a, b;
    check(cudaEventCreate(&a), "event");
    check(cudaEventCreate(&b), "event");
    std::vector<float> ms;
    for (int i = 0; i < reps; ++i) {
        check(cudaEventRecord(a), "record");
        for (int j = 0; j < per; ++j) launch(i * per + j);
        check(cudaEventRecord(b), "record");
        check(cudaEventSynchronize(b), "sync");
        float t = 0;
        check(cudaEventElapsedTime(&t, a, b), "elapsed");
        ms.push_back(t / static_cast<float>(per));
    }
    check(cudaGetLastError(), "launch");
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::nth_element(ms.begin(), ms.begin() + reps / 2, ms.end());
    return ms[static_cast<std::size_t>(reps / 2)];
}

struct config {
    int batch, context, window, q_heads, kv_heads, head_dim;
};

struct measured {
    int splits;
    double useful_bytes, dense_us, csr_us, back_to_back_us;
    struct split_run {
        int splits;
        double csr_us, max_diff;  // max |out - out with the plan's split| over every element
    };
    std::vector<split_run> sweep;  // --splits-sweep: more splits than the plan chooses
};

float bf16_to_float(bf16 x) { return __bfloat162float(x); }

// One configuration: `copies` disjoint sets of shuffled pages (together > 3x L2) rotated per launch.
measured run(const config& c, int page_size, int sm_count, std::size_t l2_bytes, std::mt19937_64& rng,
             bool sweep_splits) {
    const int P = page_size, B = c.batch;
    const int first_page = (c.context - c.window) / P, last_page = (c.context - 1) / P;
    const int npages = last_page - first_page + 1, row_pages = (c.context + P - 1) / P;
    const std::size_t page_elems = std::size_t(P) * c.kv_heads * c.head_dim;
    const double kv_bytes = double(B) * npages * page_elems * 2 * sizeof(bf16);
    const int copies = static_cast<int>(std::clamp(3.0 * double(l2_bytes) / kv_bytes + 1.0, 1.0, 64.0));
    const std::size_t pages = 1 + std::size_t(copies) * B * npages;

    bf16* k = device_alloc<bf16>(pages * page_elems);
    bf16* v = device_alloc<bf16>(pages * page_elems);
    const std::size_t q_elems = std::size_t(B) * c.q_heads * c.head_dim;
    bf16* q = device_alloc<bf16>(q_elems);
    bf16* out = device_alloc<bf16>(q_elems);
    fill_random<<<1024, 256>>>(k, pages * page_elems, 1);
    fill_random<<<1024, 256>>>(v, pages * page_elems, 2);
    fill_random<<<1024, 256>>>(q, q_elems, 3);
    check(cudaGetLastError(), "fill");

    std::vector<std::int32_t> ids(pages - 1);
    std::iota(ids.begin(), ids.end(), 1);
    std::shuffle(ids.begin(), ids.end(), rng);
    // Per copy: a dense table [B, row_pages] (null before the window, as emit_dense_table writes an
    // SWA view) and a CSR table trimmed to the in-window pages.
    std::vector<std::int32_t> dense(std::size_t(copies) * B * row_pages, 0), indices, indptr, last,
        kv_len(B, c.context);
    std::size_t next = 0;
    for (int cp = 0; cp < copies; ++cp) {
        indptr.push_back(0);
        for (int b = 0; b < B; ++b) {
            for (int i = first_page; i <= last_page; ++i) {
                dense[(std::size_t(cp) * B + b) * row_pages + i] = ids[next];
                indices.push_back(ids[next++]);
            }
            indptr.push_back(static_cast<std::int32_t>(indices.size()) - cp * B * npages);
            last.push_back(c.context - (c.context - 1) / P * P);
        }
    }
    std::int32_t* d_dense = device_alloc<std::int32_t>(dense.size());
    std::int32_t* d_indices = device_alloc<std::int32_t>(indices.size());
    std::int32_t* d_indptr = device_alloc<std::int32_t>(indptr.size());
    std::int32_t* d_last = device_alloc<std::int32_t>(last.size());
    std::int32_t* d_len = device_alloc<std::int32_t>(kv_len.size());
    check(cudaMemcpy(d_dense, dense.data(), dense.size() * 4, cudaMemcpyHostToDevice), "copy");
    check(cudaMemcpy(d_indices, indices.data(), indices.size() * 4, cudaMemcpyHostToDevice), "copy");
    check(cudaMemcpy(d_indptr, indptr.data(), indptr.size() * 4, cudaMemcpyHostToDevice), "copy");
    check(cudaMemcpy(d_last, last.data(), last.size() * 4, cudaMemcpyHostToDevice), "copy");
    check(cudaMemcpy(d_len, kv_len.data(), kv_len.size() * 4, cudaMemcpyHostToDevice), "copy");

    decode_shape s{};
    s.batch = B;
    s.num_q_heads = c.q_heads;
    s.num_kv_heads = c.kv_heads;
    s.head_dim = c.head_dim;
    s.page_size_tokens = P;
    s.window_tokens = c.window;
    s.max_kv_tokens = c.context;
    decode_plan plan{};
    if (!plan_decode(s, sm_count, plan)) std::exit(2);
    float* ws = device_alloc<float>(plan.workspace_bytes / sizeof(float) + 4);

    auto launch = [&](table_form form) {
        return [&, form](int i) {
            const int cp = i % copies;
            const page_table_view view =
                form == table_form::dense
                    ? page_table_view::dense(d_dense + std::size_t(cp) * B * row_pages, row_pages, d_len)
                    : page_table_view::csr(d_indptr + std::size_t(cp) * (B + 1),
                                           d_indices + std::size_t(cp) * B * npages, d_last + std::size_t(cp) * B);
            const decode_tensors<bf16> t{q, out, k, v, view, 1.f / std::sqrt(float(c.head_dim))};
            if (!swa_decode(plan, t, ws, plan.workspace_bytes + 16, nullptr)) std::exit(3);
        };
    };
    const int reps = kv_bytes > 2e9 ? 21 : 51;
    measured m{};
    m.splits = plan.num_splits;
    m.useful_bytes = double(B) * c.window * c.kv_heads * c.head_dim * 2 * sizeof(bf16) + 2.0 * q_elems * sizeof(bf16);
    m.dense_us = 1e3 * median_ms(reps, launch(table_form::dense));
    m.csr_us = 1e3 * median_ms(reps, launch(table_form::csr));
    m.back_to_back_us = 1e3 * median_ms_back_to_back(reps / 5 + 1, 10, launch(table_form::dense));
    if (sweep_splits) {  // the split choice at small batches: 2x and 4x the plan's, at most one tile each
        std::vector<bf16> base(q_elems), got(q_elems);
        launch(table_form::csr)(0);
        check(cudaMemcpy(base.data(), out, q_elems * sizeof(bf16), cudaMemcpyDeviceToHost), "copy");
        const decode_plan chosen = plan;
        const int tiles = std::min(c.context, c.window) / detail::tile_keys(c.head_dim) + 1;
        for (const int factor : {2, 4}) {
            const int splits = std::min({chosen.num_splits * factor, tiles, detail::max_splits});
            if (splits <= chosen.num_splits || (!m.sweep.empty() && m.sweep.back().splits == splits)) continue;
            plan.num_splits = splits;
            plan.workspace_bytes = workspace_bytes_for(s, splits);
            cudaFree(ws);
            ws = device_alloc<float>(plan.workspace_bytes / sizeof(float) + 4);
            launch(table_form::csr)(0);
            check(cudaMemcpy(got.data(), out, q_elems * sizeof(bf16), cudaMemcpyDeviceToHost), "copy");
            double diff = 0;
            for (std::size_t i = 0; i < q_elems; ++i)
                diff = std::max(diff, double(std::fabs(bf16_to_float(got[i]) - bf16_to_float(base[i]))));
            m.sweep.push_back({splits, 1e3 * median_ms(reps, launch(table_form::csr)), diff});
        }
        plan = chosen;
    }
    for (void* p : {static_cast<void*>(k), static_cast<void*>(v), static_cast<void*>(q), static_cast<void*>(out),
                    static_cast<void*>(d_dense), static_cast<void*>(d_indices), static_cast<void*>(d_indptr),
                    static_cast<void*>(d_last), static_cast<void*>(d_len), static_cast<void*>(ws)})
        cudaFree(p);
    return m;
}

}  // namespace

int main(int argc, char** argv) {
    const char* csv_path = nullptr;
    bool quick = false, small = false, sweep = false;  // --small: B = 1 and 8 only
    std::optional<config> only;                        // --only B,ctx,W,Hq,Hkv,D: one config (for ncu)
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--csv") && i + 1 < argc)
            csv_path = argv[++i];
        else if (!std::strcmp(argv[i], "--quick"))
            quick = true;
        else if (!std::strcmp(argv[i], "--small"))
            small = true;
        else if (!std::strcmp(argv[i], "--splits-sweep"))
            sweep = true;
        else if (config c{}; !std::strcmp(argv[i], "--only") && i + 1 < argc &&
                             std::sscanf(argv[++i], "%d,%d,%d,%d,%d,%d", &c.batch, &c.context, &c.window, &c.q_heads,
                                         &c.kv_heads, &c.head_dim) == 6)
            only = c;
        else {
            std::fprintf(
                stderr,
                "usage: swa_decode [--csv FILE] [--quick] [--small] [--splits-sweep] [--only B,ctx,W,Hq,Hkv,D]\n");
            return 2;
        }
    }
    int dev = 0;
    check(cudaGetDevice(&dev), "device");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, dev), "properties");
    std::printf("GPU: %s, %d SMs, L2 %d MiB; split merge by programmatic dependent launch: %s\n", prop.name,
                prop.multiProcessorCount, prop.l2CacheSize >> 20, PAGEDKV_SWA_DECODE_PDL ? "on" : "off");

    // The floor: a 1 GiB device-to-device copy, bytes read + written over its median time.
    const std::size_t copy_bytes = std::size_t{1} << 30;
    char* src = device_alloc<char>(copy_bytes);
    char* dst = device_alloc<char>(copy_bytes);
    check(cudaMemset(src, 1, copy_bytes), "memset");
    const float copy_ms =
        median_ms(21, [&](int) { check(cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice), "copy"); });
    const double copy_bw = 2.0 * double(copy_bytes) / (copy_ms * 1e-3);
    cudaFree(src);
    cudaFree(dst);
    std::printf("device-to-device copy: %.1f GB/s (read + write)\n", copy_bw / 1e9);

    std::vector<config> configs;
    for (const int B : {1, 8, 64, 256})
        for (const int ctx : {8192, 32768})
            for (const int W : {512, 1024, 4096})
                for (const auto& [hq, hkv] : {std::pair{32, 8}, std::pair{16, 16}})
                    for (const int D : {128, 256})
                        if ((!quick || (ctx == 8192 && W == 1024)) && (!small || B <= 8))
                            configs.push_back({B, ctx, W, hq, hkv, D});
    if (only) configs.assign(1, *only);

    FILE* csv = csv_path ? std::fopen(csv_path, "w") : nullptr;
    if (csv)
        std::fprintf(
            csv,
            "B,ctx,W,Hq,Hkv,D,splits,useful_MB,dense_us,dense_ratio,csr_us,csr_ratio,b2b_us,b2b_ratio,copy_GBps\n");
    std::printf("%5s %6s %5s %7s %4s %6s %10s %10s %8s %10s %8s %10s %8s\n", "B", "ctx", "W", "Hq/Hkv", "D", "splits",
                "MB", "dense_us", "ratio", "csr_us", "ratio", "b2b_us", "ratio");
    std::mt19937_64 rng(20261124);
    for (const config& c : configs) {
        // An idle pause first: a config measured right after a multi-GB one otherwise inherits its
        // power/clock state (seen as ~13% slower first configs without it).
        check(cudaDeviceSynchronize(), "sync");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        const measured m = run(c, 16, prop.multiProcessorCount, static_cast<std::size_t>(prop.l2CacheSize), rng, sweep);
        auto ratio = [&](double us) { return m.useful_bytes / (us * 1e-6) / copy_bw; };
        std::printf("%5d %6d %5d %4d/%-2d %4d %6d %10.1f %10.1f %8.3f %10.1f %8.3f %10.1f %8.3f\n", c.batch, c.context,
                    c.window, c.q_heads, c.kv_heads, c.head_dim, m.splits, m.useful_bytes / 1e6, m.dense_us,
                    ratio(m.dense_us), m.csr_us, ratio(m.csr_us), m.back_to_back_us, ratio(m.back_to_back_us));
        for (const auto& r : m.sweep)
            std::printf(
                "      splits %2d: csr %8.1f us (%.2f of the plan's time), max |diff| to the plan's output %.2e\n",
                r.splits, r.csr_us, r.csr_us / m.csr_us, r.max_diff);
        if (csv)
            std::fprintf(csv, "%d,%d,%d,%d,%d,%d,%d,%.3f,%.2f,%.4f,%.2f,%.4f,%.2f,%.4f,%.1f\n", c.batch, c.context,
                         c.window, c.q_heads, c.kv_heads, c.head_dim, m.splits, m.useful_bytes / 1e6, m.dense_us,
                         ratio(m.dense_us), m.csr_us, ratio(m.csr_us), m.back_to_back_us, ratio(m.back_to_back_us),
                         copy_bw / 1e9);
        std::fflush(stdout);
    }
    if (csv) std::fclose(csv);
    return 0;
}
