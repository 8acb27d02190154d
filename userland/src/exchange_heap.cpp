// milk::ExchangeHeapSide: one side's pool, its imports and its returns.
#include "milk/exchange_heap.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <utility>

namespace milk {
namespace {

// A zero-length region still occupies its first byte for the overlap check,
// so that the same empty handle cannot be imported twice.
std::uint64_t occupied_end(std::uint64_t begin, std::uint32_t length) { return begin + (length == 0 ? 1 : length); }

}  // namespace

Result<std::shared_ptr<ExchangeHeapSide>> ExchangeHeapSide::try_create(std::shared_ptr<Region> region,
                                                                      Geometry geometry,
                                                                      const RingProducer<WireBytes>& returns_to_peer,
                                                                      const RingConsumer<WireBytes>& returns_to_us) {
    if (!region || geometry.heap_base == nullptr)
        return Error{ErrorCode::InvalidArgument, "exchange heap without memory", 0};
    const auto heap_end = geometry.heap_base + 2 * std::size_t{geometry.pool_bytes};
    if (geometry.heap_base < region->base() || heap_end > region->base() + region->size())
        return Error{ErrorCode::InvalidArgument, "exchange heap does not fit its region", 0};
    auto pool = BuddyAllocator::try_create(geometry.pool_bytes);
    if (!pool.ok()) return pool.error();
    return std::make_shared<ExchangeHeapSide>(PassKey{}, std::move(region), geometry, std::move(pool).value(),
                                              returns_to_peer, returns_to_us);
}

ExchangeHeapSide::ExchangeHeapSide(PassKey, std::shared_ptr<Region> region, Geometry geometry, BuddyAllocator pool,
                                   const RingProducer<WireBytes>& returns_to_peer,
                                   const RingConsumer<WireBytes>& returns_to_us)
    : m_region(std::move(region)),
      m_geometry(geometry),
      m_own_begin(std::uint64_t{geometry.pool_bytes} * side_index(geometry.side)),
      m_peer_begin(std::uint64_t{geometry.pool_bytes} * side_index(other_side(geometry.side))),
      m_pool(std::move(pool)),
      m_returns_to_us(returns_to_us),
      m_returns_to_peer(returns_to_peer) {}

Buffer ExchangeHeapSide::make_buffer(BufferHome& home, std::uint32_t offset, std::uint32_t length) {
    // The aliasing constructor: the buffer's home pointer shares ownership of
    // this whole heap side (and through it, of the mapped region).
    return Buffer(std::shared_ptr<BufferHome>(shared_from_this(), &home), m_geometry.heap_base + offset, offset,
                  length);
}

Result<Buffer> ExchangeHeapSide::allocate(std::size_t bytes) {
    std::uint32_t offset = 0;
    {
        std::lock_guard lock(m_pool_mutex);
        drain_returns_locked();
        auto block = m_pool.allocate(bytes);
        if (!block.ok()) return block.error();
        offset = static_cast<std::uint32_t>(m_own_begin + block.value());
    }
    return make_buffer(m_own_home, offset, static_cast<std::uint32_t>(bytes));
}

Result<WireBytes> ExchangeHeapSide::export_buffer(Buffer&& buffer) {
    if (!buffer.valid()) {
        std::fprintf(stderr, "milk: use of a moved-from Buffer: export_buffer\n");
        std::fflush(stderr);
        std::abort();
    }
    if (m_own_home.holds(buffer)) {
        const auto parts = OwnHome::take(std::move(buffer));
        std::lock_guard lock(m_pool_mutex);
        m_pool.set_state(static_cast<std::uint32_t>(parts.offset - m_own_begin), BuddyAllocator::BlockState::Lent);
        return WireBytes{parts.offset, parts.length};
    }
    if (m_peer_home.holds(buffer)) {
        // Handing a buffer back to its owner: the message itself is the
        // return, so no return-ring entry; the owner re-imports it.
        const auto parts = PeerHome::take(std::move(buffer));
        std::lock_guard lock(m_held_mutex);
        m_held.erase(parts.offset);
        return WireBytes{parts.offset, parts.length};
    }
    return Error{ErrorCode::InvalidArgument,
                 "buffer belongs to another exchange heap (another channel, or the other end of this one); only "
                 "buffers allocated or received on this endpoint can be sent on it",
                 0};
}

Result<Buffer> ExchangeHeapSide::import_buffer(WireBytes wire) {
    // 64-bit arithmetic: offset + length cannot wrap.
    const std::uint64_t begin = wire.offset;
    const std::uint64_t end = begin + wire.length;
    const std::uint64_t pool = m_geometry.pool_bytes;

    if (begin >= m_peer_begin && begin < m_peer_begin + pool && end <= m_peer_begin + pool) {
        std::lock_guard lock(m_held_mutex);
        const std::uint64_t occupied = occupied_end(begin, wire.length);
        auto next = m_held.upper_bound(wire.offset);
        if (next != m_held.end() && next->first < occupied)
            return Error{ErrorCode::BadBuffer, "buffer overlaps one the peer sent before and we still hold",
                         wire.offset};
        if (next != m_held.begin()) {
            const auto previous = std::prev(next);
            if (occupied_end(previous->first, previous->second) > begin)
                return Error{ErrorCode::BadBuffer, "buffer overlaps one the peer sent before and we still hold",
                             wire.offset};
        }
        m_held.emplace_hint(next, wire.offset, wire.length);
        // make_buffer only builds the handle; holding the lock is harmless.
        return make_buffer(m_peer_home, wire.offset, wire.length);
    }

    if (begin >= m_own_begin && begin < m_own_begin + pool) {
        const auto relative = static_cast<std::uint32_t>(begin - m_own_begin);
        {
            std::lock_guard lock(m_pool_mutex);
            if (m_pool.state(relative) != BuddyAllocator::BlockState::Lent || wire.length > m_pool.block_size(relative))
                return Error{ErrorCode::BadBuffer, "buffer in our own pool that we did not lend to the peer",
                             wire.offset};
            m_pool.set_state(relative, BuddyAllocator::BlockState::Held);
        }
        return make_buffer(m_own_home, wire.offset, wire.length);
    }

    return Error{ErrorCode::BadBuffer, "buffer outside the sender's exchange-heap pool", wire.offset};
}

void ExchangeHeapSide::OwnHome::release(std::uint32_t offset, std::uint32_t) noexcept { m_heap.release_own(offset); }

void ExchangeHeapSide::PeerHome::release(std::uint32_t offset, std::uint32_t length) noexcept {
    m_heap.release_imported(offset, length);
}

void ExchangeHeapSide::release_own(std::uint32_t offset) noexcept {
    std::lock_guard lock(m_pool_mutex);
    const auto relative = static_cast<std::uint32_t>(offset - m_own_begin);
    // Only buffers this side made reach here, so the block is allocated;
    // checking anyway keeps a bug from corrupting the free lists.
    if (m_pool.state(relative) != BuddyAllocator::BlockState::NotAllocated) m_pool.free(relative);
}

void ExchangeHeapSide::release_imported(std::uint32_t offset, std::uint32_t length) noexcept {
    std::lock_guard lock(m_held_mutex);
    m_held.erase(offset);
    const WireBytes handle{offset, length};
    auto pushed = m_returns_to_peer.try_push(std::span<const WireBytes>(&handle, 1));
    // The return ring has room for every buffer of the peer's pool, so it is
    // full only when the peer stopped draining or corrupted the ring; the
    // block is then lost to the peer, which only hurts the peer.
    if (!pushed.ok() || pushed.value() == 0) ++m_lost_returns;
}

void ExchangeHeapSide::drain_returns() {
    std::lock_guard lock(m_pool_mutex);
    drain_returns_locked();
}

void ExchangeHeapSide::drain_returns_locked() {
    if (m_returns_corrupt) return;
    std::array<WireBytes, 64> batch;
    for (;;) {
        auto popped = m_returns_to_us.try_pop(batch);
        if (!popped.ok()) {
            // The peer broke the ring; stop trusting it. What is lent stays
            // lent, and allocation goes on from what is free.
            m_returns_corrupt = true;
            return;
        }
        for (std::size_t i = 0; i < popped.value(); ++i) {
            const std::uint64_t begin = batch[i].offset;
            const auto relative = static_cast<std::uint32_t>(begin - m_own_begin);
            // Only a block we lent and have not got back may be freed; the
            // length the peer wrote is not needed (our metadata knows it).
            if (begin >= m_own_begin && begin < m_own_begin + m_geometry.pool_bytes &&
                m_pool.state(relative) == BuddyAllocator::BlockState::Lent) {
                m_pool.free(relative);
            } else {
                ++m_rejected_returns;
            }
        }
        if (popped.value() < batch.size()) return;
    }
}

std::size_t ExchangeHeapSide::free_bytes() const {
    std::lock_guard lock(m_pool_mutex);
    return m_pool.free_bytes();
}

std::size_t ExchangeHeapSide::regions_held_from_peer() const {
    std::lock_guard lock(m_held_mutex);
    return m_held.size();
}

std::uint64_t ExchangeHeapSide::rejected_returns() const {
    std::lock_guard lock(m_pool_mutex);
    return m_rejected_returns;
}

ExchangeHeapSide::Usage ExchangeHeapSide::usage() const {
    Usage usage;
    {
        std::lock_guard lock(m_pool_mutex);
        const auto blocks = m_pool.usage();
        usage.pool_bytes = m_pool.pool_bytes();
        usage.free_bytes = m_pool.free_bytes();
        usage.held_blocks = blocks.held_blocks;
        usage.held_bytes = blocks.held_bytes;
        usage.lent_blocks = blocks.lent_blocks;
        usage.lent_bytes = blocks.lent_bytes;
        usage.rejected_returns = m_rejected_returns;
    }
    std::lock_guard lock(m_held_mutex);
    usage.regions_held_from_peer = m_held.size();
    usage.lost_returns = m_lost_returns;
    return usage;
}

}  // namespace milk
