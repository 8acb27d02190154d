// milk::RegionTransport: one end of a channel whose state lives in a shared
// region laid out by ChannelRegionLayout.
//
// It is the whole data path of a channel: two message rings (one per
// direction), four doorbells, the closed flags, and this side's view of the
// exchange heap. The inproc transport puts two of these over one anonymous
// region; the process transport puts one in each process over a memfd.
// Nothing it keeps in the region is a pointer, and everything it reads from
// the region that the peer writes (indices, closed flag, close reason,
// returned handles) is checked before use.
//
// A peer in another process can die without setting its closed flag (it was
// killed). A transport given a PeerLiveness learns of that death from it: a
// watcher thread rings the doorbells this end sleeps on when the peer goes,
// or, where no watcher runs, a waiter never sleeps longer than the liveness
// interval and asks when it wakes without news. A peer that is gone reads as
// closed (after what it sent before dying is delivered). Without one
// (inproc), waits are unchanged.
#pragma once

#include "channel_region.hpp"
#include "doorbell.hpp"
#include "exchange_heap.hpp"
#include "region.hpp"
#include "ring.hpp"
#include "transport.hpp"

#include <atomic>
#include <chrono>
#include <memory>

namespace milk {

// Whether the peer of a channel still exists, for peers that can vanish
// without closing (a process that was killed). Implemented by the process
// transport over a pidfd; called only by the thread using the end, except
// for what the watcher thread does through mark_gone().
class PeerLiveness {
public:
    PeerLiveness() = default;
    PeerLiveness(const PeerLiveness&) = delete;
    PeerLiveness& operator=(const PeerLiveness&) = delete;
    virtual ~PeerLiveness() = default;
    // True once the peer is gone for good. May make a system call, so
    // waiters call it at most once per interval().
    [[nodiscard]] virtual bool peer_gone() noexcept = 0;
    // The longest a waiter sleeps before asking again, when nothing rings
    // it at the peer's death: the bound on how late a dead peer is noticed.
    [[nodiscard]] virtual std::chrono::nanoseconds interval() const noexcept = 0;
    // Asks to have the doorbells on `words` rung once the peer is gone, with
    // seen_gone() true before they are. Called once, before the end is
    // used; the words must outlive this object.
    virtual void ring_when_gone(DoorbellWord* data_word, DoorbellWord* space_word) noexcept = 0;
    // Whether that will happen in this process: then a waiter sleeps until
    // its deadline with no timer of its own. False where no watcher runs
    // (it could not start, or this is a child forked after it started):
    // waiters then sleep in slices of interval().
    [[nodiscard]] virtual bool rings_waiters() const noexcept = 0;
    // Whether the watcher has seen the peer go. One load: waiters test it
    // beside their own condition.
    [[nodiscard]] bool seen_gone() const noexcept { return m_seen_gone.load(std::memory_order_seq_cst); }

protected:
    // Sequentially consistent, like the doorbell's exchanges, so that a
    // waiter that announced its sleep and then re-checks seen_gone() either
    // sees it or is woken by the ring that follows (doorbell.hpp).
    void mark_gone() noexcept { m_seen_gone.store(true, std::memory_order_seq_cst); }

private:
    std::atomic<bool> m_seen_gone{false};
};

class RegionTransport final : public Transport {
    struct PassKey {
        explicit PassKey() = default;
    };

public:
    // Fills a fresh region with an empty channel (indices zero, both sides
    // open, doorbells awake). Only the creator calls it, before any side
    // attaches.
    static void initialise(Region& region, const ChannelRegionLayout& layout);

    // Attaches side `side` to an initialised region.
    [[nodiscard]] static Result<std::unique_ptr<RegionTransport>> try_create(std::shared_ptr<Region> region,
                                                                           const ChannelRegionLayout& layout,
                                                                           ChannelSide side, WaitPolicy policy);

    // From now on, waits learn from `liveness` whether the peer still exists
    // (see the header comment). Call before the end is used, on its owner's
    // thread: the process transport sets it once it knows its peer.
    void watch_peer(std::unique_ptr<PeerLiveness> liveness);

    // The process transport's fork path (process.cpp): the region's memfd,
    // which the peer must have sealed with `seals` (against writes through
    // new mappings, and so against hole punching) before its first message
    // is taken. The transport owns `memfd` until then; a message from a
    // peer that did not seal closes the channel (ProtocolViolation).
    void require_peer_seal(int memfd, int seals) {
        m_unsealed_memfd = memfd;
        m_required_seals = seals;
    }

