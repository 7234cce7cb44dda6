// The `pagedkv._pagedkv` extension module: errors, small value types, and the pool classes.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <array>
#include <string>

#include "views.hpp"
#if PAGEDKV_PYTHON_CUDA
#include "device_tables_binding.hpp"
#endif

namespace pagedkv::python {

void bind_full_pools(nb::module_& m);
void bind_hybrid_pools(nb::module_& m);
void bind_caching_hybrid_pools(nb::module_& m);

namespace {

constexpr std::size_t errc_count = static_cast<std::size_t>(errc_last) + 1;

// out_of_full_pages -> OutOfFullPagesError; device_error -> DeviceError.
std::string class_name(errc e) {
    const std::string_view code = to_string(e);
    std::string name;
    bool upper = true;
    for (char c : code) {
        if (c == '_') {
            upper = true;
            continue;
        }
        name += upper ? static_cast<char>(c - 'a' + 'A') : c;
        upper = false;
    }
    if (!name.ends_with("Error")) name += "Error";
    return name;
}

// The Python class of each code (index = the code's value; 0 unused). Strong references, held for
// the life of the process, as the module's attributes are.
std::array<PyObject*, errc_count> error_classes{};

}  // namespace

void bind_errors(nb::module_& m) {
    PyObject* base = PyErr_NewExceptionWithDoc(
        "pagedkv.Error",
        "Base class of every pagedkv error. `code` names the error (core/error.hpp's errc); `index` is the "
        "batch position a batch call's error is about, or None. The call that raised changed nothing.",
        PyExc_Exception, nullptr);
    m.attr("Error") = nb::handle(base);
    for (std::size_t i = 1; i < errc_count; ++i) {
        const auto code = static_cast<errc>(i);
        const std::string name = class_name(code);
        const std::string qualified = "pagedkv." + name;
        const std::string doc = std::string(describe(code)) + ".";
        PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc.c_str(), base, nullptr);
        nb::setattr(cls, "code", nb::str(to_string(code).data(), to_string(code).size()));
        m.attr(name.c_str()) = nb::handle(cls);
        error_classes[i] = cls;
    }
    nb::setattr(base, "code", nb::none());
    nb::register_exception_translator([](const std::exception_ptr& p, void*) {
        try {
            std::rethrow_exception(p);
        } catch (const call_error& e) {
            const errc code = e.err.code;
            const auto i = static_cast<std::size_t>(code);
            PyObject* cls = i > 0 && i < errc_count ? error_classes[i]
                                                    : error_classes[static_cast<std::size_t>(errc::invariant_violated)];
            std::string msg = e.call + ": " + std::string(to_string(code)) + ": " + std::string(describe(code));
            if (e.err.detail && *e.err.detail) msg += std::string(" (") + e.err.detail + ")";
            if (e.index >= 0) msg += " [requests[" + std::to_string(e.index) + "]]";
            nb::object instance = nb::handle(cls)(nb::str(msg.c_str()));
            nb::setattr(instance, "index", e.index >= 0 ? nb::object(nb::int_(e.index)) : nb::none());
            PyErr_SetObject(cls, instance.ptr());
        }
    });
}

void bind_stats(nb::module_& m) {
    nb::class_<cache_stats>(m, "CacheStats", "Prefix-cache counters of one pool, from its creation.")
        .def_ro("lookups", &cache_stats::lookups, "Prefix attaches (a hit of 0 tokens counts).")
        .def_ro("queried_tokens", &cache_stats::queried_tokens, "Prompt tokens those attaches looked up.")
        .def_ro("hit_tokens", &cache_stats::hit_tokens, "Tokens they attached from the cache.")
        .def_ro("stored_pages", &cache_stats::stored_pages, "Pages given a content key.")
        .def_ro("evicted_pages", &cache_stats::evicted_pages, "Cached pages whose content was dropped.")
        .def_prop_ro("hit_rate", &cache_stats::hit_rate, "hit_tokens / queried_tokens, 0 before any query.")
        .def("__eq__", [](const cache_stats& a, const cache_stats& b) { return a == b; })
        .def("__repr__", [](const cache_stats& s) {
            return "CacheStats(lookups=" + std::to_string(s.lookups) +
                   ", queried_tokens=" + std::to_string(s.queried_tokens) +
                   ", hit_tokens=" + std::to_string(s.hit_tokens) + ", stored_pages=" + std::to_string(s.stored_pages) +
                   ", evicted_pages=" + std::to_string(s.evicted_pages) + ")";
        });
}

