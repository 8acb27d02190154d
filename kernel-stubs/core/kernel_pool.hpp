// milk::kernel::KernelPool: the kernel's own pool of a channel's exchange
// heap (pool 1, side Second), and who has which block of it.
//
// The bookkeeping lives in kernel memory only; the pool's bytes are shared
// and user space may scribble on them, but it can never touch the record of
// which blocks are free and which are lent. Blocks are runs of 64-byte
// units: a `used` bit per unit, and a `start` bit on the first unit of each
// run, so freeing needs nothing but the offset. Every block the kernel
// allocates is sent at once (lent); it comes back when user space drops it
// and pushes its handle onto return ring 1, and release() accepts only the
// start of a lent block, so a forged or repeated return changes nothing.
#pragma once

#include <milk/result.hpp>

#include <cstddef>
#include <cstdint>

namespace milk::kernel {

class KernelPool {
public:
    static constexpr std::uint32_t unit_bytes = 64;

    KernelPool() = default;
    KernelPool(KernelPool&& other) noexcept;
    KernelPool& operator=(KernelPool&& other) noexcept;
    KernelPool(const KernelPool&) = delete;
    KernelPool& operator=(const KernelPool&) = delete;
    ~KernelPool();

    // pool_bytes: a multiple of 64 * 64 (whole bitmap words).
    [[nodiscard]] static Result<KernelPool> try_create(std::uint32_t pool_bytes);

    // A run of units for `bytes` (at least one unit), first fit from a
    // rotating hint. The offset is relative to the pool's start.
    [[nodiscard]] Result<std::uint32_t> allocate(std::uint32_t bytes);

    // Frees the block that starts at `offset`. False (and nothing changes)
    // unless `offset` is the start of a block that is out.
    bool release(std::uint32_t offset);

    [[nodiscard]] std::uint32_t units_in_use() const { return m_units_in_use; }

private:
    [[nodiscard]] bool test(const std::uint64_t* bits, std::uint32_t unit) const {
        return ((bits[unit / 64] >> (unit % 64)) & 1u) != 0;
    }
    static void set(std::uint64_t* bits, std::uint32_t unit) { bits[unit / 64] |= std::uint64_t{1} << (unit % 64); }
    static void clear(std::uint64_t* bits, std::uint32_t unit) { bits[unit / 64] &= ~(std::uint64_t{1} << (unit % 64)); }

    std::uint64_t* m_used = nullptr;   // units / 64 words
    std::uint64_t* m_start = nullptr;  // units / 64 words
    std::uint32_t m_units = 0;
    std::uint32_t m_hint = 0;
    std::uint32_t m_units_in_use = 0;
};

}  // namespace milk::kernel
