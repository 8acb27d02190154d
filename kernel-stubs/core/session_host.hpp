// Kernel-side components written against the generated C++ endpoints.
//
// A component that is the same source in user space and in milk.ko comes
// in one of two shapes:
//
//   * a step: it takes the endpoint of a state where the client speaks,
//     receives one message with the generated receive(handlers...), sends
//     what its contract requires with send(...), and returns the endpoint of
//     the next such state (or nothing after `end`):
//
//         milk::Result<std::optional<Server<state::Idle>>> step(Server<state::Idle>&&);
//
//     User space calls it in a loop over any transport. In the module it
//     runs once per message inline in the kick (SessionComponent), or in a
//     loop in the channel's serving thread.
//   * a whole serve function: it takes the endpoint of the initial state and
//     returns when the session ends:
//
//         milk::Result<Report> serve(Server<state::Greeting>&&);
//
//     Anything the contract allows: the server may speak first and receive
//     any number of messages before it answers. In the module it runs only
//     in the channel's serving thread (SessionServeComponent), where a
//     receive sleeps until the next message.
//
// Either way a message reaches the component only after the contract's
// generated C validator has accepted it against the state the kernel tracks
// and the channel has checked who holds each of its buffers. The generated C++ decoder then decodes that very copy
// (ChannelContext::message_slot(), kernel memory, never the ring), so both
// checks see one copy of the slot; the C++ decoder's checks (length, flags,
// bools, enums, the tag against the endpoint's state) repeat the
// validator's, which stays in front as the kernel's own line of defence.
//
// The pieces:
//   SessionHost       the BufferHome of the component's buffers. It is a
//                     member of the component, declared before the endpoint,
//                     so it outlives the endpoint and every buffer (this is
//                     why the freestanding Buffer may hold a plain pointer to
//                     its home, buffer.hpp).
//   SessionTransport  the milk::Transport inside the endpoint's ChannelEnd:
//                     receive() is ChannelContext::next_message (the pending
//                     message in a kick; a sleeping wait in a thread), send()
//                     publishes through ChannelContext::send (checked with
//                     the stub's on_send), buffers map onto the kernel's
//                     pool and user space's blocks.
//   SessionComponent  a step component: owns the host and the current
//                     endpoint, runs the step per message or in a loop.
//   SessionServeComponent
//                     a serve-function component, for serving threads.
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

// What a component without state of its own keeps: nothing.
struct NoState {};

// A step component. Endpoint: the component's endpoint type in a state
// where the client speaks. make: ChannelEnd&& -> Endpoint (the generated
// Contract::server()). step: Endpoint&& -> Result<optional<Endpoint>>, or
// (State&, Endpoint&&) -> the same for a component with state (one State
// per channel, e.g. the file server's table).
template <typename Endpoint, auto make, auto step, typename State = NoState>
class SessionComponent final : public Component {
public:
    [[nodiscard]] static Result<Owned<Component>> create() {
        auto component = Owned<SessionComponent>::try_create();
        if (!component.ok()) return component.error();
        auto end = make_session_end(component.value()->m_host);
        if (!end.ok()) return end.error();
        component.value()->m_endpoint.emplace(make(std::move(end).value()));
        return Owned<Component>(std::move(component).value());
    }

    // Inline in a kick: the channel calls this with one message pending.
    [[nodiscard]] Result<void> on_message(const void*, ChannelContext& channel) override {
        // The validator let the message through, so the tracked state had a
        // client message to take: a component that ended has no endpoint,
        // and the validator rejects everything after `end`.
        if (!m_endpoint)
            return Error{ErrorCode::ProtocolViolation, "a kernel component got a message after it ended", 0};
        m_host.bind(channel);
        return run_step();
    }

    // In a serving thread: step after step, each receive sleeping until the
    // next message, until the session ends.
    [[nodiscard]] Result<void> run(ChannelContext& channel) override {
        m_host.bind(channel);
        while (m_endpoint) {
            if (auto stepped = run_step(); !stepped.ok()) return stepped;
        }
        return {};
    }

private:
    [[nodiscard]] Result<void> run_step() {
        Endpoint endpoint = std::move(*m_endpoint);
        m_endpoint.reset();
        // On an error, or after `end`, the endpoint (and with it the
        // transport) is gone.
        auto next = call_step(std::move(endpoint));
        if (!next.ok()) return session_failure(m_host, next.error());
        if (next.value()) m_endpoint.emplace(std::move(*next.value()));
        return {};
    }

    auto call_step(Endpoint&& endpoint) {
        if constexpr (std::is_same_v<State, NoState>) {
            return step(std::move(endpoint));
        } else {
            return step(m_state, std::move(endpoint));
        }
    }

    // Declared first: destroyed last, after the endpoint and its buffers.
    SessionHost m_host;
    [[no_unique_address]] State m_state;
    std::optional<Endpoint> m_endpoint;
};

// A serve-function component (Hosting::Thread). make: ChannelEnd&& -> the
// endpoint of the contract's initial state (the generated
// Contract::server()); serve: that endpoint -> Result<anything>, run once in
// the channel's serving thread.
template <auto make, auto serve>
class SessionServeComponent final : public Component {
public:
    [[nodiscard]] static Result<Owned<Component>> create() {
        auto component = Owned<SessionServeComponent>::try_create();
        if (!component.ok()) return component.error();
        return Owned<Component>(std::move(component).value());
    }

    // Never called: the channel gives a Hosting::Thread component a thread.
    [[nodiscard]] Result<void> on_message(const void*, ChannelContext&) override {
        return Error{ErrorCode::InvalidArgument, "this kernel component runs only in a serving thread", 0};
    }

    [[nodiscard]] Result<void> run(ChannelContext& channel) override {
        m_host.bind(channel);
        auto end = make_session_end(m_host);
        if (!end.ok()) return end.error();
        auto served = serve(make(std::move(end).value()));
        if (!served.ok()) return session_failure(m_host, served.error());
        return {};
    }

private:
    // Outlives every buffer the serve function left behind: they die with
    // its frames, before run() returns.
    SessionHost m_host;
};

}  // namespace milk::kernel
