// The examples quoted in README.md and docs/*.md. Each region between `example-begin NAME` and
// `example-end`, here or in the README's first program (tests/consumer/consumer.cpp), is compiled
// and run here, and the last test checks the docs quote it verbatim.
#include <doctest/doctest.h>

#include <pagedkv/debug/checked_pool.hpp>
#include <pagedkv/pagedkv.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace pagedkv;

// The README's first program, a complete one: tests/consumer/consumer.cpp, which every consumer
// project (Meson and CMake) also builds and runs. Compiled here with its main renamed.
#define main readme_first_program
#include "consumer/consumer.cpp"
#undef main

TEST_CASE("doc example: the README's first program runs and succeeds") { CHECK(readme_first_program() == 0); }

TEST_CASE("doc example: emitting tables for a decode step") {
    auto pool = hybrid_pool<>::create(pool_size{4096}, pool_size{1024}, 16, 512).value();
    std::vector<request_id> batch;
    for (int b = 0; b < 2; ++b) {
        batch.push_back(pool.add_request().value());
        (void)pool.extend(batch.back(), 1000);
        (void)pool.commit(batch.back(), 1000);
    }
    // example-begin decode_tables
    for (request_id r : batch) (void)pool.extend(r, 1);  // this step's token

    // Full layers: a dense [batch, 64] table (FlashAttention / TRT-LLM style).
    std::vector<std::int32_t> block_table(batch.size() * 64);
    (void)emit_dense_table(pool.full(), batch, block_table, 64);

    // SWA layers: CSR trimmed to the in-window pages (FlashInfer, window_left = 511).
    std::vector<std::int32_t> indptr(batch.size() + 1), indices(batch.size() * 64), last(batch.size());
    auto nnz = emit_csr_table(pool.swa(), batch, {indptr, indices, last});

    // Where this step's K/V rows go, per pool (vLLM-style slot mapping).
    std::vector<std::int64_t> full_slots(batch.size()), swa_slots(batch.size());
    (void)emit_slot_mapping(pool.full(), batch, full_slots);
    (void)emit_slot_mapping(pool.swa(), batch, swa_slots);
    // example-end
    REQUIRE(nnz.ok());
    CHECK(nnz.value() == 2 * 33);  // keys [489, 1000]: pages 30..62 of each request
    CHECK(last[0] == 1001 - 62 * 16);
    CHECK(swa_slots[0] == pool.swa_slot(full_slots[0]));
}

TEST_CASE("doc example: prefix reuse on a hybrid pool") {
    // example-begin prefix_reuse
    // A caching hybrid pool: released pages with content keys stay cached, LRU picks victims.
    auto pool = caching_hybrid_pool<lru>::create(pool_size{4096}, pool_size{1024}, 16, 512).value();
    std::vector<token_id> prompt(3000, 7);  // the token ids of a 3000-token prompt

    request_id a = pool.add_request(cache_scope{/*tenant_salt=*/42}).value();
    std::int64_t hit = pool.attach_prefix(a, prompt).value();   // 0: the cache is empty
    for (std::int64_t done = hit; done < 3000; done += 1000) {  // chunked prefill
        (void)pool.extend(a, 1000);
        // ... forward pass over the chunk, then commit, keying the pages it completes:
        (void)pool.commit(a, 1000, prompt);
    }
    (void)pool.free_request(a);  // its 187 whole pages stay cached (full and SWA)

    request_id b = pool.add_request(cache_scope{/*tenant_salt=*/42}).value();
    hit = pool.attach_prefix(b, prompt).value();  // 2992 tokens: whole pages, last token excluded
    (void)pool.extend(b, 3000 - hit);             // compute only the rest
    CHECK(pool.full().stats().hit_tokens == 2992);
    CHECK(pool.check_invariants().ok());
    // example-end
    CHECK(hit == 2992);
    CHECK(pool.swa().first_live_page(b) == dead_pages(2992, 512, 16));
}

