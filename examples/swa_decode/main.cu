// swa_decode: pagedkv's tables feeding decode attention, end to end. A hybrid pool serves a few
// requests through chunked prefill and MTP decode steps (reserve 1 + k tokens, commit the accepted
// ones); every step's K/V is written through the slot mappings pagedkv emits, into one full layer's
// and one sliding-window layer's paged caches. On the last step the full layer's dense table and
// the SWA layer's trimmed CSR table feed `swa_decode` (verifying the 1 + k tokens in flight), and
// each output is checked against float64 attention over the tokens' own K/V rows, which never
// pass through a page. Exit code 0 only when both layers pass (or when no GPU is visible).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <span>
#include <vector>

#include <pagedkv/cuda/swa_decode.cuh>
#include <pagedkv/pagedkv.hpp>

namespace {

using namespace pagedkv;
using namespace pagedkv::gpu;
using bf16 = __nv_bfloat16;

// The KV shape of Gemma 4 E4B's sliding layers (2 KV heads of 256, W = 512: presets/gemma-4-e4b.preset)
// with 8 query heads; the full layer uses the same shape (E4B's global head_dim 512 exceeds the kernel's).
constexpr std::int32_t page_size = 16, window = 512;
constexpr int q_heads = 8, kv_heads = 2, head_dim = 256, row_elems = kv_heads * head_dim;
constexpr int drafts = 2, queries = 1 + drafts;            // MTP: each decode step reserves 1 + k tokens
constexpr std::int64_t prefill_chunk = 256;                // prompt tokens per request per step
constexpr std::int32_t full_pages = 256, swa_pages = 160;  // the SWA pool holds only the windows
constexpr double tolerance = 1e-2;                         // ||out - ref|| / ||ref||, bf16 (issue 6)

void check(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return;
    std::fprintf(stderr, "swa_decode: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
}
void check(decode_status s, const char* what) {
    if (s.ok()) return;
    std::fprintf(stderr, "swa_decode: %s: decode_errc %d (%s)\n", what, int(s.code), cudaGetErrorString(s.cuda));
    std::exit(1);
}
template <class R>
void check(const R& r, const char* what) {  // a pagedkv status or result
    if (r.ok()) return;
    const auto name = to_string(r.code());
    std::fprintf(stderr, "swa_decode: %s: %.*s\n", what, static_cast<int>(name.size()), name.data());
    std::exit(1);
}

// A device array allocated once, as an engine's buffers are; freed on scope exit.
template <class T>
struct device_array {
    T* ptr = nullptr;
    std::size_t size;
    explicit device_array(std::size_t n) : size(n) {
        check(cudaMalloc(&ptr, std::max<std::size_t>(n, 1) * sizeof(T)), "cudaMalloc");
    }
    device_array(const device_array&) = delete;
    device_array& operator=(const device_array&) = delete;
    ~device_array() { cudaFree(ptr); }
    void put(std::span<const T> h) { check(cudaMemcpy(ptr, h.data(), h.size_bytes(), cudaMemcpyHostToDevice), "put"); }
};

// The forward pass's KV write: token row i goes to KV slot slots[i] (page * P + offset) of `cache`.
__global__ void scatter_rows(bf16* cache, const bf16* rows, const std::int64_t* slots, std::int64_t n) {
    for (std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x; i < n * row_elems;
         i += std::int64_t{gridDim.x} * blockDim.x)
        cache[slots[i / row_elems] * row_elems + i % row_elems] = rows[i];
}

// One attention layer: its paged K and V caches [pages, P, kv_heads, head_dim], NaN until written
// (a read of a slot no token wrote turns the output NaN), and per request the K and V rows of its
// tokens by position, on the host: the reference's input.
struct layer {
    const char* name;
    std::int32_t window_tokens;  // 0: full attention
    device_array<bf16> k, v;
    std::vector<std::vector<bf16>> tokens[2];  // [K or V][request][position * row_elems + e]
    layer(const char* layer_name, std::int32_t w, pool_size pages, std::size_t requests)
        : name(layer_name),
          window_tokens(w),
          k(std::size_t(pages.pages) * page_size * row_elems),
          v(k.size),
          tokens{std::vector<std::vector<bf16>>(requests), std::vector<std::vector<bf16>>(requests)} {
        check(cudaMemset(k.ptr, 0xff, k.size * sizeof(bf16)), "poison");
        check(cudaMemset(v.ptr, 0xff, v.size * sizeof(bf16)), "poison");
    }
};

// Writes fresh random K/V for every token in flight, [committed, length) of each request in batch
// order (emit_slot_mapping's order); the host rows of drafts rejected last step are dropped first.
void write_in_flight(layer& l, const hybrid_pool<>& pool, std::span<const request_id> batch,
                     std::span<const std::int64_t> slots, device_array<std::int64_t>& d_slots,
                     device_array<bf16>& d_rows, std::mt19937_64& rng) {
    std::uniform_real_distribution<float> unit(-1.f, 1.f);
    d_slots.put(slots);
    for (int kv = 0; kv < 2; ++kv) {
        std::vector<bf16> rows;
        for (std::size_t b = 0; b < batch.size(); ++b) {
            std::vector<bf16>& own = l.tokens[kv][b];
            own.resize(std::size_t(pool.full().committed_tokens(batch[b])) * row_elems);
            while (own.size() < std::size_t(pool.full().length_tokens(batch[b])) * row_elems) {
                own.push_back(bf16(unit(rng)));
                rows.push_back(own.back());
            }
        }
        d_rows.put(rows);
        scatter_rows<<<128, 256>>>(kv == 0 ? l.k.ptr : l.v.ptr, d_rows.ptr, d_slots.ptr, std::int64_t(slots.size()));
        check(cudaGetLastError(), "scatter_rows");
    }
}

// Runs swa_decode for the 1 + k queries of each request through `table`, compares each request's
// output with float64 attention over its tokens' rows (query j at p = len - Q + j sees keys
// [max(0, p - W + 1), p], or [0, p] for a full layer), prints the layer's line; true on PASS.
bool run_layer(const layer& l, page_table_view table, const char* table_name, std::size_t table_entries,
               std::span<const std::int64_t> lens, int sm_count, std::mt19937_64& rng) {
    const int B = int(lens.size());
    const decode_shape shape{
        B,        queries,   q_heads,         kv_heads,
        head_dim, page_size, l.window_tokens, std::int32_t(*std::max_element(lens.begin(), lens.end()))};
    decode_plan plan{};
    check(plan_decode(shape, sm_count, plan), "plan_decode");
    const std::size_t per_request = std::size_t(queries) * q_heads * head_dim;
    std::vector<bf16> q(std::size_t(B) * per_request);
    std::uniform_real_distribution<float> unit(-2.f, 2.f);
    for (bf16& x : q) x = bf16(unit(rng));
    device_array<bf16> d_q(q.size()), d_out(q.size());
    device_array<std::byte> workspace(plan.workspace_bytes);
    d_q.put(q);
    check(cudaMemset(d_out.ptr, 0xff, q.size() * sizeof(bf16)), "poison");  // every element must be written
    const float scale = 1.f / std::sqrt(float(head_dim));
    check(swa_decode(plan, decode_tensors<bf16>{d_q.ptr, d_out.ptr, l.k.ptr, l.v.ptr, table, scale}, workspace.ptr,
                     workspace.size, nullptr),
          "swa_decode");
    std::vector<bf16> out(q.size());
    check(cudaMemcpy(out.data(), d_out.ptr, q.size() * sizeof(bf16), cudaMemcpyDeviceToHost), "swa_decode");

    std::int64_t pages_read = 0;  // table entries the kernel dereferences: the windows' pages
    double max_rel_error = 0;     // worst request; NaN sticks
    for (int b = 0; b < B; ++b) {
        const std::int64_t len = lens[std::size_t(b)];
        const auto first_key = [&](std::int64_t pos) {
            return l.window_tokens > 0 ? std::max<std::int64_t>(0, pos - l.window_tokens + 1) : 0;
        };
        pages_read += (len - 1) / page_size - first_key(len - queries) / page_size + 1;
        const auto& tk = l.tokens[0][std::size_t(b)];
        const auto& tv = l.tokens[1][std::size_t(b)];
        double err2 = 0, ref2 = 0;
        for (int j = 0; j < queries; ++j)
            for (int h = 0; h < q_heads; ++h) {
                const std::int64_t pos = len - queries + j, lo = first_key(pos);
                const std::size_t qo = b * per_request + (std::size_t(j) * q_heads + h) * head_dim;
                const std::size_t kvo = std::size_t(h / (q_heads / kv_heads)) * head_dim;
                std::vector<double> w;
                for (std::int64_t t = lo; t <= pos; ++t) {
                    double dot = 0;
                    for (int d = 0; d < head_dim; ++d)
                        dot += double(float(q[qo + d])) * float(tk[std::size_t(t) * row_elems + kvo + d]);
                    w.push_back(dot * scale);
                }
                const double mx = *std::max_element(w.begin(), w.end());
                double sum = 0;
                for (double& x : w) sum += (x = std::exp(x - mx));
                for (int d = 0; d < head_dim; ++d) {
                    double ref = 0;
                    for (std::int64_t t = lo; t <= pos; ++t)
                        ref += w[std::size_t(t - lo)] / sum * float(tv[std::size_t(t) * row_elems + kvo + d]);
                    const double got = float(out[qo + d]);
                    err2 += (got - ref) * (got - ref);
                    ref2 += ref * ref;
                }
            }
        const double rel = std::sqrt(err2 / ref2);
        max_rel_error = std::isnan(rel) || rel > max_rel_error ? rel : max_rel_error;
    }
    const bool pass = max_rel_error < tolerance;  // NaN fails
    std::printf("  %-4s layer (%s, %zu entries): %d requests, %lld pages read, max rel error %.2e  %s\n", l.name,
                table_name, table_entries, B, static_cast<long long>(pages_read), max_rel_error,
                pass ? "PASS" : "FAIL");
    return pass;
}

// The verification step: emits the full layer's dense table and the SWA layer's trimmed CSR table
// for the batch as the pool holds it now (1 + k tokens in flight, uncommitted), runs both layers
// and prints one line each. Returns whether both passed.
bool verify(const hybrid_pool<>& pool, std::span<const request_id> batch, const layer& full, const layer& swa,
            int sm_count, std::mt19937_64& rng) {
    const std::size_t B = batch.size();
    std::vector<std::int64_t> lens;
    for (request_id r : batch) lens.push_back(pool.full().length_tokens(r));
    const auto row_pages = std::int32_t((*std::max_element(lens.begin(), lens.end()) + page_size - 1) / page_size);
    // Full layer: a dense block table plus each row's length (FlashAttention's cache_seqlens).
    std::vector<std::int32_t> dense(B * std::size_t(row_pages)), kv_len(lens.begin(), lens.end());
    check(emit_dense_table(pool.full(), batch, dense, row_pages), "emit_dense_table");
    device_array<std::int32_t> d_dense(dense.size()), d_len(B);
    d_dense.put(dense);
    d_len.put(kv_len);
    // SWA layer: CSR rows trimmed to the pages the window still needs (FlashInfer's layout).
    std::vector<std::int32_t> indptr(B + 1), indices(dense.size()), last(B);
    const auto nnz = emit_csr_table(pool.swa(), batch, {indptr, indices, last});
    check(nnz, "emit_csr_table");
    device_array<std::int32_t> d_indptr(B + 1), d_indices(std::size_t(nnz.value())), d_last(B);
    d_indptr.put(indptr);
    d_indices.put(std::span(indices).first(std::size_t(nnz.value())));
    d_last.put(last);
    const bool swa_pass = run_layer(swa, page_table_view::csr(d_indptr.ptr, d_indices.ptr, d_last.ptr),
                                    "trimmed CSR table", d_indices.size, lens, sm_count, rng);
    const bool full_pass = run_layer(full, page_table_view::dense(d_dense.ptr, row_pages, d_len.ptr), "dense table",
                                     dense.size(), lens, sm_count, rng);
    return swa_pass && full_pass;
}

}  // namespace

int main() {
    int devices = 0;
    if (const cudaError_t e = cudaGetDeviceCount(&devices); e != cudaSuccess || devices == 0) {
        std::printf("swa_decode: no CUDA device visible (%s): skipping, nothing was checked\n",
                    e == cudaSuccess ? "0 devices" : cudaGetErrorString(e));
        return 0;
    }
    int sm_count = 0;
    check(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, 0), "device attribute");

