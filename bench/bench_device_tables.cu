// Device tables bench: sync + emission time per decode step (hybrid pool, both pools' tables and
// full_to_swa) for B = 1, 64, 512 requests at 8k context, P = 16 and 64, against two floors measured
// in the same run: an empty kernel launch, and the bytes the step writes over the D2D copy bandwidth.
// Also: the Thrust reference path, a CUDA-graph replay of the sync, the validator, the host stage.
// Usage: bench_device_tables [steps=200]. Prints a markdown table.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <pagedkv/cuda/device_tables.cuh>
#include <pagedkv/cuda/validator.cuh>
#include <pagedkv/pagedkv.hpp>

namespace pagedkv::bench_tables {

#define BENCH_CUDA(call)                                                                                \
    do {                                                                                                \
        const cudaError_t e_ = (call);                                                                  \
        if (e_ != cudaSuccess) {                                                                        \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(1);                                                                               \
        }                                                                                               \
    } while (0)

namespace pc = pagedkv::gpu;
using hybrid = hybrid_pool<>;

__global__ void empty_kernel() {}

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "bench_device_tables: %s\n", what);
    std::exit(1);
}

constexpr std::int64_t context_tokens = 8192;
constexpr std::int64_t window_tokens = 1024;        // Gemma 3's local-attention window
constexpr std::int64_t prefill_chunk_tokens = 512;  // SWA pages are released at each chunk's commit

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

struct events {
    cudaEvent_t e[3];
    events() {
        for (auto& x : e) BENCH_CUDA(cudaEventCreate(&x));
    }
    ~events() {
        for (auto& x : e) cudaEventDestroy(x);
    }
    double us(int a, int b) const {
        float ms = 0;
        BENCH_CUDA(cudaEventElapsedTime(&ms, e[a], e[b]));
        return 1000.0 * ms;
    }
};

/// A CUDA graph captured from what `issue()` puts on stream s, instantiated; freed with the object.
struct captured_graph {
    cudaGraph_t graph{};
    cudaGraphExec_t exec{};
    template <class F>
    captured_graph(cudaStream_t s, F&& issue) {
        BENCH_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
        issue();
        BENCH_CUDA(cudaStreamEndCapture(s, &graph));
        BENCH_CUDA(cudaGraphInstantiate(&exec, graph, 0));
    }
    captured_graph(const captured_graph&) = delete;
    captured_graph& operator=(const captured_graph&) = delete;
    ~captured_graph() {
        cudaGraphExecDestroy(exec);
        cudaGraphDestroy(graph);
    }
};

/// Empty-kernel floor replayed from a CUDA graph of that one launch: the floor of a one-node graph.
double graph_floor_us(cudaStream_t s, int reps) {
    const captured_graph g(s, [&] { empty_kernel<<<1, 32, 0, s>>>(); });
    events ev;
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        BENCH_CUDA(cudaEventRecord(ev.e[0], s));
        BENCH_CUDA(cudaGraphLaunch(g.exec, s));
        BENCH_CUDA(cudaEventRecord(ev.e[1], s));
        BENCH_CUDA(cudaEventSynchronize(ev.e[1]));
        t.push_back(ev.us(0, 1));
    }
    return median(t);
}

/// Empty-kernel floor: one launch between two events, as each sync is timed.
double launch_floor_us(cudaStream_t s, int reps) {
    events ev;
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        BENCH_CUDA(cudaEventRecord(ev.e[0], s));
        empty_kernel<<<1, 32, 0, s>>>();
        BENCH_CUDA(cudaEventRecord(ev.e[1], s));
        BENCH_CUDA(cudaEventSynchronize(ev.e[1]));
        t.push_back(ev.us(0, 1));
    }
    return median(t);
}

/// Device-to-device copy bandwidth in bytes per microsecond (bytes copied / time).
double copy_bytes_per_us(cudaStream_t s) {
    const std::size_t bytes = std::size_t{256} << 20;
    void *a = nullptr, *b = nullptr;
    BENCH_CUDA(cudaMalloc(&a, bytes));
    BENCH_CUDA(cudaMalloc(&b, bytes));
    events ev;
    std::vector<double> t;
    for (int i = 0; i < 6; ++i) {
        BENCH_CUDA(cudaEventRecord(ev.e[0], s));
        BENCH_CUDA(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, s));
        BENCH_CUDA(cudaEventRecord(ev.e[1], s));
        BENCH_CUDA(cudaEventSynchronize(ev.e[1]));
        if (i > 0) t.push_back(ev.us(0, 1));
    }
    BENCH_CUDA(cudaFree(a));
    BENCH_CUDA(cudaFree(b));
    return static_cast<double>(bytes) / median(t);
}

