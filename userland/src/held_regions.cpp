// milk::HeldRegions: the bitmap of peer-pool units this side holds.
#include "milk/held_regions.hpp"

namespace milk {
namespace {

// The bits of word `word` that the unit range [first, last] covers.
std::uint64_t word_mask(std::uint64_t word, std::uint64_t first, std::uint64_t last) {
    const std::uint64_t low = word == first / 64 ? first % 64 : 0;
    const std::uint64_t high = word == last / 64 ? last % 64 : 63;
    return (~std::uint64_t{0} >> (63 - high)) & (~std::uint64_t{0} << low);
}

}  // namespace

Result<HeldRegions> HeldRegions::try_create(std::uint32_t pool_bytes) {
    HeldRegions regions;
    const std::size_t units = (std::size_t{pool_bytes} + unit_bytes - 1) / unit_bytes;
    regions.m_bits = MILK_TRY(FixedArray<std::uint64_t>::try_create((units + 63) / 64,
                                                                    FixedArray<std::uint64_t>::Fill::Zero));
    return regions;
}

HeldRegions::Units HeldRegions::units_of(std::uint64_t offset, std::uint32_t length) {
    const std::uint64_t end = offset + (length == 0 ? 1 : length);
    return Units{offset / unit_bytes, (end - 1) / unit_bytes};
}

bool HeldRegions::any_set(Units units) const {
    for (std::uint64_t word = units.first / 64; word <= units.last / 64; ++word)
        if ((m_bits[word] & word_mask(word, units.first, units.last)) != 0) return true;
    return false;
}

void HeldRegions::set(Units units) {
    for (std::uint64_t word = units.first / 64; word <= units.last / 64; ++word)
        m_bits[word] |= word_mask(word, units.first, units.last);
}

void HeldRegions::clear(Units units) {
    for (std::uint64_t word = units.first / 64; word <= units.last / 64; ++word)
        m_bits[word] &= ~word_mask(word, units.first, units.last);
}

bool HeldRegions::try_hold(std::uint64_t offset, std::uint32_t length) {
    const Units units = units_of(offset, length);
    if (any_set(units)) return false;
    set(units);
    ++m_count;
    return true;
}

void HeldRegions::release(std::uint64_t offset, std::uint32_t length) {
    const Units units = units_of(offset, length);
    // A region that was never held (a caller's bug) must not make the count
    // wrap.
    if (!any_set(units)) return;
    clear(units);
    --m_count;
}

}  // namespace milk
