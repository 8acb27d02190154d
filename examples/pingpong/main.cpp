// examples/pingpong: a client and a server thread exchange many messages over
// an in-process channel. Every payload travels as `bytes` in the channel's
// exchange heap: the server reverses it where it lies and hands the same
// buffer back, and the client checks every byte of every answer, and that it
// came back in the very memory it left from.
#include "echo_server.hpp"  // the server's work per message, shared with milk.ko
#include "pingpong.hpp"      // generated from pingpong.contract by milk_add_contract()

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <future>
#include <optional>
#include <span>
#include <utility>

namespace {

namespace PingPong = examples::pingpong::PingPong;
using ClientIdle = PingPong::Client<PingPong::state::Idle>;
using ServerIdle = PingPong::Server<PingPong::state::Idle>;

constexpr std::uint32_t round_trips = 10'000;

// Payload `seq` holds payload_size(seq) bytes of pattern(seq, i). Sizes and
// contents differ from one message to the next, so a buffer that went to
// the wrong message, or was overwritten, shows.
std::size_t payload_size(std::uint32_t seq) { return 1 + (std::size_t{seq} * 613) % 4096; }

std::byte pattern(std::uint32_t seq, std::size_t index) {
    return static_cast<std::byte>((std::size_t{seq} * 131 + index * 7) & 0xff);
}

bool holds_reversed_pattern(std::span<const std::byte> bytes, std::uint32_t seq) {
    if (bytes.size() != payload_size(seq)) return false;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[bytes.size() - 1 - i] != pattern(seq, i)) return false;
    }
    return true;
}

// The server: answers every Ping with a Pong carrying the Ping's payload,
// reversed, until the client says Bye. Returns how many Pings it answered.
// The work per message is echo_one (echo_server.hpp), which milk.ko runs too.
milk::Result<std::uint32_t> serve(ServerIdle server) {
    std::uint32_t answered = 0;
    for (;;) {
        auto next = examples::pingpong::echo_one(std::move(server));
        if (!next) return next.error();
        if (!next.value()) return answered;
        server = std::move(*next.value());
        ++answered;
    }
}

struct ClientReport {
    std::uint64_t payload_bytes = 0;
    std::uint32_t mismatches = 0;     // answers with the wrong number or content
    std::uint32_t same_memory = 0;    // answers whose bytes are where the ping's were
};

// The client: sends `round_trips` Pings, checks each Pong, then says Bye.
milk::Result<ClientReport> run_client(ClientIdle client) {
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

}  // namespace

int main() {
    auto channel = PingPong::open_inproc();
    if (!channel) {
        std::fprintf(stderr, "pingpong: cannot open a channel: %s\n", milk::describe(channel.error().code));
        return 1;
    }
    auto [client, server] = std::move(channel).value();

    // The server runs on a thread of its own; its result comes back through the future.
    std::future<milk::Result<std::uint32_t>> server_done = std::async(std::launch::async, serve, std::move(server));
    milk::Result<ClientReport> report = run_client(std::move(client));
    milk::Result<std::uint32_t> answered = server_done.get();

    if (!report) {
        std::fprintf(stderr, "pingpong: client failed: %s\n", milk::describe(report.error().code));
        return 1;
    }
    if (!answered) {
        std::fprintf(stderr, "pingpong: server failed: %s\n", milk::describe(answered.error().code));
        return 1;
    }
    const ClientReport& client_report = report.value();
    std::printf("pingpong: %u round trips, %llu payload bytes each way, server answered %u\n", round_trips,
                static_cast<unsigned long long>(client_report.payload_bytes), answered.value());
    std::printf("pingpong: %u of %u answers came back in the memory their ping left from\n",
                client_report.same_memory, round_trips);
    if (client_report.mismatches != 0 || client_report.same_memory != round_trips || answered.value() != round_trips) {
        std::printf("pingpong: FAILED: %u answers did not match their ping\n", client_report.mismatches);
        return 1;
    }
    std::printf("pingpong: every answer checked, byte for byte; no payload was copied\n");
    return 0;
}
