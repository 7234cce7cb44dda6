// The pool classes: one Python class per bound C++ pool type, all with the same calls (those the
// C++ types share), plus prefix reuse and KV events on the caching ones. A class method checks
// what the C++ call checks, raises its error, and otherwise forwards; batch calls check the whole
// batch against the state before the call, then apply it, so a failing batch changes nothing.
#pragma once
#include <nanobind/stl/function.h>
#include <nanobind/stl/string.h>

#include <array>
#include <tuple>

#include "views.hpp"
#if PAGEDKV_PYTHON_CUDA
#include "device_tables_binding.hpp"
#endif

namespace pagedkv::python {

/// A pool as a Python object: the C++ pool, its batch scratch and its KV event queue. nanobind
/// constructs it in place and never moves it, so the event sink may point at `events`.
template <class Pool>
struct py_pool {
    Pool pool;
    batch_scratch scratch;
    event_queue events;
    explicit py_pool(Pool p) : pool(std::move(p)) {}
};

template <class Pool>
concept hybrid = requires(const Pool& p) {
    p.full();
    p.swa();
};

/// Pools that keep a prefix index: attach_prefix, lookup, cache_committed, preempt, events.
template <class Pool>
constexpr bool has_prefix_cache = [] {
    if constexpr (hybrid<Pool>)
        return Pool::caching;
    else
        return Pool::indexed;
}();

/// The single-kind pools a pool is made of, in the order its extend checks them (full, then SWA).
template <class Pool>
auto parts(const Pool& p) {
    if constexpr (hybrid<Pool>)
        return std::tie(p.full(), p.swa());
    else
        return std::tie(p);
}

/// The error `truncate(r, n)` would raise, in the order the pool's own truncate checks.
template <class Pool>
status check_truncate(const Pool& p, request_id r, std::int64_t n) {
    if constexpr (hybrid<Pool>) {
        if (auto s = p.swa().check_truncate(r, n); !s) return s;
        return p.full().check_truncate(r, n);
    } else {
        return p.check_truncate(r, n);
    }
}

/// A per-request count: an int64 array with one entry per request, or one value for all.
struct counts_arg {
    const std::int64_t* values = nullptr;
    std::int64_t all = 0;
    std::int64_t operator[](std::size_t i) const noexcept { return values ? values[i] : all; }
};

inline std::int32_t as_int32(std::int64_t v, errc if_out_of_range, const char* call) {
    if (v < INT32_MIN || v > INT32_MAX) raise(error{if_out_of_range}, call);
    return static_cast<std::int32_t>(v);
}

template <class Pool>
void extend_many(py_pool<Pool>& w, std::span<const request_id> batch, counts_arg counts) {
    constexpr const char* call = "extend_many";
    auto pools = parts(w.pool);
    std::array<std::int64_t, std::tuple_size_v<decltype(pools)>> need{};
    w.scratch.start();
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto at = static_cast<std::int64_t>(i);
        std::size_t k = 0;
        const auto add_need = [&](const auto& part) {
            need[k++] += value_or_raise(part.pages_to_extend(batch[i], counts[i]), call, at);
        };
        std::apply([&](const auto&... part) { (add_need(part), ...); }, pools);
        if (w.scratch.seen(batch[i])) raise(error{errc::duplicate_request}, call, at);
    }
    std::size_t k = 0;
    const auto check_enough = [&](const auto& part) {
        constexpr bool full = std::remove_cvref_t<decltype(part)>::kind == attention_kind::full;
        if (need[k++] > part.available_pages())
            raise(error{full ? errc::out_of_full_pages : errc::out_of_swa_pages}, call);
    };
    std::apply([&](const auto&... part) { (check_enough(part), ...); }, pools);
    for (std::size_t i = 0; i < batch.size(); ++i) (void)w.pool.extend(batch[i], counts[i]);  // checked: cannot fail
}

template <class Pool>
void commit_many(py_pool<Pool>& w, std::span<const request_id> batch, counts_arg counts) {
    constexpr const char* call = "commit_many";
    w.scratch.start();
    const auto& first = std::get<0>(parts(w.pool));  // a hybrid's pools hold the same lengths
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (auto s = first.check_commit(batch[i], counts[i]); !s) raise(s.err(), call, static_cast<std::int64_t>(i));
        if (w.scratch.seen(batch[i])) raise(error{errc::duplicate_request}, call, static_cast<std::int64_t>(i));
    }
    for (std::size_t i = 0; i < batch.size(); ++i) (void)w.pool.commit(batch[i], counts[i]);
}

