// The host tier: pinned host pages holding KV evicted from a GPU pool, found by content key.
#pragma once
#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "pagedkv/alloc/lifo_free_stack.hpp"
#include "pagedkv/cache/content_key.hpp"
#include "pagedkv/cache/kv_event.hpp"
#include "pagedkv/cache/prefix_index.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/evict/eviction_policy.hpp"

namespace pagedkv {

/// What a host page is doing. Only `resident` pages are in the eviction policy; only `resident`
/// and `reading` pages are hits.
enum class host_page_state : std::uint8_t {
    free,      ///< holds nothing
    writing,   ///< a write-back into it is planned or in flight: not a hit, not evictable
    resident,  ///< holds a confirmed copy: a hit, evictable
    reading,   ///< a load out of it is planned or in flight (`pins` of them): a hit, not evictable
};

/// N host pages of P tokens (page 0 is the null page, never used: the caller allocates N pages of
/// pinned memory and the library hands out indices only). Each used page holds the KV of one full
/// page of content: its key, its parent's key, its scope, extra key and P tokens, so a hit is
/// confirmed token by token (`find_hit`). The parent is named by its key, not by a page, since it
/// may sit in either tier: see docs/offload.md for what that confirms. `Evict` picks which resident
/// page a new write-back reuses.
/// Invariants (check_invariants): every page 1..N-1 is in exactly one state; a page is indexed iff
/// it is not free; `pins > 0` iff reading; the policy holds exactly the resident pages; each
/// indexed page's key is content_key(parent_key, content) and `find_copy` returns it.
template <eviction_policy Evict>
class host_tier {
    struct node {
        std::uint64_t key = 0, parent_key = 0;
        cache_scope scope;
        std::uint64_t page_extra_key = 0;
        bool has_parent = false;
        host_page_state state = host_page_state::free;
        std::int32_t pins = 0;
        page_id next_in_bucket = null_page, prev_in_bucket = null_page;
    };
    std::vector<node> nodes_;
    std::vector<token_id> tokens_;  // page h's tokens at [h * P, (h + 1) * P)
    std::vector<page_id> buckets_;
    std::uint64_t mask_;
    lifo_free_stack free_;
    Evict evict_;
    std::int32_t page_size_;
    std::int32_t writing_ = 0, reading_ = 0;
    std::int64_t evicted_ = 0;
    kv_event_sink sink_;

public:
    host_tier(pool_size n, std::int32_t page_size_tokens)
        : nodes_(static_cast<std::size_t>(n.pages)),
          tokens_(static_cast<std::size_t>(n.pages) * static_cast<std::size_t>(page_size_tokens)),
          buckets_(std::bit_ceil(static_cast<std::size_t>(n.pages)), null_page),
          mask_(buckets_.size() - 1),
          free_(n),
          evict_(n),
          page_size_(page_size_tokens) {}

    pool_size size() const noexcept { return pool_size{static_cast<std::int32_t>(nodes_.size())}; }
    std::int32_t page_size_tokens() const noexcept { return page_size_; }
    std::int32_t free_pages() const noexcept { return free_.free_count(); }
    std::int32_t resident_pages() const noexcept { return evict_.size(); }
    std::int32_t writing_pages() const noexcept { return writing_; }
    std::int32_t reading_pages() const noexcept { return reading_; }
    /// Resident pages reused for newer write-backs since creation (their content is gone).
    std::int64_t evicted_pages() const noexcept { return evicted_; }
    host_page_state state(page_id h) const noexcept { return at(h).state; }
    std::int32_t pins(page_id h) const noexcept { return at(h).pins; }
    /// @pre state(h) != free
    std::uint64_t key(page_id h) const noexcept { return at(h).key; }
    page_content content(page_id h) const noexcept { return {stored_tokens(h), at(h).scope, at(h).page_extra_key}; }

