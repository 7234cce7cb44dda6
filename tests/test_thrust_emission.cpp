// table_mirror + the Thrust emission algorithms on Thrust's CPP system: a staged delta, applied and
// emitted exactly as the GPU does it, reproduces the host tables after any pool history.
// Built with -DTHRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP (g++ only, no CUDA needed).
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include <thrust/system/cpp/execution_policy.h>

#include <pagedkv/pagedkv.hpp>
#include <pagedkv/table/hybrid_table_mirror.hpp>
#include <pagedkv/table/thrust_emission.hpp>

#include "random_engine.hpp"

using namespace pagedkv;

namespace {

using hybrid = hybrid_pool<>;

/// One pool's "device" buffers in host memory: what the CPP system reads and writes.
struct host_tables {
    std::vector<std::int32_t> store, owner, dense, csr_indptr, csr_indices, last, slot_indptr;
    std::vector<std::int64_t> slots;
    pool_tables_view view{};
    host_tables(const table_capacity& c, pool_size pages, std::int32_t page_size)
        : store(static_cast<std::size_t>(c.max_requests * c.max_pages_per_request), 0),
          owner(static_cast<std::size_t>(pages.pages), -1),
          dense(static_cast<std::size_t>(c.max_batch * c.max_pages_per_request), 0),
          csr_indptr(static_cast<std::size_t>(c.max_batch + 1), 0),
          csr_indices(static_cast<std::size_t>(c.max_batch * c.max_pages_per_request), 0),
          last(static_cast<std::size_t>(c.max_batch), 0),
          slot_indptr(static_cast<std::size_t>(c.max_batch + 1), 0),
          slots(static_cast<std::size_t>(c.max_new_tokens), 0) {
        view = {store.data(), owner.data(),       dense.data(), csr_indptr.data(),       csr_indices.data(),
                last.data(),  slot_indptr.data(), slots.data(), c.max_pages_per_request, page_size,
                pages.pages,  c.max_new_tokens};
    }
};

/// A packed delta's header and pool k's row descriptors, read back from its bytes.
delta_header header_of(std::span<const std::byte> delta) { return read_delta_header(delta.data()); }
std::span<const row_desc> rows_of(std::span<const std::byte> delta, int k) {
    return {reinterpret_cast<const row_desc*>(delta.data() + read_pool_section(delta.data(), k).rows_offset),
            static_cast<std::size_t>(header_of(delta).batch_size)};
}

/// The GPU's sync + emission on the CPP system: the delta is read back from its packed bytes.
struct host_device {
    table_capacity cap;
    std::vector<std::byte> delta;
    host_tables full, swa;
    std::vector<std::int32_t> map;
    template <class Hybrid>
    host_device(const table_capacity& c, const Hybrid& hp)
        : cap(c),
          delta(static_cast<std::size_t>(max_delta_bytes(c, 2, true))),
          full(c, hp.full().size(), hp.full().page_size_tokens()),
          swa(c, hp.swa().size(), hp.swa().page_size_tokens()),
          map(static_cast<std::size_t>(hp.full().size().pages), 0) {}
    void sync() {
        const pool_tables_view views[2] = {full.view, swa.view};
        apply_delta(thrust::cpp::par, delta.data(), delta.data(), views, map.data());
        emit_tables(thrust::cpp::par, delta.data(), delta.data(), 0, full.view);
        emit_tables(thrust::cpp::par, delta.data(), delta.data(), 1, swa.view);
    }
    std::span<const row_desc> rows(int k) const { return rows_of(delta, k); }
};

/// Every table of pool `src` for `batch` as the host emitters write it, against the device copy.
template <class Pool>
void check_emission(const Pool& src, std::span<const request_id> batch, const host_tables& d,
                    std::span<const row_desc> rows, const table_capacity& cap) {
    const auto mp = static_cast<std::size_t>(cap.max_pages_per_request);
    const std::size_t b = batch.size();
    std::vector<std::int32_t> dense(b * mp);
    REQUIRE(emit_dense_table(src, batch, dense, cap.max_pages_per_request).ok());
    CHECK(std::equal(dense.begin(), dense.end(), d.dense.begin()));

    std::vector<std::int32_t> indptr(b + 1), indices(b * mp), last(b);
    const auto nnz = emit_csr_table(src, batch, csr_table_out{indptr, indices, last});
    REQUIRE(nnz.ok());
    CHECK(std::equal(indptr.begin(), indptr.end(), d.csr_indptr.begin()));
    CHECK(std::equal(indices.begin(), indices.begin() + nnz.value(), d.csr_indices.begin()));
    CHECK(std::equal(last.begin(), last.end(), d.last.begin()));

    std::vector<std::int64_t> slots(static_cast<std::size_t>(cap.max_new_tokens));
    const auto n = emit_slot_mapping(src, batch, slots);
    REQUIRE(n.ok());
    CHECK(d.slot_indptr[b] == n.value());
    CHECK(std::equal(slots.begin(), slots.begin() + n.value(), d.slots.begin()));
    for (std::size_t i = 0; i < b; ++i) {  // the host's offsets (read by the CUB kernel) equal the scans
        CHECK(rows[i].csr_begin == d.csr_indptr[i]);
        CHECK(rows[i].slot_begin == d.slot_indptr[i]);
    }
}

/// check_emission, plus the owner arrays (host and device) and the mirror's copy of every row.
template <class Pool, class Mirror>
void check_pool(const Pool& src, const Mirror& mirror, std::span<const request_id> batch, const host_tables& d,
                std::span<const row_desc> rows, const table_capacity& cap) {
    check_emission(src, batch, d, rows, cap);
    // owner[p]: the store row of the live request whose in-window entries hold p, else -1.
    std::vector<std::int32_t> owner(static_cast<std::size_t>(src.size().pages), -1);
    src.for_each_request([&](request_id r) {
        const auto pages = src.pages(r);
        for (auto i = static_cast<std::size_t>(src.first_live_page(r)); i < pages.size(); ++i)
            owner[static_cast<std::size_t>(pages[i].value)] = mirror.store_row(r);
    });
    CHECK(owner == d.owner);
    CHECK(std::equal(owner.begin(), owner.end(), mirror.owners().begin()));
    CHECK(mirror.check_against(src).ok());
}

void check_all(const hybrid& hp, const hybrid_table_mirror<hybrid>& m, std::span<const request_id> batch,
               const host_device& dev) {
    check_pool(hp.full(), m.full(), batch, dev.full, dev.rows(0), dev.cap);
    check_pool(hp.swa(), m.swa(), batch, dev.swa, dev.rows(1), dev.cap);
    for (std::size_t f = 0; f < dev.map.size(); ++f) CHECK(dev.map[f] == hp.full_to_swa()[f].value);
}

using engine = test::random_engine<hybrid>;

const table_capacity small_cap{8, 6, 40, 256, 512};

/// `steps` steps of a randomized engine history (seed `seed`) on `pool`: after each, the delta
/// applied and emitted on the CPP system must reproduce every host table.
void check_history(hybrid pool, unsigned seed, int steps) {
    engine e(std::move(pool), seed, 150, 6);
    auto mirror = hybrid_table_mirror<hybrid>::create(small_cap, e.hp).value();
    host_device dev(small_cap, e.hp);
    for (int step = 0; step < steps; ++step) {
        const auto batch = e.schedule(6);
        REQUIRE(mirror.stage(e.hp, batch).ok());
        REQUIRE(mirror.pack(dev.delta).ok());
        dev.sync();
        check_all(e.hp, mirror, batch, dev);
        e.finish(batch);
    }
}

}  // namespace

