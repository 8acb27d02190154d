// The layout of one channel's shared region: what lies where, as offsets.
//
// Pure data and one pure function: this header is also compiled into milk.ko,
// which lays out the regions of its `kernel` transport channels with it, so it
// must include nothing that needs libstdc++'s runtime (no <chrono>, <mutex>,
// <map>, shared_ptr). docs/kernel.md lists what is kernel-safe.
//
// Both sides compute the same layout from the same two numbers (ring
// capacity, pool bytes per side), so the region itself carries no pointers
// and no sizes a peer could lie about:
//
//   control block   side status x2, doorbell words x4   (one cache line each)
//   message ring 0  produced by side First,  consumed by side Second  (Slots)
//   message ring 1  produced by side Second, consumed by side First   (Slots)
//   return ring 0   buffers going back to side First's pool  (WireBytes)
//   return ring 1   buffers going back to side Second's pool (WireBytes)
//   exchange heap   pool 0 (side First) | pool 1 (side Second), page aligned
//
// A `bytes` handle (WireBytes) is an offset from the start of the exchange
// heap: pool 0 is [0, pool_bytes), pool 1 is [pool_bytes, 2 * pool_bytes).
#pragma once

#include "doorbell_word.hpp"
#include "result.hpp"

#include <array>
#include <cstddef>
#include <cstdint>

namespace milk {

// Which end of a channel. The creator of a channel is First by convention.
enum class ChannelSide : std::uint8_t { First = 0, Second = 1 };

[[nodiscard]] constexpr ChannelSide other_side(ChannelSide side) {
    return side == ChannelSide::First ? ChannelSide::Second : ChannelSide::First;
}
[[nodiscard]] constexpr std::size_t side_index(ChannelSide side) { return static_cast<std::size_t>(side); }

// One side's status, written only by that side. `reason` is an ErrorCode
// (0 for a normal close); it is written before `closed` is set (release), so
// a reader that sees closed == 1 (acquire) sees the reason.
struct alignas(64) SideStatus {
    std::uint32_t closed;
    std::uint32_t reason;
    std::int64_t detail;
};
static_assert(sizeof(SideStatus) == 64);

struct ChannelControl {
    std::array<SideStatus, 2> status;
    // data_bell[s]: the consumer of message ring s (side other(s)) sleeps
    // here waiting for messages; side s rings it after publishing or closing.
    std::array<DoorbellWord, 2> data_bell;
    // space_bell[s]: the producer of message ring s (side s) sleeps here while
    // the ring is full; side other(s) rings it after consuming or closing.
    std::array<DoorbellWord, 2> space_bell;
};
static_assert(sizeof(ChannelControl) == 6 * 64);

struct ChannelRegionLayout {
    std::uint32_t ring_capacity = 0;         // message slots per direction
    std::uint32_t pool_bytes = 0;            // exchange-heap bytes per side
    std::uint32_t return_ring_capacity = 0;  // = pool_bytes / 64: every buffer can be in flight home at once
    std::size_t control_offset = 0;
    std::array<std::size_t, 2> message_ring_offset{};  // [s]: produced by side s
    std::array<std::size_t, 2> return_ring_offset{};   // [s]: consumed by side s (its pool's returns)
    std::size_t heap_offset = 0;
    std::size_t total_bytes = 0;

    // ring_capacity: a power of two in [2, 2^24]. pool_bytes: a power of two
    // in [64, 2^30]. InvalidArgument otherwise.
    [[nodiscard]] static Result<ChannelRegionLayout> compute(std::uint32_t ring_capacity, std::uint32_t pool_bytes);
};

}  // namespace milk
