// Moving a request's KV pages between two pools' device buffers: over NCCL, or on one device.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <span>

#include "pagedkv/dist/kv_layout.hpp"
#include "pagedkv/dist/page_runs.hpp"

// The NCCL path is compiled when the including program defines PAGEDKV_WITH_NCCL (and links NCCL);
// an explicit switch rather than __has_include, since the header can exist where the library does not.
#ifdef PAGEDKV_WITH_NCCL
#include <nccl.h>
#endif

namespace pagedkv::gpu {

/// One pool's KV cache: device pointers to each layer's K and V buffer (`kv_layout` describes them).
struct kv_buffers {
    std::span<void* const> k;
    std::span<void* const> v;
};

namespace detail {
// One launch moves up to `max_runs` runs of every layer's K and V: block (x, y) copies page x of
// the chunk (found by binary search over the runs' page offsets) of buffer y (2 * layer + kv).
// Pages go page to page, or into / out of a packed staging buffer ([buffer y][chunk page x]) for
// NCCL. Everything the kernel needs travels in its parameters (under 8 KiB): a move is a few
// launches with no allocation and no host synchronization.
inline constexpr int max_layers = 64;
inline constexpr int max_runs = 512;
enum class packing : std::uint8_t { none, gather, scatter };
struct copy_params {
    char* src[2 * max_layers];  // gather: the pool's buffers; scatter: src[0] is the staging chunk
    char* dst[2 * max_layers];  // scatter: the pool's buffers; gather: dst[0] is the staging chunk
    std::int32_t run_src[max_runs];
    std::int32_t run_dst[max_runs];
    std::int32_t run_first[max_runs + 1];  // page offset of each run in the chunk; [n] = total pages
    std::int32_t runs;
    std::int64_t page_bytes;
    packing mode;
};

template <int = 0>  // a template so that every translation unit may define it (header-only)
__global__ void copy_runs_kernel(const __grid_constant__ copy_params p) {
    const auto page = static_cast<std::int32_t>(blockIdx.x);
    std::int32_t lo = 0, hi = p.runs - 1;  // the run holding chunk page `page`
    while (lo < hi) {
        const std::int32_t mid = (lo + hi + 1) / 2;
        if (p.run_first[mid] <= page)
            lo = mid;
        else
            hi = mid - 1;
    }
    const std::int32_t k = page - p.run_first[lo];
    const std::int64_t packed = (std::int64_t{blockIdx.y} * p.run_first[p.runs] + page) * p.page_bytes;
    const char* from = p.mode == packing::scatter
                           ? p.src[0] + packed
                           : p.src[blockIdx.y] + (std::int64_t{p.run_src[lo]} + k) * p.page_bytes;
    char* to = p.mode == packing::gather ? p.dst[0] + packed
                                         : p.dst[blockIdx.y] + (std::int64_t{p.run_dst[lo]} + k) * p.page_bytes;
    if (p.page_bytes % 16 == 0) {  // 16-byte vectors: cudaMalloc'd buffers are 256-byte aligned
        const auto* f = reinterpret_cast<const int4*>(from);
        auto* t = reinterpret_cast<int4*>(to);
        for (std::int64_t i = threadIdx.x; i < p.page_bytes / 16; i += blockDim.x) t[i] = f[i];
    } else {
        for (std::int64_t i = threadIdx.x; i < p.page_bytes; i += blockDim.x) to[i] = from[i];
    }
}

inline void set_buffers(char** out, const kv_layout& layout, const kv_buffers& b) {
    for (std::int32_t l = 0; l < layout.layers; ++l) {
        out[2 * l] = static_cast<char*>(b.k[static_cast<std::size_t>(l)]);
        out[2 * l + 1] = static_cast<char*>(b.v[static_cast<std::size_t>(l)]);
    }
}

// Launches the copy over `runs`, 512 runs per launch; for gather/scatter each launch's packed
// chunk follows the previous one in `staging`.
inline cudaError_t launch_copy(copy_params& p, const kv_layout& layout, std::span<const page_run> runs, char* staging,
                               cudaStream_t stream) {
    p.page_bytes = layout.page_bytes();
    for (std::size_t at = 0; at < runs.size(); at += max_runs) {
        const std::size_t n = std::min<std::size_t>(max_runs, runs.size() - at);
        p.runs = static_cast<std::int32_t>(n);
        p.run_first[0] = 0;
        for (std::size_t j = 0; j < n; ++j) {
            p.run_src[j] = runs[at + j].src;
            p.run_dst[j] = runs[at + j].dst;
            p.run_first[j + 1] = p.run_first[j] + runs[at + j].count;
        }
        if (p.run_first[n] == 0 || layout.layers == 0) continue;
        if (p.mode == packing::gather) p.dst[0] = staging;
        if (p.mode == packing::scatter) p.src[0] = staging;
        copy_runs_kernel<>
            <<<dim3(static_cast<unsigned>(p.run_first[n]), static_cast<unsigned>(2 * layout.layers)), 256, 0, stream>>>(
                p);
        if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
        staging += std::int64_t{2} * layout.layers * p.run_first[n] * p.page_bytes;
    }
    return cudaSuccess;
}
}  // namespace detail

/// Bytes of K/V that `runs` cover in every layer: what a move transfers and its staging needs.
inline std::int64_t packed_bytes(const kv_layout& layout, std::span<const page_run> runs) noexcept {
    std::int64_t pages = 0;
    for (const page_run& r : runs) pages += r.count;
    return 2 * std::int64_t{layout.layers} * pages * layout.page_bytes();
}

/// Copies the runs' pages from `src` to `dst` for every layer's K and V on `stream`: one kernel
/// launch per 512 runs (peer access makes it work across devices). The single-device stand-in for
/// an NCCL move, over the same runs. @pre both layouts equal; bufs hold `layout.layers` pointers
/// each, at most 64 layers; runs from `joint_runs`. Returns cudaErrorInvalidValue past 64 layers.
inline cudaError_t copy_pages(const kv_layout& layout, const kv_buffers& src, const kv_buffers& dst,
                              std::span<const page_run> runs, cudaStream_t stream) {
    if (layout.layers > detail::max_layers) return cudaErrorInvalidValue;
    detail::copy_params p{};
    p.mode = detail::packing::none;
    detail::set_buffers(p.src, layout, src);
    detail::set_buffers(p.dst, layout, dst);
    return detail::launch_copy(p, layout, runs, nullptr, stream);
}

/// Packs the runs' source pages of every layer's K and V into `staging` (device memory of at least
/// `packed_bytes(layout, runs)`), in the order `scatter_pages` unpacks: the sending half of a move.
inline cudaError_t gather_pages(const kv_layout& layout, const kv_buffers& src, std::span<const page_run> runs,
                                void* staging, cudaStream_t stream) {
    if (layout.layers > detail::max_layers) return cudaErrorInvalidValue;
    detail::copy_params p{};
    p.mode = detail::packing::gather;
    detail::set_buffers(p.src, layout, src);
    return detail::launch_copy(p, layout, runs, static_cast<char*>(staging), stream);
}

/// Unpacks `staging` (as `gather_pages` packed it on the other side) into the runs' destination
/// pages: the receiving half of a move.
inline cudaError_t scatter_pages(const kv_layout& layout, const kv_buffers& dst, std::span<const page_run> runs,
                                 const void* staging, cudaStream_t stream) {
    if (layout.layers > detail::max_layers) return cudaErrorInvalidValue;
    detail::copy_params p{};
    p.mode = detail::packing::scatter;
    detail::set_buffers(p.dst, layout, dst);
    return detail::launch_copy(p, layout, runs, static_cast<char*>(const_cast<void*>(staging)), stream);
}

#ifdef PAGEDKV_WITH_NCCL
/// Prefill side: packs the pages into `staging` and sends them to `peer` as one NCCL message on
/// `stream` (thousands of small sends cost NCCL far more than one device-side pack). `staging`
/// holds at least `packed_bytes(layout, runs)`; the caller reuses it (no allocation here).
/// Not inside ncclGroupStart/End: the pack kernel must precede the send in stream order.
inline ncclResult_t nccl_send_pages(const kv_layout& layout, const kv_buffers& src, std::span<const page_run> runs,
                                    void* staging, int peer, ncclComm_t comm, cudaStream_t stream) {
    if (gather_pages(layout, src, runs, staging, stream) != cudaSuccess) return ncclUnhandledCudaError;
    return ncclSend(staging, static_cast<std::size_t>(packed_bytes(layout, runs)), ncclUint8, peer, comm, stream);
}
/// Decode side: receives the packed pages from `peer` into `staging`, then unpacks them into the
/// runs' destination pages, in stream order. Not inside ncclGroupStart/End (the unpack would be
/// enqueued before the deferred receive).
inline ncclResult_t nccl_recv_pages(const kv_layout& layout, const kv_buffers& dst, std::span<const page_run> runs,
                                    void* staging, int peer, ncclComm_t comm, cudaStream_t stream) {
    const ncclResult_t r =
        ncclRecv(staging, static_cast<std::size_t>(packed_bytes(layout, runs)), ncclUint8, peer, comm, stream);
    if (r != ncclSuccess) return r;
    return scatter_pages(layout, dst, runs, staging, stream) == cudaSuccess ? ncclSuccess : ncclUnhandledCudaError;
}
#endif

}  // namespace pagedkv::gpu
