// examples/relocation: a component moved while a client streams through it.
//
// The program runs a milk::Host with the echo component in its own process
// (`inproc`), connects one client, and streams numbered Pings with 64-byte
// payloads through it, every Pong checked. Meanwhile it moves echo to a
// process of its own and back, `--moves` times, `--phase-ms` apart, with
// Host::move (what `milkctl move` asks milkd for). Every 250 ms it prints
// the round trips of the last quarter second and where echo runs; each move
// prints the pause the client saw (the longest gap between two Pongs around
// it). The client's endpoint never changes and it sees no error:
//
//   relocation-demo [--moves 2] [--phase-ms 1000]
//
// docs/relocation.md says how a move works.
#include "pingpong.hpp"  // generated from contracts/pingpong.contract

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

namespace PingPong = examples::pingpong::PingPong;
using Client = PingPong::Contract::ClientEndpoint;
using Clock = std::chrono::steady_clock;
using milk::Placement;

[[noreturn]] void fail(const char* doing, const milk::Error& error) {
    std::fprintf(stderr, "relocation-demo: %s: %s%s%s\n", doing, milk::describe(error.code),
                 error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
    std::exit(1);
}

// The client: Pings until `stop`, each Pong checked (the number, and the
// payload reversed), each arrival's time kept.
struct Stream {
    std::mutex lock;
    std::vector<Clock::time_point> arrivals;
    std::atomic<bool> stop{false};
};

// The endpoint lives in an optional between round trips: clang's
// -Wconsumed cannot follow a consumable local that a loop consumes and
// reassigns.
void stream(Client first, Stream& out) {
    std::optional<Client> client{std::move(first)};
    for (std::uint32_t seq = 0; !out.stop.load(std::memory_order_relaxed); ++seq) {
        auto payload = client->allocate(64);
        if (!payload.ok()) fail("allocate", payload.error());
        auto bytes = payload.value().bytes();
        for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(seq + i);
        auto waiting = std::move(*client).send(PingPong::Ping{seq, std::move(payload).value()});
        client.reset();
        if (!waiting.ok()) fail("send", waiting.error());
        auto idle = std::move(waiting).value().receive([&](PingPong::Pong&& pong, Client&& next) {
            const auto answer = pong.payload.bytes();
            bool right = pong.seq == seq && answer.size() == 64;
            for (std::size_t i = 0; right && i < answer.size(); ++i)
                right = answer[answer.size() - 1 - i] == static_cast<std::byte>(seq + i);
            if (!right) fail("checking a Pong", milk::Error{milk::ErrorCode::ProtocolViolation, "a wrong answer", seq});
            return std::move(next);
        });
        if (!idle.ok()) fail("receive", idle.error());
        client.emplace(std::move(idle).value());
        const auto now = Clock::now();
        std::lock_guard guard(out.lock);
        out.arrivals.push_back(now);
    }
    if (auto bye = std::move(*client).send(PingPong::Bye{}); !bye.ok()) fail("bye", bye.error());
}

std::size_t arrivals_between(Stream& stream, Clock::time_point from, Clock::time_point to) {
    std::lock_guard guard(stream.lock);
    return static_cast<std::size_t>(std::lower_bound(stream.arrivals.begin(), stream.arrivals.end(), to) -
                                    std::lower_bound(stream.arrivals.begin(), stream.arrivals.end(), from));
}

// The longest gap between two Pongs from the last one before `began` to
// the first one after `ended`, in microseconds.
double pause_around(Stream& stream, Clock::time_point began, Clock::time_point ended) {
    // The first Pong after the move may take a moment: wait for it.
    for (int i = 0; i < 1000 && arrivals_between(stream, ended, Clock::now()) == 0; ++i)
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    std::lock_guard guard(stream.lock);
    auto first = std::upper_bound(stream.arrivals.begin(), stream.arrivals.end(), began);
    auto last = std::upper_bound(stream.arrivals.begin(), stream.arrivals.end(), ended);
    if (first == stream.arrivals.begin() || last == stream.arrivals.end()) return 0;
    double pause = 0;
    for (auto it = first - 1; it != last; ++it)
        pause = std::max(pause, std::chrono::duration<double, std::micro>(*(it + 1) - *it).count());
    return pause;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"relocation-demo: the echo component moved while a client streams through it"};
    int moves = 2;
    int phase_ms = 1000;
    app.add_option("--moves", moves, "moves: to a process of its own, back, ...")->capture_default_str();
    app.add_option("--phase-ms", phase_ms, "time between two moves")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    milk::host::InstanceConfig echo;
    echo.name = "echo";
    echo.component = "echo";
    echo.placement = Placement::Inproc;
    milk::host::Config config;
    config.file = "relocation-demo";
    config.instances.push_back(echo);
    auto host = milk::host::Host::try_create(config, milk::host::compiled_components());
    if (!host.ok()) fail("starting the host", host.error());
    auto client = host.value().connect<PingPong::Contract>("echo");
    if (!client.ok()) fail("connect", client.error());

    Stream out;
    std::thread streamer(stream, std::move(client).value(), std::ref(out));
    const auto where = [&] {
        const auto status = host.value().status().front();
        return std::string(milk::placement_name(status.placement)) + " (pid " + std::to_string(status.pid) + ")";
    };
    std::printf("echo starts in this process (pid %d); one client streams 64-byte Pings, every Pong checked\n",
                static_cast<int>(::getpid()));
    const auto started = Clock::now();
    const auto report = [&](Clock::time_point until) {
        const auto quarter = std::chrono::milliseconds(250);
        for (auto tick = Clock::now() + quarter; tick <= until; tick += quarter) {
            std::this_thread::sleep_until(tick);
            const double rate = static_cast<double>(arrivals_between(out, tick - quarter, tick)) * 4;
            std::printf("  t=%5.2f s  %-22s %10.0f round trips/s\n",
                        std::chrono::duration<double>(tick - started).count(), where().c_str(), rate);
        }
    };
    std::vector<double> pauses;
    report(Clock::now() + std::chrono::milliseconds(phase_ms));
    for (int i = 0; i < moves; ++i) {
        const Placement to = i % 2 == 0 ? Placement::Process : Placement::Inproc;
        const auto began = Clock::now();
        if (auto moved = host.value().move("echo", to); !moved.ok()) fail("move", moved.error());
        const auto ended = Clock::now();
        pauses.push_back(pause_around(out, began, ended));
        std::printf("-- moved echo to %s: the client waited %.0f us for a Pong, and saw no error%s\n",
                    where().c_str(), pauses.back(), i == 0 ? " (this first move also started the process)" : "");
        report(ended + std::chrono::milliseconds(phase_ms));
    }
    out.stop = true;
    streamer.join();
    std::printf("%zu round trips in all, every answer right; %d moves, longest pause %.0f us\n", out.arrivals.size(),
                moves, pauses.empty() ? 0.0 : *std::max_element(pauses.begin(), pauses.end()));
    return 0;
}
