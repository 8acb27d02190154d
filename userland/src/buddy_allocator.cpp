// The binary buddy allocator behind each side's exchange-heap pool.
#include "milk/buddy_allocator.hpp"

#include <bit>

namespace milk {

Result<BuddyAllocator> BuddyAllocator::try_create(std::uint32_t pool_bytes) {
    if (!std::has_single_bit(pool_bytes) || pool_bytes < min_block || pool_bytes > (1u << 30))
        return Error{ErrorCode::InvalidArgument, "pool size must be a power of two in [64, 2^30]", pool_bytes};
    BuddyAllocator allocator;
    allocator.m_pool_bytes = pool_bytes;
    allocator.m_max_order = static_cast<std::uint32_t>(std::countr_zero(pool_bytes / min_block));
    const std::uint32_t units = pool_bytes / min_block;
    allocator.m_meta.assign(units, 0);
    allocator.m_next = std::make_unique_for_overwrite<std::uint32_t[]>(units);
    allocator.m_prev = std::make_unique_for_overwrite<std::uint32_t[]>(units);
    allocator.m_free_head.fill(none);
    allocator.push_free(0, allocator.m_max_order);
    allocator.m_free_bytes = pool_bytes;
    return allocator;
}

void BuddyAllocator::push_free(std::uint32_t unit, std::uint32_t order) {
    m_meta[unit] = static_cast<std::uint8_t>((order + 1) | free_bit);
    m_prev[unit] = none;
    m_next[unit] = m_free_head[order];
    if (m_free_head[order] != none) m_prev[m_free_head[order]] = unit;
    m_free_head[order] = unit;
}

void BuddyAllocator::remove_free(std::uint32_t unit, std::uint32_t order) {
    if (m_prev[unit] != none) m_next[m_prev[unit]] = m_next[unit];
    else m_free_head[order] = m_next[unit];
    if (m_next[unit] != none) m_prev[m_next[unit]] = m_prev[unit];
    m_meta[unit] = 0;
}

Result<std::uint32_t> BuddyAllocator::allocate(std::size_t bytes) {
    if (bytes > m_pool_bytes)
        return Error{ErrorCode::OutOfMemory, "buffer larger than the exchange heap pool", static_cast<std::int64_t>(bytes)};
    const auto block = std::bit_ceil(static_cast<std::uint32_t>(bytes < min_block ? min_block : bytes));
    const auto order = static_cast<std::uint32_t>(std::countr_zero(block / min_block));
    std::uint32_t found = order;
    while (found <= m_max_order && m_free_head[found] == none) ++found;
    if (found > m_max_order)
        return Error{ErrorCode::OutOfMemory, "exchange heap pool has no free block that large",
                     static_cast<std::int64_t>(bytes)};
    const std::uint32_t unit = m_free_head[found];
    remove_free(unit, found);
    // Split down to the wanted order; each split frees the upper half.
    while (found > order) {
        --found;
        push_free(unit + (1u << found), found);
    }
    m_meta[unit] = static_cast<std::uint8_t>(order + 1);
    m_free_bytes -= block;
    return unit * min_block;
}

void BuddyAllocator::free(std::uint32_t offset) {
    std::uint32_t unit = offset / min_block;
    std::uint32_t order = static_cast<std::uint32_t>(m_meta[unit] & order_mask) - 1;
    m_free_bytes += min_block << order;
    m_meta[unit] = 0;
    // Merge with the buddy while it is a free block of the same order.
    while (order < m_max_order) {
        const std::uint32_t buddy = unit ^ (1u << order);
        const std::uint8_t meta = m_meta[buddy];
        if ((meta & free_bit) == 0 || (meta & order_mask) != order + 1) break;
        remove_free(buddy, order);
        unit = unit < buddy ? unit : buddy;
        ++order;
    }
    push_free(unit, order);
}

bool BuddyAllocator::is_allocated_start(std::uint32_t offset) const {
    if (offset >= m_pool_bytes || offset % min_block != 0) return false;
    const std::uint8_t meta = m_meta[offset / min_block];
    return (meta & order_mask) != 0 && (meta & free_bit) == 0;
}

BuddyAllocator::BlockState BuddyAllocator::state(std::uint32_t offset) const {
    if (!is_allocated_start(offset)) return BlockState::NotAllocated;
    return (m_meta[offset / min_block] & lent_bit) != 0 ? BlockState::Lent : BlockState::Held;
}

std::uint32_t BuddyAllocator::block_size(std::uint32_t offset) const {
    return min_block << ((m_meta[offset / min_block] & order_mask) - 1);
}

BuddyAllocator::Usage BuddyAllocator::usage() const {
    Usage usage;
    for (std::size_t unit = 0; unit < m_meta.size(); ++unit) {
        const std::uint8_t meta = m_meta[unit];
        if ((meta & order_mask) == 0 || (meta & free_bit) != 0) continue;
        const std::size_t bytes = std::size_t{min_block} << ((meta & order_mask) - 1);
        if ((meta & lent_bit) != 0) {
            ++usage.lent_blocks;
            usage.lent_bytes += bytes;
        } else {
            ++usage.held_blocks;
            usage.held_bytes += bytes;
        }
    }
    return usage;
}

void BuddyAllocator::set_state(std::uint32_t offset, BlockState to) {
    std::uint8_t& meta = m_meta[offset / min_block];
    meta = static_cast<std::uint8_t>(to == BlockState::Lent ? (meta | lent_bit) : (meta & ~lent_bit));
}

}  // namespace milk
