// The one pool implementation behind full_pool and swa_pool: per-request page lists over a free list.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "pagedkv/alloc/alloc_policy.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/page_math.hpp"

namespace pagedkv {

/// A pool of N pages of P tokens (page 0 = null page) and the page lists of the requests using it.
/// A request's length grows with `extend` (tokens in flight: prefill chunk, decode token, drafts)
/// and becomes final with `commit`. For `attention_kind::sliding`, pages no future query can see
/// (by the *committed* length and window W, see `dead_pages`) are freed eagerly inside `commit`
/// and `truncate`, and their list entries become the null page in the same call.
/// Every call either succeeds or returns an error and leaves the pool exactly as it was.
template <alloc_policy Alloc, attention_kind Kind>
class paged_pool {
public:
    static constexpr attention_kind kind = Kind;
    using alloc_type = Alloc;

    /// A full-attention pool. Errors: invalid_pool_size, invalid_page_size.
    static result<paged_pool> create(pool_size size, std::int32_t page_size_tokens)
        requires(Kind == attention_kind::full)
    {
        if (auto s = validate(size, page_size_tokens); !s) return s.err();
        return paged_pool(size, page_size_tokens, 0);
    }
    /// A sliding-window pool with window W tokens. Errors: as above, plus invalid_window (W < 1).
    static result<paged_pool> create(pool_size size, std::int32_t page_size_tokens, std::int64_t window_tokens)
        requires(Kind == attention_kind::sliding)
    {
        if (auto s = validate(size, page_size_tokens); !s) return s.err();
        if (window_tokens < 1) return errc::invalid_window;
        return paged_pool(size, page_size_tokens, window_tokens);
    }

    // ---- mutations -------------------------------------------------------------------------------

    /// A new request with no tokens. Never fails in practice (ids are 2^32 slots deep).
    result<request_id> add_request() {
        if (free_slots_.empty()) {
            seqs_.emplace_back();
            free_slots_.push_back(static_cast<std::uint32_t>(seqs_.size() - 1));
        }
        const std::uint32_t slot = free_slots_.back();
        free_slots_.pop_back();
        sequence& s = seqs_[slot];
        s.live = true;
        ++live_requests_;
        return request_id{slot, s.generation};
    }

    /// Reserve `n` more tokens (uncommitted) and the pages they cross into.
    /// Errors: unknown_request, negative_length, length_overflow, out_of_{full,swa}_pages.
    status extend(request_id r, std::int64_t n) {
        if (auto need = pages_to_extend(r, n); !need) return need.err();
        else take_pages(seqs_[r.slot], need.value(), n);
        return {};
    }

    /// Of the tokens in flight, the first `n` become committed and the rest are dropped (their
    /// whole pages freed). Sliding pools then release the pages that fell out of the window.
    /// Errors: unknown_request, negative_length, commit_exceeds_reserved.
    status commit(request_id r, std::int64_t n) {
        if (!contains(r)) return errc::unknown_request;
        sequence& s = seqs_[r.slot];
        if (n < 0) return errc::negative_length;
        if (n > s.length_tokens - s.committed_tokens) return errc::commit_exceeds_reserved;
        resize(s, s.committed_tokens + n, s.committed_tokens + n);
        return {};
    }

    /// Roll the request back to `n` tokens (committed ones included): pages past it are freed.
    /// Errors: unknown_request, negative_length, truncate_past_length, window_already_released
    /// (the shorter length would need pages that window release has already returned).
    status truncate(request_id r, std::int64_t n) {
        if (auto s = check_truncate(r, n); !s) return s;
        sequence& s = seqs_[r.slot];
        resize(s, n, s.committed_tokens < n ? s.committed_tokens : n);
        return {};
    }

    /// Free every page of the request and retire its id. Errors: unknown_request.
    status free_request(request_id r) {
        if (!contains(r)) return errc::unknown_request;
        sequence& s = seqs_[r.slot];
        for (page_id p : s.pages)
            if (p != null_page) release(p);
        s.pages.clear();  // keeps capacity: the slot's next request allocates nothing
        s.length_tokens = s.committed_tokens = 0;
        s.first_live_page = 0;
        s.live = false;
        ++s.generation;
        --live_requests_;
        free_slots_.push_back(r.slot);
        return {};
    }

