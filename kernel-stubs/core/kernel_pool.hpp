// milk::kernel::KernelPool: the kernel's own pool of a channel's exchange
// heap (pool 1, side Second), and who has which block of it.
//
// The bookkeeping lives in kernel memory only; the pool's bytes are shared
// and user space may scribble on them, but it can never touch the record of
// which blocks are free, lent or held. Blocks are runs of 64-byte units: a
// `used` bit per unit, a `start` bit on the first unit of each run (so
// freeing needs nothing but the offset), and a `lent` bit on the start of a
// block user space has. Every block the kernel allocates is sent at once
// (lent). It comes back one of two ways, as in the runtime's exchange heap:
// user space drops it and pushes its handle onto return ring 1
// (release_returned), or sends it back in a message (take_back: held by the
// kernel again until the component gives it back, release_held). Each step
// accepts only a block in the right state, so a forged or repeated return
// or hand-back changes nothing.
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

    // A return from return ring 1: frees the block that starts at `offset`.
    // False (and nothing changes) unless it is the start of a lent block.
    bool release_returned(std::uint32_t offset);
    // A hand-back in a message: the block at `offset` is held by the kernel
    // again. False unless it is the start of a lent block at least `length`
    // bytes long.
    bool take_back(std::uint32_t offset, std::uint32_t length);
    // Frees a block the kernel holds (taken back). False unless it is one.
    bool release_held(std::uint32_t offset);
    // A block the kernel holds goes to user space in a message: lent again.
    // False unless it is the start of a held block at least `length` long.
    bool lend_held(std::uint32_t offset, std::uint32_t length);

    [[nodiscard]] std::uint32_t units_in_use() const { return m_units_in_use; }

private:
    [[nodiscard]] bool test(const std::uint64_t* bits, std::uint32_t unit) const {
        return ((bits[unit / 64] >> (unit % 64)) & 1u) != 0;
    }
    static void set(std::uint64_t* bits, std::uint32_t unit) { bits[unit / 64] |= std::uint64_t{1} << (unit % 64); }
    static void clear(std::uint64_t* bits, std::uint32_t unit) { bits[unit / 64] &= ~(std::uint64_t{1} << (unit % 64)); }

    std::uint64_t* m_used = nullptr;   // units / 64 words
    std::uint64_t* m_start = nullptr;  // units / 64 words
    std::uint64_t* m_lent = nullptr;   // units / 64 words

    [[nodiscard]] bool is_start(std::uint32_t offset) const;
    void free_block(std::uint32_t first);
    std::uint32_t m_units = 0;
    std::uint32_t m_hint = 0;
    std::uint32_t m_units_in_use = 0;
};

}  // namespace milk::kernel
