// milk::HeldRegions: which regions of the peer's exchange-heap pool this side
// holds (received in a message and not yet dropped or sent back).
//
// A peer must not hand over one region twice, nor two regions that overlap:
// the receiver would then own the same bytes through two buffers. Regions are
// counted in 64-byte units of the peer's pool, so "overlaps" means "shares a
// unit with". An honest peer's buffers are whole blocks of 64-byte units (the
// buddy allocator's blocks), so two of them never share one. A zero-length
// region still occupies its first unit, so that the same empty handle cannot
// be held twice either.
//
// The record keeps each held region's first and last unit, in two BitTrees.
// Held regions never overlap, so starts and ends alternate along the pool:
// a new region [first, last] overlaps a held one exactly when the held
// region starting last at or before `last` ends at or after `first`, and
// that region's end is the first end at or after its start. Holding,
// checking and dropping a region are a few word operations whatever its
// size; a bitmap with a bit per unit (this class until session 9) cost one
// word per 4 KiB each way, so a 1 MiB buffer's round trip cost 1.7-2.9 times
// a 64-byte one's.
//
// Not thread-safe: the caller serialises (the user-space exchange heap holds
// its lock; the kernel's channel is served by one thread at a time).
// Freestanding: libmilk and milk.ko compile this same file.
#pragma once

#include "bit_tree.hpp"
#include "result.hpp"

#include <cstddef>
#include <cstdint>

namespace milk {

class HeldRegions {
public:
    static constexpr std::uint32_t unit_bytes = 64;

    HeldRegions() = default;
    // pool_bytes: the size of the peer's pool.
    [[nodiscard]] static Result<HeldRegions> try_create(std::uint32_t pool_bytes);

    // Offsets are relative to the peer's pool. Precondition (the caller's
    // bounds check): offset < pool_bytes and offset + length <= pool_bytes.
    //
    // Records the region as held, unless it shares a unit with one held
    // already: then false, and nothing changes.
    [[nodiscard]] bool try_hold(std::uint64_t offset, std::uint32_t length);
    // Forgets a region recorded by try_hold with the same offset and length;
    // anything else (a region never held, or only part of one) changes
    // nothing.
    void release(std::uint64_t offset, std::uint32_t length);

    // How many regions are held.
    [[nodiscard]] std::size_t count() const { return m_count; }

private:
    // The units [first, last] a region occupies.
    struct Units {
        std::uint64_t first;
        std::uint64_t last;
    };
    [[nodiscard]] static Units units_of(std::uint64_t offset, std::uint32_t length);

    // The first and the last unit of every held region.
    BitTree m_starts;
    BitTree m_ends;
    std::size_t m_count = 0;
};

}  // namespace milk
