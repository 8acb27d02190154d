// The scheduler components (components/sched) over contracts/sched.contract,
// placed by the host in its own process and in a process of their own, and
// driven by a mechanism that simulates CPUs: tasks arrive, run for their
// demand and exit; each tick is one batch of events and one answer.
//
// The mechanism checks every decision against its own view of the CPUs
// before it applies it, as a real one must: a policy is an untrusted peer.
// The same policies over real threads are the scheduler mechanism's tests.
#include "sched/sched_client.hpp"
#include "sched/sched_component.hpp"

#include "../sched/rogue_policy.hpp"
#include "../host/one_instance_host.hpp"

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>
#include <milk/inproc.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using milk::test::make_scheduler_host;

using components::sched::SchedClient;
using milk::Placement;
using milk::sched::Decision;
using milk::sched::DecisionKind;
using milk::sched::Event;
using milk::sched::EventKind;
namespace Sched = milk::sched::Sched;

constexpr std::uint32_t no_task = 0xffffffffu;
constexpr auto answer_timeout = std::chrono::seconds(10);

template <typename T>
T take(milk::Result<T>&& result) {
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().what));
    return std::move(result).value();
}

struct Task {
    std::uint64_t arrival = 0;
    std::uint64_t demand = 0;
    std::uint32_t weight = 1024;
};

// CPUs in simulation, the policy behind a channel. One step: time advances
// a tick; each running task gets the tick, and exits or reports the tick;
// tasks whose time came arrive and wake; the batch is committed and its
// decisions applied.
class ChannelMachine {
public:
    ChannelMachine(SchedClient& client, std::vector<Task> tasks, std::uint64_t tick)
        : m_client(client), m_tasks(std::move(tasks)), m_tick(tick), m_done(m_tasks.size(), 0),
          m_finish(m_tasks.size(), 0), m_arrived(m_tasks.size(), false), m_running(client.hello().cpus, no_task) {}

    void run(std::uint64_t until) {
        while (m_now < until && m_finished < m_tasks.size()) step();
    }

    void step() {
        m_now += m_tick;
        for (std::uint32_t cpu = 0; cpu < m_running.size(); ++cpu) {
            const std::uint32_t task = m_running[cpu];
            if (task == no_task) continue;
            m_done[task] += m_tick;
            if (m_done[task] >= m_tasks[task].demand) {
                m_finish[task] = m_now;
                m_order.push_back(task);
                ++m_finished;
                m_running[cpu] = no_task;
                report({EventKind::exit, 0, task, 0});
            } else {
                report({EventKind::tick, static_cast<std::uint16_t>(cpu), 0, 0});
            }
        }
        for (std::uint32_t task = 0; task < m_tasks.size(); ++task) {
            if (m_arrived[task] || m_tasks[task].arrival > m_now) continue;
            m_arrived[task] = true;
            report({EventKind::task_new, 0, task, m_tasks[task].weight});
            report({EventKind::wakeup, 0, task, 0});
        }
        const auto decisions = take(m_client.commit(m_now, answer_timeout));
        for (const Decision& decision : decisions) apply(decision);
    }

    [[nodiscard]] std::uint64_t finish(std::uint32_t task) const { return m_finish[task]; }
    [[nodiscard]] std::uint64_t done(std::uint32_t task) const { return m_done[task]; }
    [[nodiscard]] const std::vector<std::uint32_t>& order() const { return m_order; }
    [[nodiscard]] std::uint32_t preemptions() const { return m_preemptions; }

private:
    void report(const Event& event) { REQUIRE(m_client.report(event).ok()); }

    void apply(const Decision& decision) {
        switch (decision.kind) {
        case DecisionKind::preempt:
            REQUIRE(m_running[decision.cpu] == decision.task);
            m_running[decision.cpu] = no_task;
            ++m_preemptions;
            break;
        case DecisionKind::run:
            REQUIRE(m_running[decision.cpu] == no_task);
            REQUIRE(std::find(m_running.begin(), m_running.end(), decision.task) == m_running.end());
            REQUIRE(m_arrived[decision.task]);
            REQUIRE(m_finish[decision.task] == 0);
            m_running[decision.cpu] = decision.task;
            break;
        case DecisionKind::idle: REQUIRE(m_running[decision.cpu] == no_task); break;
        case DecisionKind::none: FAIL("SchedClient passed a padding entry on"); break;
        }
    }

    SchedClient& m_client;
    std::vector<Task> m_tasks;
    std::uint64_t m_tick;
    std::uint64_t m_now = 0;
    std::vector<std::uint64_t> m_done;
    std::vector<std::uint64_t> m_finish;
    std::vector<bool> m_arrived;
    std::vector<std::uint32_t> m_running;
    std::vector<std::uint32_t> m_order;
    std::size_t m_finished = 0;
    std::uint32_t m_preemptions = 0;
};


