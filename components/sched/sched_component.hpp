// The scheduler component: the policy side of contracts/sched.contract. A
// mechanism that can run threads on CPUs (the client) reports events in
// batches; this component feeds them to one of the sOS policies
// (components/policy) and answers each batch with the decisions that take
// the mechanism's CPUs to where the policy wants them.
//
// One source for every placement: a thread of the workload's process, a
// process of its own, or milk.ko (in its channel's serving thread). So it
// uses only the freestanding runtime: the generated endpoints, milk::Result,
// milk::FixedArray.
//
// Five components, one per rule, so that a config says which policy by the
// component's name: sched_fifo, sched_rr, sched_fair, sched_clock, sched_las.
#pragma once

#include "sched.hpp"  // generated from contracts/sched.contract

#include "policy/batch_server.hpp"
#include "policy/clock.hpp"
#include "policy/fair_share.hpp"
#include "policy/fifo.hpp"
#include "policy/least_attained.hpp"
#include "policy/round_robin.hpp"

#include <milk/component.hpp>
#include <milk/fixed_array.hpp>

#include <cstdint>
#include <optional>
#include <utility>

namespace components::sched {

namespace SchedContract = milk::sched::Sched;
using milk::sched::DecisionKind;
using milk::sched::EventKind;

using ServerStart = SchedContract::Server<SchedContract::state::Start>;
using ServerGreeting = SchedContract::Server<SchedContract::state::Greeting>;
using ServerIdle = SchedContract::Server<SchedContract::state::Idle>;
using ServerBatching = SchedContract::Server<SchedContract::state::Batching>;
using ServerDeciding = SchedContract::Server<SchedContract::state::Deciding>;

// The contract's types, for the batch loop it shares with the memory
// manager (policy/batch_server.hpp).
struct SchedShape {
    using Hello = SchedContract::Hello;
    using Welcome = SchedContract::Welcome;
    using Refused = SchedContract::Refused;
    using Events = SchedContract::Events;
    using Commit = SchedContract::Commit;
    using Decisions = SchedContract::Decisions;
    using Decided = SchedContract::Decided;
    using Bye = SchedContract::Bye;
    using ServerStart = components::sched::ServerStart;
    using ServerGreeting = components::sched::ServerGreeting;
    using ServerIdle = components::sched::ServerIdle;
    using ServerBatching = components::sched::ServerBatching;
    using ServerDeciding = components::sched::ServerDeciding;
    static constexpr const char* stale_batch = "sched: a message of another batch inside a batch";
};

// The largest enclave a scheduler takes unless its settings say otherwise.
inline constexpr std::int64_t default_max_cpus = 256;
inline constexpr std::int64_t default_max_tasks = 4096;

// What each rule reads from the settings, besides max_cpus and max_tasks.
template <typename Rule>
struct RuleSettings;

template <>
struct RuleSettings<policy::FifoRule> {
    static constexpr const char* name = "sched_fifo";
    static constexpr milk::SettingNames setting_names{"max_cpus", "max_tasks"};
    static milk::Result<policy::FifoRule> read(const milk::Settings& /*settings*/) { return policy::FifoRule{}; }
};

// A duration setting in microseconds: 1 us to 1 s.
inline milk::Result<policy::Nanoseconds> read_microseconds(const milk::Settings& settings, const char* name,
                                                            policy::Nanoseconds fallback) {
    const std::int64_t value = settings.get_or(name, static_cast<std::int64_t>(fallback / 1000));
    if (value < 1 || value > 1'000'000)
        return milk::Error{milk::ErrorCode::InvalidArgument, "sched: a duration setting must be 1 to 1,000,000 us",
                           value};
    return static_cast<policy::Nanoseconds>(value) * 1000;
}

template <>
struct RuleSettings<policy::RoundRobinRule> {
    static constexpr const char* name = "sched_rr";
    static constexpr milk::SettingNames setting_names{"max_cpus", "max_tasks", "quantum_us"};
    static milk::Result<policy::RoundRobinRule> read(const milk::Settings& settings) {
        return policy::RoundRobinRule{MILK_TRY(read_microseconds(settings, "quantum_us", policy::RoundRobinRule{}.quantum))};
    }
};

template <>
struct RuleSettings<policy::FairShareRule> {
    static constexpr const char* name = "sched_fair";
    static constexpr milk::SettingNames setting_names{"max_cpus", "max_tasks", "granularity_us"};
    static milk::Result<policy::FairShareRule> read(const milk::Settings& settings) {
        return policy::FairShareRule{
            MILK_TRY(read_microseconds(settings, "granularity_us", policy::FairShareRule{}.granularity))};
    }
};

template <>
struct RuleSettings<policy::ClockRule> {
    static constexpr const char* name = "sched_clock";
    static constexpr milk::SettingNames setting_names{"max_cpus", "max_tasks"};
    static milk::Result<policy::ClockRule> read(const milk::Settings& /*settings*/) { return policy::ClockRule{}; }
};

template <>
struct RuleSettings<policy::LeastAttainedRule> {
    static constexpr const char* name = "sched_las";
    static constexpr milk::SettingNames setting_names{"max_cpus", "max_tasks", "quantum_us"};
    static milk::Result<policy::LeastAttainedRule> read(const milk::Settings& settings) {
        return policy::LeastAttainedRule{
            MILK_TRY(read_microseconds(settings, "quantum_us", policy::LeastAttainedRule{}.quantum))};
    }
};

// One enclave's policy and what the mechanism has been told. The policy's
// books say where every task should be; `told` is where the mechanism has
// them, as far as it told us: what the last Decisions said, minus every
// task that has left its CPU since by an event of the mechanism's own
// (blocked, yield, exit, cpu_idle). A Commit sends the difference.
template <typename Rule>
class Enclave {
public:
    using Event = milk::sched::Event;
    using Decision = milk::sched::Decision;

