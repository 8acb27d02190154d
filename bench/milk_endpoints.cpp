#include "milk_endpoints.hpp"

#include <optional>
#include <utility>
#include <variant>

namespace milk::bench {
namespace {

using ServerAwaitPong = Bench::Server<Bench::state::AwaitPong>;
using ServerAwaitBlob = Bench::Server<Bench::state::AwaitBlob>;
using ServerStreaming = Bench::Server<Bench::state::Streaming>;
using ServerAwaitFinished = Bench::Server<Bench::state::AwaitFinished>;
using ClientStreaming = Bench::Client<Bench::state::Streaming>;

// What the server's Idle handlers return: the endpoint for the next request,
// or nothing once the client said Bye.
using ServerStep = milk::Result<std::optional<ServerIdle>>;

// Serves one stream: Items until Finish, then the count.
//
// clang's -Wconsumed (on in the verify build) reports "state of variable
// 'streaming' must match at the entry and exit of loop" here: a false
// positive of its loop merge, since `streaming` is moved into `state` once,
// before the loop, and never touched in it. Silenced for this function only.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wconsumed"
#endif
ServerStep serve_stream(std::uint64_t first, ServerStreaming streaming, std::uint64_t& last_item,
                        const std::string& where) {
    if (first != last_item + 1) fatal(where + ": stream out of order");
    last_item = first;
    std::uint64_t count = 1;
    using Next = std::variant<ServerStreaming, ServerAwaitFinished>;
    Next state{std::in_place_index<0>, std::move(streaming)};
    for (;;) {
        auto next = std::move(std::get<0>(state))
                        .receive(
                            [&](Bench::Item&& item, ServerStreaming&& more) {
                                if (item.seq != last_item + 1) fatal(where + ": stream out of order");
                                last_item = item.seq;
                                ++count;
                                return Next{std::in_place_index<0>, std::move(more)};
                            },
                            [](Bench::Finish&&, ServerAwaitFinished&& done) {
                                return Next{std::in_place_index<1>, std::move(done)};
                            });
        if (!next.ok()) return next.error();
        state = std::move(next).value();
        if (state.index() == 1) {
            auto idle = std::move(std::get<1>(state)).send(Bench::Finished{count});
            if (!idle.ok()) return idle.error();
            return std::optional<ServerIdle>{std::move(idle).value()};
        }
    }
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

}  // namespace

milk::WaitPolicy wait_policy(MilkWait wait) {
    milk::WaitPolicy policy;  // the defaults: spin 10 us, then sleep
    if (wait == MilkWait::Spin) policy.mode = milk::WaitMode::Poll;
    if (wait == MilkWait::Blocking) policy.spin_budget = std::chrono::nanoseconds(0);
    return policy;
}

const char* wait_id(MilkWait wait) {
    switch (wait) {
    case MilkWait::Spin: return "spin";
    case MilkWait::Blocking: return "blocking";
    case MilkWait::Default: return "default";
    }
    return "?";
}

const char* wait_label(MilkWait wait) {
    switch (wait) {
    case MilkWait::Spin: return "spin";
    case MilkWait::Blocking: return "blocking";
    case MilkWait::Default: return "default (spin 10 us, sleep)";
    }
    return "?";
}

void fatal_milk(const std::string& where, const char* doing, const milk::Error& error) {
    fatal(where + ": " + doing + ": " + milk::describe(error.code) + (error.what ? std::string(" (") + error.what + ")" : "") +
          ", detail " + std::to_string(error.detail));
}

void serve_bench(ServerIdle server, Touch touch, const std::string& where) {
    std::uint64_t last_item = 0;
    for (;;) {
        ServerStep step = std::move(server).receive(
            [](Bench::Ping&& ping, ServerAwaitPong&& answer) -> ServerStep {
                auto idle = std::move(answer).send(Bench::Pong{ping.seq});
                if (!idle.ok()) return idle.error();
                return std::optional<ServerIdle>{std::move(idle).value()};
            },
            [&](Bench::Blob&& blob, ServerAwaitBlob&& answer) -> ServerStep {
                if (!check_payload(blob.payload.bytes(), blob.seq, touch)) fatal(where + ": payload corrupted");
                // The same buffer goes back: handing it back is a move of a
                // handle, not a copy.
                auto idle = std::move(answer).send(Bench::BlobBack{blob.seq, std::move(blob.payload)});
                if (!idle.ok()) return idle.error();
                return std::optional<ServerIdle>{std::move(idle).value()};
            },
            [&](Bench::Item&& item, ServerStreaming&& streaming) -> ServerStep {
                return serve_stream(item.seq, std::move(streaming), last_item, where);
            },
            [](Bench::Bye&&) -> ServerStep { return std::optional<ServerIdle>{}; });
        std::optional<ServerIdle> next = take(std::move(step), where, "server receive");
        if (!next) return;
        server = std::move(*next);
    }
}

void run_bench_latency(const CaseContext& context, ClientIdle client, LatencyRow& row) {
    const std::string& where = row.id;
    row.samples = measure_round_trips(context.latency, context.clock, [&](std::uint64_t seq) {
        auto waiting = take(std::move(client).send(Bench::Ping{seq}), where, "send Ping");
        client = take(std::move(waiting).receive([&](Bench::Pong&& pong, ClientIdle&& next) {
            if (pong.seq != seq) fatal(where + ": Pong out of order");
            return std::move(next);
        }),
                      where, "receive Pong");
    });

    std::uint64_t item = 0;
    row.stream = measure_stream(context.stream, context.clock, [&](std::size_t max, std::uint64_t budget) {
        const std::uint64_t start = TickClock::now();
        ClientStreaming streaming = take(std::move(client).send(Bench::Item{++item}), where, "send Item");
        std::size_t sent = 1;
        while (sent < max) {
            streaming = take(std::move(streaming).send(Bench::Item{++item}), where, "send Item");
            if (++sent % 256 == 0 && over_budget(start, budget)) break;
        }
        auto waiting = take(std::move(streaming).send(Bench::Finish{}), where, "send Finish");
        client = take(std::move(waiting).receive([&](Bench::Finished&& finished, ClientIdle&& next) {
            if (finished.count != sent) fatal(where + ": the server counted a different number of Items");
            return std::move(next);
        }),
                      where, "receive Finished");
        return sent;
    });

    auto bye = std::move(client).send(Bench::Bye{});
    if (!bye.ok()) fatal_milk(where, "send Bye", bye.error());
}

void run_bench_bytes(const CaseContext& context, ClientIdle client, BytesRow& row) {
    const std::string& where = row.id;
    const Touch touch = row.touch;
    milk::Buffer buffer = take(client.allocate(row.size), where, "allocate");
    if (buffer.size() != row.size) fatal(where + ": allocate gave the wrong size");
    // Filled once, so that no page of it is touched for the first time
    // inside the timed loop (the pipe and socket rows do the same).
    for (std::size_t i = 0; i < buffer.size() / 8; ++i) write_word(buffer.bytes(), i, i);

    row.samples = measure_round_trips(context.bytes, context.clock, [&](std::uint64_t seq) {
        // The buffer goes out in the Blob and the handler below takes it back
        // (buffer = std::move(back.payload)) before the next round trip; the
        // analysers cannot see that across calls of this lambda.
        write_payload(buffer.bytes(), seq, touch);  // NOLINT(clang-analyzer-cplusplus.Move)
        // NOLINTNEXTLINE(bugprone-use-after-move): see above
        auto waiting = take(std::move(client).send(Bench::Blob{seq, std::move(buffer)}), where, "send Blob");
        // NOLINTNEXTLINE(bugprone-use-after-move): the capture that refills `buffer`
        client = take(std::move(waiting).receive([&](Bench::BlobBack&& back, ClientIdle&& next) {
            if (back.seq != seq || !check_answer(back.payload.bytes(), seq)) fatal(where + ": wrong answer");
            buffer = std::move(back.payload);
            return std::move(next);
        }),
                      where, "receive BlobBack");
    });

    auto bye = std::move(client).send(Bench::Bye{});
    if (!bye.ok()) fatal_milk(where, "send Bye", bye.error());
}

}  // namespace milk::bench
