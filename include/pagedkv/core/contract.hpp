// Checked builds: a broken precondition stops the program with its name instead of running on.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string_view>

/// 1 in debug and checked builds (no NDEBUG, or -DPAGEDKV_CHECKED=1): cheap preconditions are
/// asserted. 0 in release builds, where they stay documented `@pre`s and cost nothing.
#ifndef PAGEDKV_CHECKED
#ifdef NDEBUG
#define PAGEDKV_CHECKED 0
#else
#define PAGEDKV_CHECKED 1
#endif
#endif

namespace pagedkv::detail {

/// Prints "pagedkv: <what>: <name>" to stderr and aborts. Out of line of the fast path.
[[noreturn]] inline void contract_failure(const char* what, std::string_view name) noexcept {
    std::fprintf(stderr, "pagedkv: %s: %.*s\n", what, static_cast<int>(name.size()), name.data());
    std::abort();
}

}  // namespace pagedkv::detail

/// Asserts a documented `@pre` in checked builds: prints "pagedkv: precondition violated: <what>"
/// and aborts. Compiles to nothing in release builds (the condition is not evaluated).
#define PAGEDKV_ASSERT(cond, what)                                                           \
    do {                                                                                     \
        if constexpr (PAGEDKV_CHECKED) {                                                     \
            if (!(cond)) ::pagedkv::detail::contract_failure("precondition violated", what); \
        }                                                                                    \
    } while (0)
