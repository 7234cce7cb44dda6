// What every translation unit of the Python extension shares: errors, request handles, array
// types, the batch scratch, the KV event queue. Binds only pagedkv's engine-facing API.
#pragma once
// 1 when meson builds the device tables in (CUDA configured): python/meson.build defines it.
#ifndef PAGEDKV_PYTHON_CUDA
#define PAGEDKV_PYTHON_CUDA 0
#endif

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/vector.h>

#include <pagedkv/pagedkv.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pagedkv::python {

namespace nb = nanobind;

// ---- errors ------------------------------------------------------------------------------------

/// Thrown by the binding for a pagedkv error; module.cpp translates it into the Python class of
/// its code (`pagedkv.UnknownRequestError`, ...), a subclass of `pagedkv.Error`.
struct call_error {
    error err;
    std::string call;         ///< the Python method that failed ("extend_many")
    std::int64_t index = -1;  ///< the batch position the error is about, -1 when none
};

[[noreturn]] inline void raise(error e, const char* call, std::int64_t index = -1) { throw call_error{e, call, index}; }
inline void check(status s, const char* call) {
    if (!s) raise(s.err(), call);
}
template <class T>
T value_or_raise(result<T> r, const char* call, std::int64_t index = -1) {
    if (!r) raise(r.err(), call, index);
    return std::move(r.value());
}

/// Registers `pagedkv.Error` and one subclass per errc, and the translator (module.cpp).
void bind_errors(nb::module_& m);

// ---- request handles -----------------------------------------------------------------------------

// A request is a Python int: generation << 32 | slot. Arrays of them are uint64 arrays.
static_assert(sizeof(request_id) == sizeof(std::uint64_t));
constexpr std::uint64_t pack(request_id r) noexcept { return std::uint64_t{r.generation} << 32 | r.slot; }
constexpr request_id unpack(std::uint64_t v) noexcept {
    return request_id{static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32)};
}

// ---- arrays --------------------------------------------------------------------------------------

// Inputs may be converted (an int32 array of counts becomes int64); outputs are marked noconvert at
// each def, so the emitters always write the caller's own memory, never a temporary copy.
using ids_in = nb::ndarray<const std::uint64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using counts_in = nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using i32_out = nb::ndarray<std::int32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using i64_out = nb::ndarray<std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using i32_table_out = nb::ndarray<std::int32_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using i32_np = nb::ndarray<nb::numpy, std::int32_t, nb::ndim<1>>;
using i64_np = nb::ndarray<nb::numpy, std::int64_t, nb::ndim<1>>;
using u64_np = nb::ndarray<nb::numpy, std::uint64_t, nb::ndim<1>>;
using i32_table_np = nb::ndarray<nb::numpy, std::int32_t, nb::ndim<2>>;

/// A new numpy array of `n` elements (shape {n} or {rows, cols}), owning its memory.
template <class Array, class T = typename Array::Scalar>
Array new_array(std::initializer_list<std::size_t> shape) {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    T* data = new T[n == 0 ? 1 : n]();
    nb::capsule owner(data, [](void* p) noexcept { delete[] static_cast<T*>(p); });
    return Array(data, shape.size(), shape.begin(), owner);
}

template <class T>
i32_np copy_to_numpy(std::span<const T> values) {
    static_assert(sizeof(T) == sizeof(std::int32_t));
    auto a = new_array<i32_np>({values.size()});
    if (!values.empty()) std::memcpy(a.data(), values.data(), values.size() * sizeof(T));
    return a;
}

// ---- batches ---------------------------------------------------------------------------------------

/// Per-pool scratch for batch calls: the request ids of the batch as pagedkv handles, and a stamp
/// per request slot to find a request named twice. Grows with the pool's slots, then never
/// allocates again (no allocation on the per-step hot path).
class batch_scratch {
public:
    /// The batch's handles. Valid until the next call.
    std::span<const request_id> ids(const ids_in& a) {
        ids_.resize(a.shape(0));
        const std::uint64_t* packed = a.data();
        for (std::size_t i = 0; i < ids_.size(); ++i) ids_[i] = unpack(packed[i]);
        return ids_;
    }
    /// Starts a duplicate check over a new batch.
    void start() {
        if (++epoch_ == 0) {  // wrapped: old stamps could collide
            std::fill(stamp_.begin(), stamp_.end(), 0);
            epoch_ = 1;
        }
    }
    /// True when r was already seen since start(). @pre r is a live request (its slot is bounded).
    bool seen(request_id r) {
        if (r.slot >= stamp_.size()) stamp_.resize(std::size_t{r.slot} + 1, 0);
        if (stamp_[r.slot] == epoch_) return true;
        stamp_[r.slot] = epoch_;
        return false;
    }

private:
    std::vector<request_id> ids_;
    std::vector<std::uint32_t> stamp_;
    std::uint32_t epoch_ = 0;
};