    RegionTransport(PassKey, std::shared_ptr<Region> region, ChannelSide side, ChannelControl* control,
                    const RingProducer<Slot>& out, const RingConsumer<Slot>& in, std::shared_ptr<ExchangeHeapSide> heap,
                    WaitPolicy policy);
    RegionTransport(const RegionTransport&) = delete;
    RegionTransport& operator=(const RegionTransport&) = delete;
    ~RegionTransport() override;

    [[nodiscard]] Result<void> send(const Slot& slot) override;
    [[nodiscard]] Result<void> send_batch(std::span<const Slot> slots) override;
    [[nodiscard]] Slot* try_claim_slot() override;
    [[nodiscard]] Result<void> send_claimed() override;
    // A deadline that has already passed when receive is called makes it a
    // poll: WouldBlock when empty. One that passes while waiting: TimedOut.
    [[nodiscard]] Result<Slot> receive(Deadline deadline) override;
    [[nodiscard]] Result<void> wait_for_room(std::size_t slots, Deadline deadline) override;
    [[nodiscard]] Result<Buffer> allocate(std::size_t size) override;
    [[nodiscard]] Result<WireBytes> export_buffer(Buffer&& buffer) override;
    [[nodiscard]] Result<Buffer> import_buffer(WireBytes wire) override;
    void close(const Error* reason) noexcept override;
    [[nodiscard]] Result<bool> wait_receivable(const std::atomic<bool>& interrupt) override;
    void wake_receiver() noexcept override;
    [[nodiscard]] Result<std::size_t> unreceived(std::span<Slot> out) override;
    // How many of the slots this end sent the peer has not taken (unreceived
    // without the copies).
    [[nodiscard]] Result<std::uint32_t> unreceived_count();

    // Whether the peer has announced that it sleeps waiting for our next
    // message, or for room in its full outgoing ring. Diagnostics: tests use
    // them to know that a receive or a send really blocked.
    [[nodiscard]] bool peer_waiting_for_message() const { return m_out_data.waiter_sleeping(); }
    [[nodiscard]] bool peer_waiting_for_room() const { return m_in_space.waiter_sleeping(); }
    [[nodiscard]] ExchangeHeapSide& heap() { return *m_heap; }
    [[nodiscard]] ChannelSide side() const { return m_side; }

private:
    [[nodiscard]] bool peer_closed() const;
    // What a receive reports once the peer closed: its reason.
    [[nodiscard]] Error peer_close_error() const;
    // What a send reports: PeerClosed, saying whether the peer closed or died.
    [[nodiscard]] Error closed_peer_error() const;
    // Closes this end with `error` as the reason and returns it.
    Error fail(const Error& error) noexcept;
    // Asks the liveness watcher (if any) whether the peer is gone; remembers a yes.
    bool check_peer_gone() noexcept;
    // Waits on `bell` (whose shared word is `word`) until ready() or the
    // deadline; with a liveness that cannot ring us, in slices of its
    // interval. A peer found gone counts as ready (peer_closed() then holds).
    template <typename Ready>
    Doorbell::WaitOutcome wait_on(Doorbell& bell, DoorbellWord& word, Ready&& ready, const Deadline& deadline);
    // Takes one slot if there is one: 1, 0, or CorruptRing (or the
    // ProtocolViolation of check_peer_seal, with the first message).
    [[nodiscard]] Result<std::size_t> take(Slot& slot);
    [[nodiscard]] Result<void> check_peer_seal();

    // Our private state first: the rings' private halves each sit on a cache
    // line of their own (RingProducer/RingConsumer are line-aligned).
    RingProducer<Slot> m_out;
    RingConsumer<Slot> m_in;
    std::shared_ptr<Region> m_region;
    std::shared_ptr<ExchangeHeapSide> m_heap;
    ChannelControl* m_control;
    ChannelSide m_side;
    bool m_closed = false;
    // Set (by this end's own thread) once the liveness watcher said the peer
    // is gone; from then on the peer counts as closed.
    bool m_peer_gone = false;
    std::unique_ptr<PeerLiveness> m_liveness;
    // See require_peer_seal(); -1 once checked, or when not asked for.
    int m_unsealed_memfd = -1;
    int m_required_seals = 0;
    // When a non-blocking receive that finds nothing may ask again.
    Deadline::Clock::time_point m_next_liveness_poll{};
    Doorbell m_out_data;   // we ring: a message is in our outgoing ring
    Doorbell m_out_space;  // we wait: our outgoing ring is full
    Doorbell m_in_data;    // we wait: our incoming ring is empty
    Doorbell m_in_space;   // we ring: we made room in the incoming ring
};

}  // namespace milk
