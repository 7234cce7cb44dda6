// Paged decode attention over pagedkv's tables: sliding window or full, dense or CSR, split-K.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <concepts>
#include <cstddef>
#include <cstdint>

#include "pagedkv/cuda/page_table_view.cuh"
#include "pagedkv/cuda/detail/swa_decode_kernel.cuh"

namespace pagedkv::gpu {

/// The element types the kernel reads and writes; accumulation is always fp32.
template <class T>
concept kv_element = std::same_as<T, __nv_bfloat16> || std::same_as<T, __half>;

/// Every way planning or launching a decode can fail. A failing call launched nothing.
enum class decode_errc : std::uint8_t {
    unsupported_head_dim = 1,  ///< head_dim is not 64, 128 or 256
    invalid_shape,             ///< batch < 0, a head count < 1, Hq not a multiple of Hkv, queries < 1, too many rows
    invalid_page_size,         ///< page size not a power of two in [1, 2^20]
    invalid_window,            ///< window below 0 (0 means no window)
    misaligned_pointer,        ///< q, out, k, v or the workspace not 16-byte aligned
    plan_mismatch,             ///< the plan was made for another shape
    workspace_too_small,       ///< the plan's workspace_bytes exceed the buffer passed
    launch_failed,             ///< CUDA refused the launch (see `decode_status::cuda`)
    invalid_chunk,  ///< chunk below 0, a window and a chunk both set, or a CSR table whose chunk is not a multiple of P
};

/// Success, or the named reason nothing was launched.
struct [[nodiscard]] decode_status {
    decode_errc code{};
    cudaError_t cuda = cudaSuccess;  ///< set with launch_failed
    constexpr bool ok() const noexcept { return code == decode_errc{}; }
    constexpr explicit operator bool() const noexcept { return ok(); }
};

/// The shape of one attention call. Queries of request b are its last `queries_per_request` tokens:
/// query j sits at position p_j = len_b - queries + j (its own K/V already written) and attends keys
/// [p_j - W + 1, p_j] (FlashInfer window_left = W - 1), or [0, p_j] when `window_tokens == 0`; with
/// `chunk_tokens` = C instead, [floor(p_j / C) * C, p_j] (chunked local attention). Positions are
/// the row's: a dense row counts from token 0, a CSR row from its first listed page, which for a
/// chunked pool's row is its chunk start when C % P == 0 (for other C, pass dense rows).
/// queries_per_request = 1 is plain decode; 1 + k verifies k speculative tokens (causal among them).
struct decode_shape {
    std::int32_t batch = 0;  ///< table rows
    std::int32_t queries_per_request = 1;
    std::int32_t num_q_heads = 0;
    std::int32_t num_kv_heads = 0;      ///< GQA: num_q_heads is a multiple of it
    std::int32_t head_dim = 0;          ///< 64, 128 or 256
    std::int32_t page_size_tokens = 0;  ///< a power of two
    std::int32_t window_tokens = 0;     ///< W; 0 = full attention
    std::int32_t max_kv_tokens = 0;     ///< an upper bound on any row's kv length; sizes the split only
    /// C; 0 = not chunked (at most one of W and C is set). Chunked local attention (Llama-4): a
    /// query at p sees [floor(p / C) * C, p]. Positions count from the row's first entry, so a CSR
    /// row must start at a chunk boundary, as a chunked pool's CSR rows do when C is a multiple of P
    /// (checked).
    std::int32_t chunk_tokens = 0;
    friend constexpr bool operator==(const decode_shape&, const decode_shape&) = default;
};

/// How a shape is laid over the GPU. A plain value: make it once per shape (outside any graph
/// capture), reuse it every step. `workspace_bytes` of device memory must be passed to the launch.
struct decode_plan {
    decode_shape shape;
    std::int32_t num_splits = 1;  ///< blocks sharing one row's keys (flash-decoding); 1 = no merge pass
    std::int32_t row_chunks = 1;  ///< blocks sharing one KV head's query rows (GQA group x queries)
    std::size_t workspace_bytes = 0;
};

/// The tensors of one call; all device pointers, 16-byte aligned.
template <kv_element T>
struct decode_tensors {
    const T* q = nullptr;        ///< [batch, queries_per_request, num_q_heads, head_dim]
    T* out = nullptr;            ///< same shape as q; every element is written
    const T* k_cache = nullptr;  ///< [pages, page_size, num_kv_heads, head_dim] (NHD)
    const T* v_cache = nullptr;  ///< same
    page_table_view table;       ///< the emitted table of this layer's pool, batch rows
    float softmax_scale = 0.f;   ///< usually 1 / sqrt(head_dim)
};

/// Checks a shape; the same checks `plan_decode` and `swa_decode` make.
constexpr decode_status check_shape(const decode_shape& s) noexcept {
    if (s.head_dim != 64 && s.head_dim != 128 && s.head_dim != 256) return {decode_errc::unsupported_head_dim};
    if (s.batch < 0 || s.batch > 65535 || s.num_q_heads < 1 || s.num_kv_heads < 1 ||
        s.num_q_heads % s.num_kv_heads != 0 || s.queries_per_request < 1 || s.max_kv_tokens < 0 ||
        std::int64_t{s.num_q_heads} * s.queries_per_request > 4096)
        return {decode_errc::invalid_shape};
    if (s.page_size_tokens < 1 || s.page_size_tokens > (1 << 20) || (s.page_size_tokens & (s.page_size_tokens - 1)))
        return {decode_errc::invalid_page_size};
    if (s.window_tokens < 0) return {decode_errc::invalid_window};
    if (s.chunk_tokens < 0 || (s.chunk_tokens > 0 && s.window_tokens > 0)) return {decode_errc::invalid_chunk};
    return {};
}

/// Device bytes the merge of `splits` partial results needs (0 when splits == 1).
constexpr std::size_t workspace_bytes_for(const decode_shape& s, std::int32_t splits) noexcept {
    if (splits <= 1) return 0;
    return static_cast<std::size_t>(std::int64_t{s.batch} * s.queries_per_request * s.num_q_heads * splits *
                                    (s.head_dim + 1)) *
           sizeof(float);
}

/// Chooses the split: enough blocks to keep every SM streaming (2 per SM: a block keeps 32 KiB of
/// loads in flight), never less than 2 tiles of keys per split. `sm_count` is the device's
/// multiprocessor count (cudaDevAttrMultiProcessorCount); the plan is pure arithmetic on it.
/// Errors: those of check_shape.
constexpr decode_status plan_decode(const decode_shape& s, int sm_count, decode_plan& plan) noexcept {
    if (auto st = check_shape(s); !st) return st;
    const std::int64_t rows = std::int64_t{s.num_q_heads / s.num_kv_heads} * s.queries_per_request;
    const auto row_chunks = static_cast<std::int32_t>((rows + detail::rows_per_block - 1) / detail::rows_per_block);
    const std::int64_t base = std::int64_t{s.batch} * s.num_kv_heads * row_chunks;
    const std::int64_t target = 2 * std::int64_t{sm_count > 0 ? sm_count : 1};
    // The most keys a row's queries see: W (or C) plus the later queries, when below the bound.
    const std::int64_t span = s.window_tokens > 0 ? s.window_tokens : s.chunk_tokens;
    const std::int64_t keys = span > 0 && span + s.queries_per_request - 1 < s.max_kv_tokens
                                  ? span + s.queries_per_request - 1
                                  : s.max_kv_tokens;
    const std::int64_t tiles = keys / detail::tile_keys(s.head_dim) + 1;  // +1: an unaligned range straddles one more
    std::int64_t splits = base == 0 || base >= target ? 1 : (target + base - 1) / base;
    if (splits > tiles / 2) splits = tiles / 2;
    if (splits > detail::max_splits) splits = detail::max_splits;
    if (splits < 1) splits = 1;
    plan = decode_plan{s, static_cast<std::int32_t>(splits), row_chunks,
                       workspace_bytes_for(s, static_cast<std::int32_t>(splits))};
    return {};
}

/// 1: the split merge overlaps the decode grid's tail (programmatic dependent launch); 0: two plain
/// launches in stream order (for measuring the difference).
#ifndef PAGEDKV_SWA_DECODE_PDL
#define PAGEDKV_SWA_DECODE_PDL 1
#endif

namespace detail {
template <kv_element T, int D>
cudaError_t launch(const kernel_params<T>& p, int batch, std::int64_t q_rows, cudaStream_t stream) {
    const dim3 grid(static_cast<unsigned>(p.splits), static_cast<unsigned>(p.kv_heads * p.row_chunks),
                    static_cast<unsigned>(batch));
    decode_kernel<T, D><<<grid, threads, smem_bytes, stream>>>(p);
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess || p.splits == 1) return e;
    // The merge is a programmatic dependent launch: its launch overlaps the decode grid, and it
    // waits on the device for that grid (its first instruction), not between two launches.
    cudaLaunchConfig_t merge{};
    merge.gridDim = dim3(static_cast<unsigned>(q_rows));
    merge.blockDim = dim3(threads);
    merge.stream = stream;
    cudaLaunchAttribute overlap{};
    overlap.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    overlap.val.programmaticStreamSerializationAllowed = PAGEDKV_SWA_DECODE_PDL;
    merge.attrs = &overlap;
    merge.numAttrs = 1;
    return cudaLaunchKernelEx(&merge, merge_splits_kernel<T>, static_cast<const float*>(p.partial_o),
                              static_cast<const float*>(p.partial_lse), p.out, p.splits, D);
}
}  // namespace detail

