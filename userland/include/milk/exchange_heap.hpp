// One side's view of a channel's exchange heap: the memory `bytes` fields
// travel in, moved between the ends by handle, never copied.
//
// The heap is split into two pools, one per side (channel_region.hpp). The
// ownership rules (allocate, lend, take back, hold, hand back, return) are
// milk::ExchangeLedger's (exchange_ledger.hpp), the one implementation that
// the kernel's end of a channel uses too; this class adds what user space
// needs on top: Buffers and their homes, a lock, and a lifetime that
// outlives the channel. In terms of Buffers:
//
//   * allocate():  a block of our pool; we hold it.
//   * export_buffer() of one of our own buffers: the block is lent.
//   * export_buffer() of a buffer we imported: handed back to its owner
//     (no return-ring entry: the message is the return).
//   * import_buffer(): the ledger's accept (a block we lent coming back, or
//     a region of the peer's pool we did not hold yet).
//   * dropping a buffer we imported: its handle goes back to its owner on
//     the return ring (SPSC of WireBytes, like AF_XDP's completion ring);
//     the owner drains the ring when it allocates.
//
// What it costs. A block of our own going out and coming back (export, then
// import of the handle the peer hands back) takes no lock: the Held/Lent state
// is the block's metadata byte in the allocator, an atomic; lending is a
// store by the holder, taking back a compare-and-swap that races only with
// the return ring's drain (exactly one wins). Everything else (allocating,
// freeing, draining, the bitmap of regions held from the peer and the pushes
// onto the return ring) is serialised by one small lock per side: a spinlock,
// because its critical sections are a few dozen instructions and, under
// emulation (QEMU TCG), each atomic is dear and a std::mutex takes two of
// them where the spinlock takes one (and a plain store to unlock). A thread
// that spins too long yields, so a preempted holder costs a yield, not a
// time slice. Buffers hold a plain pointer to their home, no reference count.
//
// Lifetime. Buffers may outlive the channel and be dropped on any thread, so
// the heap side must outlive them. The shared_ptr try_create() returns does
// not delete the side when its last copy goes: it orphans it. Orphaning
// counts (under the lock) the buffers still alive, which are exactly the
// Held blocks of our pool and the regions we hold from the peer; every later
// drop counts down, and the side deletes itself when none is left. Lent
// blocks do not keep it alive: nobody can take them back once the channel is
// gone. Only drops can race with orphaning (every other call goes through a
// shared_ptr copy), which is what makes the count exact.
#pragma once

#include "buffer.hpp"
#include "channel_region.hpp"
#include "exchange_ledger.hpp"
#include "region.hpp"
#include "result.hpp"
#include "ring.hpp"
#include "slot.hpp"

#include <cstddef>
#include <cstdint>
#include <atomic>
#include <memory>

namespace milk {

// enable_shared_from_this: a holder of the side (a transport) can hand out
// another copy of the shared_ptr try_create() returned (process.cpp does,
// for diagnostics); the hot paths never touch it.
class ExchangeHeapSide : public std::enable_shared_from_this<ExchangeHeapSide> {
public:
    struct Geometry {
        std::byte* heap_base = nullptr;  // start of pool 0 in this side's mapping
        std::uint32_t pool_bytes = 0;
        ChannelSide side = ChannelSide::First;  // our pool is pool side_index(side)
    };

    // returns_to_peer: we produce handles of the peer's buffers we dropped.
    // returns_to_us: the peer produces handles of our buffers it dropped.
    // `region` keeps the memory mapped for as long as any buffer lives.
    [[nodiscard]] static Result<std::shared_ptr<ExchangeHeapSide>> try_create(std::shared_ptr<Region> region,
                                                                            Geometry geometry,
                                                                            const RingProducer<WireBytes>& returns_to_peer,
                                                                            const RingConsumer<WireBytes>& returns_to_us);

    ExchangeHeapSide(const ExchangeHeapSide&) = delete;
    ExchangeHeapSide& operator=(const ExchangeHeapSide&) = delete;

