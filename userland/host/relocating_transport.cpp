#include "relocating_transport.hpp"

#include <milk/host/movable.hpp>

#include <deque>
#include <utility>
#include <vector>

namespace milk::host::detail {
namespace {

class RelocatingTransport final : public Transport {
public:
    RelocatingTransport(std::unique_ptr<Transport> first, std::shared_ptr<Successor> successor, ReencodeFunction reencode,
                        const session::StateMachine& machine)
        : m_inner(std::move(first)),
          m_successor(std::move(successor)),
          m_reencode(reencode),
          m_machine(machine),
          m_state(machine.initial) {}
    ~RelocatingTransport() override { m_successor->client_gone(); }

    // A slot the old channel refused was encoded for it (its `bytes`
    // handles name the old heap): it goes to the successor after the
    // unreceived ones, through the codec like them, never as it is.
    Result<void> send(const Slot& slot) override {
        auto sent = m_inner->send(slot);
        if (!sent.ok()) {
            if (sent.error().code != ErrorCode::PeerClosed) return sent;
            if (!MILK_TRY(follow(sent.error(), &slot))) return sent;
        }
        sent_one(slot.tag);
        return {};
    }
    // One slot at a time: a batch the old channel cut short would leave no
    // way to tell which of its slots went out.
    Result<void> send_batch(std::span<const Slot> slots) override {
        for (const Slot& slot : slots) MILK_TRY(send(slot));
        return {};
    }
    // In place, as the inner end does it; a slot claimed and published
    // after the component parked stays unconsumed in the old ring and is
    // sent again at the switch like any other.
    Slot* try_claim_slot() override { return m_claimed = m_inner->try_claim_slot(); }
    Result<void> send_claimed() override {
        // The tag, read before the slot is the peer's.
        const std::uint16_t tag = m_claimed->tag;
        MILK_TRY(m_inner->send_claimed());
        sent_one(tag);
        return {};
    }
    Result<void> wait_for_room(std::size_t slots, Deadline deadline) override {
        for (;;) {
            auto room = m_inner->wait_for_room(slots, deadline);
            if (room.ok() || room.error().code != ErrorCode::PeerClosed) return room;
            if (!MILK_TRY(follow(room.error()))) return room;
        }
    }
    Result<Slot> receive(Deadline deadline) override {
        for (;;) {
            auto received = m_inner->receive(deadline);
            if (received.ok()) {
                m_state = m_machine.step(m_state, session::Direction::Recv, received.value().tag);
                return received;
            }
            if (received.error().code != ErrorCode::PeerClosed) return received;
            if (!MILK_TRY(follow(received.error()))) return received;
        }
    }
    Result<Buffer> allocate(std::size_t size) override { return m_inner->allocate(size); }
    // A buffer allocated on (or received from) the channel before a switch
    // belongs to the old channel's heap: it is copied into the new one.
    Result<WireBytes> export_buffer(Buffer&& buffer) override {
        return movable_detail::CopyingEnd::export_copy(*m_inner, std::move(buffer));
    }
    Result<Buffer> import_buffer(WireBytes wire) override { return m_inner->import_buffer(wire); }
    void close(const Error* reason) noexcept override {
        m_inner->close(reason);
        m_successor->client_gone();
    }

private:
    // After a close: switches to the successor if a move posted one (true),
    // or leaves the close to be reported (false). `refused`: a slot the old
    // channel did not take, sent last.
    Result<bool> follow(const Error& close, const Slot* refused = nullptr) {
        auto next = m_successor->take(close);
        if (!next) return false;
        // A restart after a death: only where the dead component owed
        // nothing. Dropping the successor ends its component's session.
        if (close.detail == peer_gone_detail && !owed_nothing()) return false;
        // The channels left behind, and the slots still to deliver, each
        // with the channel it was encoded for (its `bytes` name that heap).
        std::vector<ChannelEnd> left;
        std::deque<std::pair<Slot, std::size_t>> queue;
        left.emplace_back(std::exchange(m_inner, std::move(*next).release_transport()));
        MILK_TRY(queue_unreceived(left, queue, refused));
        while (!queue.empty()) {
            const auto [slot, source] = queue.front();
            Slot encoded{};
            MILK_TRY(m_reencode(slot, left[source], *m_inner, encoded));
            queue.pop_front();
            auto sent = m_inner->send(encoded);
            if (sent.ok()) continue;
            if (sent.error().code != ErrorCode::PeerClosed) return sent.error();
            // The successor moved on before we were done with it: what it
            // did not take goes first, then `encoded`, then the rest.
            auto again = m_successor->take(sent.error());
            if (!again) return sent.error();
            left.emplace_back(std::exchange(m_inner, std::move(*again).release_transport()));
            MILK_TRY(queue_unreceived(left, queue, &encoded));
        }
        for (ChannelEnd& end : left) end.close();
        return true;
    }
    // Puts the unreceived slots of left.back(), then `refused`, at the front
    // of `queue`.
    static Result<void> queue_unreceived(std::vector<ChannelEnd>& left, std::deque<std::pair<Slot, std::size_t>>& queue,
                                         const Slot* refused) {
        const std::size_t source = left.size() - 1;
        std::unique_ptr<Transport> transport = std::move(left.back()).release_transport();
        // The buffer grows until it holds them all (at most a ring's worth).
        std::vector<Slot> pending(256);
        Result<std::size_t> read = std::size_t{0};
        for (;;) {
            read = transport->unreceived(pending);
            if (!read.ok() || read.value() < pending.size()) break;
            pending.resize(pending.size() * 2);
        }
        left.back() = ChannelEnd(std::move(transport));
        if (!read.ok()) return read.error();
        if (refused != nullptr) queue.emplace_front(*refused, source);
        for (std::size_t i = read.value(); i-- > 0;) queue.emplace_front(pending[i], source);
        return {};
    }

    void sent_one(std::uint16_t tag) {
        m_before[m_sent % history] = m_state;
        ++m_sent;
        m_state = m_machine.step(m_state, session::Direction::Send, tag);
    }
    // Whether the component whose process died had answered every message
    // it took: the state before the first message it did not take (or now,
    // when it took them all) is a cut point. (A send that failed with the
    // death is not counted yet: it comes after all of these.)
    bool owed_nothing() {
        std::vector<Slot> pending(history + 1);
        auto read = m_inner->unreceived(pending);
        if (!read.ok() || read.value() > history || read.value() > m_sent) return false;
        const std::uint64_t untaken = read.value();
        const session::StateMachine::State at = untaken == 0 ? m_state : m_before[(m_sent - untaken) % history];
        return m_machine.is_cut_point(at);
    }

    // The states before the last `history` sends.
    static constexpr std::size_t history = 1024;

    std::unique_ptr<Transport> m_inner;
    std::shared_ptr<Successor> m_successor;
    ReencodeFunction m_reencode;
    const session::StateMachine& m_machine;
    session::StateMachine::State m_state;
    std::uint64_t m_sent = 0;
    session::StateMachine::State m_before[history] = {};
    Slot* m_claimed = nullptr;
};

}  // namespace

ChannelEnd relocating(ChannelEnd&& first, std::shared_ptr<Successor> successor, ReencodeFunction reencode,
                      const session::StateMachine& machine) {
    return ChannelEnd(std::make_unique<RelocatingTransport>(std::move(first).release_transport(), std::move(successor),
                                                            reencode, machine));
}

}  // namespace milk::host::detail
