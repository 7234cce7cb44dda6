// bench/swa_decode_shim.cu: pagedkv's swa_decode behind two extern "C" entry points on raw device
// pointers, so bench/swa_decode_flashinfer.py can drive it from Python (ctypes) in the same process,
// on the same torch tensors (caches, CSR tables, queries) that it hands to FlashInfer.
//
// Build (on the device machine; the kernel header needs no host-only dependency):
//   nvcc -O3 -shared -Xcompiler=-fPIC -gencode=arch=compute_90a,code=sm_90a -std=c++20
//        --expt-relaxed-constexpr -Iinclude bench/swa_decode_shim.cu -o libswa_decode_shim.so
// (scripts/gpu_round_h200.sh builds it so).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "pagedkv/cuda/swa_decode.cuh"

namespace {

pagedkv::gpu::decode_shape shape_of(std::int32_t batch, std::int32_t queries, std::int32_t q_heads,
                                    std::int32_t kv_heads, std::int32_t head_dim, std::int32_t page_size,
                                    std::int32_t window, std::int32_t max_kv_tokens) {
    pagedkv::gpu::decode_shape s{};
    s.batch = batch;
    s.queries_per_request = queries;
    s.num_q_heads = q_heads;
    s.num_kv_heads = kv_heads;
    s.head_dim = head_dim;
    s.page_size_tokens = page_size;
    s.window_tokens = window;
    s.max_kv_tokens = max_kv_tokens;
    return s;
}

}  // namespace

extern "C" {

/// Plans a bf16 decode (window 0 = full attention). Writes the split count and the workspace bytes
/// the launch needs; returns 0, or the decode_errc value naming the bad argument.
int pkv_plan(std::int32_t batch, std::int32_t queries, std::int32_t q_heads, std::int32_t kv_heads,
             std::int32_t head_dim, std::int32_t page_size, std::int32_t window, std::int32_t max_kv_tokens,
             std::int32_t sm_count, std::int32_t* num_splits, std::uint64_t* workspace_bytes) {
    pagedkv::gpu::decode_plan plan{};
    const auto st = pagedkv::gpu::plan_decode(
        shape_of(batch, queries, q_heads, kv_heads, head_dim, page_size, window, max_kv_tokens), sm_count, plan);
    if (!st) return static_cast<int>(st.code);
    *num_splits = plan.num_splits;
    *workspace_bytes = plan.workspace_bytes;
    return 0;
}

/// One bf16 swa_decode launch on `stream` over a CSR table (pagedkv's emit_csr_table layout, which
/// is FlashInfer's paged_kv_indptr / indices / last_page_len). `num_splits` 0 takes the plan's.
/// Returns 0, or the decode_errc value (launch_failed: the CUDA error is left for cudaGetLastError).
int pkv_decode_csr(std::int32_t batch, std::int32_t queries, std::int32_t q_heads, std::int32_t kv_heads,
                   std::int32_t head_dim, std::int32_t page_size, std::int32_t window, std::int32_t max_kv_tokens,
                   std::int32_t sm_count, std::int32_t num_splits, const void* q, void* out, const void* k_cache,
                   const void* v_cache, const std::int32_t* indptr, const std::int32_t* indices,
                   const std::int32_t* last_page_len, float softmax_scale, void* workspace,
                   std::uint64_t workspace_bytes, void* stream) {
    using bf16 = __nv_bfloat16;
    pagedkv::gpu::decode_plan plan{};
    const auto s = shape_of(batch, queries, q_heads, kv_heads, head_dim, page_size, window, max_kv_tokens);
    if (const auto st = pagedkv::gpu::plan_decode(s, sm_count, plan); !st) return static_cast<int>(st.code);
    if (num_splits > 0) {
        plan.num_splits = num_splits;
        plan.workspace_bytes = pagedkv::gpu::workspace_bytes_for(s, num_splits);
    }
    const pagedkv::gpu::decode_tensors<bf16> t{static_cast<const bf16*>(q),
                                               static_cast<bf16*>(out),
                                               static_cast<const bf16*>(k_cache),
                                               static_cast<const bf16*>(v_cache),
                                               pagedkv::gpu::page_table_view::csr(indptr, indices, last_page_len),
                                               softmax_scale};
    const auto st = pagedkv::gpu::swa_decode(plan, t, workspace, workspace_bytes, static_cast<cudaStream_t>(stream));
    return st ? 0 : static_cast<int>(st.code);
}

}  // extern "C"