TEST_CASE("a staged delta applied with Thrust reproduces every host table after randomized histories") {
    for (unsigned seed : {1u, 2u, 3u})
        check_history(hybrid::create(pool_size{160}, pool_size{72}, 4, 10).value(), seed, 400);
}

TEST_CASE("host and device agree for windows below, at and just above one page, and W = 1") {
    for (std::int64_t window : {std::int64_t{1}, std::int64_t{3}, std::int64_t{4}, std::int64_t{5}}) {
        CAPTURE(window);
        for (unsigned seed : {4u, 5u})
            check_history(hybrid::create(pool_size{160}, pool_size{72}, 4, window).value(), seed, 300);
    }
}

TEST_CASE("an SWA row the window emptied has last_page_len 0 on the host and on the device") {
    for (std::int32_t page : {4, 8}) {
        CAPTURE(page);
        auto hp = hybrid::create(pool_size{16}, pool_size{16}, page, 1).value();
        auto mirror = hybrid_table_mirror<hybrid>::create(small_cap, hp).value();
        host_device dev(small_cap, hp);
        const request_id r = hp.add_request().value();
        REQUIRE(hp.extend(r, page).ok());
        REQUIRE(hp.commit(r, page).ok());  // W = 1: the next query sees only itself, page 0 is dead
        REQUIRE(hp.swa().pages_held(r) == 0);
        const request_id batch[] = {r};
        std::int32_t indptr[2], indices[4], last[1] = {-1};
        REQUIRE(emit_csr_table(hp.swa(), batch, csr_table_out{indptr, indices, last}).value() == 0);
        CHECK(last[0] == 0);
        REQUIRE(mirror.stage(hp, batch).ok());
        REQUIRE(mirror.pack(dev.delta).ok());
        dev.sync();
        CHECK(dev.swa.csr_indptr[1] == 0);
        CHECK(dev.swa.last[0] == 0);
        CHECK(dev.full.last[0] == page);  // the full row keeps its one whole page
    }
}

