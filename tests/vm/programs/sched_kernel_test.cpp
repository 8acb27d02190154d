// The scheduler's kernel mechanism (milk.ko's MILK_IOC_SCHED_*, through
// milk::sched::KernelEnclave): threads join an enclave on the VM's CPU 1,
// the module sees their blocks and wake-ups from the scheduler's
// tracepoints and enforces the policy's decisions; the agent runs on CPU 0.
// The policy is a scheduler component in milk.ko (kernel transport) or in
// this process (an inproc channel), as the host would place it.
//
// Checks: FIFO order and that a task runs placed (SCHED_FIFO, on the chosen
// CPU) nearly all the time it runs; blocks and wake-ups reach the policy;
// fair-share CPU time follows the weights; an agent killed, an agent that
// stalls (the module's watchdog) and a policy that breaks the contract all
// give the tasks back to the kernel's scheduling with every task finished;
// a hostile agent's malformed calls are refused, not applied.
#include "vm_check.hpp"

#include "sched/sched_client.hpp"
#include "rogue_policy.hpp"

#include <milk/host/component_type.hpp>
#include <milk/host/config.hpp>
#include <milk/host/host.hpp>
#include <milk/host/kernel_probe.hpp>
#include <milk/inproc.hpp>
#include <milk/kernel.hpp>
#include <milk/sched/kernel_enclave.hpp>

#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using milk::sched::FallbackReason;
using milk::sched::KernelEnclave;
namespace Sched = milk::sched::Sched;

constexpr int enclave_cpu = 1;
constexpr int agent_cpu = 0;
constexpr std::uint32_t no_task = 0xffffffffu;

std::uint64_t now_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1000000000u + static_cast<std::uint64_t>(now.tv_nsec);
}

std::uint64_t thread_cpu_ns() {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<std::uint64_t>(now.tv_sec) * 1000000000u + static_cast<std::uint64_t>(now.tv_nsec);
}

// What one task saw of itself while it ran.
struct Seen {
    std::atomic<std::uint64_t> samples{0};
    std::atomic<std::uint64_t> placed{0};     // SCHED_FIFO at the time
    std::atomic<std::uint64_t> wrong_cpu{0};  // off the enclave's CPU
};

// Spins until this thread has had `cpu_ns` of CPU, sampling its class and
// CPU (and calling `sample` at each sample).
template <typename Sample = void (*)()>
void work(std::uint64_t cpu_ns, Seen& seen, Sample sample = [] {}) {
    const std::uint64_t until = thread_cpu_ns() + cpu_ns;
    std::uint64_t spins = 0;
    while (thread_cpu_ns() < until) {
        if (++spins % 64 != 0) continue;
        sample();
        seen.samples.fetch_add(1, std::memory_order_relaxed);
        if (::sched_getscheduler(0) == SCHED_FIFO) seen.placed.fetch_add(1, std::memory_order_relaxed);
        if (::sched_getcpu() != enclave_cpu) seen.wrong_cpu.fetch_add(1, std::memory_order_relaxed);
    }
}

// The policy: a component compiled into this program, served on a thread of
// it (inproc), or the same component in milk.ko (kernel).
struct Policy {
    std::optional<Sched::Contract::ClientEndpoint> client;
    std::optional<std::thread> server;
    std::optional<milk::host::Host> host;
    ~Policy() {
        client.reset();
        if (server) server->join();
    }
};

const milk::host::ComponentType* component(const char* name) {
    for (const auto& type : milk::host::compiled_components())
        if (type.name == name) return &type;
    return nullptr;
}

bool open_policy(Policy& policy, const char* name, const char* placement, const milk::Settings& settings = {}) {
    if (std::string_view(placement) == "kernel") {
        milk::kernel::Options options;
        options.settings = settings;
        auto end = milk::kernel::open_channel<Sched::Contract>(name, options);
        MILK_VM_CHECK(end.ok());
        policy.client.emplace(Sched::Contract::client(std::move(end).value()));
        return true;
    }
    const auto* type = component(name);
    MILK_VM_CHECK(type != nullptr);
    auto pair = milk::inproc::open_channel();
    MILK_VM_CHECK(pair.ok());
    policy.server.emplace([type, settings, end = std::move(pair.value().second)]() mutable {
        static_cast<void>(type->serve(settings, std::move(end)));
    });
    policy.client.emplace(Sched::Contract::client(std::move(pair.value().first)));
    return true;
}

milk::sched::KernelEnclaveOptions options(std::uint32_t max_tasks = 16) {
    milk::sched::KernelEnclaveOptions chosen;
    chosen.cpus = {enclave_cpu};
    chosen.max_tasks = max_tasks;
    chosen.tick = std::chrono::milliseconds(2);
    // The kernel's and the policy's answers come slower under emulation.
    chosen.policy_deadline = std::chrono::milliseconds(2000);
    chosen.agent_deadline = std::chrono::milliseconds(2000);
    chosen.agent_cpu = agent_cpu;
    return chosen;
}

