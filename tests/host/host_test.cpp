// milk::Host's API: connecting by name and contract, the errors a client
// gets, status, a killed runner, the runner's exit with its host; and the
// control contract's two sides against each other. The components are the
// list's (echo, files, tally); milk-runner is the build's.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "pingpong.hpp"  // generated from contracts/pingpong.contract
#include "tally.hpp"     // generated from contracts/tally.contract

#include <milk/host/component_type.hpp>
#include <milk/host/control.hpp>
#include <milk/host/host.hpp>
#include <milk/inproc.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>
#include <thread>
#include <unistd.h>

namespace {

namespace PingPong = examples::pingpong::PingPong;
namespace Tally = examples::tally::Tally;
using milk::Placement;
using milk::host::ChannelStatus;
using milk::host::Host;
using milk::host::InstanceState;
using milk::host::InstanceStatus;

milk::host::InstanceConfig instance(const char* name, const char* component, Placement placement) {
    milk::host::InstanceConfig config;
    config.name = name;
    config.component = component;
    config.placement = placement;
    return config;
}

Host make_host(std::vector<milk::host::InstanceConfig> instances) {
    milk::host::Config config;
    config.file = "test";
    config.instances = std::move(instances);
    milk::host::HostOptions options;
    options.runner_path = MILK_RUNNER_PATH;
    options.stop_timeout = std::chrono::milliseconds(500);
    auto host = Host::try_create(config, milk::host::compiled_components(), options);
    REQUIRE(host.ok());
    return std::move(host).value();
}

std::optional<InstanceStatus> status_of(const Host& host, const char* name) {
    for (const InstanceStatus& status : host.status())
        if (status.name == name) return status;
    return std::nullopt;
}

// One Ping/Pong; the endpoint back, or the error.
milk::Result<PingPong::Contract::ClientEndpoint> ping(PingPong::Contract::ClientEndpoint client, std::uint32_t seq) {
    auto payload = client.allocate(4);
    if (!payload.ok()) return payload.error();
    auto waiting = std::move(client).send(PingPong::Ping{seq, std::move(payload).value()});
    if (!waiting.ok()) return waiting.error();
    return std::move(waiting).value().receive(
        [](PingPong::Pong&&, PingPong::Contract::ClientEndpoint&& next) { return std::move(next); });
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

}  // namespace

TEST_CASE("connect: an unknown instance, another contract, another version are refused") {
    Host host = make_host({instance("echo", "echo", Placement::Inproc)});
    auto unknown = host.connect<PingPong::Contract>("nobody");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == milk::ErrorCode::InvalidArgument);
    CHECK(std::string(unknown.error().what) == "no instance of that name in this host");

    auto other = host.connect<Tally::Contract>("echo");
    REQUIRE_FALSE(other.ok());
    CHECK(std::string(other.error().what) == "the instance's component serves another contract");

    auto version = host.connect_end("echo", PingPong::Contract::name, PingPong::Contract::version + 1);
    REQUIRE_FALSE(version.ok());
    CHECK(std::string(version.error().what) ==
          "the instance's component serves another version (identity) of the contract: detail is the version it "
          "serves");
    CHECK(version.error().detail == PingPong::Contract::version);
}