TEST_CASE("full_rows stays exact when a commit follows a rollback between two stages") {
    for (unsigned seed : {7u, 8u}) {
        engine e(hybrid::create(pool_size{160}, pool_size{72}, 4, 10).value(), seed, 150, 6);
        auto mirror = hybrid_table_mirror<hybrid>::create(small_cap, e.hp, diff_scope::full_rows).value();
        host_device dev(small_cap, e.hp);
        for (int step = 0; step < 300; ++step) {
            auto batch = e.schedule(6);
            e.finish(batch);             // commit, roll back and free before the stage ...
            for (request_id r : e.live)  // ... then grow and commit again: no precondition on the order
                if (e.pick(2) == 0 && e.hp.full().length_tokens(r) < 140 && e.hp.extend(r, e.pick(6)).ok())
                    REQUIRE(e.hp.commit(r, e.hp.full().length_tokens(r) - e.hp.full().committed_tokens(r)).ok());
            std::erase_if(batch, [&](request_id r) { return !e.hp.contains(r); });
            for (request_id r : batch) (void)e.hp.extend(r, e.pick(3));
            REQUIRE(mirror.stage(e.hp, batch).ok());
            REQUIRE(mirror.pack(dev.delta).ok());
            dev.sync();
            check_all(e.hp, mirror, batch, dev);
            for (request_id r : batch) REQUIRE(e.hp.commit(r, 0).ok());
        }
    }
}

TEST_CASE("a caching hybrid pool's tables, shared prefix pages included, reproduce the host emission") {
    // Requests attach cached prompt pages that live requests also hold, so one page sits in several
    // store rows (the owner array names one of them: only the emission is compared here).
    using caching = caching_hybrid_pool<lru>;
    for (diff_scope scope : {diff_scope::committed_prefix, diff_scope::full_rows}) {
        auto hp = caching::create(pool_size{200}, pool_size{80}, 4, 12).value();
        auto mirror = hybrid_table_mirror<caching>::create(small_cap, hp, scope).value();
        host_device dev(small_cap, hp);
        std::mt19937 rng(17);
        const auto pick = [&](std::uint32_t n) { return static_cast<std::int64_t>(rng() % n); };
        std::vector<token_id> prompt(16);
        for (token_id& t : prompt) t = static_cast<token_id>(pick(1000));
        std::vector<std::pair<request_id, std::vector<token_id>>> live;
        std::int64_t hit_tokens = 0;
        for (int step = 0; step < 300; ++step) {
            while (live.size() < 7 && pick(10) < 4) {
                std::vector<token_id> tokens = prompt;
                while (tokens.size() < 160) tokens.push_back(static_cast<token_id>(pick(1000)));
                const request_id r = hp.add_request().value();
                hit_tokens += hp.attach_prefix(r, std::span<const token_id>(tokens).first(20)).value();
                live.emplace_back(r, std::move(tokens));
            }
            std::vector<request_id> batch;
            for (const auto& [r, tokens] : live)
                if (batch.size() < 6 && hp.full().length_tokens(r) < 150 && hp.extend(r, 1 + pick(8)).ok())
                    batch.push_back(r);
            REQUIRE(mirror.stage(hp, batch).ok());
            REQUIRE(mirror.pack(dev.delta).ok());
            dev.sync();
            check_emission(hp.full(), batch, dev.full, dev.rows(0), dev.cap);
            check_emission(hp.swa(), batch, dev.swa, dev.rows(1), dev.cap);
            CHECK(mirror.full().check_against(hp.full()).ok());
            CHECK(mirror.swa().check_against(hp.swa()).ok());
            for (auto it = live.begin(); it != live.end();) {
                const request_id r = it->first;
                const std::int64_t in_flight = hp.full().length_tokens(r) - hp.full().committed_tokens(r);
                if (in_flight > 0)
                    REQUIRE(hp.commit(r, 1 + pick(static_cast<std::uint32_t>(in_flight)), it->second).ok());
                if (hp.full().length_tokens(r) >= 150 || pick(12) == 0) {
                    REQUIRE(hp.free_request(r).ok());
                    it = live.erase(it);
                } else {
                    ++it;
                }
            }
        }
        CHECK(hit_tokens > 0);  // the history did share pages
    }
}

