// Live relocation through milk::Host::move (docs/relocation.md): clients
// in this process keep their endpoints while their component moves between
// placements, and lose, duplicate or reorder nothing; a stateful
// component's state goes with it; a move that cannot complete leaves the
// component serving where it was. The components are the list's (echo,
// files, tally); milk-runner is the build's (MILK_RUNNER_PATH).
//
// The same source runs in the VM with milk.ko loaded (a static build,
// tests/host/host/vm_host_test.sh): there the components move round every
// pair of the three placements, the kernel's included (placement_cycle()),
// and the soak makes MILK_RELOCATION_MOVES moves instead of 1,000.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "file-server/file_client.hpp"
#include "pingpong/pingpong_client.hpp"
#include "tally.hpp"  // generated from contracts/tally.contract

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <optional>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

namespace PingPong = examples::pingpong::PingPong;
namespace Tally = examples::tally::Tally;
using examples::pingpong::holds_reversed_pattern;
using examples::pingpong::pattern;
using examples::pingpong::payload_size;
using milk::Placement;
using milk::host::Host;
using ClientIdle = PingPong::Contract::ClientEndpoint;

Host make_host(const char* name, const char* component, Placement placement,
               milk::host::RestartPolicy restart = milk::host::RestartPolicy::Never, std::uint32_t restart_limit = 5) {
    milk::host::InstanceConfig instance;
    instance.name = name;
    instance.component = component;
    instance.placement = placement;
    instance.restart = restart;
    instance.restart_limit = restart_limit;
    milk::host::Config config;
    config.file = "test";
    config.instances.push_back(instance);
    milk::host::HostOptions options;
    options.runner_path = MILK_RUNNER_PATH;
    options.stop_timeout = std::chrono::milliseconds(500);
    auto host = Host::try_create(config, milk::host::compiled_components(), options);
    REQUIRE(host.ok());
    return std::move(host).value();
}

pid_t pid_of(const Host& host) { return host.status().front().pid; }

// The placements the tests move components round, from inproc back to it,
// one move per neighbouring pair: the user-space pair here; where milk.ko is
// loaded, every ordered pair of the three once (inproc -> process ->
// kernel -> inproc -> kernel -> process -> inproc).
std::vector<Placement> placement_cycle() {
    if (::access("/dev/milk", F_OK) == 0)
        return {Placement::Inproc, Placement::Process, Placement::Kernel, Placement::Inproc,
                Placement::Kernel, Placement::Process, Placement::Inproc};
    return {Placement::Inproc, Placement::Process, Placement::Inproc};
}

bool cycle_has_kernel() {
    const auto cycle = placement_cycle();
    return std::find(cycle.begin(), cycle.end(), Placement::Kernel) != cycle.end();
}

// How many moves the soak makes: 1,000, or MILK_RELOCATION_MOVES (the VM
// runs fewer: each kernel move there is emulated).
int soak_moves() {
    const char* asked = std::getenv("MILK_RELOCATION_MOVES");
    return asked != nullptr && std::atoi(asked) > 0 ? std::atoi(asked) : 1000;
}