TEST_CASE("inproc: each connect is a channel of its own, served in this process and counted") {
    Host host = make_host({instance("echo", "echo", Placement::Inproc)});
    auto first = host.connect<PingPong::Contract>("echo");
    auto second = host.connect<PingPong::Contract>("echo");
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    auto first_back = ping(std::move(first).value(), 1);
    REQUIRE(first_back.ok());
    // The server counts its Pong just after sending it.
    for (int i = 0; i < 200 && status_of(host, "echo")->messages < 2; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto status = status_of(host, "echo");
    REQUIRE(status);
    CHECK(status->pid == ::getpid());
    CHECK(status->state == InstanceState::Running);
    CHECK(status->channels_open == 2);
    CHECK(status->channels_opened == 2);
    CHECK(status->messages == 2);
    // Per channel: the first carried a Ping and a Pong, the second nothing;
    // both are back in (or still in) Idle, where the client speaks.
    std::vector<ChannelStatus> per_channel = status->open_channels;
    std::sort(per_channel.begin(), per_channel.end(),
              [](const ChannelStatus& a, const ChannelStatus& b) { return a.messages < b.messages; });
    CHECK(per_channel == std::vector<ChannelStatus>{{0, "Idle"}, {2, "Idle"}});
    CHECK(status->contract == PingPong::Contract::name);
    REQUIRE(std::move(first_back).value().send(PingPong::Bye{}).ok());
    REQUIRE(std::move(second).value().send(PingPong::Bye{}).ok());
    for (int i = 0; i < 200 && status_of(host, "echo")->channels_open != 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(status_of(host, "echo")->channels_open == 0);
    CHECK(status_of(host, "echo")->messages == 4);  // Ping, Pong, Bye, Bye
}

TEST_CASE("status: each open channel's protocol state, as the contract names it, in every user-space placement") {
    for (const Placement placement : {Placement::Inproc, Placement::Process}) {
        CAPTURE(milk::placement_name(placement));
        Host host = make_host({instance("tally", "tally", placement)});
        auto client = host.connect<Tally::Contract>("tally");
        REQUIRE(client.ok());
        // Tally greets first (Greeting --Ready--> Adding); then the client
        // speaks: Add keeps it in Adding, Total goes to Summing and the Sum
        // back to Adding.
        auto adding = std::move(client).value().receive(
            [](Tally::Ready&&, Tally::Client<Tally::state::Adding>&& next) { return std::move(next); });
        REQUIRE(adding.ok());
        auto added = std::move(adding).value().send(Tally::Add{5});
        REQUIRE(added.ok());
        auto summing = std::move(added).value().send(Tally::Total{});
        REQUIRE(summing.ok());
        auto summed = std::move(summing).value().receive(
            [](Tally::Sum&& sum, Tally::Client<Tally::state::Adding>&& next) {
                CHECK(sum.sum == 5);
                return std::move(next);
            });
        REQUIRE(summed.ok());
        // The server counts the Sum just after sending it.
        for (int i = 0; i < 400 && status_of(host, "tally")->messages < 4; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        auto status = status_of(host, "tally");
        REQUIRE(status);
        CHECK(status->open_channels == std::vector<ChannelStatus>{{4, "Adding"}});
        REQUIRE(std::move(summed).value().send(Tally::Bye{}).ok());
    }
}

TEST_CASE("process: the runner is a child, and when it is killed its clients get PeerClosed and status shows the signal") {
    pid_t runner = 0;
    {
        Host host = make_host({instance("echo", "echo", Placement::Process)});
        auto client = host.connect<PingPong::Contract>("echo");
        REQUIRE(client.ok());
        auto back = ping(std::move(client).value(), 7);
        REQUIRE(back.ok());
        auto status = status_of(host, "echo");
        REQUIRE(status);
        runner = status->pid;
        CHECK(runner != ::getpid());
        CHECK(::getppid() != runner);
        CHECK(status->channels_open == 1);

        REQUIRE(::kill(runner, SIGKILL) == 0);
        const auto start = std::chrono::steady_clock::now();
        auto after = ping(std::move(back).value(), 8);
        REQUIRE_FALSE(after.ok());
        CHECK(after.error().code == milk::ErrorCode::PeerClosed);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));

        for (int i = 0; i < 200 && status_of(host, "echo")->state == InstanceState::Running; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        status = status_of(host, "echo");
        CHECK(status->state == InstanceState::Killed);
        CHECK(status->code == SIGKILL);
        CHECK(status->channels_open == 0);
        CHECK(milk::host::describe_state(*status) == "dead (signal 9 SIGKILL)");

        auto refused = host.connect<PingPong::Contract>("echo");
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().code == milk::ErrorCode::PeerClosed);
    }
    CHECK_FALSE(process_exists(runner));  // reaped, not a zombie
}

TEST_CASE("process: a host that stops ends and reaps its runners") {
    pid_t runner = 0;
    {
        Host host = make_host({instance("tally", "tally", Placement::Process)});
        runner = status_of(host, "tally")->pid;
        CHECK(process_exists(runner));
    }
    CHECK_FALSE(process_exists(runner));
}

TEST_CASE("process: a missing runner binary is an error at start") {
    milk::host::Config config;
    config.instances.push_back(instance("echo", "echo", Placement::Process));
    milk::host::HostOptions options;
    options.runner_path = "/nonexistent/milk-runner";
    auto host = Host::try_create(config, milk::host::compiled_components(), options);
    REQUIRE_FALSE(host.ok());
    CHECK(host.error().code == milk::ErrorCode::InvalidArgument);
}

TEST_CASE("control: Status lists every instance, and the client checks the count") {
    std::vector<InstanceStatus> list(2);
    list[0].name = "echo";
    list[0].component = "echo";
    list[0].placement = Placement::Process;
    list[0].pid = 1234;
    list[0].state = InstanceState::Killed;
    list[0].code = 9;
    list[0].channels_open = 0;
    list[0].messages = 20009;
    list[0].open_channels = {{5, "Idle"}, {0, "Waiting"}, {7, "?"}};
    list[1].name = "";  // an empty name still travels
    list[1].component = "tally";
    list[1].placement = Placement::Kernel;
    list[1].channels_open = 3;
    list[1].messages = 1ull << 40;
    auto pair = milk::inproc::open_channel();
    REQUIRE(pair.ok());
    std::thread server([end = std::move(pair.value().second), &list]() mutable {
        CHECK(milk::host::serve_control(
                  std::move(end), [&] { return list; },
                  [](std::string_view, Placement) -> milk::Result<void> { return milk::Error{milk::ErrorCode::InvalidArgument, "no moves here", 0}; })
                  .ok());
    });
    auto got = milk::host::request_status(std::move(pair.value().first));
    server.join();
    REQUIRE(got.ok());
    REQUIRE(got.value().size() == 2);
    CHECK(got.value()[0].name == "echo");
    CHECK(got.value()[0].placement == Placement::Process);
    CHECK(got.value()[0].pid == 1234);
    CHECK(got.value()[0].state == InstanceState::Killed);
    CHECK(got.value()[0].code == 9);
    CHECK(got.value()[0].messages == 20009);
    CHECK(got.value()[0].open_channels == std::vector<ChannelStatus>{{5, "Idle"}, {0, "Waiting"}, {7, "?"}});
    CHECK(got.value()[1].open_channels.empty());
    CHECK(got.value()[1].name.empty());
    CHECK(got.value()[1].component == "tally");
    CHECK(got.value()[1].placement == Placement::Kernel);
    CHECK(got.value()[1].channels_open == 3);
    CHECK(got.value()[1].messages == 1ull << 40);
}
