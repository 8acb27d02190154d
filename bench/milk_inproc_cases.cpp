// milk within one process: the generated endpoints over inproc channels, and
// the bare RegionTransport they stand on, driven by hand with the same
// 64-byte slots as the raw ring (no generated code, no ChannelEnd), so that
// what the generated layer adds shows as the distance between the two rows.
#include "milk_endpoints.hpp"
#include "slot_protocol.hpp"

#include <milk/channel_region.hpp>
#include <milk/inproc.hpp>
#include <milk/region.hpp>
#include <milk/region_transport.hpp>

#include <memory>
#include <utility>

namespace milk::bench {
namespace {

milk::inproc::Options options_for(MilkWait wait) {
    const milk::WaitPolicy policy = wait_policy(wait);
    milk::inproc::Options options;
    options.wait_mode = policy.mode;
    options.spin_budget = policy.spin_budget;
    return options;
}

void send_slot(RegionTransport& transport, const Slot& slot, const std::string& where) {
    auto sent = transport.send(slot);
    if (!sent.ok()) fatal_milk(where, "send", sent.error());
}

Slot receive_slot(RegionTransport& transport, const std::string& where) {
    return take(transport.receive(milk::Deadline::never()), where, "receive");
}

void serve_slots(RegionTransport& transport, const std::string& where) {
    SlotServer server;
    for (;;) {
        Slot reply;
        switch (server.handle(receive_slot(transport, where), reply, where.c_str())) {
        case SlotServer::Action::Reply: send_slot(transport, reply, where); break;
        case SlotServer::Action::Nothing: break;
        case SlotServer::Action::Stop: return;
        }
    }
}

}  // namespace

LatencyRow run_milk_inproc(const CaseContext& context, MilkWait wait) {
    LatencyRow row;
    row.id = std::string("milk_inproc_") + wait_id(wait);
    row.label = std::string("milk inproc, ") + wait_label(wait);
    row.measured = true;
    Bench::Endpoints endpoints = take(Bench::open_inproc(options_for(wait)), row.id, "open_inproc");
    {
        PinnedThread server(context.cpus.server_cpu, [&endpoints, &row] {
            serve_bench(std::move(endpoints.server), Touch::Stamp, row.id);
        });
        run_bench_latency(context, std::move(endpoints.client), row);
    }
    return row;
}

BytesRow run_milk_inproc_bytes(const CaseContext& context, std::size_t size, Touch touch) {
    BytesRow row;
    row.id = "milk_inproc";
    row.label = "milk inproc (spin)";
    row.size = size;
    row.touch = touch;
    row.measured = true;
    milk::inproc::Options options = options_for(MilkWait::Spin);
    options.heap_bytes_per_side = heap_bytes_for(size);
    Bench::Endpoints endpoints = take(Bench::open_inproc(options), row.id, "open_inproc");
    {
        PinnedThread server(context.cpus.server_cpu, [&endpoints, &row, touch] {
            serve_bench(std::move(endpoints.server), touch, row.id);
        });
        run_bench_bytes(context, std::move(endpoints.client), row);
    }
    return row;
}

LatencyRow run_region_transport(const CaseContext& context, MilkWait wait) {
    LatencyRow row;
    row.id = std::string("region_transport_") + wait_id(wait);
    row.label = std::string("RegionTransport by hand, ") + wait_label(wait);
    row.measured = true;
    const milk::inproc::Options defaults;
    const auto layout = take(milk::ChannelRegionLayout::compute(defaults.ring_capacity, defaults.heap_bytes_per_side),
                             row.id, "layout");
    auto region = take(milk::Region::try_create_anonymous(layout.total_bytes), row.id, "map region");
    milk::RegionTransport::initialise(*region, layout);
    auto client = take(milk::RegionTransport::try_create(region, layout, milk::ChannelSide::First, wait_policy(wait)),
                       row.id, "attach first");
    auto server = take(milk::RegionTransport::try_create(region, layout, milk::ChannelSide::Second, wait_policy(wait)),
                       row.id, "attach second");
    {
        PinnedThread serving(context.cpus.server_cpu, [&server, &row] { serve_slots(*server, row.id); });
        row.samples = measure_round_trips(context.latency, context.clock, [&](std::uint64_t seq) {
            send_slot(*client, make_slot(SlotTag::Ping, seq), row.id);
            expect_slot(receive_slot(*client, row.id), SlotTag::Pong, seq, row.id.c_str());
        });
        std::uint64_t item = 0;
        row.stream = measure_stream(context.stream, context.clock, [&](std::size_t max, std::uint64_t budget) {
            const std::uint64_t start = TickClock::now();
            std::size_t sent = 0;
            while (sent < max) {
                send_slot(*client, make_slot(SlotTag::Item, ++item), row.id);
                if (++sent % 256 == 0 && over_budget(start, budget)) break;
            }
            send_slot(*client, make_slot(SlotTag::Finish, 0), row.id);
            expect_slot(receive_slot(*client, row.id), SlotTag::Finished, sent, row.id.c_str());
            return sent;
        });
        send_slot(*client, make_slot(SlotTag::Stop, 0), row.id);
    }
    return row;
}

}  // namespace milk::bench
