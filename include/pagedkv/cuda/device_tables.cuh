// Device page tables: fixed, CUDA-graph-safe buffers per pool, updated each step by one copy + one kernel.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <span>
#include <utility>
#include <vector>

#include <thrust/system/cuda/execution_policy.h>
#include <thrust/system_error.h>

#include "pagedkv/core/error.hpp"
#include "pagedkv/cuda/detail/tables_arena.cuh"
#include "pagedkv/cuda/detail/tables_kernels.cuh"
#include "pagedkv/table/table_mirror.hpp"
#include "pagedkv/table/thrust_emission.hpp"

namespace pagedkv::gpu {

/// The sizes of one pool the tables index.
struct pool_shape {
    pool_size pages;
    std::int32_t page_size_tokens = 0;
};
/// The shape of any pool (full_pool, swa_pool, or a hybrid's views).
template <page_table_source S>
pool_shape shape_of(const S& pool) noexcept {
    return {pool.size(), pool.page_size_tokens()};
}

/// Per pool: the store (every tracked request's page list by store row), the owner array, and this
/// step's dense table, CSR table, query offsets and slot mapping; for a composite (a full pool and
/// any number of attention groups: a hybrid, a multi_hybrid_pool), also every group's
/// mapping from full pages (`full_to_group(g)`; `full_to_swa()` for a hybrid).
/// Everything is one cudaMalloc made at construction: addresses never change, so kernels and CUDA
/// graphs may keep them. Each step a mirror packs its delta into `staging()` (pinned) and `sync`
/// applies it with one host-to-device copy and one kernel; `sync_inline` and `sync_mapped` use one
/// kernel alone (docs/device_tables.md compares the three).
class device_tables {
public:
    /// Bytes a captured `sync` copies by default (a graph replays a fixed-size copy).
    static constexpr std::int32_t default_captured_delta_bytes = 64 * 1024;

    /// Tables of one pool. Errors: those of check_capacity; invalid_pool_size, invalid_page_size;
    /// device_error when CUDA cannot allocate (the detail names the CUDA error).
    static result<device_tables> create(const table_capacity& cap, pool_shape pool,
                                        std::int32_t captured_delta_bytes = default_captured_delta_bytes) {
        return make(cap, std::span<const pool_shape>(&pool, 1), 1, captured_delta_bytes);
    }
    /// Tables of a hybrid pool: pool 0 the full pool, pool 1 the SWA pool, plus `full_to_swa`.
    /// Errors: as above, plus page_size_mismatch.
    static result<device_tables> create(const table_capacity& cap, pool_shape full, pool_shape swa,
                                        std::int32_t captured_delta_bytes = default_captured_delta_bytes) {
        const pool_shape pools[] = {full, swa};
        return create(cap, std::span<const pool_shape>(pools), captured_delta_bytes);
    }
    /// Tables of a composite pool: pool 0 the full pool, pool 1 + g group g (composite_table_mirror's
    /// order), plus each group's mapping. Errors: as above; invalid_capacity for fewer than 2 pools;
    /// page_size_mismatch when the pools' page sizes differ.
    static result<device_tables> create(const table_capacity& cap, std::span<const pool_shape> pools,
                                        std::int32_t captured_delta_bytes = default_captured_delta_bytes) {
        if (pools.size() < 2) return errc::invalid_capacity;
        if (pools.size() > static_cast<std::size_t>(INT32_MAX)) return errc::length_overflow;
        for (const pool_shape& p : pools)
            if (p.page_size_tokens != pools[0].page_size_tokens) return errc::page_size_mismatch;
        return make(cap, pools, static_cast<std::int32_t>(pools.size()), captured_delta_bytes);
    }

    device_tables(device_tables&& o) noexcept { swap(o); }
    device_tables& operator=(device_tables&& o) noexcept {
        device_tables(std::move(o)).swap(*this);
        return *this;
    }
    device_tables(const device_tables&) = delete;
    device_tables& operator=(const device_tables&) = delete;
    ~device_tables() {
        if (copied_) cudaEventDestroy(copied_);
        if (staging_) cudaFreeHost(staging_);
        if (block_) cudaFree(block_);
    }

