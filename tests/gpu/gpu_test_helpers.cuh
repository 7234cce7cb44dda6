// What every GPU test file needs: CUDA_REQUIRE and one RAII device buffer.
#pragma once
#include <doctest/doctest.h>

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

/// The CUDA call must succeed; a failure stops the test case and names the call.
#define CUDA_REQUIRE(expr) REQUIRE_EQ(cudaSuccess, (expr))

namespace pagedkv::test {

/// A fixed-capacity device allocation of `size` T's (allocated once, like an engine's), freed on
/// scope exit.
template <class T>
struct device_buffer {
    T* ptr = nullptr;
    std::size_t size = 0;
    explicit device_buffer(std::size_t n) : size(n) {
        CUDA_REQUIRE(cudaMalloc(&ptr, std::max<std::size_t>(n, 1) * sizeof(T)));
    }
    explicit device_buffer(const std::vector<T>& h) : device_buffer(h.size()) { upload(h); }
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;
    ~device_buffer() { cudaFree(ptr); }
    /// Copies h into the buffer's first h.size() elements.
    void upload(const std::vector<T>& h) {
        REQUIRE(h.size() <= size);
        if (!h.empty()) CUDA_REQUIRE(cudaMemcpy(ptr, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    }
    /// The buffer's first n elements (all of them by default).
    std::vector<T> download(std::size_t n) const {
        REQUIRE(n <= size);
        std::vector<T> h(n);
        if (n > 0) CUDA_REQUIRE(cudaMemcpy(h.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
        return h;
    }
    std::vector<T> download() const { return download(size); }
    /// Every byte 0xff: NaN in bf16, fp16 and fp32, so a kernel that reads what it must not shows it.
    void poison() { CUDA_REQUIRE(cudaMemset(ptr, 0xff, size * sizeof(T))); }
};

/// n elements copied from device pointer `dev`.
template <class T>
std::vector<T> download(const T* dev, std::int64_t n) {
    std::vector<T> v(static_cast<std::size_t>(n));
    if (n > 0) CUDA_REQUIRE(cudaMemcpy(v.data(), dev, sizeof(T) * v.size(), cudaMemcpyDeviceToHost));
    return v;
}
/// One value copied to device pointer `dev`.
template <class T>
void upload(T* dev, T value) {
    CUDA_REQUIRE(cudaMemcpy(dev, &value, sizeof value, cudaMemcpyHostToDevice));
}

}  // namespace pagedkv::test