/// commit_many with each request's tokens (caching pools): every check of the keyed commit,
/// tokens_too_short included, for the whole batch first, then the commits.
template <class Pool>
void commit_many_keyed(py_pool<Pool>& w, std::span<const request_id> batch, counts_arg counts,
                       const batch_rows_arg<token_id>& tokens, const batch_rows_arg<std::uint64_t>& keys) {
    constexpr const char* call = "commit_many";
    w.scratch.start();
    const auto& first = std::get<0>(parts(w.pool));  // keyed by the full pool in a hybrid: same page size
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto at = static_cast<std::int64_t>(i);
        if (auto s = first.check_commit(batch[i], counts[i]); !s) raise(s.err(), call, at);
        if (w.scratch.seen(batch[i])) raise(error{errc::duplicate_request}, call, at);
        // The keyed commit keys the whole pages under the new committed length (pool_state::key_committed).
        const std::int64_t whole = (first.committed_tokens(batch[i]) + counts[i]) / first.page_size_tokens();
        if (static_cast<std::int64_t>(tokens[i].size()) < whole * first.page_size_tokens())
            raise(error{errc::tokens_too_short}, call, at);
    }
    // Keying and committing one request changes no other request's checks: none of these can fail.
    for (std::size_t i = 0; i < batch.size(); ++i) (void)w.pool.commit(batch[i], counts[i], tokens[i], keys[i]);
}

template <class Pool>
void truncate_many(py_pool<Pool>& w, std::span<const request_id> batch, counts_arg lengths) {
    constexpr const char* call = "truncate_many";
    w.scratch.start();
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (auto s = check_truncate(w.pool, batch[i], lengths[i]); !s)
            raise(s.err(), call, static_cast<std::int64_t>(i));
        if (w.scratch.seen(batch[i])) raise(error{errc::duplicate_request}, call, static_cast<std::int64_t>(i));
    }
    // Releasing pages only lowers reference counts, so a batch that passed stays valid while it runs.
    for (std::size_t i = 0; i < batch.size(); ++i) (void)w.pool.truncate(batch[i], lengths[i]);
}

template <class Pool>
void free_many(py_pool<Pool>& w, std::span<const request_id> batch) {
    constexpr const char* call = "free_many";
    w.scratch.start();
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!w.pool.contains(batch[i])) raise(error{errc::unknown_request}, call, static_cast<std::int64_t>(i));
        if (w.scratch.seen(batch[i])) raise(error{errc::duplicate_request}, call, static_cast<std::int64_t>(i));
    }
    for (request_id r : batch) (void)w.pool.free_request(r);
}