/// The length of a per-request array must match the batch (a usage error, not a pool error).
inline void check_same_length(std::size_t got, std::size_t batch, const char* what) {
    if (got != batch)
        throw nb::value_error((std::string(what) + " has " + std::to_string(got) + " entries for a batch of " +
                               std::to_string(batch) + " requests")
                                  .c_str());
}

// ---- KV events ------------------------------------------------------------------------------------

/// One KV event as Python sees it: the tokens are copied (the C++ span lives only in the callback).
struct event_record {
    kv_event_kind kind{};
    attention_kind layers{};
    std::uint64_t key = 0;
    std::uint64_t parent_key = 0;
    bool has_parent = false;
    std::int32_t page = 0;
    std::vector<token_id> tokens;
    std::uint64_t tenant_salt = 0, extra_key = 0, page_extra_key = 0;
};

/// Events recorded during a call. The C++ sink only appends (it runs inside a pool mutation); a
/// Python callback, when set, receives them after the call returned, with the pool consistent.
struct event_queue {
    bool enabled = false;
    std::vector<event_record> pending;
    nb::object callback;  // None: kept for poll_events()

    kv_event_sink sink() {
        return [this](const kv_event& e) {
            pending.push_back(event_record{e.kind, e.layers, e.key, e.parent_key, e.has_parent, e.page.value,
                                           std::vector<token_id>(e.tokens.begin(), e.tokens.end()), e.scope.tenant_salt,
                                           e.scope.extra_key, e.page_extra_key});
        };
    }
    /// Delivers pending events to the callback, if one is set. Called after every mutation.
    void deliver() {
        if (pending.empty() || !callback.is_valid() || callback.is_none()) return;
        std::vector<event_record> batch;
        batch.swap(pending);
        for (event_record& e : batch) callback(std::move(e));
    }
};

void bind_events(nb::module_& m);
void bind_stats(nb::module_& m);

// ---- token arguments ------------------------------------------------------------------------------

/// Token ids (or page extra keys) from a numpy array, any buffer / DLPack object, or a list.
template <class T>
class int_span_arg {
public:
    int_span_arg(nb::handle h, const char* what) {
        if (h.is_none()) return;
        using array = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
        if (nb::try_cast<array>(h, array_, true)) {
            span_ = {array_.data(), array_.shape(0)};
            return;
        }
        if (nb::try_cast<std::vector<T>>(h, list_, true)) {
            span_ = list_;
            return;
        }
        throw nb::type_error((std::string(what) + " must be a 1-D integer array or a list of ints").c_str());
    }
    std::span<const T> span() const noexcept { return span_; }

private:
    nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cpu> array_;
    std::vector<T> list_;
    std::span<const T> span_;
};
using tokens_arg = int_span_arg<token_id>;
using extra_keys_arg = int_span_arg<std::uint64_t>;

/// One integer row per request of a batch: a 2-D array (row i for requests[i], read in place, as
/// an engine keeps its token ids), or a sequence of `batch` 1-D arrays / lists (None: an empty row).
/// None for the whole argument gives every request an empty row.
template <class T>
class batch_rows_arg {
public:
    batch_rows_arg(nb::handle h, std::size_t batch, const char* what) : batch_(batch) {
        if (h.is_none()) return;
        if (nb::try_cast<table>(h, table_, true)) {
            check_same_length(table_.shape(0), batch, what);
            return;
        }
        if (!nb::isinstance<nb::sequence>(h) || nb::isinstance<nb::str>(h))
            throw nb::type_error((std::string(what) + " must be a 2-D integer array or a sequence of 1-D integer "
                                                      "arrays / lists, one per request")
                                     .c_str());
        const auto seq = nb::borrow<nb::sequence>(h);
        check_same_length(nb::len(seq), batch, what);
        rows_.reserve(batch);  // no reallocation: each row's span points into its own element
        for (std::size_t i = 0; i < batch; ++i) rows_.emplace_back(seq[i], what);
    }
    /// Row i. @pre i < batch.
    std::span<const T> operator[](std::size_t i) const noexcept {
        if (table_.is_valid()) return {table_.data() + i * table_.shape(1), table_.shape(1)};
        return rows_.empty() ? std::span<const T>{} : rows_[i].span();
    }
    std::size_t size() const noexcept { return batch_; }

private:
    using table = nb::ndarray<const T, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
    std::size_t batch_;
    table table_;
    std::vector<int_span_arg<T>> rows_;
};

}  // namespace pagedkv::python