TEST_CASE("committed_prefix does not re-read pages under the committed length (its stated precondition)") {
    for (diff_scope scope : {diff_scope::committed_prefix, diff_scope::full_rows}) {
        auto fp = full_pool<>::create(pool_size{16}, 4).value();
        auto mirror = table_mirror<full_pool<>>::create(small_cap, fp, scope).value();
        const request_id r = fp.add_request().value();
        REQUIRE(fp.extend(r, 12).ok());
        REQUIRE(fp.commit(r, 12).ok());
        const request_id batch[] = {r};
        REQUIRE(mirror.stage(fp, batch).ok());
        // Roll back two pages, grow again and commit before the next stage: the LIFO free list
        // hands the two pages back in swapped order, under a committed length that did not move.
        REQUIRE(fp.truncate(r, 4).ok());
        REQUIRE(fp.extend(r, 8).ok());
        REQUIRE(fp.commit(r, 8).ok());
        REQUIRE(mirror.stage(fp, batch).ok());
        CHECK(mirror.check_against(fp).ok() == (scope == diff_scope::full_rows));
    }
}

TEST_CASE("a decode step records only the entries that changed; a reordered batch records none") {
    auto hp = hybrid::create(pool_size{64}, pool_size{32}, 4, 8).value();
    auto mirror = hybrid_table_mirror<hybrid>::create(small_cap, hp).value();
    const request_id a = hp.add_request().value(), b = hp.add_request().value();
    REQUIRE(hp.extend(a, 12).ok());
    REQUIRE(hp.extend(b, 5).ok());
    REQUIRE(hp.commit(a, 12).ok());  // window 8: SWA page 0 of a is released
    REQUIRE(hp.commit(b, 5).ok());
    const request_id ab[] = {a, b}, ba[] = {b, a};
    REQUIRE(mirror.stage(hp, ab).ok());
    CHECK(mirror.full().delta().batch_writes.size() == 5);  // 3 + 2 pages, uploaded once
    CHECK(mirror.swa().delta().batch_writes.size() == 4);   // the released page is never sent

    REQUIRE(mirror.stage(hp, ba).ok());  // nothing moved but the rows' order
    CHECK(mirror.full().delta().batch_writes.empty());
    CHECK(mirror.full().delta().owner_writes.empty());
    CHECK(mirror.swa().delta().owner_writes.empty());
    CHECK(mirror.map_writes().empty());
    CHECK(mirror.full().delta().rows[0].store_row == mirror.full().store_row(b));
    CHECK(mirror.full().delta().rows[1].store_row == mirror.full().store_row(a));

    // a grows into page 3 and commits 15 tokens (SWA page 1 leaves the window); b stays in page 1.
    REQUIRE(hp.extend(a, 3).ok());
    REQUIRE(hp.commit(a, 3).ok());
    REQUIRE(hp.extend(b, 1).ok());
    REQUIRE(mirror.stage(hp, ab).ok());
    const auto full = mirror.full().delta();
    REQUIRE(full.batch_writes.size() == 1);
    CHECK(full.batch_writes[0].value == hp.full().pages(a)[3].value);
    CHECK(full.rows[0].write_count == 1);
    CHECK(full.rows[1].write_count == 0);
    CHECK(full.owner_writes.size() == 1);
    const auto swa = mirror.swa().delta();
    CHECK(swa.batch_writes.size() == 1);
    CHECK(swa.owner_writes.size() == 2);     // the new SWA page, and the released one (owner -1)
    CHECK(mirror.map_writes().size() == 2);  // the new full page's mapping, and page 1's now null one
    CHECK(swa.rows[0].first_live_page == 2);
}

