// Prefix keying of a full caching pool: the index of cached content, each request's keyed chain,
// and the one function that builds a kv_event.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "pagedkv/cache/cache_scope.hpp"
#include "pagedkv/cache/kv_event.hpp"
#include "pagedkv/cache/prefix_index.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/pool/page_ownership.hpp"
#include "pagedkv/pool/pool_hooks.hpp"

namespace pagedkv {

/// Keys a pool's committed pages in a prefix index so later requests can attach them, over the
/// pool's page ownership (`Own`): it hears of every page that leaves the cache (`forget`) and frees
/// the cached pages whose parent left through `Own::discard`. Events go to the sink, all built by
/// `event`, the hybrid's sliding-layer ones included.
/// Invariants: the index's own; a request's chain points at the last of its first `keyed` pages (or
/// an equal page cached before it) while that page keeps the epoch it had: otherwise it is stale
/// and re-derived before use (an evicted page may take its subtree along).
template <class Own>
class prefix_keying {
public:
    prefix_keying(pool_size n, std::int32_t page_size) : index_(n, page_size), page_size_(page_size) {}

    /// The slot's chain starts empty (call when a request takes the slot).
    void open(std::uint32_t slot) {
        if (slot >= chains_.size()) chains_.resize(slot + 1);
        chains_[slot] = {};
    }
    std::int64_t keyed_pages(std::uint32_t slot) const noexcept { return chains_[slot].keyed; }

    /// Walks the cached prefix of `tokens` (whole pages, never the last token), calling
    /// visit(index, page) for each confirmed page in order. Returns the pages matched.
    template <class Visit>
    std::int64_t match(std::span<const token_id> tokens, cache_scope scope, std::span<const std::uint64_t> extra,
                       Visit&& visit) const {
        const std::int64_t max_pages = tokens.empty() ? 0 : (static_cast<std::int64_t>(tokens.size()) - 1) / page_size_;
        page_id parent = null_page;
        std::uint64_t parent_key = 0;
        for (std::int64_t i = 0; i < max_pages; ++i) {
            const page_content c = content_at(tokens, scope, extra, i);
            const std::uint64_t key = content_key(parent_key, c);
            const page_id p = index_.find(parent, key, c);
            if (p == null_page) return i;
            visit(i, p);
            parent = p;
            parent_key = key;
        }
        return max_pages;
    }

    /// Points the slot's chain at the last keyed one of its first `count` pages (the pages before
    /// a keyed page are keyed too: the index is a forest), so key_pages resumes there.
    void restart_chain(std::uint32_t slot, std::span<const page_id> pages, std::int64_t count) noexcept {
        while (count > 0 && !index_.keyed(pages[static_cast<std::size_t>(count - 1)])) --count;
        chain_state& c = chains_[slot];
        c.keyed = count;
        c.chain = count > 0 ? pages[static_cast<std::size_t>(count - 1)] : null_page;
        c.epoch = count > 0 ? index_.epoch(c.chain) : 0;
    }

    /// Keys pages [keyed, whole) of the slot's list. A page whose content is already keyed after the
    /// same prefix stays unkeyed (or takes the key over when the hooks prefer the copy).
    /// @pre those pages hold committed (or committing) tokens and `tokens` covers them.
    template <class Hooks>
    void key_pages(std::uint32_t slot, std::span<const page_id> pages, std::int64_t whole,
                   std::span<const token_id> tokens, cache_scope scope, std::span<const std::uint64_t> extra, Own& own,
                   Hooks& hooks) {
        chain_state& ch = chains_[slot];
        if (ch.keyed > 0 && (ch.chain == null_page || !index_.keyed(ch.chain) || index_.epoch(ch.chain) != ch.epoch))
            restart_chain(slot, pages, ch.keyed);  // the cached page the chain ran through was evicted
        for (std::int64_t i = ch.keyed; i < whole; ++i) {
            const page_content c = content_at(tokens, scope, extra, i);
            const page_id parent = i == 0 ? null_page : ch.chain;
            const std::uint64_t key = content_key(i == 0 ? 0 : index_.key(parent), c);
            page_id held = index_.find(parent, key, c);
            const page_id mine = pages[static_cast<std::size_t>(i)];
            if (held == null_page) {
                held = mine;
                index_.insert(held, parent, key, c);
                ++stored_;
                if (sink_) sink_(event(kv_event_kind::stored, attention_kind::full, held, held, &c));
            } else if (held != mine && detail::hook_prefer_copy(hooks, held, mine)) {
                take_over(held, mine, own, hooks);
                held = mine;
            }
            ch.chain = held;
            ch.epoch = index_.epoch(held);
            ch.keyed = i + 1;
        }
    }