TEST_CASE("doc example: a decode step over three layer groups") {
    // example-begin attention_groups
    // Full layers, sliding-window layers (W = 512) and chunked local attention layers (C = 8192).
    using pool_type = multi_hybrid_pool<full_pool<>, swa_pool<>, chunked_pool<>>;
    auto pool =
        pool_type::create(pool_size{4096}, 16, group_size{pool_size{1024}, 512}, group_size{pool_size{2048}, 8192})
            .value();
    const request_id r = pool.add_request().value();
    for (int chunk = 0; chunk < 5; ++chunk) {  // chunked prefill of a 10000-token prompt
        (void)pool.extend(r, 2000);
        (void)pool.commit(r, 2000);  // each group releases what its rule no longer shows
    }
    (void)pool.extend(r, 1);  // this step's token, at position 10000

    // Each group's table comes from its own view; a CSR row lists the pages its rule still shows.
    const std::span<const request_id> batch(&r, 1);
    std::vector<std::int32_t> indptr(2), indices(1024), last(1);
    auto window_nnz = emit_csr_table(pool.group<0>(), batch, {indptr, indices, last});  // keys [9489, 10000]
    auto chunk_nnz = emit_csr_table(pool.group<1>(), batch, {indptr, indices, last});   // keys [8192, 10000]
    // example-end
    CHECK(window_nnz.value() == 33);  // pages 593..625
    CHECK(chunk_nnz.value() == 114);  // pages 512..625: the chunk starts at token 8192 = page 512
    CHECK(last[0] == 1);              // kv length 113 * 16 + 1 = 1809 = 10001 - 8192
    CHECK(pool.full().pages_held(r) == 626);
    CHECK(pool.check_invariants().ok());
}

namespace {
TEST_CASE("doc example: checking invariants after every mutation") {
    // example-begin checked_pool
    // Each mutation is followed by its request's check; every 1024th by the whole pool's.
    auto pool = checked_pool<hybrid_pool<>>::create(pool_size{1024}, pool_size{256}, 16, 512).value();
    const request_id r = pool.add_request().value();
    REQUIRE(pool.extend(r, 600).ok());
    REQUIRE(pool.commit(r, 600).ok());  // releases the SWA pages before the window, then checks
    CHECK(pool.swa().first_live_page(r) == 5);
    CHECK(pool.mutations() == 3);
    // example-end
}

// Every `NAME -> region` from the `example-begin` markers of `file`, added to `regions`.
void add_example_regions(const std::filesystem::path& file, std::map<std::string, std::string>& regions) {
    std::ifstream in(file);
    std::string line, name, body;
    std::size_t indent = 0;
    while (std::getline(in, line)) {
        const auto at = line.find_first_not_of(' ');
        if (at != std::string::npos && line.compare(at, 17, "// example-begin ") == 0) {
            name = line.substr(at + 17);
            indent = at;
            body.clear();
        } else if (at != std::string::npos && line.compare(at, 14, "// example-end") == 0 && !name.empty()) {
            regions[name] = body;
            name.clear();
        } else if (!name.empty()) {
            body += (line.size() >= indent ? line.substr(indent) : std::string{}) + "\n";
        }
    }
}
}  // namespace

TEST_CASE("the docs quote the compiled examples verbatim") {
    const std::filesystem::path root = PAGEDKV_SOURCE_DIR;
    std::map<std::string, std::string> regions;
    add_example_regions(root / "tests" / "test_doc_examples.cpp", regions);
    add_example_regions(root / "tests" / "consumer" / "consumer.cpp", regions);
    REQUIRE(regions.size() == 5);
    std::vector<std::filesystem::path> docs{root / "README.md"};
    for (const auto& e : std::filesystem::directory_iterator(root / "docs"))
        if (e.path().extension() == ".md") docs.push_back(e.path());
    int quoted = 0;
    for (const auto& doc : docs) {
        std::ifstream in(doc);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string text = ss.str();
        for (std::size_t at = text.find("<!-- example: "); at != std::string::npos;
             at = text.find("<!-- example: ", at + 1)) {
            const std::string name = text.substr(at + 14, text.find(" -->", at) - at - 14);
            CAPTURE(doc.string());
            CAPTURE(name);
            REQUIRE(regions.count(name) == 1);
            const std::size_t open = text.find("```cpp\n", at) + 7;
            CHECK(text.substr(open, text.find("```", open) - open) == regions.at(name));
            ++quoted;
        }
    }
    CHECK(quoted >= 5);
}
