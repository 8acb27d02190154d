// Serving a channel so that its component can be stopped at a cut point and
// carried elsewhere (live relocation; docs/relocation.md).
//
// A step component (milk::StepComponent) handles one client message per
// step and comes back to the contract's initial state, where the client
// speaks: a cut point (codegen/cut_points.cpp), so between two steps the
// server owes nothing. serve_movable() is milk::serve_channel's loop with
// one addition: before each step it waits for a message *or* a park request
// (ParkSignal), and on a request it writes the component's snapshot and
// hands back the channel's end, still open, with the unconsumed messages in
// place. A component that serves whole sessions (serve()) keeps state in
// its stack frame that no snapshot holds, so it has no movable form.
//
// reencode() is the client side's half: the messages a client sent that the
// parked component never took are read back from the old channel, decoded
// there (the client takes its own buffers back) and encoded again for the
// successor channel, each `bytes` copied once into the successor's heap
// (RelocatingTransport, userland/host/relocating_transport.hpp).
#pragma once

#include <milk/channel.hpp>
#include <milk/component.hpp>
#include <milk/session.hpp>

#include <boost/hana/for_each.hpp>
#include <boost/hana/keys.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

namespace milk::host {

// A request to stop serving at the next cut point. The requester calls
// request(); the serving loop sees it before its next step, or is woken
// from its wait for a message (Transport::wait_receivable).
class ParkSignal {
public:
    ParkSignal() = default;
    ParkSignal(const ParkSignal&) = delete;
    ParkSignal& operator=(const ParkSignal&) = delete;

    void request() {
        std::lock_guard lock(m_lock);
        m_requested.store(true, std::memory_order_release);
        if (m_transport != nullptr) m_transport->wake_receiver();
    }
    // Withdraws a request the loop has not acted on (a move that gave up).
    void withdraw() { m_requested.store(false, std::memory_order_release); }
    [[nodiscard]] bool requested() const { return m_requested.load(std::memory_order_acquire); }
    [[nodiscard]] const std::atomic<bool>& flag() const { return m_requested; }

    // The serving loop's side: the transport it waits on, so that request()
    // can wake it. The lock keeps request() from ringing a transport that
    // the loop is about to give up.
    void attach(Transport* transport) {
        std::lock_guard lock(m_lock);
        m_transport = transport;
    }
    void detach() { attach(nullptr); }

private:
    std::atomic<bool> m_requested{false};
    std::mutex m_lock;
    Transport* m_transport = nullptr;
};

// A channel whose component stopped at a cut point: its end (still open,
// unconsumed messages in its ring) and the component's snapshot.
struct ParkedChannel {
    ChannelEnd end;
    std::vector<std::byte> snapshot;
};

// The largest snapshot the host carries: a component with more state than
// this cannot be moved (the move fails and it stays where it is).
inline constexpr std::size_t max_snapshot_bytes = std::size_t{64} << 20;

// The component's snapshot in a vector, growing the buffer as asked.
template <Component C>
[[nodiscard]] Result<std::vector<std::byte>> snapshot_of(const C& component) {
    std::vector<std::byte> bytes(4096);
    for (;;) {
        auto written = take_snapshot(component, bytes);
        if (written.ok()) {
            bytes.resize(written.value());
            return bytes;
        }
        // OutOfMemory says how many bytes it needed (snapshot.hpp).
        const auto needed = static_cast<std::size_t>(written.error().detail);
        if (written.error().code != ErrorCode::OutOfMemory || needed <= bytes.size() || needed > max_snapshot_bytes)
            return written.error();
        bytes.resize(needed);
    }
}

// The component's object, new or from a snapshot (empty: new).
template <Component C>
[[nodiscard]] Result<C> create_or_restore(const Settings& settings, std::span<const std::byte> snapshot) {
    if (snapshot.empty()) return C::try_create(settings);
    return restore_snapshot<C>(settings, snapshot);
}

// Serves `end` until the session ends (nullopt) or `signal` parks it. An
// error ends the session too (the end closes with it, as serve_channel's
// caller would close it).
template <StepComponent C>
[[nodiscard]] Result<std::optional<ParkedChannel>> serve_movable(const Settings& settings,
                                                                 std::span<const std::byte> snapshot,
                                                                 ChannelEnd&& end, ParkSignal& signal) {
    using Endpoint = typename C::Contract::ServerEndpoint;
    auto created = create_or_restore<C>(settings, snapshot);
    if (!created.ok()) return end.fail(created.error());
    C component = std::move(created).value();
    std::unique_ptr<Transport> owned = std::move(end).release_transport();
    Transport& transport = *owned;
    signal.attach(&transport);
    struct Detach {
        ParkSignal& signal;
        ~Detach() { signal.detach(); }
    } detach_on_return{signal};

    // In an optional between steps: clang's -Wconsumed cannot follow a
    // consumable local that a loop consumes and reassigns.
    std::optional<Endpoint> current{C::Contract::server(ChannelEnd(std::move(owned)))};
    for (;;) {
        if (!signal.requested()) {
            auto receivable = transport.wait_receivable(signal.flag());
            if (!receivable.ok()) return receivable.error();
            if (receivable.value()) {
                auto next = component.step(std::move(*current));
                current.reset();
                if (!next.ok()) return next.error();
                if (!next.value()) return std::optional<ParkedChannel>{};  // the session ended
                current.emplace(std::move(*next.value()));
                continue;
            }
        }
        // Parked: between two steps, so in the initial state, where the
        // client speaks; the component owes nothing.
        auto bytes = snapshot_of(component);
        if (!bytes.ok()) {
            // Without a snapshot the component cannot go anywhere: it stays
            // and serves on. The requester learns why from its timeout.
            signal.withdraw();
            continue;
        }
        return std::optional<ParkedChannel>{
            ParkedChannel{session::detail::Access::take(std::move(*current)), std::move(bytes).value()}};
    }
}

namespace movable_detail {

// `to` for the encoders of resend(): a ChannelEnd that borrows a transport
// and copies a buffer of another heap (the old channel's) into one of its
// own before it exports it.
class CopyingEnd final : public Transport {
public:
    explicit CopyingEnd(Transport& to) : m_to(to) {}
    Result<void> send(const Slot& slot) override { return m_to.send(slot); }
    Result<void> send_batch(std::span<const Slot> slots) override { return m_to.send_batch(slots); }
    Result<void> wait_for_room(std::size_t slots, Deadline deadline) override {
        return m_to.wait_for_room(slots, deadline);
    }
    Result<Slot> receive(Deadline deadline) override { return m_to.receive(deadline); }
    Result<Buffer> allocate(std::size_t size) override { return m_to.allocate(size); }
    Result<WireBytes> export_buffer(Buffer&& buffer) override { return export_copy(m_to, std::move(buffer)); }
    Result<Buffer> import_buffer(WireBytes wire) override { return m_to.import_buffer(wire); }
    // The borrowed transport is not ours to close.
    void close(const Error* /*reason*/) noexcept override {}

