// milk::ExchangeLedger: the buffer ownership protocol of one end of a
// channel, written once for user space and for milk.ko.
//
// A channel's exchange heap is split into two pools, one per side
// (region_layout.hpp); wire offsets count from the start of pool 0. The
// ledger is one side's private record (never in shared memory, so a peer can
// scribble on the pools' bytes but never on who owns them) and the rules an
// untrusted peer is held to:
//
//   allocate       a block of our pool; we hold it (Held).
//   lend           one of our blocks goes out in a message: the peer has it
//                  (Lent) until it gives it back.
//   accept         a handle in a message from the peer. In OUR pool: only a
//                  block we lent and have not got back, at most its size;
//                  we hold it again (the peer handed it back). In the PEER's
//                  pool: wholly inside it, overlapping nothing we hold from
//                  it already; we now hold the region. Anything else is
//                  BadBuffer.
//   hand_back      a region of the peer's goes back to it in a message of
//                  ours: we stop holding it (the message is the return).
//   return_to_peer we dropped a region of the peer's: we stop holding it and
//                  push its handle onto the peer's return ring.
//   drain_returns  the peer dropped blocks of ours: each return-ring entry
//                  frees a block only if it names one we lent; anything else
//                  is counted and ignored.
//   free_held      we dropped a block of our own that we hold.
//
// Every step accepts only a block in the right state, so a forged, repeated
// or overlapping handle changes nothing but the verdict.
//
// Threads. Calls marked "serialised" change the allocator's free lists or the
// record of held regions and must not run concurrently (the user-space
// exchange heap holds its lock; the kernel's channel has one server at a
// time). lend() and take_back() touch one atomic byte of a block's metadata
// (buddy_allocator.hpp) and need no lock: a block going out and coming back
// costs no lock in user space.
#pragma once

#include "buddy_allocator.hpp"
#include "held_regions.hpp"
#include "region_layout.hpp"
#include "result.hpp"
#include "ring.hpp"
#include "slot.hpp"

#include <cstddef>
#include <cstdint>

namespace milk {

class ExchangeLedger {
public:
    // Which pool a handle names.
    enum class Pool : std::uint8_t { Own, Peer };

    // side: ours; our pool is pool side_index(side). pool_bytes: each pool's
    // size, a power of two.
    [[nodiscard]] static Result<ExchangeLedger> try_create(ChannelSide side, std::uint32_t pool_bytes);

    // --- our own pool ---

    // The wire offset of a Held block of at least `bytes`, or OutOfMemory.
    // Serialised.
    [[nodiscard]] Result<std::uint32_t> allocate(std::size_t bytes);
    // Held -> Lent. Precondition: the caller holds the block at `offset` (a
    // Buffer of ours). Lock-free.
    void lend(std::uint32_t offset);
    // Held -> Lent for a block named by a handle: false (nothing changes)
    // unless the handle names the start of a block of ours that we hold, at
    // least `length` bytes. Lock-free.
    [[nodiscard]] bool try_lend(WireBytes handle);
    // Frees a block of ours that we hold (a dropped buffer). Anything else
    // (our bug) is left alone and counted. Serialised.
    void free_held(std::uint32_t offset);

    // --- handles in the peer's messages ---

    // Which pool `handle` lies wholly inside, or BadBuffer. Pure.
    [[nodiscard]] Result<Pool> classify(WireBytes handle) const;
    // A handle into our pool: Lent -> Held if it names a block we lent, at
    // least `length` bytes; else BadBuffer. Lock-free.
    [[nodiscard]] Result<void> take_back(WireBytes handle);
    // A handle into the peer's pool: held from now on, unless it overlaps a
    // region held already (BadBuffer). Serialised.
    [[nodiscard]] Result<void> hold(WireBytes handle);
    // classify + take_back or hold, with the error a peer gets. Serialised.
    [[nodiscard]] Result<Pool> accept(WireBytes handle);

    // --- the peer's regions going home ---

    // We send a region of the peer's back to it: no longer held. The handle
    // is the one accepted (offset and length as they came). Serialised.
    void hand_back(WireBytes handle);
    // We dropped a region of the peer's: no longer held, and its handle goes
    // onto the peer's return ring. A full or broken ring loses the entry,
    // which only hurts the peer (counted). Serialised.
    void return_to_peer(WireBytes handle, RingProducer<WireBytes>& returns_to_peer);

    // --- our blocks coming home ---

    // Takes every entry off our return ring. CorruptRing if the peer broke
    // the ring's indices; the ledger then stops reading it (what is lent
    // stays lent; allocation goes on from what is free) and reports the
    // same error each later time. Serialised.
    [[nodiscard]] Result<void> drain_returns(RingConsumer<WireBytes>& returns_to_us);

    // Where every byte of our pool is, and what we hold of the peer's: the
    // accounting a test (or a host after a failed peer) checks. Always
    // free_bytes + held_bytes + lent_bytes == pool_bytes. Walks the
    // allocator's metadata: for diagnostics. Serialised.
    struct Usage {
        std::size_t pool_bytes = 0;
        std::size_t free_bytes = 0;
        // Blocks of our pool that we hold.
        std::size_t held_blocks = 0;
        std::size_t held_bytes = 0;
        // Blocks of our pool the peer has (sent, not yet back).
        std::size_t lent_blocks = 0;
        std::size_t lent_bytes = 0;
        // Regions of the peer's pool we hold.
        std::size_t regions_held_from_peer = 0;
        // Return-ring entries that named no block we had lent (ignored).
        std::uint64_t rejected_returns = 0;
        // Returns of the peer's regions that did not fit its return ring.
        std::uint64_t lost_returns = 0;
    };
    [[nodiscard]] Usage usage() const;

    // Cheap parts of usage(). Serialised.
    [[nodiscard]] std::size_t free_bytes() const { return m_pool.free_bytes(); }
    [[nodiscard]] std::size_t regions_held_from_peer() const { return m_held.count(); }
    [[nodiscard]] std::uint64_t rejected_returns() const { return m_rejected_returns; }
    // Blocks of ours that we hold: in user space exactly our live buffers
    // of our own pool (the heap's orphan count). Walks the metadata.
    [[nodiscard]] std::size_t held_blocks() const { return m_pool.usage().held_blocks; }

    [[nodiscard]] std::uint32_t pool_bytes() const { return m_pool.pool_bytes(); }
    [[nodiscard]] std::uint64_t own_begin() const { return m_own_begin; }
    [[nodiscard]] std::uint64_t peer_begin() const { return m_peer_begin; }

private:
    ExchangeLedger(ChannelSide side, BuddyAllocator&& pool, HeldRegions&& held);

    [[nodiscard]] std::uint32_t relative_own(std::uint64_t offset) const {
        return static_cast<std::uint32_t>(offset - m_own_begin);
    }

    BuddyAllocator m_pool;
    HeldRegions m_held;
    std::uint64_t m_own_begin = 0;   // our pool: [m_own_begin, m_own_begin + pool_bytes)
    std::uint64_t m_peer_begin = 0;  // the peer's pool
    std::uint64_t m_rejected_returns = 0;
    std::uint64_t m_lost_returns = 0;
    std::uint64_t m_bad_frees = 0;
    bool m_returns_corrupt = false;
};

}  // namespace milk
