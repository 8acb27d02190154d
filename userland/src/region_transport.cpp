// milk::RegionTransport: rings + doorbells + closed flags + exchange heap.
#include "milk/region_transport.hpp"

#include "milk/channel_status.hpp"

#include <atomic>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <utility>

namespace milk {
namespace {

std::span<std::byte> bytes_at(Region& region, std::size_t offset, std::size_t length) {
    return {region.base() + offset, length};
}

// The peer never set its closed flag, yet its liveness watcher says it is
// gone: killed, crashed, or exited without closing.
Error peer_gone_error() {
    return Error{ErrorCode::PeerClosed, "the peer process is gone: it exited or was killed without closing",
                 peer_gone_detail};
}

}  // namespace

void RegionTransport::initialise(Region& region, const ChannelRegionLayout& layout) {
    std::memset(region.base() + layout.control_offset, 0, sizeof(ChannelControl));
    for (std::size_t side = 0; side < 2; ++side) {
        initialise_ring(region.base() + layout.message_ring_offset[side]);
        initialise_ring(region.base() + layout.return_ring_offset[side]);
    }
}

Result<std::unique_ptr<RegionTransport>> RegionTransport::try_create(std::shared_ptr<Region> region,
                                                                   const ChannelRegionLayout& layout,
                                                                   ChannelSide side, WaitPolicy policy) {
    if (!region || region->size() < layout.total_bytes)
        return Error{ErrorCode::InvalidArgument, "region smaller than the channel layout needs", 0};
    const std::size_t us = side_index(side);
    const std::size_t peer = side_index(other_side(side));
    const std::size_t ring_bytes = ring_region_bytes<Slot>(layout.ring_capacity);
    const std::size_t return_bytes = ring_region_bytes<WireBytes>(layout.return_ring_capacity);

    auto out = RingProducer<Slot>::attach(bytes_at(*region, layout.message_ring_offset[us], ring_bytes),
                                          layout.ring_capacity);
    if (!out.ok()) return out.error();
    auto in = RingConsumer<Slot>::attach(bytes_at(*region, layout.message_ring_offset[peer], ring_bytes),
                                         layout.ring_capacity);
    if (!in.ok()) return in.error();
    auto returns_to_peer = RingProducer<WireBytes>::attach(
        bytes_at(*region, layout.return_ring_offset[peer], return_bytes), layout.return_ring_capacity);
    if (!returns_to_peer.ok()) return returns_to_peer.error();
    auto returns_to_us = RingConsumer<WireBytes>::attach(
        bytes_at(*region, layout.return_ring_offset[us], return_bytes), layout.return_ring_capacity);
    if (!returns_to_us.ok()) return returns_to_us.error();

    const ExchangeHeapSide::Geometry geometry{region->base() + layout.heap_offset, layout.pool_bytes, side};
    auto heap = ExchangeHeapSide::try_create(region, geometry, returns_to_peer.value(), returns_to_us.value());
    if (!heap.ok()) return heap.error();

    auto* control = reinterpret_cast<ChannelControl*>(region->base() + layout.control_offset);
    return std::make_unique<RegionTransport>(PassKey{}, std::move(region), side, control, out.value(), in.value(),
                                             std::move(heap).value(), policy);
}

RegionTransport::RegionTransport(PassKey, std::shared_ptr<Region> region, ChannelSide side, ChannelControl* control,
                                 const RingProducer<Slot>& out, const RingConsumer<Slot>& in,
                                 std::shared_ptr<ExchangeHeapSide> heap, WaitPolicy policy)
    : m_out(out),
      m_in(in),
      m_region(std::move(region)),
      m_heap(std::move(heap)),
      m_control(control),
      m_side(side),
      m_out_data(&control->data_bell[side_index(side)], policy),
      m_out_space(&control->space_bell[side_index(side)], policy),
      m_in_data(&control->data_bell[side_index(other_side(side))], policy),
      m_in_space(&control->space_bell[side_index(other_side(side))], policy) {}

RegionTransport::~RegionTransport() {
    close(nullptr);
    if (m_unsealed_memfd >= 0) ::close(m_unsealed_memfd);
}

bool RegionTransport::peer_closed() const {
    if (m_peer_gone) return true;
    return has_closed(m_control->status[side_index(other_side(m_side))]);
}

Error RegionTransport::closed_peer_error() const {
    const SideStatus& status = m_control->status[side_index(other_side(m_side))];
    if (!has_closed(status)) return peer_gone_error();
    // A peer that moved says so to senders too: their end follows it.
    if (const Error reason = milk::peer_close_error(status); reason.detail == moved_close_detail) return reason;
    return Error{ErrorCode::PeerClosed, "the peer closed the channel", 0};
}

Error RegionTransport::peer_close_error() const {
    const SideStatus& status = m_control->status[side_index(other_side(m_side))];
    // A peer that closed and then died closed first: its reason wins.
    if (!has_closed(status)) return peer_gone_error();
    return milk::peer_close_error(status);
}

Error RegionTransport::fail(const Error& error) noexcept {
    // A ring index the peer corrupted is a violation like a bad message:
    // close with the reason, so that the peer (if it is merely buggy) and
    // whoever watches it learn why.
    close(&error);
    return error;
}

void RegionTransport::watch_peer(std::unique_ptr<PeerLiveness> liveness) {
    m_liveness = std::move(liveness);
    // The two doorbells this end sleeps on: the peer's data bell (our
    // incoming ring is empty) and our space bell (our outgoing ring is full).
    m_liveness->ring_when_gone(&m_control->data_bell[side_index(other_side(m_side))],
                               &m_control->space_bell[side_index(m_side)]);
}

bool RegionTransport::check_peer_gone() noexcept {
    if (!m_peer_gone && m_liveness && (m_liveness->seen_gone() || m_liveness->peer_gone())) m_peer_gone = true;
    return m_peer_gone;
}

template <typename Ready>
Doorbell::WaitOutcome RegionTransport::wait_on(Doorbell& bell, DoorbellWord& word, Ready&& ready,
                                               const Deadline& deadline) {
    if (!m_liveness) return bell.wait(ready, deadline);
    if (m_liveness->rings_waiters()) {
        // The watcher rings this doorbell when the peer dies, so the sleep
        // needs no timer but the caller's deadline: a sleeping hand-off costs
        // what a futex wait and wake cost, as an eventfd's would.
        const auto outcome = bell.wait([&] { return ready() || m_liveness->seen_gone(); }, deadline);
        if (m_liveness->seen_gone()) {
            m_peer_gone = true;
            return Doorbell::WaitOutcome::Ready;
        }
        return outcome;
    }
    // The first slice spins as configured; later ones sleep at once, so a
    // long wait costs one futex sleep per interval and no spinning.
    Doorbell quiet(&word, WaitPolicy{bell.policy().mode, std::chrono::nanoseconds::zero()});
    Doorbell* current = &bell;
    for (;;) {
        const auto slice = m_liveness->interval();
        const bool last_slice = !deadline.is_never() && deadline.at() - Deadline::Clock::now() <= slice;
        const auto outcome = current->wait(ready, last_slice ? deadline : Deadline::after(slice));
        if (outcome == Doorbell::WaitOutcome::Ready) return outcome;
        // Nothing came for a whole slice: is anybody still there? A peer
        // that is gone makes peer_closed() true, which is what the caller's
        // condition waits for.
        if (check_peer_gone()) return Doorbell::WaitOutcome::Ready;
        if (last_slice) return outcome;
        current = &quiet;
    }
}

Result<std::size_t> RegionTransport::take(Slot& slot) {
    auto taken = m_in.try_pop(std::span<Slot>(&slot, 1));
    if (taken.ok() && taken.value() > 0) {
        m_in_space.ring();
        if (m_unsealed_memfd >= 0) MILK_TRY(check_peer_seal());
    }
    return taken;
}

Result<void> RegionTransport::check_peer_seal() {
    const int seals = ::fcntl(m_unsealed_memfd, F_GET_SEALS);
    ::close(std::exchange(m_unsealed_memfd, -1));
    if (seals >= 0 && (seals & m_required_seals) == m_required_seals) return {};
    return Error{ErrorCode::ProtocolViolation,
                 "the peer attached without sealing the channel against hole punching (F_SEAL_FUTURE_WRITE)", seals};
}

Result<void> RegionTransport::send(const Slot& slot) { return send_batch(std::span<const Slot>(&slot, 1)); }

Slot* RegionTransport::try_claim_slot() {
    // What send_batch checks before a push; anything unusual (closed ends, a
    // full or corrupt ring) returns null, and the caller's send() then takes
    // the general path, which reports it.
    if (m_closed || peer_closed()) return nullptr;
    return m_out.try_claim();
}

Result<void> RegionTransport::send_claimed() {
    m_out.publish_claimed();
    m_out_data.ring();
    return {};
}

Result<void> RegionTransport::send_batch(std::span<const Slot> slots) {
    if (m_closed) return Error{ErrorCode::InvalidArgument, "send on a channel end that was closed", 0};
    std::size_t done = 0;
    while (done < slots.size()) {
        // Checked before every push, not only when full: sending to a peer
        // that has gone must fail even while the ring has room.
        if (peer_closed()) return closed_peer_error();
        auto pushed = m_out.try_push(slots.subspan(done));
        if (!pushed.ok()) return fail(pushed.error());
        if (pushed.value() > 0) {
            done += pushed.value();
            m_out_data.ring();
            continue;
        }
        // Full: wait for the consumer to make room (it rings our space bell)
        // or to go away (its close rings it too).
        static_cast<void>(wait_on(
            m_out_space, m_control->space_bell[side_index(m_side)],
            [this] {
                auto free = m_out.free_slots();
                return !free.ok() || free.value() > 0 || peer_closed();
            },
            Deadline::never()));
    }
    return {};
}

Result<void> RegionTransport::wait_for_room(std::size_t slots, Deadline deadline) {
    if (m_closed) return Error{ErrorCode::InvalidArgument, "wait_for_room on a channel end that was closed", 0};
    if (slots > m_out.capacity())
        return Error{ErrorCode::InvalidArgument, "more slots than the ring holds", static_cast<std::int64_t>(slots)};
    const auto wanted = static_cast<std::uint32_t>(slots);
    const bool poll_only = deadline.passed();
    for (;;) {
        // As in send_batch: a peer that has gone fails the wait even while
        // the ring has room, since nothing sent would be read.
        if (peer_closed()) return closed_peer_error();
        auto free = m_out.free_slots(wanted);
        if (!free.ok()) return fail(free.error());
        if (free.value() >= wanted) return {};
        if (poll_only) {
            // A caller that only polls learns of a dead peer too, at most
            // once per interval (receive does the same).
            if (m_liveness && Deadline::Clock::now() >= m_next_liveness_poll) {
                m_next_liveness_poll = Deadline::Clock::now() + m_liveness->interval();
                if (check_peer_gone()) continue;
            }
            return Error{ErrorCode::WouldBlock, "no room in the ring", free.value()};
        }
        if (deadline.passed()) return Error{ErrorCode::TimedOut, "no room in the ring before the deadline", free.value()};
        // The consumer rings our space bell when it takes slots, and its
        // close (or death, through the liveness watcher) ends the wait too.
        static_cast<void>(wait_on(
            m_out_space, m_control->space_bell[side_index(m_side)],
            [this, wanted] {
                auto room = m_out.free_slots(wanted);
                return !room.ok() || room.value() >= wanted || peer_closed();
            },
            deadline));
    }
}

Result<Slot> RegionTransport::receive(Deadline deadline) {
    if (m_closed) return Error{ErrorCode::InvalidArgument, "receive on a channel end that was closed", 0};
    const bool poll_only = deadline.passed();
    for (;;) {
        Slot slot;
        auto taken = take(slot);
        if (!taken.ok()) return fail(taken.error());
        if (taken.value() > 0) return slot;
        if (peer_closed()) {
            // The peer set its closed flag (release) after its last publish,
            // and we read the flag with acquire: every slot it sent is
            // visible now. Deliver those before reporting the close.
            taken = take(slot);
            if (!taken.ok()) return fail(taken.error());
            if (taken.value() > 0) return slot;
            return peer_close_error();
        }
        if (poll_only) {
            // A caller that only ever polls must learn of a dead peer too,
            // but at most once per interval: the check is a system call.
            if (m_liveness && Deadline::Clock::now() >= m_next_liveness_poll) {
                m_next_liveness_poll = Deadline::Clock::now() + m_liveness->interval();
                if (check_peer_gone()) continue;
            }
            return Error{ErrorCode::WouldBlock, "no message waiting", 0};
        }
        if (deadline.passed()) return Error{ErrorCode::TimedOut, "no message before the deadline", 0};
        // Whatever the outcome, the loop looks at the ring again, so a slot
        // that arrived just at the deadline is still delivered.
        static_cast<void>(wait_on(
            m_in_data, m_control->data_bell[side_index(other_side(m_side))],
            [this] {
                auto ready = m_in.available();
                return !ready.ok() || ready.value() > 0 || peer_closed();
            },
            deadline));
    }
}

Result<bool> RegionTransport::wait_receivable(const std::atomic<bool>& interrupt) {
    if (m_closed) return Error{ErrorCode::InvalidArgument, "wait_receivable on a channel end that was closed", 0};
    for (;;) {
        auto ready = m_in.available();
        if (!ready.ok()) return fail(ready.error());
        if (ready.value() > 0 || peer_closed()) return true;
        if (interrupt.load(std::memory_order_acquire)) return false;
        // The interrupter stores the flag and then rings this doorbell
        // (wake_receiver), so a sleep announced before the store is woken
        // and one announced after it sees the flag (doorbell.hpp).
        static_cast<void>(wait_on(
            m_in_data, m_control->data_bell[side_index(other_side(m_side))],
            [this, &interrupt] {
                auto available = m_in.available();
                return !available.ok() || available.value() > 0 || peer_closed() ||
                       interrupt.load(std::memory_order_acquire);
            },
            Deadline::never()));
    }
}

void RegionTransport::wake_receiver() noexcept { m_in_data.ring(); }

Result<std::size_t> RegionTransport::unreceived(std::span<Slot> out) {
    auto count = m_out.peek_unconsumed(out);
    if (!count.ok()) return fail(count.error());
    return count;
}

Result<std::uint32_t> RegionTransport::unreceived_count() {
    auto count = m_out.unconsumed();
    if (!count.ok()) return fail(count.error());
    return count;
}

Result<Buffer> RegionTransport::allocate(std::size_t size) {
    auto buffer = m_heap->allocate(size);
    // The peer broke the ring it returns our blocks on: a violation like a
    // corrupt message ring, so the channel closes with it.
    if (!buffer.ok() && buffer.error().code == ErrorCode::CorruptRing) return fail(buffer.error());
    return buffer;
}

Result<WireBytes> RegionTransport::export_buffer(Buffer&& buffer) { return m_heap->export_buffer(std::move(buffer)); }

Result<Buffer> RegionTransport::import_buffer(WireBytes wire) { return m_heap->import_buffer(wire); }

void RegionTransport::close(const Error* reason) noexcept {
    if (m_closed) return;
    m_closed = true;
    publish_close(m_control->status[side_index(m_side)], reason);
    // The peer may sleep waiting for a message from us, or for room in its
    // own full ring: wake both (the doorbell protocol makes the close flag
    // visible to its re-check exactly as it does a ring index).
    m_out_data.ring();
    m_in_space.ring();
}

}  // namespace milk
