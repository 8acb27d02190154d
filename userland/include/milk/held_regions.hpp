// milk::HeldRegions: which regions of the peer's exchange-heap pool this side
// holds (received in a message and not yet dropped or sent back).
//
// A peer must not hand over one region twice, nor two regions that overlap:
// the receiver would then own the same bytes through two buffers. The record
// is a bitmap with one bit per 64-byte unit of the peer's pool, so "overlaps"
// means "shares a unit with". An honest peer's buffers are whole blocks of
// 64-byte units (the buddy allocator's blocks), so two of them never share
// one. A zero-length region still occupies its first unit, so that the same
// empty handle cannot be held twice either.
//
// Not thread-safe: the caller serialises (the user-space exchange heap holds
// its lock; the kernel's channel is served by one thread at a time).
// Freestanding: libmilk and milk.ko compile this same file.
#pragma once

#include "fixed_array.hpp"
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
    // Forgets a region recorded by try_hold with the same offset and length.
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
    [[nodiscard]] bool any_set(Units units) const;
    void set(Units units);
    void clear(Units units);

    FixedArray<std::uint64_t> m_bits;
    std::size_t m_count = 0;
};

}  // namespace milk
