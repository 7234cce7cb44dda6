// Regression tests named after the SGLang SWA failure classes; each replays the breaking sequence.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <random>

#include "pool_helpers.hpp"

using namespace pagedkv;
using test::map_values;
using test::page_values;
using V = std::vector<std::int32_t>;
using hot_hybrid = hybrid_pool<>;  // LIFO: a released page is the very next one handed out

namespace {
// Every SWA index the hybrid can emit, through any path, is inside the SWA pool.
template <class H>
void check_all_swa_indices_in_range(const H& h) {
    for (page_id s : h.full_to_swa()) REQUIRE(s.value < h.swa().size().pages);
    h.swa().for_each_request([&](request_id r) {
        for (page_id s : h.swa().pages(r)) REQUIRE(s.value < h.swa().size().pages);
    });
}
}  // namespace

TEST_CASE("regression: a window-released SWA page reused by another request is not reachable from the first") {
    auto h = hot_hybrid::create(pool_size{33}, pool_size{9}, 4, 4).value();
    const request_id a = h.add_request().value();
    REQUIRE(h.extend(a, 8).ok());
    const page_id a_first_full = h.full().pages(a)[0];
    const page_id released = h.swa().pages(a)[0];
    REQUIRE(h.commit(a, 8).ok());  // keys [5, 8]: page 0 leaves a's window
    CHECK(h.full_to_swa()[static_cast<std::size_t>(a_first_full.value)] == null_page);
    const request_id b = h.add_request().value();
    REQUIRE(h.extend(b, 1).ok());
    CHECK(h.swa().pages(b)[0] == released);  // b gets the very page a released
    // a's stale full page must not lead to b's KV; a's SWA table shows the null page there.
    CHECK(h.full_to_swa()[static_cast<std::size_t>(a_first_full.value)] == null_page);
    CHECK(map_values(h, a)[0] == 0);
    CHECK(h.check_invariants().ok());
}

TEST_CASE("regression: a rollback that frees part of a page keeps the page and its mapping") {
    auto h = hot_hybrid::create(pool_size{33}, pool_size{9}, 4, 16).value();
    const request_id r = h.add_request().value();
    REQUIRE(h.extend(r, 6).ok());
    REQUIRE(h.commit(r, 6).ok());
    const V full_before = page_values(h.full(), r);
    const V map_before = map_values(h, r);
    REQUIRE(h.extend(r, 4).ok());  // drafts at 6..9: page 1 is shared by committed and draft tokens
    REQUIRE(h.commit(r, 0).ok());  // reject all: tokens 6, 7 of page 1 go, page 1 stays (4, 5 live)
    CHECK(page_values(h.full(), r) == full_before);
    CHECK(map_values(h, r) == map_before);
    CHECK(h.full().free_pages() == 30);
    CHECK(h.swa().free_pages() == 6);
    REQUIRE(h.extend(r, 1).ok());  // token 6 is written into the same page again, in both pools
    const request_id batch[] = {r};
    std::vector<std::int64_t> full_slot(1), swa_slot(1);
    REQUIRE(emit_slot_mapping(h.full(), batch, full_slot).ok());
    REQUIRE(emit_slot_mapping(h.swa(), batch, swa_slot).ok());
    CHECK(full_slot[0] == full_before[1] * 4 + 2);
    CHECK(swa_slot[0] == h.swa_slot(full_slot[0]));
    CHECK(h.check_invariants().ok());
}

TEST_CASE("regression: freeing a request whose SWA pages were window-released frees each page once") {
    auto h = hot_hybrid::create(pool_size{33}, pool_size{9}, 4, 5).value();
    const request_id r = h.add_request().value();
    for (int step = 0; step < 6; ++step) {
        REQUIRE(h.extend(r, 4).ok());
        REQUIRE(h.commit(r, 4).ok());
    }
    CHECK(h.swa().pages_held(r) == 1);  // L = 24, W = 5: keys [20, 24], page 5 only
    REQUIRE(h.free_request(r).ok());
    CHECK(h.swa().free_pages() == 8);
    CHECK(h.full().free_pages() == 32);
    CHECK(std::all_of(h.full_to_swa().begin(), h.full_to_swa().end(), [](page_id p) { return p == null_page; }));
    CHECK(h.check_invariants().ok());
}

namespace {
// A draft model's attention backend. It is written against the page_table_source concept, so what
// kind of table it emits is fixed by the type of the view it is given: there is no "pool is SWA"
// flag to keep in sync when its view is swapped to the target's pools.
template <page_table_source View>
struct draft_backend {
    const View* kv;
    status plan(std::span<const request_id> batch, csr_table_out out) const {
        auto n = emit_csr_table(*kv, batch, out);
        return n ? status{} : status{n.err()};
    }
};
}  // namespace