enum class path { fused, graph, thrust, mapped, mapped_graph, inlined };

struct row {
    int page, batch;
    double fused_us, graph_us, thrust_us, mapped_us, mapped_graph_us, inline_us, validate_us, host_us, delta_bytes,
        written_bytes;
    int violations;
};

row run(int page, int batch, int steps, cudaStream_t s) {
    const auto max_pages = static_cast<std::int32_t>((context_tokens + 7 * (steps + 20)) / page + 2);
    const table_capacity cap{batch, batch, max_pages, 2 * batch, batch * max_pages + 64};
    const auto swa_pages =
        static_cast<std::int32_t>(batch * (window_tokens / page + 4) + prefill_chunk_tokens / page + 16);
    hybrid hp = hybrid::create(pool_size{batch * max_pages + 16}, pool_size{swa_pages}, page, window_tokens).value();
    auto mirror = hybrid_table_mirror<hybrid>::create(cap, hp).value();
    const std::int32_t captured = static_cast<std::int32_t>(64 + 2 * batch * sizeof(row_desc) + 7 * 8 * (batch + 64));
    auto created = pc::device_tables::create(cap, pc::shape_of(hp.full()), pc::shape_of(hp.swa()), captured);
    if (!created) die(created.err().detail);
    pc::device_tables tables = std::move(created.value());
    auto made = pc::table_validator::create();
    if (!made) die("table_validator::create failed");
    pc::table_validator validator = std::move(made.value());

    std::vector<request_id> ids;
    for (int i = 0; i < batch; ++i) {
        ids.push_back(hp.add_request().value());
        for (std::int64_t done = 0; done < context_tokens; done += prefill_chunk_tokens)
            if (!hp.extend(ids.back(), prefill_chunk_tokens).ok() || !hp.commit(ids.back(), prefill_chunk_tokens).ok())
                die("prefill: a pool is too small");
    }
    if (!mirror.stage(hp, ids).ok() || !mirror.pack(tables.staging()).ok()) die("first stage: over capacity");
    BENCH_CUDA(tables.sync(s));  // the one-time upload of every page
    BENCH_CUDA(cudaStreamSynchronize(s));

    const captured_graph copy_graph(s, [&] { BENCH_CUDA(tables.sync(s)); });
    const captured_graph mapped_graph(s, [&] { BENCH_CUDA(tables.sync_mapped(s)); });

    events ev;
    row out{page, batch, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    std::vector<double> fused, graphed, thrust, mapped, mapped_graphed, inlined, validate, host, delta, written;
    const auto decode_steps = [&](path p, int n, bool record) {
        for (int step = 0; step < n; ++step) {
            for (request_id r : ids)
                if (!hp.extend(r, 1).ok()) die("decode: a pool is too small");
            const auto t0 = std::chrono::steady_clock::now();
            const auto staging = tables.staging();
            if (!mirror.stage(hp, ids).ok()) die("decode stage: over capacity");
            const std::int32_t bytes = mirror.pack(staging).value();
            const auto t1 = std::chrono::steady_clock::now();
            if (p == path::graph && !tables.fits_captured_sync()) die("decode delta outgrew the captured copy");
            BENCH_CUDA(cudaEventRecord(ev.e[0], s));
            if (p == path::fused) BENCH_CUDA(tables.sync(s));
            if (p == path::graph) BENCH_CUDA(cudaGraphLaunch(copy_graph.exec, s));
            if (p == path::thrust) BENCH_CUDA(tables.sync_with_thrust(s));
            if (p == path::mapped) BENCH_CUDA(tables.sync_mapped(s));
            if (p == path::mapped_graph) BENCH_CUDA(cudaGraphLaunch(mapped_graph.exec, s));
            if (p == path::inlined) BENCH_CUDA(tables.sync_inline(s));
            BENCH_CUDA(cudaEventRecord(ev.e[1], s));
            BENCH_CUDA(validator.launch(tables, s));
            BENCH_CUDA(cudaEventRecord(ev.e[2], s));
            BENCH_CUDA(cudaEventSynchronize(ev.e[2]));
            for (request_id r : ids)
                if (!hp.commit(r, 1).ok()) die("commit failed");
            if (!record) continue;
            std::vector<double>* times[] = {&fused, &graphed, &thrust, &mapped, &mapped_graphed, &inlined};
            times[static_cast<int>(p)]->push_back(ev.us(0, 1));
            if (p != path::fused) continue;
            validate.push_back(ev.us(1, 2));
            host.push_back(1e6 * std::chrono::duration<double>(t1 - t0).count());
            delta.push_back(bytes);
            // Bytes the fused kernel writes: both pools' dense rows, CSR lists, indptrs, last-page
            // lengths, slots, and every applied record (one int32 each).
            double w = 0;
            const pool_delta d[2] = {mirror.full().delta(), mirror.swa().delta()};
            for (const pool_delta& pd : d) {
                std::int64_t nnz = 0, slots = 0;
                for (const row_desc& r : pd.rows) {
                    nnz += delta_row(r, page).csr_count();
                    slots += slot_count(r);
                }
                w +=
                    4.0 * batch * max_pages + 4.0 * nnz + 4.0 * (3 * batch + 2) + 8.0 * slots +
                    4.0 * static_cast<double>(pd.batch_writes.size() + pd.other_writes.size() + pd.owner_writes.size());
            }
            written.push_back(w + 4.0 * static_cast<double>(mirror.map_writes().size()));
        }
    };
    for (path p : {path::fused, path::graph, path::thrust, path::mapped, path::mapped_graph, path::inlined}) {
        decode_steps(p, 10, false);  // warm-up
        decode_steps(p, steps, true);
    }
    pc::validation_report report;
    BENCH_CUDA(validator.read(report, s));
    out.mapped_us = median(mapped);
    out.inline_us = median(inlined);
    out.mapped_graph_us = median(mapped_graphed);
    out.fused_us = median(fused);
    out.graph_us = median(graphed);
    out.thrust_us = median(thrust);
    out.validate_us = median(validate);
    out.host_us = median(host);
    out.delta_bytes = median(delta);
    out.written_bytes = median(written);
    out.violations = report.violations;
    return out;
}

}  // namespace pagedkv::bench_tables

