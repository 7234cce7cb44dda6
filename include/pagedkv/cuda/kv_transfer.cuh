// Moving a request's KV pages between two pools' device buffers: over NCCL, or on one device.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <span>

#include "pagedkv/dist/kv_layout.hpp"
#include "pagedkv/dist/page_runs.hpp"

#if __has_include(<nccl.h>)
#include <nccl.h>
#define PAGEDKV_HAS_NCCL 1
#endif

namespace pagedkv::gpu {

/// One pool's KV cache: device pointers to each layer's K and V buffer (`kv_layout` describes them).
struct kv_buffers {
    std::span<void* const> k;
    std::span<void* const> v;
};

namespace detail {
// Calls f(buffer base of one layer's K or V, run) for every layer, K then V, every run: the one
// order both peers walk, so the n-th send pairs with the n-th receive.
template <class F>
void for_each_segment(const kv_layout& layout, const kv_buffers& bufs, std::span<const page_run> runs, F&& f) {
    for (std::int32_t l = 0; l < layout.layers; ++l)
        for (void* base : {bufs.k[static_cast<std::size_t>(l)], bufs.v[static_cast<std::size_t>(l)]})
            for (const page_run& r : runs) f(static_cast<char*>(base), r);
}
}  // namespace detail

/// Copies the runs' pages from `src` to `dst` for every layer with one async D2D copy per run and
/// buffer (peer copies work across devices). The single-device stand-in for an NCCL move: it walks
/// exactly the segments the NCCL path sends. @pre both layouts equal, bufs hold `layers` pointers.
inline cudaError_t copy_pages(const kv_layout& layout, const kv_buffers& src, const kv_buffers& dst,
                              std::span<const page_run> runs, cudaStream_t stream) {
    const std::int64_t page = layout.page_bytes();
    cudaError_t err = cudaSuccess;
    for (std::int32_t l = 0; l < layout.layers && err == cudaSuccess; ++l) {
        const auto i = static_cast<std::size_t>(l);
        for (int kv = 0; kv < 2 && err == cudaSuccess; ++kv) {
            char* from = static_cast<char*>(kv == 0 ? src.k[i] : src.v[i]);
            char* to = static_cast<char*>(kv == 0 ? dst.k[i] : dst.v[i]);
            for (const page_run& r : runs) {
                err = cudaMemcpyAsync(to + r.dst * page, from + r.src * page, static_cast<std::size_t>(r.count * page),
                                      cudaMemcpyDeviceToDevice, stream);
                if (err != cudaSuccess) break;
            }
        }
    }
    return err;
}

#ifdef PAGEDKV_HAS_NCCL
/// Enqueues the sends of the runs' source pages to `peer` (one ncclSend per run, layer and K/V).
/// Call between ncclGroupStart/End (or use `nccl_send_pages`). No host staging, no allocation.
inline ncclResult_t enqueue_sends(const kv_layout& layout, const kv_buffers& src, std::span<const page_run> runs,
                                  int peer, ncclComm_t comm, cudaStream_t stream) {
    const std::int64_t page = layout.page_bytes();
    ncclResult_t res = ncclSuccess;
    detail::for_each_segment(layout, src, runs, [&](char* base, const page_run& r) {
        if (res == ncclSuccess)
            res = ncclSend(base + r.src * page, static_cast<std::size_t>(r.count * page), ncclUint8, peer, comm, stream);
    });
    return res;
}
/// Enqueues the matching receives into the runs' destination pages from `peer`.
inline ncclResult_t enqueue_recvs(const kv_layout& layout, const kv_buffers& dst, std::span<const page_run> runs,
                                  int peer, ncclComm_t comm, cudaStream_t stream) {
    const std::int64_t page = layout.page_bytes();
    ncclResult_t res = ncclSuccess;
    detail::for_each_segment(layout, dst, runs, [&](char* base, const page_run& r) {
        if (res == ncclSuccess)
            res = ncclRecv(base + r.dst * page, static_cast<std::size_t>(r.count * page), ncclUint8, peer, comm, stream);
    });
    return res;
}
/// Prefill side: every page of the move, as one NCCL group on `stream`.
inline ncclResult_t nccl_send_pages(const kv_layout& layout, const kv_buffers& src, std::span<const page_run> runs,
                                    int peer, ncclComm_t comm, cudaStream_t stream) {
    if (ncclResult_t r = ncclGroupStart(); r != ncclSuccess) return r;
    const ncclResult_t res = enqueue_sends(layout, src, runs, peer, comm, stream);
    const ncclResult_t end = ncclGroupEnd();
    return res != ncclSuccess ? res : end;
}
/// Decode side: the matching receives, as one NCCL group on `stream`.
inline ncclResult_t nccl_recv_pages(const kv_layout& layout, const kv_buffers& dst, std::span<const page_run> runs,
                                    int peer, ncclComm_t comm, cudaStream_t stream) {
    if (ncclResult_t r = ncclGroupStart(); r != ncclSuccess) return r;
    const ncclResult_t res = enqueue_recvs(layout, dst, runs, peer, comm, stream);
    const ncclResult_t end = ncclGroupEnd();
    return res != ncclSuccess ? res : end;
}
#endif

}  // namespace pagedkv::gpu
