#include "support.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sched.h>

namespace milk::bench {

void fatal(const std::string& what) {
    std::fprintf(stderr, "milk-bench: %s\n", what.c_str());
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(EXIT_FAILURE);
}

void fatal_errno(const std::string& what) {
    const int error = errno;
    fatal(what + ": " + std::strerror(error));
}

CpuPlan plan_cpus(int requested_client, int requested_server) {
    CpuPlan plan;
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(0, sizeof mask, &mask) != 0) fatal_errno("sched_getaffinity");
    plan.available_cpus = CPU_COUNT(&mask);

    const auto usable = [&mask](int cpu) { return cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &mask); };
    if (requested_client >= 0 || requested_server >= 0) {
        if (!usable(requested_client) || !usable(requested_server) || requested_client == requested_server)
            fatal("--cpus must name two distinct CPUs this process may run on");
        plan.client_cpu = requested_client;
        plan.server_cpu = requested_server;
        return plan;
    }
    int found[2] = {-1, -1};
    int count = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && count < 2; ++cpu) {
        if (CPU_ISSET(cpu, &mask)) found[count++] = cpu;
    }
    if (count < 2) {
        plan.warning = "fewer than 2 CPUs available (" + std::to_string(plan.available_cpus) +
                       "): both sides share one CPU, so spinning rows measure the scheduler, not the transport";
        return plan;
    }
    plan.client_cpu = found[0];
    plan.server_cpu = found[1];
    return plan;
}

void pin_current_thread(int cpu) {
    if (cpu < 0) return;
    cpu_set_t mask;
    CPU_ZERO(&mask);
    CPU_SET(cpu, &mask);
    // pid 0 is the calling thread: each thread of a case pins itself.
    if (sched_setaffinity(0, sizeof mask, &mask) != 0) fatal_errno("sched_setaffinity to CPU " + std::to_string(cpu));
}

void cpu_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

void yield_cpu() noexcept { sched_yield(); }

void spin_clock_read() noexcept {
    const auto now = std::chrono::steady_clock::now();
    // Keeps the read: the compiler must assume the value is used.
    asm volatile("" : : "r"(now.time_since_epoch().count()) : "memory");
}

}  // namespace milk::bench
