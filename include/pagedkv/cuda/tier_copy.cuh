// Running a host tier's copy plan on the GPU: write-backs (device pages -> pinned host pages), then
// loads (pinned host pages -> device pages), on the caller's stream (docs/offload.md).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <span>
#include <utility>

#include "pagedkv/cache/copy_plan.hpp"
#include "pagedkv/cuda/kv_transfer.cuh"
#include "pagedkv/dist/kv_layout.hpp"

namespace pagedkv::gpu {

/// Who moves a plan's pages.
enum class copy_engine : std::uint8_t {
    /// One `copy_pages` launch per list (per 512 runs): SMs read and write the pinned pages through
    /// unified addressing. Fewest calls; takes SMs from the forward pass while it runs.
    kernel,
    /// One cudaMemcpyAsync per run and per layer's K and V: the DMA engines, no SMs (overlaps
    /// compute), but 2 x layers calls per run.
    dma,
};

/// Bytes a plan moves over the bus: its write-backs' and loads' pages of every layer's K and V.
inline std::int64_t plan_bytes(const kv_layout& layout, const copy_plan& plan) noexcept {
    return packed_bytes(layout, plan.write_backs) + packed_bytes(layout, plan.loads);
}

namespace detail {
// One cudaMemcpyAsync per run and buffer: runs are contiguous on both sides in every layer.
inline cudaError_t dma_runs(const kv_layout& layout, const kv_buffers& src, const kv_buffers& dst,
                            std::span<const copy_run> runs, cudaStream_t stream) {
    const std::int64_t page = layout.page_bytes();
    for (const copy_run& r : runs)
        for (std::int32_t l = 0; l < layout.layers; ++l)
            for (const auto& [from, to] : {std::pair{src.k, dst.k}, std::pair{src.v, dst.v}}) {
                const auto* s =
                    static_cast<const char*>(from[static_cast<std::size_t>(l)]) + std::int64_t{r.src} * page;
                auto* d = static_cast<char*>(to[static_cast<std::size_t>(l)]) + std::int64_t{r.dst} * page;
                if (const cudaError_t e = cudaMemcpyAsync(d, s, static_cast<std::size_t>(std::int64_t{r.count} * page),
                                                          cudaMemcpyDefault, stream);
                    e != cudaSuccess)
                    return e;
            }
    return cudaSuccess;
}
}  // namespace detail

/// Executes `plan` (tiered_pool::take_plan) on `stream`: every write-back run (pages of `device`
/// to pages of `host`) for every layer's K and V, then every load run (`host` to `device`). Stream
/// order puts the loads after the write-backs, as the plan's contract requires: a write-back's
/// page may be a load's destination in the same plan. `host` holds pinned host buffers
/// (cudaHostAlloc / cudaMallocHost, so device code and the DMA engines reach them) laid out like
/// the device ones, `layout` with the host tier's page count. Enqueue it before the forward pass
/// that reads the pages (or make that pass wait on an event recorded after it), and call
/// `complete(plan)` once the copies have finished. No allocation, no synchronization.
/// @pre both sides hold `layout.layers` K and V pointers; the runs' pages are within them.
/// Returns the first CUDA error; cudaErrorInvalidValue past 64 layers with `copy_engine::kernel`.
inline cudaError_t execute_copy_plan(const kv_layout& layout, const kv_buffers& device, const kv_buffers& host,
                                     const copy_plan& plan, cudaStream_t stream,
                                     copy_engine engine = copy_engine::kernel) {
    if (engine == copy_engine::dma) {
        if (const cudaError_t e = detail::dma_runs(layout, device, host, plan.write_backs, stream); e != cudaSuccess)
            return e;
        return detail::dma_runs(layout, host, device, plan.loads, stream);
    }
    if (const cudaError_t e = copy_pages(layout, device, host, plan.write_backs, stream); e != cudaSuccess) return e;
    return copy_pages(layout, host, device, plan.loads, stream);
}

}  // namespace pagedkv::gpu
