// One device allocation carved into the tables' buffers, and the Thrust allocator over its scratch.
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>

namespace pagedkv::gpu::detail {

/// Hands out 256-byte aligned offsets; first a dry pass sizes the allocation, then the same calls
/// on the real base give the pointers (one layout, computed once).
struct tables_layout {
    std::byte* base = nullptr;
    std::size_t used = 0;
    template <class T>
    T* take(std::int64_t count) {
        used = (used + 255) / 256 * 256;
        T* p = base ? reinterpret_cast<T*>(base + used) : nullptr;
        used += static_cast<std::size_t>(count) * sizeof(T);
        return p;
    }
};

/// Thrust's temporary storage for the reference path (scans), bump-allocated from a fixed region:
/// no cudaMalloc per call. Reset before each use; exhausting it throws std::bad_alloc.
struct tables_thrust_arena {
    using value_type = char;
    char* base = nullptr;
    std::size_t size = 0;
    std::size_t used = 0;
    char* allocate(std::size_t n) {
        const std::size_t at = (used + 255) / 256 * 256;
        if (at + n > size) throw std::bad_alloc();
        used = at + n;
        return base + at;
    }
    void deallocate(char*, std::size_t) noexcept {}
};

}  // namespace pagedkv::gpu::detail