    /// The pinned buffer a mirror packs the next delta into. Waits (on the host) until the last
    /// sync's copy has read it: that copy was issued a step ago, so the wait is normally free.
    std::span<std::byte> staging() {
        cudaEventSynchronize(copied_);
        return {staging_, static_cast<std::size_t>(staging_bytes_)};
    }

    /// Applies the staged delta on `stream`: one host-to-device copy, one kernel. No allocation and
    /// no host synchronization, so it may be captured in a CUDA graph. A captured copy has a fixed
    /// size (`captured_delta_bytes`) and reads whatever is staged at each replay: before a replay
    /// check `fits_captured_sync()`, and sync eagerly when it is false (the kernel refuses a
    /// truncated delta, changes nothing, and counts it in `rejected_deltas`).
    /// Returns cudaErrorInvalidValue (nothing issued) for a delta packed for other capacities.
    cudaError_t sync(cudaStream_t stream) {
        cudaStreamCaptureStatus capture{};
        if (cudaError_t e = cudaStreamIsCapturing(stream, &capture)) return e;
        const bool capturing = capture == cudaStreamCaptureStatusActive;
        const delta_header h = staged_header();
        if (!capturing && !accepts(h)) return cudaErrorInvalidValue;  // a replay's kernel checks its own
        const std::int32_t bytes = capturing ? captured_bytes_ : h.total_bytes;
        if (cudaError_t e =
                cudaMemcpyAsync(delta_, staging_, static_cast<std::size_t>(bytes), cudaMemcpyHostToDevice, stream))
            return e;
        if (cudaError_t e = capturing ? cudaEventRecordWithFlags(copied_, stream, cudaEventRecordExternal)
                                      : cudaEventRecord(copied_, stream))
            return e;
        return launch_apply_emit(stream, delta_, nullptr, bytes);
    }

    /// Applies the staged delta on `stream` in one kernel and nothing else: the kernel reads the
    /// delta straight from the pinned staging buffer across the bus (mapped host memory) and leaves a
    /// copy in `device_delta()` for later readers such as the validator. Captured, it is one graph
    /// node that applies whatever delta is staged at each replay, of any size (no fixed-size copy, so
    /// `fits_captured_sync` does not apply). Returns cudaErrorInvalidValue (nothing issued) for a
    /// delta packed for other capacities.
    cudaError_t sync_mapped(cudaStream_t stream) {
        cudaStreamCaptureStatus capture{};
        if (cudaError_t e = cudaStreamIsCapturing(stream, &capture)) return e;
        const bool capturing = capture == cudaStreamCaptureStatusActive;
        if (!capturing && !accepts(staged_header())) return cudaErrorInvalidValue;
        if (cudaError_t e =
                launch_apply_emit(stream, staging_device_, delta_, static_cast<std::int32_t>(staging_bytes_)))
            return e;
        // The kernel is the staging's reader here: it must finish before the next pack rewrites it.
        return capturing ? cudaEventRecordWithFlags(copied_, stream, cudaEventRecordExternal)
                         : cudaEventRecord(copied_, stream);
    }

    /// Applies the staged delta on `stream` with one kernel launch that carries the delta in its own
    /// parameters: no copy before it and no read across the bus, the fastest eager sync. A delta
    /// over `inline_delta_bytes` is synced by `sync` instead. Not capturable (a graph would freeze
    /// the parameters): while `stream` is capturing it returns cudaErrorStreamCaptureUnsupported and
    /// issues nothing; capture `sync` or `sync_mapped`. Returns cudaErrorInvalidValue (nothing
    /// issued) for a delta packed for other capacities.
    cudaError_t sync_inline(cudaStream_t stream) {
        cudaStreamCaptureStatus capture{};
        if (cudaError_t e = cudaStreamIsCapturing(stream, &capture)) return e;
        if (capture != cudaStreamCaptureStatusNone) return cudaErrorStreamCaptureUnsupported;
        const delta_header h = staged_header();
        if (!accepts(h)) return cudaErrorInvalidValue;
        if (h.total_bytes <= 2048) return launch_inline<2048>(stream, h.total_bytes);
        if (h.total_bytes <= 8192) return launch_inline<8192>(stream, h.total_bytes);
        if (h.total_bytes <= inline_delta_bytes) return launch_inline<inline_delta_bytes>(stream, h.total_bytes);
        return sync(stream);
    }
    /// The largest delta `sync_inline` carries in a launch's parameters.
    static constexpr std::int32_t inline_delta_bytes = detail::tables_inline_delta_bytes;

