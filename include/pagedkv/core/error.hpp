// Named errors and the result type every fallible call returns (no exceptions on the hot path).
#pragma once
#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

#include "pagedkv/core/contract.hpp"

namespace pagedkv {

/// Every way a pagedkv call can fail. A call that returns one of these changed nothing;
/// `describe(e)` says what each means.
enum class errc : std::uint8_t {
    out_of_full_pages = 1,
    out_of_swa_pages,
    unknown_request,
    negative_length,
    length_overflow,
    commit_exceeds_reserved,
    truncate_past_length,
    window_already_released,
    invalid_page_size,
    invalid_window,
    invalid_pool_size,
    page_size_mismatch,
    buffer_too_small,
    row_too_short,
    duplicate_request,
    cache_in_use,
    invariant_violated,
    request_not_empty,
    invalid_attach,
    tokens_too_short,
    truncate_into_shared_page,
    not_cached,
    uncommitted_tokens,
    device_error,
    too_many_requests,
    invalid_capacity,
    length_mismatch,
    out_of_chunked_pages,
    invalid_chunk,
    pool_not_empty,
};

/// The last code: codes run from 1 to this one.
inline constexpr errc errc_last = errc::pool_not_empty;

/// The error's name, for logs: `to_string(errc::out_of_swa_pages) == "out_of_swa_pages"`.
constexpr std::string_view to_string(errc e) noexcept {
    switch (e) {
        case errc::out_of_full_pages:
            return "out_of_full_pages";
        case errc::out_of_swa_pages:
            return "out_of_swa_pages";
        case errc::unknown_request:
            return "unknown_request";
        case errc::negative_length:
            return "negative_length";
        case errc::length_overflow:
            return "length_overflow";
        case errc::commit_exceeds_reserved:
            return "commit_exceeds_reserved";
        case errc::truncate_past_length:
            return "truncate_past_length";
        case errc::window_already_released:
            return "window_already_released";
        case errc::invalid_page_size:
            return "invalid_page_size";
        case errc::invalid_window:
            return "invalid_window";
        case errc::invalid_pool_size:
            return "invalid_pool_size";
        case errc::page_size_mismatch:
            return "page_size_mismatch";
        case errc::buffer_too_small:
            return "buffer_too_small";
        case errc::row_too_short:
            return "row_too_short";
        case errc::duplicate_request:
            return "duplicate_request";
        case errc::cache_in_use:
            return "cache_in_use";
        case errc::invariant_violated:
            return "invariant_violated";
        case errc::request_not_empty:
            return "request_not_empty";
        case errc::invalid_attach:
            return "invalid_attach";
        case errc::tokens_too_short:
            return "tokens_too_short";
        case errc::truncate_into_shared_page:
            return "truncate_into_shared_page";
        case errc::not_cached:
            return "not_cached";
        case errc::uncommitted_tokens:
            return "uncommitted_tokens";
        case errc::device_error:
            return "device_error";
        case errc::too_many_requests:
            return "too_many_requests";
        case errc::invalid_capacity:
            return "invalid_capacity";
        case errc::length_mismatch:
            return "length_mismatch";
        case errc::out_of_chunked_pages:
            return "out_of_chunked_pages";
        case errc::invalid_chunk:
            return "invalid_chunk";
        case errc::pool_not_empty:
            return "pool_not_empty";
    }
    return "unknown_errc";
}

/// What the code means, in one sentence (for logs and for bindings' exception messages).
constexpr std::string_view describe(errc e) noexcept {
    switch (e) {
        case errc::out_of_full_pages:
            return "the full pool has fewer free pages than the call needs";
        case errc::out_of_swa_pages:
            return "the SWA pool has fewer free pages than the call needs";
        case errc::unknown_request:
            return "the id was never issued, or its request was freed";
        case errc::negative_length:
            return "a token count below zero";
        case errc::length_overflow:
            return "the length would need more pages than int32 table entries address";
        case errc::commit_exceeds_reserved:
            return "commit of more tokens than are in flight";
        case errc::truncate_past_length:
            return "truncate to more tokens than the request holds";
        case errc::window_already_released:
            return "a rollback into pages that window release already returned";
        case errc::invalid_page_size:
            return "page size below 1";
        case errc::invalid_window:
            return "window below 1 token";
        case errc::invalid_pool_size:
            return "fewer than 2 pages (the null page plus one) or above INT32_MAX, or a prefix-indexed pool of more "
                   "than INT32_MAX tokens";
        case errc::page_size_mismatch:
            return "hybrid pools whose page sizes differ";
        case errc::buffer_too_small:
            return "an output span cannot hold what the call would write";
        case errc::row_too_short:
            return "a request has more pages than a dense table row holds";
        case errc::duplicate_request:
            return "a batch names the same request twice";
        case errc::cache_in_use:
            return "resetting a prefix cache while pages are still referenced";
        case errc::invariant_violated:
            return "check_invariants found inconsistent state (a bug in pagedkv)";
        case errc::request_not_empty:
            return "attaching cached pages to a request that already holds tokens";
        case errc::invalid_attach:
            return "attached pages that do not fit the length, or a free / out-of-range page";
        case errc::tokens_too_short:
            return "fewer token ids than the request's committed whole pages hold";
        case errc::truncate_into_shared_page:
            return "truncate would make the request rewrite a page others hold";
        case errc::not_cached:
            return "dropping a page that is not in the prefix cache";
        case errc::uncommitted_tokens:
            return "exporting a request that still has tokens in flight";
        case errc::device_error:
            return "a CUDA call failed (allocation, copy); `error::detail` says which";
        case errc::too_many_requests:
            return "every request slot a pool can issue is live (UINT32_MAX - 1)";
        case errc::invalid_capacity:
            return "a table capacity (requests, batch, pages, tokens, writes) below 1";
        case errc::length_mismatch:
            return "two lists that must pair up element by element differ in length";
        case errc::out_of_chunked_pages:
            return "a chunked-local-attention pool has fewer free pages than the call needs";
        case errc::invalid_chunk:
            return "attention chunk below 1 token";
        case errc::pool_not_empty:
            return "composing a hybrid from a pool that already holds requests or cached pages";
    }
    return "not a pagedkv error code";
}

/// An error: what went wrong, plus (for invariant reports) a static description of where.
struct error {
    errc code{};
    const char* detail = "";  ///< static string; never owns memory, so errors cost nothing to return
    friend constexpr bool operator==(const error& a, const error& b) noexcept { return a.code == b.code; }
    friend constexpr bool operator==(const error& a, errc b) noexcept { return a.code == b; }
};

/// A value or an error. Small, trivially movable for trivial T; check `ok()` before `value()`.
template <class T>
class [[nodiscard]] result {
public:
    constexpr result(T v) : v_(std::in_place_index<0>, std::move(v)) {}  // NOLINT: implicit by design
    constexpr result(errc e) : v_(std::in_place_index<1>, error{e}) {}   // NOLINT
    constexpr result(error e) : v_(std::in_place_index<1>, e) {}         // NOLINT

