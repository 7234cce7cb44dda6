// An opt-in mode that checks a pool's invariants after every mutation, at the cost of what it touched.
#pragma once
#include <cstdint>
#include <utility>

#include "pagedkv/core/contract.hpp"
#include "pagedkv/core/error.hpp"
#include "pagedkv/core/ids.hpp"

namespace pagedkv {

/// `Pool` (full_pool, swa_pool, hybrid_pool, any of their caching variants) whose mutations are
/// followed by an invariant check, for debugging an engine: after a mutation of request r,
/// `check_request_invariants(r)` (time linear in r's pages, so the check costs about what the
/// mutation touched), and every `full_check_every` mutations the whole `check_invariants()`. A
/// violation aborts, naming it (a broken invariant is a bug, not an error to return). A failing
/// call is checked too: it must have left r intact. Everything else is `Pool`'s own, unchanged.
///
///     auto pool = checked_pool<hybrid_pool<>>::create(pool_size{1024}, pool_size{256}, 16, 512).value();
///
/// Costs are in bench/RESULTS.md ("invariants after every mutation").
template <class Pool>
class checked_pool : public Pool {
public:
    /// Full checks between: 1 checks everything after every mutation.
    static constexpr std::int64_t default_full_check_every = 1024;

    explicit checked_pool(Pool&& pool, std::int64_t full_check_every = default_full_check_every)
        : Pool(std::move(pool)), every_(full_check_every < 1 ? 1 : full_check_every) {
        verify(Pool::check_invariants());
    }
    /// `Pool::create(args...)`, checked. Errors: those of Pool::create.
    template <class... A>
    static result<checked_pool> create(A&&... args) {
        auto p = Pool::create(std::forward<A>(args)...);
        if (!p) return p.err();
        return checked_pool(std::move(p.value()));
    }

    template <class... A>
    auto add_request(A&&... a) {
        auto r = Pool::add_request(std::forward<A>(a)...);
        if (r) touched(r.value());
        return r;
    }
    template <class... A>
    auto add_committed_request(A&&... a) {
        auto r = Pool::add_committed_request(std::forward<A>(a)...);
        if (r) touched(r.value());
        return r;
    }
    template <class... A>
    status extend(request_id r, A&&... a) {
        return touched(r, Pool::extend(r, std::forward<A>(a)...));
    }
    template <class... A>
    status commit(request_id r, A&&... a) {
        return touched(r, Pool::commit(r, std::forward<A>(a)...));
    }
    template <class... A>
    status truncate(request_id r, A&&... a) {
        return touched(r, Pool::truncate(r, std::forward<A>(a)...));
    }
    template <class... A>
    status cache_committed(request_id r, A&&... a) {
        return touched(r, Pool::cache_committed(r, std::forward<A>(a)...));
    }
    template <class... A>
    auto attach_prefix(request_id r, A&&... a) {
        auto hit = Pool::attach_prefix(r, std::forward<A>(a)...);
        touched(r);
        return hit;
    }
    template <class... A>
    status free_request(request_id r, A&&... a) {
        return gone(r, Pool::free_request(r, std::forward<A>(a)...));
    }
    template <class... A>
    status preempt(request_id r, A&&... a) {
        return gone(r, Pool::preempt(r, std::forward<A>(a)...));
    }
    // Pool-wide mutations touch pages of no one request: the whole pool is checked.
    template <class... A>
    status drop_cached(A&&... a) {
        return everything(Pool::drop_cached(std::forward<A>(a)...));
    }
    template <class... A>
    status reset_cache(A&&... a) {
        return everything(Pool::reset_cache(std::forward<A>(a)...));
    }

    /// Mutations seen so far (each checked).
    std::int64_t mutations() const noexcept { return mutations_; }

private:
    static void verify(const status& s) {
        if (!s) detail::contract_failure("invariant violated", s.err().detail);
    }
    void tick() {
        if (++mutations_ % every_ == 0) verify(Pool::check_invariants());
    }
    // r's own invariants (an unknown id has none to break), then maybe the periodic full check.
    void touched(request_id r) {
        if (Pool::contains(r)) verify(Pool::check_request_invariants(r));
        tick();
    }
    status touched(request_id r, status s) {
        touched(r);
        return s;
    }
    status gone(request_id r, status s) {
        if (s && Pool::contains(r)) detail::contract_failure("invariant violated", "a freed request is still live");
        return touched(r, s);
    }
    status everything(status s) {
        verify(Pool::check_invariants());
        ++mutations_;
        return s;
    }

    std::int64_t every_;
    std::int64_t mutations_ = 0;
};

}  // namespace pagedkv
