// Small pieces every benchmark case uses: dying with a message, pinning a
// thread to a CPU, and starting the peer thread of a case on the other CPU.
//
// milk-bench is a program, not runtime code, but it follows the runtime's
// rule all the same: nothing throws. A case that finds something wrong (a
// lost message, a failed system call) stops the whole run with a message,
// because a number measured over a broken exchange would be a lie.
#pragma once

#include <string>
#include <thread>
#include <utility>

namespace milk::bench {

// Prints "milk-bench: <what>" to stderr and ends the process at once (no
// destructors: peer threads may still be spinning on shared memory).
[[noreturn]] void fatal(const std::string& what);

// Prints "milk-bench: <what>: <strerror(errno)>" and ends the process.
[[noreturn]] void fatal_errno(const std::string& what);

void cpu_pause() noexcept;
void yield_cpu() noexcept;
// Reads steady_clock and discards the value (see spin_until).
void spin_clock_read() noexcept;

// Where the two sides of every case run.
struct CpuPlan {
    int client_cpu = -1;  // -1: not pinned
    int server_cpu = -1;
    // The CPUs this process may use (its affinity mask), for the report.
    int available_cpus = 0;
    // Empty when both sides are pinned to distinct CPUs; otherwise says why
    // not, and the report prints it next to every number.
    std::string warning;
};

// Picks two distinct CPUs from the affinity mask (`requested` when given and
// usable, otherwise the first two). With fewer than two CPUs, both sides
// share what there is and the plan says so.
[[nodiscard]] CpuPlan plan_cpus(int requested_client, int requested_server);

// Pins the calling thread (or process) to `cpu`; does nothing for -1.
void pin_current_thread(int cpu);

// A thread that pins itself to `cpu` and then runs `body`. Joined by its
// destructor, so a case cannot return while its peer still runs.
class PinnedThread {
public:
    template <typename Body>
    PinnedThread(int cpu, Body&& body)
        : m_thread([cpu, b = std::forward<Body>(body)]() mutable {
              pin_current_thread(cpu);
              b();
          }) {}
    PinnedThread(const PinnedThread&) = delete;
    PinnedThread& operator=(const PinnedThread&) = delete;
    ~PinnedThread() {
        if (m_thread.joinable()) m_thread.join();
    }

private:
    std::thread m_thread;
};

// How every hand-written spinning case waits: exactly as milk's
// WaitMode::Poll does (userland/include/milk/doorbell.hpp), so that a
// baseline and a milk row differ in what they do, not in how they wait.
// That loop checks, reads the clock once, then pauses and re-checks, reading
// the clock every 64 rounds (milk does to watch its deadline) and yielding
// the CPU every 1024 (so that two spinners sharing one CPU still progress).
// The clock reads are kept because they pace the loop: in a stream, how hard
// a waiter polls the other side's cache line changes the throughput.
template <typename Ready>
void spin_until(Ready&& ready) {
    if (ready()) return;
    spin_clock_read();
    for (unsigned round = 1;; ++round) {
        cpu_pause();
        if (ready()) return;
        if (round % 64 != 0) continue;
        spin_clock_read();
        if (round % 1024 == 0) yield_cpu();
    }
}

}  // namespace milk::bench