// The enclave with its policy where `placement` says: "inproc" (a thread of
// this process), "kernel" (a component in milk.ko behind a kernel channel,
// the agent in this process), "in-kernel" (milk.ko calls the component
// directly from the enclave's own kernel thread), or "config" and
// "config-inproc" (a host whose config places the instance in the kernel,
// or in this process: the same call, the flag alone decides).
std::unique_ptr<KernelEnclave> make_enclave(Policy& policy, const char* name, std::string_view placement,
                                            const milk::Settings& settings = {}) {
    if (placement == "in-kernel") {
        auto made = KernelEnclave::try_create_in_kernel(name, settings, options());
        MILK_VM_CHECK(made.ok() && made.value()->policy_in_kernel());
        return std::move(made).value();
    }
    if (placement == "config" || placement == "config-inproc") {
        const bool in_kernel = placement == "config";
        std::string text = std::string("[scheduler]\ncomponent = \"") + name + "\"\nplacement = \"" +
                           (in_kernel ? "kernel" : "inproc") + "\"\n";
        if (settings.size() != 0) {
            text += "[scheduler.settings]\n";
            for (std::size_t i = 0; i < settings.size(); ++i)
                text += std::string(settings.name_of(i)) + " = " + std::to_string(settings[i].value) + "\n";
        }
        const auto components = milk::host::compiled_components();
        auto loaded = milk::host::parse_config(text, "sched.toml", components, {}, milk::host::device_kernel_probe());
        MILK_VM_CHECK(loaded.config.has_value());
        auto host = milk::host::Host::try_create(*loaded.config, components);
        MILK_VM_CHECK(host.ok());
        auto made = KernelEnclave::try_create(host.value(), "scheduler", options());
        MILK_VM_CHECK(made.ok() && made.value()->policy_in_kernel() == in_kernel);
        // An inproc policy serves on a thread of the host, which must stay
        // while the enclave uses it.
        if (!in_kernel) policy.host.emplace(std::move(host).value());
        return std::move(made).value();
    }
    MILK_VM_CHECK(open_policy(policy, name, placement.data(), settings));
    auto made = KernelEnclave::try_create(std::move(*policy.client), options());
    policy.client.reset();
    MILK_VM_CHECK(made.ok() && !made.value()->policy_in_kernel());
    return std::move(made).value();
}

milk_sched_stats module_stats(std::uint32_t enclave) {
    const int fd = ::open("/dev/milk", O_RDWR | O_CLOEXEC);
    milk_sched_stats stats{};
    stats.enclave = enclave;
    MILK_VM_CHECK(fd >= 0 && ::ioctl(fd, MILK_IOC_SCHED_STATS, &stats) == 0);
    ::close(fd);
    return stats;
}

// A test that hangs fails instead, and says where: the last test to start
// and what the module's books hold for its enclave.
std::atomic<const char*> g_watched_test{"start"};
std::atomic<std::uint32_t> g_watched_enclave{0};
std::atomic<std::uint64_t> g_watched_since{0};
constexpr std::uint64_t test_limit_ns = 30'000'000'000u;

void watch(const char* test, std::uint32_t enclave) {
    g_watched_test = test;
    g_watched_enclave = enclave;
    g_watched_since = now_ns();
}

void start_watchdog() {
    g_watched_since = now_ns();
    std::thread([] {
        for (;;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (now_ns() - g_watched_since.load() < test_limit_ns) continue;
            const auto stats = module_stats(g_watched_enclave.load());
            std::printf("TIMED OUT in %s after %llu s: enclave %u has %u tasks, %llu events, %llu applied, %llu refused, "
                        "fallback %u\n",
                        g_watched_test.load(), static_cast<unsigned long long>(test_limit_ns / 1000000000u),
                        stats.enclave, stats.tasks, static_cast<unsigned long long>(stats.events),
                        static_cast<unsigned long long>(stats.applied), static_cast<unsigned long long>(stats.refused),
                        stats.fallback);
            // The blocked threads' kernel stacks go to the console too.
            if (std::FILE* sysrq = std::fopen("/proc/sysrq-trigger", "w")) {
                std::fputs("w", sysrq);
                std::fclose(sysrq);
            }
            std::_Exit(2);
        }
    }).detach();
}

