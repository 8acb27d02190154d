// ChannelRegionLayout::compute. Also compiled into milk.ko (kernel-stubs/
// stages this file), so it uses nothing but the kernel-safe headers.
#include "milk/region_layout.hpp"

#include "milk/ring.hpp"
#include "milk/slot.hpp"

namespace milk {
namespace {

constexpr std::size_t round_up(std::size_t value, std::size_t alignment) {
    return (value + alignment - 1) / alignment * alignment;
}

constexpr bool is_power_of_two(std::uint32_t value) { return value != 0 && (value & (value - 1)) == 0; }

}  // namespace

Result<ChannelRegionLayout> ChannelRegionLayout::compute(std::uint32_t ring_capacity, std::uint32_t pool_bytes) {
    if (!is_power_of_two(ring_capacity) || ring_capacity < 2 || ring_capacity > (1u << 24))
        return Error{ErrorCode::InvalidArgument, "ring capacity must be a power of two in [2, 2^24]", ring_capacity};
    if (!is_power_of_two(pool_bytes) || pool_bytes < 64 || pool_bytes > (1u << 30))
        return Error{ErrorCode::InvalidArgument, "exchange heap bytes per side must be a power of two in [64, 2^30]",
                     pool_bytes};

    ChannelRegionLayout layout;
    layout.ring_capacity = ring_capacity;
    layout.pool_bytes = pool_bytes;
    // The smallest buffer is 64 bytes, so a pool never has more than
    // pool_bytes / 64 buffers out; a return ring that large never overflows
    // with an honest peer.
    layout.return_ring_capacity = pool_bytes / 64;

    std::size_t at = 0;
    layout.control_offset = at;
    at += sizeof(ChannelControl);
    for (std::size_t side = 0; side < 2; ++side) {
        layout.message_ring_offset[side] = at;
        at = round_up(at + ring_region_bytes<Slot>(ring_capacity), cache_line_size);
    }
    for (std::size_t side = 0; side < 2; ++side) {
        layout.return_ring_offset[side] = at;
        at = round_up(at + ring_region_bytes<WireBytes>(layout.return_ring_capacity), cache_line_size);
    }
    // Page alignment lets the process transport map the heap separately
    // later (or protect it) without moving anything.
    layout.heap_offset = round_up(at, 4096);
    layout.total_bytes = layout.heap_offset + 2 * std::size_t{pool_bytes};
    return layout;
}

}  // namespace milk
