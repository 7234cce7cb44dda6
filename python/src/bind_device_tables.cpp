// DeviceTables and its typed views (FullDeviceTables, SwaDeviceTables): the persistent device
// tables as torch tensors through DLPack, zero-copy, at the addresses the buffers got at creation.
// Built only with CUDA (PAGEDKV_PYTHON_CUDA); the pools' `device_tables(...)` makes them.
#include <nanobind/stl/string.h>

#include <string>

#include "device_tables_binding.hpp"

namespace pagedkv::python {
namespace {

/// A tensor over device memory the DeviceTables object `owner` holds: torch keeps `owner` alive
/// as long as the tensor, and every tensor of one buffer has the same data_ptr.
template <class T>
nb::ndarray<nb::pytorch, T, nb::device::cuda> tensor(nb::handle owner, const py_device_tables& t, void* data,
                                                     std::initializer_list<std::size_t> shape) {
    return {data, shape, owner, {}, nb::dtype<T>(), nb::device::cuda::value, t.device.device()};
}

/// The return policy of every tensor property. Not def_prop_ro's default, reference_internal:
/// nanobind refuses that for an ndarray whose owner is not the property's own object (a view's
/// tensors are owned by the DeviceTables object), and the owner already keeps the memory alive.
constexpr auto tensor_policy = nb::rv_policy::reference;

/// cudaStream_t from an int (torch.cuda.current_stream().cuda_stream) or an object with a
/// `cuda_stream` attribute (a torch.cuda.Stream).
std::uintptr_t stream_of(nb::handle s) {
    nb::handle raw = nb::hasattr(s, "cuda_stream") ? nb::handle(s.attr("cuda_stream")) : s;
    std::uintptr_t value = 0;
    if (!nb::try_cast<std::uintptr_t>(raw, value))
        throw nb::type_error(
            "stream must be an int (a cudaStream_t, e.g. torch.cuda.current_stream().cuda_stream) "
            "or an object with a cuda_stream attribute");
    return value;
}

/// The tables of one attention kind: the view's type is the kind, as for FullView / SwaView.
template <attention_kind Kind>
struct device_view {
    nb::object tables;  // the DeviceTables object
    std::int32_t pool;  // its pool index
};

template <attention_kind Kind>
void bind_device_view(nb::module_& m, const char* name, const char* doc) {
    using view = device_view<Kind>;
    const auto of = [](const view& v) -> const py_device_tables& {
        return nb::cast<const py_device_tables&>(v.tables);
    };
    const auto rows = [of](const view& v) { return static_cast<std::size_t>(of(v).cap.max_batch); };
    const auto cols = [of](const view& v) { return static_cast<std::size_t>(of(v).cap.max_pages_per_request); };
    const auto i32 = [of](const view& v, device_buffer b, std::initializer_list<std::size_t> shape) {
        return tensor<std::int32_t>(v.tables, of(v), of(v).device.buffer(v.pool, b), shape);
    };
    nb::class_<view>(m, name, doc)
        .def_prop_ro(
            "kind", [](const view&) { return Kind; }, "The attention kind of every table of this view.")
        .def_prop_ro(
            "block_table", [=](const view& v) { return i32(v, device_buffer::block_table, {rows(v), cols(v)}); },
            tensor_policy,
            "int32 [max_batch, max_pages_per_request]: row b = batch row b's pages, null page 0 past its "
            "pages and (SWA) before the window, as emit_dense writes it. Rows past the batch are stale.")
        .def_prop_ro(
            "kv_indptr", [=](const view& v) { return i32(v, device_buffer::kv_indptr, {rows(v) + 1}); }, tensor_policy,
            "int32 [max_batch + 1]: FlashInfer's kv_indptr for the staged batch (entries 0..B).")
        .def_prop_ro(
            "kv_indices", [=](const view& v) { return i32(v, device_buffer::kv_indices, {rows(v) * cols(v)}); },
            tensor_policy,
            "int32 [max_batch * max_pages_per_request]: FlashInfer's kv_indices (the first "
            "kv_indptr[B] entries); SWA rows list only in-window pages.")
        .def_prop_ro(
            "kv_last_page_len", [=](const view& v) { return i32(v, device_buffer::kv_last_page_len, {rows(v)}); },
            tensor_policy, "int32 [max_batch]: FlashInfer's kv_last_page_len (entries 0..B-1).")
        .def_prop_ro(
            "qo_indptr", [=](const view& v) { return i32(v, device_buffer::qo_indptr, {rows(v) + 1}); }, tensor_policy,
            "int32 [max_batch + 1]: tokens in flight of the rows before b (query offsets; "
            "qo_indptr[B] = the slot mapping's length).")
        .def_prop_ro(
            "slot_mapping",
            [of](const view& v) {
                const py_device_tables& t = of(v);
                return tensor<std::int64_t>(v.tables, t, t.device.buffer(v.pool, device_buffer::slot_mapping),
                                            {static_cast<std::size_t>(t.cap.max_new_tokens)});
            },
            tensor_policy,
            "int64 [max_new_tokens]: page * P + offset of each token in flight, row by row (the first "
            "qo_indptr[B] entries), as emit_slot_mapping writes it.");
}

template <attention_kind Kind>
device_view<Kind> view_of(nb::handle self, std::int32_t pool, const char* missing) {
    if (pool < 0) throw nb::attribute_error(missing);
    return device_view<Kind>{nb::borrow(self), pool};
}

}  // namespace

void bind_device_tables(nb::module_& m) {
    bind_device_view<attention_kind::full>(
        m, "FullDeviceTables",
        "The full-attention tables of a DeviceTables object (`tables.full`), as CUDA torch tensors.");
    bind_device_view<attention_kind::sliding>(
        m, "SwaDeviceTables",
        "The sliding-window tables of a DeviceTables object (`tables.swa`), as CUDA torch tensors.");
    using T = py_device_tables;
    const auto arg_stream = nb::arg("stream") = 0;
    nb::class_<T>(
        m, "DeviceTables",
        "A pool's page tables in device memory at fixed addresses (made by `pool.device_tables(...)`), synced "
        "each step with one host-to-device copy and one kernel. The tensors (`full`, `swa`, `full_to_swa`) are "
        "views of those buffers: their data_ptr never changes, so a CUDA graph that reads them stays valid. "
        "Contract: every stage is followed by a sync of it, on one stream, before the next stage.")
        .def(
            "stage", [](T& t, const ids_in& requests) { return t.stage(t.scratch.ids(requests), "stage"); },
            nb::arg("requests"),
            "Diffs the pool against the device state for this step's batch (rows in this order) and packs the "
            "delta into the pinned staging buffer; returns its bytes. Waits until the last sync's copy has read "
            "that buffer, so never call it while capturing a graph. Raises UnknownRequestError, "
            "DuplicateRequestError, RowTooShortError, BufferTooSmallError (batch, live requests, tokens in "
            "flight or writes over the capacity) with nothing changed.")
        .def(
            "sync", [](T& t, nb::handle stream) { t.sync(stream_of(stream), "sync"); }, arg_stream,
            "Applies the staged delta on `stream` (a cudaStream_t int or a torch.cuda.Stream; 0 the legacy "
            "default stream): one copy, one kernel, no host synchronization, so it may be captured in a CUDA "
            "graph (a replay copies captured_delta_bytes and applies what is staged then: check "
            "fits_captured_sync before a replay). Raises DeviceError; the delta stays staged for a retry.")
        .def(
            "update",
            [](T& t, const ids_in& requests, nb::handle stream) {
                const std::uintptr_t s = stream_of(stream);  // before staging: a bad stream changes nothing
                const std::int32_t bytes = t.stage(t.scratch.ids(requests), "update");
                t.sync(s, "update");
                return bytes;
            },
            nb::arg("requests"), arg_stream, "stage(requests) then sync(stream): one step eagerly; returns the bytes.")
        .def_prop_ro(
            "fits_captured_sync", [](const T& t) { return t.device.fits_captured_sync(); },
            "Whether the staged delta fits the fixed copy of a captured sync; when not, sync eagerly "
            "before the replay (the replayed kernel then refuses the truncated copy, changing nothing).")
        .def_prop_ro(
            "rejected_deltas", [](const T& t) { return value_or_raise(t.device.rejected_deltas(), "rejected_deltas"); },
            "Syncs whose kernel refused a truncated delta (replays of a captured sync that did not fit). "
            "Synchronizes with the device.")
        .def_prop_ro(
            "batch_size", [](const T& t) { return t.batch_size; }, "Rows of the last stage (B).")
        .def_prop_ro(
            "staged_bytes", [](const T& t) { return t.staged_bytes; }, "Bytes of the last staged delta.")
        .def_prop_ro(
            "device", [](const T& t) { return t.device.device(); }, "The CUDA device of the buffers.")
        .def_prop_ro(
            "max_requests", [](const T& t) { return t.cap.max_requests; }, "Live requests the device store holds.")
        .def_prop_ro(
            "max_batch", [](const T& t) { return t.cap.max_batch; }, "Rows of one step's tables.")
        .def_prop_ro(
            "max_pages_per_request", [](const T& t) { return t.cap.max_pages_per_request; },
            "Columns of a store row and of a block_table row.")
        .def_prop_ro(
            "max_new_tokens", [](const T& t) { return t.cap.max_new_tokens; }, "Slot-mapping entries of one step.")
        .def_prop_ro(
            "max_writes", [](const T& t) { return t.cap.max_writes; }, "Entries of each record list of one delta.")
        .def_prop_ro(
            "full",
            [](nb::handle self) {
                const T& t = nb::cast<const T&>(self);
                return view_of<attention_kind::full>(self, t.full_pool,
                                                     "an SWA pool's device tables have no full-attention tables");
            },
            "The full-attention tables (FullDeviceTables); AttributeError for an SWA pool.")
        .def_prop_ro(
            "swa",
            [](nb::handle self) {
                const T& t = nb::cast<const T&>(self);
                return view_of<attention_kind::sliding>(self, t.swa_pool,
                                                        "a full pool's device tables have no sliding-window tables");
            },
            "The sliding-window tables (SwaDeviceTables); AttributeError for a full pool.")
        .def_prop_ro(
            "full_to_swa",
            [](nb::handle self) {
                const T& t = nb::cast<const T&>(self);
                if (t.full_pages == 0) throw nb::attribute_error("only a hybrid pool's device tables have full_to_swa");
                return tensor<std::int32_t>(self, t, t.device.full_to_swa(), {static_cast<std::size_t>(t.full_pages)});
            },
            tensor_policy,
            "int32 [full pages]: the hybrid's full_to_swa on the device, equal to pool.full_to_swa() on every "
            "entry a kernel can read (in-window pages of the batch) after a sync.");
    m.def("cuda_device_count", &cuda_device_count,
          "CUDA devices visible to this process (0 without a driver or a device).");
}

}  // namespace pagedkv::python