// With MILK_SCHED_TRACE=1 in the environment (run-vm-tests.sh --env), the
// module logs every event, decision and class change of the fair-share
// test (milk.ko's sched_trace parameter, docs/sched.md).
void set_trace(bool on) {
    const char* wanted = std::getenv("MILK_SCHED_TRACE");
    if (wanted == nullptr || std::string_view(wanted) != "1") return;
    if (std::FILE* trace = std::fopen("/sys/module/milk/parameters/sched_trace", "w")) {
        std::fputs(on ? "1" : "0", trace);
        std::fclose(trace);
    }
}

// Starts `count` threads, each of which joins and runs `body(index, task)`. The
// module numbers tasks in the order they join, and does not reuse a number
// soon, so a FIFO policy serves them in the order of their numbers.
template <typename Body>
std::vector<std::thread> start_tasks(std::uint32_t enclave, int count, const std::vector<std::uint32_t>& weights,
                                     Body body) {
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i) {
        const std::uint32_t weight = weights.empty() ? 1024 : weights[static_cast<std::size_t>(i)];
        threads.emplace_back([i, enclave, weight, body] {
            auto task = KernelEnclave::join(enclave, weight);
            // EPIPE: the enclave fell back already; the thread is the
            // kernel's, and its work must still get done.
            if (!task.ok() && task.error().detail != EPIPE) {
                std::fprintf(stderr, "join: %s (%lld)\n", task.error().what, static_cast<long long>(task.error().detail));
                std::exit(1);
            }
            body(i, task.ok() ? task.value() : no_task);
        });
    }
    return threads;
}

bool fifo_in_order(const char* placement) {
    Policy policy;
    auto enclave = make_enclave(policy, "sched_fifo", placement);
    watch(__func__, enclave->id());
    std::mutex mutex;
    std::vector<std::uint32_t> finished;
    Seen seen;
    std::atomic<std::uint64_t> slowest_placement{0};
    auto threads = start_tasks(enclave->id(), 4, {}, [&](int, std::uint32_t task) {
        const std::uint64_t joined = now_ns();
        std::uint64_t placed_at = 0;
        work(30'000'000, seen, [&] {
            if (placed_at == 0 && ::sched_getscheduler(0) == SCHED_FIFO) placed_at = now_ns();
        });
        const std::uint64_t waited = placed_at == 0 ? now_ns() - joined : placed_at - joined;
        std::uint64_t slowest = slowest_placement.load();
        while (waited > slowest && !slowest_placement.compare_exchange_weak(slowest, waited)) {
        }
        std::lock_guard lock(mutex);
        finished.push_back(task);
    });
    for (auto& thread : threads) thread.join();
    const auto stats = enclave->stats();
    const double placed = seen.samples.load() == 0 ? 0.0 : double(seen.placed.load()) / double(seen.samples.load());
    // Served in the order they joined: ascending task numbers, each once.
    bool in_order = finished.size() == 4;
    for (std::size_t i = 1; i < finished.size(); ++i) in_order = in_order && finished[i - 1] < finished[i];
    // Parked tasks still get what real-time throttling leaves and what the
    // agent's reaction time leaves (docs/sched.md): most, not all, samples.
    // The module's agent thread has no batches of its own to count: the
    // decisions it applied say the policy ran.
    const bool ok = in_order && placed >= 0.5 && seen.wrong_cpu.load() == 0 &&
                    stats.fallback == FallbackReason::None && !stats.module_fell_back && stats.decisions_applied > 0;
    std::printf("kernel mechanism, sched_fifo %s: finished %u %u %u %u, ran placed %.1f%% of %llu samples, "
                "%llu off CPU %d, %llu batches, %llu applied, %llu stale, slowest join to placed %.1f ms, agent %s: %s\n",
                placement, finished.size() > 0 ? finished[0] : 99, finished.size() > 1 ? finished[1] : 99,
                finished.size() > 2 ? finished[2] : 99, finished.size() > 3 ? finished[3] : 99, 100.0 * placed,
                static_cast<unsigned long long>(seen.samples.load()), static_cast<unsigned long long>(seen.wrong_cpu.load()),
                enclave_cpu, static_cast<unsigned long long>(stats.batches),
                static_cast<unsigned long long>(stats.decisions_applied), static_cast<unsigned long long>(stats.stale_refused),
                double(slowest_placement.load()) / 1e6, stats.agent_realtime ? "real-time" : "normal", ok ? "ok" : "FAILED");
    return ok;
}

