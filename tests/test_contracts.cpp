// Value types that cannot say the wrong thing: pool sizes that do not narrow, a "no request"
// handle no pool issues, and a checked build that stops on `value()` of an error.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>

#include <pagedkv/debug/checked_pool.hpp>
#include <pagedkv/debug/state_digest.hpp>
#include <pagedkv/pagedkv.hpp>
#include <pagedkv/table/table_mirror.hpp>

#include "random_engine.hpp"

using namespace pagedkv;

// Only an int32 page count converts: a wider count would narrow (4294967301 became 5 pages).
static_assert(std::is_constructible_v<pool_size, std::int32_t>);
static_assert(!std::is_constructible_v<pool_size, std::int64_t>);
static_assert(!std::is_constructible_v<pool_size, std::uint32_t>);
static_assert(!std::is_constructible_v<pool_size, std::size_t>);
static_assert(!std::is_constructible_v<pool_size, double>);
static_assert(!std::is_convertible_v<std::int32_t, pool_size>);  // explicit: a page count is not a size

TEST_CASE("a wide page count becomes a pool size only when it fits: above INT32_MAX is invalid_pool_size") {
    const std::int64_t wide = 4294967301;  // 2^32 + 5: narrowing would have made a 5-page pool
    CHECK(pool_size::from_count(wide).code() == errc::invalid_pool_size);
    CHECK(pool_size::from_count(std::int64_t{INT32_MAX} + 1).code() == errc::invalid_pool_size);
    CHECK(pool_size::from_count(1).code() == errc::invalid_pool_size);
    CHECK(pool_size::from_count(INT32_MAX).value().pages == INT32_MAX);
    // Controls: every create takes what from_count gives.
    const pool_size eight = pool_size::from_count(std::int64_t{8}).value();
    CHECK(full_pool<>::create(eight, 4).value().size().pages == 8);
    CHECK(swa_pool<>::create(eight, 4, 4).value().size().pages == 8);
    auto h = hybrid_pool<>::create(eight, pool_size::from_count(std::int64_t{6}).value(), 4, 4).value();
    CHECK(h.full().size().pages == 8);
    CHECK(h.swa().size().pages == 6);
}

TEST_CASE("a prefix-indexed pool of more than INT32_MAX tokens is invalid_pool_size, not an allocation failure") {
    // The index stores each page's token ids (N x P); fuzzing found 121 pages x INT32_MAX tokens.
    using caching_full = full_pool<lifo_free_stack, lru>;
    CHECK(caching_full::create(pool_size{121}, INT32_MAX).code() == errc::invalid_pool_size);
    CHECK(caching_full::create(pool_size{2}, 1 << 30).code() == errc::invalid_pool_size);  // 2^31 tokens
    CHECK(caching_hybrid_pool<lru>::create(pool_size{121}, pool_size{8}, INT32_MAX, 4).code() ==
          errc::invalid_pool_size);
    CHECK(caching_full::create(pool_size{4}, 1 << 20).ok());     // control: 2^22 tokens
    CHECK(full_pool<>::create(pool_size{121}, INT32_MAX).ok());  // control: no index, nothing per token
}

TEST_CASE("no_request is the default handle, never issued, and unknown to every call") {
    CHECK(request_id{} == no_request);
    auto pool = hybrid_pool<>::create(pool_size{64}, pool_size{64}, 4, 8).value();
    for (int i = 0; i < 40; ++i) {  // ids are issued, freed and reissued; none is no_request
        const request_id r = pool.add_request().value();
        CHECK(r != no_request);
        if (i % 3 == 0) REQUIRE(pool.free_request(r).ok());
    }
    CHECK_FALSE(pool.contains(no_request));
    CHECK(pool.extend(no_request, 1).code() == errc::unknown_request);
    CHECK(pool.commit(no_request, 0).code() == errc::unknown_request);
    CHECK(pool.truncate(no_request, 0).code() == errc::unknown_request);
    CHECK(pool.free_request(no_request).code() == errc::unknown_request);
    CHECK(pool.check_invariants().ok());
}

