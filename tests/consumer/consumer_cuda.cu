// A CUDA source of a CMake project using pagedkv::pagedkv: the pagedkv/cuda/ headers compile with
// the target's cuda_std_20 (no CMAKE_CUDA_STANDARD set). Runs a row-length kernel on a dense table
// when a GPU is visible; otherwise says so and exits 0.
#include <pagedkv/cuda/device_tables.cuh>
#include <pagedkv/cuda/page_table_view.cuh>
#include <pagedkv/cuda/swa_decode.cuh>
#include <pagedkv/pagedkv.hpp>

#include <cuda_runtime.h>

#include <cstdio>

__global__ void row_lengths(pagedkv::gpu::page_table_view table, int page_size, int* kv_tokens) {
    kv_tokens[threadIdx.x] = pagedkv::gpu::row_of(table, static_cast<int>(threadIdx.x), page_size).kv_tokens;
}

int main() {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
        std::printf("consumer_cuda: built; no CUDA device visible, not run\n");
        return 0;
    }
    // Two rows of four 16-token pages; the second row's length (99) is past its width and clamped.
    const std::int32_t host_table[8] = {1, 2, 3, 4, 5, 6, 7, 8}, host_len[2] = {50, 99};
    std::int32_t *table = nullptr, *len = nullptr;
    int* out = nullptr;
    cudaMalloc(&table, sizeof host_table);
    cudaMalloc(&len, sizeof host_len);
    cudaMalloc(&out, 2 * sizeof(int));
    cudaMemcpy(table, host_table, sizeof host_table, cudaMemcpyHostToDevice);
    cudaMemcpy(len, host_len, sizeof host_len, cudaMemcpyHostToDevice);
    row_lengths<<<1, 2>>>(pagedkv::gpu::page_table_view::dense(table, 4, len), 16, out);
    int got[2] = {};
    cudaMemcpy(got, out, sizeof got, cudaMemcpyDeviceToHost);
    std::printf("consumer_cuda: row lengths %d, %d\n", got[0], got[1]);
    return got[0] == 50 && got[1] == 64 ? 0 : 1;
}