    // ---- planning (pure; lets a hybrid pool check both pools before touching either) ------------

    /// Pages `extend(r, n)` would take, or the error it would return.
    result<std::int64_t> pages_to_extend(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const sequence& s = seqs_[r.slot];
        if (n > max_tokens_per_request(page_size_) - s.length_tokens) return errc::length_overflow;
        const std::int64_t need = pages_for_tokens(s.length_tokens + n, page_size_) -
                                  static_cast<std::int64_t>(s.pages.size());
        if (need > free_.free_count())
            return Kind == attention_kind::full ? errc::out_of_full_pages : errc::out_of_swa_pages;
        return need;
    }
    /// The error `truncate(r, n)` would return, or success.
    status check_truncate(request_id r, std::int64_t n) const {
        if (!contains(r)) return errc::unknown_request;
        if (n < 0) return errc::negative_length;
        const sequence& s = seqs_[r.slot];
        if (n > s.length_tokens) return errc::truncate_past_length;
        const std::int64_t committed = s.committed_tokens < n ? s.committed_tokens : n;
        if (live_from(committed) < s.first_live_page) return errc::window_already_released;
        return {};
    }
    /// First page still needed at committed length L: dead_pages(L) for sliding pools, 0 for full.
    std::int64_t live_from(std::int64_t committed_tokens) const noexcept {
        return Kind == attention_kind::sliding ? dead_pages(committed_tokens, window_, page_size_) : 0;
    }

    // ---- queries (fast path: @pre contains(r)) ---------------------------------------------------

    bool contains(request_id r) const noexcept {
        return r.slot < seqs_.size() && seqs_[r.slot].live && seqs_[r.slot].generation == r.generation;
    }
    /// The request's page list: entry i holds tokens [i*P, (i+1)*P); null before first_live_page.
    std::span<const page_id> pages(request_id r) const noexcept { return seqs_[r.slot].pages; }
    std::int64_t length_tokens(request_id r) const noexcept { return seqs_[r.slot].length_tokens; }
    std::int64_t committed_tokens(request_id r) const noexcept { return seqs_[r.slot].committed_tokens; }
    /// Index of the first page that is not the null page (0 for full pools).
    std::int64_t first_live_page(request_id r) const noexcept { return seqs_[r.slot].first_live_page; }

    std::int32_t page_size_tokens() const noexcept { return page_size_; }
    /// Window W in tokens; 0 for full pools (no window).
    std::int64_t window_tokens() const noexcept { return window_; }
    pool_size size() const noexcept { return size_; }
    std::int32_t free_pages() const noexcept { return free_.free_count(); }
    /// Pages owned by at least one request (the null page is neither free nor used).
    std::int32_t used_pages() const noexcept { return size_.pages - 1 - free_.free_count(); }
    std::int64_t live_requests() const noexcept { return live_requests_; }
    /// Pages the request holds (null entries excluded).
    std::int64_t pages_held(request_id r) const noexcept {
        return static_cast<std::int64_t>(seqs_[r.slot].pages.size()) - seqs_[r.slot].first_live_page;
    }
    const Alloc& allocator() const noexcept { return free_; }

    /// Calls f(request_id) for every live request, in slot order.
    template <class F>
    void for_each_request(F&& f) const {
        for (std::uint32_t i = 0; i < seqs_.size(); ++i)
            if (seqs_[i].live) f(request_id{i, seqs_[i].generation});
    }