void bind_events(nb::module_& m) {
    nb::enum_<kv_event_kind>(m, "KvEventKind", "What a KV event reports.")
        .value("stored", kv_event_kind::stored, "A page's content became findable under `key`.")
        .value("removed", kv_event_kind::removed, "`key` is no longer findable in these layers.")
        .value("cleared", kv_event_kind::cleared, "Every key of the pool was dropped (reset_cache).");
    nb::class_<event_record>(m, "KvEvent", "One prefix-cache change, for a KV-aware router.")
        .def_ro("kind", &event_record::kind)
        .def_ro("layers", &event_record::layers, "Which attention layers gained or lost the KV.")
        .def_ro("key", &event_record::key)
        .def_prop_ro(
            "parent_key",
            [](const event_record& e) { return e.has_parent ? nb::object(nb::int_(e.parent_key)) : nb::none(); },
            "The previous page's key, None for the first page of a sequence.")
        .def_ro("page", &event_record::page, "The page that held (or holds) the content.")
        .def_ro("tokens", &event_record::tokens, "The page's token ids (`stored` only).")
        .def_ro("tenant_salt", &event_record::tenant_salt)
        .def_ro("extra_key", &event_record::extra_key)
        .def_ro("page_extra_key", &event_record::page_extra_key)
        .def("__repr__", [](const event_record& e) {
            const char* kinds[] = {"stored", "removed", "cleared"};
            return std::string("KvEvent(") + kinds[static_cast<int>(e.kind)] + ", " +
                   (e.layers == attention_kind::full      ? "full"
                    : e.layers == attention_kind::sliding ? "sliding"
                                                          : "chunked") +
                   ", key=" + std::to_string(e.key) + ", page=" + std::to_string(e.page) + ")";
        });
}

}  // namespace pagedkv::python

NB_MODULE(_pagedkv, m) {
    using namespace pagedkv;
    using namespace pagedkv::python;
    m.doc() = "pagedkv: paged KV-cache memory for LLM engines mixing full-attention and sliding-window layers.";
    bind_errors(m);
    nb::enum_<attention_kind>(m, "AttentionKind", "The attention a pool (and every table it emits) serves.")
        .value("full", attention_kind::full)
        .value("sliding", attention_kind::sliding)
        .value("chunked", attention_kind::chunked);
    bind_stats(m);
    bind_events(m);
    bind_views(m);
    bind_full_pools(m);
    bind_hybrid_pools(m);
    bind_caching_hybrid_pools(m);
#if PAGEDKV_PYTHON_CUDA
    bind_device_tables(m);
#endif
    // Whether this build has the device tables (meson -Dcuda=enabled -Dpython=true; pip's build has not).
    m.attr("CUDA") = bool(PAGEDKV_PYTHON_CUDA);

    m.attr("NULL_PAGE") = null_page.value;
    m.attr("DEFAULT_RETENTION_PRIORITY") = default_retention_priority;
    m.attr("MAX_RETENTION_PRIORITY") = max_retention_priority;
    m.def("pages_for_tokens", &pages_for_tokens, nb::arg("tokens"), nb::arg("page_size"),
          "Pages needed to hold `tokens` tokens: ceil(tokens / page_size).");
    m.def("dead_pages", static_cast<std::int64_t (*)(std::int64_t, std::int64_t, std::int32_t)>(&dead_pages),
          nb::arg("committed_tokens"), nb::arg("window"), nb::arg("page_size"),
          "Leading pages no future query can attend at committed length L and window W.");
}