    static milk::Result<Enclave> try_create(std::uint32_t cpus, std::uint32_t max_tasks, Rule rule) {
        auto policy = MILK_TRY(policy::PolicyOf<Rule>::try_create({max_tasks, cpus}, std::move(rule)));
        auto told = MILK_TRY(milk::FixedArray<policy::EntityId>::try_create(cpus, milk::FixedArray<policy::EntityId>::Fill::Zero));
        auto idle_reported = MILK_TRY(milk::FixedArray<bool>::try_create(cpus, milk::FixedArray<bool>::Fill::Zero));
        for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) told[cpu] = policy::no_entity;
        return Enclave(std::move(policy), std::move(told), std::move(idle_reported));
    }

    // One event of a batch. An error means the mechanism broke the
    // contract's rules (a task that never joined, a CPU out of range).
    [[nodiscard]] milk::Result<void> apply(const milk::sched::Event& event, policy::Nanoseconds now) {
        if (now < m_now) return milk::Error{milk::ErrorCode::ProtocolViolation, "sched: the mechanism's clock went back", 0};
        m_now = now;
        // Decisions of a single event are the books' business only: the
        // Commit sends the difference they made.
        policy::Decision room[policy::DecisionSink::per_event];
        policy::DecisionSink sink(room);
        const policy::EntityId task = event.task;
        switch (event.kind) {
        case EventKind::none: return {};
        case EventKind::task_new: return violation_if_failed(m_policy.arrive(task, event.weight, now));
        case EventKind::wakeup:
            return violation_if_failed(m_policy.ready(task, policy::Urgency::CanWait, now, sink));
        case EventKind::blocked:
            forget(task);
            return violation_if_failed(m_policy.block(task, now, sink));
        case EventKind::yield:
            forget(task);
            // Preempted earlier in this batch, it waits already.
            if (m_policy.phase_of(task) == policy::Phase::Waiting) return {};
            return violation_if_failed(m_policy.yield(task, now, sink));
        case EventKind::exit:
            forget(task);
            return violation_if_failed(m_policy.leave(task, now, sink));
        case EventKind::cpu_idle: {
            if (event.cpu >= m_told.size()) return out_of_range(event.cpu);
            const policy::EntityId told = m_told[event.cpu];
            m_told[event.cpu] = policy::no_entity;
            m_idle_reported[event.cpu] = true;
            // The mechanism saw the CPU idle before it heard of anything the
            // books put there since the last Commit (the task this very
            // batch placed, say): that task has not stopped, it has not
            // started. Only the task the mechanism was told to run there can
            // have stopped without an event; the Commit runs the new one.
            const policy::EntityId booked = m_policy.entity_on(event.cpu);
            if (booked != policy::no_entity && booked != told) return {};
            return violation_if_failed(m_policy.unit_idle(event.cpu, now, sink));
        }
        case EventKind::tick:
            if (event.cpu >= m_told.size()) return out_of_range(event.cpu);
            return violation_if_failed(m_policy.tick(event.cpu, now, sink));
        }
        return milk::Error{milk::ErrorCode::ProtocolViolation, "sched: an event of no known kind", 0};
    }