    // Exports `buffer` on `to`; a buffer of another heap is copied into a
    // new buffer of `to`'s first (and the original dropped: it goes home).
    static Result<WireBytes> export_copy(Transport& to, Buffer&& buffer) {
        auto exported = to.export_buffer(std::move(buffer));
        // export_buffer takes the buffer only when it succeeds; refused as
        // another heap's, it leaves it whole (exchange_heap.hpp).
        // NOLINTNEXTLINE(bugprone-use-after-move): that is what is checked here.
        if (exported.ok() || exported.error().code != ErrorCode::InvalidArgument || !buffer.valid()) return exported;
        // Ours again, which the assignment (it sets the typestate) tells
        // clang's -Wconsumed too.
        Buffer original;
        original = std::move(buffer);
        Buffer copy = MILK_TRY(to.allocate(original.size()));
        std::copy_n(original.data(), original.size(), copy.data());
        copy.truncate(original.size());
        return to.export_buffer(std::move(copy));
    }

private:
    Transport& m_to;
};

}  // namespace movable_detail

// Encodes `slot` (read back from a channel the component left, whose end
// is `from`) again for `to`, into `out`: decoded as the contract's message
// with its tag, so that every `bytes` handle is taken back on `from`, then
// encoded for `to`, each buffer copied into `to`'s heap. The caller sends
// `out` on `to`.
template <typename Contract>
[[nodiscard]] Result<void> reencode(const Slot& slot, ChannelEnd& from, Transport& to, Slot& out) {
    ChannelEnd copying(std::make_unique<movable_detail::CopyingEnd>(to));
    std::optional<Result<void>> outcome;
    boost::hana::for_each(boost::hana::keys(Contract::protocol.message_tags), [&](auto type) {
        using Message = typename decltype(type)::type;
        if (outcome || slot.tag != milk_message_info(std::type_identity<Message>{}).tag) return;
        auto message = milk_decode(std::type_identity<Message>{}, slot, from);
        if (!message.ok()) {
            outcome = message.error();
            return;
        }
        out = Slot{};
        outcome = milk_encode(std::move(message).value(), copying, out);
    });
    if (!outcome) return Error{ErrorCode::ProtocolViolation, "a message with a tag its contract does not have", slot.tag};
    return *outcome;
}

}  // namespace milk::host
