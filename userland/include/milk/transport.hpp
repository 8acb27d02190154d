// The transport interface: how one side of a channel moves slots and buffers.
//
// Generated endpoints never see a transport directly; they hold a ChannelEnd
// (channel.hpp), which owns one. `inproc` (this library), `process` and
// `kernel` transports implement this interface, so the generated code is the
// same whatever the placement.
#pragma once

#include "buffer.hpp"
#include "deadline.hpp"
#include "result.hpp"
#include "slot.hpp"

#include <atomic>
#include <cstddef>
#include <span>

namespace milk {

class Transport {
public:
    virtual ~Transport() = default;

    // Publishes one slot to the peer. Blocks while the ring is full, until
    // the peer makes room or goes (PeerClosed, also when it dies without
    // closing). To bound that wait, call wait_for_room() first.
    [[nodiscard]] virtual Result<void> send(const Slot& slot) = 0;

    // Publishes several slots with one index update and at most one wake-up.
    [[nodiscard]] virtual Result<void> send_batch(std::span<const Slot> slots) = 0;

    // Sending in place, the generated code's per-message path: the next
    // slot of the outgoing ring itself, to be zeroed and encoded there and
    // then published by send_claimed(), so that no 64-byte copy of a slot
    // just written follows (its loads would wait for every store before
    // them, ring stores included: a store-forwarding stall that cost a
    // stream a third of its rate). Null when there is no room now, the
    // channel is closed, or the transport has no ring of its own to lend
    // (the default): the caller then encodes into a slot of its own and
    // calls send(), which waits or reports the error. The slot is shared
    // with the peer: write it, never read it back. Nothing is sent until
    // send_claimed(); a slot claimed and not sent is simply claimed again
    // by the next call.
    [[nodiscard]] virtual Slot* try_claim_slot() { return nullptr; }
    // Publishes the slot try_claim_slot() returned. Precondition: it
    // returned one, and nothing was sent since.
    [[nodiscard]] virtual Result<void> send_claimed() {
        return Error{ErrorCode::InvalidArgument, "send_claimed without a claimed slot", 0};
    }

    // Waits until `slots` slots can be sent without blocking: the deadline
    // of a send. This end is its ring's only producer, so the room stays
    // until it sends. TimedOut at the deadline (Deadline::now() polls:
    // WouldBlock), PeerClosed once the peer has gone, InvalidArgument for
    // more slots than the ring holds.
    [[nodiscard]] virtual Result<void> wait_for_room(std::size_t slots, Deadline deadline) = 0;

    // Takes the next slot. Spins for the configured budget, then sleeps until
    // a slot arrives, the peer closes (PeerClosed) or the deadline passes
    // (TimedOut). Deadline::now() makes it a non-blocking poll (WouldBlock
    // when empty). Slots the peer sent before closing are still delivered.
    [[nodiscard]] virtual Result<Slot> receive(Deadline deadline) = 0;

    // Allocates a buffer from this side's pool of the exchange heap.
    [[nodiscard]] virtual Result<Buffer> allocate(std::size_t size) = 0;

    // Turns a buffer this side holds into a wire handle for sending. The
    // buffer is consumed; from now on the peer owns the region.
    [[nodiscard]] virtual Result<WireBytes> export_buffer(Buffer&& buffer) = 0;

    // Turns a received wire handle into a buffer this side owns, after
    // checking it: in bounds of the sender's pool, not already held by us.
    [[nodiscard]] virtual Result<Buffer> import_buffer(WireBytes wire) = 0;

    // --- Moving a component (the host's relocation; docs/relocation.md) ---

    // Waits until a receive would not block (a message is there, the peer
    // closed or died, or the end failed), or until `interrupt` is true and
    // wake_receiver() was called: true in the first case, false when
    // interrupted. The host's serving loop waits here between messages, so
    // that a component can be stopped at a cut point with nothing consumed.
    // Transports that cannot wait this way return true at once (the next
    // receive then blocks uninterrupted).
    [[nodiscard]] virtual Result<bool> wait_receivable(const std::atomic<bool>& interrupt) {
        static_cast<void>(interrupt);
        return true;
    }
    // Wakes a thread in wait_receivable() on this end, from any thread.
    virtual void wake_receiver() noexcept {}
    // The slots this end sent that the peer has not taken, oldest first, at
    // most out.size(): for a peer that stopped for good (a component parked
    // for a move), whose successor must get them. Nothing changes on the
    // ring. InvalidArgument where the transport cannot read its ring back.
    [[nodiscard]] virtual Result<std::size_t> unreceived(std::span<Slot> out) {
        static_cast<void>(out);
        return Error{ErrorCode::InvalidArgument, "this transport cannot read back what it sent", 0};
    }

    // Closes this side with a reason the peer can read (nullptr: a normal
    // close). Idempotent. The peer's pending and future receives end with
    // PeerClosed (or the reason) once it has drained what was sent.
    virtual void close(const Error* reason) noexcept = 0;
};

}  // namespace milk
