// The scheduler with its policy inside milk.ko: the user-space mechanism
// (milk::sched::Enclave, real threads on the VM's two CPUs) talks to the
// sched_* components that milk.ko serves in a kernel thread of the channel,
// the same components the host runs in user space. Checks what the user-space
// tests check (tests/sched/enclave_test.cpp): FIFO order, preemption under
// round robin, every task on the CPU the policy chose, and no fallback: the
// kernel's policy answered every batch in time.
#include <milk/kernel.hpp>
#include <milk/sched/enclave.hpp>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <vector>

namespace {

using milk::sched::Enclave;
using milk::sched::FallbackReason;
using milk::sched::TaskContext;
using Clock = std::chrono::steady_clock;
namespace Sched = milk::sched::Sched;

std::atomic<std::uint64_t> wrong_cpu{0};

void spin(TaskContext& task, std::chrono::milliseconds length) {
    const auto until = Clock::now() + length;
    while (Clock::now() < until) {
        const int placed = task.cpu();
        const int on = ::sched_getcpu();
        if (placed == task.cpu() && on != placed) wrong_cpu.fetch_add(1);
    }
}

std::unique_ptr<Enclave> open_enclave(const char* component, milk::Settings settings, std::vector<int> cpus) {
    milk::kernel::Options options;
    options.settings = settings;
    auto end = milk::kernel::open_channel<Sched::Contract>(component, options);
    if (!end.ok()) {
        std::printf("%s: open_channel: %s\n", component, milk::describe(end.error().code));
        return nullptr;
    }
    // The kernel's answers come slower under emulation: a generous watchdog.
    auto enclave = Enclave::try_create(Sched::Contract::client(std::move(end).value()),
                                       {.cpus = std::move(cpus), .tick = std::chrono::milliseconds(2),
                                        .policy_deadline = std::chrono::milliseconds(2000)});
    if (!enclave.ok()) {
        std::printf("%s: Enclave::try_create: %s\n", component, milk::describe(enclave.error().code));
        return nullptr;
    }
    return std::move(enclave).value();
}

bool fifo_in_order() {
    auto enclave = open_enclave("sched_fifo", {}, {0});
    if (!enclave) return false;
    std::mutex mutex;
    std::vector<std::uint32_t> started;
    std::vector<std::uint32_t> finished;
    for (int i = 0; i < 4; ++i) {
        auto spawned = enclave->spawn([&](TaskContext& task) {
            {
                std::lock_guard lock(mutex);
                started.push_back(task.id());
            }
            spin(task, std::chrono::milliseconds(5));
            std::lock_guard lock(mutex);
            finished.push_back(task.id());
        });
        if (!spawned.ok()) return false;
    }
    enclave->wait_all();
    const auto stats = enclave->stats();
    const bool ok = started == std::vector<std::uint32_t>{0, 1, 2, 3} && finished == started &&
                    stats.fallback == FallbackReason::None && stats.batches > 0;
    std::printf("sched_fifo in milk.ko: order %u %u %u %u, %llu batches, fallback %d: %s\n", started[0], started[1],
                started[2], started[3], static_cast<unsigned long long>(stats.batches), static_cast<int>(stats.fallback),
                ok ? "ok" : "FAILED");
    return ok;
}

bool round_robin_preempts() {
    milk::Settings settings;
    if (!settings.set("quantum_us", 4000).ok()) return false;
    auto enclave = open_enclave("sched_rr", settings, {0, 1});
    if (!enclave) return false;
    std::atomic<int> done{0};
    for (int i = 0; i < 5; ++i) {
        auto spawned = enclave->spawn([&](TaskContext& task) {
            spin(task, std::chrono::milliseconds(40));
            done.fetch_add(1);
        });
        if (!spawned.ok()) return false;
    }
    enclave->wait_all();
    const auto stats = enclave->stats();
    const bool ok = done.load() == 5 && stats.preemptions > 0 && stats.fallback == FallbackReason::None;
    std::printf("sched_rr in milk.ko: 5 tasks on 2 CPUs, %llu preemptions, %llu batches, %llu stale, agent %s, fallback %d: %s\n",
                static_cast<unsigned long long>(stats.preemptions), static_cast<unsigned long long>(stats.batches),
                static_cast<unsigned long long>(stats.stale_refused), stats.agent_realtime ? "real-time" : "normal",
                static_cast<int>(stats.fallback), ok ? "ok" : "FAILED");
    return ok;
}

}  // namespace

int main() {
    bool ok = fifo_in_order();
    ok = round_robin_preempts() && ok;
    std::printf("tasks seen off their CPU: %llu\n", static_cast<unsigned long long>(wrong_cpu.load()));
    ok = ok && wrong_cpu.load() == 0;
    return ok ? 0 : 1;
}
