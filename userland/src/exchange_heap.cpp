// milk::ExchangeHeapSide: one side's pool, its imports and its returns.
#include "milk/exchange_heap.hpp"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>

namespace milk {

Result<std::shared_ptr<ExchangeHeapSide>> ExchangeHeapSide::try_create(std::shared_ptr<Region> region,
                                                                      Geometry geometry,
                                                                      const RingProducer<WireBytes>& returns_to_peer,
                                                                      const RingConsumer<WireBytes>& returns_to_us) {
    if (!region || geometry.heap_base == nullptr)
        return Error{ErrorCode::InvalidArgument, "exchange heap without memory", 0};
    const auto heap_end = geometry.heap_base + 2 * std::size_t{geometry.pool_bytes};
    if (geometry.heap_base < region->base() || heap_end > region->base() + region->size())
        return Error{ErrorCode::InvalidArgument, "exchange heap does not fit its region", 0};
    auto ledger = MILK_TRY(ExchangeLedger::try_create(geometry.side, geometry.pool_bytes));
    // Orphan, not delete, when the last copy goes: buffers may still point
    // at this side (see the top of exchange_heap.hpp).
    return std::shared_ptr<ExchangeHeapSide>(
        new ExchangeHeapSide(std::move(region), geometry, std::move(ledger), returns_to_peer, returns_to_us),
        Orphan{});
}

ExchangeHeapSide::ExchangeHeapSide(std::shared_ptr<Region> region, Geometry geometry, ExchangeLedger&& ledger,
                                   const RingProducer<WireBytes>& returns_to_peer,
                                   const RingConsumer<WireBytes>& returns_to_us)
    : m_region(std::move(region)),
      m_geometry(geometry),
      m_ledger(std::move(ledger)),
      m_returns_to_us(returns_to_us),
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
        m_live_after_orphan = m_ledger.held_blocks() + m_ledger.regions_held_from_peer();
        last = m_live_after_orphan == 0;
    }
    if (last) delete this;
}

bool ExchangeHeapSide::buffer_gone_locked() noexcept { return m_orphaned && --m_live_after_orphan == 0; }

Result<Buffer> ExchangeHeapSide::allocate(std::size_t bytes) {
    std::uint32_t offset = 0;
    {
        std::lock_guard lock(m_lock);
        // A peer that broke the return ring gets CorruptRing here, and the
        // transport closes the channel with it (region_transport.cpp), as
        // milk.ko does: draining no more and lending on would leave every
        // later block lent until the pool ran out.
        MILK_TRY(m_ledger.drain_returns(m_returns_to_us));
        offset = MILK_TRY(m_ledger.allocate(bytes));
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
        m_ledger.lend(parts.offset);
        return WireBytes{parts.offset, parts.length};
    }
    if (m_peer_home.holds(buffer)) {
        // Handing a buffer back to its owner: the message itself is the
        // return, so no return-ring entry; the owner re-imports it.
        const auto parts = PeerHome::take(std::move(buffer));
        std::lock_guard lock(m_lock);
        m_ledger.hand_back(WireBytes{parts.offset, parts.capacity});
        return WireBytes{parts.offset, parts.length};
    }
    return Error{ErrorCode::InvalidArgument,
                 "buffer belongs to another exchange heap (another channel, or the other end of this one); only "
                 "buffers allocated or received on this endpoint can be sent on it",
                 0};
}

Result<Buffer> ExchangeHeapSide::import_buffer(WireBytes wire) {
    const ExchangeLedger::Pool pool = MILK_TRY(m_ledger.classify(wire));
    if (pool == ExchangeLedger::Pool::Own) {
        // No lock: taking back is one compare-and-swap on the block's state,
        // which fails unless the block is Lent and large enough.
        MILK_TRY(m_ledger.take_back(wire));
        return Buffer(&m_own_home, m_geometry.heap_base + wire.offset, wire.offset, wire.length);
    }
    {
        std::lock_guard lock(m_lock);
        MILK_TRY(m_ledger.hold(wire));
    }
    return Buffer(&m_peer_home, m_geometry.heap_base + wire.offset, wire.offset, wire.length);
}

void ExchangeHeapSide::OwnHome::release(std::uint32_t offset, std::uint32_t) noexcept { m_heap.release_own(offset); }

void ExchangeHeapSide::PeerHome::release(std::uint32_t offset, std::uint32_t length) noexcept {
    m_heap.release_imported(offset, length);
}

void ExchangeHeapSide::release_own(std::uint32_t offset) noexcept {
    bool last = false;
    {
        std::lock_guard lock(m_lock);
        m_ledger.free_held(offset);
        last = buffer_gone_locked();
    }
    // Nothing touches the side after the unlock above but this.
    if (last) delete this;
}

void ExchangeHeapSide::release_imported(std::uint32_t offset, std::uint32_t length) noexcept {
    bool last = false;
    {
        std::lock_guard lock(m_lock);
        // A full or broken return ring loses the entry, which only hurts
        // the peer (counted in usage().lost_returns).
        m_ledger.return_to_peer(WireBytes{offset, length}, m_returns_to_peer);
        last = buffer_gone_locked();
    }
    if (last) delete this;
}

Result<void> ExchangeHeapSide::drain_returns() {
    std::lock_guard lock(m_lock);
    return m_ledger.drain_returns(m_returns_to_us);
}

std::size_t ExchangeHeapSide::free_bytes() const {
    std::lock_guard lock(m_lock);
    return m_ledger.free_bytes();
}

std::size_t ExchangeHeapSide::regions_held_from_peer() const {
    std::lock_guard lock(m_lock);
    return m_ledger.regions_held_from_peer();
}

std::uint64_t ExchangeHeapSide::rejected_returns() const {
    std::lock_guard lock(m_lock);
    return m_ledger.rejected_returns();
}

ExchangeHeapSide::Usage ExchangeHeapSide::usage() const {
    std::lock_guard lock(m_lock);
    return m_ledger.usage();
}

}  // namespace milk