    /// A page holding `c` after the page keyed `parent_key` that a load may read now (resident or
    /// reading), or null_page. `key` = content_key(parent_key, c): it only picks the bucket.
    page_id find_hit(std::uint64_t parent_key, std::uint64_t key, const page_content& c) const noexcept {
        const page_id h = find_copy(parent_key, key, c);
        return h != null_page && at(h).state != host_page_state::writing ? h : null_page;
    }
    /// Any page holding (or about to hold: writing) `c` after `parent_key`, or null_page.
    page_id find_copy(std::uint64_t parent_key, std::uint64_t key, const page_content& c) const noexcept {
        for (page_id h = buckets_[key & mask_]; h != null_page; h = at(h).next_in_bucket) {
            const node& n = at(h);
            if (n.key == key && n.parent_key == parent_key && n.scope == c.scope &&
                n.page_extra_key == c.page_extra_key &&
                std::equal(c.tokens.begin(), c.tokens.end(), stored_tokens(h).begin()))
                return h;
        }
        return null_page;
    }

    /// Whether `reserve` can find a page: a free one or a resident one to evict.
    bool can_reserve() const noexcept { return free_.free_count() > 0 || evict_.size() > 0; }
    /// A page for a write-back of `c` (keyed `key` after `parent_key`), now `writing` and indexed:
    /// a free page, else the policy's victim (reported `removed`). @pre can_reserve(), and no page
    /// holds c after parent_key (find_copy == null_page)
    page_id reserve(std::uint64_t key, std::uint64_t parent_key, bool has_parent, const page_content& c) {
        page_id h = null_page;
        if (free_.free_count() > 0) {
            h = free_.pop();
        } else {
            h = evict_.evict();
            report(kv_event_kind::removed, h, nullptr);
            unindex(h);
            ++evicted_;
        }
        node& n = at(h);
        n.key = key;
        n.parent_key = parent_key;
        n.has_parent = has_parent;
        n.scope = c.scope;
        n.page_extra_key = c.page_extra_key;
        n.state = host_page_state::writing;
        std::copy(c.tokens.begin(), c.tokens.end(),
                  tokens_.begin() + static_cast<std::ptrdiff_t>(h.value) * page_size_);
        page_id& head = buckets_[key & mask_];
        n.next_in_bucket = head;
        if (head != null_page) at(head).prev_in_bucket = h;
        head = h;
        ++writing_;
        return h;
    }
    /// The write-back into h has completed: h becomes a hit (reported `stored`). @pre writing
    void finish_write(page_id h) {
        at(h).state = host_page_state::resident;
        --writing_;
        evict_.insert(h, eviction_hint{at(h).key, default_retention_priority});
        const page_content c = content(h);
        report(kv_event_kind::stored, h, &c);
    }
    /// A load out of h is planned: h is not evicted until as many `unpin`s. @pre resident or reading
    void pin(page_id h) {
        node& n = at(h);
        if (n.pins++ == 0) {
            evict_.erase(h);
            n.state = host_page_state::reading;
            ++reading_;
        }
    }
    /// One planned load out of h has completed or been cancelled. @pre reading
    void unpin(page_id h) {
        node& n = at(h);
        if (--n.pins == 0) {
            n.state = host_page_state::resident;
            --reading_;
            evict_.insert(h, eviction_hint{n.key, default_retention_priority});  // an access: newest
        }
    }
    /// Where the content of page p of a GPU pool's `index` (keyed, about to be evicted there) is
    /// written back: `host`, reserved for it, or null_page when a host page already holds the
    /// content (`already_held`: touched, an access) or none can be reserved.
    struct write_back_target {
        page_id host = null_page;
        bool already_held = false;
    };
    write_back_target reserve_for(const prefix_index& index, page_id p) {
        const page_id up = index.parent(p);
        const std::uint64_t parent_key = up == null_page ? 0 : index.key(up);
        const std::uint64_t key = index.key(p);
        const page_content c = index.content(p);
        if (const page_id h = find_copy(parent_key, key, c); h != null_page) {
            touch(h);
            return {null_page, true};
        }
        if (!can_reserve()) return {};
        return {reserve(key, parent_key, up != null_page, c), false};
    }
    /// A write-back found h already holding the content: an access (a resident page becomes newest).
    void touch(page_id h) {
        if (at(h).state != host_page_state::resident) return;
        evict_.revive(h);
        evict_.insert(h, eviction_hint{at(h).key, default_retention_priority});
    }

