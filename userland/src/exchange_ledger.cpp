// milk::ExchangeLedger: the ownership rules of one end of a channel.
#include "milk/exchange_ledger.hpp"

#include <span>
#include <utility>

namespace milk {

Result<ExchangeLedger> ExchangeLedger::try_create(ChannelSide side, std::uint32_t pool_bytes) {
    auto pool = MILK_TRY(BuddyAllocator::try_create(pool_bytes));
    auto held = MILK_TRY(HeldRegions::try_create(pool_bytes));
    return ExchangeLedger(side, std::move(pool), std::move(held));
}

ExchangeLedger::ExchangeLedger(ChannelSide side, BuddyAllocator&& pool, HeldRegions&& held)
    : m_pool(std::move(pool)),
      m_held(std::move(held)),
      m_own_begin(std::uint64_t{m_pool.pool_bytes()} * side_index(side)),
      m_peer_begin(std::uint64_t{m_pool.pool_bytes()} * side_index(other_side(side))) {}

Result<std::uint32_t> ExchangeLedger::allocate(std::size_t bytes) {
    const std::uint32_t block = MILK_TRY(m_pool.allocate(bytes));
    return static_cast<std::uint32_t>(m_own_begin + block);
}

void ExchangeLedger::lend(std::uint32_t offset) { m_pool.lend(relative_own(offset)); }

bool ExchangeLedger::try_lend(WireBytes handle) {
    auto pool = classify(handle);
    return pool.ok() && pool.value() == Pool::Own && m_pool.try_lend(relative_own(handle.offset), handle.length);
}

void ExchangeLedger::free_held(std::uint32_t offset) {
    const std::uint64_t wide = offset;
    // Only our own live buffers reach here, so the block is Held; checking
    // anyway keeps a bug from corrupting the free lists.
    if (wide < m_own_begin || wide >= m_own_begin + m_pool.pool_bytes() ||
        m_pool.state(relative_own(offset)) != BuddyAllocator::BlockState::Held) {
        ++m_bad_frees;
        return;
    }
    m_pool.free(relative_own(offset));
}

Result<ExchangeLedger::Pool> ExchangeLedger::classify(WireBytes handle) const {
    // 64-bit arithmetic: offset + length cannot wrap. A region must begin
    // inside a pool and end inside the same one.
    const std::uint64_t begin = handle.offset;
    const std::uint64_t end = begin + handle.length;
    const std::uint64_t pool = m_pool.pool_bytes();
    if (begin >= m_peer_begin && begin < m_peer_begin + pool && end <= m_peer_begin + pool) return Pool::Peer;
    if (begin >= m_own_begin && begin < m_own_begin + pool && end <= m_own_begin + pool) return Pool::Own;
    return Error{ErrorCode::BadBuffer, "buffer outside the sender's exchange-heap pool", handle.offset};
}

Result<void> ExchangeLedger::take_back(WireBytes handle) {
    // Fails unless the block is Lent and large enough; a block returned on
    // the ring meanwhile (the peer handing one block back twice) is free.
    if (m_pool.take_back(relative_own(handle.offset), handle.length)) return {};
    return Error{ErrorCode::BadBuffer, "buffer in our own pool that we did not lend to the peer", handle.offset};
}

Result<void> ExchangeLedger::hold(WireBytes handle) {
    if (m_held.try_hold(handle.offset - m_peer_begin, handle.length)) return {};
    return Error{ErrorCode::BadBuffer, "buffer overlaps one the peer sent before and we still hold", handle.offset};
}

Result<ExchangeLedger::Pool> ExchangeLedger::accept(WireBytes handle) {
    const Pool pool = MILK_TRY(classify(handle));
    if (pool == Pool::Own) MILK_TRY(take_back(handle));
    else MILK_TRY(hold(handle));
    return pool;
}

void ExchangeLedger::hand_back(WireBytes handle) { m_held.release(handle.offset - m_peer_begin, handle.length); }

void ExchangeLedger::return_to_peer(WireBytes handle, RingProducer<WireBytes>& returns_to_peer) {
    hand_back(handle);
    // The return ring has room for every block of the peer's pool, so it is
    // full only when the peer stopped draining or corrupted the ring.
    auto pushed = returns_to_peer.try_push(std::span<const WireBytes>(&handle, 1));
    if (!pushed.ok() || pushed.value() == 0) ++m_lost_returns;
}

Result<void> ExchangeLedger::drain_returns(RingConsumer<WireBytes>& returns_to_us) {
    if (m_returns_corrupt)
        return Error{ErrorCode::CorruptRing, "the peer corrupted its return ring earlier", 0};
    // Usually nothing came back since the last look: one load of the peer's
    // index, not a batch to set up (a corrupt index falls through to
    // try_pop, which reports it).
    if (auto ready = returns_to_us.available(); ready.ok() && ready.value() == 0) return {};
    // On the stack, and the kernel's stack is small: a few batches per
    // drain cost less than a big frame.
    WireBytes batch[16];
    for (;;) {
        auto popped = returns_to_us.try_pop(std::span<WireBytes>(batch));
        if (!popped.ok()) {
            m_returns_corrupt = true;
            return popped.error();
        }
        for (std::size_t i = 0; i < popped.value(); ++i) {
            const std::uint64_t begin = batch[i].offset;
            // Only a block we lent and have not got back is freed; the
            // length the peer wrote is not needed (our metadata knows it).
            // free_if_lent() refuses anything else, including a block taken
            // back by a concurrent take_back().
            const bool ours = begin >= m_own_begin && begin < m_own_begin + m_pool.pool_bytes();
            if (!ours || !m_pool.free_if_lent(relative_own(begin))) ++m_rejected_returns;
        }
        if (popped.value() < sizeof(batch) / sizeof(batch[0])) return {};
    }
}

ExchangeLedger::Usage ExchangeLedger::usage() const {
    const auto blocks = m_pool.usage();
    Usage usage;
    usage.pool_bytes = m_pool.pool_bytes();
    usage.free_bytes = m_pool.free_bytes();
    usage.held_blocks = blocks.held_blocks;
    usage.held_bytes = blocks.held_bytes;
    usage.lent_blocks = blocks.lent_blocks;
    usage.lent_bytes = blocks.lent_bytes;
    usage.regions_held_from_peer = m_held.count();
    usage.rejected_returns = m_rejected_returns;
    usage.lost_returns = m_lost_returns;
    return usage;
}

}  // namespace milk
