// The prefix index: which pages hold which content, as a forest of pages found by content key.
#pragma once
#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

#include "pagedkv/cache/content_key.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// The keyed pages of one full pool. A keyed page holds one page of tokens that follow its parent
/// page's (a first page has parent null_page); keyed pages form a forest, and a page is findable
/// only through its parent, so lookup walks from the root and stops at the first miss.
/// The key (content_key) picks a hash bucket, nothing more: `find` compares parent, scope, extra key
/// and every token before it answers, so neither a collision nor a crafted prompt can match.
/// Links are page indices in arrays sized at construction: no operation allocates.
class prefix_index {
    // Invariants (check_invariants):
    // - keyed pages form a forest: a keyed page's parent is null_page or keyed, and the page is on
    //   its parent's child list; an unkeyed page has no children and is on no list;
    // - key == content_key(parent's key or 0, content) and `find(parent, key, content)` returns the
    //   page itself (so no two keyed pages hold the same content after the same parent);
    // - bucket b chains exactly the keyed pages whose key & mask == b.
    struct node {
        std::uint64_t key = 0;
        cache_scope scope;
        std::uint64_t page_extra_key = 0;
        page_id parent = null_page;
        page_id first_child = null_page, next_sibling = null_page, prev_sibling = null_page;
        page_id next_in_bucket = null_page, prev_in_bucket = null_page;
        std::uint32_t epoch = 0;  // +1 each time the page loses its key: tells stale references apart
        bool keyed = false;
    };
    std::vector<node> nodes_;
    std::vector<token_id> tokens_;  // page p's tokens at [p * P, (p + 1) * P)
    std::vector<page_id> buckets_;
    std::uint64_t mask_;
    std::int32_t page_size_;
    std::int32_t keyed_ = 0;

public:
    /// An empty index for a pool of `n` pages of `page_size_tokens` tokens.
    prefix_index(pool_size n, std::int32_t page_size_tokens)
        : nodes_(static_cast<std::size_t>(n.pages)),
          tokens_(static_cast<std::size_t>(n.pages) * static_cast<std::size_t>(page_size_tokens)),
          buckets_(std::bit_ceil(static_cast<std::size_t>(n.pages)), null_page),
          mask_(buckets_.size() - 1),
          page_size_(page_size_tokens) {}

    bool keyed(page_id p) const noexcept { return at(p).keyed; }
    std::int32_t keyed_pages() const noexcept { return keyed_; }
    /// @pre keyed(p)
    std::uint64_t key(page_id p) const noexcept { return at(p).key; }
    /// @pre keyed(p); null_page for the first page of a sequence.
    page_id parent(page_id p) const noexcept { return at(p).parent; }
    /// Changes every time p loses its key, so (page, epoch) names one keying of a page.
    std::uint32_t epoch(page_id p) const noexcept { return at(p).epoch; }
    /// @pre keyed(p)
    page_content content(page_id p) const noexcept { return {stored_tokens(p), at(p).scope, at(p).page_extra_key}; }

    /// The keyed page under `parent` holding exactly `c`, or null_page. `key` must be
    /// content_key(parent's key, c); it only selects the bucket.
    page_id find(page_id parent, std::uint64_t key, const page_content& c) const noexcept {
        for (page_id p = buckets_[key & mask_]; p != null_page; p = at(p).next_in_bucket) {
            const node& n = at(p);
            if (n.key == key && n.parent == parent && n.scope == c.scope && n.page_extra_key == c.page_extra_key &&
                std::equal(c.tokens.begin(), c.tokens.end(), stored_tokens(p).begin()))
                return p;
        }
        return null_page;
    }

    /// Keys p as holding `c` after `parent`.
    /// @pre !keyed(p); parent is null_page or keyed; find(parent, key, c) == null_page; c has P tokens.
    void insert(page_id p, page_id parent, std::uint64_t key, const page_content& c) noexcept {
        node& n = at(p);
        n.key = key;
        n.scope = c.scope;
        n.page_extra_key = c.page_extra_key;
        n.parent = parent;
        n.keyed = true;
        std::copy(c.tokens.begin(), c.tokens.end(),
                  tokens_.begin() + static_cast<std::ptrdiff_t>(p.value) * page_size_);
        if (parent != null_page) {  // push front on the parent's child list
            n.next_sibling = at(parent).first_child;
            if (n.next_sibling != null_page) at(n.next_sibling).prev_sibling = p;
            at(parent).first_child = p;
        }
        page_id& head = buckets_[key & mask_];
        n.next_in_bucket = head;
        if (head != null_page) at(head).prev_in_bucket = p;
        head = p;
        ++keyed_;
    }