/// Binds the calls every pool has. `cls` is the pool's nanobind class.
template <class Pool>
void bind_pool_calls(nb::class_<py_pool<Pool>>& cls) {
    using W = py_pool<Pool>;
    const auto arg_r = nb::arg("request");
    if constexpr (!has_prefix_cache<Pool>)  // caching pools bind commit with its keying arguments
        cls.def(
            "commit",
            [](W& w, std::uint64_t r, std::int64_t n) {
                check(w.pool.commit(unpack(r), n), "commit");
                w.events.deliver();
            },
            arg_r, nb::arg("n"),
            "Of the tokens in flight, the first n become committed and the rest are dropped; SWA pools "
            "release the pages that fell out of the window. Raises UnknownRequestError, "
            "NegativeLengthError, CommitExceedsReservedError.");
    cls.def(
           "extend",
           [](W& w, std::uint64_t r, std::int64_t n) {
               check(w.pool.extend(unpack(r), n), "extend");
               w.events.deliver();
           },
           arg_r, nb::arg("n"),
           "Reserves n more tokens (uncommitted) and the pages they cross into, evicting cached pages "
           "when the free list runs out. Raises UnknownRequestError, NegativeLengthError, "
           "LengthOverflowError, OutOfFullPagesError, OutOfSwaPagesError.")
        .def(
            "truncate",
            [](W& w, std::uint64_t r, std::int64_t n) {
                check(w.pool.truncate(unpack(r), n), "truncate");
                w.events.deliver();
            },
            arg_r, nb::arg("length"),
            "Rolls the request back to `length` tokens (committed ones included). Raises "
            "UnknownRequestError, NegativeLengthError, TruncatePastLengthError, "
            "WindowAlreadyReleasedError, TruncateIntoSharedPageError.")
        .def(
            "free",
            [](W& w, std::uint64_t r) {
                check(w.pool.free_request(unpack(r)), "free");
                w.events.deliver();
            },
            arg_r, "Releases every page of the request and retires its id. Raises UnknownRequestError.")
        .def(
            "add_committed_request",
            [](W& w, std::int64_t length) {
                const std::uint64_t r =
                    pack(value_or_raise(w.pool.add_committed_request(length), "add_committed_request"));
                w.events.deliver();
                return r;
            },
            nb::arg("length"),
            "A new request holding `length` committed tokens whose KV arrives from elsewhere "
            "(disaggregated prefill). Raises NegativeLengthError, LengthOverflowError, "
            "OutOfFullPagesError, OutOfSwaPagesError.")
        .def(
            "contains", [](const W& w, std::uint64_t r) { return w.pool.contains(unpack(r)); }, arg_r,
            "Whether the request is live.")
        .def("__contains__", [](const W& w, std::uint64_t r) { return w.pool.contains(unpack(r)); })
        .def(
            "check_invariants", [](const W& w) { check(w.pool.check_invariants(), "check_invariants"); },
            "Checks every invariant of the pool (O(pages)); raises InvariantViolatedError naming the first "
            "one broken. For tests and debugging.");

    // Batches: one call per step for the whole batch, no per-request Python.
    const auto arg_ids = nb::arg("requests");
    // The one-count overloads first: a failed overload costs one more array import (~0.3 µs).
    cls.def(
           "extend_many",
           [](W& w, const ids_in& ids, std::int64_t count) {
               extend_many(w, w.scratch.ids(ids), counts_arg{nullptr, count});
               w.events.deliver();
           },
           arg_ids, nb::arg("counts"))
        .def(
            "extend_many",
            [](W& w, const ids_in& ids, const counts_in& counts) {
                const auto batch = w.scratch.ids(ids);
                check_same_length(counts.shape(0), batch.size(), "counts");
                extend_many(w, batch, counts_arg{counts.data()});
                w.events.deliver();
            },
            arg_ids, nb::arg("counts"),
            "extend(requests[i], counts[i]) for the whole batch, or for none of it: the batch is checked "
            "first (per request, then the pages of all of them together). `counts` is an int array or "
            "one int for all. Errors as extend, plus DuplicateRequestError; the exception's `index` is the "
            "batch position (None for a shortage of pages).")
        .def(
            "commit_many",
            [](W& w, const ids_in& ids, std::int64_t count) {
                commit_many(w, w.scratch.ids(ids), counts_arg{nullptr, count});
                w.events.deliver();
            },
            arg_ids, nb::arg("counts"))
        .def(
            "commit_many",
            [](W& w, const ids_in& ids, const counts_in& counts) {
                const auto batch = w.scratch.ids(ids);
                check_same_length(counts.shape(0), batch.size(), "counts");
                commit_many(w, batch, counts_arg{counts.data()});
                w.events.deliver();
            },
            arg_ids, nb::arg("counts"),
            "commit(requests[i], counts[i]) for the whole batch, or for none of it. Errors as commit, plus "
            "DuplicateRequestError.")
        .def(
            "truncate_many",
            [](W& w, const ids_in& ids, std::int64_t length) {
                truncate_many(w, w.scratch.ids(ids), counts_arg{nullptr, length});
                w.events.deliver();
            },
            arg_ids, nb::arg("lengths"))
        .def(
            "truncate_many",
            [](W& w, const ids_in& ids, const counts_in& lengths) {
                const auto batch = w.scratch.ids(ids);
                check_same_length(lengths.shape(0), batch.size(), "lengths");
                truncate_many(w, batch, counts_arg{lengths.data()});
                w.events.deliver();
            },
            arg_ids, nb::arg("lengths"),
            "truncate(requests[i], lengths[i]) for the whole batch, or for none of it; each request is "
            "checked against the state before the call. Errors as truncate, plus DuplicateRequestError.")
        .def(
            "free_many",
            [](W& w, const ids_in& ids) {
                free_many(w, w.scratch.ids(ids));
                w.events.deliver();
            },
            arg_ids,
            "free(r) for every request of the batch, or for none. Raises UnknownRequestError, "
            "DuplicateRequestError.");

    // Views: a full pool has `full`, an SWA pool `swa`, a hybrid both.
    if constexpr (hybrid<Pool>) {
        cls.def_prop_ro(
               "full", [](W& w) { return make_full_view(w.pool.full(), w.scratch); }, nb::keep_alive<0, 1>(),
               "The full-attention pool (FullView): full-layer tables.")
            .def_prop_ro(
                "swa", [](W& w) { return make_swa_view(w.pool.swa(), w.scratch); }, nb::keep_alive<0, 1>(),
                "The sliding-window pool (SwaView): SWA-layer tables.")
            .def(
                "full_to_swa", [](const W& w) { return copy_to_numpy(w.pool.full_to_swa()); },
                "A copy of the mapping full page -> SWA page holding the same tokens (0: none).");
    } else if constexpr (Pool::kind == attention_kind::full) {
        cls.def_prop_ro(
            "full", [](W& w) { return make_full_view(w.pool, w.scratch); }, nb::keep_alive<0, 1>(),
            "This pool as a FullView: page lists, stats and full-layer tables.");
    } else {
        cls.def_prop_ro(
            "swa", [](W& w) { return make_swa_view(w.pool, w.scratch); }, nb::keep_alive<0, 1>(),
            "This pool as an SwaView: page lists, stats and SWA-layer tables.");
    }
}

