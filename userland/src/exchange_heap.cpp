// milk::ExchangeHeapSide: one side's pool, its imports and its returns.
#include "milk/exchange_heap.hpp"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
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
    // Orphan, not delete, when the last copy goes: buffers may still point
    // at this side (see the top of exchange_heap.hpp).
    return std::shared_ptr<ExchangeHeapSide>(
        new ExchangeHeapSide(std::move(region), geometry, std::move(pool).value(), returns_to_peer, returns_to_us),
        Orphan{});
}

ExchangeHeapSide::ExchangeHeapSide(std::shared_ptr<Region> region, Geometry geometry, BuddyAllocator pool,
                                   const RingProducer<WireBytes>& returns_to_peer,
                                   const RingConsumer<WireBytes>& returns_to_us)
    : m_region(std::move(region)),
      m_geometry(geometry),
      m_own_begin(std::uint64_t{geometry.pool_bytes} * side_index(geometry.side)),
      m_peer_begin(std::uint64_t{geometry.pool_bytes} * side_index(other_side(geometry.side))),
      m_pool(std::move(pool)),
      m_returns_to_us(returns_to_us),
      m_held_units((geometry.pool_bytes / BuddyAllocator::min_block + 63) / 64, 0),
      m_returns_to_peer(returns_to_peer) {}

void ExchangeHeapSide::SpinLock::lock_contended() noexcept {
    for (;;) {
        // Spin on a plain load (no cache-line ping-pong) for about as long
        // as a critical section takes, then let the holder run.
        for (int spin = 0; spin < 128; ++spin) {
            if (!m_locked.load(std::memory_order_relaxed) && !m_locked.exchange(true, std::memory_order_acquire))
                return;
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            asm volatile("yield");
#endif
        }
        std::this_thread::yield();
    }
}

void ExchangeHeapSide::orphan() noexcept {
    bool last = false;
    {
        std::lock_guard lock(m_lock);
        // Only drops can run now: every other call needs a shared_ptr copy.
        // So the Held blocks are exactly our buffers still alive.
        m_orphaned = true;
        m_live_after_orphan = m_pool.usage().held_blocks + m_held_regions;
        last = m_live_after_orphan == 0;
    }
    if (last) delete this;
}

bool ExchangeHeapSide::buffer_gone_locked() noexcept { return m_orphaned && --m_live_after_orphan == 0; }

Result<Buffer> ExchangeHeapSide::allocate(std::size_t bytes) {
    std::uint32_t offset = 0;
    {
        std::lock_guard lock(m_lock);
        drain_returns_locked();
        auto block = m_pool.allocate(bytes);
        if (!block.ok()) return block.error();
        offset = static_cast<std::uint32_t>(m_own_begin + block.value());
    }
    return Buffer(&m_own_home, m_geometry.heap_base + offset, offset, static_cast<std::uint32_t>(bytes));
}

Result<WireBytes> ExchangeHeapSide::export_buffer(Buffer&& buffer) {
    if (!buffer.valid()) {
        std::fprintf(stderr, "milk: use of a moved-from Buffer: export_buffer\n");
        std::fflush(stderr);
        std::abort();
    }
    if (m_own_home.holds(buffer)) {
        // No lock: we hold the block, so only we move it (buddy_allocator.hpp).
        const auto parts = OwnHome::take(std::move(buffer));
        m_pool.lend(static_cast<std::uint32_t>(parts.offset - m_own_begin));
        return WireBytes{parts.offset, parts.length};
    }
    if (m_peer_home.holds(buffer)) {
        // Handing a buffer back to its owner: the message itself is the
        // return, so no return-ring entry; the owner re-imports it.
        const auto parts = PeerHome::take(std::move(buffer));
        const Units units = peer_units(parts.offset, parts.capacity);
        std::lock_guard lock(m_lock);
        clear_held_locked(units.first, units.last);
        --m_held_regions;
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
        const Units units = peer_units(begin, wire.length);
        {
            std::lock_guard lock(m_lock);
            if (any_held_locked(units.first, units.last))
                return Error{ErrorCode::BadBuffer, "buffer overlaps one the peer sent before and we still hold",
                             wire.offset};
            set_held_locked(units.first, units.last);
            ++m_held_regions;
        }
        return Buffer(&m_peer_home, m_geometry.heap_base + wire.offset, wire.offset, wire.length);
    }

    if (begin >= m_own_begin && begin < m_own_begin + pool) {
        // No lock: taking back is one compare-and-swap on the block's state,
        // which fails unless the block is Lent and large enough.
        if (!m_pool.take_back(static_cast<std::uint32_t>(begin - m_own_begin), wire.length))
            return Error{ErrorCode::BadBuffer, "buffer in our own pool that we did not lend to the peer",
                         wire.offset};
        return Buffer(&m_own_home, m_geometry.heap_base + wire.offset, wire.offset, wire.length);
    }

    return Error{ErrorCode::BadBuffer, "buffer outside the sender's exchange-heap pool", wire.offset};
}

void ExchangeHeapSide::OwnHome::release(std::uint32_t offset, std::uint32_t) noexcept { m_heap.release_own(offset); }

