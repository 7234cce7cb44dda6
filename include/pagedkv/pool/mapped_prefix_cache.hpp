// Prefix reuse across the pools of a mapped_pools: a hit is the longest prefix every group can
// serve, and a group page stays cached while its full page is keyed.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "pagedkv/cache/cache_scope.hpp"
#include "pagedkv/cache/kv_event.hpp"
#include "pagedkv/core/attention_rule.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"
#include "pagedkv/core/token_id.hpp"
#include "pagedkv/pool/mapped_pools.hpp"
#include "pagedkv/pool/pool_hooks.hpp"

namespace pagedkv {

/// mapped_pools with its prefix cache (when `caching`: the full pool has an index and every group
/// pool caches). A full page keeps each group's page while it has a content key: a group page no
/// request holds stays cached, still mapped, and may be evicted on its own (a tombstone in that
/// group only: its mapping entry becomes null while the full page stays cached). A hit of H tokens
/// needs the full pages of [0, H) and, in each group k, the pages [hit_first_page(rule_k, H), H / P):
/// the longest prefix every group can serve (the minimum over the groups' rules, as TensorRT-LLM
/// #10183 describes for several windows).
template <class FullPool, class... GroupPools>
class mapped_prefix_cache : public mapped_pools<FullPool, GroupPools...> {
    using pools = mapped_pools<FullPool, GroupPools...>;
    using pools::requests_, pools::full_, pools::maps_, pools::full_with;
    using typename pools::evictions;

public:
    using pools::commit;

    /// `commit(r, n)` that first keys the full pages the commit completes (paged_pool::commit with
    /// tokens), so the group pages this commit releases stay cached for later hits.
    /// Errors: those of commit, plus tokens_too_short.
    template <pool_hooks Outer = no_hooks>
    status commit(request_id r, std::int64_t n, std::span<const token_id> tokens,
                  std::span<const std::uint64_t> page_extra_keys = {}, Outer&& outer = {})
        requires pools::caching
    {
        if (auto c = full_.check_commit(r, n); !c) return c;
        const std::int64_t committed = requests_.row(r).committed_tokens + n;
        // Full first, so its pages are keyed when the groups decide what to keep; the draft pages
        // it drops stay mapped only until the groups' bodies right after release them.
        if (auto s = full_.key_committed(r, committed, tokens, page_extra_keys, full_with(outer)); !s) return s;
        full_.resize(r, committed, committed, full_with(outer));
        pools::each_index([&](auto k) {
            this->template group_mut<k>().resize(r, committed, committed,
                                                 this->template group_with<k>(evictions::reported, outer));
        });
        requests_.set_lengths(r, committed, committed);
        return {};
    }

    /// Attaches to the empty request r the longest cached prefix H of `tokens` that every group can
    /// serve: the full pages of [0, H) and each group's pages of [hit_first_page(rule, H), H), in
    /// whole pages and never including the last token. Returns H; r then holds H committed tokens,
    /// each group's entries before its dead_pages(H) null. Every pool records the lookup.
    /// Errors: unknown_request, request_not_empty.
    result<std::int64_t> attach_prefix(request_id r, std::span<const token_id> tokens,
                                       std::span<const std::uint64_t> page_extra_keys = {})
        requires pools::caching
    {
        if (!this->contains(r)) return errc::unknown_request;
        if (requests_.row(r).length_tokens != 0) return errc::request_not_empty;
        hit_full_.clear();
        const std::int64_t hit =
            hit_pages(tokens, requests_.row(r).scope, page_extra_keys, [&](page_id f) { hit_full_.push_back(f); });
        const std::int64_t hit_tokens = hit * full_.page_size_tokens();
        const auto queried = static_cast<std::int64_t>(tokens.size());
        full_.attach_list(r, std::span<const page_id>(hit_full_).first(static_cast<std::size_t>(hit)), queried);
        pools::each_index([&](auto k) {
            hit_group_.assign(static_cast<std::size_t>(hit), null_page);
            for (auto i = static_cast<std::size_t>(this->template group<k>().live_from(hit_tokens));
                 i < hit_group_.size(); ++i)
                hit_group_[i] = maps_[k].of(hit_full_[i]);
            this->template group_mut<k>().attach_list(r, hit_group_, queried);
        });
        requests_.set_lengths(r, hit_tokens, hit_tokens);
        return hit_tokens;
    }

