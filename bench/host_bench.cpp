// milk-host-bench: what the host adds to the message path. For each
// placement it measures the round trip of the echo component (an 8-byte
// Ping answered by a Pong) over a channel connected through milk::Host,
// against the same channel opened directly, in the same run, and prints the
// ratio (target <= 1.02: docs/components.md, "The host").
//
//   direct inproc   inproc::open_channel, the echo component served by a
//                   thread of this process
//   direct process  process::create_channel handed over a socket pair to a
//                   forked child that serves the echo component
//   direct kernel   kernel::open_channel to milk.ko's echo component (when
//                   milk.ko is loaded)
// and through the host: Host::connect at each placement (the process one
// runs in milk-runner, found next to this program).
//
// Each round measures both, direct and host back to back, in an order that
// alternates from round to round (so that neither always runs on a cache or
// a CPU frequency the other warmed); the round's ratio compares two
// measurements a few milliseconds apart, so drift of a shared machine falls
// on both. A row prints the medians of the rounds' means, the median of the
// rounds' ratios, and the ratios' interquartile range, which says how much
// to trust the row. It is a program, not a test: it fails only when a
// message goes wrong.
#include "pingpong.hpp"  // generated from contracts/pingpong.contract

#include <milk/host/component_type.hpp>
#include <milk/host/config.hpp>
#include <milk/host/host.hpp>
#include <milk/inproc.hpp>
#include <milk/kernel.hpp>
#include <milk/process.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

namespace PingPong = examples::pingpong::PingPong;
using Client = PingPong::Contract::ClientEndpoint;
using Clock = std::chrono::steady_clock;

[[noreturn]] void fail(const char* doing, const milk::Error& error) {
    std::fprintf(stderr, "milk-host-bench: %s: %s%s%s\n", doing, milk::describe(error.code),
                 error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
    std::exit(1);
}

template <typename T>
T take(milk::Result<T>&& result, const char* doing) {
    if (!result.ok()) fail(doing, result.error());
    return std::move(result).value();
}

const milk::host::ComponentType& echo_type() {
    const auto* type = milk::host::find_component(milk::host::compiled_components(), "echo");
    if (type == nullptr) {
        std::fprintf(stderr, "milk-host-bench: no echo component compiled in\n");
        std::exit(1);
    }
    return *type;
}

// `count` round trips; the mean in nanoseconds. Returns the endpoint.
double round_trips(std::optional<Client>& client, std::uint32_t count) {
    const auto start = Clock::now();
    for (std::uint32_t seq = 0; seq < count; ++seq) {
        auto payload = take(client->allocate(8), "allocate");
        auto waiting = take(std::move(*client).send(PingPong::Ping{seq, std::move(payload)}), "send Ping");
        client.reset();
        client.emplace(take(std::move(waiting).receive([&](PingPong::Pong&& pong, Client&& next) {
                                if (pong.seq != seq) fail("receive Pong", {milk::ErrorCode::ProtocolViolation, "wrong seq", pong.seq});
                                return std::move(next);
                            }),
                            "receive Pong"));
    }
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count() / count;
}

void bye(std::optional<Client>& client) {
    take(std::move(*client).send(PingPong::Bye{}).ok() ? milk::Result<int>(0) : milk::Result<int>(milk::Error{milk::ErrorCode::PeerClosed}), "send Bye");
    client.reset();
}

struct Direct {
    std::optional<Client> client;
    std::function<void()> finish;
};

Direct direct_inproc() {
    auto pair = take(milk::inproc::open_channel(), "inproc::open_channel");
    std::thread server([end = std::move(pair.second)]() mutable {
        static_cast<void>(echo_type().serve(milk::Settings{}, std::move(end)));
    });
    auto holder = std::make_shared<std::thread>(std::move(server));
    return {PingPong::Contract::client(std::move(pair.first)), [holder] { holder->join(); }};
}

Direct direct_process() {
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) fail("socketpair", {milk::ErrorCode::SystemError});
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(sockets[0]);
        auto pending = milk::process::create_channel();
        if (!pending.ok()) std::_Exit(1);
        auto end = milk::process::send_channel(sockets[1], std::move(pending).value(),
                                                   milk::Deadline::after(std::chrono::seconds(10)));
        if (!end.ok()) std::_Exit(1);
        std::_Exit(echo_type().serve(milk::Settings{}, std::move(end).value()).ok() ? 0 : 1);
    }
    ::close(sockets[1]);
    auto end = take(milk::process::receive_channel(sockets[0], milk::Deadline::after(std::chrono::seconds(10))), "receive_channel");
    ::close(sockets[0]);
    return {PingPong::Contract::client(std::move(end)), [child] { ::waitpid(child, nullptr, 0); }};
}

