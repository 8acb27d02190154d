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
// the region is copied once and checked. Who holds which buffer is the
// runtime's own ExchangeLedger (milk/exchange_ledger.hpp), the same code and
// the same rules as user space's exchange heap: a block of the kernel's pool
// it lent, a region of user space's pool it holds.
//
// Who runs the component (ChannelServing):
//   * InKick: MILK_IOC_KICK is the doorbell; kick() drains the returns, then
//     takes, validates and handles messages while there is room for their
//     replies, inline in the calling process's context, under the file's
//     mutex. One step of the component per message.
//   * Thread / PollingThread: the channel's serving thread calls run(),
//     which runs the component until its session ends. The component's
//     receive (next_message) takes the next message, or sleeps on the wait
//     queue until user space rings the doorbell word (PollingThread first
//     polls for a while). The thread does not hold the file's mutex: the
//     ioctls that may run beside it (kick, poll, the error record) touch
//     only the doorbell word and the atomics m_record_ready, m_closed and
//     m_published.
#pragma once

#include "channel_directory.hpp"
#include "component.hpp"
#include "kernel_region.hpp"
#include "milk_uapi.h"
#include "owned.hpp"

#include <milk/channel_status.hpp>
#include <milk/exchange_ledger.hpp>
#include <milk/region_layout.hpp>
#include <milk/result.hpp>
#include <milk/ring.hpp>
#include <milk/slot.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace milk::kernel {

enum class ChannelServing : std::uint8_t { InKick, Thread, PollingThread };

// Who opened a channel, for the directory (MILK_IOC_LIST_CHANNELS): the
// host's instance name (checked by the open ioctl; may be empty) and the
// opening process.
struct ChannelOrigin {
    char instance[MILK_INSTANCE_NAME_MAX] = {};
    int pid = 0;
};

class ComponentChannel final : private ChannelContext {
public:
    [[nodiscard]] static Result<Owned<ComponentChannel>> try_create(const ComponentEntry& entry,
                                                                    ComponentStats& stats,
                                                                    const Settings& settings,
                                                                    const ChannelOrigin& origin,
                                                                    std::uint32_t ring_capacity,
                                                                    std::uint32_t pool_bytes,
                                                                    ChannelServing serving, void* waker,
                                                                    void* serve_waker,
                                                                    std::span<const std::byte> snapshot = {});

    ComponentChannel(const ComponentEntry& entry, ComponentStats& stats, const ChannelOrigin& origin,
                     Owned<ComponentRunner>&& component, KernelRegion&& region,
                     const ChannelRegionLayout& layout, ExchangeLedger&& ledger, ChannelServing serving, void* waker,
                     void* serve_waker);
    ComponentChannel(const ComponentChannel&) = delete;
    ComponentChannel& operator=(const ComponentChannel&) = delete;
    ~ComponentChannel();

    // Attaches the rings; only try_create calls it.
    [[nodiscard]] Result<void> attach();

    // InKick's doorbell: how many messages it took. On the first violation
    // the channel closes (status block, error record, log line) and the
    // error is returned; later kicks return PeerClosed.
    [[nodiscard]] Result<std::uint32_t> kick();

    // Live relocation (MILK_IOC_PARK, RESUME, RETIRE). park() stops an
    // InKick channel between two kicks, a cut point (a per-message
    // component owes nothing then): kicks take nothing until resume() or
    // retire(); what the client sends meanwhile stays in ring 0 for it to
    // take back. The component's snapshot goes into `buffer`: its size, or
    // OutOfMemory with the bytes it needs (the channel is parked all the
    // same). PeerClosed if the channel closed or its session ended.
    [[nodiscard]] Result<std::size_t> park(std::span<std::byte> buffer);
    // Back into service, with a kick for what arrived while parked.
    [[nodiscard]] Result<std::uint32_t> resume();
    // Closed for good because the component moved on: PeerClosed with
    // milk::moved_close_detail in the status block.
    [[nodiscard]] Result<void> retire();
    [[nodiscard]] bool parked() const { return m_parked; }
    // Whether park() can cut it: a step component (it has a snapshot and a
    // restore) whose steps run only in the kick, under the file's mutex. A
    // serving thread may be in the middle of a step at any moment.
    [[nodiscard]] bool parkable() const {
        return m_serving == ChannelServing::InKick && m_entry->restore != nullptr;
    }

    // The serving thread's body: runs the component until its session ends,
    // the channel closes, or the file is released (the shim's stop request).
    void run();

    // milk_poll_bits.
    [[nodiscard]] unsigned int poll() const;

    // A kick of a threaded channel: the doorbell word goes Awake, so that
    // the thread's wait condition holds when it is woken (user space
    // usually did this itself before kicking; a close does not).
    void mark_awake();

