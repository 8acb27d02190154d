// examples/pingpong: a client and a server thread exchange many messages over
// an in-process channel. Every payload travels as `bytes` in the channel's
// exchange heap, and the client checks every byte of every answer.
#include "pingpong.hpp"  // generated from pingpong.contract by milk_add_contract()

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <thread>
#include <utility>

namespace {

namespace PingPong = examples::pingpong::PingPong;
using ClientIdle = PingPong::Client<PingPong::state::Idle>;
using ServerIdle = PingPong::Server<PingPong::state::Idle>;
using ServerWaiting = PingPong::Server<PingPong::state::Waiting>;

constexpr std::uint32_t round_trips = 10'000;

// Payload `seq` holds payload_size(seq) bytes of pattern(seq, i). Sizes and
// contents differ from one message to the next, so a buffer that went to
// the wrong message, or was overwritten, shows.
std::size_t payload_size(std::uint32_t seq) { return 1 + (seq * 613u) % 4096u; }

std::byte pattern(std::uint32_t seq, std::size_t index) {
    return static_cast<std::byte>((seq * 131u + index * 7u) & 0xffu);
}

bool holds_reversed_pattern(std::span<const std::byte> bytes, std::uint32_t seq) {
    if (bytes.size() != payload_size(seq)) return false;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[bytes.size() - 1 - i] != pattern(seq, i)) return false;
    }
    return true;
}

// The server: answers every Ping with a Pong carrying the payload reversed,
// until the client says Bye. Returns how many Pings it answered.
milk::Result<std::uint32_t> serve(ServerIdle server) {
    std::uint32_t answered = 0;
    for (;;) {
        // In Idle the client speaks, so the server must handle every message
        // Idle allows: Ping, which comes with the endpoint that must answer,
        // and Bye, which ends the channel and so comes with no endpoint.
        using Request = std::optional<std::pair<PingPong::Ping, ServerWaiting>>;
        auto request = std::move(server).receive(
            [](PingPong::Ping&& ping, ServerWaiting&& waiting) {
                return Request{std::in_place, std::move(ping), std::move(waiting)};
            },
            [](PingPong::Bye&&) { return Request{}; });
        if (!request) return request.error();
        if (!request.value()) return answered;
        auto [ping, waiting] = std::move(*request.value());

        // The answer goes in a buffer of the server's own: the Ping's buffer
        // is freed, back to the client's pool, when `ping` goes out of scope.
        auto reply = waiting.allocate(ping.payload.size());
        if (!reply) return reply.error();
        std::ranges::reverse_copy(ping.payload.bytes(), reply.value().data());

        auto idle = std::move(waiting).send(PingPong::Pong{ping.seq, std::move(reply).value()});
        if (!idle) return idle.error();
        server = std::move(idle).value();
        ++answered;
    }
}

struct ClientReport {
    std::uint64_t payload_bytes = 0;
    std::uint32_t mismatches = 0;
};

// The client: sends `round_trips` Pings, checks each Pong, then says Bye.
milk::Result<ClientReport> run_client(ClientIdle client) {
    ClientReport report;
    for (std::uint32_t seq = 0; seq < round_trips; ++seq) {
        auto payload = client.allocate(payload_size(seq));
        if (!payload) return payload.error();
        std::span<std::byte> bytes = payload.value().bytes();
        for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = pattern(seq, i);

        auto waiting = std::move(client).send(PingPong::Ping{seq, std::move(payload).value()});
        if (!waiting) return waiting.error();

        // Waiting allows one message, Pong, which brings the client back to Idle.
        auto idle = std::move(waiting).value().receive([&](PingPong::Pong&& pong, ClientIdle&& next) {
            if (pong.seq != seq || !holds_reversed_pattern(pong.payload.bytes(), seq)) ++report.mismatches;
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

}  // namespace

int main() {
    auto channel = PingPong::open_inproc();
    if (!channel) {
        std::fprintf(stderr, "pingpong: cannot open a channel: %s\n", milk::describe(channel.error().code));
        return 1;
    }
    auto [client, server] = std::move(channel).value();

    std::optional<milk::Result<std::uint32_t>> served;
    std::thread server_thread([&served](ServerIdle endpoint) {
        served.emplace(serve(std::move(endpoint)));
    }, std::move(server));
    milk::Result<ClientReport> report = run_client(std::move(client));
    server_thread.join();

    if (!report) {
        std::fprintf(stderr, "pingpong: client failed: %s\n", milk::describe(report.error().code));
        return 1;
    }
    if (!served->ok()) {
        std::fprintf(stderr, "pingpong: server failed: %s\n", milk::describe(served->error().code));
        return 1;
    }
    std::printf("pingpong: %u round trips, %llu payload bytes each way, server answered %u\n", round_trips,
                static_cast<unsigned long long>(report.value().payload_bytes), served->value());
    if (report.value().mismatches != 0 || served->value() != round_trips) {
        std::printf("pingpong: FAILED: %u answers did not match their ping\n", report.value().mismatches);
        return 1;
    }
    std::printf("pingpong: every answer checked, byte for byte\n");
    return 0;
}
