// The user-space scheduler mechanism (milk/sched/enclave.hpp) with real
// threads on real CPUs, its policy a scheduler component placed by the host
// in the test's process or in a process of its own.
//
// Each task checks, as it runs, that it is on the CPU the policy chose (the
// enclave pins it there before letting it go), and the tests check what a
// user of the scheduler would: every task finishes, FIFO order, fair-share
// ratios, yield and blocking, and the fallback when the policy dies, misses
// its deadline or breaks the contract.
#include "rogue_policy.hpp"
#include "../host/one_instance_host.hpp"

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>
#include <milk/inproc.hpp>
#include <milk/sched/enclave.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <sched.h>
#include <string>
#include <thread>
#include <vector>

namespace {

using milk::test::make_scheduler_host;

using milk::Placement;
using milk::sched::Enclave;
using milk::sched::EnclaveOptions;
using milk::sched::FallbackReason;
using milk::sched::Event;
using milk::sched::TaskContext;
using Clock = std::chrono::steady_clock;
namespace Sched = milk::sched::Sched;

template <typename T>
T take(milk::Result<T>&& result) {
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().what));
    return std::move(result).value();
}

// The CPUs this process may use, in order.
std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
    std::vector<int> cpus;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
        if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    return cpus;
}


std::unique_ptr<Enclave> make_enclave(milk::host::Host& host, EnclaveOptions options) {
    return take(Enclave::try_create(take(host.connect<Sched::Contract>("scheduler")), std::move(options)));
}

// What the tasks saw while they ran.
struct Watch {
    std::atomic<std::uint64_t> samples{0};
    std::atomic<std::uint64_t> wrong_cpu{0};

    // Spins for `length` of wall-clock time, checking where it runs.
    void spin(TaskContext& task, std::chrono::microseconds length) {
        const auto until = Clock::now() + length;
        while (Clock::now() < until) check(task);
    }
    void check(TaskContext& task) {
        const int placed = task.cpu();
        const int on = ::sched_getcpu();
        // The enclave pins a task before it sets its CPU and lets it run, so
        // a task that reads the same placement twice around sched_getcpu
        // must be on it.
        if (placed == task.cpu() && on != placed) wrong_cpu.fetch_add(1);
        samples.fetch_add(1);
    }
};

