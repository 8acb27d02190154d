// The ping-pong and the stream over a pair of single-producer single-consumer
// queues, one per direction, with no milk in between: the floors milk's rows
// are compared with (the hand-written raw ring, Boost.Lockfree's
// spsc_queue). Both run this same code, so the distance between their rows
// is the queues' alone.
//
// `Queue` provides `Shared` (the queue's memory), and `Producer` and
// `Consumer`, made from a `Shared&`, with `bool try_push(const Slot&)` and
// `bool try_pop(Slot&)`.
#pragma once

#include "cases.hpp"
#include "slot_protocol.hpp"

#include <memory>
#include <string>

namespace milk::bench {

template <typename Queue>
LatencyRow run_queue_case(const CaseContext& context, std::string id, std::string label) {
    using Producer = typename Queue::Producer;
    using Consumer = typename Queue::Consumer;
    const auto push = [](Producer& out, const Slot& slot) { spin_until([&] { return out.try_push(slot); }); };
    const auto pop = [](Consumer& in) {
        Slot slot;
        spin_until([&] { return in.try_pop(slot); });
        return slot;
    };

    LatencyRow row;
    row.id = std::move(id);
    row.label = std::move(label);
    row.measured = true;
    auto requests = std::make_unique<typename Queue::Shared>();
    auto answers = std::make_unique<typename Queue::Shared>();
    const char* where = row.id.c_str();
    {
        PinnedThread server(context.cpus.server_cpu, [&] {
            Consumer in(*requests);
            Producer out(*answers);
            SlotServer server_state;
            for (;;) {
                Slot reply;
                switch (server_state.handle(pop(in), reply, where)) {
                case SlotServer::Action::Reply: push(out, reply); break;
                case SlotServer::Action::Nothing: break;
                case SlotServer::Action::Stop: return;
                }
            }
        });
        Producer out(*requests);
        Consumer in(*answers);
        row.samples = measure_round_trips(context.latency, context.clock, [&](std::uint64_t seq) {
            push(out, make_slot(SlotTag::Ping, seq));
            expect_slot(pop(in), SlotTag::Pong, seq, where);
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
            expect_slot(pop(in), SlotTag::Finished, sent, where);
            return sent;
        });
        push(out, make_slot(SlotTag::Stop, 0));
    }
    return row;
}

}  // namespace milk::bench