TEST_CASE("a failing stage returns its error and leaves the mirror as it was") {
    auto hp = hybrid::create(pool_size{64}, pool_size{40}, 4, 8).value();
    const table_capacity cap{3, 2, 8, 32, 5};
    auto mirror = hybrid_table_mirror<hybrid>::create(cap, hp).value();
    host_device dev(cap, hp);
    const request_id a = hp.add_request().value(), b = hp.add_request().value();
    REQUIRE(hp.extend(a, 8).ok());
    REQUIRE(hp.extend(b, 4).ok());
    const request_id ab[] = {a, b};
    REQUIRE(mirror.stage(hp, ab).ok());
    REQUIRE(mirror.pack(dev.delta).ok());
    dev.sync();
    REQUIRE(hp.commit(a, 8).ok());
    REQUIRE(hp.commit(b, 4).ok());

    const request_id aab[] = {a, a}, abb[] = {a, b, b}, gone[] = {request_id{9, 0}};
    CHECK(mirror.stage(hp, aab).code() == errc::duplicate_request);
    CHECK(mirror.stage(hp, abb).code() == errc::buffer_too_small);  // three rows, max_batch 2
    CHECK(mirror.stage(hp, gone).code() == errc::unknown_request);
    REQUIRE(hp.extend(a, 40).ok());  // 12 pages: more than a row holds
    CHECK(mirror.stage(hp, ab).code() == errc::row_too_short);
    REQUIRE(hp.commit(a, 0).ok());
    REQUIRE(hp.extend(a, 24).ok());  // 6 new full pages: more store writes than one delta holds
    CHECK(mirror.stage(hp, ab).code() == errc::buffer_too_small);
    REQUIRE(hp.commit(a, 0).ok());
    const request_id c = hp.add_request().value(), d = hp.add_request().value();
    CHECK(mirror.stage(hp, ab).code() == errc::buffer_too_small);  // four live requests, three store rows
    REQUIRE(hp.free_request(d).ok());

    // Nothing above reached the mirror: the next stage is exact against the device copy.
    REQUIRE(hp.extend(c, 3).ok());
    const request_id bc[] = {b, c};
    REQUIRE(mirror.stage(hp, bc).ok());
    REQUIRE(mirror.pack(dev.delta).ok());
    dev.sync();
    check_all(hp, mirror, bc, dev);
    std::vector<std::byte> tiny(sizeof(delta_header));
    CHECK(mirror.pack(tiny).code() == errc::buffer_too_small);
}

TEST_CASE("check_capacity rejects empty and int32-overflowing capacities") {
    CHECK(check_capacity(small_cap).ok());
    CHECK(check_capacity(table_capacity{0, 1, 1, 1, 1}).code() == errc::invalid_capacity);
    CHECK(check_capacity(table_capacity{1, 1, 1, 1, 0}).code() == errc::invalid_capacity);
    CHECK(check_capacity(table_capacity{1 << 16, 1, 1 << 16, 1, 1}).code() == errc::length_overflow);
    CHECK(check_capacity(table_capacity{1, 1, 1, 1, 1 << 28}).code() == errc::length_overflow);
    CHECK(table_mirror<full_pool<>>::create(table_capacity{}, full_pool<>::create(pool_size{4}, 4).value()).code() ==
          errc::invalid_capacity);
}