#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool under_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool under_sanitizer = true;
#else
constexpr bool under_sanitizer = false;
#endif
#else
constexpr bool under_sanitizer = false;
#endif

// VmLck of /proc/PID/status: how much of the process is locked in memory.
long locked_kilobytes(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmLck:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

SchedClient connect(milk::host::Host& host, std::uint32_t cpus, std::uint32_t tasks) {
    auto endpoint = take(host.connect<Sched::Contract>("scheduler"));
    return take(SchedClient::try_connect(std::move(endpoint), {cpus, tasks}, answer_timeout));
}

}  // namespace

TEST_CASE("sched_fifo in the host's process: tasks run in arrival order, never preempted") {
    auto host = make_scheduler_host("sched_fifo", Placement::Inproc);
    auto client = connect(host, 1, 8);
    ChannelMachine machine(client, {{0, 30}, {1, 10}, {2, 20}}, 1);
    machine.run(1000);
    CHECK(machine.order() == std::vector<std::uint32_t>{0, 1, 2});
    CHECK(machine.finish(0) < machine.finish(1));
    CHECK(machine.finish(1) - machine.finish(0) == 10);
    CHECK(machine.finish(2) - machine.finish(1) == 20);
    CHECK(machine.preemptions() == 0);
    CHECK(client.bye().ok());
}

