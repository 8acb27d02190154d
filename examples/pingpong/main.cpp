// examples/pingpong: a client and the echo component (components/echo), on a
// thread of this process, exchange many messages over an in-process channel. Every payload travels as `bytes` in the channel's
// exchange heap: the server reverses it where it lies and hands the same
// buffer back, and the client checks every byte of every answer, and that it
// came back in the very memory it left from.
#include "echo_component.hpp"  // the component: the same source in every placement
#include "pingpong_client.hpp"  // the client, shared with the other placements
#include "pingpong.hpp"         // generated from contracts/pingpong.contract

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

    // The component serves its end on a thread of its own, as a host would
    // run it (milk::serve_channel runs its step until the client says Bye).
    auto echo = components::echo::Echo::try_create(milk::Settings{});
    if (!echo) {
        std::fprintf(stderr, "pingpong: cannot create the echo: %s\n", milk::describe(echo.error().code));
        return 1;
    }
    std::future<milk::Result<void>> server_done = std::async(
        std::launch::async, [&echo, server_end = std::move(server)]() mutable {
            return milk::serve_channel(echo.value(), std::move(server_end));
        });
    milk::Result<ClientReport> report = run_client(std::move(client));
    milk::Result<void> served = server_done.get();

    if (!report) {
        std::fprintf(stderr, "pingpong: client failed: %s\n", milk::describe(report.error().code));
        return 1;
    }
    if (!served) {
        std::fprintf(stderr, "pingpong: server failed: %s\n", milk::describe(served.error().code));
        return 1;
    }
    const std::uint32_t answered = echo.value().answered();
    const ClientReport& client_report = report.value();
    std::printf("pingpong: %u round trips, %llu payload bytes each way, server answered %u\n", round_trips,
                static_cast<unsigned long long>(client_report.payload_bytes), answered);
    std::printf("pingpong: %u of %u answers came back in the memory their ping left from\n",
                client_report.same_memory, round_trips);
    if (client_report.mismatches != 0 || client_report.same_memory != round_trips || answered != round_trips) {
        std::printf("pingpong: FAILED: %u answers did not match their ping\n", client_report.mismatches);
        return 1;
    }
    std::printf("pingpong: every answer checked, byte for byte; no payload was copied\n");
    return 0;
}