Direct direct_kernel() {
    return {PingPong::Contract::client(take(milk::kernel::open_channel<PingPong::Contract>("echo"), "kernel::open_channel")),
            [] {}};
}

// The value below which `fraction` of `values` lie (nearest rank).
double quantile(std::vector<double> values, double fraction) {
    std::sort(values.begin(), values.end());
    const auto rank = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
    return values[rank];
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"milk-host-bench: the round trip through milk::Host against the same channel opened directly"};
    std::uint32_t iterations = 20000;
    std::uint32_t rounds = 21;
    app.add_option("--iterations", iterations, "round trips per measurement")->capture_default_str();
    app.add_option("--rounds", rounds, "rounds per row (each measures direct and host)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    bool trace = false;
    app.add_flag("--trace", trace,
                 "record a trace (Host::start_trace) during each host measurement: what tracing on costs; off, "
                 "the rows show what it costs off");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        return app.exit(error);
    }
    const bool kernel = ::access("/dev/milk", R_OK | W_OK) == 0;
    std::vector<milk::Placement> placements{milk::Placement::Inproc, milk::Placement::Process};
    if (kernel) placements.push_back(milk::Placement::Kernel);
    // The VM has no milk-runner: its run (milk_vm_host_bench) measures the
    // kernel row alone, said through the environment (its programs take no
    // arguments).
    if (const char* only = std::getenv("MILK_HOST_BENCH_KERNEL_ONLY"); only != nullptr && kernel)
        placements = {milk::Placement::Kernel};

    milk::host::Config config;
    for (milk::Placement placement : placements) {
        milk::host::InstanceConfig instance;
        instance.name = std::string("echo_") + std::string(milk::placement_name(placement));
        instance.component = "echo";
        instance.placement = placement;
        config.instances.push_back(instance);
    }
    auto host = take(milk::host::Host::try_create(config, milk::host::compiled_components()), "Host::try_create");

    std::uint64_t traced_events = 0;
    std::uint64_t dropped_events = 0;
    if (trace) std::printf("tracing on during every host measurement\n");
    std::printf("%-9s %14s %14s %8s %17s\n", "placement", "direct ns/rt", "host ns/rt", "ratio", "ratio IQR");
    for (milk::Placement placement : placements) {
        const std::string instance = std::string("echo_") + std::string(milk::placement_name(placement));
        auto measure_direct = [&] {
            Direct direct = placement == milk::Placement::Inproc    ? direct_inproc()
                            : placement == milk::Placement::Process ? direct_process()
                                                                    : direct_kernel();
            round_trips(direct.client, iterations / 10);  // warm-up
            const double mean = round_trips(direct.client, iterations);
            bye(direct.client);
            direct.finish();
            return mean;
        };
        auto measure_host = [&] {
            std::optional<Client> hosted{take(host.connect<PingPong::Contract>(instance), "Host::connect")};
            round_trips(hosted, iterations / 10);
            if (trace) host.start_trace();
            const double mean = round_trips(hosted, iterations);
            if (trace) {
                const auto recorded = host.stop_trace();
                traced_events += recorded.events.size();
                dropped_events += recorded.dropped;
            }
            bye(hosted);
            return mean;
        };
        std::vector<double> direct_means;
        std::vector<double> host_means;
        std::vector<double> ratios;
        for (std::uint32_t round = 0; round < rounds; ++round) {
            double direct_ns = 0;
            double host_ns = 0;
            if (round % 2 == 0) {
                direct_ns = measure_direct();
                host_ns = measure_host();
            } else {
                host_ns = measure_host();
                direct_ns = measure_direct();
            }
            direct_means.push_back(direct_ns);
            host_means.push_back(host_ns);
            ratios.push_back(host_ns / direct_ns);
        }
        const double ratio = quantile(ratios, 0.5);
        std::printf("%-9s %14.1f %14.1f %8.3f    %6.3f - %6.3f%s\n", std::string(milk::placement_name(placement)).c_str(),
                    quantile(direct_means, 0.5), quantile(host_means, 0.5), ratio, quantile(ratios, 0.25),
                    quantile(ratios, 0.75), ratio <= 1.02 ? "" : "   (target <= 1.02)");
    }
    if (!kernel) std::printf("kernel    (no /dev/milk: milk.ko is not loaded here)\n");
    if (trace)
        std::printf("traced %llu events (%llu more did not fit the instances' trace rings: counted, not written)\n",
                    static_cast<unsigned long long>(traced_events), static_cast<unsigned long long>(dropped_events));
    return 0;
}