TEST_CASE("translating the full dense table through full_to_swa gives the SWA dense table") {
    engine e(hybrid::create(pool_size{160}, pool_size{72}, 4, 10).value(), 11, 150, 6);
    auto mirror = hybrid_table_mirror<hybrid>::create(small_cap, e.hp).value();
    host_device dev(small_cap, e.hp);
    for (int step = 0; step < 60; ++step) {
        const auto batch = e.schedule(6);
        REQUIRE(mirror.stage(e.hp, batch).ok());
        REQUIRE(mirror.pack(dev.delta).ok());
        dev.sync();
        const auto cells = static_cast<std::int64_t>(batch.size()) * small_cap.max_pages_per_request;
        std::vector<std::int32_t> swa(static_cast<std::size_t>(cells));
        translate_through_map(thrust::cpp::par, dev.full.dense.data(), cells, dev.map.data(), swa.data());
        CHECK(std::equal(swa.begin(), swa.end(), dev.swa.dense.begin()));
        e.finish(batch);
    }
}

TEST_CASE("doc example: one step of a hybrid engine's table sync") {
    // example-begin table-mirror
    auto hp = hybrid_pool<>::create(pool_size{1024}, pool_size{256}, 16, 512).value();
    const table_capacity cap{
        .max_requests = 64, .max_batch = 32, .max_pages_per_request = 64, .max_new_tokens = 2048, .max_writes = 4096};
    auto mirror = hybrid_table_mirror<hybrid_pool<>>::create(cap, hp).value();
    std::vector<std::byte> staging(static_cast<std::size_t>(max_delta_bytes(cap, 2, true)));  // pinned, on a GPU

    const request_id r = hp.add_request().value();
    REQUIRE(hp.extend(r, 100).ok());  // schedule: 100 prefill tokens in flight
    const request_id batch[] = {r};
    REQUIRE(mirror.stage(hp, batch).ok());                    // diff the pools against the device state
    const std::int32_t bytes = mirror.pack(staging).value();  // one copy of `bytes`, then one kernel
    REQUIRE(hp.commit(r, 100).ok());                          // after the forward pass
    // example-end table-mirror
    CHECK(bytes == static_cast<std::int32_t>(delta_head_bytes(2) + 2 * sizeof(row_desc) +
                                             (7 + 7 + 7 + 7 + 7) * sizeof(entry_write)));
}

TEST_CASE("a failing hybrid stage leaves the last staged delta whole, map writes included") {
    using hybrid = hybrid_pool<>;
    auto hp = hybrid::create(pool_size{64}, pool_size{64}, 4, 8).value();
    auto m = hybrid_table_mirror<hybrid>::create(table_capacity{8, 8, 16, 64, 64}, hp).value();
    const request_id a = hp.add_request().value();
    REQUIRE(hp.extend(a, 10).ok());
    const request_id batch[] = {a};
    REQUIRE(m.stage(hp, batch).ok());
    const std::size_t rows = m.full().delta().batch_writes.size(), maps = m.map_writes().size();
    CHECK(maps == 3);
    const request_id bad[] = {request_id{7, 0}};
    CHECK(m.stage(hp, bad).code() == errc::unknown_request);
    CHECK(m.full().delta().batch_writes.size() == rows);
    CHECK(m.map_writes().size() == maps);
}

TEST_CASE("check_capacity refuses a capacity whose delta offsets would pass int32") {
    const table_capacity c{1, 26843543, 1, 1, 2};
    CHECK(max_delta_bytes(c, 2, true) > INT32_MAX);
    CHECK(check_capacity(c).code() == errc::length_overflow);
    CHECK(check_capacity(table_capacity{1, 1000, 1, 1, 2}).ok());
}

// ---- several groups (issue 15): each group's pool mirrored alone ---------------------------------

namespace {
// Stages, packs and syncs one pool of a multi-group hybrid on the CPP system; checks its tables.
template <class Pool>
struct one_pool_device {
    table_mirror<Pool> mirror;
    std::vector<std::byte> delta;
    host_tables tables;
    one_pool_device(const table_capacity& c, const Pool& p)
        : mirror(table_mirror<Pool>::create(c, p).value()),
          delta(static_cast<std::size_t>(max_delta_bytes(c, 1, false))),
          tables(c, p.size(), p.page_size_tokens()) {}
    void step(const Pool& p, std::span<const request_id> batch, const table_capacity& c) {
        REQUIRE(mirror.stage(p, batch).ok());
        REQUIRE(mirror.pack(delta).ok());
        apply_delta(thrust::cpp::par, delta.data(), delta.data(), &tables.view, nullptr);
        emit_tables(thrust::cpp::par, delta.data(), delta.data(), 0, tables.view);
        check_pool(p, mirror, batch, tables, rows_of(delta, 0), c);
    }
};
}  // namespace