    constexpr bool ok() const noexcept { return v_.index() == 0; }
    constexpr explicit operator bool() const noexcept { return ok(); }
    /// @pre ok(); checked builds abort with the error's name (PAGEDKV_CHECKED, core/contract.hpp).
    constexpr const T& value() const& {
        if constexpr (PAGEDKV_CHECKED) check_value();
        return *std::get_if<0>(&v_);
    }
    constexpr T& value() & {
        if constexpr (PAGEDKV_CHECKED) check_value();
        return *std::get_if<0>(&v_);
    }
    /// Moves the value out of a temporary (`create(...).value()` gives the pool itself).
    constexpr T&& value() && {
        if constexpr (PAGEDKV_CHECKED) check_value();
        return std::move(*std::get_if<0>(&v_));
    }
    /// @pre !ok(); checked builds abort.
    constexpr error err() const {
        if constexpr (PAGEDKV_CHECKED) {
            if (ok()) detail::contract_failure("result::err() on a value", "ok");
        }
        return *std::get_if<1>(&v_);
    }
    constexpr errc code() const { return ok() ? errc{} : err().code; }

private:
    constexpr void check_value() const {
        if (!ok()) detail::contract_failure("result::value() on an error", to_string(std::get_if<1>(&v_)->code));
    }
    std::variant<T, error> v_;
};

/// The result of a call that returns nothing but may fail.
template <>
class [[nodiscard]] result<void> {
public:
    constexpr result() = default;
    constexpr result(errc e) : e_{e} {}   // NOLINT: implicit by design
    constexpr result(error e) : e_(e) {}  // NOLINT
    constexpr bool ok() const noexcept { return e_.code == errc{}; }
    constexpr explicit operator bool() const noexcept { return ok(); }
    constexpr error err() const { return e_; }
    constexpr errc code() const { return e_.code; }

private:
    error e_{};
};

using status = result<void>;

}  // namespace pagedkv
