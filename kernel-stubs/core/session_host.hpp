// Kernel-side components written against the generated C++ endpoints.
//
// A component that is the same source in user space and in milk.ko is
// written as a step: it takes the endpoint of a state where the client
// speaks, receives one message with the generated receive(handlers...),
// sends what its contract requires with send(...), and returns the endpoint
// of the next such state (or nothing after `end`):
//
//     milk::Result<std::optional<Server<state::Idle>>> step(Server<state::Idle>&&);
//
// User space calls it in a loop over any transport. In the module the
// channel (component_channel.cpp) calls it once per message, and only after
// the contract's generated C validator has accepted the message against the
// state the kernel tracks and the channel has checked who holds each of its
// buffers. The generated C++ decoder then decodes that very copy
// (ChannelContext::message_slot(), kernel memory, never the ring), so both
// checks see one copy of the slot; the C++ decoder's checks (length, flags,
// bools, enums, the tag against the endpoint's state) repeat the
// validator's, which stays in front as the kernel's own line of defence.
//
// The pieces:
//   SessionHost       the BufferHome of the component's buffers, and where
//                     the message being handled waits for receive(). It is a
//                     member of the component, declared before the endpoint,
//                     so it outlives the endpoint and every buffer (this is
//                     why the freestanding Buffer may hold a plain pointer to
//                     its home, buffer.hpp).
//   SessionTransport  the milk::Transport inside the endpoint's ChannelEnd:
//                     receive() hands over the pending slot (the component
//                     never waits: there is always exactly one), send()
//                     publishes through ChannelContext::send (checked with
//                     the stub's on_send), buffers map onto the kernel's
//                     pool and user space's blocks.
//   SessionComponent  the Component the registry creates: it owns the host
//                     and the current endpoint and runs the step.
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

    // The channel calling the component, for the duration of one message.
    // The context is the component's own channel (it owns the component),
    // so it stays valid for buffers released later too.
    void begin(ChannelContext& context) {
        m_context = &context;
        m_pending = true;
        m_failure = std::nullopt;
    }
    // What receive() returns: the validated copy, once per message.
    [[nodiscard]] Result<Slot> take_pending() {
        if (!m_pending || m_context == nullptr)
            return Error{ErrorCode::WouldBlock, "a kernel component received twice for one message", 0};
        m_pending = false;
        return m_context->message_slot();
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
    // validator, the kernel's own blocks by KernelPool::take_back): the
    // component owns the region until it sends or drops the buffer.
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
    bool m_pending = false;
};

class SessionTransport final : public Transport {
public:
    explicit SessionTransport(SessionHost& host) : m_host(&host) {}

    [[nodiscard]] Result<void> send(const Slot& slot) override {
        if (m_context == nullptr) return Error{ErrorCode::PeerClosed, "no channel", 0};
        return m_context->send(slot.tag, slot.payload, slot.length);
    }
    [[nodiscard]] Result<void> send_batch(std::span<const Slot> slots) override {
        for (const Slot& slot : slots) {
            if (auto sent = send(slot); !sent.ok()) return sent;
        }
        return {};
    }
    // Never waits, whatever the deadline: the channel calls the component
    // only with a message pending.
    [[nodiscard]] Result<Slot> receive(Deadline) override { return m_host->take_pending(); }
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

    // The context of the message being handled (the host's).
    void bind(ChannelContext& context) { m_context = &context; }

private:
    SessionHost* m_host;
    ChannelContext* m_context = nullptr;
};

// What a component without state of its own keeps: nothing.
struct NoState {};

// Endpoint: the component's endpoint type in a state where the client
// speaks. make: ChannelEnd&& -> Endpoint (the generated
// Contract::server()). step: Endpoint&& -> Result<optional<Endpoint>>, or
// (State&, Endpoint&&) -> the same for a component with state (one State
// per channel, e.g. the file server's table).
template <typename Endpoint, auto make, auto step, typename State = NoState>
class SessionComponent final : public Component {
public:
    [[nodiscard]] static Result<Owned<Component>> create() {
        auto component = Owned<SessionComponent>::try_create();
        if (!component.ok()) return component.error();
        std::unique_ptr<SessionTransport> transport(new (std::nothrow) SessionTransport(component.value()->m_host));
        if (!transport)
            return Error{ErrorCode::OutOfMemory, "kmalloc failed", static_cast<std::int64_t>(sizeof(SessionTransport))};
        component.value()->m_transport = transport.get();
        component.value()->m_endpoint.emplace(make(ChannelEnd(std::move(transport))));
        return Owned<Component>(std::move(component).value());
    }

    [[nodiscard]] Result<void> on_message(const void*, ChannelContext& channel) override {
        // The validator let the message through, so the tracked state had a
        // client message to take: a component that ended has no endpoint,
        // and the validator rejects everything after `end`.
        if (!m_endpoint)
            return Error{ErrorCode::ProtocolViolation, "a kernel component got a message after it ended", 0};
        m_host.begin(channel);
        m_transport->bind(channel);
        Endpoint endpoint = std::move(*m_endpoint);
        m_endpoint.reset();
        // After `end` the transport is gone with the endpoint.
        auto next = run_step(std::move(endpoint));
        if (!next.ok()) {
            // The endpoint, and with it the transport, is gone.
            m_transport = nullptr;
            if (m_host.failure()) return *m_host.failure();
            return next.error();
        }
        if (next.value()) {
            m_endpoint.emplace(std::move(*next.value()));
        } else {
            m_transport = nullptr;
        }
        return {};
    }

private:
    auto run_step(Endpoint&& endpoint) {
        if constexpr (std::is_same_v<State, NoState>) {
            return step(std::move(endpoint));
        } else {
            return step(m_state, std::move(endpoint));
        }
    }

    // Declared first: destroyed last, after the endpoint and its buffers.
    SessionHost m_host;
    [[no_unique_address]] State m_state;
    // Owned by the endpoint's ChannelEnd; null once the session ended.
    SessionTransport* m_transport = nullptr;
    std::optional<Endpoint> m_endpoint;
};

}  // namespace milk::kernel
