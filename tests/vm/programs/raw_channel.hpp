// A component channel driven by hand, for the hostile tests: the region
// mapped and laid out with the runtime's ChannelRegionLayout, and raw access
// to everything in it, so that a test can write exactly the bytes an honest
// client never would.
#pragma once

#include "vm_check.hpp"

#include <milk/region_layout.hpp>

#include <poll.h>

#include <cstring>

namespace milk::vm {

struct RawChannel {
    int fd = -1;
    milk_channel_open info{};
    ChannelRegionLayout layout{};
    std::byte* base = nullptr;
    std::uint32_t sent = 0;      // our producer index of message ring 0
    std::uint32_t received = 0;  // our consumer index of message ring 1
    std::uint32_t returned = 0;  // our producer index of return ring 1

    [[nodiscard]] RingHeader* ring_header(std::size_t offset) const {
        return reinterpret_cast<RingHeader*>(base + offset);
    }
    [[nodiscard]] RingHeader* to_kernel() const { return ring_header(layout.message_ring_offset[0]); }
    [[nodiscard]] RingHeader* from_kernel() const { return ring_header(layout.message_ring_offset[1]); }
    [[nodiscard]] RingHeader* returns_to_kernel() const { return ring_header(layout.return_ring_offset[1]); }
    [[nodiscard]] Slot* to_kernel_slot(std::uint32_t index) const {
        return reinterpret_cast<Slot*>(base + layout.message_ring_offset[0] + sizeof(RingHeader)) +
               (index & (layout.ring_capacity - 1));
    }
    [[nodiscard]] const Slot* from_kernel_slot(std::uint32_t index) const {
        return reinterpret_cast<const Slot*>(base + layout.message_ring_offset[1] + sizeof(RingHeader)) +
               (index & (layout.ring_capacity - 1));
    }
    [[nodiscard]] WireBytes* return_entry(std::uint32_t index) const {
        return reinterpret_cast<WireBytes*>(base + layout.return_ring_offset[1] + sizeof(RingHeader)) +
               (index & (layout.return_ring_capacity - 1));
    }
    [[nodiscard]] SideStatus& kernel_status() const {
        return reinterpret_cast<ChannelControl*>(base + layout.control_offset)->status[1];
    }

    // Publishes one slot on message ring 0 (no kick).
    void put(const Slot& slot) {
        std::memcpy(static_cast<void*>(to_kernel_slot(sent)), &slot, sizeof(Slot));
        ++sent;
        std::atomic_ref<std::uint32_t>(to_kernel()->producer_index).store(sent, std::memory_order_release);
    }
    // Takes one reply if there is one.
    bool take(Slot& slot) {
        const auto published =
            std::atomic_ref<std::uint32_t>(from_kernel()->producer_index).load(std::memory_order_acquire);
        if (published == received) return false;
        std::memcpy(&slot, from_kernel_slot(received), sizeof(Slot));
        ++received;
        std::atomic_ref<std::uint32_t>(from_kernel()->consumer_index).store(received, std::memory_order_release);
        return true;
    }
    // Sends a kernel buffer home on return ring 1.
    void give_back(WireBytes handle) {
        *return_entry(returned) = handle;
        ++returned;
        std::atomic_ref<std::uint32_t>(returns_to_kernel()->producer_index).store(returned, std::memory_order_release);
    }
};

// The component milk.ko serves `contract` with (components/CMakeLists.txt).
inline const char* component_for(const char* contract) {
    if (std::strcmp(contract, "examples.pingpong.PingPong") == 0) return "echo";
    if (std::strcmp(contract, "examples.files.FileService") == 0) return "files";
    if (std::strcmp(contract, "examples.tally.Tally") == 0) return "tally";
    return "none";
}

inline RawChannel open_raw(const char* contract, std::uint32_t capacity = 8, std::uint32_t pool = 64 * 1024,
                           bool map = true, std::uint32_t flags = 0, const milk_settings& settings = {}) {
    RawChannel channel;
    channel.fd = open_device();
    std::strncpy(channel.info.component, component_for(contract), sizeof(channel.info.component) - 1);
    std::strncpy(channel.info.contract, contract, sizeof(channel.info.contract) - 1);
    channel.info.version = served_version(component_for(contract));
    channel.info.ring_capacity = capacity;
    channel.info.pool_bytes = pool;
    channel.info.flags = flags;
    channel.info.settings = settings;
    MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_OPEN_CHANNEL, &channel.info) == 0);
    auto layout = ChannelRegionLayout::compute(capacity, pool);
    MILK_VM_CHECK(layout.ok());
    channel.layout = layout.value();
    MILK_VM_CHECK(channel.info.heap_offset == channel.layout.heap_offset);
    MILK_VM_CHECK(channel.info.region_bytes >= channel.layout.total_bytes);
    if (map) {
        void* base = ::mmap(nullptr, channel.info.region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, channel.fd, 0);
        MILK_VM_CHECK(base != MAP_FAILED);
        channel.base = static_cast<std::byte*>(base);
    }
    return channel;
}

inline void close_raw(RawChannel& channel) {
    if (channel.base != nullptr) MILK_VM_CHECK(::munmap(channel.base, channel.info.region_bytes) == 0);
    MILK_VM_CHECK(::close(channel.fd) == 0);
    channel.base = nullptr;
    channel.fd = -1;
}

// What the kernel said when it closed the channel.
inline milk_channel_error channel_error(const RawChannel& channel) {
    milk_channel_error record{};
    MILK_VM_CHECK(::ioctl(channel.fd, MILK_IOC_CHANNEL_ERROR, &record) == 0);
    return record;
}

// The poll() bits of the channel's fd, without waiting.
inline short poll_bits(int fd) {
    pollfd entry{fd, POLLIN, 0};
    MILK_VM_CHECK(::poll(&entry, 1, 0) >= 0);
    return entry.revents;
}

}  // namespace milk::vm
