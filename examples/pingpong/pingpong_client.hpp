// examples/pingpong: the client's side, shared by the in-process example
// (main.cpp), the cross-process one (../pingpong-process) and the VM test that
// runs it against the echo component inside milk.ko, so that every placement
// runs the same client code.
#pragma once

#include "pingpong.hpp"  // generated from contracts/pingpong.contract

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace examples::pingpong {

using ClientIdle = PingPong::Client<PingPong::state::Idle>;

inline constexpr std::uint32_t round_trips = 10'000;

// Payload `seq` holds payload_size(seq) bytes of pattern(seq, i). Sizes and
// contents differ from one message to the next, so a buffer that went to
// the wrong message, or was overwritten, shows.
inline std::size_t payload_size(std::uint32_t seq) { return 1 + (std::size_t{seq} * 613) % 4096; }

inline std::byte pattern(std::uint32_t seq, std::size_t index) {
    return static_cast<std::byte>((std::size_t{seq} * 131 + index * 7) & 0xff);
}

inline bool holds_reversed_pattern(std::span<const std::byte> bytes, std::uint32_t seq) {
    if (bytes.size() != payload_size(seq)) return false;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[bytes.size() - 1 - i] != pattern(seq, i)) return false;
    }
    return true;
}

struct ClientReport {
    std::uint64_t payload_bytes = 0;
    std::uint32_t mismatches = 0;     // answers with the wrong number or content
    std::uint32_t same_memory = 0;    // answers whose bytes are where the ping's were
};

// The client: sends `round_trips` Pings, checks each Pong, then says Bye.
inline milk::Result<ClientReport> run_client(ClientIdle client) {
    ClientReport report;
    for (std::uint32_t seq = 0; seq < round_trips; ++seq) {
        auto payload = client.allocate(payload_size(seq));
        if (!payload) return payload.error();
        std::span<std::byte> bytes = payload.value().bytes();
        for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = pattern(seq, i);
        const std::byte* sent_from = bytes.data();

        auto waiting = std::move(client).send(PingPong::Ping{seq, std::move(payload).value()});
        if (!waiting) return waiting.error();

        // Waiting allows one message, Pong, which brings the client back to Idle.
        auto idle = std::move(waiting).value().receive([&](PingPong::Pong&& pong, ClientIdle&& next) {
            if (pong.seq != seq || !holds_reversed_pattern(pong.payload.bytes(), seq)) ++report.mismatches;
            if (pong.payload.data() == sent_from) ++report.same_memory;
            return std::move(next);
        });
        if (!idle) return idle.error();
        client = std::move(idle).value();
        report.payload_bytes += payload_size(seq);
    }
    // Bye leads to `end`: the send closes the channel, and nothing is left to use.
    auto bye = std::move(client).send(PingPong::Bye{});
    if (!bye) return bye.error();
    return report;
}

}  // namespace examples::pingpong
