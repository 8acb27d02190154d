// examples/tally: the client's side, shared by the in-process example
// (main.cpp) and the VM test that runs it against the tally component inside
// milk.ko, so that both placements run the same client code.
#pragma once

#include "tally.hpp"  // generated from tally.contract

#include <cstdint>
#include <optional>
#include <utility>

namespace examples::tally {

using ClientGreeting = Tally::Client<Tally::state::Greeting>;
using ClientAdding = Tally::Client<Tally::state::Adding>;

inline constexpr std::uint32_t tally_rounds = 300;

// Round `round` adds values_in(round, limit) values, value(round, i) each:
// counts and values differ from one round to the next, so a lost, repeated
// or reordered Add shows in the Sum.
inline std::uint32_t values_in(std::uint32_t round, std::uint32_t limit) { return 1 + (round * 37) % limit; }
inline std::uint64_t value(std::uint32_t round, std::uint32_t index) {
    return (std::uint64_t{round} << 32) + std::uint64_t{index} * 2654435761u;
}

struct ClientReport {
    std::uint32_t limit = 0;   // what the server announced
    std::uint32_t tallies = 0;
    std::uint32_t wrong = 0;   // Sums that differ from what was added
    std::uint64_t values = 0;
};

// Waits for the server's greeting, runs tally_rounds tallies and says Bye.
inline milk::Result<ClientReport> run_tally_client(ClientGreeting client) {
    auto greeted = std::move(client).receive(
        [](Tally::Ready&& ready, ClientAdding&& next) { return std::pair{ready.limit, std::move(next)}; });
    if (!greeted) return greeted.error();
    ClientReport report;
    report.limit = greeted.value().first;
    if (report.limit == 0) return milk::Error{milk::ErrorCode::ProtocolViolation, "the server allows no values", 0};
    std::optional<ClientAdding> adding{std::move(greeted.value().second)};

    for (std::uint32_t round = 0; round < tally_rounds; ++round) {
        const std::uint32_t count = values_in(round, report.limit > 500 ? 500 : report.limit);
        std::uint64_t expected = 0;
        for (std::uint32_t i = 0; i < count; ++i) {
            expected += value(round, i);
            auto added = std::move(*adding).send(Tally::Add{value(round, i)});
            if (!added) return added.error();
            adding.emplace(std::move(added).value());
        }
        auto summing = std::move(*adding).send(Tally::Total{});
        adding.reset();
        if (!summing) return summing.error();
        auto answer = std::move(summing).value().receive([&](Tally::Sum&& sum, ClientAdding&& next) {
            if (sum.sum != expected || sum.count != count) ++report.wrong;
            return std::move(next);
        });
        if (!answer) return answer.error();
        adding.emplace(std::move(answer).value());
        ++report.tallies;
        report.values += count;
    }
    auto bye = std::move(*adding).send(Tally::Bye{});
    if (!bye) return bye.error();
    return report;
}

}  // namespace examples::tally
