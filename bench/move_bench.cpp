// milk-move-bench: the pause a live move causes, as a client sees it
// (docs/relocation.md; results in docs/performance.md, "Moving a
// component").
//
// A client streams Pings (each with a `bytes` payload, each Pong checked)
// through milk::Host to the echo component, and records when each Pong
// arrives. Meanwhile the main thread moves the instance round a cycle of
// placements (`inproc` and `process` by default; with milk.ko loaded,
// `--placements inproc,process,kernel,inproc,kernel,process` takes every
// pair both ways), recording when each move began and ended.
// A move's pause is the longest gap between two consecutive Pongs from the
// last one before the move began to the first one after it ended: the time
// the client waited because of the move. Per pair it prints the p50,
// p90 and max of the pauses, and, as the baseline measured in the same run,
// the median round trip with no move at that placement; the target is a p50
// pause of at most 1 ms between user-space placements (Bento's in-place
// upgrade pauses a file system 15 ms).
//
//   milk-move-bench [--moves N] [--settle-ms MS] [--placements LIST] [--out FILE.dat]
//
// It is a program, not a test: it fails only when a message goes wrong (a
// Pong with another number or other bytes, an error), so that the VM's
// test runs it as a check of every kernel pair as well.
#include "pingpong.hpp"  // generated from contracts/pingpong.contract

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <csignal>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace PingPong = examples::pingpong::PingPong;
using Client = PingPong::Contract::ClientEndpoint;
using Clock = std::chrono::steady_clock;
using milk::Placement;

[[noreturn]] void fail(const char* doing, const milk::Error& error) {
    std::fprintf(stderr, "milk-move-bench: %s: %s%s%s\n", doing, milk::describe(error.code),
                 error.what != nullptr ? ": " : "", error.what != nullptr ? error.what : "");
    std::exit(1);
}

constexpr std::size_t payload_bytes = 64;

// One round trip; the Pong must carry the number and the payload reversed.
Client round_trip(Client client, std::uint32_t seq) {
    auto payload = client.allocate(payload_bytes);
    if (!payload.ok()) fail("allocate", payload.error());
    auto bytes = payload.value().bytes();
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(seq + i);
    auto waiting = std::move(client).send(PingPong::Ping{seq, std::move(payload).value()});
    if (!waiting.ok()) fail("send", waiting.error());
    auto idle = std::move(waiting).value().receive([&](PingPong::Pong&& pong, Client&& next) {
        const auto answer = pong.payload.bytes();
        bool right = pong.seq == seq && answer.size() == payload_bytes;
        for (std::size_t i = 0; right && i < answer.size(); ++i)
            right = answer[answer.size() - 1 - i] == static_cast<std::byte>(seq + i);
        if (!right) fail("checking a Pong", milk::Error{milk::ErrorCode::ProtocolViolation, "a wrong answer", seq});
        return std::move(next);
    });
    if (!idle.ok()) fail("receive", idle.error());
    return std::move(idle).value();
}

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
}

// The median round trip (ns) of `count` round trips at the instance's
// placement now: the baseline.
// The endpoint lives in an optional between round trips: clang's
// -Wconsumed cannot follow a consumable local that a loop consumes and
// reassigns.
double plain_round_trip(std::optional<Client>& client, std::uint32_t& seq, int count) {
    std::vector<double> samples;
    samples.reserve(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) {
        const auto start = Clock::now();
        client.emplace(round_trip(std::move(*client), seq++));
        samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
    }
    return percentile(samples, 0.5);
}

// --runner: where the hosts find milk-runner (empty: next to this program).
std::string& runner_path() {
    static std::string path;
    return path;
}