    // A buffer of `bytes` (>= 0) from our pool, or OutOfMemory. Drains the
    // return ring first: CorruptRing (from then on) if the peer broke it.
    [[nodiscard]] Result<Buffer> allocate(std::size_t bytes);
    // See the rules above. InvalidArgument (nothing consumed) for a buffer of
    // another heap; aborts on a moved-from buffer.
    [[nodiscard]] Result<WireBytes> export_buffer(Buffer&& buffer);
    // See the rules above. BadBuffer (with `detail` = the offset) on any
    // violation.
    [[nodiscard]] Result<Buffer> import_buffer(WireBytes wire);
    // Takes back the buffers the peer dropped. CorruptRing (from then on)
    // if the peer broke the return ring.
    [[nodiscard]] Result<void> drain_returns();

    // Diagnostics (each takes the lock).
    [[nodiscard]] std::size_t free_bytes() const;
    [[nodiscard]] std::size_t regions_held_from_peer() const;
    // Return-ring entries that named no block we had lent (ignored).
    [[nodiscard]] std::uint64_t rejected_returns() const;

    // Where every byte of our pool is, and what we hold of the peer's
    // (exchange_ledger.hpp).
    using Usage = ExchangeLedger::Usage;
    [[nodiscard]] Usage usage() const;

private:
    // A test-and-test-and-set lock: one atomic exchange to take, a release
    // store to give back (see the top of this file for why not std::mutex).
    class SpinLock {
    public:
        void lock() noexcept {
            if (!m_locked.exchange(true, std::memory_order_acquire)) return;
            lock_contended();
        }
        void unlock() noexcept { m_locked.store(false, std::memory_order_release); }

    private:
        void lock_contended() noexcept;
        std::atomic<bool> m_locked{false};
    };

    // Where our own buffers go home: straight back to the allocator.
    class OwnHome final : public BufferHome {
    public:
        explicit OwnHome(ExchangeHeapSide& heap) : m_heap(heap) {}
        void release(std::uint32_t offset, std::uint32_t length) noexcept override;
        [[nodiscard]] bool holds(const Buffer& buffer) const noexcept { return is_home_of(buffer); }
        [[nodiscard]] static Detached take(Buffer&& buffer) noexcept { return detach(std::move(buffer)); }

    private:
        ExchangeHeapSide& m_heap;
    };
    // Where imported buffers go: onto the return ring, to their owner.
    class PeerHome final : public BufferHome {
    public:
        explicit PeerHome(ExchangeHeapSide& heap) : m_heap(heap) {}
        void release(std::uint32_t offset, std::uint32_t length) noexcept override;
        [[nodiscard]] bool holds(const Buffer& buffer) const noexcept { return is_home_of(buffer); }
        [[nodiscard]] static Detached take(Buffer&& buffer) noexcept { return detach(std::move(buffer)); }

    private:
        ExchangeHeapSide& m_heap;
    };

    // The deleter of the shared_ptr try_create() returns.
    struct Orphan {
        void operator()(ExchangeHeapSide* heap) const noexcept { heap->orphan(); }
    };

    ExchangeHeapSide(std::shared_ptr<Region> region, Geometry geometry, ExchangeLedger&& ledger,
                     const RingProducer<WireBytes>& returns_to_peer, const RingConsumer<WireBytes>& returns_to_us);
    ~ExchangeHeapSide() = default;

    void orphan() noexcept;
    // After orphaning: one buffer fewer; true when it was the last (the
    // caller deletes the side once it has unlocked). Under the lock.
    [[nodiscard]] bool buffer_gone_locked() noexcept;
    void release_own(std::uint32_t offset) noexcept;
    void release_imported(std::uint32_t offset, std::uint32_t length) noexcept;
    std::shared_ptr<Region> m_region;
    Geometry m_geometry;
    OwnHome m_own_home{*this};
    PeerHome m_peer_home{*this};

    // Guards everything below except the ledger's lock-free calls (lend,
    // take_back: exchange_ledger.hpp).
    mutable SpinLock m_lock;

    // Who owns which block; the consuming end of the ring the peer returns
    // our blocks on (drained under the lock, so it has one consumer); the
    // producing end of the ring we return the peer's on (pushes come from
    // any thread that drops a buffer, and the lock makes them one producer).
    ExchangeLedger m_ledger;
    RingConsumer<WireBytes> m_returns_to_us;
    RingProducer<WireBytes> m_returns_to_peer;

    // Set when the last shared_ptr went; then the buffers still alive.
    bool m_orphaned = false;
    std::size_t m_live_after_orphan = 0;
};

}  // namespace milk
