// milk::inproc::open_channel: a RegionTransport pair over anonymous memory.
#include "milk/inproc.hpp"

#include "milk/channel_region.hpp"
#include "milk/region.hpp"
#include "milk/region_transport.hpp"

#include <utility>

namespace milk::inproc {

Result<ChannelPair> open_channel(const Options& options) {
    if (options.spin_budget.count() < 0)
        return Error{ErrorCode::InvalidArgument, "spin budget cannot be negative", options.spin_budget.count()};
    auto layout = ChannelRegionLayout::compute(options.ring_capacity, options.heap_bytes_per_side);
    if (!layout.ok()) return layout.error();
    auto region = Region::try_create_anonymous(layout.value().total_bytes);
    if (!region.ok()) return region.error();
    RegionTransport::initialise(*region.value(), layout.value());

    const WaitPolicy policy{options.wait_mode, options.spin_budget};
    auto first = RegionTransport::try_create(region.value(), layout.value(), ChannelSide::First, policy);
    if (!first.ok()) return first.error();
    auto second = RegionTransport::try_create(std::move(region).value(), layout.value(), ChannelSide::Second, policy);
    if (!second.ok()) return second.error();
    return ChannelPair{ChannelEnd(std::move(first).value()), ChannelEnd(std::move(second).value())};
}

}  // namespace milk::inproc