TEST_CASE("regression: a draft view emitting tables for the target's SWA layers emits SWA tables") {
    auto target = hot_hybrid::create(pool_size{65}, pool_size{17}, 4, 6).value();
    const request_id r = target.add_request().value();
    REQUIRE(target.extend(r, 20).ok());
    REQUIRE(target.commit(r, 20).ok());
    // Frozen-KV MTP: the draft reads the target's pools through typed views.
    draft_backend<hot_hybrid::swa_pool_type> draft_swa{&target.swa()};
    draft_backend<hot_hybrid::full_pool_type> draft_full{&target.full()};
    static_assert(
        !std::is_constructible_v<draft_backend<hot_hybrid::full_pool_type>, const hot_hybrid::swa_pool_type*>);
    const request_id batch[] = {r};
    V indptr(2), indices(8, -1), last(1);
    REQUIRE(draft_swa.plan(batch, {indptr, indices, last}).ok());
    CHECK(indptr[1] == 2);  // keys [15, 20] -> pages 3, 4 only: an SWA table, trimmed
    const V swa_pages = page_values(target.swa(), r);
    CHECK(V(indices.begin(), indices.begin() + 2) == V(swa_pages.begin() + 3, swa_pages.end()));
    REQUIRE(draft_full.plan(batch, {indptr, indices, last}).ok());
    CHECK(indptr[1] == 5);
    // The target slides its window; the draft's next emission sees it, because it holds no copy.
    REQUIRE(target.extend(r, 4).ok());
    REQUIRE(target.commit(r, 4).ok());
    REQUIRE(draft_swa.plan(batch, {indptr, indices, last}).ok());
    CHECK(indptr[1] == 2);
    CHECK(indices[0] == target.swa().pages(r)[4].value);
    for (int i = 0; i < indptr[1]; ++i) CHECK(indices[static_cast<std::size_t>(i)] < target.swa().size().pages);
}

TEST_CASE("regression: a failed extend at a full SWA pool consumes no full pages") {
    auto h = hot_hybrid::create(pool_size{65}, pool_size{5}, 4, 8).value();
    const request_id a = h.add_request().value();
    const request_id b = h.add_request().value();
    REQUIRE(h.extend(a, 12).ok());  // SWA: 3 of 4 pages
    REQUIRE(h.extend(b, 4).ok());   // SWA full
    const std::int32_t full_free = h.full().free_pages();
    for (int attempt = 0; attempt < 100; ++attempt) {  // a decode loop retrying at a full SWA pool
        CHECK(h.extend(b, 1).code() == errc::out_of_swa_pages);
    }
    CHECK(h.full().free_pages() == full_free);
    CHECK(h.full().length_tokens(b) == 4);
    CHECK(h.check_invariants().ok());
}

TEST_CASE("regression: stress, 64 requests, chunked 8k prefill, 1k decode with 3 drafts, SWA pool 85-100% full") {
    constexpr std::int32_t page = 64;
    constexpr std::int64_t window = 512, prompt = 8192, output = 1024, chunk = 512, drafts = 3;
    // 64 requests each need ~10 SWA pages in decode and ~17 in a prefill chunk: 560 pages keep the
    // SWA pool contended the whole run, which is where the SGLang crash lived (~85% SWA fill).
    auto h = hot_hybrid::create(pool_size{64 * 150}, pool_size{561}, page, window).value();
    struct req {
        request_id id;
        std::int64_t done = 0;
    };
    std::deque<req> waiting(64), running;
    std::mt19937_64 rng(20261124);
    std::discrete_distribution<int> accepted({2, 2, 3, 3});  // 0..3 drafts accepted
    std::int64_t steps = 0, contended_steps = 0, failed_extends = 0, finished = 0, preemptions = 0;
    auto checked = [&](status s) {
        REQUIRE(h.check_invariants().ok());
        return s;
    };
    while (finished < 64) {
        REQUIRE(++steps < 100000);
        while (!waiting.empty() && running.size() < 64 && h.swa().free_pages() >= 20) {
            req r = waiting.front();
            waiting.pop_front();
            r.id = h.add_request().value();
            r.done = 0;
            running.push_back(r);
        }
        bool progressed = false;
        for (auto it = running.begin(); it != running.end();) {
            const bool prefill = it->done < prompt;
            const std::int64_t want = prefill ? std::min(chunk, prompt - it->done) : 1 + drafts;
            status s = checked(h.extend(it->id, want));
            if (!s && !prefill) s = checked(h.extend(it->id, 1));  // no room for drafts: plain decode
            if (!s) {
                CHECK(s.code() == errc::out_of_swa_pages);
                ++failed_extends;
                ++it;
                continue;
            }
            const std::int64_t reserved = h.full().length_tokens(it->id) - h.full().committed_tokens(it->id);
            const std::int64_t keep = prefill ? reserved : std::min<std::int64_t>(reserved, 1 + accepted(rng));
            REQUIRE(checked(h.commit(it->id, keep)).ok());
            it->done += keep;
            progressed = true;
            if (it->done >= prompt + output) {
                REQUIRE(checked(h.free_request(it->id)).ok());
                ++finished;
                it = running.erase(it);
            } else {
                ++it;
            }
        }
        if (!progressed && !running.empty()) {  // every request blocked: preempt the newest
            REQUIRE(checked(h.free_request(running.back().id)).ok());
            waiting.push_front(running.back());
            running.pop_back();
            ++preemptions;
        }
        const double fill = 1.0 - static_cast<double>(h.swa().free_pages()) / (h.swa().size().pages - 1);
        if (running.size() + waiting.size() == 64 && fill >= 0.85) ++contended_steps;
        check_all_swa_indices_in_range(h);
    }
    MESSAGE("steps " << steps << ", contended " << contended_steps << ", failed extends " << failed_extends
                     << ", preemptions " << preemptions);
    CHECK(failed_extends > 0);                 // the SWA pool really ran out, many times
    CHECK(contended_steps * 10 >= steps * 5);  // and sat at 85-100% for most of the run
    CHECK(h.full().used_pages() == 0);
    CHECK(h.swa().used_pages() == 0);
}