// The instance's open channels once they are `expected` (or after 2 s): a
// channel a move left is counted closed by its old placement a moment
// after its client went on.
std::uint64_t channels_open_once(const Host& host, std::uint64_t expected) {
    std::uint64_t open = 0;
    for (int i = 0; i < 400; ++i) {
        open = host.status().front().channels_open;
        if (open == expected) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return open;
}

// The instance's message count once it reached `expected` (or after 2 s):
// the component's side counts a Pong just after sending it, so a client
// that has it may ask a moment before the count does.
std::uint64_t messages_once(const Host& host, std::uint64_t expected) {
    std::uint64_t messages = 0;
    for (int i = 0; i < 400; ++i) {
        messages = host.status().front().messages;
        if (messages >= expected) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return messages;
}

// What a streaming client saw.
struct Stream {
    std::uint32_t answered = 0;
    std::uint32_t wrong = 0;  // a Pong with another number, or other bytes
    std::optional<milk::Error> error;
};

// Ping `seq` with its pattern; the Pong must carry the same number and the
// pattern reversed (echo's answer), whatever happened in between.
milk::Result<ClientIdle> round_trip(ClientIdle client, std::uint32_t seq, Stream& stream) {
    auto payload = client.allocate(payload_size(seq));
    if (!payload) return payload.error();
    std::span<std::byte> bytes = payload.value().bytes();
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = pattern(seq, i);
    auto waiting = std::move(client).send(PingPong::Ping{seq, std::move(payload).value()});
    if (!waiting) return waiting.error();
    return std::move(waiting).value().receive([&](PingPong::Pong&& pong, ClientIdle&& next) {
        if (pong.seq != seq || !holds_reversed_pattern(pong.payload.bytes(), seq)) ++stream.wrong;
        ++stream.answered;
        return std::move(next);
    });
}

// Sends `count` Pings on `end` without reading a Pong: a broken client (the
// contract wants the Pong first), so it goes below the endpoints. Returns
// `count`.
std::uint32_t flood_pings(milk::ChannelEnd& end, std::uint32_t count) {
    for (std::uint32_t seq = 0; seq < count; ++seq) {
        auto payload = end.allocate(8);
        REQUIRE(payload.ok());
        milk::Slot slot{};
        REQUIRE(milk_encode(PingPong::Ping{seq, std::move(payload).value()}, end, slot).ok());
        REQUIRE(end.send(slot).ok());
    }
    return count;
}

// Pings until `stop`, then Bye. (The endpoint lives in an optional between
// round trips, for clang's -Wconsumed.)
void stream_until(ClientIdle first, const std::atomic<bool>& stop, Stream& stream) {
    std::optional<ClientIdle> client{std::move(first)};
    for (std::uint32_t seq = 0; !stop.load(std::memory_order_relaxed); ++seq) {
        auto next = round_trip(std::move(*client), seq, stream);
        client.reset();
        if (!next) {
            stream.error = next.error();
            return;
        }
        client.emplace(std::move(next).value());
    }
    if (auto bye = std::move(*client).send(PingPong::Bye{}); !bye) stream.error = bye.error();
}

}  // namespace

TEST_CASE("a client's endpoint follows echo round the placements and back") {
    const std::vector<Placement> cycle = placement_cycle();
    Host host = make_host("echo", "echo", cycle.front());
    auto client = host.connect<PingPong::Contract>("echo");
    REQUIRE(client.ok());
    Stream stream;
    auto idle = round_trip(std::move(client).value(), 0, stream);
    REQUIRE(idle.ok());
    CHECK(pid_of(host) == ::getpid());

    std::uint32_t seq = 1;
    for (std::size_t i = 1; i < cycle.size(); ++i) {
        const Placement target = cycle[i];
        INFO("the move to ", std::string(milk::placement_name(target)), ", move ", i);
        REQUIRE(host.move("echo", target).ok());
        CHECK(host.placement_of("echo") == target);
        // Where it runs now: this process, a runner, or milk.ko, whose own
        // count of the messages it took from user space goes up by the Ping.
        const std::uint64_t before = host.status().front().messages;
        if (target == Placement::Inproc) CHECK(pid_of(host) == ::getpid());
        if (target == Placement::Process) CHECK(pid_of(host) != ::getpid());
        idle = round_trip(std::move(idle).value(), seq++, stream);
        REQUIRE(idle.ok());
        if (target == Placement::Kernel) CHECK(host.status().front().messages == before + 1);
    }
    CHECK(stream.answered == cycle.size());
    CHECK(stream.wrong == 0);
    if (!cycle_has_kernel()) {
        // The counts go on across placements (a runner started by a move
        // attaches to the instance's page, it does not start it anew): a
        // Ping and a Pong at each of the three, one channel open.
        CHECK(messages_once(host, 6) == 6);
    }
    // The old channel's closing is counted by its runner a moment after the
    // client has gone on: one channel open once it has.
    CHECK(channels_open_once(host, 1) == 1);
    REQUIRE(std::move(idle).value().send(PingPong::Bye{}).ok());
}

TEST_CASE("the file server's open files and contents move with it") {
    namespace files = examples::files;
    const std::vector<Placement> cycle = placement_cycle();
    Host host = make_host("files", "files", cycle.front());
    auto client = host.connect<files::FileService::Contract>("files");
    REQUIRE(client.ok());
    auto opened = files::open_file(std::move(client).value(), "/motd");
    REQUIRE(opened.ok());
    CHECK(opened.value().text == "opened, handle 1");
    auto written = files::write_file(std::move(opened.value().client), 1, 27, " Moved.");
    REQUIRE(written.ok());
    CHECK(written.value().text == "written, 7 bytes");
    std::optional<files::ClientReady> idle{std::move(written.value().client)};

    // At each placement the table is the one before the move: what was
    // written reads back, and the next open gets the next handle.
    for (std::size_t i = 1; i < cycle.size(); ++i) {
        INFO("the move to ", std::string(milk::placement_name(cycle[i])), ", move ", i);
        REQUIRE(host.move("files", cycle[i]).ok());
        auto read = files::read_file(std::move(*idle), 1, 0, 64);
        idle.reset();
        REQUIRE(read.ok());
        CHECK(read.value().text == "data \"Hello from the file server. Moved.\"");
        auto again = files::open_file(std::move(read.value().client), "/motd");
        REQUIRE(again.ok());
        // Handle numbers go on where they were: the table moved, not a new one.
        CHECK(again.value().text == "opened, handle " + std::to_string(i + 1));
        idle.emplace(std::move(again.value().client));
    }
}

TEST_CASE("1,000 moves under load: three streaming clients lose, duplicate and reorder nothing") {
    const std::vector<Placement> cycle = placement_cycle();
    Host host = make_host("echo", "echo", cycle.front());
    constexpr int clients = 3;
    const int moves = soak_moves();
    std::atomic<bool> stop{false};
    std::vector<Stream> streams(clients);
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i) {
        auto client = host.connect<PingPong::Contract>("echo");
        REQUIRE(client.ok());
        threads.emplace_back(stream_until, std::move(client).value(), std::cref(stop), std::ref(streams[i]));
    }
    int failed_moves = 0;
    // Round the cycle, its last placement being its first.
    Placement at = cycle.front();
    for (int i = 0; i < moves; ++i) {
        at = cycle[1 + static_cast<std::size_t>(i) % (cycle.size() - 1)];
        if (!host.move("echo", at).ok()) ++failed_moves;
    }
    stop = true;
    for (std::thread& thread : threads) thread.join();
    CHECK(failed_moves == 0);
    CHECK(host.placement_of("echo") == at);
    for (const Stream& stream : streams) {
        INFO("error: ", std::string(stream.error ? milk::describe(stream.error->code) : "none"), " ",
             std::string(stream.error && stream.error->what != nullptr ? stream.error->what : ""));
        CHECK_FALSE(stream.error.has_value());
        CHECK(stream.wrong == 0);
        // Every client got answers all along (not only before the first move).
        CHECK(stream.answered > moves / 10);
    }
}

