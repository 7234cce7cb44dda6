// cuda_tables (device_tables.hpp) over gpu::device_tables: the only translation unit of the
// extension that nvcc compiles, built when meson configures CUDA and the Python option together.
#include "device_tables.hpp"

#include <cuda_runtime.h>

#include <pagedkv/cuda/device_tables.cuh>

namespace pagedkv::python {

static_assert(default_captured_delta_bytes == gpu::device_tables::default_captured_delta_bytes);

struct cuda_tables::impl {
    gpu::device_tables tables;
    std::int32_t device = 0;
};

namespace {
// cudaGetErrorString's text is static, as error::detail requires.
error cuda_failure(cudaError_t e) { return error{errc::device_error, cudaGetErrorString(e)}; }
cudaStream_t as_stream(std::uintptr_t s) noexcept { return reinterpret_cast<cudaStream_t>(s); }
}  // namespace

result<cuda_tables> cuda_tables::create(const table_capacity& cap, std::int32_t page_size_tokens, pool_size pages,
                                        std::optional<pool_size> swa_pages, std::int32_t captured_delta_bytes) {
    int device = 0;
    if (cudaError_t e = cudaGetDevice(&device)) return cuda_failure(e);
    const gpu::pool_shape first{pages, page_size_tokens};
    auto t = swa_pages ? gpu::device_tables::create(cap, first, {*swa_pages, page_size_tokens}, captured_delta_bytes)
                       : gpu::device_tables::create(cap, first, captured_delta_bytes);
    if (!t) return t.err();
    return result<cuda_tables>(cuda_tables(std::make_unique<impl>(impl{std::move(t.value()), device})));
}

cuda_tables::cuda_tables(std::unique_ptr<impl> p) noexcept : impl_(std::move(p)) {}
cuda_tables::cuda_tables(cuda_tables&&) noexcept = default;
cuda_tables& cuda_tables::operator=(cuda_tables&&) noexcept = default;
cuda_tables::~cuda_tables() = default;

std::span<std::byte> cuda_tables::staging() { return impl_->tables.staging(); }

status cuda_tables::sync(std::uintptr_t stream) {
    if (cudaError_t e = impl_->tables.sync(as_stream(stream))) return cuda_failure(e);
    return {};
}

status cuda_tables::synchronize(std::uintptr_t stream) {
    if (cudaError_t e = cudaStreamSynchronize(as_stream(stream))) return cuda_failure(e);
    return {};
}

bool cuda_tables::fits_captured_sync() const noexcept { return impl_->tables.fits_captured_sync(); }

result<std::int32_t> cuda_tables::rejected_deltas() const {
    std::int32_t n = 0;
    if (cudaError_t e = cudaMemcpy(&n, impl_->tables.rejected_deltas(), sizeof n, cudaMemcpyDeviceToHost))
        return cuda_failure(e);
    return n;
}

std::int32_t cuda_tables::device() const noexcept { return impl_->device; }

void* cuda_tables::buffer(std::int32_t k, device_buffer b) const noexcept {
    const pool_tables_view& v = impl_->tables.tables(k);
    switch (b) {
        case device_buffer::block_table:
            return v.dense;
        case device_buffer::kv_indptr:
            return v.csr_indptr;
        case device_buffer::kv_indices:
            return v.csr_indices;
        case device_buffer::kv_last_page_len:
            return v.csr_last_page_len;
        case device_buffer::qo_indptr:
            return v.slot_indptr;
        case device_buffer::slot_mapping:
            return v.slot_mapping;
    }
    return nullptr;
}

std::int32_t* cuda_tables::full_to_swa() const noexcept {
    return const_cast<std::int32_t*>(impl_->tables.full_to_swa());  // device memory the tables own, read by tensors
}

std::int32_t cuda_device_count() noexcept {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

}  // namespace pagedkv::python
