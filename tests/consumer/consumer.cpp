// A program a new user writes against dependency('pagedkv'): one hybrid request, checked.
#include <pagedkv/pagedkv.hpp>
#include <cstdio>

int main() {
    auto pool = pagedkv::hybrid_pool<>::create(pagedkv::pool_size{256}, pagedkv::pool_size{64}, 16, 128).value();
    const auto r = pool.add_request().value();
    if (!pool.extend(r, 1000) || !pool.commit(r, 1000) || !pool.check_invariants()) return 1;
    std::printf("consumer: %d full pages, %d SWA pages in use\n", pool.full().used_pages(), pool.swa().used_pages());
    return pool.full().used_pages() == 63 && pool.swa().used_pages() == 9 ? 0 : 1;
}
