// milk::kernel::EchoChannel: the first kernel-side component, an echo.
//
// User space produces slots on the to-kernel ring and kicks; the kernel
// copies each slot out once, checks its header, and produces it on the
// from-kernel ring. Both rings are milk::RingProducer / RingConsumer from
// userland/include/milk/ring.hpp, the same code user space runs, so the
// kernel's checks of the peer's indices are the runtime's checks.
#pragma once

#include "kernel_region.hpp"
#include "milk_uapi.h"
#include "owned.hpp"

#include <milk/result.hpp>
#include <milk/ring.hpp>
#include <milk/slot.hpp>

#include <cstddef>
#include <cstdint>

namespace milk::kernel {

// Where things lie in an echo channel's region (see milk_uapi.h).
struct EchoLayout {
    std::uint32_t ring_capacity = 0;
    std::size_t status_offset = 0;
    std::size_t to_kernel_ring_offset = 0;
    std::size_t from_kernel_ring_offset = 0;
    std::size_t bytes = 0;  // before rounding up to pages

    // InvalidArgument unless capacity is a power of two within the
    // MILK_ECHO_*_CAPACITY bounds.
    [[nodiscard]] static Result<EchoLayout> compute(std::uint32_t ring_capacity);
};

class EchoChannel {
public:
    [[nodiscard]] static Result<Owned<EchoChannel>> try_create(std::uint32_t ring_capacity);

    EchoChannel(KernelRegion&& region, const EchoLayout& layout, const RingConsumer<Slot>& to_kernel,
                const RingProducer<Slot>& from_kernel);
    EchoChannel(const EchoChannel&) = delete;
    EchoChannel& operator=(const EchoChannel&) = delete;

    // The doorbell: echoes up to one ring's worth of slots and returns how
    // many. On the first violation (a corrupt index, a slot with tag 0, a
    // length beyond the payload, non-zero flags) the channel closes, the
    // status block says why, and the error is returned; every later kick
    // returns PeerClosed.
    [[nodiscard]] Result<std::uint32_t> kick();

    [[nodiscard]] const EchoLayout& layout() const { return m_layout; }
    [[nodiscard]] const KernelRegion& region() const { return m_region; }

private:
    // Copies of slots in flight: a member, not a local, so the kernel stack
    // stays small and never needs realigning to 64 bytes.
    static constexpr std::uint32_t batch_slots = 8;

    [[nodiscard]] Error close_with(const Error& error);

    RingConsumer<Slot> m_to_kernel;
    RingProducer<Slot> m_from_kernel;
    Slot m_batch[batch_slots];
    KernelRegion m_region;
    EchoLayout m_layout;
    bool m_closed = false;
};

// Checks one slot's header as every receiver must before looking at its
// payload. `slot` is the kernel's private copy, never the shared one.
[[nodiscard]] Result<void> check_slot_header(const Slot& slot);

}  // namespace milk::kernel
