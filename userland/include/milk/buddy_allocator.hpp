// A binary buddy allocator over one exchange-heap pool.
//
// Size classes are the powers of two from 64 bytes up to the pool size. All
// metadata (free lists, block orders, which blocks are lent to the peer) lives
// here, in the owning side's private memory, never in the shared region: a
// peer can write the pool's bytes but not the bookkeeping of who owns them.
//
// Thread safety comes in two kinds. allocate(), free(), free_if_lent(),
// free_bytes() and usage() change or walk the free lists and must be
// serialised by the caller (the exchange heap holds its lock). state(),
// block_size(), lend() and take_back() touch only the one metadata byte of a
// block, an atomic, so they need no lock: that is what lets a block go to the
// peer and come back (export, then import of the handle handed back) without
// taking the heap's lock.
//
// Frees do not merge buddies at once. A freed block goes on the free list of
// its own size, and the next allocation of that size takes it back in O(1)
// instead of splitting the pool down from the top and merging it all up again
// (about 14 levels each way for a 64-byte block of a 1 MiB pool). Buddies are
// merged when an allocation finds no free block large enough: one pass over
// the metadata then leaves exactly the free blocks eager merging would have,
// so an allocation fails only when it would have failed anyway.
//
// Freestanding: libmilk and milk.ko compile this same file (the kernel's end
// of a channel allocates its pool with it too; exchange_ledger.hpp).
#pragma once

#include "fixed_array.hpp"
#include "result.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

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

    // The offset (from the pool's start) of a Held block of at least `bytes`
    // (at least min_block), or OutOfMemory. Serialised.
    [[nodiscard]] Result<std::uint32_t> allocate(std::size_t bytes);

    // Frees the block at `offset`. Precondition: state(offset) == Held.
    // Serialised.
    void free(std::uint32_t offset);
    // Frees the block at `offset` if it is Lent (the peer returned it), and
    // says whether it did; anything else is left alone. Serialised with the
    // other serialised calls; safe against a concurrent take_back() of the
    // same block (exactly one of the two wins).
    [[nodiscard]] bool free_if_lent(std::uint32_t offset);

    // Lock-free. Any offset (out of range, unaligned, inside a block) is
    // allowed and is NotAllocated.
    [[nodiscard]] BlockState state(std::uint32_t offset) const;
    // Size of the allocated block at `offset`. Precondition: allocated.
    // Lock-free.
    [[nodiscard]] std::uint32_t block_size(std::uint32_t offset) const;
    // Held -> Lent. Precondition: state(offset) == Held, and the caller holds
    // the block (only the holder moves a Held block). Lock-free.
    void lend(std::uint32_t offset);
    // Held -> Lent, if the block at `offset` is Held and at least `length`
    // bytes; says whether it did. The checked form of lend(), for a caller
    // that names a block by its handle (the kernel's components). Lock-free.
    [[nodiscard]] bool try_lend(std::uint32_t offset, std::uint64_t length);
    // Lent -> Held, if the block at `offset` is Lent and at least `length`
    // bytes; says whether it did. Any offset is allowed. Lock-free.
    [[nodiscard]] bool take_back(std::uint32_t offset, std::uint64_t length);

    [[nodiscard]] std::uint32_t pool_bytes() const { return m_pool_bytes; }
    // Serialised.
    [[nodiscard]] std::size_t free_bytes() const { return m_free_bytes; }

    // Allocated blocks by state. Walks the whole metadata (one byte per 64
    // bytes of pool), so it is for diagnostics and tests, not hot paths:
    // free_bytes() + held_bytes + lent_bytes == pool_bytes() always.
    // Serialised.
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
    [[nodiscard]] bool is_free_of_order(std::uint32_t unit, std::uint32_t order) const;
    void release_block(std::uint32_t unit, std::uint8_t meta);
    // Merges every pair of free buddies, smallest first; says whether any
    // merge happened.
    bool coalesce();
    [[nodiscard]] std::uint8_t meta(std::uint32_t unit) const { return m_meta[unit].load(std::memory_order_relaxed); }
    void set_meta(std::uint32_t unit, std::uint8_t value) { m_meta[unit].store(value, std::memory_order_relaxed); }

    std::uint32_t m_pool_bytes = 0;
    std::uint32_t m_units = 0;
    std::uint32_t m_max_order = 0;  // pool = min_block << m_max_order
    std::size_t m_free_bytes = 0;
    // Frees since the last coalesce(): none means merging cannot help.
    std::size_t m_unmerged_frees = 0;
    FixedArray<std::atomic<std::uint8_t>> m_meta;
    // Doubly linked free lists through unit indices; only entries of free
    // block starts are meaningful, so the arrays are left uninitialised
    // (untouched pages cost nothing).
    FixedArray<std::uint32_t> m_next;
    FixedArray<std::uint32_t> m_prev;
    std::array<std::uint32_t, 32> m_free_head{};
};

}  // namespace milk