TEST_CASE("sched_fair in a process of its own: service in proportion to weight, within 5%") {
    milk::Settings settings;
    REQUIRE(settings.set("granularity_us", 100).ok());
    auto host = make_scheduler_host("sched_fair", Placement::Process, settings);
    REQUIRE(host.placement_of("scheduler") == Placement::Process);
    auto client = connect(host, 1, 8);
    // The policy's process keeps its memory resident (mlockall), so that a
    // page fault in the policy never stalls the threads it schedules. (The
    // sanitizers' runtimes make mlockall a no-op: their shadow memory is
    // terabytes of address space.)
    const auto status = host.status();
    REQUIRE(status.size() == 1);
    if (!under_sanitizer) CHECK(locked_kilobytes(status[0].pid) > 0);
    constexpr std::uint64_t never = ~std::uint64_t{0};
    ChannelMachine machine(client, {{0, never, 1024}, {0, never, 2048}, {0, never, 4096}}, 10'000);
    machine.run(70'000'000);  // 7,000 batches
    const double unit = static_cast<double>(machine.done(0));
    REQUIRE(unit > 0);
    CHECK(static_cast<double>(machine.done(1)) / unit == doctest::Approx(2.0).epsilon(0.05));
    CHECK(static_cast<double>(machine.done(2)) / unit == doctest::Approx(4.0).epsilon(0.05));
    CHECK(client.bye().ok());
}

TEST_CASE("every scheduler, in both user-space placements: every task finishes on 4 CPUs") {
    for (const char* component : {"sched_fifo", "sched_rr", "sched_fair", "sched_clock", "sched_las"}) {
        for (Placement placement : {Placement::Inproc, Placement::Process}) {
            CAPTURE(component);
            CAPTURE(static_cast<int>(placement));
            auto host = make_scheduler_host(component, placement);
            auto client = connect(host, 4, 64);
            std::vector<Task> tasks;
            for (std::uint32_t i = 0; i < 24; ++i) tasks.push_back({i * 37'000ull, 20'000 + (i * 7919ull) % 400'000});
            ChannelMachine machine(client, tasks, 10'000);
            machine.run(100'000'000);
            for (std::uint32_t t = 0; t < tasks.size(); ++t) CHECK(machine.finish(t) > 0);
            CHECK(client.bye().ok());
        }
    }
}

TEST_CASE("a scheduler refuses an enclave beyond its settings") {
    milk::Settings settings;
    REQUIRE(settings.set("max_cpus", 2).ok());
    auto host = make_scheduler_host("sched_rr", Placement::Inproc, settings);
    auto endpoint = take(host.connect<Sched::Contract>("scheduler"));
    auto refused = SchedClient::try_connect(std::move(endpoint), {4, 8}, answer_timeout);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == milk::ErrorCode::InvalidArgument);
    CHECK(refused.error().detail == 2);
}

TEST_CASE("a scheduler's settings are checked") {
    milk::Settings zero_quantum;
    REQUIRE(zero_quantum.set("quantum_us", 0).ok());
    CHECK_FALSE(components::sched::RoundRobinScheduler::try_create(zero_quantum).ok());
    milk::Settings no_cpus;
    REQUIRE(no_cpus.set("max_cpus", 0).ok());
    CHECK_FALSE(components::sched::FifoScheduler::try_create(no_cpus).ok());
    milk::Settings fine;
    REQUIRE(fine.set("granularity_us", 500).ok());
    CHECK(components::sched::FairShareScheduler::try_create(fine).ok());
}

TEST_CASE("a mechanism that reports a task that never joined loses its channel") {
    auto host = make_scheduler_host("sched_fifo", Placement::Inproc);
    auto client = connect(host, 1, 8);
    REQUIRE(client.report({EventKind::wakeup, 0, 3, 0}).ok());
    auto decided = client.commit(1, answer_timeout);
    REQUIRE_FALSE(decided.ok());
    // The component ends the channel with the violation as its reason
    // ("policy: an event for an entity that never arrived"): the commit's
    // receive reports it (ProtocolViolation), or its send of Commit finds
    // the channel closed first (PeerClosed); the mechanism falls back to its
    // own scheduling either way.
    const milk::ErrorCode code = decided.error().code;
    CHECK((code == milk::ErrorCode::ProtocolViolation || code == milk::ErrorCode::PeerClosed));
}

TEST_CASE("a cpu_idle seen before a placement does not stop the task placed") {
    // The kernel mechanism reports an idle CPU as it happens; the task the
    // same batch lets the policy place there has not run yet, so the idle
    // says nothing about it. Taking it for a task that stopped unannounced
    // would leave it parked forever, waiting for a wake-up that never comes.
    auto host = make_scheduler_host("sched_fifo", Placement::Inproc);
    auto client = connect(host, 1, 8);
    REQUIRE(client.report({EventKind::task_new, 0, 0, 1024}).ok());
    REQUIRE(client.report({EventKind::wakeup, 0, 0, 0}).ok());
    REQUIRE(client.report({EventKind::cpu_idle, 0, 0, 0}).ok());
    auto first = take(client.commit(1, answer_timeout));
    REQUIRE(first.size() == 1);
    CHECK(first[0].kind == DecisionKind::run);
    CHECK(first[0].task == 0);
    // Task 0 still holds the CPU: a second task waits behind it.
    REQUIRE(client.report({EventKind::task_new, 0, 1, 1024}).ok());
    REQUIRE(client.report({EventKind::wakeup, 0, 1, 0}).ok());
    CHECK(take(client.commit(2, answer_timeout)).empty());
    // An idle CPU after the run was told is news: task 0 stopped without
    // an event, and task 1 gets the CPU.
    REQUIRE(client.report({EventKind::cpu_idle, 0, 0, 0}).ok());
    auto third = take(client.commit(3, answer_timeout));
    REQUIRE(third.size() == 1);
    CHECK(third[0].kind == DecisionKind::run);
    CHECK(third[0].task == 1);
    CHECK(client.bye().ok());
}

TEST_CASE("a policy that decides for a CPU out of the enclave is refused") {
    auto pair = take(milk::inproc::open_channel());
    auto policy = milk::test::rogue_policy(
        std::move(pair.second), [](components::sched::ServerDeciding&& deciding, const std::vector<Event>&, std::uint64_t seq) {
            Sched::Decisions bad{seq, {}};
            bad.decisions[0] = Decision{DecisionKind::run, 7, 0};
            static_cast<void>(std::move(deciding).send(bad));
            return std::optional<components::sched::ServerIdle>{};
        });
    auto client = take(SchedClient::try_connect(Sched::Contract::client(std::move(pair.first)), {2, 8}, answer_timeout));
    REQUIRE(client.report({EventKind::task_new, 0, 0, 1024}).ok());
    auto decided = client.commit(1, answer_timeout);
    REQUIRE_FALSE(decided.ok());
    CHECK(decided.error().code == milk::ErrorCode::ProtocolViolation);
    policy.join();
}

TEST_CASE("a policy that misses its deadline fails the commit (the watchdog)") {
    auto pair = take(milk::inproc::open_channel());
    auto policy = milk::test::rogue_policy(
        std::move(pair.second), [](components::sched::ServerDeciding&& deciding, const std::vector<Event>&, std::uint64_t) {
            // Never answers; holds the endpoint until the client has given up.
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            static_cast<void>(std::move(deciding));
            return std::optional<components::sched::ServerIdle>{};
        });
    auto client = take(SchedClient::try_connect(Sched::Contract::client(std::move(pair.first)), {1, 8}, answer_timeout));
    const auto began = std::chrono::steady_clock::now();
    auto decided = client.commit(1, std::chrono::milliseconds(50));
    REQUIRE_FALSE(decided.ok());
    CHECK(decided.error().code == milk::ErrorCode::TimedOut);
    CHECK(std::chrono::steady_clock::now() - began < std::chrono::milliseconds(250));
    policy.join();
}