    // The decisions that take the mechanism from `told` to the policy's
    // books, preempts first (a task moving from one CPU to another must be
    // off the first before it runs on the second), then runs, then idles
    // for CPUs that reported idle and still have nothing. Calls `emit` for
    // each; afterwards `told` is the books.
    template <typename Emit>
    void commit(Emit&& emit) {
        const std::uint32_t cpus = static_cast<std::uint32_t>(m_told.size());
        for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) {
            const policy::EntityId was = m_told[cpu];
            if (was != policy::no_entity && was != m_policy.entity_on(cpu))
                emit(milk::sched::Decision{DecisionKind::preempt, static_cast<std::uint16_t>(cpu), was});
        }
        for (std::uint32_t cpu = 0; cpu < cpus; ++cpu) {
            const policy::EntityId now_on = m_policy.entity_on(cpu);
            if (now_on != policy::no_entity && now_on != m_told[cpu])
                emit(milk::sched::Decision{DecisionKind::run, static_cast<std::uint16_t>(cpu), now_on});
            else if (now_on == policy::no_entity && m_idle_reported[cpu])
                emit(milk::sched::Decision{DecisionKind::idle, static_cast<std::uint16_t>(cpu), 0});
            m_told[cpu] = now_on;
            m_idle_reported[cpu] = false;
        }
    }

    [[nodiscard]] const policy::PolicyOf<Rule>& policy() const { return m_policy; }

private:
    Enclave(policy::PolicyOf<Rule> policy, milk::FixedArray<policy::EntityId> told, milk::FixedArray<bool> idle_reported)
        : m_policy(std::move(policy)), m_told(std::move(told)), m_idle_reported(std::move(idle_reported)) {}

    // The mechanism took `task` off its CPU itself.
    void forget(policy::EntityId task) {
        for (std::size_t cpu = 0; cpu < m_told.size(); ++cpu)
            if (m_told[cpu] == task) m_told[cpu] = policy::no_entity;
    }

    static milk::Result<void> violation_if_failed(milk::Result<void> result) {
        if (result.ok()) return result;
        return milk::Error{milk::ErrorCode::ProtocolViolation, result.error().what, result.error().detail};
    }
    static milk::Result<void> out_of_range(std::uint32_t cpu) {
        return milk::Error{milk::ErrorCode::ProtocolViolation, "sched: a CPU out of the enclave", cpu};
    }

    policy::PolicyOf<Rule> m_policy;
    milk::FixedArray<policy::EntityId> m_told;
    milk::FixedArray<bool> m_idle_reported;
    policy::Nanoseconds m_now = 0;
};

