#include "echo_channel.hpp"

#include "kernel_log.hpp"

#include <atomic>
#include <span>

namespace milk::kernel {

Result<EchoLayout> EchoLayout::compute(std::uint32_t ring_capacity) {
    if (!valid_ring_capacity(ring_capacity) || ring_capacity < MILK_ECHO_MIN_CAPACITY ||
        ring_capacity > MILK_ECHO_MAX_CAPACITY)
        return Error{ErrorCode::InvalidArgument, "echo ring capacity must be a power of two in [2, 4096]",
                     ring_capacity};
    EchoLayout layout;
    layout.ring_capacity = ring_capacity;
    layout.status_offset = 0;
    // Each ring starts on its own cache line, as ring.hpp requires.
    layout.to_kernel_ring_offset = sizeof(milk_channel_status);
    layout.from_kernel_ring_offset = layout.to_kernel_ring_offset + ring_region_bytes<Slot>(ring_capacity);
    layout.bytes = layout.from_kernel_ring_offset + ring_region_bytes<Slot>(ring_capacity);
    return layout;
}

Result<void> check_slot_header(const Slot& slot) {
    if (slot.tag == 0) return Error{ErrorCode::ProtocolViolation, "slot tag 0 is never valid", 0};
    if (slot.length > slot_payload_size)
        return Error{ErrorCode::ProtocolViolation, "slot length exceeds the payload", slot.length};
    if (slot.flags != 0) return Error{ErrorCode::ProtocolViolation, "slot flags must be zero", slot.flags};
    return {};
}

Result<Owned<EchoChannel>> EchoChannel::try_create(std::uint32_t ring_capacity) {
    auto layout = EchoLayout::compute(ring_capacity);
    if (!layout.ok()) return layout.error();
    auto region = KernelRegion::try_create(layout->bytes);
    if (!region.ok()) return region.error();

    // The region is fresh (vmalloc_user zeroes it) and not yet mapped, so no
    // one else can see the rings while they are set up.
    std::byte* base = region->base();
    const std::size_t ring_bytes = ring_region_bytes<Slot>(ring_capacity);
    initialise_ring(base + layout->to_kernel_ring_offset);
    initialise_ring(base + layout->from_kernel_ring_offset);
    auto to_kernel =
        RingConsumer<Slot>::attach(std::span(base + layout->to_kernel_ring_offset, ring_bytes), ring_capacity);
    if (!to_kernel.ok()) return to_kernel.error();
    auto from_kernel =
        RingProducer<Slot>::attach(std::span(base + layout->from_kernel_ring_offset, ring_bytes), ring_capacity);
    if (!from_kernel.ok()) return from_kernel.error();

    return Owned<EchoChannel>::try_create(std::move(region).value(), layout.value(), to_kernel.value(),
                                          from_kernel.value());
}

EchoChannel::EchoChannel(KernelRegion&& region, const EchoLayout& layout, const RingConsumer<Slot>& to_kernel,
                         const RingProducer<Slot>& from_kernel)
    : m_to_kernel(to_kernel), m_from_kernel(from_kernel), m_region(std::move(region)), m_layout(layout) {}

Error EchoChannel::close_with(const Error& error) {
    m_closed = true;
    // The status block is shared memory: written here, never read back.
    auto* status = reinterpret_cast<milk_channel_status*>(m_region.base() + m_layout.status_offset);
    std::atomic_ref<milk_s64>(status->detail).store(error.detail, std::memory_order_relaxed);
    std::atomic_ref<milk_u32>(status->reason).store(static_cast<milk_u32>(error.code), std::memory_order_relaxed);
    std::atomic_ref<milk_u32>(status->closed).store(1, std::memory_order_release);
    log(MILK_LOG_INFO, error.what != nullptr ? error.what : describe(error.code), error.detail);
    return error;
}

Result<std::uint32_t> EchoChannel::kick() {
    if (m_closed) return Error{ErrorCode::PeerClosed, "echo channel is closed", 0};
    // One ring's worth per kick: a peer that keeps producing from another
    // thread cannot hold the kernel in this loop.
    const std::uint32_t budget = m_layout.ring_capacity;
    std::uint32_t echoed = 0;
    while (echoed < budget) {
        auto space = m_from_kernel.free_slots(1);
        if (!space.ok()) return close_with(space.error());
        std::uint32_t wanted = space.value();
        if (wanted == 0) break;
        if (wanted > batch_slots) wanted = batch_slots;
        if (wanted > budget - echoed) wanted = budget - echoed;

        auto popped = m_to_kernel.try_pop(std::span<Slot>(m_batch, wanted));
        if (!popped.ok()) return close_with(popped.error());
        if (popped.value() == 0) break;
        const auto count = static_cast<std::uint32_t>(popped.value());
        for (std::uint32_t i = 0; i < count; ++i)
            if (auto checked = check_slot_header(m_batch[i]); !checked.ok()) return close_with(checked.error());

        auto pushed = m_from_kernel.try_push(std::span<const Slot>(m_batch, count));
        if (!pushed.ok()) return close_with(pushed.error());
        // An honest consumer only ever frees space, so fewer pushed than the
        // free count promised means the consumer index moved backwards.
        if (pushed.value() != count)
            return close_with(Error{ErrorCode::CorruptRing, "from-kernel ring lost space it had", count});
        echoed += count;
    }
    return echoed;
}

}  // namespace milk::kernel
