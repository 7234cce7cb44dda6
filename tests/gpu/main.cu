// Entry point of the GPU suite: runs doctest when a CUDA device is visible, else skips and says so.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <cuda_runtime.h>
#include <cstdio>

int main(int argc, char** argv) {
    int devices = 0;
    const cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices == 0) {
        std::printf("pagedkv_gpu_tests: no CUDA device visible (%s): skipping every GPU test case\n",
                    e == cudaSuccess ? "0 devices" : cudaGetErrorString(e));
        return 0;
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