TEST_CASE(
    "chunked and window groups: the device-side emission reproduces every host table, CSR from the chunk's first "
    "page") {
    using groups = multi_hybrid_pool<full_pool<>, swa_pool<>, chunked_pool<>>;
    for (unsigned seed : {11u, 12u}) {
        auto h =
            groups::create(pool_size{160}, 4, group_size{pool_size{72}, 10}, group_size{pool_size{96}, 12}).value();
        one_pool_device<full_pool<>> full(small_cap, h.full());
        one_pool_device<swa_pool<>> window(small_cap, h.group<0>());
        one_pool_device<chunked_pool<>> chunk(small_cap, h.group<1>());
        std::mt19937 rng(seed);
        const auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
        std::vector<request_id> live;
        std::int64_t chunk_rows_trimmed = 0;
        for (int step = 0; step < 300; ++step) {
            if (live.size() < 6 && pick(3) == 0) live.push_back(h.add_request().value());
            std::vector<request_id> batch;
            for (request_id r : live)
                if (pick(4) != 0 && h.extend(r, 1 + pick(6)).ok()) batch.push_back(r);
            full.step(h.full(), batch, small_cap);
            window.step(h.group<0>(), batch, small_cap);
            chunk.step(h.group<1>(), batch, small_cap);
            for (request_id r : batch) {
                chunk_rows_trimmed += h.group<1>().first_live_page(r) > 0;
                const std::int64_t in_flight = h.full().length_tokens(r) - h.full().committed_tokens(r);
                REQUIRE(h.commit(r, in_flight - pick(static_cast<int>(in_flight))).ok());  // some drafts rejected
            }
            for (std::size_t i = 0; i < live.size();)
                if (h.full().length_tokens(live[i]) > 120 || pick(40) == 0) {
                    REQUIRE(h.free_request(live[i]).ok());
                    live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
                } else {
                    ++i;
                }
            REQUIRE(h.check_invariants().ok());
        }
        CHECK(chunk_rows_trimmed > 0);  // rows whose CSR started past page 0 were emitted
    }
}

// ---- several groups in one delta (issue 15 point 3): the composite mirror --------------------------

namespace {
/// A composite's "device" on the CPP system: one host_tables per pool, the groups' mappings one
/// after the other, synced from one packed delta as device_tables does it.
struct composite_device {
    table_capacity cap;
    std::vector<std::byte> delta;
    std::vector<host_tables> pools;
    std::vector<std::int32_t> maps;
    std::int32_t full_pages;
    template <class Composite, std::size_t... K>
    composite_device(const table_capacity& c, const Composite& m, std::index_sequence<K...>)
        : cap(c),
          delta(static_cast<std::size_t>(max_delta_bytes(c, 1 + sizeof...(K), true))),
          maps(sizeof...(K) * static_cast<std::size_t>(m.full().size().pages), 0),  // cudaMemset 0: null
          full_pages(m.full().size().pages) {
        pools.reserve(1 + sizeof...(K));  // host_tables' views point into their own vectors
        pools.emplace_back(c, m.full().size(), m.full().page_size_tokens());
        (pools.emplace_back(c, m.template group<K>().size(), m.template group<K>().page_size_tokens()), ...);
    }
    void sync() {
        const delta_header h = header_of(delta);
        REQUIRE(h.pool_count == static_cast<std::int32_t>(pools.size()));
        std::vector<pool_tables_view> views;
        for (const host_tables& t : pools) views.push_back(t.view);
        apply_delta(thrust::cpp::par, delta.data(), delta.data(), views.data(), maps.data());
        for (std::int32_t k = 0; k < h.pool_count; ++k)
            emit_tables(thrust::cpp::par, delta.data(), delta.data(), k, pools[k].view);
    }
    std::span<const row_desc> rows(int k) const { return rows_of(delta, k); }
};

template <class Composite, class Mirror, std::size_t... K>
void check_composite(const Composite& m, const Mirror& mirror, std::span<const request_id> batch,
                     const composite_device& dev, std::index_sequence<K...>) {
    check_pool(m.full(), mirror.full(), batch, dev.pools[0], dev.rows(0), dev.cap);
    (check_pool(m.template group<K>(), mirror.template group<K>(), batch, dev.pools[1 + K], dev.rows(1 + K), dev.cap),
     ...);
    // Every group's mapping on the device is a copy of the composite's, entry for entry.
    const auto check_map = [&](std::size_t g, std::span<const page_id> home) {
        for (std::size_t f = 0; f < home.size(); ++f)
            REQUIRE(dev.maps[g * static_cast<std::size_t>(dev.full_pages) + f] == home[f].value);
    };
    (check_map(K, m.template full_to_group<K>()), ...);
}
}  // namespace