/// add_request / add_requests: plain pools take no arguments; caching pools take the cache scope
/// (tenant salt, extra key) and the retention priorities of the pages the request releases.
template <class Pool>
void bind_add_request(nb::class_<py_pool<Pool>>& cls) {
    using W = py_pool<Pool>;
    if constexpr (has_prefix_cache<Pool>) {
        const auto add = [](W& w, std::uint64_t tenant_salt, std::uint64_t extra_key, std::uint8_t priority,
                            std::int64_t prefix_tokens, std::uint8_t prefix_priority) {
            return value_or_raise(w.pool.add_request(cache_scope{tenant_salt, extra_key},
                                                     retention{priority, prefix_tokens, prefix_priority}),
                                  "add_request");
        };
        cls.def(
               "add_request",
               [add](W& w, std::uint64_t tenant_salt, std::uint64_t extra_key, std::uint8_t priority,
                     std::int64_t prefix_tokens, std::uint8_t prefix_priority) {
                   return pack(add(w, tenant_salt, extra_key, priority, prefix_tokens, prefix_priority));
               },
               nb::kw_only(), nb::arg("tenant_salt") = 0, nb::arg("extra_key") = 0,
               nb::arg("priority") = default_retention_priority, nb::arg("prefix_tokens") = 0,
               nb::arg("prefix_priority") = default_retention_priority,
               "A new empty request. Its pages are cached under (tenant_salt, extra_key): only requests "
               "of the same scope share them. Released pages wholly inside the first prefix_tokens "
               "tokens get prefix_priority, the others priority (priority LRU: 0 evicted first, 100 last).")
            .def(
                "add_requests",
                [add](W& w, std::size_t count, std::uint64_t tenant_salt, std::uint64_t extra_key,
                      std::uint8_t priority, std::int64_t prefix_tokens, std::uint8_t prefix_priority) {
                    auto ids = new_array<u64_np>({count});
                    for (std::size_t i = 0; i < count; ++i)
                        ids.data()[i] = pack(add(w, tenant_salt, extra_key, priority, prefix_tokens, prefix_priority));
                    return ids;
                },
                nb::arg("count"), nb::kw_only(), nb::arg("tenant_salt") = 0, nb::arg("extra_key") = 0,
                nb::arg("priority") = default_retention_priority, nb::arg("prefix_tokens") = 0,
                nb::arg("prefix_priority") = default_retention_priority,
                "`count` new requests as a uint64 array, each as add_request(...).");
    } else {
        cls.def(
               "add_request", [](W& w) { return pack(value_or_raise(w.pool.add_request(), "add_request")); },
               "A new empty request; returns its id (an int).")
            .def(
                "add_requests",
                [](W& w, std::size_t count) {
                    auto ids = new_array<u64_np>({count});
                    for (std::size_t i = 0; i < count; ++i)
                        ids.data()[i] = pack(value_or_raise(w.pool.add_request(), "add_requests"));
                    return ids;
                },
                nb::arg("count"), "`count` new empty requests as a uint64 array of ids.");
    }
}

