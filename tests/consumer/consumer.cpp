// The README's first program, and the program every consumer project builds (Meson: dependency(),
// CMake: find_package, add_subdirectory, FetchContent). tests/test_doc_examples.cpp runs it too and
// checks that README.md quotes the region below verbatim.
// example-begin first_program
// One request's life in a hybrid pool: chunked prefill, then a decode step with MTP drafts.
#include <pagedkv/pagedkv.hpp>

#include <cstdio>

int main() {
    using namespace pagedkv;
    // 4096 full pages and 1024 SWA pages of 16 tokens; SWA layers see the last 512 tokens.
    auto pool = hybrid_pool<>::create(pool_size{4096}, pool_size{1024}, 16, 512).value();
    request_id r = pool.add_request().value();

    for (int chunk = 0; chunk < 4; ++chunk) {      // chunked prefill of a 2048-token prompt
        if (status s = pool.extend(r, 512); !s) {  // a failing call changes nothing and says why
            std::printf("extend: %s\n", to_string(s.code()).data());
            return 1;
        }
        // ... run the forward pass over the chunk, then:
        (void)pool.commit(r, 512);
    }
    (void)pool.extend(r, 1 + 3);  // decode: one token plus three MTP drafts
    // ... verify the drafts; two are accepted:
    (void)pool.commit(r, 1 + 2);

    // Full layers keep every page; SWA layers keep the window's pages plus the tail.
    const auto full_pages = pool.full().pages_held(r);  // 129 = ceil(2051 / 16)
    const auto swa_pages = pool.swa().pages_held(r);    // 33: pages 96..128 hold the last 512 tokens
    std::printf("2051 tokens: %lld full pages, %lld SWA pages\n", static_cast<long long>(full_pages),
                static_cast<long long>(swa_pages));
    return full_pages == 129 && swa_pages == 33 && pool.check_invariants().ok() ? 0 : 1;
}
// example-end