TEST_CASE("a component that serves whole sessions cannot be moved, and serves on") {
    Host host = make_host("tally", "tally", Placement::Inproc);
    auto moved = host.move("tally", Placement::Process);
    REQUIRE_FALSE(moved.ok());
    CHECK(moved.error().code == milk::ErrorCode::InvalidArgument);
    CHECK(host.placement_of("tally") == Placement::Inproc);
    auto client = host.connect<Tally::Contract>("tally");
    CHECK(client.ok());
}

TEST_CASE("a move to the kernel without milk.ko, or to where it is, is refused or nothing") {
    // No module here (the VM's test moves to the kernel for real):
    // refused with the reason, and echo serves on where it was.
    Host host = make_host("echo", "echo", Placement::Inproc);
    auto client = host.connect<PingPong::Contract>("echo");
    REQUIRE(client.ok());
    auto kernel = host.move("echo", Placement::Kernel);
    REQUIRE_FALSE(kernel.ok());
    CHECK(kernel.error().code == milk::ErrorCode::InvalidArgument);
    CHECK(std::string_view(kernel.error().what) == "milk.ko is not loaded (no /dev/milk)");
    CHECK(host.placement_of("echo") == Placement::Inproc);
    Stream stream;
    auto served = round_trip(std::move(client).value(), 7, stream);
    REQUIRE(served.ok());
    CHECK(stream.answered == 1);
    CHECK(stream.wrong == 0);
    CHECK(host.move("echo", Placement::Inproc).ok());
    auto nobody = host.move("nobody", Placement::Process);
    REQUIRE_FALSE(nobody.ok());
    CHECK(nobody.error().code == milk::ErrorCode::InvalidArgument);
}