/// The keyed commit_many's Python arguments: tokens (None: the plain commit_many) and extra keys.
template <class Pool>
void keyed_commit_many(py_pool<Pool>& w, std::span<const request_id> batch, counts_arg counts, nb::handle tokens,
                       nb::handle keys) {
    if (tokens.is_none()) {
        commit_many(w, batch, counts);
    } else {
        const batch_rows_arg<token_id> rows(tokens, batch.size(), "tokens");
        const batch_rows_arg<std::uint64_t> extra(keys, batch.size(), "page_extra_keys");
        commit_many_keyed(w, batch, counts, rows, extra);
    }
    w.events.deliver();
}

/// Prefix reuse and KV events (caching pools).
template <class Pool>
void bind_prefix_cache(nb::class_<py_pool<Pool>>& cls) {
    using W = py_pool<Pool>;
    const auto arg_r = nb::arg("request");
    const auto arg_tokens = nb::arg("tokens");
    const auto arg_keys = nb::arg("page_extra_keys") = nb::none();
    cls.def(
           "attach_prefix",
           [](W& w, std::uint64_t r, nb::handle tokens, nb::handle keys) {
               const tokens_arg t(tokens, "tokens");
               const extra_keys_arg k(keys, "page_extra_keys");
               const std::int64_t hit =
                   value_or_raise(w.pool.attach_prefix(unpack(r), t.span(), k.span()), "attach_prefix");
               w.events.deliver();
               return hit;
           },
           arg_r, arg_tokens, arg_keys,
           "Attaches to the empty request the longest cached prefix of `tokens` (its prompt), in whole "
           "pages and never the last token; returns the hit in tokens, which the request then holds, "
           "committed. page_extra_keys[i] is page i's extra identity (a multimodal item hash). Raises "
           "UnknownRequestError, RequestNotEmptyError.")
        .def(
            "lookup",
            [](const W& w, nb::handle tokens, std::uint64_t tenant_salt, std::uint64_t extra_key, nb::handle keys) {
                const tokens_arg t(tokens, "tokens");
                const extra_keys_arg k(keys, "page_extra_keys");
                return w.pool.lookup(t.span(), cache_scope{tenant_salt, extra_key}, k.span());
            },
            arg_tokens, nb::kw_only(), nb::arg("tenant_salt") = 0, nb::arg("extra_key") = 0, arg_keys,
            "Tokens attach_prefix would hit now for a request of this scope; changes nothing.")
        .def(
            "cache_committed",
            [](W& w, std::uint64_t r, nb::handle tokens, nb::handle keys) {
                const tokens_arg t(tokens, "tokens");
                const extra_keys_arg k(keys, "page_extra_keys");
                check(w.pool.cache_committed(unpack(r), t.span(), k.span()), "cache_committed");
                w.events.deliver();
            },
            arg_r, arg_tokens, arg_keys,
            "Keys the request's committed whole pages so later requests can hit them; `tokens` are its "
            "token ids from position 0. Raises UnknownRequestError, TokensTooShortError.")
        .def(
            "commit",
            [](W& w, std::uint64_t r, std::int64_t n, nb::handle tokens, nb::handle keys) {
                if (tokens.is_none()) {
                    check(w.pool.commit(unpack(r), n), "commit");
                } else {
                    const tokens_arg t(tokens, "tokens");
                    const extra_keys_arg k(keys, "page_extra_keys");
                    check(w.pool.commit(unpack(r), n, t.span(), k.span()), "commit");
                }
                w.events.deliver();
            },
            arg_r, nb::arg("n"), nb::arg("tokens") = nb::none(), arg_keys,
            "Commits n of the tokens in flight (see the plain pools' commit). With `tokens` (the request's "
            "token ids from 0, covering the new committed length) it first keys the whole pages the commit "
            "completes, so SWA pages leaving the window stay cached. Raises UnknownRequestError, "
            "NegativeLengthError, CommitExceedsReservedError, TokensTooShortError.")
        .def(
            "preempt",
            [](W& w, std::uint64_t r, nb::handle tokens, nb::handle keys) {
                const tokens_arg t(tokens, "tokens");
                const extra_keys_arg k(keys, "page_extra_keys");
                check(w.pool.preempt(unpack(r), t.span(), k.span()), "preempt");
                w.events.deliver();
            },
            arg_r, arg_tokens, arg_keys,
            "Keys the request's committed whole pages, then frees it: a resumed request (same tokens, same "
            "scope) hits them. Raises UnknownRequestError, TokensTooShortError.")
        .def(
            "reset_cache",
            [](W& w) {
                check(w.pool.reset_cache(), "reset_cache");
                w.events.deliver();
            },
            "Empties the cache. Raises CacheInUseError while any request holds a page.")
        .def(
            "commit_many",
            [](W& w, const ids_in& ids, std::int64_t count, nb::handle tokens, nb::handle keys) {
                const auto batch = w.scratch.ids(ids);
                keyed_commit_many(w, batch, counts_arg{nullptr, count}, tokens, keys);
            },
            nb::arg("requests"), nb::arg("counts"), nb::arg("tokens").none(), arg_keys)
        .def(
            "commit_many",
            [](W& w, const ids_in& ids, const counts_in& counts, nb::handle tokens, nb::handle keys) {
                const auto batch = w.scratch.ids(ids);
                check_same_length(counts.shape(0), batch.size(), "counts");
                keyed_commit_many(w, batch, counts_arg{counts.data()}, tokens, keys);
            },
            nb::arg("requests"), nb::arg("counts"), nb::arg("tokens").none(), arg_keys,
            "commit(requests[i], counts[i], tokens[i], page_extra_keys[i]) for the whole batch, or for none of "
            "it. `tokens`: a 2-D integer array (row i: requests[i]'s token ids from 0, read in place) or a "
            "sequence of one 1-D array / list per request; page_extra_keys likewise (None: none). Errors as "
            "the keyed commit, plus DuplicateRequestError; ValueError when tokens has not one row per request.")
        .def(
            "enable_events",
            [](W& w, nb::object callback) {
                w.events.enabled = true;
                w.events.callback = std::move(callback);
                w.pool.set_event_sink(w.events.sink());
            },
            nb::arg("callback") = nb::none(),
            "Records KV events (stored / removed / cleared) from now on. With a callback, each call "
            "passes its events to callback(event) after it returns; without one they wait for poll_events().")
        .def(
            "disable_events",
            [](W& w) {
                w.events.enabled = false;
                w.events.callback = nb::object();
                w.pool.set_event_sink({});
            },
            "Stops recording KV events (events not polled yet stay until poll_events()).")
        .def(
            "poll_events",
            [](W& w) {
                std::vector<event_record> out;
                out.swap(w.events.pending);
                return out;
            },
            "The events recorded since the last poll, oldest first (a list of KvEvent).");
}