namespace {
/// 400 engine steps of a composite, each staged, packed, synced on the CPP system and checked.
template <class Composite, class Make>
void composite_history(Make make, unsigned seed) {
    constexpr auto groups = std::make_index_sequence<composite_table_mirror<Composite>::group_count>{};
    CAPTURE(seed);
    test::random_engine<Composite> e(make(), seed, 150, 6);
    auto mirror = composite_table_mirror<Composite>::create(small_cap, e.hp).value();
    composite_device dev(small_cap, e.hp, groups);
    std::int64_t map_writes = 0;
    for (int step = 0; step < 400; ++step) {
        const auto batch = e.schedule(6);
        REQUIRE(mirror.stage(e.hp, batch).ok());
        REQUIRE(mirror.pack(dev.delta).ok());
        map_writes += static_cast<std::int64_t>(mirror.map_writes().size());
        dev.sync();
        check_composite(e.hp, mirror, batch, dev, groups);
        e.finish(batch);
    }
    CHECK(map_writes > 0);
}
}  // namespace

TEST_CASE("three groups (two windows, a chunk) in one delta: every pool's tables and every mapping reproduced") {
    using three = multi_hybrid_pool<full_pool<>, swa_pool<>, swa_pool<>, chunked_pool<>>;
    for (unsigned seed : {21u, 22u, 23u})
        composite_history<three>(
            [] {
                return three::create(pool_size{64}, 4, group_size{pool_size{32}, 6}, group_size{pool_size{40}, 13},
                                     group_size{pool_size{32}, 8})
                    .value();
            },
            seed);
}

TEST_CASE("five groups in one delta (more pools than ride in a launch's parameters): every table reproduced") {
    using five = multi_hybrid_pool<full_pool<>, swa_pool<>, chunked_pool<>, swa_pool<>, chunked_pool<>, swa_pool<>>;
    for (unsigned seed : {31u, 32u})
        composite_history<five>(
            [] {
                return five::create(pool_size{64}, 4, group_size{pool_size{32}, 6}, group_size{pool_size{32}, 8},
                                    group_size{pool_size{40}, 13}, group_size{pool_size{40}, 16},
                                    group_size{pool_size{24}, 1})
                    .value();
            },
            seed);
    // The head grows by one section per pool: 6 pools, 6 sections.
    CHECK(delta_head_bytes(6) == static_cast<std::int64_t>(sizeof(delta_header) + 6 * sizeof(pool_section)));
}

TEST_CASE("the composite mirror's capacity check counts every pool of its delta") {
    CHECK(check_capacity(small_cap, 0).code() == errc::invalid_capacity);
    CHECK(check_capacity(small_cap, 9).ok());  // no fixed number of pools: only int32 offsets bound it
    // max_writes sized so that a two-pool delta fits int32 offsets and a four-pool one does not.
    table_capacity c{8, 8, 16, 64, 0};
    const std::int64_t per_list = sizeof(entry_write);
    c.max_writes = static_cast<std::int32_t>((INT32_MAX - 4096) / (8 * per_list));  // 2 pools: 7 lists
    CHECK(check_capacity(c, 2).ok());
    CHECK(check_capacity(c, 4).code() == errc::length_overflow);
    using two = multi_hybrid_pool<full_pool<>, swa_pool<>, swa_pool<>>;
    auto m = two::create(pool_size{16}, 4, group_size{pool_size{8}, 4}, group_size{pool_size{8}, 8}).value();
    CHECK(composite_table_mirror<two>::create(c, m).code() == errc::length_overflow);  // 3 pools: 10 lists
}