TEST_CASE("a channel that reaches no cut point in time keeps the component where it was") {
    // The client sends Pings without reading a Pong (a broken client: the
    // contract wants the Pong first, so it goes below the endpoints): the
    // component answers until its outgoing ring is full and then waits to
    // send, owing a Pong, never at a cut point.
    Host host = make_host("echo", "echo", Placement::Inproc);
    auto client = host.connect<PingPong::Contract>("echo");
    REQUIRE(client.ok());
    milk::ChannelEnd end = milk::session::detail::Access::take(std::move(client).value());
    const std::uint32_t sent = flood_pings(end, 300);
    // 256 Pongs fill the ring; the component holds the 257th: it has taken
    // 257 Pings and sent 256 Pongs.
    REQUIRE(messages_once(host, 513) == 513);
    auto moved = host.move("echo", Placement::Process, std::chrono::milliseconds(200));
    REQUIRE_FALSE(moved.ok());
    CHECK(moved.error().code == milk::ErrorCode::TimedOut);
    CHECK(host.placement_of("echo") == Placement::Inproc);
    // It serves on: every Pong arrives, in order.
    for (std::uint32_t seq = 0; seq < sent; ++seq) {
        auto slot = end.receive(milk::Deadline::after(std::chrono::seconds(5)));
        REQUIRE(slot.ok());
        auto pong = milk_decode(std::type_identity<PingPong::Pong>{}, slot.value(), end);
        REQUIRE(pong.ok());
        CHECK(pong.value().seq == seq);
    }
}

namespace {

using milk::host::RestartPolicy;

milk::host::InstanceStatus status_of(const Host& host) { return host.status().front(); }

// Whether every thread of `pid` is stopped (state T in /proc), within 2 s.
bool all_threads_stopped(pid_t pid) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    for (int attempt = 0; attempt < 400; ++attempt) {
        bool all = true;
        for (const auto& task : std::filesystem::directory_iterator(tasks)) {
            std::ifstream stat(task.path() / "stat");
            std::string line;
            std::getline(stat, line);
            // "pid (comm) S ...": the state follows the command's ')'.
            const auto close = line.rfind(')');
            if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'T') all = false;
        }
        if (all) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

// Kills the instance's process and waits until the host has dealt with it:
// restarted it (`restarts` grew) when `restarted`, or left it dead (its
// state stays dead and nothing restarts it for a while) when not. Status
// shows the old process dead for a moment before a restart replaces it.
enum class Expect : std::uint8_t { Restarted, StaysDead };
void kill_runner(const Host& host, Expect expect = Expect::Restarted) {
    const auto before = status_of(host);
    REQUIRE(before.state == milk::host::InstanceState::Running);
    REQUIRE(before.pid != ::getpid());
    REQUIRE(::kill(before.pid, SIGKILL) == 0);
    for (int i = 0; i < 400; ++i) {
        const auto now = status_of(host);
        if (expect == Expect::Restarted && now.restarts > before.restarts) return;
        if (expect == Expect::StaysDead && now.state != milk::host::InstanceState::Running) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            CHECK(status_of(host).restarts == before.restarts);
            CHECK(status_of(host).state != milk::host::InstanceState::Running);
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    FAIL("the host did not deal with its runner's death");
}

}  // namespace

TEST_CASE("restart on-failure: echo's client goes on through a new process, its endpoint unchanged") {
    Host host = make_host("echo", "echo", Placement::Process, RestartPolicy::OnFailure);
    auto client = host.connect<PingPong::Contract>("echo");
    REQUIRE(client.ok());
    Stream stream;
    auto idle = round_trip(std::move(client).value(), 0, stream);
    REQUIRE(idle.ok());
    const pid_t first = status_of(host).pid;
    kill_runner(host);
    // The channel was at a cut point (the client's turn) and echo keeps no
    // state: the next Ping goes to the new process, transparently.
    idle = round_trip(std::move(idle).value(), 1, stream);
    REQUIRE(idle.ok());
    const auto after = status_of(host);
    CHECK(after.restarts == 1);
    CHECK(after.state == milk::host::InstanceState::Running);
    CHECK(after.pid != first);
    CHECK(milk::host::describe_state(after) == "running (restarted 1)");
    CHECK(stream.wrong == 0);
    REQUIRE(std::move(idle).value().send(PingPong::Bye{}).ok());
}

TEST_CASE("restart on-failure: a stateful component's client gets PeerClosed, and new clients are served") {
    namespace files = examples::files;
    Host host = make_host("files", "files", Placement::Process, RestartPolicy::OnFailure);
    auto client = host.connect<files::FileService::Contract>("files");
    REQUIRE(client.ok());
    auto opened = files::open_file(std::move(client).value(), "/motd");
    REQUIRE(opened.ok());
    kill_runner(host);
    // Its open handle died with the process: the documented error.
    auto read = files::read_file(std::move(opened.value().client), 1, 0, 64);
    REQUIRE_FALSE(read.ok());
    CHECK(read.error().code == milk::ErrorCode::PeerClosed);
    auto again = host.connect<files::FileService::Contract>("files");
    REQUIRE(again.ok());
    auto fresh = files::open_file(std::move(again).value(), "/motd");
    REQUIRE(fresh.ok());
    CHECK(fresh.value().text == "opened, handle 1");
}

TEST_CASE("restart never: the instance stays dead and its client gets PeerClosed") {
    Host host = make_host("echo", "echo", Placement::Process);
    auto client = host.connect<PingPong::Contract>("echo");
    REQUIRE(client.ok());
    Stream stream;
    auto idle = round_trip(std::move(client).value(), 0, stream);
    REQUIRE(idle.ok());
    kill_runner(host, Expect::StaysDead);
    auto next = round_trip(std::move(idle).value(), 1, stream);
    REQUIRE_FALSE(next.ok());
    CHECK(next.error().code == milk::ErrorCode::PeerClosed);
    CHECK(status_of(host).state == milk::host::InstanceState::Killed);
    CHECK(status_of(host).restarts == 0);
}

TEST_CASE("restart_limit: past it, the instance stays dead") {
    Host host = make_host("echo", "echo", Placement::Process, RestartPolicy::OnFailure, 2);
    kill_runner(host);
    kill_runner(host);
    CHECK(status_of(host).restarts == 2);
    kill_runner(host, Expect::StaysDead);
    const auto last = status_of(host);
    CHECK(last.restarts == 2);
    CHECK(last.state == milk::host::InstanceState::Killed);
    auto refused = host.connect<PingPong::Contract>("echo");
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == milk::ErrorCode::PeerClosed);
}