/// The constructors: keyword arguments only, the C++ create's errors raised.
template <class Pool>
void bind_init(nb::class_<py_pool<Pool>>& cls) {
    using W = py_pool<Pool>;
    constexpr const char* call = "create";
    if constexpr (hybrid<Pool>) {
        cls.def(
            "__init__",
            [](W* self, std::int64_t full_pages, std::int64_t swa_pages, std::int64_t page_size, std::int64_t window) {
                new (self) W(value_or_raise(Pool::create(pool_size{as_int32(full_pages, errc::invalid_pool_size, call)},
                                                         pool_size{as_int32(swa_pages, errc::invalid_pool_size, call)},
                                                         as_int32(page_size, errc::invalid_page_size, call), window),
                                            call));
            },
            nb::kw_only(), nb::arg("full_pages"), nb::arg("swa_pages"), nb::arg("page_size"), nb::arg("window"),
            "A full pool of full_pages and an SWA pool of swa_pages pages (each with its null page 0) of "
            "page_size tokens, window W = window tokens. Raises InvalidPoolSizeError, InvalidPageSizeError, "
            "InvalidWindowError.");
    } else if constexpr (Pool::kind == attention_kind::full) {
        cls.def(
            "__init__",
            [](W* self, std::int64_t pages, std::int64_t page_size) {
                new (self) W(value_or_raise(Pool::create(pool_size{as_int32(pages, errc::invalid_pool_size, call)},
                                                         as_int32(page_size, errc::invalid_page_size, call)),
                                            call));
            },
            nb::kw_only(), nb::arg("pages"), nb::arg("page_size"),
            "A full-attention pool of `pages` pages (the null page 0 included) of page_size tokens. Raises "
            "InvalidPoolSizeError, InvalidPageSizeError.");
    } else {
        cls.def(
            "__init__",
            [](W* self, std::int64_t pages, std::int64_t page_size, std::int64_t window) {
                new (self) W(value_or_raise(Pool::create(pool_size{as_int32(pages, errc::invalid_pool_size, call)},
                                                         as_int32(page_size, errc::invalid_page_size, call), window),
                                            call));
            },
            nb::kw_only(), nb::arg("pages"), nb::arg("page_size"), nb::arg("window"),
            "A sliding-window pool of `pages` pages of page_size tokens with window W = window tokens. "
            "Raises InvalidPoolSizeError, InvalidPageSizeError, InvalidWindowError.");
    }
}