namespace {
/// Runs f in a child process; returns (terminated by SIGABRT, what it wrote to stderr).
template <class F>
std::pair<bool, std::string> run_child(F&& f) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        std::signal(SIGABRT, SIG_DFL);  // the test framework's crash handler stays with the parent
        dup2(fds[1], 2);
        close(fds[0]);
        f();
        _exit(0);
    }
    close(fds[1]);
    std::string err;
    char buf[256];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return {WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, err};
}
}  // namespace

#if !defined(__SANITIZE_ADDRESS__)  // ASan reserves terabytes of address space: no limit fits beside it
TEST_CASE("a composite refuses another pool's bad argument before building its full pool's prefix index") {
    // A valid full pool of 2 x 2^29 tokens needs a 4 GiB index; the child may map 1 GiB more than it
    // has. Building that index first (as fuzzing found) fails the allocation and aborts the child.
    const auto refused_without_allocating = [](auto create, errc expected) {
        return !run_child([&] {
                    unsigned long long pages = 0;  // the child's mapped size now, in pages
                    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
                        if (std::fscanf(f, "%llu", &pages) != 1) pages = 0;
                        std::fclose(f);
                    }
                    rlimit lim{};
                    getrlimit(RLIMIT_AS, &lim);
                    lim.rlim_cur = pages * static_cast<unsigned long long>(sysconf(_SC_PAGESIZE)) + (1ull << 30);
                    if (pages == 0 || setrlimit(RLIMIT_AS, &lim) != 0) std::abort();
                    try {  // a failed allocation ends the child here, not in the test framework
                        if (create().code() != expected) std::abort();
                    } catch (...) {
                        std::abort();
                    }
                }).first;
    };
    CHECK(refused_without_allocating(
        [] { return caching_hybrid_pool<lru>::create(pool_size{2}, pool_size{8}, 1 << 29, 0); }, errc::invalid_window));
    using groups = multi_hybrid_pool<full_pool<lifo_free_stack, lru>, swa_pool<lifo_free_stack, lru>,
                                     chunked_pool<lifo_free_stack, lru>>;
    CHECK(refused_without_allocating(
        [] { return groups::create(pool_size{2}, 1 << 29, group_size{pool_size{8}, 64}, group_size{pool_size{8}, 0}); },
        errc::invalid_chunk));
    // The order of errors is kept: the full pool's own size error still comes first.
    CHECK(caching_hybrid_pool<lru>::create(pool_size{1}, pool_size{8}, 16, 0).code() == errc::invalid_pool_size);
}
#endif

#if PAGEDKV_CHECKED
TEST_CASE("checked builds: a query on a request that is not live aborts and names the precondition") {
    const auto [aborted, message] = run_child([] {
        auto pool = hybrid_pool<>::create(pool_size{16}, pool_size{16}, 4, 4).value();
        const request_id r = pool.add_request().value();
        REQUIRE(pool.free_request(r).ok());
        (void)pool.full().pages(r);  // r was freed: its slot belongs to no one
    });
    CHECK(aborted);
    CHECK(message.find("precondition violated: pages(r) of a request that is not live") != std::string::npos);
    const auto [slot_aborted, slot_message] = run_child([] {
        auto pool = hybrid_pool<>::create(pool_size{16}, pool_size{16}, 4, 4).value();
        (void)pool.swa_slot(16 * 4);  // one past the full pool's last slot
    });
    CHECK(slot_aborted);
    CHECK(slot_message.find("precondition violated: swa_slot(slot) of a slot outside the full pool") !=
          std::string::npos);
    // Control: the same queries within their preconditions return normally.
    const auto [control_aborted, control_message] = run_child([] {
        auto pool = hybrid_pool<>::create(pool_size{16}, pool_size{16}, 4, 4).value();
        const request_id r = pool.add_request().value();
        (void)pool.full().pages(r);
        (void)pool.swa_slot(16 * 4 - 1);
    });
    CHECK_FALSE(control_aborted);
    CHECK(control_message.empty());
}