TEST_CASE("restart on-failure: a Ping the dead process never took is sent again to the new one") {
    Host host = make_host("echo", "echo", Placement::Process, RestartPolicy::OnFailure);
    auto client = host.connect<PingPong::Contract>("echo");
    REQUIRE(client.ok());
    Stream stream;
    auto idle = round_trip(std::move(client).value(), 0, stream);
    REQUIRE(idle.ok());
    // Stopped, the process takes nothing: Ping 1 waits in the ring when it
    // dies. (A stop takes effect on each thread a moment after kill()
    // returns: wait until every thread of it shows stopped.)
    const pid_t runner = status_of(host).pid;
    REQUIRE(::kill(runner, SIGSTOP) == 0);
    REQUIRE(all_threads_stopped(runner));
    std::thread killer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ::kill(runner, SIGKILL);
    });
    idle = round_trip(std::move(idle).value(), 1, stream);
    killer.join();
    REQUIRE(idle.ok());
    CHECK(stream.wrong == 0);
    CHECK(status_of(host).restarts == 1);
    REQUIRE(std::move(idle).value().send(PingPong::Bye{}).ok());
}

TEST_CASE("restart on-failure: a client whose component owed it answers gets PeerClosed, not a gap") {
    // As in the timeout case above: Pings sent below the endpoints without
    // reading a Pong, so the component is blocked owing one when it dies.
    Host host = make_host("echo", "echo", Placement::Process, RestartPolicy::OnFailure);
    auto client = host.connect<PingPong::Contract>("echo");
    REQUIRE(client.ok());
    milk::ChannelEnd end = milk::session::detail::Access::take(std::move(client).value());
    flood_pings(end, 300);
    // Blocked owing the 257th Pong (257 Pings taken, 256 Pongs sent).
    REQUIRE(messages_once(host, 513) == 513);
    kill_runner(host);
    CHECK(status_of(host).restarts == 1);
    // The Pongs it sent before it died arrive, then the death.
    std::uint32_t pongs = 0;
    for (;;) {
        auto slot = end.receive(milk::Deadline::after(std::chrono::seconds(10)));
        if (!slot.ok()) {
            CHECK(slot.error().code == milk::ErrorCode::PeerClosed);
            break;
        }
        ++pongs;
    }
    CHECK(pongs == 256);
}