    /// Checks every invariant below; returns the first violation. O(N + total pages); for tests
    /// and debug builds.
    status check_invariants() const {
        std::vector<std::int32_t> refs(static_cast<std::size_t>(size_.pages), 0);
        std::int64_t live = 0;
        for (const sequence& s : seqs_) {
            if (!s.live) {
                if (!s.pages.empty()) return error{errc::invariant_violated, "retired slot holds pages"};
                continue;
            }
            ++live;
            if (s.committed_tokens < 0 || s.committed_tokens > s.length_tokens)
                return error{errc::invariant_violated, "committed outside [0, length]"};
            if (static_cast<std::int64_t>(s.pages.size()) != pages_for_tokens(s.length_tokens, page_size_))
                return error{errc::invariant_violated, "page count != ceil(length / P)"};
            if (s.first_live_page != live_from(s.committed_tokens))
                return error{errc::invariant_violated, "window release lags the committed length"};
            for (std::size_t i = 0; i < s.pages.size(); ++i) {
                const page_id p = s.pages[i];
                const bool released = static_cast<std::int64_t>(i) < s.first_live_page;
                if (released != (p == null_page))
                    return error{errc::invariant_violated, "null entry outside the released prefix"};
                if (p.value < 0 || p.value >= size_.pages)
                    return error{errc::invariant_violated, "page index out of pool range"};
                if (!released) ++refs[static_cast<std::size_t>(p.value)];
            }
        }
        if (live != live_requests_) return error{errc::invariant_violated, "live request count drift"};
        if (free_.is_free(null_page)) return error{errc::invariant_violated, "null page on the free list"};
        std::int32_t owned = 0;
        for (std::int32_t p = 1; p < size_.pages; ++p) {
            const auto i = static_cast<std::size_t>(p);
            if (refs[i] > 1) return error{errc::invariant_violated, "page owned twice"};
            if (refs[i] == 1 && free_.is_free(page_id{p}))
                return error{errc::invariant_violated, "page both free and owned"};
            if (refs[i] == 0 && !free_.is_free(page_id{p}))
                return error{errc::invariant_violated, "page neither free nor owned (leak)"};
            owned += refs[i];
        }
        if (owned + free_.free_count() + 1 != size_.pages)
            return error{errc::invariant_violated, "free + owned + null != N"};
        return {};
    }

private:
    // Invariants (checked by check_invariants):
    // - committed_tokens <= length_tokens; pages.size() == ceil(length_tokens / P);
    // - pages[i] == null_page  iff  i < first_live_page, and first_live_page == live_from(committed);
    // - every page 1..N-1 is either free or in exactly one live request's list; never both.
    struct sequence {
        std::vector<page_id> pages;
        std::int64_t length_tokens = 0;
        std::int64_t committed_tokens = 0;
        std::int64_t first_live_page = 0;
        std::uint32_t generation = 0;
        bool live = false;
    };

    paged_pool(pool_size size, std::int32_t page_size, std::int64_t window)
        : free_(size), size_(size), page_size_(page_size), window_(window) {}

    static status validate(pool_size size, std::int32_t page_size) {
        if (page_size < 1) return errc::invalid_page_size;
        if (size.pages < 2) return errc::invalid_pool_size;
        return {};
    }

    // @pre need pages are free (checked by pages_to_extend).
    void take_pages(sequence& s, std::int64_t need, std::int64_t n_tokens) {
        for (std::int64_t i = 0; i < need; ++i) s.pages.push_back(free_.pop());
        s.length_tokens += n_tokens;
    }

    void release(page_id p) noexcept { free_.push(p); }

    // Shrinks to `length` tokens and moves the committed length to `committed`; frees dropped tail
    // pages and, for sliding pools, the pages that fell out of the window. Cannot fail.
    void resize(sequence& s, std::int64_t length, std::int64_t committed) {
        const auto keep = static_cast<std::size_t>(pages_for_tokens(length, page_size_));
        for (std::size_t i = keep; i < s.pages.size(); ++i)
            if (s.pages[i] != null_page) release(s.pages[i]);
        s.pages.resize(keep);
        s.length_tokens = length;
        s.committed_tokens = committed;
        const std::int64_t live = live_from(committed);
        for (std::int64_t i = s.first_live_page; i < live; ++i) {
            release(s.pages[static_cast<std::size_t>(i)]);
            s.pages[static_cast<std::size_t>(i)] = null_page;
        }
        s.first_live_page = live;
    }

    Alloc free_;
    std::vector<sequence> seqs_;
    std::vector<std::uint32_t> free_slots_;
    std::int64_t live_requests_ = 0;
    pool_size size_;
    std::int32_t page_size_;
    std::int64_t window_;
};

}  // namespace pagedkv