template <typename Rule>
class Scheduler {
public:
    using Contract = SchedContract::Contract;
    static constexpr const char* name = RuleSettings<Rule>::name;
    static constexpr milk::PlacementSet placements = milk::every_placement;
    // The policy's books live in serve's frame, for the channel's life.
    // Moving a running scheduler (snapshot and restore of the books) comes
    // with live relocation.
    static constexpr milk::Statefulness statefulness = milk::Statefulness::Stateless;
    static constexpr milk::SettingNames setting_names = RuleSettings<Rule>::setting_names;
    // In a process of its own, the policy locks its memory: a page fault in
    // the policy would stall every thread it schedules.
    static constexpr milk::MemoryResidence residence = milk::MemoryResidence::Pinned;

    [[nodiscard]] static milk::Result<Scheduler> try_create(const milk::Settings& settings) {
        const std::int64_t cpus = settings.get_or("max_cpus", default_max_cpus);
        if (cpus < 1 || cpus > 65535)
            return milk::Error{milk::ErrorCode::InvalidArgument, "sched: `max_cpus` must be 1 to 65535", cpus};
        const std::int64_t tasks = settings.get_or("max_tasks", default_max_tasks);
        if (tasks < 1 || tasks > 1'000'000)
            return milk::Error{milk::ErrorCode::InvalidArgument, "sched: `max_tasks` must be 1 to 1,000,000", tasks};
        Rule rule = MILK_TRY(RuleSettings<Rule>::read(settings));
        return Scheduler(static_cast<std::uint32_t>(cpus), static_cast<std::uint32_t>(tasks), std::move(rule));
    }

    // Hello, then Welcome (or Refused, for an enclave beyond the settings or
    // the memory), then batches until Bye (policy/batch_server.hpp).
    [[nodiscard]] milk::Result<void> serve(ServerStart&& server) {
        return policy::BatchServer<SchedShape, Enclave<Rule>>::serve(
            std::move(server),
            [this](const SchedContract::Hello& hello) -> std::optional<Enclave<Rule>> {
                if (hello.cpus < 1 || hello.cpus > m_max_cpus || hello.max_tasks < 1 || hello.max_tasks > m_max_tasks)
                    return std::nullopt;
                auto made = Enclave<Rule>::try_create(hello.cpus, hello.max_tasks, m_rule);
                if (!made.ok()) return std::nullopt;
                return std::move(made).value();
            },
            [this] { return SchedContract::Refused{m_max_cpus, m_max_tasks}; }, m_batches);
    }

    // What the last channel did.
    [[nodiscard]] std::uint64_t batches() const { return m_batches; }

    // The books serve() keeps for one channel, without the channel: milk.ko's
    // scheduler mechanism calls a policy compiled into the module directly
    // (docs/sched.md, "The policy in milk.ko"). An enclave beyond the
    // settings is refused, as Hello would be.
    using DirectBooks = Enclave<Rule>;
    [[nodiscard]] milk::Result<Enclave<Rule>> direct_books(std::uint32_t cpus, std::uint32_t max_tasks) const {
        if (cpus < 1 || cpus > m_max_cpus || max_tasks < 1 || max_tasks > m_max_tasks)
            return milk::Error{milk::ErrorCode::InvalidArgument,
                               "sched: the enclave is beyond the policy's max_cpus or max_tasks", cpus};
        return Enclave<Rule>::try_create(cpus, max_tasks, m_rule);
    }

private:
    Scheduler(std::uint32_t cpus, std::uint32_t tasks, Rule rule) : m_max_cpus(cpus), m_max_tasks(tasks), m_rule(std::move(rule)) {}

    std::uint32_t m_max_cpus;
    std::uint32_t m_max_tasks;
    Rule m_rule;
    std::uint64_t m_batches = 0;
};

using FifoScheduler = Scheduler<policy::FifoRule>;
using RoundRobinScheduler = Scheduler<policy::RoundRobinRule>;
using FairShareScheduler = Scheduler<policy::FairShareRule>;
using ClockScheduler = Scheduler<policy::ClockRule>;
using LeastAttainedScheduler = Scheduler<policy::LeastAttainedRule>;

static_assert(milk::Component<FifoScheduler>);
static_assert(milk::Component<LeastAttainedScheduler>);

}  // namespace components::sched