    /// The slot's list is cut to `n` tokens: a kept partial page that was keyed loses its key (its
    /// tail will be rewritten) and the chain stops at the kept whole pages.
    template <class Hooks>
    void truncate(std::uint32_t slot, std::span<const page_id> pages, std::int64_t n, Own& own, Hooks& hooks) {
        const auto partial = static_cast<std::size_t>(n / page_size_);
        if (n % page_size_ != 0 && partial < pages.size() && index_.keyed(pages[partial]))
            unkey(pages[partial], null_page, own, hooks);
        chain_state& ch = chains_[slot];
        if (ch.keyed > n / page_size_) {
            ch.keyed = n / page_size_;
            ch.chain = null_page;  // re-derived by the next key_pages
        }
    }

    /// Page p just left the cache (Own::discard reported it): its key goes, and with it the keys of
    /// every page below it; the cached ones among those are discarded, the owned ones only unkeyed.
    template <class Hooks>
    void forget(page_id p, Own& own, Hooks& hooks) {
        if (index_.keyed(p)) unkey(p, p, own, hooks);
    }

    std::optional<std::uint64_t> key_of(page_id p) const noexcept {
        if (index_.keyed(p)) return index_.key(p);
        return std::nullopt;
    }
    const prefix_index& index() const noexcept { return index_; }

    /// The event of `kind` in `layers` for the content keyed at page `keyed`, held by `page` (in the
    /// SWA pool for sliding-layer events). @pre index().keyed(keyed)
    kv_event event(kv_event_kind kind, attention_kind layers, page_id keyed, page_id page,
                   const page_content* c = nullptr) const noexcept {
        const page_id up = index_.parent(keyed);
        kv_event e{kind, layers, index_.key(keyed), up == null_page ? 0 : index_.key(up), up != null_page, page};
        if (c) {
            e.tokens = c->tokens;
            e.scope = c->scope;
            e.page_extra_key = c->page_extra_key;
        }
        return e;
    }
    /// Sends event(kind, layers, keyed, page), of layer group `group` (kv_event::group), when a
    /// sink is set (nothing is built otherwise).
    void report(kv_event_kind kind, attention_kind layers, page_id keyed, page_id page, std::uint8_t group = 0) const {
        if (!sink_) return;
        kv_event e = event(kind, layers, keyed, page);
        e.group = group;
        sink_(e);
    }
    void report_cleared() const {
        if (sink_) sink_(kv_event{kv_event_kind::cleared, attention_kind::full});
    }
    void set_sink(kv_event_sink sink) { sink_ = std::move(sink); }

    /// Pages given a content key since creation.
    std::int64_t stored_pages() const noexcept { return stored_; }
    status check_invariants() const { return index_.check_invariants(); }

private:
    struct chain_state {
        std::int64_t keyed = 0;
        page_id chain = null_page;
        std::uint32_t epoch = 0;
    };

    page_content content_at(std::span<const token_id> tokens, cache_scope scope, std::span<const std::uint64_t> extra,
                            std::int64_t i) const noexcept {
        const auto page = static_cast<std::size_t>(page_size_);
        const auto idx = static_cast<std::size_t>(i);
        return {tokens.subspan(idx * page, page), scope, idx < extra.size() ? extra[idx] : 0};
    }

    // The request's own copy replaces the keyed page `held` (same content, same key: nothing to
    // report at this pool's level); `held` is freed if cached, else only unkeyed.
    template <class Hooks>
    void take_over(page_id held, page_id copy, Own& own, Hooks& hooks) {
        index_.replace(held, copy);
        if (own.refs(held) == 0)
            own.discard(held, hooks, cached_content::kept_elsewhere);
        else
            detail::hook_unkeyed(hooks, held);
        detail::hook_replaced(hooks, held, copy);
    }

    // Unkeys p's subtree. Pages in it other than `gone` (already out of the cache, handled by the
    // caller) are discarded when cached, or reported unkeyed when owned.
    template <class Hooks>
    void unkey(page_id p, page_id gone, Own& own, Hooks& hooks) {
        index_.unkey_subtree(p, [&](page_id u) {
            if (sink_) sink_(event(kv_event_kind::removed, attention_kind::full, u, u));
            if (u == gone) return;
            if (own.refs(u) > 0)
                detail::hook_unkeyed(hooks, u);
            else
                own.discard(u, hooks);
        });
    }

    std::vector<chain_state> chains_;
    prefix_index index_;
    std::int32_t page_size_;
    std::int64_t stored_ = 0;
    kv_event_sink sink_;
};

/// What a pool without an index keys: nothing. Its pages are cached, if at all, under the keys a
/// composing pool gives them (pool_hooks' retain_key).
template <class Own>
struct no_keying {
    no_keying(pool_size, std::int32_t) noexcept {}
    void open(std::uint32_t) noexcept {}
    std::int64_t keyed_pages(std::uint32_t) const noexcept { return 0; }
    template <class Hooks>
    void truncate(std::uint32_t, std::span<const page_id>, std::int64_t, Own&, Hooks&) noexcept {}
    template <class Hooks>
    void forget(page_id, Own&, Hooks&) noexcept {}
    std::optional<std::uint64_t> key_of(page_id) const noexcept { return std::nullopt; }
    std::int64_t stored_pages() const noexcept { return 0; }
    status check_invariants() const noexcept { return {}; }
};

}  // namespace pagedkv
