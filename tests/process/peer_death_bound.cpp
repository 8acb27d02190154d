// How long a blocked end takes to notice that its peer process was killed.
//
// Not a test (no test here depends on timing): a program that prints the
// distribution, quoted in docs/transports.md. Each round forks a peer that
// attaches, waits until this process is blocked (asleep on its doorbell, or
// polling), writes the time into shared memory and kills itself with
// SIGKILL, so it never sets its closed flag. The latency is from that time
// to the moment the blocked receive (or send) returns PeerClosed.
//
// It also prints what the bound costs while nothing happens: the CPU time and
// context switches of a receive blocked for a second on a live, silent peer.
//
//   milk_peer_death_bound [rounds]      (default 200 per row)
#include "peer_process.hpp"
#include "raw_region.hpp"

#include <milk/process.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace {

using namespace std::chrono_literals;
using milk::test::ChildProcess;
using milk::test::RawRegion;

std::int64_t now_ns() {
    timespec at{};
    ::clock_gettime(CLOCK_MONOTONIC, &at);
    return std::int64_t{at.tv_sec} * 1'000'000'000 + at.tv_nsec;
}

enum class Blocked { Receive, Send };
// How the peer goes: killed, or (the baseline) closing normally, which sets
// its closed flag and rings the doorbell: what remains of the latency then is
// the cost of being woken and scheduled on this machine.
enum class Ending { Killed, Closes };

// One round: the microseconds from the peer's death to PeerClosed, or -1.
double one_round(const milk::process::Options& options, Blocked blocked, Ending ending, std::int64_t* stamp) {
    auto pending = milk::process::create_channel(options);
    if (!pending.ok()) return -1;
    const int fd = pending.value().fd();
    const pid_t parent = ::getpid();
    const bool polling = options.wait_mode == milk::WaitMode::Poll;
    auto child = ChildProcess::start([=] {
        // The observer maps first: once the child attached, the memfd is
        // sealed against new writable mappings.
        const RawRegion region(fd, RawRegion::Seal::Never);
        auto end = milk::process::attach_inherited(fd, parent);
        if (!end.ok()) return 1;
        auto& bell = blocked == Blocked::Receive ? region.control().data_bell[1] : region.control().space_bell[0];
        if (polling) {
            // A polling end never announces that it sleeps: give it a moment
            // to be inside its receive or send.
            const timespec pause{0, 1'000'000};
            ::nanosleep(&pause, nullptr);
        } else if (!milk::test::eventually([&] { return RawRegion::sleeping(bell); })) {
            return milk::test::child_gave_up;
        }
        *stamp = now_ns();
        if (ending == Ending::Closes) {
            end.value().close();
            std::_Exit(128 + SIGKILL);
        }
        ::raise(SIGKILL);
        return 2;
    });
    auto end = milk::process::bind_child(std::move(pending).value(), child.pid());
    if (!end.ok()) return -1;
    bool peer_closed = false;
    if (blocked == Blocked::Receive) {
        auto slot = end.value().receive(milk::Deadline::never());
        peer_closed = !slot.ok() && slot.error().code == milk::ErrorCode::PeerClosed;
    } else {
        milk::Slot slot;
        milk::Result<void> sent;
        while ((sent = end.value().send(slot)).ok()) {
        }
        peer_closed = sent.error().code == milk::ErrorCode::PeerClosed;
    }
    const std::int64_t returned = now_ns();
    if (child.wait() != 128 + SIGKILL || !peer_closed) return -1;
    return static_cast<double>(returned - *stamp) / 1000.0;
}

void row(const char* name, const milk::process::Options& options, Blocked blocked, Ending ending, int rounds,
         std::int64_t* stamp) {
    std::vector<double> latencies;
    int failed = 0;
    for (int round = 0; round < rounds; ++round) {
        const double latency = one_round(options, blocked, ending, stamp);
        if (latency < 0) ++failed;
        else latencies.push_back(latency);
    }
    if (latencies.empty()) {
        std::printf("%-44s all %d rounds failed\n", name, rounds);
        return;
    }
    std::sort(latencies.begin(), latencies.end());
    auto at = [&](double quantile) {
        return latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(quantile * static_cast<double>(latencies.size())))];
    };
    std::printf("%-44s %6zu %9.0f %9.0f %9.0f %9.0f %6d\n", name, latencies.size(), latencies.front(), at(0.5),
                at(0.99), latencies.back(), failed);
}

