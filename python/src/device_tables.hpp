// The device tables (cuda/device_tables.cuh) as the binding sees them: a class with no CUDA type
// in its interface. device_tables.cu, the extension's one nvcc translation unit, defines it, so the
// binding's own files stay g++'s, with nanobind and Python's headers, and never see a CUDA header.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/table/delta_format.hpp"

namespace pagedkv::python {

/// The buffers of one pool's tables that Python sees as tensors (gpu::pool_tables_view's outputs).
enum class device_buffer : std::uint8_t {
    block_table,       ///< int32 [max_batch, max_pages_per_request]: the dense table
    kv_indptr,         ///< int32 [max_batch + 1]: CSR row offsets
    kv_indices,        ///< int32 [max_batch * max_pages_per_request]: CSR pages
    kv_last_page_len,  ///< int32 [max_batch]
    qo_indptr,         ///< int32 [max_batch + 1]: tokens in flight of the rows before b
    slot_mapping,      ///< int64 [max_new_tokens]
};

/// gpu::device_tables::default_captured_delta_bytes, for the binding (device_tables.cu checks the two agree).
inline constexpr std::int32_t default_captured_delta_bytes = 64 * 1024;

/// One `gpu::device_tables`: fixed device buffers, a pinned staging buffer, and `sync`.
/// Move-only; its buffers live until it is destroyed, at the addresses they had at creation.
class cuda_tables {
public:
    /// The tables of one pool (`swa_pages` empty) or of a hybrid (pool 0 full, pool 1 SWA), on the
    /// current CUDA device. Errors: those of gpu::device_tables::create; device_error with the CUDA
    /// error's text when there is no device or an allocation fails.
    static result<cuda_tables> create(const table_capacity& cap, std::int32_t page_size_tokens, pool_size pages,
                                      std::optional<pool_size> swa_pages, std::int32_t captured_delta_bytes);

    cuda_tables(cuda_tables&&) noexcept;
    cuda_tables& operator=(cuda_tables&&) noexcept;
    ~cuda_tables();

    /// The pinned buffer the next delta is packed into; waits until the last sync's copy read it.
    std::span<std::byte> staging();
    /// Applies the staged delta on `stream` (a cudaStream_t as an integer; 0: the legacy default
    /// stream). May be captured in a CUDA graph. Errors: device_error.
    status sync(std::uintptr_t stream);
    /// Waits on the host until `stream` has run everything issued to it. Errors: device_error.
    status synchronize(std::uintptr_t stream);
    /// Whether the staged delta fits the fixed copy a captured sync replays.
    bool fits_captured_sync() const noexcept;
    /// Syncs whose kernel refused the delta (a replay of a captured sync whose copy truncated it).
    /// Synchronizes with the device. Errors: device_error.
    result<std::int32_t> rejected_deltas() const;

    /// The CUDA device the buffers live on.
    std::int32_t device() const noexcept;
    /// Pool k's buffer `b` (k = 0: the only or the full pool; 1: the SWA pool of a hybrid).
    void* buffer(std::int32_t k, device_buffer b) const noexcept;
    /// full_to_swa on the device (a hybrid's; null otherwise), one int32 per full page.
    std::int32_t* full_to_swa() const noexcept;

private:
    struct impl;
    explicit cuda_tables(std::unique_ptr<impl> p) noexcept;
    std::unique_ptr<impl> impl_;
};

/// CUDA devices visible to this process: 0 without a driver or a device.
std::int32_t cuda_device_count() noexcept;

}  // namespace pagedkv::python
