// Allocation policies: the free-list contract every pool relies on.
#include <doctest/doctest.h>

#include <pagedkv/alloc/lifo_free_stack.hpp>
#include <pagedkv/alloc/lowest_index_first.hpp>
#include <algorithm>
#include <vector>

using namespace pagedkv;

static_assert(alloc_policy<lifo_free_stack>);
static_assert(alloc_policy<lowest_index_first>);

namespace {
template <class A>
std::vector<std::int32_t> free_list(const A& a) {
    std::vector<std::int32_t> v;
    a.for_each_free([&](page_id p) { v.push_back(p.value); });
    std::sort(v.begin(), v.end());
    return v;
}
}  // namespace

TEST_CASE_TEMPLATE("a new free list holds every page but the null page", A, lifo_free_stack, lowest_index_first) {
    A a(pool_size{6});
    CHECK(a.free_count() == 5);
    CHECK(free_list(a) == std::vector<std::int32_t>{1, 2, 3, 4, 5});
    CHECK_FALSE(a.is_free(null_page));
    std::vector<std::int32_t> popped;
    while (a.free_count() > 0) popped.push_back(a.pop().value);
    CHECK(popped == std::vector<std::int32_t>{1, 2, 3, 4, 5});  // both start in index order
    CHECK(free_list(a).empty());
}

TEST_CASE("lifo_free_stack hands out the most recently freed page first") {
    lifo_free_stack a(pool_size{8});
    for (int i = 0; i < 7; ++i) (void)a.pop();
    a.push(page_id{3});
    a.push(page_id{6});
    CHECK(a.pop() == page_id{6});
    CHECK(a.pop() == page_id{3});
}

TEST_CASE("lowest_index_first hands out the smallest free page") {
    lowest_index_first a(pool_size{200});
    for (int i = 0; i < 199; ++i) (void)a.pop();
    a.push(page_id{150});
    a.push(page_id{70});
    a.push(page_id{130});
    CHECK(a.pop() == page_id{70});
    CHECK(a.pop() == page_id{130});
    CHECK(a.pop() == page_id{150});
    CHECK(a.free_count() == 0);
}