    /// The reference path: the same copy, then the Thrust algorithms of thrust_emission.hpp (the ones
    /// the host suite runs on Thrust's CPP system). Sizes come from the host, so it is not for graphs.
    cudaError_t sync_with_thrust(cudaStream_t stream) {
        const delta_header h = staged_header();
        if (!accepts(h)) return cudaErrorInvalidValue;
        if (cudaError_t e = cudaMemcpyAsync(delta_, staging_, static_cast<std::size_t>(h.total_bytes),
                                            cudaMemcpyHostToDevice, stream))
            return e;
        if (cudaError_t e = cudaEventRecord(copied_, stream)) return e;
        thrust_scratch_.used = 0;
        try {
            const auto policy = thrust::cuda::par_nosync(thrust_scratch_).on(stream);
            apply_delta(policy, delta_, staging_, views_.data(), map_);
            for (std::int32_t k = 0; k < pool_count_; ++k) emit_tables(policy, delta_, staging_, k, views_[k]);
        } catch (const thrust::system_error& e) {
            return static_cast<cudaError_t>(e.code().value());
        } catch (const std::bad_alloc&) {
            return cudaErrorMemoryAllocation;
        }
        return cudaGetLastError();
    }

    /// Whether the staged delta fits the fixed copy of a captured sync.
    bool fits_captured_sync() const noexcept { return staged_header().total_bytes <= captured_bytes_; }

    const table_capacity& capacity() const noexcept { return cap_; }
    std::int32_t pool_count() const noexcept { return pool_count_; }
    /// Pool k's device buffers (0: the only or the full pool; 1 + g: group g, the SWA pool of a hybrid).
    /// @pre 0 <= k < pool_count().
    const pool_tables_view& tables(std::int32_t k) const noexcept { return views_[static_cast<std::size_t>(k)]; }
    /// Group g's mapping on the device, indexed by full page. @pre 0 <= g < pool_count() - 1.
    const std::int32_t* full_to_group(std::int32_t g) const noexcept {
        return map_ + std::int64_t{g} * views_[0].pool_pages;
    }
    /// A hybrid's full_to_swa on the device (group 0's mapping), indexed by full page; null for a single pool.
    const std::int32_t* full_to_swa() const noexcept { return map_; }
    std::int32_t full_to_swa_size() const noexcept { return map_ ? views_[0].pool_pages : 0; }
    /// The last synced delta on the device (its row descriptors name each row's store row).
    const std::byte* device_delta() const noexcept { return delta_; }
    /// Device counter of syncs whose kernel refused the delta (truncated by a captured copy, or foreign).
    const std::int32_t* rejected_deltas() const noexcept { return rejected_; }
    /// Blocks along x of every launch over the tables: one per batch row, at least 32.
    std::int32_t grid_x() const noexcept { return grid_x_; }

private:
    device_tables() = default;

