// milk::ChannelEnd: one side of a channel, the runtime object inside every
// generated endpoint.
//
// It owns the transport. Generated endpoints move it from state to state;
// a moved-from ChannelEnd aborts on use with a message that names the
// operation ("milk: use of a moved-from endpoint: PingPong::Client<Idle>::send").
// Destroying a ChannelEnd that still holds a transport closes the channel, so
// dropping an endpoint before `end` shows up as PeerClosed on the other side.
#pragma once

#include "buffer.hpp"
#include "deadline.hpp"
#include "result.hpp"
#include "slot.hpp"
#include "transport.hpp"

#include <memory>
#include <span>
#include <utility>

namespace milk {

class ChannelEnd {
public:
    ChannelEnd() = default;
    explicit ChannelEnd(std::unique_ptr<Transport> transport) : m_transport(std::move(transport)) {}

    ChannelEnd(ChannelEnd&&) noexcept = default;
    ChannelEnd& operator=(ChannelEnd&& other) noexcept {
        if (this != &other) {
            close();
            m_transport = std::move(other.m_transport);
        }
        return *this;
    }
    ChannelEnd(const ChannelEnd&) = delete;
    ChannelEnd& operator=(const ChannelEnd&) = delete;
    ~ChannelEnd() { close(); }

    [[nodiscard]] bool valid() const { return m_transport != nullptr; }

    // Aborts with "milk: use of a moved-from endpoint: <operation>" when the
    // end was moved from. Generated code calls it first in every operation.
    // Inline: every message passes here, twice (the generated code and the
    // operation), so the check is one compare and the abort is out of line.
    void require_valid(const char* operation) const {
        if (m_transport == nullptr) [[unlikely]]
            die_moved_from(operation);
    }

    // Each operation checks validity itself too (one compare), so that even
    // hand-written code that skips require_valid() gets the clear abort
    // instead of a null dereference. Generated code checks first, so its
    // message (naming the endpoint's state) is the one users see.
    [[nodiscard]] Result<void> send(const Slot& slot) {
        require_valid("ChannelEnd::send");
        return m_transport->send(slot);
    }
    [[nodiscard]] Result<void> send_batch(std::span<const Slot> slots) {
        require_valid("ChannelEnd::send_batch");
        return m_transport->send_batch(slots);
    }
    // See Transport::try_claim_slot.
    [[nodiscard]] Slot* try_claim_slot() {
        require_valid("ChannelEnd::try_claim_slot");
        return m_transport->try_claim_slot();
    }
    [[nodiscard]] Result<void> send_claimed() {
        require_valid("ChannelEnd::send_claimed");
        return m_transport->send_claimed();
    }
    [[nodiscard]] Result<Slot> receive(Deadline deadline) {
        require_valid("ChannelEnd::receive");
        return m_transport->receive(deadline);
    }
    [[nodiscard]] Result<void> wait_for_room(std::size_t slots, Deadline deadline) {
        require_valid("ChannelEnd::wait_for_room");
        return m_transport->wait_for_room(slots, deadline);
    }
    [[nodiscard]] Result<Buffer> allocate(std::size_t size) {
        require_valid("ChannelEnd::allocate");
        return m_transport->allocate(size);
    }
    [[nodiscard]] Result<WireBytes> export_buffer(Buffer&& buffer) {
        require_valid("ChannelEnd::export_buffer");
        return m_transport->export_buffer(std::move(buffer));
    }
    [[nodiscard]] Result<Buffer> import_buffer(WireBytes wire) {
        require_valid("ChannelEnd::import_buffer");
        return m_transport->import_buffer(wire);
    }

    // Closes the channel because the peer broke the contract; the peer's
    // receive reports `reason`. Generated decoders call it on the first
    // violation and then return the same error to their caller.
    Error fail(Error reason) {
        if (m_transport) m_transport->close(&reason);
        m_transport.reset();
        return reason;
    }

    // Closes normally (after `end`, or when dropped). Idempotent.
    void close() noexcept {
        if (m_transport) m_transport->close(nullptr);
        m_transport.reset();
    }

    // Gives up the transport without closing it; the end is left invalid.
    // For a layer that wraps the transport and makes a new end of the
    // wrapper (the host wraps a component's end to count its messages).
    [[nodiscard]] std::unique_ptr<Transport> release_transport() && { return std::move(m_transport); }

private:
    [[noreturn]] static void die_moved_from(const char* operation);

    std::unique_ptr<Transport> m_transport;
};

// Both ends of a new channel. Which one is the client is the caller's choice.
struct ChannelPair {
    ChannelEnd first;
    ChannelEnd second;
};

}  // namespace milk
