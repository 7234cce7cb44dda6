// Executes a copy plan on the host: two byte arrays stand for the GPU pool's KV and the host tier's.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <pagedkv/cache/copy_plan.hpp>

namespace pagedkv::test {

/// `pages` pages of `page_bytes` bytes each: page p is bytes [p * page_bytes, (p + 1) * page_bytes).
struct kv_bytes {
    std::vector<std::byte> bytes;
    std::size_t page_bytes;
    kv_bytes(std::int32_t pages, std::size_t bytes_per_page)
        : bytes(static_cast<std::size_t>(pages) * bytes_per_page), page_bytes(bytes_per_page) {}
    std::byte* page(std::int32_t p) noexcept { return bytes.data() + static_cast<std::size_t>(p) * page_bytes; }
};

/// The plan's contract, executed: every write-back (GPU -> host), then every load (host -> GPU),
/// one memcpy per run (runs are contiguous on both sides).
inline void execute(const copy_plan& plan, kv_bytes& gpu, kv_bytes& host) {
    for (const copy_run& r : plan.write_backs)
        std::memcpy(host.page(r.dst), gpu.page(r.src), static_cast<std::size_t>(r.count) * gpu.page_bytes);
    for (const copy_run& r : plan.loads)
        std::memcpy(gpu.page(r.dst), host.page(r.src), static_cast<std::size_t>(r.count) * gpu.page_bytes);
}

}  // namespace pagedkv::test
