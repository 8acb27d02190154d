// Helpers of the programs that run inside the test VM: checks that print
// where they failed and exit non-zero (the VM's /init turns the exit status
// into the MILK-TEST line), and the few steps every test repeats.
#pragma once

#include "milk_uapi.h"

#include <milk/region_layout.hpp>
#include <milk/ring.hpp>
#include <milk/slot.hpp>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

// Checks a condition; on failure prints the expression, the place and errno.
#define MILK_VM_CHECK(condition)                                                                            \
    do {                                                                                                    \
        if (!(condition)) {                                                                                 \
            const int milk_vm_errno_ = errno;                                                               \
            std::fprintf(stderr, "%s:%d: check failed: %s (errno %d: %s)\n", __FILE__, __LINE__, #condition, \
                         milk_vm_errno_, std::strerror(milk_vm_errno_));                                    \
            std::exit(1);                                                                                   \
        }                                                                                                   \
    } while (0)

// Checks that a call failed with -1 and exactly the expected errno.
#define MILK_VM_CHECK_ERRNO(call, expected)                                                                 \
    do {                                                                                                    \
        errno = 0;                                                                                          \
        const long milk_vm_result_ = static_cast<long>(call);                                               \
        const int milk_vm_errno_ = errno;                                                                   \
        if (milk_vm_result_ != -1 || milk_vm_errno_ != (expected)) {                                        \
            /* strerror's buffer may be reused by the next call: copy the first text. */                    \
            char milk_vm_got_[64];                                                                          \
            std::snprintf(milk_vm_got_, sizeof(milk_vm_got_), "%s", std::strerror(milk_vm_errno_));          \
            std::fprintf(stderr, "%s:%d: %s returned %ld errno %d (%s), expected -1 errno %d (%s)\n", __FILE__, \
                         __LINE__, #call, milk_vm_result_, milk_vm_errno_, milk_vm_got_, (expected),        \
                         std::strerror(expected));                                                          \
            std::exit(1);                                                                                   \
        }                                                                                                   \
    } while (0)

namespace milk::vm {

inline int open_device() {
    const int fd = ::open("/dev/milk", O_RDWR | O_CLOEXEC);
    MILK_VM_CHECK(fd >= 0);
    return fd;
}

// The identity (contract version) of the contract the kernel component
// `component` serves, as MILK_IOC_COMPONENT_INFO reports it: for the raw
// programs, which speak a contract without its generated C++ (the typed
// ones use Contract::version).
inline std::uint32_t served_version(const char* component) {
    const int fd = open_device();
    milk_component_info info{};
    std::strncpy(info.component, component, sizeof(info.component) - 1);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_COMPONENT_INFO, &info) == 0);
    ::close(fd);
    return info.version;
}

// A channel to the echo component (examples.pingpong.PingPong) opened and
// mapped, with user space's ends of both message rings: the raw rings of the
// ring and mapping tests. Each slot user space sends is a Ping whose buffer
// lies in user space's pool (make_slot); the echo answers it with a Pong of
// the same number and the same buffer (make_reply).
struct EchoMapping {
    int fd = -1;
    milk_channel_open info{};
    ChannelRegionLayout layout{};
    std::byte* base = nullptr;
    RingProducer<Slot> to_kernel;
    RingConsumer<Slot> from_kernel;

    // The kernel's status block (side Second) in the region's control block.
    [[nodiscard]] SideStatus* status() const {
        return &reinterpret_cast<ChannelControl*>(base + layout.control_offset)->status[1];
    }
    [[nodiscard]] RingHeader* to_kernel_header() const {
        return reinterpret_cast<RingHeader*>(base + layout.message_ring_offset[0]);
    }
    [[nodiscard]] RingHeader* from_kernel_header() const {
        return reinterpret_cast<RingHeader*>(base + layout.message_ring_offset[1]);
    }
    [[nodiscard]] Slot* to_kernel_slots() const {
        return reinterpret_cast<Slot*>(base + layout.message_ring_offset[0] + sizeof(RingHeader));
    }
    [[nodiscard]] const Slot* from_kernel_slots() const {
        return reinterpret_cast<const Slot*>(base + layout.message_ring_offset[1] + sizeof(RingHeader));
    }
};

inline constexpr std::uint32_t echo_pool_bytes = 64 * 1024;

inline EchoMapping map_echo(int fd, std::uint32_t capacity) {
    EchoMapping mapping;
    mapping.fd = fd;
    std::strncpy(mapping.info.component, "echo", sizeof(mapping.info.component) - 1);
    std::strncpy(mapping.info.contract, "examples.pingpong.PingPong", sizeof(mapping.info.contract) - 1);
    mapping.info.version = served_version("echo");
    mapping.info.ring_capacity = capacity;
    mapping.info.pool_bytes = echo_pool_bytes;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_OPEN_CHANNEL, &mapping.info) == 0);
    auto layout = ChannelRegionLayout::compute(capacity, echo_pool_bytes);
    MILK_VM_CHECK(layout.ok());
    mapping.layout = layout.value();
    void* base = ::mmap(nullptr, mapping.info.region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    MILK_VM_CHECK(base != MAP_FAILED);
    mapping.base = static_cast<std::byte*>(base);
    const std::size_t ring_bytes = ring_region_bytes<Slot>(capacity);
    auto to_kernel = RingProducer<Slot>::attach(std::span(mapping.base + mapping.layout.message_ring_offset[0], ring_bytes),
                                                capacity);
    MILK_VM_CHECK(to_kernel.ok());
    mapping.to_kernel = to_kernel.value();
    auto from_kernel = RingConsumer<Slot>::attach(
        std::span(mapping.base + mapping.layout.message_ring_offset[1], ring_bytes), capacity);
    MILK_VM_CHECK(from_kernel.ok());
    mapping.from_kernel = from_kernel.value();
    return mapping;
}

inline void unmap_and_close(EchoMapping& mapping) {
    MILK_VM_CHECK(::munmap(mapping.base, mapping.info.region_bytes) == 0);
    MILK_VM_CHECK(::close(mapping.fd) == 0);
    mapping.base = nullptr;
    mapping.fd = -1;
}

// PingPong's wire form (contracts/pingpong.contract): Ping = tag 1, Pong =
// tag 2, each { u32 seq; u32 offset; u32 length } (the `bytes` handle).
inline constexpr std::uint16_t ping_tag = 1;
inline constexpr std::uint16_t pong_tag = 2;
inline constexpr std::uint16_t ping_length = 12;

// The slot of a message of `tag` numbered `sequence`, carrying 8 bytes of
// user space's pool at a place derived from the number: the rest of the
// slot is zero, as the kernel writes its replies.
inline Slot sequenced_slot(std::uint16_t tag, std::uint64_t sequence) {
    Slot slot;
    slot.tag = tag;
    slot.length = ping_length;
    slot.put(0, static_cast<std::uint32_t>(sequence));
    slot.put(4, static_cast<std::uint32_t>((sequence % 512) * 64));
    slot.put(8, std::uint32_t{8});
    return slot;
}

// A valid Ping numbered `sequence`.
inline Slot make_slot(std::uint64_t sequence) { return sequenced_slot(ping_tag, sequence); }
// The echo's answer to make_slot(sequence), byte for byte.
inline Slot make_reply(std::uint64_t sequence) { return sequenced_slot(pong_tag, sequence); }

}  // namespace milk::vm
