// examples/pingpong: a client and a server thread exchange many messages over
// an in-process channel. Every payload travels as `bytes` in the channel's
// exchange heap: the server reverses it where it lies and hands the same
// buffer back, and the client checks every byte of every answer, and that it
// came back in the very memory it left from.
#include "echo_server.hpp"      // the server's work per message, shared with milk.ko
#include "pingpong_client.hpp"  // the client, shared with the other placements
#include "pingpong.hpp"         // generated from pingpong.contract by milk_add_contract()

#include <cstdint>
#include <cstdio>
#include <future>
#include <utility>

using namespace examples::pingpong;

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