// What a task the policy did not place gets: a FIFO policy runs task A
// until it is done, and task B, parked meanwhile, must get no more than
// what real-time throttling lets SCHED_IDLE have (5% of each second by
// default), plus the moments before A was placed.
bool parked_task_waits() {
    Policy policy;
    if (!open_policy(policy, "sched_fifo", "kernel")) return false;
    auto made = KernelEnclave::try_create(std::move(*policy.client), options());
    policy.client.reset();
    MILK_VM_CHECK(made.ok());
    auto enclave = std::move(made).value();
    watch(__func__, enclave->id());
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> cpu[2] = {0, 0};
    std::atomic<std::uint64_t> wrong{0};
    std::atomic<int> started{0};
    auto threads = start_tasks(enclave->id(), 2, {}, [&](int, std::uint32_t task) {
        const std::uint64_t start = thread_cpu_ns();
        started.fetch_add(1);
        std::uint64_t spins = 0;
        while (!stop.load(std::memory_order_relaxed))
            if (++spins % 256 == 0 && ::sched_getcpu() != enclave_cpu) wrong.fetch_add(1);
        cpu[task % 2] = thread_cpu_ns() - start;
    });
    // One task starts: the policy placed it. The other is parked before it
    // reaches user code, so it must not even have started a second later;
    // it runs when the first one leaves.
    while (started.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    const int started_while_parked = started.load();
    stop.store(true);
    for (auto& thread : threads) thread.join();
    const double total = double(cpu[0].load() + cpu[1].load());
    const double parked_share = total == 0 ? 1.0 : double(std::min(cpu[0].load(), cpu[1].load())) / total;
    const bool ok = started_while_parked == 1 && started.load() == 2 && parked_share <= 0.15 && wrong.load() == 0 &&
                    enclave->stats().fallback == FallbackReason::None;
    std::printf("kernel mechanism, a parked task: %d of 2 started in the first second, placed %.1f ms, parked %.1f ms of "
                "CPU (%.1f%%, limit 15%%), %llu samples off CPU %d: %s\n",
                started_while_parked,
                double(std::max(cpu[0].load(), cpu[1].load())) / 1e6, double(std::min(cpu[0].load(), cpu[1].load())) / 1e6,
                100.0 * parked_share, static_cast<unsigned long long>(wrong.load()), enclave_cpu, ok ? "ok" : "FAILED");
    return ok;
}

bool blocks_and_wakeups_reach_the_policy() {
    Policy policy;
    if (!open_policy(policy, "sched_rr", "kernel")) return false;
    auto made = KernelEnclave::try_create(std::move(*policy.client), options());
    policy.client.reset();
    MILK_VM_CHECK(made.ok());
    auto enclave = std::move(made).value();
    watch(__func__, enclave->id());
    Seen seen;
    std::atomic<int> done{0};
    constexpr int rounds = 10;
    auto threads = start_tasks(enclave->id(), 3, {}, [&](int, std::uint32_t) {
        for (int i = 0; i < rounds; ++i) {
            work(1'000'000, seen);
            ::usleep(2000);  // a real block: the module sees it in sched_switch
        }
        done.fetch_add(1);
    });
    for (auto& thread : threads) thread.join();
    const auto id = enclave->id();
    // Per task: task_new and its wakeup, a block and a wake-up per sleep, the exit.
    const std::uint64_t least = 3 * (2 + 2 * rounds + 1);
    // The agent reads events as they come: the last exits may still be on
    // their way when the threads are joined (a loaded host delays the
    // agent). They must all arrive, not necessarily by the join.
    auto stats = enclave->stats();
    auto module = module_stats(id);
    for (int waited = 0; waited < 200 && (stats.events < least || module.events < least); ++waited) {
        ::usleep(10'000);
        stats = enclave->stats();
        module = module_stats(id);
    }
    const bool ok = done.load() == 3 && stats.events >= least && module.events >= least &&
                    stats.fallback == FallbackReason::None && seen.wrong_cpu.load() == 0;
    std::printf("kernel mechanism, sched_rr kernel: 3 tasks x %d sleeps, %llu events read (at least %llu), %llu batches: %s\n",
                rounds, static_cast<unsigned long long>(stats.events), static_cast<unsigned long long>(least),
                static_cast<unsigned long long>(stats.batches), ok ? "ok" : "FAILED");
    return ok;
}

bool fair_share_follows_weights(const char* placement) {
    Policy policy;
    milk::Settings settings;
    MILK_VM_CHECK(settings.set("granularity_us", 4000).ok());
    auto enclave = make_enclave(policy, "sched_fair", placement, settings);
    watch(__func__, enclave->id());
    set_trace(true);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> cpu[2] = {0, 0};
    std::atomic<std::uint64_t> wrong{0};
    // Per task, how its samples found it: placed (SCHED_FIFO), parked
    // (SCHED_IDLE) or neither; a failure says which.
    std::atomic<std::uint64_t> classes[2][3] = {};
    auto threads = start_tasks(enclave->id(), 2, {1024, 2048}, [&](int index, std::uint32_t) {
        const std::uint64_t start = thread_cpu_ns();
        std::uint64_t spins = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            if (++spins % 256 != 0) continue;
            if (::sched_getcpu() != enclave_cpu) wrong.fetch_add(1);
            const int kind = ::sched_getscheduler(0);
            classes[index][kind == SCHED_FIFO ? 0 : kind == SCHED_IDLE ? 1 : 2].fetch_add(1);
        }
        cpu[index] = thread_cpu_ns() - start;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    stop.store(true);
    for (auto& thread : threads) thread.join();
    set_trace(false);
    const auto stats = enclave->stats();
    const double ratio = cpu[0] == 0 ? 0.0 : double(cpu[1]) / double(cpu[0]);
    const bool ok = ratio >= 1.5 && ratio <= 2.7 && wrong.load() == 0 && stats.fallback == FallbackReason::None;
    std::printf("kernel mechanism, sched_fair %s: weights 1024:2048 got %.1f:%.1f ms of CPU, ratio %.2f (want 2, 1.5-2.7), "
                "%llu samples off CPU %d, %llu batches, %llu applied, %llu stale, samples placed/parked/other %llu/%llu/%llu "
                "and %llu/%llu/%llu: %s\n",
                placement, double(cpu[0].load()) / 1e6, double(cpu[1].load()) / 1e6, ratio,
                static_cast<unsigned long long>(wrong.load()), enclave_cpu, static_cast<unsigned long long>(stats.batches),
                static_cast<unsigned long long>(stats.decisions_applied), static_cast<unsigned long long>(stats.stale_refused),
                static_cast<unsigned long long>(classes[0][0].load()), static_cast<unsigned long long>(classes[0][1].load()),
                static_cast<unsigned long long>(classes[0][2].load()), static_cast<unsigned long long>(classes[1][0].load()),
                static_cast<unsigned long long>(classes[1][1].load()), static_cast<unsigned long long>(classes[1][2].load()),
                ok ? "ok" : "FAILED");
    return ok;
}

// The agent in a child process, killed (SIGKILL) or stopped (SIGSTOP: the
// module's watchdog) while its tasks, threads of this process, run.
constexpr int agent_deadline_ms = 200;

bool agent_failure(int signal, double* fallback_ms = nullptr) {
    int pipe_fds[2];
    MILK_VM_CHECK(::pipe(pipe_fds) == 0);
    const pid_t child = ::fork();
    MILK_VM_CHECK(child >= 0);
    if (child == 0) {
        ::close(pipe_fds[0]);
        Policy policy;
        if (!open_policy(policy, "sched_fifo", "inproc")) std::_Exit(1);
        auto opts = options();
        // Long enough that a running agent under emulation never misses it
        // (100 ms once did, before the signal), short enough to measure.
        opts.agent_deadline = std::chrono::milliseconds(agent_deadline_ms);
        auto made = KernelEnclave::try_create(std::move(*policy.client), opts);
        policy.client.reset();
        if (!made.ok()) std::_Exit(1);
        const std::uint32_t id = made.value()->id();
        if (::write(pipe_fds[1], &id, sizeof id) != sizeof id) std::_Exit(1);
        for (;;) ::pause();
    }
    ::close(pipe_fds[1]);
    std::uint32_t id = 0;
    MILK_VM_CHECK(::read(pipe_fds[0], &id, sizeof id) == sizeof id);
    ::close(pipe_fds[0]);
    std::atomic<int> done{0};
    std::atomic<std::uint64_t> finished_ns[4] = {0, 0, 0, 0};
    std::atomic<bool> normal_at_end[4] = {false, false, false, false};
    Seen seen;
    std::atomic<std::uint64_t> signalled_ns{0};
    auto threads = start_tasks(id, 4, {}, [&](int index, std::uint32_t) {
        // Sleeps between slices of work, so that there are events for a
        // stopped agent to leave unread. Longer than the watchdog's
        // deadline: a task that wakes while the agent is stopped runs at
        // SCHED_IDLE whenever the placed one sleeps, so the work must
        // outlast the deadline for the fallback to be seen.
        for (int i = 0; i < 80; ++i) {
            work(2'000'000, seen);
            ::usleep(1000);
        }
        // A task that finishes after the fallback is back in the kernel's
        // own scheduling class (one may finish before it, while stopped).
        finished_ns[index] = now_ns();
        normal_at_end[index] = ::sched_getscheduler(0) == SCHED_OTHER;
        done.fetch_add(1);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    signalled_ns.store(now_ns());
    ::kill(child, signal);
    for (auto& thread : threads) thread.join();
    const auto stats = module_stats(id);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    const std::uint32_t expected = signal == SIGKILL ? MILK_SCHED_FALLBACK_AGENT_GONE : MILK_SCHED_FALLBACK_WATCHDOG;
    const double after_ms = stats.fallback_ns > signalled_ns.load() ? double(stats.fallback_ns - signalled_ns.load()) / 1e6 : -1.0;
    // SIGKILL: the fd goes with the process, the target is <= 10 ms (issue
    // 11); SIGSTOP: the watchdog's deadline, checked every 5 ms.
    const double limit_ms = signal == SIGKILL ? 10.0 : double(agent_deadline_ms) + 50.0;
    int after_fallback = 0;
    int normal = 0;
    for (int i = 0; i < 4; ++i) {
        if (finished_ns[i].load() <= stats.fallback_ns) continue;
        ++after_fallback;
        if (normal_at_end[i].load()) ++normal;
    }
    // The caller that asks for the time judges it (a median of several).
    const bool in_time = fallback_ms != nullptr || after_ms <= limit_ms;
    const bool ok = done.load() == 4 && after_fallback > 0 && normal == after_fallback && stats.fallback == expected &&
                    after_ms >= 0.0 && in_time;
    if (fallback_ms != nullptr) *fallback_ms = after_ms;
    std::printf("kernel mechanism, agent %s: tasks finished %d of 4 (%d after the fallback, %d of them in SCHED_OTHER), "
                "module fell back (reason %u) %.2f ms after the signal (limit %.0f%s): %s\n",
                signal == SIGKILL ? "killed" : "stopped", done.load(), after_fallback, normal, stats.fallback, after_ms,
                limit_ms, fallback_ms != nullptr ? " for the median" : "", ok ? "ok" : "FAILED");
    return ok;
}

// The agent killed three times: every run must end with every task done in
// the kernel's scheduling, and the median time from SIGKILL to the fallback
// must meet the target (issue 11: <= 10 ms). Under emulation one process
// teardown in several takes longer; the median is what the mechanism does.
bool agent_killed() {
    double times[3] = {};
    bool ok = true;
    for (double& time : times) ok = agent_failure(SIGKILL, &time) && ok;
    std::sort(std::begin(times), std::end(times));
    const bool fast = times[1] <= 10.0;
    std::printf("kernel mechanism, agent killed 3 times: median %.2f ms from SIGKILL to the fallback (limit 10): %s\n",
                times[1], ok && fast ? "ok" : "FAILED");
    return ok && fast;
}

// A policy in milk.ko that cannot be had: each refusal with its errno, and
// an enclave whose policy is in the module has no agent's calls.
bool in_kernel_policy_refusals() {
    const auto refused = [](const char* component, const milk::Settings& settings, std::uint32_t max_tasks) {
        auto chosen = options(max_tasks);
        auto made = KernelEnclave::try_create_in_kernel(component, settings, chosen);
        return made.ok() ? 0 : static_cast<int>(made.error().detail);
    };
    MILK_VM_CHECK(refused("sched_nope", {}, 16) == ENOENT);
    MILK_VM_CHECK(refused("echo", {}, 16) == EPROTONOSUPPORT);
    milk::Settings bad;
    MILK_VM_CHECK(bad.set("granularity_us", 0).ok());
    MILK_VM_CHECK(refused("sched_fair", bad, 16) == EINVAL);
    milk::Settings small;
    MILK_VM_CHECK(small.set("max_tasks", 4).ok());
    MILK_VM_CHECK(refused("sched_fifo", small, 16) == EINVAL);
    MILK_VM_CHECK(refused("sched_fifo", small, 4) == 0);
    // The owner's fd is no agent: WAIT and APPLY are refused.
    const int fd = ::open("/dev/milk", O_RDWR | O_CLOEXEC);
    MILK_VM_CHECK(fd >= 0);
    milk_sched_create create{};
    create.cpus = 1u << enclave_cpu;
    create.max_tasks = 4;
    std::memcpy(create.policy, "sched_rr", 9);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_CREATE, &create) == 0);
    milk_sched_event events[4]{};
    milk_sched_wait wait{reinterpret_cast<std::uintptr_t>(events), 4, 0, 0};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_WAIT, &wait) != 0 && errno == ENODEV);
    milk_sched_apply apply{};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) != 0 && errno == ENODEV);
    // A tick beyond a second, a policy name unterminated, settings without
    // a policy: EINVAL.
    milk_sched_create wrong = create;
    wrong.tick_us = 2'000'000;
    const int other = ::open("/dev/milk", O_RDWR | O_CLOEXEC);
    MILK_VM_CHECK(other >= 0 && ::ioctl(other, MILK_IOC_SCHED_CREATE, &wrong) != 0 && errno == EINVAL);
    wrong = create;
    std::memset(wrong.policy, 'a', sizeof wrong.policy);
    MILK_VM_CHECK(::ioctl(other, MILK_IOC_SCHED_CREATE, &wrong) != 0 && errno == EINVAL);
    wrong = milk_sched_create{};
    wrong.cpus = create.cpus;
    wrong.max_tasks = 4;
    wrong.settings.count = 1;
    MILK_VM_CHECK(::ioctl(other, MILK_IOC_SCHED_CREATE, &wrong) != 0 && errno == EINVAL);
    ::close(other);
    // Closing the owner's fd stops the module's agent thread: the enclave
    // is gone, its stats kept.
    const std::uint32_t id = create.enclave;
    ::close(fd);
    const auto stats = module_stats(id);
    MILK_VM_CHECK(stats.fallback == MILK_SCHED_FALLBACK_AGENT_GONE);
    std::printf("kernel mechanism, a policy in milk.ko that cannot be had: every refusal with its errno: ok\n");
    return true;
}

