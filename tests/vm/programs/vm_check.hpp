// Helpers of the programs that run inside the test VM: checks that print
// where they failed and exit non-zero (the VM's /init turns the exit status
// into the MILK-TEST line), and the few steps every test repeats.
#pragma once

#include "milk_uapi.h"

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

// An echo channel created and mapped, with user space's ends of both rings.
struct EchoMapping {
    int fd = -1;
    milk_echo_create info{};
    std::byte* base = nullptr;
    RingProducer<Slot> to_kernel;
    RingConsumer<Slot> from_kernel;

    [[nodiscard]] milk_channel_status* status() const {
        return reinterpret_cast<milk_channel_status*>(base + info.status_offset);
    }
    [[nodiscard]] RingHeader* to_kernel_header() const {
        return reinterpret_cast<RingHeader*>(base + info.to_kernel_ring_offset);
    }
    [[nodiscard]] RingHeader* from_kernel_header() const {
        return reinterpret_cast<RingHeader*>(base + info.from_kernel_ring_offset);
    }
    [[nodiscard]] Slot* to_kernel_slots() const {
        return reinterpret_cast<Slot*>(base + info.to_kernel_ring_offset + sizeof(RingHeader));
    }
};

inline EchoMapping map_echo(int fd, std::uint32_t capacity) {
    EchoMapping mapping;
    mapping.fd = fd;
    mapping.info.ring_capacity = capacity;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_CREATE_ECHO, &mapping.info) == 0);
    void* base = ::mmap(nullptr, mapping.info.region_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    MILK_VM_CHECK(base != MAP_FAILED);
    mapping.base = static_cast<std::byte*>(base);
    const std::size_t ring_bytes = ring_region_bytes<Slot>(capacity);
    auto to_kernel =
        RingProducer<Slot>::attach(std::span(mapping.base + mapping.info.to_kernel_ring_offset, ring_bytes), capacity);
    MILK_VM_CHECK(to_kernel.ok());
    mapping.to_kernel = to_kernel.value();
    auto from_kernel = RingConsumer<Slot>::attach(
        std::span(mapping.base + mapping.info.from_kernel_ring_offset, ring_bytes), capacity);
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

// A valid slot: tag 1, eight bytes of payload holding `sequence`, the rest
// of the payload a pattern derived from it (so a torn or misplaced copy shows).
inline Slot make_slot(std::uint64_t sequence) {
    Slot slot;
    slot.tag = 1;
    slot.length = sizeof(std::uint64_t);
    slot.put(0, sequence);
    for (std::size_t i = sizeof(std::uint64_t); i < slot_payload_size; ++i)
        slot.payload[i] = static_cast<std::byte>((sequence * 31 + i) & 0xff);
    return slot;
}

}  // namespace milk::vm