TEST_CASE("a trace records each message with its states, the channels, and the move between them") {
    Host host = make_host("echo", "echo", Placement::Inproc);
    host.start_trace();
    auto client = host.connect<PingPong::Contract>("echo");
    REQUIRE(client.ok());
    Stream stream;
    auto idle = round_trip(std::move(client).value(), 0, stream);
    for (std::uint32_t seq = 1; seq < 3; ++seq) idle = round_trip(std::move(idle).value(), seq, stream);
    REQUIRE(host.move("echo", Placement::Process).ok());
    for (std::uint32_t seq = 3; seq < 5; ++seq) idle = round_trip(std::move(idle).value(), seq, stream);
    REQUIRE(idle.ok());
    REQUIRE(std::move(idle).value().send(PingPong::Bye{}).ok());
    // The component's side records the Bye as it takes it: five Pings, five
    // Pongs and the Bye counted, then stop.
    CHECK(messages_once(host, 11) == 11);
    const milk::host::Trace trace = host.stop_trace();
    CHECK(trace.dropped == 0);

    using Kind = milk::host::TraceEvent::Kind;
    int pings = 0;
    int pongs = 0;
    int byes = 0;
    int moves = 0;
    std::vector<std::uint64_t> channels;
    std::uint64_t last = 0;
    for (const auto& event : trace.events) {
        CHECK(event.time_ns >= last);  // in time order
        last = event.time_ns;
        CHECK(event.instance == "echo");
        if (event.kind == Kind::Move) {
            ++moves;
            CHECK(event.name == "inproc -> process");
            continue;
        }
        if (event.kind != Kind::Message) continue;
        CHECK(event.contract == "examples.pingpong.PingPong");
        if (std::find(channels.begin(), channels.end(), event.channel) == channels.end())
            channels.push_back(event.channel);
        if (event.name == "Ping") {
            ++pings;
            CHECK(event.from_client);
            CHECK(event.state_before == "Idle");
            CHECK(event.state_after == "Waiting");
        } else if (event.name == "Pong") {
            ++pongs;
            CHECK_FALSE(event.from_client);
            CHECK(event.state_before == "Waiting");
            CHECK(event.state_after == "Idle");
        } else if (event.name == "Bye") {
            ++byes;
            CHECK(event.state_after == "end");
        }
    }
    CHECK(pings == 5);
    CHECK(pongs == 5);
    CHECK(byes == 1);
    CHECK(moves == 1);
    // Before the move and after it: two channels, one track each.
    CHECK(channels.size() == 2);

    const std::string json = milk::host::trace_to_json(trace);
    CHECK(json.find(R"("name":"Ping","cat":"message")") != std::string::npos);
    CHECK(json.find(R"("name":"move inproc -> process","cat":"move","ph":"X")") != std::string::npos);
    CHECK(json.find(R"("name":"process_name","ph":"M")") != std::string::npos);
}

TEST_CASE("a runner kept idle that dies costs nothing: the channel at inproc goes on, the next move starts a new one") {
    Host host = make_host("echo", "echo", Placement::Inproc);
    auto client = host.connect<PingPong::Contract>("echo");
    REQUIRE(client.ok());
    Stream stream;
    auto idle = round_trip(std::move(client).value(), 0, stream);
    REQUIRE(host.move("echo", Placement::Process).ok());
    const pid_t kept = status_of(host).pid;
    REQUIRE(host.move("echo", Placement::Inproc).ok());
    idle = round_trip(std::move(idle).value(), 1, stream);
    REQUIRE(idle.ok());
    // The runner stays while echo runs here (moving back is quick); it dies.
    REQUIRE(::kill(kept, SIGKILL) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    idle = round_trip(std::move(idle).value(), 2, stream);
    REQUIRE(idle.ok());
    const auto here = status_of(host);
    CHECK(here.placement == Placement::Inproc);
    CHECK(here.state == milk::host::InstanceState::Running);
    CHECK(channels_open_once(host, 1) == 1);  // its death closed none of ours
    REQUIRE(host.move("echo", Placement::Process).ok());
    CHECK(status_of(host).pid != kept);
    idle = round_trip(std::move(idle).value(), 3, stream);
    REQUIRE(idle.ok());
    CHECK(stream.wrong == 0);
    CHECK(messages_once(host, 8) == 8);
    REQUIRE(std::move(idle).value().send(PingPong::Bye{}).ok());
}
