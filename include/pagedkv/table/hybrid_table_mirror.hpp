// The device state of a hybrid pool: a table mirror per pool plus the full_to_swa writes of a step.
#pragma once
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "pagedkv/table/table_mirror.hpp"

namespace pagedkv {

/// The device state of a hybrid pool: a mirror per pool plus the `full_to_swa` writes of the step.
/// Map writes hold the hybrid's own `full_to_swa()` value at every full page whose mapping may have
/// changed (a full or SWA entry at its position changed), so every entry a kernel can read is a copy
/// of that one home instead of being recomputed from two lists that could disagree.
template <class Hybrid>
class hybrid_table_mirror {
public:
    using full_mirror = table_mirror<typename Hybrid::full_pool_type>;
    using swa_mirror = table_mirror<typename Hybrid::swa_pool_type>;

    /// Errors: those of check_capacity.
    static result<hybrid_table_mirror> create(const table_capacity& cap, const Hybrid& hp,
                                              diff_scope scope = diff_scope::committed_prefix) {
        auto f = full_mirror::create(cap, hp.full(), scope);
        if (!f) return f.err();
        auto s = swa_mirror::create(cap, hp.swa(), scope);
        if (!s) return s.err();
        return hybrid_table_mirror(std::move(f.value()), std::move(s.value()), hp);
    }

    /// Stages both pools and the mapping for `batch`, or neither. Errors: those of table_mirror::stage.
    status stage(const Hybrid& hp, std::span<const request_id> batch) {
        touched_.clear();
        next_epoch();
        auto on_full = [this](request_id, std::int64_t, page_id old_page, page_id new_page) {
            touch(old_page);
            touch(new_page);
        };
        // An SWA entry changed at column i: the mapping of the full page at i changed with it. Columns
        // past the full list were dropped there too, and the full mirror touched those pages.
        auto on_swa = [this, &hp](request_id r, std::int64_t col, page_id, page_id) {
            if (!hp.full().contains(r)) return;
            const auto pages = hp.full().pages(r);
            if (col < static_cast<std::int64_t>(pages.size())) touch(pages[static_cast<std::size_t>(col)]);
        };
        if (auto s = full_.plan(hp.full(), batch, on_full); !s) return s;
        if (auto s = swa_.plan(hp.swa(), batch, on_swa); !s) return s;
        if (static_cast<std::int64_t>(touched_.size()) > full_.capacity().max_writes) return errc::buffer_too_small;
        map_writes_.clear();  // only now: a failing stage leaves the last staged delta whole
        touched_.clear();
        next_epoch();
        full_.apply(hp.full(), batch, on_full);
        swa_.apply(hp.swa(), batch, on_swa);
        const auto map = hp.full_to_swa();
        for (std::int32_t f : touched_) map_writes_.push_back({f, map[static_cast<std::size_t>(f)].value});
        return {};
    }

    /// Packs the last stage (full pool, then SWA pool, then the map writes). Errors: buffer_too_small.
    result<std::int32_t> pack(std::span<std::byte> out) const {
        const pool_delta d[2] = {full_.delta(), swa_.delta()};
        return pack_delta(out, full_.capacity(), d, map_writes_);
    }

    const full_mirror& full() const noexcept { return full_; }
    const swa_mirror& swa() const noexcept { return swa_; }
    std::span<const entry_write> map_writes() const noexcept { return map_writes_; }

private:
    hybrid_table_mirror(full_mirror f, swa_mirror s, const Hybrid& hp)
        : full_(std::move(f)), swa_(std::move(s)), mark_(static_cast<std::size_t>(hp.full().size().pages), 0) {
        touched_.reserve(static_cast<std::size_t>(full_.capacity().max_writes));
        map_writes_.reserve(static_cast<std::size_t>(full_.capacity().max_writes));
    }
    void next_epoch() {
        if (++epoch_ == 0) {
            std::fill(mark_.begin(), mark_.end(), 0u);
            epoch_ = 1;
        }
    }
    void touch(page_id f) {
        if (f == null_page) return;
        auto& m = mark_[static_cast<std::size_t>(f.value)];
        if (m != epoch_) {
            m = epoch_;
            touched_.push_back(f.value);
        }
    }

    full_mirror full_;
    swa_mirror swa_;
    std::vector<std::uint32_t> mark_;  // full page -> epoch it was last touched in
    std::uint32_t epoch_ = 0;
    std::vector<std::int32_t> touched_;
    std::vector<entry_write> map_writes_;
};

}  // namespace pagedkv
