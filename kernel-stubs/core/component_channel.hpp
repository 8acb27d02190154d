// milk::kernel::ComponentChannel: the kernel's end of a `kernel` transport
// channel, with the component that serves it.
//
// The region is laid out by the runtime's own ChannelRegionLayout
// (milk/region_layout.hpp), so user space attaches an unchanged
// RegionTransport to it as side First. The kernel is side Second: it
// consumes message ring 0 and return ring 1, produces message ring 1 and
// return ring 0, and allocates from pool 1. Everything it keeps about the
// channel (ring indices, the protocol state, who holds which block of its
// pool, the pools' bounds) lives here, in kernel memory; what it reads from
// the region is copied once and checked.
//
// The doorbell is MILK_IOC_KICK: kick() drains the returns, then takes,
// validates and handles messages while there is room for their replies.
// Components run inline in the kick, in the calling process's context.
#pragma once

#include "component.hpp"
#include "kernel_pool.hpp"
#include "kernel_region.hpp"
#include "milk_uapi.h"
#include "owned.hpp"

#include <milk/region_layout.hpp>
#include <milk/result.hpp>
#include <milk/ring.hpp>
#include <milk/slot.hpp>

#include <cstddef>
#include <cstdint>

namespace milk::kernel {

class ComponentChannel final : private ChannelContext {
public:
    [[nodiscard]] static Result<Owned<ComponentChannel>> try_create(const ContractEntry& entry,
                                                                    std::uint32_t ring_capacity,
                                                                    std::uint32_t pool_bytes, void* waker);

    ComponentChannel(const ContractEntry& entry, Owned<Component>&& component, KernelRegion&& region,
                     const ChannelRegionLayout& layout, KernelPool&& pool, void* waker);
    ComponentChannel(const ComponentChannel&) = delete;
    ComponentChannel& operator=(const ComponentChannel&) = delete;
    ~ComponentChannel();

    // Attaches the rings; only try_create calls it.
    [[nodiscard]] Result<void> attach();

    // The doorbell: how many messages it took. On the first violation the
    // channel closes (status block, error record, log line) and the error
    // is returned; later kicks return PeerClosed.
    [[nodiscard]] Result<std::uint32_t> kick();

    // milk_poll_bits.
    [[nodiscard]] unsigned int poll();

    // The serving thread's half of the doorbell (data_bell[0], the word the
    // consumer of ring 0 sleeps on): announce Sleeping, then re-check; true
    // if there is work after all (the word is Awake again).
    [[nodiscard]] bool prepare_sleep();
    // Whether the word still says Sleeping: the thread's wait condition.
    [[nodiscard]] bool may_sleep() const;
    // A kick of a threaded channel: the word goes Awake, so that the
    // thread's wait condition holds when it is woken (user space usually
    // did this itself before kicking; a close does not).
    void mark_awake();

    [[nodiscard]] bool closed() const { return m_closed; }
    [[nodiscard]] const KernelRegion& region() const { return m_region; }
    [[nodiscard]] const ChannelRegionLayout& layout() const { return m_layout; }
    [[nodiscard]] const milk_channel_error& error_record() const { return m_error; }

private:
    // ChannelContext, for the component.
    [[nodiscard]] std::span<const std::byte> received(const milk_kbytes& handle) const override;
    void give_back(const milk_kbytes& handle) override;
    [[nodiscard]] Result<KernelBuffer> allocate(std::uint32_t bytes) override;
    [[nodiscard]] Result<void> send(std::uint16_t tag, const void* payload, std::size_t payload_bytes) override;
    [[nodiscard]] const Slot& message_slot() const override { return m_raw; }
    [[nodiscard]] std::span<std::byte> owned_bytes(const milk_kbytes& handle) const override;
    [[nodiscard]] Result<KernelBuffer> allocate_held(std::uint32_t bytes) override;
    [[nodiscard]] bool hand_over(const milk_kbytes& handle) override;

    [[nodiscard]] Error close_with(const Error& error, int kstub_code = 0, const milk_kviolation* violation = nullptr);
    [[nodiscard]] Result<void> drain_returns();
    // Takes back every handle of the validated message that names the
    // kernel's own pool; false (with the handle) for one it did not lend.
    [[nodiscard]] bool take_back_handles(milk_kbytes& bad);
    // Whether the tracked state is `end` or one where the client speaks.
    [[nodiscard]] bool client_may_speak() const;
    [[nodiscard]] bool user_closed() const;
    [[nodiscard]] SideStatus& own_status() const;

    const ContractEntry* m_entry;
    Owned<Component> m_component;
    KernelRegion m_region;
    ChannelRegionLayout m_layout;
    KernelPool m_pool;
    void* m_waker;
    RingConsumer<Slot> m_in;                // message ring 0: user -> kernel
    RingProducer<Slot> m_out;               // message ring 1: kernel -> user
    RingProducer<WireBytes> m_returns_out;  // return ring 0: user's buffers going home
    RingConsumer<WireBytes> m_returns_in;   // return ring 1: the kernel's buffers coming home
    Slot m_raw;                             // the one copy of the slot being handled
    alignas(8) std::byte m_message[slot_size];  // the validated message (a stub struct)
    milk_kstate m_state{};
    // What a handle in a client message may name: user space's pool, or a
    // block of the kernel's it hands back (checked against KernelPool).
    milk_kpool m_heap_pool{};
    milk_channel_error m_error{};
    std::uint32_t m_replies_left = 0;
    std::uint64_t m_dropped_returns = 0;
    std::uint64_t m_rejected_returns = 0;
    bool m_closed = false;
};

}  // namespace milk::kernel
