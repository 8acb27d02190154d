// A binary buddy allocator over one exchange-heap pool.
//
// Size classes are the powers of two from 64 bytes up to the pool size. All
// metadata (free lists, block orders, which blocks are lent to the peer) lives
// here, in the owning side's private memory, never in the shared region: a
// peer can write the pool's bytes but not the bookkeeping of who owns them.
//
// Not thread-safe; the exchange heap serialises calls with its own mutex.
#pragma once

#include "result.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace milk {

class BuddyAllocator {
public:
    static constexpr std::uint32_t min_block = 64;

    enum class BlockState : std::uint8_t {
        // Not the start of an allocated block (free, or inside a block).
        NotAllocated,
        // Allocated; the owner holds it.
        Held,
        // Allocated and handed to the peer (exported); it comes back through
        // the return ring or by being sent back.
        Lent,
    };

    // pool_bytes: a power of two, at least min_block and at most 2^30.
    [[nodiscard]] static Result<BuddyAllocator> try_create(std::uint32_t pool_bytes);

    // The offset (from the pool's start) of a block of at least `bytes`
    // (at least min_block), or OutOfMemory.
    [[nodiscard]] Result<std::uint32_t> allocate(std::size_t bytes);

    // Frees the block at `offset`. Precondition: state(offset) != NotAllocated.
    void free(std::uint32_t offset);

    [[nodiscard]] BlockState state(std::uint32_t offset) const;
    // Size of the allocated block at `offset`. Precondition: allocated.
    [[nodiscard]] std::uint32_t block_size(std::uint32_t offset) const;
    // Moves an allocated block between Held and Lent. Precondition:
    // state(offset) != NotAllocated and `to` != NotAllocated.
    void set_state(std::uint32_t offset, BlockState to);

    [[nodiscard]] std::uint32_t pool_bytes() const { return m_pool_bytes; }
    [[nodiscard]] std::size_t free_bytes() const { return m_free_bytes; }

    // Allocated blocks by state. Walks the whole metadata (one byte per 64
    // bytes of pool), so it is for diagnostics and tests, not hot paths:
    // free_bytes() + held_bytes + lent_bytes == pool_bytes() always.
    struct Usage {
        std::size_t held_blocks = 0;
        std::size_t held_bytes = 0;
        std::size_t lent_blocks = 0;
        std::size_t lent_bytes = 0;
    };
    [[nodiscard]] Usage usage() const;

private:
    static constexpr std::uint32_t none = UINT32_MAX;
    // m_meta bits, per 64-byte unit: for the first unit of a block, the
    // block's order + 1 (bits 0-5), free (bit 6) and lent (bit 7); zero for
    // every other unit.
    static constexpr std::uint8_t order_mask = 0x3f;
    static constexpr std::uint8_t free_bit = 0x40;
    static constexpr std::uint8_t lent_bit = 0x80;

    BuddyAllocator() = default;
    void push_free(std::uint32_t unit, std::uint32_t order);
    void remove_free(std::uint32_t unit, std::uint32_t order);
    [[nodiscard]] bool is_allocated_start(std::uint32_t offset) const;

    std::uint32_t m_pool_bytes = 0;
    std::uint32_t m_max_order = 0;  // pool = min_block << m_max_order
    std::size_t m_free_bytes = 0;
    std::vector<std::uint8_t> m_meta;
    // Doubly linked free lists through unit indices; only entries of free
    // block starts are meaningful, so the arrays are left uninitialised
    // (untouched pages cost nothing).
    std::unique_ptr<std::uint32_t[]> m_next;
    std::unique_ptr<std::uint32_t[]> m_prev;
    std::array<std::uint32_t, 32> m_free_head{};
};

}  // namespace milk
