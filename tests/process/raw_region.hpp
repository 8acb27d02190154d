// The bytes of a process channel, seen by a peer that does not use milk's
// transport: it maps the memfd itself and reads and writes the control
// block, ring indices, slots, return rings and heap directly. The hostile
// peers of the tests are built on it; so are observers (has the honest side
// gone to sleep?).
//
// It follows the file format of milk/process.hpp and the region layout of
// milk/region_layout.hpp, and trusts both (a test's own channel).
#pragma once

#include "peer_process.hpp"

#include <milk/channel_region.hpp>
#include <milk/doorbell.hpp>
#include <milk/process.hpp>
#include <milk/ring.hpp>
#include <milk/slot.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace milk::test {

class RawRegion {
public:
    // Whether the peer seals the memfd after mapping it, as an honest
    // attacher does (process.cpp, attach_region): F_SEAL_FUTURE_WRITE and
    // F_SEAL_SEAL. Without, its first message closes the channel.
    enum class Seal : std::uint8_t { AsTheFormatSays, Never };

    // Maps the whole memfd; aborts (the child then ends with SIGABRT) when
    // that fails, which no test expects.
    explicit RawRegion(int fd, Seal seal = Seal::AsTheFormatSays) {
        struct stat status{};
        if (::fstat(fd, &status) != 0) fail("fstat");
        m_size = static_cast<std::size_t>(status.st_size);
        void* base = ::mmap(nullptr, m_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED) fail("mmap");
        m_file = static_cast<std::byte*>(base);
        if (seal == Seal::AsTheFormatSays) static_cast<void>(::fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE | F_SEAL_SEAL));
        std::memcpy(&m_header, m_file, sizeof m_header);
        auto layout = ChannelRegionLayout::compute(m_header.ring_capacity, m_header.pool_bytes);
        if (!layout.ok()) fail("layout");
        m_layout = layout.value();
        m_region = m_file + m_header.header_bytes;
    }
    RawRegion(const RawRegion&) = delete;
    RawRegion& operator=(const RawRegion&) = delete;
    ~RawRegion() { ::munmap(m_file, m_size); }

    [[nodiscard]] const ChannelRegionLayout& layout() const { return m_layout; }
    [[nodiscard]] std::uint32_t pool_bytes() const { return m_layout.pool_bytes; }
    [[nodiscard]] ChannelControl& control() const {
        return *reinterpret_cast<ChannelControl*>(m_region + m_layout.control_offset);
    }

    // Message ring `ring` (0: First -> Second, 1: Second -> First).
    [[nodiscard]] RingHeader& ring_header(std::size_t ring) const {
        return *reinterpret_cast<RingHeader*>(m_region + m_layout.message_ring_offset[ring]);
    }
    [[nodiscard]] Slot* ring_slots(std::size_t ring) const {
        return reinterpret_cast<Slot*>(m_region + m_layout.message_ring_offset[ring] + sizeof(RingHeader));
    }
    // Return ring `ring`: handles going home to side `ring`'s pool.
    [[nodiscard]] RingHeader& return_header(std::size_t ring) const {
        return *reinterpret_cast<RingHeader*>(m_region + m_layout.return_ring_offset[ring]);
    }
    [[nodiscard]] WireBytes* return_entries(std::size_t ring) const {
        return reinterpret_cast<WireBytes*>(m_region + m_layout.return_ring_offset[ring] + sizeof(RingHeader));
    }
    // The exchange heap: WireBytes offsets are relative to this.
    [[nodiscard]] std::byte* heap() const { return m_region + m_layout.heap_offset; }

    [[nodiscard]] static std::uint32_t load(std::uint32_t& word) {
        return std::atomic_ref<std::uint32_t>(word).load(std::memory_order_acquire);
    }
    static void store(std::uint32_t& word, std::uint32_t value) {
        std::atomic_ref<std::uint32_t>(word).store(value, std::memory_order_release);
    }

    // Writes `slot` at the producer index of message ring `ring`, publishes
    // it and rings the consumer's doorbell, as an honest producer does (but
    // without looking whether there is room).
    void publish(std::size_t ring, const Slot& slot) const {
        RingHeader& header = ring_header(ring);
        const std::uint32_t index = load(header.producer_index);
        std::memcpy(&ring_slots(ring)[index & (m_layout.ring_capacity - 1)], &slot, sizeof slot);
        store(header.producer_index, index + 1);
        ring_bell(control().data_bell[ring]);
    }

    // Takes the next slot of message ring `ring` if there is one, handing
    // its place back and ringing the producer's space doorbell.
    [[nodiscard]] std::optional<Slot> take(std::size_t ring) const {
        RingHeader& header = ring_header(ring);
        const std::uint32_t tail = load(header.consumer_index);
        if (load(header.producer_index) == tail) return std::nullopt;
        Slot slot;
        std::memcpy(&slot, &ring_slots(ring)[tail & (m_layout.ring_capacity - 1)], sizeof slot);
        store(header.consumer_index, tail + 1);
        ring_bell(control().space_bell[ring]);
        return slot;
    }

    // Waits (with a fuse) for the next slot of `ring`.
    [[nodiscard]] std::optional<Slot> take_eventually(std::size_t ring) const {
        std::optional<Slot> slot;
        eventually([&] { return (slot = take(ring)).has_value(); });
        return slot;
    }

    // Puts `handle` on return ring `ring`, as an honest side that dropped a
    // buffer of side `ring` does.
    void push_return(std::size_t ring, WireBytes handle) const {
        RingHeader& header = return_header(ring);
        const std::uint32_t index = load(header.producer_index);
        return_entries(ring)[index & (m_layout.return_ring_capacity - 1)] = handle;
        store(header.producer_index, index + 1);
    }

    // Whether the waiter of `bell` has announced that it sleeps.
    [[nodiscard]] static bool sleeping(DoorbellWord& bell) { return load(bell.state) == Doorbell::sleeping; }

    // Side `side`'s close flag and reason.
    [[nodiscard]] bool closed(ChannelSide side) const { return load(control().status[side_index(side)].closed) != 0; }
    [[nodiscard]] std::uint32_t close_reason(ChannelSide side) const {
        return load(control().status[side_index(side)].reason);
    }

    // Closes side `side` with `reason` as a peer would (or with one no honest
    // peer writes).
    void close_as(ChannelSide side, std::uint32_t reason) const {
        SideStatus& status = control().status[side_index(side)];
        store(status.reason, reason);
        store(status.closed, 1);
        ring_bell(control().data_bell[side_index(side)]);
        ring_bell(control().space_bell[side_index(other_side(side))]);
    }

    // Waits (with a fuse) until side `side` closed, and says whether it did
    // so with `reason`: 0 if so, child_gave_up if it never closed, 10 + the
    // reason it gave otherwise. What a hostile child returns as its exit code.
    [[nodiscard]] int expect_close(ChannelSide side, std::uint32_t reason) const {
        if (!eventually([&] { return closed(side); })) return child_gave_up;
        const std::uint32_t given = close_reason(side);
        return given == reason ? child_ok : 10 + static_cast<int>(given);
    }

private:
    static void ring_bell(DoorbellWord& bell) { Doorbell(&bell, WaitPolicy{}).ring(); }

    [[noreturn]] static void fail(const char* what) {
        std::fprintf(stderr, "RawRegion: %s failed\n", what);
        std::abort();
    }

    std::byte* m_file = nullptr;
    std::size_t m_size = 0;
    process::RegionFileHeader m_header{};
    ChannelRegionLayout m_layout{};
    std::byte* m_region = nullptr;
};

}  // namespace milk::test
