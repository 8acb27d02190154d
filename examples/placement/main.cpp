// examples/placement: one client, one component, and the placement a setting.
//
// The program runs a milk::Host with a config file, connects to the echo
// instance by name, and runs the pingpong client (examples/pingpong) against
// it: 10,000 round trips with payloads of 1 to 4096 bytes, every answer
// checked. Then it times round trips with a small payload. Nothing in the
// client knows where the echo runs; `--place echo=inproc|process|kernel`
// moves it into a thread of this process, a process of its own, or milk.ko:
//
//   placement-demo --config examples/placement/echo.toml --place echo=process
//
// It prints where the component ran, as the host and the system see it (the
// pid serving the channel, or milk.ko's own count of the messages its
// component took), and the round trip's p50 and p99.
#include "pingpong_client.hpp"  // the client, the same for every placement

#include <milk/host/component_type.hpp>
#include <milk/host/config.hpp>
#include <milk/host/host.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {

namespace PingPong = examples::pingpong::PingPong;
using Clock = std::chrono::steady_clock;

void print_error(const char* context, const milk::Error& error) {
    std::fprintf(stderr, "placement-demo: %s: %s%s%s\n", context, milk::describe(error.code),
                 error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
}

// Round trips of an 8-byte Ping, each timed alone: the p50 and p99 in
// nanoseconds.
milk::Result<std::pair<double, double>> time_round_trips(PingPong::Contract::ClientEndpoint client,
                                                         std::uint32_t count) {
    std::vector<double> samples;
    samples.reserve(count);
    std::optional<PingPong::Contract::ClientEndpoint> idle{std::move(client)};
    for (std::uint32_t seq = 0; seq < count; ++seq) {
        const auto started = Clock::now();
        auto payload = MILK_TRY(idle->allocate(8));
        auto waiting = std::move(*idle).send(PingPong::Ping{seq, std::move(payload)});
        idle.reset();
        auto next = MILK_TRY(MILK_TRY(std::move(waiting)).receive(
            [](PingPong::Pong&&, PingPong::Contract::ClientEndpoint&& back) { return std::move(back); }));
        samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - started).count());
        idle.emplace(std::move(next));
    }
    MILK_TRY(std::move(*idle).send(PingPong::Bye{}));
    std::sort(samples.begin(), samples.end());
    return std::pair{samples[samples.size() / 2], samples[samples.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"placement-demo: the pingpong client against the echo component, wherever it is placed"};
    std::string config_path = "examples/placement/echo.toml";
    std::vector<std::string> places;
    std::uint32_t timed = 10'000;
    app.add_option("--config", config_path, "the host's config file")->capture_default_str();
    app.add_option("--place", places, "INSTANCE=PLACEMENT, over the config file's placement")->take_all();
    app.add_option("--timed", timed, "round trips to time")->capture_default_str()->check(CLI::Range(1u, 10'000'000u));
    CLI11_PARSE(app, argc, argv);

    // The config, with --place and MILK_PLACE over it; bad config is refused
    // with file:line:column and the allowed values, and nothing starts.
    auto loaded = milk::host::load_config(config_path, milk::host::compiled_components(),
                                          milk::host::overrides_from_environment(places),
                                          milk::host::device_kernel_probe());
    if (!loaded.config) {
        for (const auto& diagnostic : loaded.diagnostics) std::fputs(milk::host::format(diagnostic).c_str(), stderr);
        return 1;
    }
    auto host = milk::host::Host::try_create(*loaded.config, milk::host::compiled_components());
    if (!host) {
        print_error("starting the host", host.error());
        return 1;
    }
    auto placement = host.value().placement_of("echo");
    if (!placement) {
        std::fprintf(stderr, "placement-demo: the config has no instance named echo\n");
        return 1;
    }
    const std::string where(milk::placement_name(*placement));

    // The same client code whatever the placement: only the endpoint's
    // transport differs, and the client cannot tell.
    auto client = host.value().connect<PingPong::Contract>("echo");
    if (!client) {
        print_error("connecting to echo", client.error());
        return 1;
    }
    auto report = examples::pingpong::run_client(std::move(client).value());
    if (!report || report.value().mismatches != 0) {
        if (!report) print_error("the client", report.error());
        std::printf("placement-demo: FAILED: echo at %s\n", where.c_str());
        return 1;
    }
    auto timing_client = host.value().connect<PingPong::Contract>("echo");
    if (!timing_client) {
        print_error("connecting to echo", timing_client.error());
        return 1;
    }
    auto timing = time_round_trips(std::move(timing_client).value(), timed);
    if (!timing) {
        print_error("timing round trips", timing.error());
        return 1;
    }

    // Where it ran, as the host sees it: this process for inproc, the
    // runner the host spawned for process, milk.ko (pid 0) for kernel,
    // with the messages counted on the component's side.
    std::string ran = "?";
    for (const milk::host::InstanceStatus& status : host.value().status()) {
        if (status.name != "echo") continue;
        if (*placement == milk::Placement::Inproc)
            ran = "a thread of this process (pid " + std::to_string(status.pid) + ")";
        else if (*placement == milk::Placement::Process)
            ran = "process " + std::to_string(status.pid) + " (milk-runner; this process is " +
                  std::to_string(::getpid()) + ")";
        else
            ran = "milk.ko (the module counted " + std::to_string(status.messages) + " messages)";
    }
    const std::string_view source =
        milk::host::placement_source_name(loaded.config->instances.front().placement_source);
    std::printf("placement-demo: echo placed %s (%.*s): served by %s\n", where.c_str(),
                static_cast<int>(source.size()), source.data(), ran.c_str());
    std::printf("placement-demo:   %u round trips with 1-4096 byte payloads, every answer checked, none copied: %s\n",
                examples::pingpong::round_trips,
                report.value().same_memory == examples::pingpong::round_trips ? "yes" : "NO");
    std::printf("placement-demo:   round trip (8-byte payload, %u timed): p50 %.2f us, p99 %.2f us\n", timed,
                timing.value().first / 1000.0, timing.value().second / 1000.0);
    return report.value().same_memory == examples::pingpong::round_trips ? 0 : 1;
}
