// The generated C++ endpoints of a component, inside milk.ko.
//
// A component (a milk::Component, the same source as in user space) talks
// through its contract's generated endpoint over a ChannelEnd. In the
// module that ChannelEnd's transport is SessionTransport, which maps each
// operation onto the component's ComponentChannel (ChannelContext):
//
//   SessionHost       the BufferHome of the component's buffers. It is a
//                     member of the runner (component_entry.hpp), declared
//                     before the component and its endpoint, so it outlives
//                     the endpoint and every buffer (this is why the
//                     freestanding Buffer may hold a plain pointer to its
//                     home, buffer.hpp).
//   SessionTransport  the milk::Transport inside the endpoint's ChannelEnd:
//                     receive() is ChannelContext::next_message (the pending
//                     message in a kick; a sleeping wait in a thread), send()
//                     publishes through ChannelContext::send (checked with
//                     the stub's on_send), buffers map onto the kernel's
//                     pool and user space's blocks.
//
// A message reaches the component only after the contract's generated C
// validator has accepted it against the state the kernel tracks and the
// channel has checked who holds each of its buffers. The generated C++
// decoder then decodes that very copy (kernel memory, never the ring), so
// both checks see one copy of the slot; the C++ decoder's checks repeat the
// validator's, which stays in front as the kernel's own line of defence.
#pragma once

#include "component.hpp"
#include "owned.hpp"

#include <milk/buffer.hpp>
#include <milk/channel.hpp>
#include <milk/result.hpp>
#include <milk/slot.hpp>
#include <milk/transport.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

namespace milk::kernel {

class SessionHost final : public BufferHome {
public:
    SessionHost() = default;
    SessionHost(const SessionHost&) = delete;
    SessionHost& operator=(const SessionHost&) = delete;
    ~SessionHost() override = default;

    // The channel that runs the component. The context is the component's
    // own channel (it owns the component), so it stays valid for buffers
    // released later too.
    void bind(ChannelContext& context) {
        m_context = &context;
        m_failure = std::nullopt;
    }
    [[nodiscard]] Result<Slot> receive(Deadline deadline) {
        if (m_context == nullptr) return Error{ErrorCode::PeerClosed, "no channel", 0};
        return m_context->next_message(deadline);
    }
    [[nodiscard]] Result<void> send(const Slot& slot) {
        if (m_context == nullptr) return Error{ErrorCode::PeerClosed, "no channel", 0};
        return m_context->send(slot.tag, slot.payload, slot.length);
    }
    [[nodiscard]] Result<void> wait_for_room(std::size_t slots, Deadline deadline) {
        if (m_context == nullptr) return Error{ErrorCode::PeerClosed, "no channel", 0};
        return m_context->wait_for_room(slots, deadline);
    }
    // The reason the component's end closed with, if it failed (a decoder
    // that disagreed with the validator: a bug, reported as such).
    void record_failure(const Error& reason) { m_failure = reason; }
    [[nodiscard]] const std::optional<Error>& failure() const { return m_failure; }

    [[nodiscard]] Result<Buffer> allocate(std::size_t size) {
        if (m_context == nullptr) return Error{ErrorCode::PeerClosed, "no channel", 0};
        if (size > 0xffffffffu) return Error{ErrorCode::InvalidArgument, "buffer too large", 0};
        auto block = m_context->allocate_held(static_cast<std::uint32_t>(size));
        if (!block.ok()) return block.error();
        return Buffer(this, block->bytes.data(), block->handle.offset, block->handle.length);
    }

    [[nodiscard]] Result<WireBytes> export_buffer(Buffer&& buffer) {
        if (!buffer.valid() || !is_home_of(buffer))
            return Error{ErrorCode::BadBuffer, "a buffer of another channel sent by a kernel component", 0};
        const Detached parts = detach(std::move(buffer));
        // The block travels with the capacity it was made with: the pool and
        // user space's exchange heap know blocks by their start and size.
        const milk_kbytes handle{parts.offset, parts.capacity};
        if (!m_context->hand_over(handle))
            return Error{ErrorCode::BadBuffer, "a kernel component sent a block the kernel does not hold",
                         parts.offset};
        return WireBytes{parts.offset, parts.length};
    }

    // The channel has validated the handle (bounds by the generated
    // validator, who holds it by the ExchangeLedger): the component owns
    // the region until it sends or drops the buffer.
    [[nodiscard]] Result<Buffer> import_buffer(WireBytes wire) {
        if (m_context == nullptr) return Error{ErrorCode::PeerClosed, "no channel", 0};
        const milk_kbytes handle{wire.offset, wire.length};
        std::span<std::byte> bytes = m_context->owned_bytes(handle);
        return Buffer(this, bytes.data(), wire.offset, wire.length);
    }

    // A buffer dropped by the component: user space's block goes home on
    // return ring 0, one of the kernel's is freed.
    void release(std::uint32_t offset, std::uint32_t length) noexcept override {
        if (m_context != nullptr) m_context->give_back(milk_kbytes{offset, length});
    }

private:
    ChannelContext* m_context = nullptr;
    std::optional<Error> m_failure;
};

class SessionTransport final : public Transport {
public:
    explicit SessionTransport(SessionHost& host) : m_host(&host) {}

    [[nodiscard]] Result<void> send(const Slot& slot) override { return m_host->send(slot); }
    [[nodiscard]] Result<void> send_batch(std::span<const Slot> slots) override {
        for (const Slot& slot : slots) {
            if (auto sent = send(slot); !sent.ok()) return sent;
        }
        return {};
    }
    [[nodiscard]] Result<Slot> receive(Deadline deadline) override { return m_host->receive(deadline); }
    [[nodiscard]] Result<void> wait_for_room(std::size_t slots, Deadline deadline) override {
        return m_host->wait_for_room(slots, deadline);
    }
    [[nodiscard]] Result<Buffer> allocate(std::size_t size) override { return m_host->allocate(size); }
    [[nodiscard]] Result<WireBytes> export_buffer(Buffer&& buffer) override {
        return m_host->export_buffer(std::move(buffer));
    }
    [[nodiscard]] Result<Buffer> import_buffer(WireBytes wire) override { return m_host->import_buffer(wire); }
    // A normal close (`end`) needs nothing: the kernel tracks `end` itself.
    // A close with a reason is reported by the component to the channel,
    // which closes with it.
    void close(const Error* reason) noexcept override {
        if (reason != nullptr) m_host->record_failure(*reason);
    }

private:
    SessionHost* m_host;
};

// A ChannelEnd over a new SessionTransport of `host`.
[[nodiscard]] inline Result<ChannelEnd> make_session_end(SessionHost& host) {
    std::unique_ptr<SessionTransport> transport(new (std::nothrow) SessionTransport(host));
    if (!transport)
        return Error{ErrorCode::OutOfMemory, "kmalloc failed", static_cast<std::int64_t>(sizeof(SessionTransport))};
    return ChannelEnd(std::move(transport));
}

// The error a failed step or serve function is reported with: the reason
// the component's own end closed with, if it closed with one (the decoder
// disagreed with the validator), else what the function returned.
[[nodiscard]] inline Error session_failure(const SessionHost& host, const Error& returned) {
    if (host.failure()) return *host.failure();
    return returned;
}

}  // namespace milk::kernel