    static result<device_tables> make(const table_capacity& cap, std::span<const pool_shape> shapes, std::int32_t pools,
                                      std::int32_t captured) {
        if (auto s = check_capacity(cap, pools); !s) return s.err();
        for (const pool_shape& p : shapes) {
            if (p.page_size_tokens < 1) return errc::invalid_page_size;
            if (p.pages.pages < 2) return errc::invalid_pool_size;
        }
        device_tables t;
        t.cap_ = cap;
        t.pool_count_ = pools;
        t.grid_x_ = std::max(cap.max_batch, 32);
        t.staging_bytes_ = max_delta_bytes(cap, pools, pools > 1);
        t.captured_bytes_ =
            static_cast<std::int32_t>(std::clamp<std::int64_t>(captured, delta_head_bytes(pools), t.staging_bytes_));
        t.views_.resize(static_cast<std::size_t>(pools));
        const auto fail = [](cudaError_t e) { return error{errc::device_error, cudaGetErrorString(e)}; };
        detail::tables_layout sizing;
        t.carve(sizing, shapes);
        if (cudaError_t e = cudaMalloc(&t.block_, sizing.used)) return fail(e);
        if (cudaError_t e = cudaMemset(t.block_, 0, sizing.used)) return fail(e);
        detail::tables_layout real{static_cast<std::byte*>(t.block_)};
        t.carve(real, shapes);
        for (const pool_tables_view& v : t.views_)  // no page has an owner yet
            if (cudaError_t e = cudaMemset(v.owner, 0xff, sizeof(std::int32_t) * v.pool_pages)) return fail(e);
        if (t.more_views_ != nullptr)  // the views past the launch parameters' room, read by the kernel
            if (cudaError_t e = cudaMemcpy(t.more_views_, t.views_.data() + detail::tables_param_pools,
                                           sizeof(pool_tables_view) * (t.views_.size() - detail::tables_param_pools),
                                           cudaMemcpyHostToDevice))
                return fail(e);
        void* host = nullptr;
        // At least an inline parameter block long, so sync_inline reads no byte past it.
        const auto staging_alloc =
            static_cast<std::size_t>(std::max<std::int64_t>(t.staging_bytes_, inline_delta_bytes));
        if (cudaError_t e = cudaHostAlloc(&host, staging_alloc, cudaHostAllocMapped)) return fail(e);
        t.staging_ = static_cast<std::byte*>(host);
        void* mapped = nullptr;
        if (cudaError_t e = cudaHostGetDevicePointer(&mapped, host, 0)) return fail(e);
        t.staging_device_ = static_cast<const std::byte*>(mapped);
        std::memset(t.staging_, 0, staging_alloc);
        if (cudaError_t e = cudaEventCreateWithFlags(&t.copied_, cudaEventDisableTiming)) return fail(e);
        if (cudaError_t e = cudaDeviceSynchronize()) return fail(e);
        return result<device_tables>(std::move(t));  // explicit: nvcc does not apply the implicit move here
    }

    // The one layout of the allocation; with a null base it only sizes it.
    void carve(detail::tables_layout& l, std::span<const pool_shape> shapes) {
        const std::int64_t cells = std::int64_t{cap_.max_batch} * cap_.max_pages_per_request;
        for (std::int32_t k = 0; k < pool_count_; ++k) {
            const pool_shape& p = shapes[static_cast<std::size_t>(k)];
            pool_tables_view& v = views_[static_cast<std::size_t>(k)];
            v.store = l.take<std::int32_t>(std::int64_t{cap_.max_requests} * cap_.max_pages_per_request);
            v.owner = l.take<std::int32_t>(p.pages.pages);
            v.dense = l.take<std::int32_t>(cells);
            v.csr_indptr = l.take<std::int32_t>(cap_.max_batch + 1);
            v.csr_indices = l.take<std::int32_t>(cells);
            v.csr_last_page_len = l.take<std::int32_t>(cap_.max_batch);
            v.slot_indptr = l.take<std::int32_t>(cap_.max_batch + 1);
            v.slot_mapping = l.take<std::int64_t>(cap_.max_new_tokens);
            v.max_pages = cap_.max_pages_per_request;
            v.page_size_tokens = p.page_size_tokens;
            v.pool_pages = p.pages.pages;
            v.max_new_tokens = cap_.max_new_tokens;
        }
        more_views_ = pool_count_ > detail::tables_param_pools
                          ? l.take<pool_tables_view>(pool_count_ - detail::tables_param_pools)
                          : nullptr;
        map_ = pool_count_ > 1 ? l.take<std::int32_t>(std::int64_t{pool_count_ - 1} * shapes[0].pages.pages) : nullptr;
        delta_ = l.take<std::byte>(staging_bytes_);
        rejected_ = l.take<std::int32_t>(1);
        constexpr std::int64_t scratch = 1 << 20;  // CUB scan temp storage for up to millions of rows
        thrust_scratch_ = {reinterpret_cast<char*>(l.take<std::byte>(scratch)), scratch, 0};
    }