void ExchangeHeapSide::PeerHome::release(std::uint32_t offset, std::uint32_t length) noexcept {
    m_heap.release_imported(offset, length);
}

void ExchangeHeapSide::release_own(std::uint32_t offset) noexcept {
    bool last = false;
    {
        std::lock_guard lock(m_lock);
        const auto relative = static_cast<std::uint32_t>(offset - m_own_begin);
        // Only buffers this side made reach here, so the block is Held;
        // checking anyway keeps a bug from corrupting the free lists.
        if (m_pool.state(relative) == BuddyAllocator::BlockState::Held) m_pool.free(relative);
        last = buffer_gone_locked();
    }
    // Nothing touches the side after the unlock above but this.
    if (last) delete this;
}

void ExchangeHeapSide::release_imported(std::uint32_t offset, std::uint32_t length) noexcept {
    const Units units = peer_units(offset, length);
    bool last = false;
    {
        std::lock_guard lock(m_lock);
        clear_held_locked(units.first, units.last);
        --m_held_regions;
        const WireBytes handle{offset, length};
        auto pushed = m_returns_to_peer.try_push(std::span<const WireBytes>(&handle, 1));
        // The return ring has room for every buffer of the peer's pool, so it
        // is full only when the peer stopped draining or corrupted the ring;
        // the block is then lost to the peer, which only hurts the peer.
        if (!pushed.ok() || pushed.value() == 0) ++m_lost_returns;
        last = buffer_gone_locked();
    }
    if (last) delete this;
}

ExchangeHeapSide::Units ExchangeHeapSide::peer_units(std::uint64_t offset, std::uint32_t length) const {
    const std::uint64_t relative = offset - m_peer_begin;
    return Units{relative / BuddyAllocator::min_block,
                 (occupied_end(relative, length) - 1) / BuddyAllocator::min_block};
}

namespace {

// The bits of word `word` that the unit range [first, last] covers.
std::uint64_t word_mask(std::uint64_t word, std::uint64_t first, std::uint64_t last) {
    const std::uint64_t low = word == first / 64 ? first % 64 : 0;
    const std::uint64_t high = word == last / 64 ? last % 64 : 63;
    return (~std::uint64_t{0} >> (63 - high)) & (~std::uint64_t{0} << low);
}

}  // namespace

bool ExchangeHeapSide::any_held_locked(std::uint64_t first, std::uint64_t last) const {
    for (std::uint64_t word = first / 64; word <= last / 64; ++word)
        if ((m_held_units[word] & word_mask(word, first, last)) != 0) return true;
    return false;
}

void ExchangeHeapSide::set_held_locked(std::uint64_t first, std::uint64_t last) {
    for (std::uint64_t word = first / 64; word <= last / 64; ++word) m_held_units[word] |= word_mask(word, first, last);
}

void ExchangeHeapSide::clear_held_locked(std::uint64_t first, std::uint64_t last) {
    for (std::uint64_t word = first / 64; word <= last / 64; ++word)
        m_held_units[word] &= ~word_mask(word, first, last);
}

void ExchangeHeapSide::drain_returns() {
    std::lock_guard lock(m_lock);
    drain_returns_locked();
}

void ExchangeHeapSide::drain_returns_locked() {
    if (m_returns_corrupt) return;
    // Usually nothing came back since the last allocation: one load of the
    // peer's index, not a batch buffer to set up (a corrupt index falls
    // through to try_pop, which reports it).
    if (auto ready = m_returns_to_us.available(); ready.ok() && ready.value() == 0) return;
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
            // Only a block we lent and have not got back may be freed; the
            // length the peer wrote is not needed (our metadata knows it).
            // free_if_lent() refuses anything else, including a block taken
            // back by a concurrent import_buffer().
            if (!(begin >= m_own_begin && begin < m_own_begin + m_geometry.pool_bytes &&
                  m_pool.free_if_lent(static_cast<std::uint32_t>(begin - m_own_begin))))
                ++m_rejected_returns;
        }
        if (popped.value() < batch.size()) return;
    }
}

std::size_t ExchangeHeapSide::free_bytes() const {
    std::lock_guard lock(m_lock);
    return m_pool.free_bytes();
}

std::size_t ExchangeHeapSide::regions_held_from_peer() const {
    std::lock_guard lock(m_lock);
    return m_held_regions;
}

std::uint64_t ExchangeHeapSide::rejected_returns() const {
    std::lock_guard lock(m_lock);
    return m_rejected_returns;
}

ExchangeHeapSide::Usage ExchangeHeapSide::usage() const {
    Usage usage;
    std::lock_guard lock(m_lock);
    const auto blocks = m_pool.usage();
    usage.pool_bytes = m_pool.pool_bytes();
    usage.free_bytes = m_pool.free_bytes();
    usage.held_blocks = blocks.held_blocks;
    usage.held_bytes = blocks.held_bytes;
    usage.lent_blocks = blocks.lent_blocks;
    usage.lent_bytes = blocks.lent_bytes;
    usage.rejected_returns = m_rejected_returns;
    usage.regions_held_from_peer = m_held_regions;
    usage.lost_returns = m_lost_returns;
    return usage;
}

}  // namespace milk