    /// Page `copy` takes over `held`'s key and place in the forest (parent, children, bucket);
    /// `held` loses its key. Used when a recomputed copy is more complete than the cached page
    /// (a hybrid pool's page whose SWA page was evicted). O(children of held).
    /// @pre keyed(held), !keyed(copy), copy holds the same tokens.
    void replace(page_id held, page_id copy) noexcept {
        const std::uint32_t copy_epoch = at(copy).epoch;  // copy's keyings keep their own count
        node& n = at(copy);
        n = at(held);
        n.epoch = copy_epoch;
        std::copy_n(tokens_.begin() + static_cast<std::ptrdiff_t>(held.value) * page_size_, page_size_,
                    tokens_.begin() + static_cast<std::ptrdiff_t>(copy.value) * page_size_);
        if (n.parent != null_page) {
            if (n.prev_sibling != null_page)
                at(n.prev_sibling).next_sibling = copy;
            else
                at(n.parent).first_child = copy;
            if (n.next_sibling != null_page) at(n.next_sibling).prev_sibling = copy;
        }
        for (page_id c = n.first_child; c != null_page; c = at(c).next_sibling) at(c).parent = copy;
        if (n.prev_in_bucket != null_page)
            at(n.prev_in_bucket).next_in_bucket = copy;
        else
            buckets_[n.key & mask_] = copy;
        if (n.next_in_bucket != null_page) at(n.next_in_bucket).prev_in_bucket = copy;
        const std::uint32_t held_epoch = at(held).epoch;
        at(held) = node{};
        at(held).epoch = held_epoch + 1;
    }

    /// Unkeys p and every keyed page below it, children before parents (a page without its parent
    /// is unreachable, so keeping its key would only leak it). Calls `f(u)` for each such page u
    /// just before u loses its key (key, parent and content are still readable inside f); f must not
    /// modify the index. O(size of the subtree), no allocation. @pre keyed(p)
    template <class F>
    void unkey_subtree(page_id p, F&& f) {
        page_id u = p;
        for (;;) {
            while (at(u).first_child != null_page) u = at(u).first_child;  // down to a leaf
            const page_id up = at(u).parent;
            const bool last = u == p;
            f(u);
            unkey_leaf(u);
            if (last) return;
            u = up;
        }
    }

    /// Checks the invariants above. O(N * P); for tests and debug builds.
    status check_invariants() const {
        std::int32_t keyed = 0, children = 0, chained = 0;
        for (std::int32_t i = 1; i < static_cast<std::int32_t>(nodes_.size()); ++i) {
            const page_id p{i};
            const node& n = at(p);
            if (!n.keyed) {
                if (n.first_child != null_page) return error{errc::invariant_violated, "unkeyed page has children"};
                continue;
            }
            ++keyed;
            if (n.parent != null_page && !at(n.parent).keyed)
                return error{errc::invariant_violated, "keyed page under an unkeyed parent"};
            const std::uint64_t parent_key = n.parent == null_page ? 0 : at(n.parent).key;
            if (content_key(parent_key, content(p)) != n.key)
                return error{errc::invariant_violated, "key does not match the stored content"};
            if (find(n.parent, n.key, content(p)) != p)
                return error{errc::invariant_violated, "keyed page not found by its key"};
            for (page_id c = n.first_child; c != null_page; c = at(c).next_sibling, ++children)
                if (!at(c).keyed || at(c).parent != p)
                    return error{errc::invariant_violated, "child list disagrees with parent links"};
        }
        std::int32_t roots = 0;
        for (const node& n : nodes_) roots += n.keyed && n.parent == null_page;
        if (keyed != keyed_) return error{errc::invariant_violated, "keyed page count drift"};
        if (children + roots != keyed)
            return error{errc::invariant_violated, "keyed page missing from its parent's children"};
        for (std::size_t b = 0; b < buckets_.size(); ++b)
            for (page_id p = buckets_[b]; p != null_page; p = at(p).next_in_bucket, ++chained)
                if (!at(p).keyed || (at(p).key & mask_) != b)
                    return error{errc::invariant_violated, "hash bucket holds a foreign page"};
        if (chained != keyed_) return error{errc::invariant_violated, "keyed page missing from its bucket"};
        return {};
    }

private:
    node& at(page_id p) noexcept { return nodes_[static_cast<std::size_t>(p.value)]; }
    const node& at(page_id p) const noexcept { return nodes_[static_cast<std::size_t>(p.value)]; }
    std::span<const token_id> stored_tokens(page_id p) const noexcept {
        return std::span<const token_id>(tokens_).subspan(
            static_cast<std::size_t>(p.value) * static_cast<std::size_t>(page_size_),
            static_cast<std::size_t>(page_size_));
    }

    // @pre keyed(p) and p has no children.
    void unkey_leaf(page_id p) noexcept {
        node& n = at(p);
        if (n.parent != null_page) {
            if (n.prev_sibling != null_page)
                at(n.prev_sibling).next_sibling = n.next_sibling;
            else
                at(n.parent).first_child = n.next_sibling;
            if (n.next_sibling != null_page) at(n.next_sibling).prev_sibling = n.prev_sibling;
        }
        if (n.prev_in_bucket != null_page)
            at(n.prev_in_bucket).next_in_bucket = n.next_in_bucket;
        else
            buckets_[n.key & mask_] = n.next_in_bucket;
        if (n.next_in_bucket != null_page) at(n.next_in_bucket).prev_in_bucket = n.prev_in_bucket;
        n.parent = n.next_sibling = n.prev_sibling = n.next_in_bucket = n.prev_in_bucket = null_page;
        n.keyed = false;
        ++n.epoch;
        --keyed_;
    }
};

}  // namespace pagedkv