#if PAGEDKV_PYTHON_CUDA
/// `pool.device_tables(...)`: the pool's persistent device tables (DeviceTables), in step with it.
template <class Pool>
void bind_device_tables_factory(nb::class_<py_pool<Pool>>& cls) {
    using W = py_pool<Pool>;
    cls.def(
        "device_tables",
        [](W& w, std::int32_t max_requests, std::int32_t max_batch, std::int32_t max_pages_per_request,
           std::int32_t max_new_tokens, std::int32_t max_writes, std::int32_t captured_delta_bytes, bool full_rows) {
            const device_tables_options o{{max_requests, max_batch, max_pages_per_request, max_new_tokens, max_writes},
                                          captured_delta_bytes,
                                          full_rows ? diff_scope::full_rows : diff_scope::committed_prefix};
            const nb::object self = nb::find(w);
            if constexpr (hybrid<Pool>)
                return make_device_tables<Pool, hybrid_table_mirror<Pool>>(self, w.pool, o, w.pool.full(),
                                                                           w.pool.swa());
            else
                return make_device_tables<Pool, table_mirror<Pool>>(self, w.pool, o, w.pool);
        },
        nb::kw_only(), nb::arg("max_requests"), nb::arg("max_batch"), nb::arg("max_pages_per_request"),
        nb::arg("max_new_tokens"), nb::arg("max_writes"),
        nb::arg("captured_delta_bytes") = default_captured_delta_bytes, nb::arg("full_rows") = false,
        "This pool's page tables in device memory (a DeviceTables, on the current CUDA device), already in "
        "step with the pool: capacities as table_capacity (live requests, batch rows, pages per row, tokens "
        "in flight per step, writes per delta). captured_delta_bytes: what a CUDA-graph-captured sync "
        "copies. full_rows=True re-reads every live page at each stage (exact after any history; the "
        "default re-reads only past the committed prefix, docs/device_tables.md). Raises "
        "InvalidCapacityError, BufferTooSmallError or RowTooShortError (the pool's live requests exceed "
        "the capacity), DeviceError (no CUDA device, or an allocation failed).");
}
#endif

/// One pool class: constructor, requests, mutations, batches, views, and prefix reuse if caching.
template <class Pool>
void bind_pool(nb::module_& m, const char* name, const char* doc) {
    nb::class_<py_pool<Pool>> cls(m, name, doc);
    bind_init(cls);
    bind_add_request(cls);
    bind_pool_calls(cls);
    if constexpr (has_prefix_cache<Pool>) bind_prefix_cache(cls);
#if PAGEDKV_PYTHON_CUDA
    bind_device_tables_factory(cls);
#endif
}

}  // namespace pagedkv::python