    /// Tokens `attach_prefix` would hit now for a request under `scope`; changes nothing.
    std::int64_t lookup(std::span<const token_id> tokens, cache_scope scope,
                        std::span<const std::uint64_t> page_extra_keys = {}) const
        requires pools::caching
    {
        return hit_pages(tokens, scope, page_extra_keys, [](page_id) {}) * full_.page_size_tokens();
    }

    /// Keys the request's committed whole full pages (their group pages follow them into the cache).
    /// Errors: those of paged_pool::cache_committed.
    template <pool_hooks Outer = no_hooks>
    status cache_committed(request_id r, std::span<const token_id> tokens,
                           std::span<const std::uint64_t> page_extra_keys = {}, Outer&& outer = {})
        requires pools::caching
    {
        if (!this->contains(r)) return errc::unknown_request;
        return full_.key_committed(r, requests_.row(r).committed_tokens, tokens, page_extra_keys, full_with(outer));
    }

    /// Keys the request's committed whole pages and frees it: a resumed request hits them.
    /// Errors: those of cache_committed.
    template <pool_hooks Outer = no_hooks>
    status preempt(request_id r, std::span<const token_id> tokens, std::span<const std::uint64_t> page_extra_keys = {},
                   Outer&& outer = {})
        requires pools::caching
    {
        if (auto s = cache_committed(r, tokens, page_extra_keys, outer); !s) return s;
        return this->free_request(r, outer);
    }

    /// Empties every cache. Errors: cache_in_use (some request still owns a page).
    status reset_cache()
        requires pools::caching
    {
        bool used = full_.used_pages() != 0;
        pools::each_index([&](auto k) { used = used || this->template group<k>().used_pages() != 0; });
        if (used) return errc::cache_in_use;
        no_hooks none;
        pools::each_index([&](auto k) {
            this->template group_mut<k>().discard_all(this->template group_with<k>(evictions::silent, none));
        });
        full_.discard_all(full_with(none));
        return {};
    }

    /// Events from now on go to `sink`: the full pool's stored / removed / cleared, and per group
    /// `removed` (layers = the group's kind, `group` = k) when a group page is evicted while its
    /// full page stays cached, `stored` when a recomputed copy heals such a tombstone.
    void set_event_sink(kv_event_sink sink)
        requires pools::caching
    {
        full_.set_event_sink(std::move(sink));
    }

protected:
    using pools::pools;

private:
    // The longest hit in pages: the full chain confirmed page by page, cut to the last page i such
    // that in every group k the pages [hit_first_page(rule_k, (i+1)P), i] all still have their
    // group page. Calls out(f) per full page matched.
    template <class Out>
    std::int64_t hit_pages(std::span<const token_id> tokens, cache_scope scope,
                           std::span<const std::uint64_t> page_extra_keys, Out&& out) const {
        const std::int32_t page = full_.page_size_tokens();
        std::int64_t best = 0;
        std::array<std::int64_t, pools::group_count> run{};  // per group: mapped full pages ending at i
        full_.keying().match(tokens, scope, page_extra_keys, [&](std::int64_t i, page_id f) {
            out(f);
            bool served = true;
            pools::each_index([&](auto k) {
                run[k] = maps_[k].of(f) != null_page ? run[k] + 1 : 0;
                served = served &&
                         (i + 1) - hit_first_page(this->template group<k>().rule(), (i + 1) * page, page) <= run[k];
            });
            if (served) best = i + 1;
        });
        return best;
    }

    std::vector<page_id> hit_full_, hit_group_;  // attach_prefix scratch, reused (no per-call allocation)
};

}  // namespace pagedkv
