// Placeholder main example: a hybrid pool through one request's life (replaced by issue 7's simulator).
#include <pagedkv/pagedkv.hpp>
#include <cstdio>

int main() {
    using namespace pagedkv;
    auto pool = hybrid_pool<>::create(pool_size{1024}, pool_size{256}, 16, 512).value();
    const request_id r = pool.add_request().value();
    for (int chunk = 0; chunk < 16; ++chunk) {  // chunked prefill: the SWA pool only holds window + chunk
        if (!pool.extend(r, 512) || !pool.commit(r, 512)) return 1;
    }
    std::printf("8k tokens: %d full pages, %d SWA pages in use; invariants %s\n", pool.full().used_pages(),
                pool.swa().used_pages(), pool.check_invariants() ? "ok" : "VIOLATED");
    return pool.check_invariants() ? 0 : 1;
}