    /// Frees every page, reporting `cleared` (tier host). @pre no page writing or reading
    void reset() {
        while (evict_.size() > 0) {
            const page_id h = evict_.evict();
            unindex(h);
            free_.push(h);
        }
        if (sink_) {
            kv_event e{kv_event_kind::cleared, attention_kind::full};
            e.tier = kv_tier::host;
            sink_(e);
        }
    }

    void set_sink(kv_event_sink sink) { sink_ = std::move(sink); }

    /// Checks the invariants above. O(N * P).
    status check_invariants() const {
        if (!nodes_.empty() &&
            (free_.is_free(null_page) || evict_.contains(null_page) || at(null_page).state != host_page_state::free))
            return error{errc::invariant_violated, "host null page used"};
        std::int32_t writing = 0, reading = 0, resident = 0, used = 0;
        for (std::int32_t i = 1; i < size().pages; ++i) {
            const page_id h{i};
            const node& n = at(h);
            const bool is_free = free_.is_free(h), in_policy = evict_.contains(h);
            if (is_free != (n.state == host_page_state::free))
                return error{errc::invariant_violated, "host page free list disagrees with its state"};
            if (in_policy != (n.state == host_page_state::resident))
                return error{errc::invariant_violated, "host eviction policy holds a page that is not resident"};
            if ((n.pins > 0) != (n.state == host_page_state::reading) || n.pins < 0)
                return error{errc::invariant_violated, "host page pinned iff reading broken"};
            writing += n.state == host_page_state::writing;
            reading += n.state == host_page_state::reading;
            resident += n.state == host_page_state::resident;
            if (is_free) continue;
            ++used;
            if (content_key(n.parent_key, content(h)) != n.key)
                return error{errc::invariant_violated, "host page key does not match its content"};
            if (find_copy(n.parent_key, n.key, content(h)) != h)
                return error{errc::invariant_violated, "host page not found by its key (or held twice)"};
        }
        if (writing != writing_ || reading != reading_)
            return error{errc::invariant_violated, "host state count drift"};
        if (resident != evict_.size()) return error{errc::invariant_violated, "host eviction policy size drift"};
        if (used + free_.free_count() + 1 != size().pages)
            return error{errc::invariant_violated, "host free + used + null != N"};
        std::int32_t chained = 0;
        for (std::size_t b = 0; b < buckets_.size(); ++b)
            for (page_id h = buckets_[b]; h != null_page; h = at(h).next_in_bucket, ++chained)
                if (at(h).state == host_page_state::free || (at(h).key & mask_) != b)
                    return error{errc::invariant_violated, "host bucket holds a foreign page"};
        if (chained != used) return error{errc::invariant_violated, "host page missing from its bucket"};
        return {};
    }

private:
    node& at(page_id h) noexcept { return nodes_[static_cast<std::size_t>(h.value)]; }
    const node& at(page_id h) const noexcept { return nodes_[static_cast<std::size_t>(h.value)]; }
    std::span<const token_id> stored_tokens(page_id h) const noexcept {
        return std::span<const token_id>(tokens_).subspan(
            static_cast<std::size_t>(h.value) * static_cast<std::size_t>(page_size_),
            static_cast<std::size_t>(page_size_));
    }
    void unindex(page_id h) noexcept {
        node& n = at(h);
        if (n.prev_in_bucket != null_page)
            at(n.prev_in_bucket).next_in_bucket = n.next_in_bucket;
        else
            buckets_[n.key & mask_] = n.next_in_bucket;
        if (n.next_in_bucket != null_page) at(n.next_in_bucket).prev_in_bucket = n.prev_in_bucket;
        n = node{};
    }
    void report(kv_event_kind kind, page_id h, const page_content* c) const {
        if (!sink_) return;
        const node& n = at(h);
        kv_event e{kind, attention_kind::full, n.key, n.parent_key, n.has_parent, h};
        if (c) {
            e.tokens = c->tokens;
            e.scope = c->scope;
            e.page_extra_key = c->page_extra_key;
        }
        e.tier = kv_tier::host;
        sink_(e);
    }
};

}  // namespace pagedkv