int main(int argc, char** argv) {
    using namespace pagedkv::bench_tables;
    const int steps = argc > 1 ? std::atoi(argv[1]) : 200;
    cudaDeviceProp prop{};
    BENCH_CUDA(cudaGetDeviceProperties(&prop, 0));
    cudaStream_t s;
    BENCH_CUDA(cudaStreamCreate(&s));
    const double launch_us = launch_floor_us(s, 500);
    const double bw = copy_bytes_per_us(s);
    std::printf("GPU: %s; %d decode steps per path (median); context %lld tokens, window %lld\n", prop.name, steps,
                static_cast<long long>(context_tokens), static_cast<long long>(window_tokens));
    const double graph_launch_us = graph_floor_us(s, 500);
    std::printf("floors: empty kernel launch %.2f us; one-node graph of it %.2f us; D2D copy bandwidth %.0f GB/s\n\n",
                launch_us, graph_launch_us, bw / 1e3);
    std::printf(
        "| P | B | sync+emit us | / launch floor | bytes floor us | / bytes floor | graph replay us | "
        "Thrust path us | validator us (/ sync) | host stage+pack us | H2D delta B | written B |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    std::vector<row> rows;
    for (int page : {16, 64})
        for (int batch : {1, 64, 512}) {
            const row r = run(page, batch, steps, s);
            const double bytes_floor = r.written_bytes / bw;
            std::printf("| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f (%.2f) | %.1f | %.0f | %.0f |%s\n",
                        page, batch, r.fused_us, r.fused_us / launch_us, bytes_floor, r.fused_us / bytes_floor,
                        r.graph_us, r.thrust_us, r.validate_us, r.validate_us / r.fused_us, r.host_us, r.delta_bytes,
                        r.written_bytes, r.violations == 0 ? "" : " VALIDATOR FAILED");
            std::fflush(stdout);
            rows.push_back(r);
        }
    // The one-kernel syncs: sync_inline (the delta in the launch's parameters; sync's copy above
    // inline_delta_bytes) and sync_mapped (the delta read across the bus), eager and replayed.
    std::printf(
        "\n| P | B | inline sync us | / launch floor | / (launch + bytes floor) | mapped sync us | "
        "/ launch floor | mapped graph replay us | / graph floor | / (graph + bytes floor) | copy+kernel sync us |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const row& r : rows) {
        const double bytes_floor = r.written_bytes / bw;
        std::printf("| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", r.page, r.batch,
                    r.inline_us, r.inline_us / launch_us, r.inline_us / (launch_us + bytes_floor), r.mapped_us,
                    r.mapped_us / launch_us, r.mapped_graph_us, r.mapped_graph_us / graph_launch_us,
                    r.mapped_graph_us / (graph_launch_us + bytes_floor), r.fused_us);
    }
    BENCH_CUDA(cudaStreamDestroy(s));
    return 0;
}
