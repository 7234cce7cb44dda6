// Small helpers shared by the pool tests: page lists as plain ints for exact comparisons.
#pragma once
#include <pagedkv/pagedkv.hpp>
#include <vector>

namespace pagedkv::test {

template <class Pool>
std::vector<std::int32_t> page_values(const Pool& pool, request_id r) {
    std::vector<std::int32_t> v;
    for (page_id p : pool.pages(r)) v.push_back(p.value);
    return v;
}

template <class Pool>
std::vector<std::int32_t> map_values(const Pool& hybrid, request_id r) {
    std::vector<std::int32_t> v;
    for (page_id f : hybrid.full().pages(r)) v.push_back(hybrid.full_to_swa()[static_cast<std::size_t>(f.value)].value);
    return v;
}

}  // namespace pagedkv::test