bool policy_breaks_contract() {
    auto pair = milk::inproc::open_channel();
    MILK_VM_CHECK(pair.ok());
    // Runs "task 0 on CPU 7" in an enclave of one CPU: SchedClient refuses it.
    auto rogue = milk::test::rogue_policy(
        std::move(pair.value().second),
        [](components::sched::ServerDeciding&& deciding, const std::vector<milk::sched::Event>&, std::uint64_t seq) {
            Sched::Decisions wrong{seq, {}};
            wrong.decisions[0] = {milk::sched::DecisionKind::run, 7, 0};
            auto sent = std::move(deciding).send(wrong);
            static_cast<void>(sent);
            return std::optional<components::sched::ServerIdle>{};
        });
    auto made = KernelEnclave::try_create(Sched::Contract::client(std::move(pair.value().first)), options());
    MILK_VM_CHECK(made.ok());
    auto enclave = std::move(made).value();
    watch(__func__, enclave->id());
    std::atomic<int> done{0};
    Seen seen;
    auto threads = start_tasks(enclave->id(), 2, {}, [&](int, std::uint32_t) {
        work(5'000'000, seen);
        done.fetch_add(1);
    });
    for (auto& thread : threads) thread.join();
    const auto stats = enclave->stats();
    const auto module = module_stats(enclave->id());
    enclave.reset();
    rogue.join();
    const bool ok = done.load() == 2 && stats.fallback == FallbackReason::BrokeContract &&
                    module.fallback == MILK_SCHED_FALLBACK_ASKED;
    std::printf("kernel mechanism, a policy that breaks the contract: agent fallback %d, module reason %u, tasks done %d: %s\n",
                static_cast<int>(stats.fallback), module.fallback, done.load(), ok ? "ok" : "FAILED");
    return ok;
}