milk::host::Host make_host(Placement placement = Placement::Inproc,
                           milk::host::RestartPolicy restart = milk::host::RestartPolicy::Never) {
    milk::host::InstanceConfig instance;
    instance.name = "echo";
    instance.component = "echo";
    instance.placement = placement;
    instance.restart = restart;
    instance.restart_limit = 1000;
    milk::host::Config config;
    config.file = "milk-move-bench";
    config.instances.push_back(instance);
    milk::host::HostOptions options;
    options.runner_path = runner_path();
    auto host = milk::host::Host::try_create(config, milk::host::compiled_components(), options);
    if (!host.ok()) fail("starting the host", host.error());
    return std::move(host).value();
}

// The restart row: echo in a process of its own with restart =
// "on-failure", a client streaming, its process killed `count` times. The
// time until the first request is served again: from the kill to the first
// Pong after it (the Ping in flight at the kill included, sent again).
void measure_restarts(int count, int settle_ms) {
    milk::host::Host host = make_host(Placement::Process, milk::host::RestartPolicy::OnFailure);
    auto connected = host.connect<PingPong::Contract>("echo");
    if (!connected.ok()) fail("connect", connected.error());
    std::mutex lock;
    std::vector<Clock::time_point> arrivals;
    arrivals.reserve(4'000'000);
    std::atomic<bool> stop{false};
    std::atomic<bool> failed{false};
    std::atomic<int> reconnects{0};
    std::thread streamer([&, first = std::move(connected).value()]() mutable {
        std::optional<Client> client{std::move(first)};
        for (std::uint32_t next = 0; !stop.load(std::memory_order_relaxed); ++next) {
            // Not round_trip(): a Ping the dead process had taken and not
            // answered is lost, and its client gets PeerClosed (the
            // documented error); the stream then reconnects, as a client would.
            auto payload = client->allocate(payload_bytes);
            auto waiting = payload.ok() ? std::move(*client).send(PingPong::Ping{next, std::move(payload).value()})
                                        : milk::Result<PingPong::Client<PingPong::state::Waiting>>(payload.error());
            client.reset();
            auto idle = waiting.ok() ? std::move(waiting).value().receive(
                                           [](PingPong::Pong&&, Client&& endpoint) { return std::move(endpoint); })
                                     : milk::Result<Client>(waiting.error());
            if (!idle.ok()) {
                ++reconnects;
                auto again = host.connect<PingPong::Contract>("echo");
                if (!again.ok()) {
                    failed = true;
                    return;
                }
                client.emplace(std::move(again).value());
                continue;
            }
            client.emplace(std::move(idle).value());
            const auto now = Clock::now();
            std::lock_guard guard(lock);
            arrivals.push_back(now);
        }
    });
    std::vector<Clock::time_point> kills;
    for (int i = 0; i < count && !failed; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms * 20));
        const auto before = host.status().front();
        kills.push_back(Clock::now());
        ::kill(before.pid, SIGKILL);
        // A restart the supervisor gave up on (its reason is on stderr)
        // would otherwise be waited for forever.
        const auto given_up = Clock::now() + std::chrono::seconds(20);
        while (host.status().front().restarts == before.restarts && !failed) {
            if (Clock::now() > given_up) {
                stop = true;
                streamer.join();
                fail("waiting for a restart",
                     milk::Error{milk::ErrorCode::TimedOut, "echo was not restarted within 20 s of its SIGKILL",
                                 static_cast<std::int64_t>(before.restarts)});
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms * 20));
    stop = true;
    streamer.join();
    if (failed) fail("reconnecting after a restart", milk::Error{milk::ErrorCode::PeerClosed, "refused", 0});
    std::vector<double> served_again;
    {
        std::lock_guard guard(lock);
        for (const auto kill : kills) {
            auto first = std::upper_bound(arrivals.begin(), arrivals.end(), kill);
            if (first != arrivals.end())
                served_again.push_back(std::chrono::duration<double, std::micro>(*first - kill).count());
        }
    }
    std::printf("\nrestart after SIGKILL (restart = \"on-failure\"), %zu kills: the first Pong after the kill came\n",
                served_again.size());
    std::printf("  p50 %.1f us, p90 %.1f us, max %.1f us after it; the client went on transparently %d times and\n"
                "  reconnected %d times (its Ping had been taken, not answered: PeerClosed, the documented error)\n",
                percentile(served_again, 0.5), percentile(served_again, 0.9), percentile(served_again, 1.0),
                static_cast<int>(served_again.size()) - reconnects.load(), reconnects.load());
}

