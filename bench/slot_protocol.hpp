// The 64-byte message protocol of the hand-written cases (raw ring, pipe,
// Unix socket, bare RegionTransport): one milk::Slot per message, laid out
// as the generated code lays out `message Ping(u64 seq)`: tag, length 8, the
// value in the first payload bytes, the rest zero. Every message is the full
// 64 bytes on every transport, so no row carries less than milk does.
#pragma once

#include "support.hpp"

#include <milk/slot.hpp>

#include <cstdint>

namespace milk::bench {

enum class SlotTag : std::uint16_t {
    Ping = 1,      // client -> server: answer with Pong, same value
    Pong = 2,
    Item = 3,      // client -> server: one streamed message, value = seq
    Finish = 4,    // client -> server: the stream is over, answer Finished
    Finished = 5,  // server -> client: value = Items received since the last Finish
    Stop = 6,      // client -> server: the case is over
};

[[nodiscard]] inline Slot make_slot(SlotTag tag, std::uint64_t value) {
    Slot slot;
    slot.tag = static_cast<std::uint16_t>(tag);
    slot.length = 8;
    slot.put<std::uint64_t>(0, value);
    return slot;
}

[[nodiscard]] inline std::uint64_t slot_value(const Slot& slot) { return slot.get<std::uint64_t>(0); }

// Checks that `slot` is `tag` carrying `value`; stops the run otherwise.
inline void expect_slot(const Slot& slot, SlotTag tag, std::uint64_t value, const char* where) {
    if (slot.tag != static_cast<std::uint16_t>(tag) || slot_value(slot) != value)
        fatal(std::string(where) + ": unexpected message (tag " + std::to_string(slot.tag) + ", value " +
              std::to_string(slot_value(slot)) + ", expected tag " + std::to_string(static_cast<unsigned>(tag)) +
              ", value " + std::to_string(value) + ")");
}

// The server's side of the protocol, whatever carries the slots.
class SlotServer {
public:
    enum class Action : std::uint8_t { Reply, Nothing, Stop };

    // Looks at one incoming slot; fills `reply` when it needs an answer.
    [[nodiscard]] Action handle(const Slot& in, Slot& reply, const char* where) {
        switch (static_cast<SlotTag>(in.tag)) {
        case SlotTag::Ping:
            reply = make_slot(SlotTag::Pong, slot_value(in));
            return Action::Reply;
        case SlotTag::Item:
            // Items are numbered 1, 2, 3... across all streams of a case: a
            // lost, doubled or reordered one shows here.
            if (slot_value(in) != m_last_item + 1) fatal(std::string(where) + ": stream out of order");
            m_last_item = slot_value(in);
            ++m_streamed;
            return Action::Nothing;
        case SlotTag::Finish:
            reply = make_slot(SlotTag::Finished, m_streamed);
            m_streamed = 0;
            return Action::Reply;
        case SlotTag::Stop:
            return Action::Stop;
        case SlotTag::Pong:
        case SlotTag::Finished:
            break;
        }
        fatal(std::string(where) + ": server got tag " + std::to_string(in.tag));
    }

private:
    std::uint64_t m_last_item = 0;
    std::uint64_t m_streamed = 0;
};

}  // namespace milk::bench
