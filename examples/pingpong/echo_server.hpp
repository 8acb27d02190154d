// The pingpong server's work, one message at a time: the same source runs in
// user space (examples/pingpong/main.cpp loops over it on an in-process
// channel) and inside milk.ko (kernel-stubs/core/pingpong_echo.cpp calls it
// for each message the kernel has validated). So it uses only what the
// freestanding runtime has: the generated endpoints, milk::Buffer and
// milk::Result, and no library call beyond the header-only ones.
#pragma once

#include "pingpong.hpp"  // generated from pingpong.contract

#include <cstddef>
#include <optional>
#include <span>
#include <utility>

namespace examples::pingpong {

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

// The server: answers every Ping with a Pong carrying the Ping's payload,
// reversed, until the client says Bye. Returns how many Pings it answered.
// (milk.ko calls echo_one per message instead: a kernel component answers
// each message as it arrives.)
inline milk::Result<std::uint32_t> serve(EchoIdle server) {
    std::uint32_t answered = 0;
    for (;;) {
        auto next = echo_one(std::move(server));
        if (!next) return next.error();
        if (!next.value()) return answered;
        server = std::move(*next.value());
        ++answered;
    }
}

}  // namespace examples::pingpong
