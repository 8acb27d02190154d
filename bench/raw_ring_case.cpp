// The floor for milk's design: the same ping-pong and stream over a bare
// SPSC ring of 64-byte slots (raw_ring.hpp), 256 slots per direction like
// milk's default.
#include "cases.hpp"
#include "raw_ring.hpp"
#include "slot_protocol.hpp"

#include <memory>

namespace milk::bench {
namespace {

using Ring = RawRing<256>;

void push(Ring::Producer& out, const Slot& slot) {
    spin_until([&] { return out.try_push(slot); });
}

Slot pop(Ring::Consumer& in) {
    Slot slot;
    spin_until([&] { return in.try_pop(slot); });
    return slot;
}

void serve(Ring::Shared& requests, Ring::Shared& answers) {
    Ring::Consumer in(requests);
    Ring::Producer out(answers);
    SlotServer server;
    for (;;) {
        Slot reply;
        switch (server.handle(pop(in), reply, "raw ring")) {
        case SlotServer::Action::Reply: push(out, reply); break;
        case SlotServer::Action::Nothing: break;
        case SlotServer::Action::Stop: return;
        }
    }
}

}  // namespace

LatencyRow run_raw_ring(const CaseContext& context) {
    LatencyRow row;
    row.id = "raw_ring";
    row.label = "raw SPSC ring, spin";
    row.measured = true;
    auto requests = std::make_unique<Ring::Shared>();
    auto answers = std::make_unique<Ring::Shared>();
    {
        PinnedThread server(context.cpus.server_cpu, [&] { serve(*requests, *answers); });
        Ring::Producer out(*requests);
        Ring::Consumer in(*answers);
        row.samples = measure_round_trips(context.latency, context.clock, [&](std::uint64_t seq) {
            push(out, make_slot(SlotTag::Ping, seq));
            expect_slot(pop(in), SlotTag::Pong, seq, "raw ring");
        });
        std::uint64_t item = 0;
        row.stream = measure_stream(context.stream, context.clock, [&](std::size_t max, std::uint64_t budget) {
            const std::uint64_t start = TickClock::now();
            std::size_t sent = 0;
            while (sent < max) {
                push(out, make_slot(SlotTag::Item, ++item));
                if (++sent % 256 == 0 && over_budget(start, budget)) break;
            }
            push(out, make_slot(SlotTag::Finish, 0));
            expect_slot(pop(in), SlotTag::Finished, sent, "raw ring stream");
            return sent;
        });
        push(out, make_slot(SlotTag::Stop, 0));
    }
    return row;
}

}  // namespace milk::bench