    [[nodiscard]] ChannelServing serving() const { return m_serving; }
    [[nodiscard]] const ComponentEntry& entry() const { return *m_entry; }
    [[nodiscard]] const ChannelOrigin& origin() const { return m_origin; }
    // A snapshot for the directory, from what the channel keeps for it
    // (immutable fields and atomics): safe beside a serving thread.
    void describe(milk_channel_entry& out, std::uint64_t id) const;
    [[nodiscard]] bool closed() const { return m_closed.load(std::memory_order_acquire); }
    [[nodiscard]] const KernelRegion& region() const { return m_region; }
    [[nodiscard]] const ChannelRegionLayout& layout() const { return m_layout; }
    // A copy: a serving thread may be closing the channel meanwhile, and
    // publishes the record with m_record_ready.
    [[nodiscard]] milk_channel_error error_record() const;

private:
    // ChannelContext, for the component.
    void give_back(const milk_kbytes& handle) override;
    [[nodiscard]] Result<void> send(std::uint16_t tag, const void* payload, std::size_t payload_bytes) override;
    [[nodiscard]] Result<void> wait_for_room(std::size_t slots, Deadline deadline) override;
    [[nodiscard]] Result<Slot> next_message(Deadline deadline) override;
    [[nodiscard]] std::span<std::byte> owned_bytes(const milk_kbytes& handle) const override;
    [[nodiscard]] Result<KernelBuffer> allocate_held(std::uint32_t bytes) override;
    [[nodiscard]] bool hand_over(const milk_kbytes& handle) override;

    [[nodiscard]] Error close_with(const Error& error, int kstub_code = 0, const milk_kviolation* violation = nullptr);
    [[nodiscard]] Result<void> drain_returns();
    // Takes the next message off ring 0 into m_raw / m_message if there is
    // one, validated; false if the ring is empty. A violation closes the
    // channel and is returned.
    [[nodiscard]] Result<bool> take_one();
    // The serving thread's wait for work: polls (PollingThread, within its
    // budget) or sleeps until the doorbell rings or `deadline`.
    void wait_for_messages(Deadline deadline);
    // The serving thread's wait for room in the reply ring.
    void wait_for_reply_room();
    // Wakes poll()/read() if replies were published since the last wake.
    void announce_replies();
    // User space closed its end: the kernel's closes normally.
    void close_after_user();
    // Makes a close visible, m_error filled in: `reason` null for a normal one.
    void publish_record_then_close(const Error* reason);
    // Accepts every handle of the validated message into the ledger: a
    // block of the kernel's it lent comes back, a region of user space's is
    // held. The first handle the ledger refuses, with why.
    struct RefusedHandle {
        milk_kbytes handle;
        Error why;
    };
    [[nodiscard]] bool accept_handles(RefusedHandle& refused);
    // Whether the tracked state is `end` or one where the client speaks.
    [[nodiscard]] bool client_may_speak() const;
    [[nodiscard]] bool user_closed() const;
    [[nodiscard]] SideStatus& own_status() const;
    // m_state moved (a message validated, one sent): the directory's copy follows.
    void note_state() { m_tracked_state.store(m_state.state, std::memory_order_relaxed); }

    const ComponentEntry* m_entry;
    const milk_kcontract* m_contract;
    ComponentStats* m_stats;
    Owned<ComponentRunner> m_component;
    KernelRegion m_region;
    ChannelRegionLayout m_layout;
    ExchangeLedger m_ledger;
    ChannelServing m_serving;
    void* m_waker;
    void* m_serve_waker;
    RingConsumer<Slot> m_in;                // message ring 0: user -> kernel
    RingProducer<Slot> m_out;               // message ring 1: kernel -> user
    RingProducer<WireBytes> m_returns_out;  // return ring 0: user's buffers going home
    RingConsumer<WireBytes> m_returns_in;   // return ring 1: the kernel's buffers coming home
    Slot m_raw;                             // the one copy of the slot being handled
    alignas(8) std::byte m_message[slot_size];  // the validated message (a stub struct)
    milk_kstate m_state{};
    // The bounds the generated validator checks handles against: both
    // pools (who holds which block is the ledger's to check).
    milk_kpool m_heap_pool{};
    milk_channel_error m_error{};
    std::uint32_t m_replies_left = 0;
    // InKick: the kick's message, not yet received by the component.
    bool m_pending = false;
    // Parked for a move: kicks take nothing.
    bool m_parked = false;
    // Serving thread: replies published since readers were last woken.
    bool m_unannounced = false;
    // When the serving thread last took a message (its polling budget).
    long long m_last_message_ns = 0;
    // Read by ioctls beside a serving thread (closed(), poll()).
    // m_record_ready (m_error is complete), then the status block, then
    // m_closed: see publish_record_then_close().
    std::atomic<bool> m_record_ready{false};
    std::atomic<bool> m_closed{false};
    std::atomic<std::uint32_t> m_published{0};
    // For the directory (describe()), written by whoever runs the
    // component, read by a lister beside it.
    ChannelOrigin m_origin;
    std::atomic<std::uint32_t> m_tracked_state{0};
    std::atomic<std::uint64_t> m_received{0};
    std::atomic<std::uint64_t> m_sent{0};
    // Last: listed once everything above is built, unlisted before any of
    // it is torn down.
    DirectoryLink m_directory_link{*this};
};

}  // namespace milk::kernel
