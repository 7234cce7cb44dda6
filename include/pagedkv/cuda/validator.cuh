// Table validator: checks emitted tables on the device and reports the first bad entry instead of faulting.
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "pagedkv/core/error.hpp"
#include "pagedkv/cuda/detail/tables_validate.cuh"
#include "pagedkv/cuda/device_tables.cuh"

namespace pagedkv::gpu {

/// Which checks run besides the range checks (every entry of every table below its pool's size,
/// slots below pool pages * P, full_to_swa entries below the SWA pool's size).
struct validate_options {
    bool check_owners = true;   ///< in-window entries hold pages the row's request owns (owner array)
    bool check_mapping = true;  ///< hybrid: full_to_swa of each full entry equals the SWA entry
    friend constexpr bool operator==(const validate_options&, const validate_options&) = default;
};

/// A small device result buffer plus the launch that fills it. One launch per check; the report
/// of the last launch stays in device memory (`device_report`) until the next one, so an engine can
/// read it asynchronously, or branch on it in a later kernel, without a host synchronization.
class table_validator {
public:
    /// Errors: device_error when CUDA cannot allocate the state (detail names the CUDA error).
    static result<table_validator> create() {
        table_validator v;
        if (cudaError_t e = cudaMalloc(&v.state_, sizeof(detail::tables_validator_state)))
            return error{errc::device_error, cudaGetErrorString(e)};
        const detail::tables_validator_state init{~0ull, 0u, 0, validation_report{}};
        if (cudaError_t e = cudaMemcpy(v.state_, &init, sizeof init, cudaMemcpyHostToDevice))
            return error{errc::device_error, cudaGetErrorString(e)};
        return result<table_validator>(std::move(v));
    }
    table_validator(table_validator&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
    table_validator& operator=(table_validator&& o) noexcept {
        std::swap(state_, o.state_);
        return *this;
    }
    table_validator(const table_validator&) = delete;
    table_validator& operator=(const table_validator&) = delete;
    ~table_validator() {
        if (state_) cudaFree(state_);
    }

    /// Checks the tables of the last `sync` of `t` on `stream` (one kernel; capturable).
    /// @pre launches of one validator are ordered (same stream): they share the result buffer.
    /// Covers one pool or a hybrid (full + SWA): for more pools it returns cudaErrorInvalidValue and
    /// launches nothing.
    cudaError_t launch(const device_tables& t, cudaStream_t stream, validate_options opt = {}) const {
        if (t.pool_count() > 2) return cudaErrorInvalidValue;
        detail::tables_validate_args a{{t.tables(0), t.tables(t.pool_count() - 1)},
                                       t.full_to_swa(),
                                       t.full_to_swa_size(),
                                       t.pool_count(),
                                       t.device_delta(),
                                       state_,
                                       opt.check_owners,
                                       opt.check_mapping};
        detail::tables_validate_kernel<>
            <<<dim3(static_cast<unsigned>(t.grid_x()), static_cast<unsigned>(t.pool_count())),
               detail::tables_block_threads, 0, stream>>>(a);
        return cudaGetLastError();
    }

    /// The report of the last launch, in device memory.
    const validation_report* device_report() const noexcept { return &state_->report; }

    /// Copies the last report to the host and waits for it (not for the hot path).
    cudaError_t read(validation_report& out, cudaStream_t stream) const {
        if (cudaError_t e = cudaMemcpyAsync(&out, device_report(), sizeof out, cudaMemcpyDeviceToHost, stream))
            return e;
        return cudaStreamSynchronize(stream);
    }

private:
    table_validator() = default;
    detail::tables_validator_state* state_ = nullptr;
};

}  // namespace pagedkv::gpu