/// Computes attention for every query row of the batch into `t.out` on `stream`. For each row it
/// derives the first in-window key from the row's length and W (or C), and reads table entries only from
/// that key's page to the last query's page: entries before the window (null pages, garbage, pages
/// already reused) and past the row's length are never dereferenced. In-window entries must be
/// valid pages of the caches. No allocation, no host synchronization: capturable in a CUDA graph.
/// Errors: those of check_shape, plan_mismatch, misaligned_pointer, workspace_too_small,
/// launch_failed.
template <kv_element T>
decode_status swa_decode(const decode_plan& plan, const decode_tensors<T>& t, void* workspace,
                         std::size_t workspace_bytes, cudaStream_t stream) {
    const decode_shape& s = plan.shape;
    if (auto st = check_shape(s); !st) return st;
    decode_plan expect{};
    (void)plan_decode(s, 1, expect);
    if (plan.row_chunks != expect.row_chunks || plan.num_splits < 1 || plan.num_splits > detail::max_splits ||
        plan.workspace_bytes < workspace_bytes_for(s, plan.num_splits))
        return {decode_errc::plan_mismatch};
    if (s.chunk_tokens > 0 && t.table.form == table_form::csr && s.chunk_tokens % s.page_size_tokens != 0)
        return {decode_errc::invalid_chunk};  // a CSR row's first entry would not sit on a chunk boundary
    const void* pointers[] = {t.q, t.out, t.k_cache, t.v_cache, workspace};
    for (const void* ptr : pointers)
        if (reinterpret_cast<std::uintptr_t>(ptr) % 16 != 0) return {decode_errc::misaligned_pointer};
    if (plan.num_splits > 1 && (workspace_bytes < plan.workspace_bytes || workspace == nullptr))
        return {decode_errc::workspace_too_small};
    if (s.batch == 0) return {};

    const std::int64_t q_rows = std::int64_t{s.batch} * s.queries_per_request * s.num_q_heads;
    float* partial_o = static_cast<float*>(workspace);
    detail::kernel_params<T> p{t.q,
                               t.out,
                               t.k_cache,
                               t.v_cache,
                               t.table,
                               partial_o,
                               plan.num_splits > 1 ? partial_o + q_rows * plan.num_splits * s.head_dim : nullptr,
                               s.queries_per_request,
                               s.num_q_heads,
                               s.num_kv_heads,
                               0,
                               s.window_tokens,
                               plan.num_splits,
                               plan.row_chunks,
                               t.softmax_scale * 1.4426950408889634f,
                               s.chunk_tokens};
    while ((1 << p.page_shift) < s.page_size_tokens) ++p.page_shift;
    cudaError_t e = cudaSuccess;
    switch (s.head_dim) {
        case 64:
            e = detail::launch<T, 64>(p, s.batch, q_rows, stream);
            break;
        case 128:
            e = detail::launch<T, 128>(p, s.batch, q_rows, stream);
            break;
        default:
            e = detail::launch<T, 256>(p, s.batch, q_rows, stream);
            break;
    }
    if (e != cudaSuccess) return {decode_errc::launch_failed, e};
    return {};
}

}  // namespace pagedkv::gpu
