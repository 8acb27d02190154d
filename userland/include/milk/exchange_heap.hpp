// One side's view of a channel's exchange heap: the memory `bytes` fields
// travel in, moved between the ends by handle, never copied.
//
// The heap is split into two pools, one per side (channel_region.hpp). A side
// allocates only from its own pool, with a buddy allocator whose metadata is
// private to that side. Ownership rules (docs/runtime.md has the full story):
//
//   * allocate():  a block of our pool; we hold it (Held).
//   * export_buffer() of one of our own buffers: the block becomes Lent; the
//     peer owns the region until it gives it back.
//   * import_buffer() of a handle into the PEER's pool: allowed when it lies
//     inside the peer's pool (overflow-safe) and overlaps no region we hold
//     from the peer already (a sorted map of held regions); we now hold it.
//   * dropping a buffer we imported: the handle goes back to its owner on the
//     return ring (SPSC of WireBytes, like AF_XDP's completion ring); the owner
//     drains the ring when it allocates and frees blocks that it had lent.
//   * export_buffer() of a buffer we imported: hands it back to its owner. We
//     stop holding it (no return-ring entry: the message is the return).
//   * import_buffer() of a handle into OUR OWN pool: accepted only when it
//     names a block we lent and have not got back (the peer returning it in a
//     message); it becomes Held again. Anything else in our pool: BadBuffer.
//
// Buffer destruction can happen on any thread, so each side serialises its
// own frees and return-ring pushes with mutexes local to that side.
#pragma once

#include "buddy_allocator.hpp"
#include "buffer.hpp"
#include "channel_region.hpp"
#include "region.hpp"
#include "result.hpp"
#include "ring.hpp"
#include "slot.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

namespace milk {

class ExchangeHeapSide : public std::enable_shared_from_this<ExchangeHeapSide> {
    struct PassKey {
        explicit PassKey() = default;
    };

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

    ExchangeHeapSide(PassKey, std::shared_ptr<Region> region, Geometry geometry, BuddyAllocator pool,
                     const RingProducer<WireBytes>& returns_to_peer, const RingConsumer<WireBytes>& returns_to_us);
    ExchangeHeapSide(const ExchangeHeapSide&) = delete;
    ExchangeHeapSide& operator=(const ExchangeHeapSide&) = delete;

    // A buffer of `bytes` (>= 0) from our pool, or OutOfMemory. Drains the
    // return ring first.
    [[nodiscard]] Result<Buffer> allocate(std::size_t bytes);
    // See the rules above. InvalidArgument (nothing consumed) for a buffer of
    // another heap; aborts on a moved-from buffer.
    [[nodiscard]] Result<WireBytes> export_buffer(Buffer&& buffer);
    // See the rules above. BadBuffer (with `detail` = the offset) on any
    // violation.
    [[nodiscard]] Result<Buffer> import_buffer(WireBytes wire);
    // Takes back the buffers the peer dropped.
    void drain_returns();

    // Diagnostics (each takes its lock).
    [[nodiscard]] std::size_t free_bytes() const;
    [[nodiscard]] std::size_t regions_held_from_peer() const;
    // Return-ring entries that named no block we had lent (ignored).
    [[nodiscard]] std::uint64_t rejected_returns() const;

    // Where every byte of our pool is, and what we hold of the peer's: the
    // accounting a test (or a host after a failed peer) checks. Always
    // free_bytes + held_bytes + lent_bytes == pool_bytes.
    struct Usage {
        std::size_t pool_bytes = 0;
        std::size_t free_bytes = 0;
        // Blocks of our pool that a Buffer on our side holds.
        std::size_t held_blocks = 0;
        std::size_t held_bytes = 0;
        // Blocks of our pool the peer has (sent, not yet back).
        std::size_t lent_blocks = 0;
        std::size_t lent_bytes = 0;
        // Regions of the peer's pool a Buffer on our side holds.
        std::size_t regions_held_from_peer = 0;
        std::uint64_t rejected_returns = 0;
        // Returns of the peer's buffers that did not fit its return ring.
        std::uint64_t lost_returns = 0;
    };
    [[nodiscard]] Usage usage() const;

private:
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

    void release_own(std::uint32_t offset) noexcept;
    void release_imported(std::uint32_t offset, std::uint32_t length) noexcept;
    void drain_returns_locked();
    [[nodiscard]] Buffer make_buffer(BufferHome& home, std::uint32_t offset, std::uint32_t length);

    std::shared_ptr<Region> m_region;
    Geometry m_geometry;
    std::uint64_t m_own_begin;   // wire offsets of our pool: [m_own_begin, m_own_begin + pool_bytes)
    std::uint64_t m_peer_begin;  // wire offsets of the peer's pool
    OwnHome m_own_home{*this};
    PeerHome m_peer_home{*this};

    // Our pool, and the consuming end of the ring the peer returns our
    // buffers on (drained under the same lock, so it has one consumer).
    mutable std::mutex m_pool_mutex;
    BuddyAllocator m_pool;
    RingConsumer<WireBytes> m_returns_to_us;
    std::uint64_t m_rejected_returns = 0;
    bool m_returns_corrupt = false;

    // Regions of the peer's pool we hold (offset -> length), and the
    // producing end of the ring we return them on: pushes come from any
    // thread that drops a buffer, and this lock makes them one producer.
    mutable std::mutex m_held_mutex;
    std::map<std::uint32_t, std::uint32_t> m_held;
    RingProducer<WireBytes> m_returns_to_peer;
    std::uint64_t m_lost_returns = 0;
};

}  // namespace milk