TEST_CASE("checked builds: value() of an error aborts and names the error") {
    const auto [aborted, message] = run_child([] {
        auto m = table_mirror<full_pool<>>::create(table_capacity{4, 4, 4, 4, 0},
                                                   full_pool<>::create(pool_size{8}, 4).value());
        (void)m.value();  // max_writes = 0 is refused: there is no mirror to return
    });
    CHECK(aborted);
    CHECK(message.find("result::value() on an error: invalid_capacity") != std::string::npos);
    // Control: the same call with a value returns normally.
    const auto [control_aborted, control_message] =
        run_child([] { (void)full_pool<>::create(pool_size{8}, 4).value(); });
    CHECK_FALSE(control_aborted);
    CHECK(control_message.empty());
}
#endif

TEST_CASE("checked_pool: invariants after every mutation change nothing in randomized histories") {
    using caching = caching_hybrid_pool<lru>;
    for (unsigned seed : {41u, 42u}) {
        test::random_engine<hybrid_pool<>> plain(hybrid_pool<>::create(pool_size{96}, pool_size{40}, 4, 9).value(),
                                                 seed, 120, 6);
        auto made = hybrid_pool<>::create(pool_size{96}, pool_size{40}, 4, 9);
        auto made_caching = caching::create(pool_size{96}, pool_size{40}, 4, 9);
        test::random_engine<checked_pool<hybrid_pool<>>> checked(
            checked_pool<hybrid_pool<>>(std::move(made.value()), 16), seed, 120, 6);
        test::random_engine<checked_pool<caching>> cached(checked_pool<caching>(std::move(made_caching.value()), 16),
                                                          seed, 120, 6);
        for (int step = 0; step < 400; ++step) {
            const auto a = plain.schedule(5);
            const auto b = checked.schedule(5);
            const auto c = cached.schedule(5);
            REQUIRE(a == b);  // the same history: the checks consume nothing and change nothing
            plain.finish(a);
            checked.finish(b);
            cached.finish(c);
            REQUIRE(state_digest(plain.hp) == state_digest(static_cast<const hybrid_pool<>&>(checked.hp)));
        }
        CHECK(checked.hp.mutations() > 2000);
        CHECK(cached.hp.mutations() > 2000);
    }
}

namespace {
/// A full pool a test can corrupt from outside, as a bug inside the library would.
struct corruptible : full_pool<> {
    corruptible() : full_pool<>(full_pool<>::create(pool_size{16}, 4).value()) {}
    using base = pool_state<lifo_free_stack, attention_kind::full, no_eviction>;
    void forget_page(request_id r, std::size_t i) { this->base::lists_[r.slot].pages[i] = null_page; }
};
}  // namespace

TEST_CASE("checked_pool: a broken invariant aborts at the next mutation of its request, naming it") {
    const auto [aborted, message] = run_child([] {
        checked_pool<corruptible> pool{corruptible{}};
        const request_id r = pool.add_request().value();
        (void)pool.extend(r, 6);
        pool.forget_page(r, 1);   // a live entry becomes the null page (its page leaks)
        (void)pool.extend(r, 1);  // 7 tokens: still two pages, nothing allocated
    });
    CHECK(aborted);
    CHECK(message.find("invariant violated: null entry outside the released prefix") != std::string::npos);
    // Control: the same history without the corruption runs to the end.
    const auto [control_aborted, control_message] = run_child([] {
        checked_pool<corruptible> pool{corruptible{}};
        const request_id r = pool.add_request().value();
        (void)pool.extend(r, 6);
        (void)pool.extend(r, 1);
    });
    CHECK_FALSE(control_aborted);
    CHECK(control_message.empty());
}