// The agent's calls as a hostile process would make them: nothing malformed
// is applied, nothing oopses.
bool hostile_agent() {
    const int fd = ::open("/dev/milk", O_RDWR | O_CLOEXEC);
    MILK_VM_CHECK(fd >= 0);
    milk_sched_create create{};
    create.cpus = 1u << 5;  // the VM has two CPUs
    create.max_tasks = 4;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_CREATE, &create) != 0 && errno == EINVAL);
    create.cpus = 1u << enclave_cpu;
    create.max_tasks = MILK_SCHED_MAX_TASKS + 1;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_CREATE, &create) != 0 && errno == EINVAL);
    create.max_tasks = 4;
    create.reserved = 1;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_CREATE, &create) != 0 && errno == EINVAL);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_CREATE, reinterpret_cast<void*>(16)) != 0 && errno == EFAULT);
    milk_sched_decision none{};
    milk_sched_apply apply{};
    apply.decisions = reinterpret_cast<std::uintptr_t>(&none);
    apply.count = 1;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) != 0 && errno == ENODEV);  // not an agent yet
    create.reserved = 0;
    // This test reads its events slowly: a watchdog that waits.
    create.watchdog_ms = MILK_SCHED_MAX_WATCHDOG_MS;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_CREATE, &create) == 0);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_CREATE, &create) != 0 && errno == EBUSY);

    milk_sched_join join{};
    join.enclave = create.enclave + 1000;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_JOIN, &join) != 0 && errno == ENOENT);
    join.enclave = create.enclave;
    join.weight = (1u << 20) + 1;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_JOIN, &join) != 0 && errno == EINVAL);
    // A thread joins (task 0): it stops until this test, its agent, places
    // it; then it joins again, and leaves twice.
    std::atomic<bool> ran{false};
    std::thread member([&] {
        milk_sched_join mine{};
        mine.enclave = create.enclave;
        MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_JOIN, &mine) == 0 && mine.task == 0);
        ran.store(true);
        MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_JOIN, &mine) != 0 && errno == EALREADY);
        MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_LEAVE, 0) == 0);
        MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_LEAVE, 0) != 0 && errno == ENOENT);
    });
    milk_sched_event events[8];
    milk_sched_wait wait{};
    wait.events = reinterpret_cast<std::uintptr_t>(events);
    wait.capacity = 8;
    wait.timeout_ns = -1;
    bool arrived = false;
    bool woken = false;
    while (!arrived || !woken) {  // task_new and its wakeup, in one read or two
        MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_WAIT, &wait) == 0);
        for (std::uint32_t i = 0; i < wait.count; ++i) {
            arrived = arrived || (events[i].kind == MILK_SCHED_EVENT_TASK_NEW && events[i].task == 0 && events[i].weight == 1024);
            woken = woken || (arrived && events[i].kind == MILK_SCHED_EVENT_WAKEUP && events[i].task == 0);
        }
    }
    // Parked: it has not come back from its join.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    MILK_VM_CHECK(!ran.load());
    milk_sched_decision run{MILK_SCHED_DECIDE_RUN, enclave_cpu, 0, 0};
    apply.decisions = reinterpret_cast<std::uintptr_t>(&run);
    apply.count = 1;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) == 0 && apply.applied == 1 && run.result == MILK_SCHED_APPLIED);
    member.join();
    MILK_VM_CHECK(ran.load());
    // Its exit (and maybe the CPU going idle after it).
    wait.timeout_ns = 0;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_WAIT, &wait) == 0);
    bool left = false;
    for (std::uint32_t i = 0; i < wait.count; ++i) left = left || (events[i].kind == MILK_SCHED_EVENT_EXIT && events[i].task == 0);
    MILK_VM_CHECK(left);

    wait.capacity = 0;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_WAIT, &wait) != 0 && errno == EINVAL);
    wait.capacity = MILK_SCHED_MAX_WAIT + 1;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_WAIT, &wait) != 0 && errno == EINVAL);
    wait.capacity = 8;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_WAIT, reinterpret_cast<void*>(16)) != 0 && errno == EFAULT);

    // Decisions: a CPU out of the enclave, a task out of range, an unknown
    // kind, a result set on the way in, too many: all EINVAL, none applied.
    milk_sched_decision bad[MILK_SCHED_MAX_APPLY + 1] = {};
    apply.decisions = reinterpret_cast<std::uintptr_t>(bad);
    apply.count = 1;
    bad[0] = {MILK_SCHED_DECIDE_RUN, agent_cpu, 0, 0};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) != 0 && errno == EINVAL);
    bad[0] = {MILK_SCHED_DECIDE_RUN, enclave_cpu, 4, 0};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) != 0 && errno == EINVAL);
    bad[0] = {9, enclave_cpu, 0, 0};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) != 0 && errno == EINVAL);
    bad[0] = {MILK_SCHED_DECIDE_IDLE, enclave_cpu, 0, MILK_SCHED_APPLIED};
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) != 0 && errno == EINVAL);
    apply.count = MILK_SCHED_MAX_APPLY + 1;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) != 0 && errno == EINVAL);
    apply.count = 1;
    apply.decisions = 16;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) != 0 && errno == EFAULT);
    // A run of a task that left (its slot is free): refused as stale, not applied.
    bad[0] = {MILK_SCHED_DECIDE_RUN, enclave_cpu, 0, 0};
    apply.decisions = reinterpret_cast<std::uintptr_t>(bad);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_APPLY, &apply) == 0 && apply.applied == 0 && apply.refused == 1 &&
                  bad[0].result == MILK_SCHED_REFUSED);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_FALLBACK, 0) == 0);
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_FALLBACK, 0) != 0 && errno == EPIPE);
    join.weight = 0;
    MILK_VM_CHECK(::ioctl(fd, MILK_IOC_SCHED_JOIN, &join) != 0 && errno == EPIPE);
    ::close(fd);
    std::printf("kernel mechanism, a hostile agent: every malformed call refused: ok\n");
    return true;
}

}  // namespace

int main() {
    // Unbuffered: a test that hangs still shows how far it got.
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    // This thread is no task: it must not sit on the enclave's CPU.
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(agent_cpu, &set);
    MILK_VM_CHECK(::sched_setaffinity(0, sizeof set, &set) == 0);
    start_watchdog();
    bool ok = hostile_agent();
    ok = fifo_in_order("kernel") && ok;
    ok = fifo_in_order("inproc") && ok;
    ok = fifo_in_order("in-kernel") && ok;
    ok = fifo_in_order("config") && ok;
    ok = fifo_in_order("config-inproc") && ok;
    ok = in_kernel_policy_refusals() && ok;
    ok = parked_task_waits() && ok;
    ok = blocks_and_wakeups_reach_the_policy() && ok;
    ok = fair_share_follows_weights("kernel") && ok;
    ok = fair_share_follows_weights("in-kernel") && ok;
    ok = policy_breaks_contract() && ok;
    ok = agent_killed() && ok;
    ok = agent_failure(SIGSTOP) && ok;
    return ok ? 0 : 1;
}
