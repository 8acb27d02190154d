// The tally component: the server of contracts/tally.contract. One source for
// every placement. Unlike the echo, it is not a step per message: it speaks
// first, and it receives any number of Adds before it answers, so in milk.ko
// it runs in its channel's serving thread, where a receive sleeps until user
// space sends. It uses only what the freestanding runtime has: the generated
// endpoints and milk::Result.
#pragma once

#include "tally.hpp"  // generated from contracts/tally.contract

#include <milk/component.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>

namespace components::tally {

// The contract's namespace; `Tally` is the component.
namespace TallyContract = examples::tally::Tally;

using ServerGreeting = TallyContract::Server<TallyContract::state::Greeting>;
using ServerAdding = TallyContract::Server<TallyContract::state::Adding>;
using ServerSumming = TallyContract::Server<TallyContract::state::Summing>;

// The most values one tally holds, unless the instance's settings say
// otherwise (`limit`): the server announces it in Ready.
inline constexpr std::uint32_t default_limit = 1000;

// How long the server waits for room to send a Sum (`reply_timeout_ms`): a
// client that never reads its answers must not hold the server forever.
// When it passes, the channel ends with TimedOut.
inline constexpr std::int64_t default_reply_timeout_ms = 10'000;

struct Limits {
    std::uint32_t values = default_limit;
    std::chrono::milliseconds reply_timeout{default_reply_timeout_ms};
};

struct ServerReport {
    std::uint32_t tallies = 0;  // Totals answered
    std::uint64_t values = 0;   // Adds received
};

// Greets the client, then adds up values until Total, answers with the Sum
// and starts a new tally, until Bye. A client that adds more than the limit
// it was told breaks the service's rule (not the protocol's): the server
// ends the channel with ProtocolViolation.
inline milk::Result<ServerReport> serve_tally(ServerGreeting server, Limits limits) {
    const std::uint32_t limit = limits.values;
    // Ready is the first message of an empty ring: it never waits.
    auto greeted = std::move(server).send(TallyContract::Ready{limit});
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
            [](TallyContract::Add&& add, ServerAdding&& next) { return Received{add.value, std::move(next), std::nullopt}; },
            [](TallyContract::Total&&, ServerSumming&& next) { return Received{0, std::nullopt, std::move(next)}; },
            [](TallyContract::Bye&&) { return Received{}; });
        adding.reset();
        if (!received) return received.error();
        Received& next = received.value();
        if (next.adding) {
            // The client learns why: the channel's close reason.
            if (++count > limit)
                return std::move(*next.adding)
                    .fail(milk::Error{milk::ErrorCode::ProtocolViolation, "more values than the tally's limit", count});
            sum += next.value;
            ++report.values;
            adding = std::move(next.adding);
            continue;
        }
        if (!next.summing) return report;  // Bye
        // The deadline of the send: room for the Sum, or the channel ends.
        if (auto room = next.summing->wait_for_room(limits.reply_timeout); !room) return room.error();
        auto answered = std::move(*next.summing).send(TallyContract::Sum{sum, count});
        if (!answered) return answered.error();
        ++report.tallies;
        sum = 0;
        count = 0;
        adding.emplace(std::move(answered).value());
    }
}

// The component. Settings: `limit`, the most values one tally holds
// (1 to 2^31 - 1; default 1000); `reply_timeout_ms`, how long it waits for
// the client to make room for a Sum (1 to 2^31 - 1; default 10,000).
class Tally {
public:
    using Contract = TallyContract::Contract;
    static constexpr const char* name = "tally";
    static constexpr milk::PlacementSet placements = milk::every_placement;
    // A tally in progress lives in serve's frame; between tallies there is
    // nothing to keep.
    static constexpr milk::Statefulness statefulness = milk::Statefulness::Stateless;
    static constexpr milk::SettingNames setting_names{"limit", "reply_timeout_ms"};

    [[nodiscard]] static milk::Result<Tally> try_create(const milk::Settings& settings) {
        const std::int64_t limit = settings.get_or("limit", default_limit);
        if (limit < 1 || limit > 0x7fffffff)
            return milk::Error{milk::ErrorCode::InvalidArgument, "tally: `limit` must be 1 to 2^31 - 1", limit};
        const std::int64_t timeout = settings.get_or("reply_timeout_ms", default_reply_timeout_ms);
        if (timeout < 1 || timeout > 0x7fffffff)
            return milk::Error{milk::ErrorCode::InvalidArgument, "tally: `reply_timeout_ms` must be 1 to 2^31 - 1",
                               timeout};
        return Tally{Limits{static_cast<std::uint32_t>(limit), std::chrono::milliseconds(timeout)}};
    }

    [[nodiscard]] milk::Result<void> serve(ServerGreeting&& server) {
        auto report = serve_tally(std::move(server), m_limits);
        if (!report.ok()) return report.error();
        m_report = report.value();
        return {};
    }

    [[nodiscard]] std::uint32_t limit() const { return m_limits.values; }
    // What the last session did: tallies answered, values received.
    [[nodiscard]] const ServerReport& report() const { return m_report; }

private:
    explicit Tally(Limits limits) : m_limits(limits) {}

    Limits m_limits;
    ServerReport m_report;
};

static_assert(milk::Component<Tally>);

}  // namespace components::tally
