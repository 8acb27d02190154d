// milk::HeldRegions: the starts and ends of the peer-pool regions this side
// holds.
#include "milk/held_regions.hpp"

namespace milk {

Result<HeldRegions> HeldRegions::try_create(std::uint32_t pool_bytes) {
    HeldRegions regions;
    const std::size_t units = (std::size_t{pool_bytes} + unit_bytes - 1) / unit_bytes;
    regions.m_starts = MILK_TRY(BitTree::try_create(units));
    regions.m_ends = MILK_TRY(BitTree::try_create(units));
    return regions;
}

HeldRegions::Units HeldRegions::units_of(std::uint64_t offset, std::uint32_t length) {
    const std::uint64_t end = offset + (length == 0 ? 1 : length);
    return Units{offset / unit_bytes, (end - 1) / unit_bytes};
}

bool HeldRegions::try_hold(std::uint64_t offset, std::uint32_t length) {
    const Units units = units_of(offset, length);
    // Only the held region that starts last at or before our last unit can
    // overlap us: any region starting earlier ends before that one starts.
    const std::size_t before = m_starts.find_at_or_before(units.last);
    if (before != BitTree::none && m_ends.find_at_or_after(before) >= units.first) return false;
    m_starts.set(units.first);
    m_ends.set(units.last);
    ++m_count;
    return true;
}

void HeldRegions::release(std::uint64_t offset, std::uint32_t length) {
    const Units units = units_of(offset, length);
    // Exactly a held region, or nothing: a region never held (a caller's
    // bug) must neither make the count wrap nor cut a held region's record.
    if (!m_starts.test(units.first) || m_ends.find_at_or_after(units.first) != units.last) return;
    m_starts.clear(units.first);
    m_ends.clear(units.last);
    --m_count;
}

}  // namespace milk