// A child blocks in receive for `wait` with a live, silent parent, and
// writes what that cost it (its own rusage) into `cost`.
struct IdleCost {
    double cpu_us = 0;
    long switches = 0;
};

void idle_row(const char* name, const milk::process::AttachOptions& options, std::chrono::milliseconds wait,
              IdleCost* cost) {
    auto pending = milk::process::create_channel();
    if (!pending.ok()) return;
    const int fd = pending.value().fd();
    const pid_t parent = ::getpid();
    auto child = ChildProcess::start([=] {
        auto end = milk::process::attach_inherited(fd, parent, options);
        if (!end.ok()) return 1;
        rusage before{};
        ::getrusage(RUSAGE_SELF, &before);
        auto slot = end.value().receive(milk::Deadline::after(wait));
        rusage after{};
        ::getrusage(RUSAGE_SELF, &after);
        auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
        cost->cpu_us = us(after.ru_utime) + us(after.ru_stime) - us(before.ru_utime) - us(before.ru_stime);
        cost->switches = (after.ru_nvcsw + after.ru_nivcsw) - (before.ru_nvcsw + before.ru_nivcsw);
        return !slot.ok() && slot.error().code == milk::ErrorCode::TimedOut ? 0 : 2;
    });
    auto end = milk::process::bind_child(std::move(pending).value(), child.pid());
    if (child.wait() != 0) {
        std::printf("%-44s failed\n", name);
        return;
    }
    std::printf("%-44s %8.0f us CPU %6ld context switches in %lld ms\n", name, cost->cpu_us, cost->switches,
                static_cast<long long>(wait.count()));
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
    // The child writes the time of its death here; the parent reads it after
    // the child is gone.
    void* shared = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return 1;
    auto* stamp = static_cast<std::int64_t*>(shared);

    std::printf("peer killed (SIGKILL) -> blocked end returns PeerClosed, microseconds\n");
    std::printf("%-44s %6s %9s %9s %9s %9s %6s\n", "blocked in / wait mode / liveness interval", "rounds", "min",
                "p50", "p99", "max", "failed");
    const milk::process::Options defaults{};
    row("baseline: peer closes (flag + futex wake)", defaults, Blocked::Receive, Ending::Closes, rounds, stamp);
    row("receive / spin+sleep / 2 ms (default)", defaults, Blocked::Receive, Ending::Killed, rounds, stamp);
    row("receive / sleep at once / 2 ms", {.spin_budget = 0ns}, Blocked::Receive, Ending::Killed, rounds, stamp);
    row("receive / spin+sleep / 1 ms", {.liveness_interval = 1ms}, Blocked::Receive, Ending::Killed, rounds, stamp);
    row("receive / spin+sleep / 5 ms", {.liveness_interval = 5ms}, Blocked::Receive, Ending::Killed, rounds, stamp);
    row("receive / poll / 2 ms", {.wait_mode = milk::WaitMode::Poll}, Blocked::Receive, Ending::Killed,
        rounds / 4 + 1, stamp);
    row("send on a full ring / spin+sleep / 2 ms", {.ring_capacity = 4}, Blocked::Send, Ending::Killed, rounds,
        stamp);

    std::printf("\nwhat the bound costs: a receive blocked on a live, silent peer\n");
    auto* cost = reinterpret_cast<IdleCost*>(static_cast<std::byte*>(shared) + 64);
    idle_row("spin+sleep / 2 ms (default)", {}, 1000ms, cost);
    idle_row("spin+sleep / 5 ms", {.liveness_interval = 5ms}, 1000ms, cost);
    idle_row("spin+sleep / 1 s (no liveness check)", {.liveness_interval = 1s}, 1000ms, cost);
    ::munmap(shared, 4096);
    return 0;
}
