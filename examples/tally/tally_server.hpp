// The tally server: the same source runs in user space (main.cpp, on a
// thread of its own) and inside milk.ko (kernel-stubs/core/tally.cpp, in the
// channel's serving thread). Unlike the echo, it is not a step per message:
// it speaks first, and it receives any number of Adds before it answers, so
// in the kernel its receives must sleep until user space sends. It uses only
// what the freestanding runtime has: the generated endpoints and
// milk::Result.
#pragma once

#include "tally.hpp"  // generated from tally.contract

#include <cstdint>
#include <optional>
#include <utility>

namespace examples::tally {

using ServerGreeting = Tally::Server<Tally::state::Greeting>;
using ServerAdding = Tally::Server<Tally::state::Adding>;
using ServerSumming = Tally::Server<Tally::state::Summing>;

// The most values one tally holds: the server announces it in Ready.
inline constexpr std::uint32_t tally_limit = 1000;

struct ServerReport {
    std::uint32_t tallies = 0;  // Totals answered
    std::uint64_t values = 0;   // Adds received
};

// Greets the client, then adds up values until Total, answers with the Sum
// and starts a new tally, until Bye. A client that adds more than the limit
// it was told breaks the service's rule (not the protocol's): the server
// ends the channel with ProtocolViolation.
inline milk::Result<ServerReport> serve_tally(ServerGreeting server) {
    auto greeted = std::move(server).send(Tally::Ready{tally_limit});
    if (!greeted) return greeted.error();
    std::optional<ServerAdding> adding{std::move(greeted).value()};

    // What one receive in Adding brings: a value and the endpoint (still
    // Adding), a request for the total and the endpoint that must answer,
    // or nothing at all (Bye ended the channel).
    struct Received {
        std::uint64_t value = 0;
        std::optional<ServerAdding> adding;
        std::optional<ServerSumming> summing;
    };
    ServerReport report;
    std::uint64_t sum = 0;
    std::uint32_t count = 0;
    for (;;) {
        auto received = std::move(*adding).receive(
            [](Tally::Add&& add, ServerAdding&& next) { return Received{add.value, std::move(next), std::nullopt}; },
            [](Tally::Total&&, ServerSumming&& next) { return Received{0, std::nullopt, std::move(next)}; },
            [](Tally::Bye&&) { return Received{}; });
        adding.reset();
        if (!received) return received.error();
        Received& next = received.value();
        if (next.adding) {
            if (++count > tally_limit)
                return milk::Error{milk::ErrorCode::ProtocolViolation, "more values than the tally's limit", count};
            sum += next.value;
            ++report.values;
            adding = std::move(next.adding);
            continue;
        }
        if (!next.summing) return report;  // Bye
        auto answered = std::move(*next.summing).send(Tally::Sum{sum, count});
        if (!answered) return answered.error();
        ++report.tallies;
        sum = 0;
        count = 0;
        adding.emplace(std::move(answered).value());
    }
}

}  // namespace examples::tally
