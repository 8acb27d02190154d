// The echo component: the server of contracts/pingpong.contract. Each Ping is
// answered with a Pong carrying the Ping's own buffer, reversed in place.
//
// One source for every placement: a thread of the host's process, a process
// of its own, or milk.ko, which runs its step inline in the doorbell's system
// call for each message the kernel has validated. So it uses only what the
// freestanding runtime has: the generated endpoints, milk::Buffer and
// milk::Result, and no library call beyond the header-only ones.
#pragma once

#include "pingpong.hpp"  // generated from contracts/pingpong.contract

#include <milk/component.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

namespace components::echo {

namespace PingPong = examples::pingpong::PingPong;

using EchoIdle = PingPong::Server<PingPong::state::Idle>;
using EchoWaiting = PingPong::Server<PingPong::state::Waiting>;

// Handles one message in Idle: a Ping is answered with a Pong of the same
// number carrying the Ping's own buffer, reversed in place (ownership moves
// twice and no byte is copied), and the server is back in Idle; a Bye ends
// the channel and leaves no endpoint.
inline milk::Result<std::optional<EchoIdle>> echo_one(EchoIdle&& server) {
    // In Idle the client speaks, so the server must handle every message
    // Idle allows: Ping, which comes with the endpoint that must answer,
    // and Bye, which ends the channel and so comes with no endpoint.
    using Request = std::optional<std::pair<PingPong::Ping, EchoWaiting>>;
    auto request = std::move(server).receive(
        [](PingPong::Ping&& ping, EchoWaiting&& waiting) {
            return Request{std::in_place, std::move(ping), std::move(waiting)};
        },
        [](PingPong::Bye&&) { return Request{}; });
    if (!request) return request.error();
    Request& ping_request = request.value();
    if (!ping_request) return std::optional<EchoIdle>{};
    auto [ping, waiting] = std::move(*ping_request);

    // A plain loop rather than std::ranges::reverse: <algorithm> is not
    // among the headers the module may use.
    std::span<std::byte> bytes = ping.payload.bytes();
    for (std::size_t front = 0, back = bytes.size(); front + 1 < back; ++front, --back) {
        std::swap(bytes[front], bytes[back - 1]);
    }
    auto idle = std::move(waiting).send(PingPong::Pong{ping.seq, std::move(ping.payload)});
    if (!idle) return idle.error();
    return std::optional<EchoIdle>{std::move(idle).value()};
}

// The component: a step per Ping, and a count of the Pings it answered on its
// channel (one Echo serves one channel).
class Echo {
public:
    using Contract = PingPong::Contract;
    static constexpr const char* name = "echo";
    static constexpr milk::PlacementSet placements = milk::every_placement;
    static constexpr milk::Statefulness statefulness = milk::Statefulness::Stateless;
    static constexpr milk::SettingNames setting_names{};

    [[nodiscard]] static milk::Result<Echo> try_create(const milk::Settings& /*settings*/) { return Echo{}; }

    [[nodiscard]] milk::Result<std::optional<EchoIdle>> step(EchoIdle&& server) {
        auto next = echo_one(std::move(server));
        if (next.ok() && next.value()) ++m_answered;
        return next;
    }

    [[nodiscard]] std::uint32_t answered() const { return m_answered; }

private:
    std::uint32_t m_answered = 0;
};

static_assert(milk::StepComponent<Echo>);

}  // namespace components::echo
