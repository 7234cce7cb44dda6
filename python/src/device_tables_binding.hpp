// DeviceTables, the persistent device tables of one pool object, for a CUDA build of the extension
// (PAGEDKV_PYTHON_CUDA): a table mirror of the pool (host, g++) feeding a cuda_tables (device,
// nvcc) whose buffers Python sees as torch tensors at fixed addresses. bind_device_tables.cpp binds
// the class; pools.hpp gives every pool class its `device_tables(...)` factory from here.
#pragma once
#include <array>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>

#include "binding.hpp"
#include "device_tables.hpp"

namespace pagedkv::python {

/// A pool's table mirror behind one interface, so one Python class serves every pool type.
class mirror_base {
public:
    virtual ~mirror_base() = default;
    /// Diffs the pool against the device state for `batch` (table_mirror::stage), then packs the
    /// delta into `staging`; returns its bytes. Errors: those of stage, nothing changed.
    virtual result<std::int32_t> stage(std::span<const request_id> batch, std::span<std::byte> staging) = 0;
};

/// The mirror of one pool type: table_mirror, or hybrid_table_mirror for a hybrid.
template <class Pool, class Mirror>
class mirror_of final : public mirror_base {
public:
    mirror_of(const Pool& pool, Mirror mirror) : pool_(&pool), mirror_(std::move(mirror)) {}
    result<std::int32_t> stage(std::span<const request_id> batch, std::span<std::byte> staging) override {
        if (auto s = mirror_.stage(*pool_, batch); !s) return s.err();
        return mirror_.pack(staging);  // staging holds max_delta_bytes(cap): a staged delta always fits
    }

private:
    const Pool* pool_;  // the pool of the Python object py_device_tables::pool keeps alive
    Mirror mirror_;
};

/// The Python `DeviceTables` object. Invariant: the device holds what the mirror last staged once
/// the sync of that stage has run (table_mirror's contract: every stage, then its sync, on one
/// stream, before the next stage); creation stages and syncs the pool's state as it is.
struct py_device_tables {
    py_device_tables(cuda_tables d, std::unique_ptr<mirror_base> m, nb::object p, const table_capacity& c)
        : device(std::move(d)), mirror(std::move(m)), pool(std::move(p)), cap(c) {}

    cuda_tables device;
    std::unique_ptr<mirror_base> mirror;
    nb::object pool;  // keeps the mirrored pool alive as long as the tables
    table_capacity cap;
    std::int32_t full_pool = -1, swa_pool = -1;  // index of the full / SWA pool in `device`, -1: none
    std::int32_t full_pages = 0;                 // entries of full_to_swa (hybrids)
    batch_scratch scratch;
    std::int64_t batch_size = 0;  // rows of the last stage
    std::int32_t staged_bytes = 0;

    /// Stages `batch` into the pinned buffer. Errors (nothing changed): those of table_mirror::stage.
    std::int32_t stage(std::span<const request_id> batch, const char* call) {
        staged_bytes = value_or_raise(mirror->stage(batch, device.staging()), call);
        batch_size = static_cast<std::int64_t>(batch.size());
        return staged_bytes;
    }
    void sync(std::uintptr_t stream, const char* call) { check(device.sync(stream), call); }
};

/// The options every `device_tables(...)` factory takes, as the capacity and sync size.
struct device_tables_options {
    table_capacity cap;
    std::int32_t captured_delta_bytes;
    diff_scope scope;
};

/// Makes the device tables of `pool` (the Python object `owner`) and brings them in step with it:
/// an empty batch staged and synced on the legacy default stream, waited for.
template <class Pool, class Mirror, class... Parts>
py_device_tables make_device_tables(nb::handle owner, const Pool& pool, const device_tables_options& o,
                                    const Parts&... parts) {
    constexpr const char* call = "device_tables";
    Mirror mirror = value_or_raise(Mirror::create(o.cap, pool, o.scope), call);
    const auto sizes = std::array<pool_size, sizeof...(Parts)>{parts.size()...};
    const std::int32_t page_size = std::get<0>(std::tie(parts...)).page_size_tokens();
    std::optional<pool_size> second;
    if constexpr (sizeof...(Parts) == 2) second = sizes[1];
    py_device_tables t(
        value_or_raise(cuda_tables::create(o.cap, page_size, sizes[0], second, o.captured_delta_bytes), call),
        std::make_unique<mirror_of<Pool, Mirror>>(pool, std::move(mirror)), nb::borrow(owner), o.cap);
    std::int32_t k = 0;
    const auto place = [&](const auto& part) {
        constexpr bool full = std::remove_cvref_t<decltype(part)>::kind == attention_kind::full;
        (full ? t.full_pool : t.swa_pool) = k++;
    };
    (place(parts), ...);
    if constexpr (sizeof...(Parts) == 2) t.full_pages = sizes[0].pages;
    t.stage({}, call);
    t.sync(0, call);
    check(t.device.synchronize(0), call);
    return t;
}

void bind_device_tables(nb::module_& m);

}  // namespace pagedkv::python