    cudaError_t launch_apply_emit(cudaStream_t stream, const std::byte* delta, std::byte* copy, std::int32_t bytes) {
        const detail::tables_kernel_args args = kernel_args(delta, copy, bytes);
        detail::tables_apply_emit_kernel<><<<dim3(static_cast<unsigned>(grid_x_), static_cast<unsigned>(pool_count_)),
                                             detail::tables_block_threads, 0, stream>>>(args);
        return cudaGetLastError();
    }

    // The parameter block is read straight out of the staging (at least inline_delta_bytes long):
    // parameters are copied at the launch call, so the staging is free again when it returns.
    template <std::int32_t Bytes>
    cudaError_t launch_inline(cudaStream_t stream, std::int32_t bytes) {
        const detail::tables_kernel_args args = kernel_args(nullptr, delta_, bytes);
        const auto& payload = *reinterpret_cast<const detail::tables_inline_delta<Bytes>*>(staging_);
        detail::tables_apply_emit_inline_kernel<Bytes>
            <<<dim3(static_cast<unsigned>(grid_x_), static_cast<unsigned>(pool_count_)), detail::tables_block_threads,
               0, stream>>>(args, payload);
        return cudaGetLastError();
    }

    detail::tables_kernel_args kernel_args(const std::byte* delta, std::byte* copy, std::int32_t bytes) const noexcept {
        detail::tables_kernel_args a{};
        for (std::size_t k = 0; k < detail::tables_param_pools; ++k)  // unused slots repeat pool 0, never read
            a.pools[k] = views_[k < views_.size() ? k : 0];
        a.more_pools = more_views_;
        a.maps = map_;
        a.delta = delta;
        a.delta_copy = copy;
        a.copied_bytes = bytes;
        a.max_batch = cap_.max_batch;
        a.pool_count = pool_count_;
        a.rejected_deltas = rejected_;
        return a;
    }

    delta_header staged_header() const noexcept { return read_delta_header(staging_); }
    bool accepts(const delta_header& h) const noexcept {
        return h.total_bytes >= delta_head_bytes(pool_count_) && h.total_bytes <= staging_bytes_ &&
               h.max_batch == cap_.max_batch && h.max_pages_per_request == cap_.max_pages_per_request &&
               h.pool_count == pool_count_ && h.batch_size >= 0 && h.batch_size <= cap_.max_batch;
    }

    void swap(device_tables& o) noexcept {
        std::swap(cap_, o.cap_);
        std::swap(pool_count_, o.pool_count_);
        std::swap(grid_x_, o.grid_x_);
        std::swap(views_, o.views_);
        std::swap(more_views_, o.more_views_);
        std::swap(map_, o.map_);
        std::swap(delta_, o.delta_);
        std::swap(rejected_, o.rejected_);
        std::swap(block_, o.block_);
        std::swap(staging_, o.staging_);
        std::swap(staging_device_, o.staging_device_);
        std::swap(staging_bytes_, o.staging_bytes_);
        std::swap(captured_bytes_, o.captured_bytes_);
        std::swap(copied_, o.copied_);
        std::swap(thrust_scratch_, o.thrust_scratch_);
    }

    table_capacity cap_{};
    std::int32_t pool_count_ = 0;
    std::int32_t grid_x_ = 0;
    std::vector<pool_tables_view> views_;     // host copies, one per pool
    pool_tables_view* more_views_ = nullptr;  // device copies of views_[tables_param_pools...], or null
    std::int32_t* map_ = nullptr;             // the groups' mappings, one after the other (pool_count_ - 1 of them)
    std::byte* delta_ = nullptr;              // device copy of the last delta
    std::int32_t* rejected_ = nullptr;
    void* block_ = nullptr;                      // the one device allocation every pointer above lives in
    std::byte* staging_ = nullptr;               // pinned and mapped
    const std::byte* staging_device_ = nullptr;  // the staging's address in device code (sync_mapped)
    std::int64_t staging_bytes_ = 0;
    std::int32_t captured_bytes_ = 0;
    cudaEvent_t copied_ = nullptr;  // recorded after each sync's copy: staging may be rewritten
    detail::tables_thrust_arena thrust_scratch_{};
};

}  // namespace pagedkv::gpu
