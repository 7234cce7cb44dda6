// Device tables on the GPU: the fused (CUB-path) sync and the Thrust sync both reproduce the host
// emission after randomized pool histories, a captured sync replays exactly for thousands of steps,
// and the validator reports injected faults. Every case is named "device tables: ..." (filter: -tc).
#include <doctest/doctest.h>

#include "gpu_test_helpers.cuh"

#include <cuda_runtime.h>

#include <algorithm>
#include <initializer_list>
#include <cstring>
#include <random>
#include <vector>

#include <pagedkv/cuda/device_tables.cuh>
#include <pagedkv/cuda/validator.cuh>
#include <pagedkv/pagedkv.hpp>

#include "../random_engine.hpp"

// The device layer is pagedkv::gpu (not pagedkv::cuda, which `using namespace pagedkv` would make
// ambiguous with libcu++'s ::cuda in the code nvcc generates for Thrust's kernels).
namespace pagedkv::device_tables_test {
namespace {

namespace pc = pagedkv::gpu;
using hybrid = hybrid_pool<>;
using mirror_t = hybrid_table_mirror<hybrid>;

using pagedkv::test::download;
using pagedkv::test::upload;

/// Pool k's device tables against the host emitters for `batch`, and its owner array against the
/// ownership the mirror's store rows imply.
template <class Pool, class Mirror>
void check_pool(const Pool& src, const Mirror& m, std::span<const request_id> batch, const pool_tables_view& v,
                const table_capacity& cap) {
    const auto b = static_cast<std::int64_t>(batch.size());
    const std::int64_t mp = cap.max_pages_per_request;
    std::vector<std::int32_t> dense(static_cast<std::size_t>(b * mp));
    REQUIRE(emit_dense_table(src, batch, dense, mp).ok());
    CHECK(download(v.dense, b * mp) == dense);

    std::vector<std::int32_t> indptr(static_cast<std::size_t>(b + 1)), indices(static_cast<std::size_t>(b * mp)),
        last(static_cast<std::size_t>(b));
    const auto nnz = emit_csr_table(src, batch, csr_table_out{indptr, indices, last});
    REQUIRE(nnz.ok());
    indices.resize(static_cast<std::size_t>(nnz.value()));
    CHECK(download(v.csr_indptr, b + 1) == indptr);
    CHECK(download(v.csr_indices, nnz.value()) == indices);
    CHECK(download(v.csr_last_page_len, b) == last);

    std::vector<std::int64_t> slots(static_cast<std::size_t>(cap.max_new_tokens));
    const auto n = emit_slot_mapping(src, batch, slots);
    REQUIRE(n.ok());
    slots.resize(static_cast<std::size_t>(n.value()));
    CHECK(download(v.slot_indptr, b + 1).back() == n.value());
    CHECK(download(v.slot_mapping, n.value()) == slots);

    std::vector<std::int32_t> owner(static_cast<std::size_t>(src.size().pages), -1);
    src.for_each_request([&](request_id r) {
        const auto pages = src.pages(r);
        for (auto i = static_cast<std::size_t>(src.first_live_page(r)); i < pages.size(); ++i)
            owner[static_cast<std::size_t>(pages[i].value)] = m.store_row(r);
    });
    CHECK(download(v.owner, src.size().pages) == owner);
}

void check_device(const hybrid& hp, const mirror_t& m, std::span<const request_id> batch, const pc::device_tables& t) {
    check_pool(hp.full(), m.full(), batch, t.tables(0), t.capacity());
    check_pool(hp.swa(), m.swa(), batch, t.tables(1), t.capacity());
    std::vector<std::int32_t> map;
    for (page_id s : hp.full_to_swa()) map.push_back(s.value);
    CHECK(download(t.full_to_swa(), t.full_to_swa_size()) == map);
}

using engine = test::random_engine<hybrid>;

const table_capacity cap{8, 6, 40, 256, 512};

hybrid make_pool() { return hybrid::create(pool_size{160}, pool_size{72}, 4, 10).value(); }
pc::device_tables make_tables(const hybrid& hp,
                              std::int32_t captured = pc::device_tables::default_captured_delta_bytes) {
    auto t = pc::device_tables::create(cap, pc::shape_of(hp.full()), pc::shape_of(hp.swa()), captured);
    REQUIRE(t.ok());
    return std::move(t.value());
}

/// Stages `batch`, packs it into `first`'s staging and copies it into each of `others`' stagings, so
/// that every set of tables syncs the same delta; returns its bytes.
template <class Mirror, class Pool>
std::int32_t stage_for_all(Mirror& mirror, const Pool& pool, std::span<const request_id> batch,
                           pc::device_tables& first, std::initializer_list<pc::device_tables*> others) {
    REQUIRE(mirror.stage(pool, batch).ok());
    const auto staging = first.staging();
    const std::int32_t bytes = mirror.pack(staging).value();
    for (pc::device_tables* t : others)
        std::memcpy(t->staging().data(), staging.data(), static_cast<std::size_t>(bytes));
    return bytes;
}

pc::table_validator make_validator() {
    auto v = pc::table_validator::create();
    REQUIRE(v.ok());
    return std::move(v.value());
}

}  // namespace

TEST_CASE("device tables: fused and Thrust syncs equal the host emission after randomized histories") {
    for (unsigned seed : {21u, 22u}) {
        engine e(make_pool(), seed, 150, 7);
        auto mirror = mirror_t::create(cap, e.hp).value();
        auto fused = make_tables(e.hp);
        auto reference = make_tables(e.hp);
        cudaStream_t stream;
        CUDA_REQUIRE(cudaStreamCreate(&stream));
        for (int step = 0; step < 300; ++step) {
            const auto batch = e.schedule(6);
            stage_for_all(mirror, e.hp, batch, fused, {&reference});
            CUDA_REQUIRE(fused.sync(stream));
            CUDA_REQUIRE(reference.sync_with_thrust(stream));
            CUDA_REQUIRE(cudaStreamSynchronize(stream));
            check_device(e.hp, mirror, batch, fused);
            check_device(e.hp, mirror, batch, reference);
            e.finish(batch);
        }
        CHECK(download(fused.rejected_deltas(), 1)[0] == 0);
        CUDA_REQUIRE(cudaStreamDestroy(stream));
    }
}

namespace {
/// 300 engine steps of a composite, each synced four ways (copy + kernel, inline, mapped, Thrust)
/// into its own set of device tables, every pool's tables and every group's map checked each step.
template <class Composite, class Make, std::size_t... G>
void composite_tables_history(Make make_composite, unsigned seed, std::index_sequence<G...>) {
    CAPTURE(seed);
    test::random_engine<Composite> e(make_composite(), seed, 150, 6);
    auto mirror = composite_table_mirror<Composite>::create(cap, e.hp).value();
    const pc::pool_shape shapes[] = {pc::shape_of(e.hp.full()), pc::shape_of(e.hp.template group<G>())...};
    auto make = [&] {
        auto t = pc::device_tables::create(cap, std::span<const pc::pool_shape>(shapes));
        REQUIRE(t.ok());
        return std::move(t.value());
    };
    pc::device_tables fused = make(), inline_ = make(), mapped = make(), reference = make();
    REQUIRE(fused.pool_count() == static_cast<std::int32_t>(1 + sizeof...(G)));
    const auto map_of = [](std::span<const page_id> home) {
        std::vector<std::int32_t> v;
        for (page_id p : home) v.push_back(p.value);
        return v;
    };
    const std::int64_t f = e.hp.full().size().pages;
    const auto check = [&](const pc::device_tables& t, std::span<const request_id> batch) {
        check_pool(e.hp.full(), mirror.full(), batch, t.tables(0), cap);
        (check_pool(e.hp.template group<G>(), mirror.template group<G>(), batch,
                    t.tables(static_cast<std::int32_t>(1 + G)), cap),
         ...);
        const auto check_map = [&](std::int32_t g, std::span<const page_id> home) {
            CHECK(download(t.full_to_group(g), f) == map_of(home));
        };
        (check_map(static_cast<std::int32_t>(G), e.hp.template full_to_group<G>()), ...);
    };
    cudaStream_t stream;
    CUDA_REQUIRE(cudaStreamCreate(&stream));
    for (int step = 0; step < 300; ++step) {
        const auto batch = e.schedule(6);
        stage_for_all(mirror, e.hp, batch, fused, {&inline_, &mapped, &reference});
        CUDA_REQUIRE(fused.sync(stream));
        CUDA_REQUIRE(inline_.sync_inline(stream));
        CUDA_REQUIRE(mapped.sync_mapped(stream));
        CUDA_REQUIRE(reference.sync_with_thrust(stream));
        CUDA_REQUIRE(cudaStreamSynchronize(stream));
        for (const pc::device_tables* t : {&fused, &inline_, &mapped, &reference}) check(*t, batch);
        e.finish(batch);
    }
    for (const pc::device_tables* t : {&fused, &inline_, &mapped}) CHECK(download(t->rejected_deltas(), 1)[0] == 0);
    CUDA_REQUIRE(cudaStreamDestroy(stream));
}
}  // namespace

TEST_CASE("device tables: a full pool and three groups in one set of tables (fused, inline, Thrust syncs)") {
    using three = multi_hybrid_pool<full_pool<>, swa_pool<>, swa_pool<>, chunked_pool<>>;
    for (unsigned seed : {31u, 32u})
        composite_tables_history<three>(
            [] {
                return three::create(pool_size{64}, 4, group_size{pool_size{32}, 6}, group_size{pool_size{40}, 13},
                                     group_size{pool_size{32}, 8})
                    .value();
            },
            seed, std::make_index_sequence<3>{});
    // The validator covers one pool or a hybrid: for four pools it launches nothing.
    using three = multi_hybrid_pool<full_pool<>, swa_pool<>, swa_pool<>, chunked_pool<>>;
    const auto m = three::create(pool_size{16}, 4, group_size{pool_size{8}, 6}, group_size{pool_size{8}, 13},
                                 group_size{pool_size{8}, 8})
                       .value();
    const pc::pool_shape shapes[] = {pc::shape_of(m.full()), pc::shape_of(m.group<0>()), pc::shape_of(m.group<1>()),
                                     pc::shape_of(m.group<2>())};
    auto t = pc::device_tables::create(cap, std::span<const pc::pool_shape>(shapes)).value();
    CHECK(make_validator().launch(t, nullptr) == cudaErrorInvalidValue);
}

TEST_CASE("device tables: five groups, two past the launch parameters' pool views (fused, inline, mapped, Thrust)") {
    using five = multi_hybrid_pool<full_pool<>, swa_pool<>, chunked_pool<>, swa_pool<>, chunked_pool<>, swa_pool<>>;
    composite_tables_history<five>(
        [] {
            return five::create(pool_size{64}, 4, group_size{pool_size{32}, 6}, group_size{pool_size{32}, 8},
                                group_size{pool_size{40}, 13}, group_size{pool_size{40}, 16},
                                group_size{pool_size{24}, 1})
                .value();
        },
        33u, std::make_index_sequence<5>{});
}

TEST_CASE("device tables: a captured sync replays exactly over thousands of steps at fixed addresses") {
    engine e(make_pool(), 31, 150, 7);
    auto mirror = mirror_t::create(cap, e.hp).value();
    auto tables = make_tables(e.hp, 1024);  // decode deltas fit; a large prefill's does not
    const pool_tables_view before = tables.tables(1);
    cudaStream_t stream;
    CUDA_REQUIRE(cudaStreamCreate(&stream));
    REQUIRE(mirror.stage(e.hp, std::span<const request_id>{}).ok());
    REQUIRE(mirror.pack(tables.staging()).ok());
    cudaGraph_t graph;
    CUDA_REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    CUDA_REQUIRE(tables.sync(stream));
    CUDA_REQUIRE(cudaStreamEndCapture(stream, &graph));
    cudaGraphExec_t exec;
    CUDA_REQUIRE(cudaGraphInstantiate(&exec, graph, 0));
    int replayed = 0, eager = 0;
    for (int step = 0; step < 3000; ++step) {
        const auto batch = e.schedule(6);
        REQUIRE(mirror.stage(e.hp, batch).ok());
        REQUIRE(mirror.pack(tables.staging()).ok());
        if (tables.fits_captured_sync()) {
            CUDA_REQUIRE(cudaGraphLaunch(exec, stream));
            ++replayed;
        } else {
            CUDA_REQUIRE(tables.sync(stream));  // a large prefill delta: the eager path
            ++eager;
        }
        CUDA_REQUIRE(cudaStreamSynchronize(stream));
        check_device(e.hp, mirror, batch, tables);
        e.finish(batch);
    }
    MESSAGE("captured syncs replayed: " << replayed << ", eager syncs: " << eager);
    CHECK(replayed > 1500);
    CHECK(download(tables.rejected_deltas(), 1)[0] == 0);
    CHECK(tables.tables(1).dense == before.dense);  // addresses never move
    CHECK(tables.tables(1).store == before.store);

    // A replay whose delta outgrew the captured copy changes nothing and is counted.
    const auto dense_before = download(tables.tables(0).dense, cap.max_batch * cap.max_pages_per_request);
    const request_id r = e.hp.add_request().value();
    REQUIRE(e.hp.extend(r, 120).ok());
    const request_id batch[] = {r};
    REQUIRE(mirror.stage(e.hp, batch).ok());
    REQUIRE(mirror.pack(tables.staging()).ok());
    REQUIRE_FALSE(tables.fits_captured_sync());
    CUDA_REQUIRE(cudaGraphLaunch(exec, stream));
    CUDA_REQUIRE(cudaStreamSynchronize(stream));
    CHECK(download(tables.rejected_deltas(), 1)[0] == 1);
    CHECK(download(tables.tables(0).dense, cap.max_batch * cap.max_pages_per_request) == dense_before);
    CUDA_REQUIRE(tables.sync(stream));  // the staged delta is still there: an eager sync applies it
    CUDA_REQUIRE(cudaStreamSynchronize(stream));
    check_device(e.hp, mirror, batch, tables);
    CUDA_REQUIRE(cudaGraphExecDestroy(exec));
    CUDA_REQUIRE(cudaGraphDestroy(graph));
    CUDA_REQUIRE(cudaStreamDestroy(stream));
}

TEST_CASE("device tables: the one-kernel syncs (inline, mapped) equal the host emission, eagerly and captured") {
    for (unsigned seed : {23u, 24u}) {
        engine e(make_pool(), seed, 150, 7);
        auto mirror = mirror_t::create(cap, e.hp).value();
        auto eager = make_tables(e.hp);
        auto inlined = make_tables(e.hp);
        auto captured = make_tables(e.hp, 1024);  // a captured copy this small would refuse prefills
        const pool_tables_view before = captured.tables(1);
        pc::table_validator validator = make_validator();
        cudaStream_t stream;
        CUDA_REQUIRE(cudaStreamCreate(&stream));
        REQUIRE(mirror.stage(e.hp, std::span<const request_id>{}).ok());
        REQUIRE(mirror.pack(captured.staging()).ok());
        cudaGraph_t graph;
        CUDA_REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
        CUDA_REQUIRE(captured.sync_mapped(stream));
        CHECK(inlined.sync_inline(stream) == cudaErrorStreamCaptureUnsupported);  // parameters would freeze
        CUDA_REQUIRE(cudaStreamEndCapture(stream, &graph));
        cudaGraphExec_t exec;
        CUDA_REQUIRE(cudaGraphInstantiate(&exec, graph, 0));
        std::size_t count = 0;
        CUDA_REQUIRE(cudaGraphGetNodes(graph, nullptr, &count));
        std::vector<cudaGraphNode_t> nodes(count);
        CUDA_REQUIRE(cudaGraphGetNodes(graph, nodes.data(), &count));
        int kernels = 0, others = 0;
        for (cudaGraphNode_t n : nodes) {
            cudaGraphNodeType type{};
            CUDA_REQUIRE(cudaGraphNodeGetType(n, &type));
            kernels += type == cudaGraphNodeTypeKernel ? 1 : 0;
            others += type == cudaGraphNodeTypeKernel || type == cudaGraphNodeTypeEventRecord ? 0 : 1;
        }
        CHECK(kernels == 1);  // one launch; besides it only the event that guards the staging's reuse
        CHECK(others == 0);
        int outgrown = 0, carried = 0;
        for (int step = 0; step < 1500; ++step) {
            const auto batch = e.schedule(6);
            REQUIRE(mirror.stage(e.hp, batch).ok());
            const auto staging = eager.staging();
            const std::int32_t bytes = mirror.pack(staging).value();
            std::memcpy(captured.staging().data(), staging.data(), static_cast<std::size_t>(bytes));
            std::memcpy(inlined.staging().data(), staging.data(), static_cast<std::size_t>(bytes));
            carried += bytes <= pc::device_tables::inline_delta_bytes ? 1 : 0;
            CUDA_REQUIRE(inlined.sync_inline(stream));
            outgrown += captured.fits_captured_sync() ? 0 : 1;
            CUDA_REQUIRE(eager.sync_mapped(stream));
            CUDA_REQUIRE(cudaGraphLaunch(exec, stream));  // every step replays, whatever the delta's size
            CUDA_REQUIRE(validator.launch(captured, stream));
            pc::validation_report r;
            CUDA_REQUIRE(validator.read(r, stream));
            CHECK(r.violations == 0);  // the validator reads the device copy the kernel left
            check_device(e.hp, mirror, batch, eager);
            check_device(e.hp, mirror, batch, captured);
            check_device(e.hp, mirror, batch, inlined);
            const std::vector<std::byte> staged(staging.begin(), staging.begin() + bytes);
            CHECK(download(captured.device_delta(), bytes) == staged);
            CHECK(download(inlined.device_delta(), bytes) == staged);
            e.finish(batch);
        }
        MESSAGE("replays whose delta a fixed-size captured copy could not have carried: " << outgrown);
        CHECK(outgrown > 0);
        CHECK(carried > 1000);  // most deltas ride in the launch; larger ones take sync()'s copy
        CHECK(download(eager.rejected_deltas(), 1)[0] == 0);
        CHECK(download(captured.rejected_deltas(), 1)[0] == 0);
        CHECK(download(inlined.rejected_deltas(), 1)[0] == 0);
        CHECK(captured.tables(1).dense == before.dense);  // addresses never move
        CUDA_REQUIRE(cudaGraphExecDestroy(exec));
        CUDA_REQUIRE(cudaGraphDestroy(graph));
        CUDA_REQUIRE(cudaStreamDestroy(stream));
    }
}

TEST_CASE("device tables: sync refuses a delta packed for other capacities") {
    auto hp = make_pool();
    auto tables = make_tables(hp);
    table_capacity other = cap;
    other.max_pages_per_request = 32;
    auto mirror = mirror_t::create(other, hp).value();
    REQUIRE(mirror.stage(hp, std::span<const request_id>{}).ok());
    REQUIRE(mirror.pack(tables.staging()).ok());
    CHECK(tables.sync(nullptr) == cudaErrorInvalidValue);
    CHECK(tables.sync_mapped(nullptr) == cudaErrorInvalidValue);
    CHECK(tables.sync_inline(nullptr) == cudaErrorInvalidValue);
    CHECK(pc::device_tables::create(cap, pc::shape_of(hp.full()), pc::pool_shape{hp.swa().size(), 8}).code() ==
          errc::page_size_mismatch);
    CHECK(pc::device_tables::create(table_capacity{}, pc::shape_of(hp.full())).code() == errc::invalid_capacity);
}

namespace {

/// A synced hybrid with three requests in the batch and a validator; each case injects one fault.
struct validated {
    hybrid hp = make_pool();
    mirror_t mirror = mirror_t::create(cap, hp).value();
    pc::device_tables tables = make_tables(hp);
    pc::table_validator validator = make_validator();
    std::vector<request_id> batch;
    validated() {
        for (std::int64_t len : {37, 61, 18}) {
            const request_id r = hp.add_request().value();
            REQUIRE(hp.extend(r, len).ok());
            REQUIRE(hp.commit(r, len).ok());
            REQUIRE(hp.extend(r, 1).ok());
            batch.push_back(r);
        }
        REQUIRE(mirror.stage(hp, batch).ok());
        REQUIRE(mirror.pack(tables.staging()).ok());
        CUDA_REQUIRE(tables.sync(nullptr));
    }
    pc::validation_report validate(pc::validate_options opt = {}) {
        pc::validation_report r;
        CUDA_REQUIRE(validator.launch(tables, nullptr, opt));
        CUDA_REQUIRE(validator.read(r, nullptr));
        return r;
    }
};

}  // namespace

TEST_CASE("device tables: the validator passes clean tables and reports an out-of-range SWA index") {
    validated v;
    CHECK(v.validate().violations == 0);
    // The SGLang Gemma-4 crash: an SWA table entry past the SWA pool. Row 1 holds 62 tokens, 61
    // committed: with W = 10 and P = 4 its in-window SWA columns are 13, 14, 15.
    const pool_tables_view swa = v.tables.tables(1);
    std::int32_t* entry = swa.dense + 1 * swa.max_pages + 14;
    const std::int32_t good = download(entry, 1)[0];
    upload(entry, swa.pool_pages + 3);
    pc::validation_report r = v.validate();
    CHECK(r.violations == 2);  // the entry, and full_to_swa of the full page there disagreeing with it
    CHECK(r.table == pc::table_part::dense);
    CHECK(r.pool == 1);
    CHECK(r.row == 1);
    CHECK(r.column == 14);
    CHECK(r.reason == pc::violation::out_of_range);
    CHECK(r.value == swa.pool_pages + 3);
    upload(entry, good);
    CHECK(v.validate().violations == 0);  // the report resets between launches

    // A mapping entry past the SWA pool, at a full page no request holds.
    std::int32_t* map = const_cast<std::int32_t*>(v.tables.full_to_swa()) + 159;
    REQUIRE(download(map, 1)[0] == 0);
    upload(map, 72);
    r = v.validate();
    CHECK(r.violations == 1);
    CHECK(r.table == pc::table_part::full_to_swa);
    CHECK(r.column == 159);
    CHECK(r.reason == pc::violation::out_of_range);
    CHECK(r.value == 72);
    upload(map, 0);

    // A slot past the SWA pool's slots (pages * P).
    std::int64_t* slot = swa.slot_mapping + download(swa.slot_indptr + 2, 1)[0];
    const std::int64_t good_slot = download(slot, 1)[0];
    upload(slot, std::int64_t{swa.pool_pages} * swa.page_size_tokens);
    r = v.validate();
    CHECK(r.violations == 1);
    CHECK(r.table == pc::table_part::slot_mapping);
    CHECK(r.pool == 1);
    CHECK(r.row == 2);
    CHECK(r.column == 0);
    CHECK(r.value == std::int64_t{swa.pool_pages} * swa.page_size_tokens);
    upload(slot, good_slot);
    CHECK(v.validate().violations == 0);
}

TEST_CASE("device tables: the validator reports a stale in-range index pointing at another request's page") {
    validated v;
    const pool_tables_view full = v.tables.tables(0);
    const std::int32_t theirs = v.hp.full().pages(v.batch[2])[0].value;  // in range, owned by row 2's request
    std::int32_t* entry = full.csr_indices + 2;                          // row 0, third listed page
    const std::int32_t good = download(entry, 1)[0];
    upload(entry, theirs);
    pc::validation_report r = v.validate();
    CHECK(r.violations == 1);
    CHECK(r.table == pc::table_part::csr_indices);
    CHECK(r.pool == 0);
    CHECK(r.row == 0);
    CHECK(r.column == 2);
    CHECK(r.reason == pc::violation::not_owned);
    CHECK(r.value == theirs);
    CHECK(v.validate({.check_owners = false, .check_mapping = true}).violations == 0);  // range checks alone pass it
    upload(entry, good);

    // A stale mapping: full_to_swa of row 0's last full page names row 2's SWA page instead.
    const auto full_pages = v.hp.full().pages(v.batch[0]);
    const std::int32_t col = static_cast<std::int32_t>(full_pages.size()) - 1;
    std::int32_t* map = const_cast<std::int32_t*>(v.tables.full_to_swa()) + full_pages.back().value;
    const std::int32_t good_map = download(map, 1)[0];
    const std::int32_t stale = v.hp.swa().pages(v.batch[2]).back().value;
    upload(map, stale);
    r = v.validate();
    CHECK(r.violations == 1);
    CHECK(r.table == pc::table_part::full_to_swa);
    CHECK(r.row == 0);
    CHECK(r.column == col);
    CHECK(r.reason == pc::violation::map_mismatch);
    CHECK(r.value == stale);
    upload(map, good_map);
    CHECK(v.validate().violations == 0);
}

}  // namespace pagedkv::device_tables_test