// "inproc,process,kernel" as placements; empty on a name that is none.
std::vector<Placement> parse_cycle(const std::string& list) {
    std::vector<Placement> cycle;
    std::stringstream words(list);
    for (std::string word; std::getline(words, word, ',');) {
        auto placement = milk::parse_placement(word);
        if (!placement) return {};
        cycle.push_back(*placement);
    }
    return cycle;
}

std::string pair_name(Placement from, Placement to) {
    return std::string(milk::placement_name(from)) + " -> " + std::string(milk::placement_name(to));
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"milk-move-bench: the pause a live move causes, as a client sees it"};
    int moves = 400;
    int settle_ms = 5;
    std::string out;
    std::string placements = "inproc,process";
    int restarts = 20;
    std::string runner;
    bool print_pauses = false;
    // Each option also from the environment: the VM's programs take no
    // arguments (bench/CMakeLists.txt's milk_vm_move_bench sets these).
    app.add_option("--restarts", restarts, "SIGKILLs of the echo process (restart = on-failure), 0 for none")
        ->envname("MILK_MOVE_BENCH_RESTARTS")
        ->capture_default_str();
    app.add_option("--moves", moves, "moves in all, round the cycle of placements")
        ->envname("MILK_MOVE_BENCH_MOVES")
        ->capture_default_str();
    app.add_option("--placements", placements,
                   "the cycle of placements echo moves round, starting at the first (kernel needs milk.ko)")
        ->envname("MILK_MOVE_BENCH_PLACEMENTS")
        ->capture_default_str();
    app.add_option("--settle-ms", settle_ms, "time between two moves")
        ->envname("MILK_MOVE_BENCH_SETTLE_MS")
        ->capture_default_str();
    app.add_option("--out", out, "also write every pause (pair, microseconds) to this file (bench/plot-moves.sh)");
    app.add_flag("--print-pauses", print_pauses, "also print every pause, as \"PAUSE pair microseconds\" lines")
        ->envname("MILK_MOVE_BENCH_PRINT_PAUSES");
    app.add_option("--runner", runner, "milk-runner's path (default: next to this program)")
        ->envname("MILK_MOVE_BENCH_RUNNER");
    CLI11_PARSE(app, argc, argv);
    runner_path() = runner;
    const std::vector<Placement> cycle = parse_cycle(placements);
    if (cycle.size() < 2) {
        std::fprintf(stderr, "milk-move-bench: --placements: at least two of inproc, process, kernel\n");
        return 2;
    }

    milk::host::Host host = make_host(cycle.front());
    auto connected = host.connect<PingPong::Contract>("echo");
    if (!connected.ok()) fail("connect", connected.error());
    std::optional<Client> client{std::move(connected).value()};

    // The baselines: a plain round trip at each placement, no move running;
    // the scale of the warm-up and the sample is the one of a user-space
    // round trip (under TCG a kernel one takes far longer: fewer suffice).
    std::uint32_t seq = 0;
    std::map<Placement, double> rtt;
    const int samples = std::find(cycle.begin(), cycle.end(), Placement::Kernel) != cycle.end() ? 2000 : 20000;
    for (const Placement placement : cycle) {
        if (rtt.contains(placement)) continue;
        if (auto moved = host.move("echo", placement); !moved.ok()) fail("move", moved.error());
        plain_round_trip(client, seq, samples / 10);  // warm-up
        rtt[placement] = plain_round_trip(client, seq, samples);
    }
    if (auto moved = host.move("echo", cycle.front()); !moved.ok()) fail("move", moved.error());

    // The stream: Pong arrival times, appended by the client's thread.
    std::mutex lock;
    std::vector<Clock::time_point> arrivals;
    arrivals.reserve(4'000'000);
    std::atomic<bool> stop{false};
    std::thread streamer([&] {
        std::uint32_t next = seq;
        while (!stop.load(std::memory_order_relaxed)) {
            client.emplace(round_trip(std::move(*client), next++));
            const auto now = Clock::now();
            std::lock_guard guard(lock);
            arrivals.push_back(now);
        }
        if (auto bye = std::move(*client).send(PingPong::Bye{}); !bye.ok()) fail("bye", bye.error());
    });

    struct Move {
        Placement from;
        Placement to;
        Clock::time_point began;
        Clock::time_point ended;
    };
    std::vector<Move> done;
    for (int i = 0; i < moves; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
        const Placement from = cycle[static_cast<std::size_t>(i) % cycle.size()];
        const Placement to = cycle[static_cast<std::size_t>(i + 1) % cycle.size()];
        const auto began = Clock::now();
        if (auto moved = host.move("echo", to); !moved.ok()) fail("move", moved.error());
        done.push_back(Move{from, to, began, Clock::now()});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
    stop = true;
    streamer.join();

    // Each move's pause: the longest gap between consecutive Pongs from the
    // last one before it began to the first one after it ended.
    std::map<std::pair<Placement, Placement>, std::vector<double>> pauses;
    std::vector<double> move_calls;
    std::ofstream dat;
    if (!out.empty()) dat.open(out);
    for (const Move& move : done) {
        auto first = std::upper_bound(arrivals.begin(), arrivals.end(), move.began);
        auto last = std::upper_bound(arrivals.begin(), arrivals.end(), move.ended);
        if (first == arrivals.begin() || last == arrivals.end()) continue;
        double pause = 0;
        for (auto it = first - 1; it != last; ++it)
            pause = std::max(pause, std::chrono::duration<double, std::micro>(*(it + 1) - *it).count());
        pauses[{move.from, move.to}].push_back(pause);
        move_calls.push_back(std::chrono::duration<double, std::micro>(move.ended - move.began).count());
        std::string name = pair_name(move.from, move.to);
        name.erase(std::remove(name.begin(), name.end(), ' '), name.end());
        if (dat) dat << name << " " << pause << "\n";
        if (print_pauses) std::printf("PAUSE %s %.1f\n", name.c_str(), pause);
    }

    std::printf("milk-move-bench: %d moves of echo round %s, a client streaming 64-byte Pings through milk::Host\n",
                moves, placements.c_str());
    std::printf("%zu Pongs in all, every one checked\n\n", arrivals.size());
    std::printf("%-18s %8s %10s %10s %10s %16s %12s\n", "move", "moves", "p50 (us)", "p90 (us)", "max (us)",
                "round trip (us)", "p50 / rtt");
    double worst_user_p50 = 0;
    for (const auto& [pair, list] : pauses) {
        const double p50 = percentile(list, 0.5);
        const double rtt_ns = rtt[pair.second];
        std::printf("%-18s %8zu %10.1f %10.1f %10.1f %16.2f %12.0f\n", pair_name(pair.first, pair.second).c_str(),
                    list.size(), p50, percentile(list, 0.9), percentile(list, 1.0), rtt_ns / 1000, p50 * 1000 / rtt_ns);
        if (pair.first != Placement::Kernel && pair.second != Placement::Kernel) worst_user_p50 = std::max(worst_user_p50, p50);
    }
    std::printf("\nround trip: the median with no move running, at the move's target (the baseline).\n");
    std::printf("Host::move itself took p50 %.1f us, max %.1f us (every pair).\n", percentile(move_calls, 0.5),
                percentile(move_calls, 1.0));
    std::printf("target: p50 pause <= 1000 us between user-space placements: %s\n",
                worst_user_p50 <= 1000 ? "met" : "NOT met");
    if (restarts > 0) measure_restarts(restarts, settle_ms);
    return 0;
}