    std::mt19937_64 rng(20261124);
    const std::vector<std::int64_t> prompts{37, 300, 700, 2000};  // the last two are longer than the window
    auto pool = hybrid_pool<>::create(pool_size{full_pages}, pool_size{swa_pages}, page_size, window).value();
    std::vector<request_id> batch;
    for (std::size_t i = 0; i < prompts.size(); ++i) batch.push_back(pool.add_request().value());
    layer full("full", 0, pool.full().size(), batch.size()), swa("SWA", window, pool.swa().size(), batch.size());

    const std::size_t max_step_tokens = batch.size() * std::size_t(std::max<std::int64_t>(prefill_chunk, queries));
    std::vector<std::int64_t> full_slots(max_step_tokens), swa_slots(max_step_tokens);
    device_array<std::int64_t> d_slots(max_step_tokens);
    device_array<bf16> d_rows(max_step_tokens * row_elems);
    const std::int64_t longest = *std::max_element(prompts.begin(), prompts.end());
    const int steps = int((longest + prefill_chunk - 1) / prefill_chunk) + 3;  // the last 3: every request decodes
    std::printf("swa_decode example: P=%d W=%d, %d query / %d KV heads, D=%d, bf16; prompts of", page_size, window,
                q_heads, kv_heads, head_dim);
    for (std::int64_t p : prompts) std::printf(" %lld", static_cast<long long>(p));
    std::printf(" tokens; %d steps (chunked prefill by %lld, then MTP 1+%d); %d full and %d SWA pages\n", steps,
                static_cast<long long>(prefill_chunk), drafts, full_pages, swa_pages);

