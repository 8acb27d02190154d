// The binary buddy allocator behind each side's exchange-heap pool.
#include "milk/buddy_allocator.hpp"

#include <bit>

namespace milk {

Result<BuddyAllocator> BuddyAllocator::try_create(std::uint32_t pool_bytes) {
    // Not std::has_single_bit: without -mpopcnt (the kernel's flags) it
    // becomes a call to libgcc's __popcountdi2, which milk.ko cannot link.
    const bool power_of_two = pool_bytes != 0 && (pool_bytes & (pool_bytes - 1)) == 0;
    if (!power_of_two || pool_bytes < min_block || pool_bytes > (1u << 30))
        return Error{ErrorCode::InvalidArgument, "pool size must be a power of two in [64, 2^30]", pool_bytes};
    BuddyAllocator allocator;
    allocator.m_pool_bytes = pool_bytes;
    allocator.m_max_order = static_cast<std::uint32_t>(std::countr_zero(pool_bytes / min_block));
    const std::uint32_t units = pool_bytes / min_block;
    allocator.m_units = units;
    // Value-initialised: every unit starts at zero (not a block start).
    using Meta = FixedArray<std::atomic<std::uint8_t>>;
    using Links = FixedArray<std::uint32_t>;
    allocator.m_meta = MILK_TRY(Meta::try_create(units, Meta::Fill::Zero));
    allocator.m_next = MILK_TRY(Links::try_create(units, Links::Fill::Uninitialised));
    allocator.m_prev = MILK_TRY(Links::try_create(units, Links::Fill::Uninitialised));
    allocator.m_free_head.fill(none);
    allocator.push_free(0, allocator.m_max_order);
    allocator.m_free_bytes = pool_bytes;
    return allocator;
}

void BuddyAllocator::push_free(std::uint32_t unit, std::uint32_t order) {
    set_meta(unit, static_cast<std::uint8_t>((order + 1) | free_bit));
    m_prev[unit] = none;
    m_next[unit] = m_free_head[order];
    if (m_free_head[order] != none) m_prev[m_free_head[order]] = unit;
    m_free_head[order] = unit;
}

void BuddyAllocator::remove_free(std::uint32_t unit, std::uint32_t order) {
    if (m_prev[unit] != none) m_next[m_prev[unit]] = m_next[unit];
    else m_free_head[order] = m_next[unit];
    if (m_next[unit] != none) m_prev[m_next[unit]] = m_prev[unit];
    set_meta(unit, 0);
}

bool BuddyAllocator::is_free_of_order(std::uint32_t unit, std::uint32_t order) const {
    return meta(unit) == static_cast<std::uint8_t>((order + 1) | free_bit);
}

bool BuddyAllocator::coalesce() {
    bool merged = false;
    // Smallest first, so that a pair merged at one order is considered again
    // at the next: one pass leaves no two free buddies of the same order.
    for (std::uint32_t order = 0; order < m_max_order; ++order) {
        const std::uint32_t half = 1u << order;
        for (std::uint32_t unit = 0; unit < m_units; unit += 2 * half) {
            if (!is_free_of_order(unit, order) || !is_free_of_order(unit + half, order)) continue;
            remove_free(unit, order);
            remove_free(unit + half, order);
            push_free(unit, order + 1);
            merged = true;
        }
    }
    return merged;
}

Result<std::uint32_t> BuddyAllocator::allocate(std::size_t bytes) {
    if (bytes > m_pool_bytes)
        return Error{ErrorCode::OutOfMemory, "buffer larger than the exchange heap pool", static_cast<std::int64_t>(bytes)};
    const auto block = std::bit_ceil(static_cast<std::uint32_t>(bytes < min_block ? min_block : bytes));
    const auto order = static_cast<std::uint32_t>(std::countr_zero(block / min_block));
    std::uint32_t found = order;
    while (found <= m_max_order && m_free_head[found] == none) ++found;
    if (found > m_max_order && m_unmerged_frees > 0 && block <= m_free_bytes) {
        // Only now is merging worth its pass over the metadata.
        m_unmerged_frees = 0;
        if (coalesce()) {
            found = order;
            while (found <= m_max_order && m_free_head[found] == none) ++found;
        }
    }
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
    // Released by the lock the caller serialises with, or by whatever hands
    // the new buffer to another thread; relaxed is enough.
    set_meta(unit, static_cast<std::uint8_t>(order + 1));
    m_free_bytes -= block;
    return unit * min_block;
}

void BuddyAllocator::release_block(std::uint32_t unit, std::uint8_t block_meta) {
    const auto order = static_cast<std::uint32_t>(block_meta & order_mask) - 1;
    m_free_bytes += min_block << order;
    push_free(unit, order);
    ++m_unmerged_frees;
}

void BuddyAllocator::free(std::uint32_t offset) {
    const std::uint32_t unit = offset / min_block;
    release_block(unit, meta(unit));
}

bool BuddyAllocator::free_if_lent(std::uint32_t offset) {
    if (offset >= m_pool_bytes || offset % min_block != 0) return false;
    const std::uint32_t unit = offset / min_block;
    std::uint8_t current = m_meta[unit].load(std::memory_order_acquire);
    if ((current & (lent_bit | free_bit)) != lent_bit || (current & order_mask) == 0) return false;
    // A concurrent take_back() of the same block (the peer sending it back
    // in a message as well as returning it) may win; then it stays Held.
    if (!m_meta[unit].compare_exchange_strong(current, 0, std::memory_order_acq_rel, std::memory_order_acquire))
        return false;
    release_block(unit, current);
    return true;
}

BuddyAllocator::BlockState BuddyAllocator::state(std::uint32_t offset) const {
    if (offset >= m_pool_bytes || offset % min_block != 0) return BlockState::NotAllocated;
    const std::uint8_t current = m_meta[offset / min_block].load(std::memory_order_acquire);
    if ((current & order_mask) == 0 || (current & free_bit) != 0) return BlockState::NotAllocated;
    return (current & lent_bit) != 0 ? BlockState::Lent : BlockState::Held;
}

std::uint32_t BuddyAllocator::block_size(std::uint32_t offset) const {
    return min_block << ((m_meta[offset / min_block].load(std::memory_order_acquire) & order_mask) - 1);
}

void BuddyAllocator::lend(std::uint32_t offset) {
    // Only the holder moves a Held block, so nothing else writes this byte
    // now: a plain store (no read-modify-write) is enough. Release, so that
    // whoever takes it back or frees it sees the block as it was lent.
    auto& unit = m_meta[offset / min_block];
    unit.store(static_cast<std::uint8_t>(unit.load(std::memory_order_relaxed) | lent_bit), std::memory_order_release);
}

bool BuddyAllocator::try_lend(std::uint32_t offset, std::uint64_t length) {
    if (offset >= m_pool_bytes || offset % min_block != 0) return false;
    auto& unit = m_meta[offset / min_block];
    std::uint8_t current = unit.load(std::memory_order_acquire);
    if ((current & (lent_bit | free_bit)) != 0 || (current & order_mask) == 0) return false;
    if (length > (std::uint64_t{min_block} << ((current & order_mask) - 1))) return false;
    return unit.compare_exchange_strong(current, static_cast<std::uint8_t>(current | lent_bit),
                                        std::memory_order_acq_rel, std::memory_order_acquire);
}

bool BuddyAllocator::take_back(std::uint32_t offset, std::uint64_t length) {
    if (offset >= m_pool_bytes || offset % min_block != 0) return false;
    auto& unit = m_meta[offset / min_block];
    std::uint8_t current = unit.load(std::memory_order_acquire);
    if ((current & (lent_bit | free_bit)) != lent_bit || (current & order_mask) == 0) return false;
    if (length > (std::uint64_t{min_block} << ((current & order_mask) - 1))) return false;
    // Fails if the block was freed (returned on the ring) or taken back by
    // another thread since the load: both are the peer handing over one
    // block twice.
    return unit.compare_exchange_strong(current, static_cast<std::uint8_t>(current & ~lent_bit),
                                        std::memory_order_acq_rel, std::memory_order_acquire);
}

BuddyAllocator::Usage BuddyAllocator::usage() const {
    Usage usage;
    for (std::uint32_t unit = 0; unit < m_units; ++unit) {
        const std::uint8_t current = meta(unit);
        if ((current & order_mask) == 0 || (current & free_bit) != 0) continue;
        const std::size_t bytes = std::size_t{min_block} << ((current & order_mask) - 1);
        if ((current & lent_bit) != 0) {
            ++usage.lent_blocks;
            usage.lent_bytes += bytes;
        } else {
            ++usage.held_blocks;
            usage.held_bytes += bytes;
        }
    }
    return usage;
}

}  // namespace milk
