// Helpers shared by the runtime tests.
#pragma once

#include <milk/channel_region.hpp>
#include <milk/region.hpp>
#include <milk/region_transport.hpp>
#include <milk/slot.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace milk::test {

// A channel whose two ends are RegionTransports the test can look into
// (heap statistics, whether the peer sleeps), plus the region itself.
struct RawChannel {
    std::shared_ptr<Region> region;
    ChannelRegionLayout layout;
    std::unique_ptr<RegionTransport> first;
    std::unique_ptr<RegionTransport> second;
};

inline RawChannel open_raw_channel(std::uint32_t ring_capacity, std::uint32_t pool_bytes, WaitPolicy policy = {}) {
    RawChannel channel;
    channel.layout = ChannelRegionLayout::compute(ring_capacity, pool_bytes).value();
    channel.region = Region::try_create_anonymous(channel.layout.total_bytes).value();
    RegionTransport::initialise(*channel.region, channel.layout);
    channel.first = RegionTransport::try_create(channel.region, channel.layout, ChannelSide::First, policy).value();
    channel.second = RegionTransport::try_create(channel.region, channel.layout, ChannelSide::Second, policy).value();
    return channel;
}

inline Slot numbered_slot(std::uint64_t number) {
    Slot slot;
    slot.tag = 1;
    slot.length = sizeof(number);
    slot.put(0, number);
    return slot;
}

inline Slot handle_slot(WireBytes wire) {
    Slot slot;
    slot.tag = 2;
    slot.length = sizeof(wire);
    slot.put(0, wire);
    return slot;
}

}  // namespace milk::test