    for (int step = 0; step < steps; ++step) {
        std::vector<std::int64_t> accept;  // tokens each request commits after this step's forward pass
        for (std::size_t b = 0; b < batch.size(); ++b) {
            const std::int64_t committed = pool.full().committed_tokens(batch[b]);
            const bool prefill = committed < prompts[b];
            const std::int64_t n = prefill ? std::min(prefill_chunk, prompts[b] - committed) : queries;
            check(pool.extend(batch[b], n), "extend");
            accept.push_back(prefill ? n : 1 + std::int64_t(rng() % queries));  // MTP: 1 + accepted drafts
        }
        // The forward pass writes each layer's K/V through its own pool's slot mapping.
        const std::int64_t n_full = emit_slot_mapping(pool.full(), batch, full_slots).value();
        const std::int64_t n_swa = emit_slot_mapping(pool.swa(), batch, swa_slots).value();
        write_in_flight(full, pool, batch, std::span(full_slots).first(std::size_t(n_full)), d_slots, d_rows, rng);
        write_in_flight(swa, pool, batch, std::span(swa_slots).first(std::size_t(n_swa)), d_slots, d_rows, rng);
        if (step == steps - 1) {  // attention reads the tables before this step's commit
            const bool pass = verify(pool, batch, full, swa, sm_count, rng);
            std::printf("  pages in use: full pool %d of %d, SWA pool %d of %d\n%s\n", pool.full().used_pages(),
                        full_pages - 1, pool.swa().used_pages(), swa_pages - 1, pass ? "PASS" : "FAIL");
            if (!pass) return 1;
        }
        for (std::size_t b = 0; b < batch.size(); ++b) check(pool.commit(batch[b], accept[b]), "commit");
        check(pool.check_invariants(), "check_invariants");
    }
    return 0;
}