std::chrono::nanoseconds thread_cpu_time() {
    timespec now{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

}  // namespace

TEST_CASE("FIFO on one CPU: real threads run one at a time, in spawn order, on the CPU chosen") {
    auto host = make_scheduler_host("sched_fifo", Placement::Inproc);
    const int cpu = allowed_cpus().front();
    auto enclave = make_enclave(host, {.cpus = {cpu}});
    Watch watch;
    std::mutex mutex;
    std::vector<std::uint32_t> started;
    std::vector<std::uint32_t> finished;
    for (int i = 0; i < 5; ++i) {
        take(enclave->spawn([&](TaskContext& task) {
            {
                std::lock_guard lock(mutex);
                started.push_back(task.id());
            }
            watch.spin(task, std::chrono::milliseconds(3));
            std::lock_guard lock(mutex);
            finished.push_back(task.id());
        }));
    }
    enclave->wait_all();
    std::string order;
    for (std::uint32_t id : started) order += std::to_string(id) + " ";
    CAPTURE(order);
    CHECK(started == std::vector<std::uint32_t>{0, 1, 2, 3, 4});
    // One at a time: nobody started before the one ahead of it finished.
    CHECK(finished == started);
    CHECK(watch.samples.load() > 0);
    CHECK(watch.wrong_cpu.load() == 0);
    const auto stats = enclave->stats();
    CHECK(stats.fallback == FallbackReason::None);
    CHECK(stats.preemptions == 0);
}

TEST_CASE("round robin over every CPU: tasks are preempted, run only where placed, and all finish") {
    milk::Settings settings;
    REQUIRE(settings.set("quantum_us", 2000).ok());
    auto host = make_scheduler_host("sched_rr", Placement::Inproc, settings);
    auto enclave = make_enclave(host, {.cpus = allowed_cpus()});
    Watch watch;
    std::atomic<int> done{0};
    for (int i = 0; i < 6; ++i) {
        take(enclave->spawn([&](TaskContext& task) {
            watch.spin(task, std::chrono::milliseconds(30));
            done.fetch_add(1);
        }));
    }
    enclave->wait_all();
    CHECK(done.load() == 6);
    CHECK(watch.wrong_cpu.load() == 0);
    const auto stats = enclave->stats();
    CHECK(stats.fallback == FallbackReason::None);
    // Six tasks of 30 ms on at most two CPUs with a 2 ms quantum.
    CHECK(stats.preemptions > 10);
}

TEST_CASE("fair share on one CPU: real CPU time in proportion to weight") {
    milk::Settings settings;
    REQUIRE(settings.set("granularity_us", 1000).ok());
    auto host = make_scheduler_host("sched_fair", Placement::Inproc, settings);
    auto enclave = make_enclave(host, {.cpus = {allowed_cpus().back()}});
    std::atomic<bool> stop{false};
    std::chrono::nanoseconds used[3] = {};
    const std::uint32_t weights[3] = {1024, 2048, 4096};
    for (int i = 0; i < 3; ++i) {
        take(enclave->spawn(
            [&, i](TaskContext&) {
                while (!stop.load(std::memory_order_relaxed)) {
                }
                used[i] = thread_cpu_time();
            },
            weights[i]));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    stop = true;
    enclave->wait_all();
    const double unit = static_cast<double>(used[0].count());
    REQUIRE(unit > 0);
    MESSAGE("CPU time ms: " << used[0].count() / 1e6 << " " << used[1].count() / 1e6 << " " << used[2].count() / 1e6);
    // A shared CI machine steals time from whichever task runs: 20%.
    CHECK(static_cast<double>(used[1].count()) / unit == doctest::Approx(2.0).epsilon(0.2));
    CHECK(static_cast<double>(used[2].count()) / unit == doctest::Approx(4.0).epsilon(0.2));
}

TEST_CASE("yield and blocking hand the CPU over and come back") {
    auto host = make_scheduler_host("sched_fifo", Placement::Inproc);
    auto enclave = make_enclave(host, {.cpus = {allowed_cpus().front()}});
    std::mutex mutex;
    std::vector<const char*> trace;
    auto note = [&](const char* what) {
        std::lock_guard lock(mutex);
        trace.push_back(what);
    };
    std::atomic<bool> b_spawned{false};
    take(enclave->spawn([&](TaskContext& task) {
        note("a runs");
        // b's arrival goes to the policy before a's yield does.
        while (!b_spawned.load()) std::this_thread::yield();
        task.yield();  // b is queued: it runs before a comes back
        note("a is back");
        task.blocking([] { std::this_thread::sleep_for(std::chrono::milliseconds(30)); });
        note("a woke");
    }));
    take(enclave->spawn([&](TaskContext& task) {
        note("b runs");
        // Long enough that a, after its yield, waits behind b.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        task.yield();
        note("b is back");
    }));
    b_spawned = true;
    enclave->wait_all();
    CHECK(trace == std::vector<const char*>{"a runs", "b runs", "a is back", "b is back", "a woke"});
}

TEST_CASE("fallback: the policy's process is killed under load, every task finishes") {
    auto host = make_scheduler_host("sched_rr", Placement::Process);
    auto enclave = make_enclave(host, {.cpus = allowed_cpus()});
    Watch watch;
    std::atomic<int> done{0};
    for (int i = 0; i < 8; ++i) {
        take(enclave->spawn([&](TaskContext& task) {
            watch.spin(task, std::chrono::milliseconds(40));
            done.fetch_add(1);
        }));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const auto status = host.status();
    REQUIRE(status.size() == 1);
    REQUIRE(status[0].pid > 0);
    const auto killed_at = Clock::now();
    REQUIRE(::kill(status[0].pid, SIGKILL) == 0);
    enclave->wait_all();
    CHECK(done.load() == 8);
    CHECK(watch.wrong_cpu.load() == 0);
    const auto stats = enclave->stats();
    CHECK(stats.fallback == FallbackReason::PolicyGone);
    REQUIRE(stats.first_fallback_decision.has_value());
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(*stats.first_fallback_decision - killed_at);
    MESSAGE("kill to first fallback decision: " << latency.count() << " us");
    // The target is 10 ms; a loaded 2-core CI machine gets more room.
    CHECK(latency < std::chrono::milliseconds(100));
}

TEST_CASE("fallback: a policy that misses its deadline") {
    auto pair = take(milk::inproc::open_channel());
    auto policy = milk::test::rogue_policy(
        std::move(pair.second), [](components::sched::ServerDeciding&& deciding, const std::vector<Event>&, std::uint64_t) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            static_cast<void>(std::move(deciding));
            return std::optional<components::sched::ServerIdle>{};
        });
    auto enclave = take(Enclave::try_create(Sched::Contract::client(std::move(pair.first)),
                                            {.cpus = {allowed_cpus().front()}, .policy_deadline = std::chrono::milliseconds(10)}));
    std::atomic<int> done{0};
    for (int i = 0; i < 3; ++i) take(enclave->spawn([&](TaskContext&) { done.fetch_add(1); }));
    enclave->wait_all();
    CHECK(done.load() == 3);
    CHECK(enclave->stats().fallback == FallbackReason::MissedDeadline);
    enclave.reset();
    policy.join();
}

TEST_CASE("fallback: a policy that runs two tasks on one CPU breaks the contract") {
    auto pair = take(milk::inproc::open_channel());
    // Once tasks 0 and 1 are both runnable (as far as the events it saw
    // say, so neither decision is stale), it runs both on CPU 0.
    auto policy = milk::test::rogue_policy(
        std::move(pair.second),
        [](components::sched::ServerDeciding&& deciding, const std::vector<Event>& seen, std::uint64_t seq) {
            auto woken = [&](std::uint32_t task) {
                return std::any_of(seen.begin(), seen.end(), [&](const Event& event) {
                    return event.kind == milk::sched::EventKind::wakeup && event.task == task;
                });
            };
            if (!woken(0) || !woken(1)) return milk::test::decide_nothing(std::move(deciding), seq);
            Sched::Decisions both{seq, {}};
            both.decisions[0] = {milk::sched::DecisionKind::run, 0, 0};
            both.decisions[1] = {milk::sched::DecisionKind::run, 0, 1};
            auto sent = std::move(deciding).send(both);
            if (sent.ok()) static_cast<void>(std::move(sent).value().send(Sched::Decided{seq}));
            return std::optional<components::sched::ServerIdle>{};
        });
    auto enclave = take(Enclave::try_create(Sched::Contract::client(std::move(pair.first)), {.cpus = {allowed_cpus().front()}}));
    std::atomic<int> done{0};
    for (int i = 0; i < 3; ++i) take(enclave->spawn([&](TaskContext&) { done.fetch_add(1); }));
    enclave->wait_all();
    CHECK(done.load() == 3);
    const auto stats = enclave->stats();
    CHECK(stats.fallback == FallbackReason::BrokeContract);
    enclave.reset();
    policy.join();
}

TEST_CASE("an enclave refuses CPUs the process may not use") {
    auto host = make_scheduler_host("sched_fifo", Placement::Inproc);
    auto refused = Enclave::try_create(take(host.connect<Sched::Contract>("scheduler")), {.cpus = {CPU_SETSIZE - 1}});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == milk::ErrorCode::InvalidArgument);
}
