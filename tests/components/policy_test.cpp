// The sOS policy interface (components/policy): the very same policy types
// drive threads onto CPUs and pages onto frames.
//
// Threads run in a small discrete-time machine (ThreadMachine below): tasks
// arrive, run for their demand, and leave; the machine applies the policy's
// decisions only after checking them against its own view (a CPU holds one
// task, only a waiting task is placed, only the running task is taken off).
// Pages run through replay_references (components/policy/replay.hpp), which
// checks each fault's decisions the same way. The scheduler and memory
// manager components drive the same objects over real threads and real
// faults; here the point is what each policy decides.
#include "policy/aging.hpp"
#include "policy/clock.hpp"
#include "policy/fair_share.hpp"
#include "policy/fifo.hpp"
#include "policy/least_attained.hpp"
#include "policy/replay.hpp"
#include "policy/round_robin.hpp"
#include "policy/tenant_share.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace {

using namespace components::policy;

template <typename T>
T take(milk::Result<T>&& result) {
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().what));
    return std::move(result).value();
}
void take(milk::Result<void>&& result) { REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().what)); }

struct Task {
    Nanoseconds arrival = 0;
    Nanoseconds demand = 0;
    std::uint32_t weight = default_weight;
};

// Threads onto CPUs, one tick at a time: at each tick, tasks that arrived
// become ready, every running task gets one tick of work, a task whose work
// is done leaves, and every CPU still busy reports the tick.
template <Policy P>
class ThreadMachine {
public:
    ThreadMachine(P& policy, std::vector<Task> tasks, Nanoseconds tick)
        : m_policy(policy), m_tasks(std::move(tasks)), m_tick(tick), m_done(m_tasks.size(), 0),
          m_finish(m_tasks.size(), 0), m_running(policy.unit_count(), no_entity) {}

    // Runs until every task finished or `until` passed.
    void run(Nanoseconds until) {
        while (m_now < until && m_finished < m_tasks.size()) step();
    }

    void step() {
        for (EntityId task = 0; task < m_tasks.size(); ++task) {
            if (m_arrived[task] || m_tasks[task].arrival > m_now) continue;
            m_arrived[task] = true;
            take(m_policy.arrive(task, m_tasks[task].weight, m_now));
            apply([&](DecisionSink& sink) { return m_policy.ready(task, Urgency::CanWait, m_now, sink); });
        }
        m_now += m_tick;
        for (UnitId cpu = 0; cpu < m_running.size(); ++cpu) {
            const EntityId task = m_running[cpu];
            if (task == no_entity) continue;
            m_done[task] += m_tick;
            if (m_done[task] >= m_tasks[task].demand) {
                m_finish[task] = m_now;
                m_order.push_back(task);
                ++m_finished;
                m_running[cpu] = no_entity;
                apply([&](DecisionSink& sink) { return m_policy.leave(task, m_now, sink); });
            } else {
                apply([&](DecisionSink& sink) { return m_policy.tick(cpu, m_now, sink); });
            }
        }
        // Work conservation: no CPU idles while a task waits.
        const bool idle_cpu = std::count(m_running.begin(), m_running.end(), no_entity) > 0;
        CHECK_FALSE((idle_cpu && m_policy.waiting() > 0));
    }

    [[nodiscard]] Nanoseconds finish(EntityId task) const { return m_finish[task]; }
    [[nodiscard]] Nanoseconds done(EntityId task) const { return m_done[task]; }
    [[nodiscard]] const std::vector<EntityId>& order() const { return m_order; }
    [[nodiscard]] std::uint32_t preemptions() const { return m_preemptions; }
    [[nodiscard]] Nanoseconds now() const { return m_now; }

private:
    template <typename Event>
    void apply(Event&& event) {
        std::array<Decision, DecisionSink::per_event> room{};
        DecisionSink sink(room);
        take(event(sink));
        for (const Decision& decision : sink.decisions()) {
            REQUIRE(decision.unit < m_running.size());
            REQUIRE(decision.entity < m_tasks.size());
            if (decision.kind == DecisionKind::TakeOff) {
                REQUIRE(m_running[decision.unit] == decision.entity);
                m_running[decision.unit] = no_entity;
                ++m_preemptions;
            } else {
                REQUIRE(m_running[decision.unit] == no_entity);
                REQUIRE(std::find(m_running.begin(), m_running.end(), decision.entity) == m_running.end());
                REQUIRE(m_finish[decision.entity] == 0);
                m_running[decision.unit] = decision.entity;
            }
        }
        // The policy's books and the machine agree once the event's
        // decisions are applied.
        for (UnitId cpu = 0; cpu < m_running.size(); ++cpu) CHECK(m_policy.entity_on(cpu) == m_running[cpu]);
    }

    P& m_policy;
    std::vector<Task> m_tasks;
    Nanoseconds m_tick;
    Nanoseconds m_now = 0;
    std::vector<Nanoseconds> m_done;
    std::vector<Nanoseconds> m_finish;
    std::vector<bool> m_arrived = std::vector<bool>(m_tasks.size(), false);
    std::vector<EntityId> m_running;
    std::vector<EntityId> m_order;
    std::size_t m_finished = 0;
    std::uint32_t m_preemptions = 0;
};

template <typename P>
P make(std::uint32_t entities, std::uint32_t units, typename P::RuleType rule = {}) {
    return take(P::try_create({entities, units}, rule));
}

struct Replayed {
    ReplayCounts counts;
    std::vector<EntityId> evicted;
};

template <Policy P>
Replayed replay(P& policy, const std::vector<EntityId>& references) {
    Replayed result;
    result.counts = take(replay_references(policy, references, [&](EntityId page, std::uint32_t) {
        result.evicted.push_back(page);
    }));
    return result;
}

// Belady's string: FIFO takes more faults with more frames.
const std::vector<EntityId> belady{1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};

}  // namespace

TEST_CASE("FIFO over threads: served in arrival order, never preempted") {
    auto fifo = make<Fifo>(8, 1);
    ThreadMachine machine(fifo, {{0, 30}, {1, 10}, {2, 20}}, 1);
    machine.run(1000);
    CHECK(machine.order() == std::vector<EntityId>{0, 1, 2});
    CHECK(machine.finish(0) == 30);
    CHECK(machine.finish(1) == 40);
    CHECK(machine.finish(2) == 60);
    CHECK(machine.preemptions() == 0);
}

TEST_CASE("FIFO over pages: evicts in placement order, and shows Belady's anomaly") {
    auto three = make<Fifo>(8, 3);
    const auto with_three = replay(three, belady);
    CHECK(with_three.counts.faults == 9);
    CHECK(with_three.evicted == std::vector<EntityId>{1, 2, 3, 4, 1, 2});

    auto four = make<Fifo>(8, 4);
    const auto with_four = replay(four, belady);
    CHECK(with_four.counts.faults == 10);  // one more frame, one more fault
    CHECK(with_four.evicted == std::vector<EntityId>{1, 2, 3, 4, 5, 1});
}

TEST_CASE("CLOCK over pages: a page referenced since the hand passed gets a second chance") {
    // Page 2 is referenced again after the first sweep cleared its bit:
    // CLOCK keeps it where FIFO evicts it.
    const std::vector<EntityId> references{1, 2, 3, 4, 2, 5, 2, 6};
    auto clock = make<Clock>(8, 3);
    const auto with_clock = replay(clock, references);
    CHECK(with_clock.evicted == std::vector<EntityId>{1, 3, 4});
    CHECK(with_clock.counts.faults == 6);

    auto fifo = make<Fifo>(8, 3);
    const auto with_fifo = replay(fifo, references);
    CHECK(with_fifo.evicted == std::vector<EntityId>{1, 2, 3, 4});
    CHECK(with_fifo.counts.faults == 7);
}

TEST_CASE("CLOCK over threads: a task not reported active yields within two ticks") {
    auto clock = make<Clock>(8, 1);
    ThreadMachine machine(clock, {{0, 100}, {0, 100}}, 1);
    machine.run(20);
    // Placed with its bit set; the first tick clears it, the second preempts.
    CHECK(machine.done(0) == 10);
    CHECK(machine.done(1) == 10);
    CHECK(machine.preemptions() == 10);
}

TEST_CASE("round robin over threads: equal service within a quantum, a late short task waits at most a round") {
    constexpr Nanoseconds quantum = 10;
    auto rr = make<RoundRobin>(8, 1, RoundRobinRule{quantum});
    ThreadMachine machine(rr, {{0, 100}, {0, 100}, {0, 100}, {50, 5}}, 1);
    while (machine.now() < 120) {
        machine.step();
        const Nanoseconds most = std::max({machine.done(0), machine.done(1), machine.done(2)});
        const Nanoseconds least = std::min({machine.done(0), machine.done(1), machine.done(2)});
        CHECK(most - least <= quantum);
    }
    machine.run(10'000);
    CHECK(machine.finish(3) <= 50 + 3 * quantum + 5);
    // The long ones end together, a quantum apart at most.
    CHECK(machine.finish(2) - machine.finish(0) <= 2 * quantum);

    auto fifo = make<Fifo>(8, 1);
    ThreadMachine served_in_order(fifo, {{0, 100}, {0, 100}, {0, 100}, {50, 5}}, 1);
    served_in_order.run(10'000);
    CHECK(served_in_order.finish(3) == 305);
}

TEST_CASE("fair share over threads: service in proportion to weight, within 5%") {
    // Three tasks that never finish, weights 1 : 2 : 4, on one CPU.
    auto fair = make<FairShare>(8, 1, FairShareRule{20'000});
    ThreadMachine machine(fair, {{0, ~0ull, 1024}, {0, ~0ull, 2048}, {0, ~0ull, 4096}}, 1'000);
    machine.run(70'000'000);
    const double unit = static_cast<double>(machine.done(0));
    REQUIRE(unit > 0);
    CHECK(static_cast<double>(machine.done(1)) / unit == doctest::Approx(2.0).epsilon(0.05));
    CHECK(static_cast<double>(machine.done(2)) / unit == doctest::Approx(4.0).epsilon(0.05));
}

TEST_CASE("fair share: a newcomer starts at the others' virtual runtime, not at zero") {
    auto fair = make<FairShare>(8, 1, FairShareRule{20'000});
    ThreadMachine machine(fair, {{0, ~0ull}, {50'000'000, ~0ull}}, 1'000);
    machine.run(60'000'000);
    // Without the rule the newcomer would run alone for 50 ms to catch up;
    // with it the two split the last 10 ms.
    CHECK(machine.done(1) <= 6'000'000);
    CHECK(machine.done(1) >= 4'000'000);
}

TEST_CASE("least attained service: short requests overtake a long one, where FIFO makes them wait") {
    // A dispersive workload on one CPU: one long request (10 ms) and short
    // ones (100 us) arriving every millisecond.
    std::vector<Task> tasks{{0, 10'000'000}};
    for (int i = 1; i <= 8; ++i) tasks.push_back({static_cast<Nanoseconds>(i) * 1'000'000, 100'000});
    auto short_latency = [&](auto& machine) {
        machine.run(1'000'000'000);
        Nanoseconds worst = 0;
        for (EntityId t = 1; t < tasks.size(); ++t) worst = std::max(worst, machine.finish(t) - tasks[t].arrival);
        return worst;
    };
    auto las = make<LeastAttained>(16, 1, LeastAttainedRule{50'000});
    ThreadMachine with_las(las, tasks, 10'000);
    auto fifo = make<Fifo>(16, 1);
    ThreadMachine with_fifo(fifo, tasks, 10'000);
    // Each short request runs as soon as it arrives: its 100 us and a tick.
    CHECK(short_latency(with_las) <= 110'000);
    CHECK(short_latency(with_fifo) >= 2'000'000);
    // The long one is not starved: it finishes once the shorts are served.
    CHECK(with_las.finish(0) == 10'000'000 + 8 * 100'000);
}

TEST_CASE("aging over pages: a page used in every round outlives pages used once, where CLOCK evicts it") {
    // Four frames. Round 1 faults pages 1-4 in; round 2 uses 1 and 2;
    // round 3 uses 1. Then pages 5, 6, 7 fault. Ages after round 3: page 1
    // 0xE0, page 2 0x60, pages 3 and 4 0x20.
    const std::vector<std::vector<EntityId>> rounds{{1, 2, 3, 4}, {1, 2}, {1}};
    const std::vector<EntityId> faults{5, 6, 7};
    const auto run = [&](auto& policy) {
        for (const auto& round : rounds) {
            static_cast<void>(replay(policy, round));
            take(policy.round(100));
        }
        return replay(policy, faults).evicted;
    };
    auto aging = make<Aging>(8, 4);
    // The least used go first (3 and 4, the one placed first among equals),
    // then page 2, then (never) page 1; pages 5 and 6, placed since the
    // last round, are not taken before page 2.
    CHECK(run(aging) == std::vector<EntityId>{3, 4, 2});
    CHECK(aging.rule().rounds() == 3);
    CHECK(aging.tables().entities[1].age == 0xe0);
    CHECK(aging.tables().entities[2].age == 0x60);
    // CLOCK sees one bit: its hand clears every bit of the pool and takes
    // page 1, the most used, first.
    auto clock = make<Clock>(8, 4);
    CHECK(run(clock) == std::vector<EntityId>{1, 2, 3});
}

TEST_CASE("aging over threads: a thread that ran little lately overtakes one that ran a lot, and neither starves") {
    // One CPU. Thread 0 runs alone for 40 ticks, reported active at each,
    // a round every 4 ticks; then thread 1 wakes up.
    auto aging = make<Aging>(4, 1);
    std::array<Decision, DecisionSink::per_event> room{};
    EntityId running = no_entity;
    const auto apply = [&](DecisionSink& sink) {
        for (const Decision& decision : sink.decisions())
            running = decision.kind == DecisionKind::Place ? decision.entity : no_entity;
    };
    const auto step = [&](Nanoseconds now) {
        take(aging.accessed(running, now));
        DecisionSink sink(room);
        take(aging.tick(0, now, sink));
        apply(sink);
        if (now % 4 == 0) take(aging.round(now));
    };
    for (EntityId thread : {0u, 1u}) take(aging.arrive(thread, default_weight, 0));
    DecisionSink first(room);
    take(aging.ready(0, Urgency::CanWait, 0, first));
    apply(first);
    for (Nanoseconds now = 1; now <= 40; ++now) step(now);
    CHECK(running == 0);
    DecisionSink woke(room);
    take(aging.ready(1, Urgency::CanWait, 40, woke));
    apply(woke);
    // The newcomer has no recent use: it has the CPU at the next tick,
    // where FIFO would let thread 0 run on and round robin make it wait a
    // quantum.
    step(41);
    CHECK(running == 1);
    std::array<std::uint32_t, 2> ran{};
    for (Nanoseconds now = 42; now < 442; ++now) {
        ++ran[running];
        step(now);
    }
    // Once their histories are alike they share the CPU: neither gets less
    // than 40% of the 400 ticks.
    CHECK(ran[0] >= 160);
    CHECK(ran[1] >= 160);
}

TEST_CASE("tenant share over pages: two groups of weights 1 and 3 hold a quarter and three quarters of the frames") {
    // Group 1 owns pages 0-49 (weight 1), group 2 pages 50-99 (weight 3);
    // both fault through far more pages than the 8 frames, in turns.
    auto fair = make<TenantShare>(100, 8);
    std::mt19937_64 random(3);
    std::array<Decision, DecisionSink::per_event> room{};
    Nanoseconds now = 0;
    for (int i = 0; i < 2'000; ++i) {
        const bool second = i % 2 == 1;
        const auto page = static_cast<EntityId>((second ? 50 : 0) + random() % 50);
        ++now;
        if (fair.unit_of(page) != no_unit) continue;
        if (fair.phase_of(page) == Phase::Absent)
            take(fair.arrive(page, second ? 3 * default_weight : default_weight, now, second ? 2 : 1));
        DecisionSink sink(room);
        take(fair.ready(page, Urgency::Now, now, sink));
        CHECK(fair.unit_of(page) != no_unit);
    }
    std::uint32_t held[3] = {0, 0, 0};
    for (UnitId frame = 0; frame < 8; ++frame) {
        REQUIRE(fair.entity_on(frame) != no_entity);
        ++held[fair.tables().entities[fair.entity_on(frame)].group];
    }
    CHECK(held[1] == 2);
    CHECK(held[2] == 6);
    // A group alone takes every frame: a share leaves no frame idle.
    auto alone = make<TenantShare>(100, 8);
    CHECK(replay(alone, std::vector<EntityId>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}).counts.evictions == 2);
}

TEST_CASE("tenant share over threads: CPUs split between groups by weight, not by how many threads each has") {
    // Four CPUs; group 1 (weight 1) has six never-ending threads, group 2
    // (weight 3) three: group 2 is owed three CPUs, however many threads
    // group 1 has, and gets them from group 1 at the ticks.
    auto fair = make<TenantShare>(16, 4);
    std::array<Decision, DecisionSink::per_event> room{};
    std::vector<EntityId> on(4, no_entity);
    const auto apply = [&](DecisionSink& sink) {
        for (const Decision& decision : sink.decisions()) {
            if (decision.kind == DecisionKind::TakeOff) on[decision.unit] = no_entity;
            else on[decision.unit] = decision.entity;
        }
    };
    for (EntityId thread = 0; thread < 9; ++thread) {
        const bool second = thread >= 6;
        take(fair.arrive(thread, second ? 3 * default_weight : default_weight, 0, second ? 2 : 1));
        DecisionSink sink(room);
        take(fair.ready(thread, Urgency::CanWait, 0, sink));
        apply(sink);
    }
    for (Nanoseconds now = 1; now < 100; ++now)
        for (UnitId cpu = 0; cpu < 4; ++cpu) {
            DecisionSink sink(room);
            take(fair.tick(cpu, now, sink));
            apply(sink);
        }
    std::uint32_t second_group = 0;
    for (const EntityId thread : on) second_group += thread >= 6 ? 1 : 0;
    CHECK(second_group == 3);
}

TEST_CASE_TEMPLATE("every policy: the same type drives threads and pages, and keeps the rules", P, Fifo, RoundRobin,
                   FairShare, Clock, LeastAttained, Aging, TenantShare) {
    SUBCASE("threads onto CPUs") {
        std::mt19937_64 random(7);
        std::vector<Task> tasks;
        for (int i = 0; i < 40; ++i)
            tasks.push_back({random() % 2'000'000, 10'000 + random() % 500'000, 512u << (random() % 4)});
        auto policy = make<P>(64, 4);
        ThreadMachine machine(policy, tasks, 10'000);
        machine.run(1'000'000'000);
        for (EntityId t = 0; t < tasks.size(); ++t) CHECK(machine.finish(t) > 0);
        for (EntityId t = 0; t < tasks.size(); ++t) CHECK(policy.phase_of(t) == Phase::Absent);
    }
    SUBCASE("pages onto frames") {
        std::mt19937_64 random(11);
        std::vector<EntityId> references;
        for (int i = 0; i < 5'000; ++i) references.push_back(static_cast<EntityId>(random() % 32));
        auto policy = make<P>(32, 8);
        const auto replayed = replay(policy, references);
        // Every page faults in once at least, and every fault past the
        // first eight (the frames filling up) evicts exactly one page.
        CHECK(replayed.counts.faults >= 32);
        CHECK(replayed.counts.evictions == replayed.counts.faults - 8);
        std::uint32_t resident = 0;
        for (EntityId page = 0; page < 32; ++page) resident += policy.unit_of(page) != no_unit ? 1 : 0;
        CHECK(resident == 8);
    }
}

TEST_CASE("a mechanism that breaks the rules gets an error and no decision") {
    auto fifo = make<Fifo>(4, 1);
    std::array<Decision, DecisionSink::per_event> room{};
    DecisionSink sink(room);
    CHECK_FALSE(fifo.ready(1, Urgency::CanWait, 0, sink).ok());  // never arrived
    CHECK_FALSE(fifo.arrive(4, default_weight, 0).ok());        // out of range
    CHECK_FALSE(fifo.arrive(1, 0, 0).ok());                     // weight 0
    take(fifo.arrive(1, default_weight, 0));
    CHECK_FALSE(fifo.arrive(1, default_weight, 0).ok());  // twice
    CHECK_FALSE(fifo.yield(1, 0, sink).ok());             // not placed
    CHECK_FALSE(fifo.tick(1, 0, sink).ok());              // no such unit
    CHECK_FALSE(fifo.accessed(1, 0).ok());                // not resident
    CHECK(sink.size() == 0);
    std::array<Decision, 1> too_small{};
    DecisionSink cramped(too_small);
    CHECK_FALSE(fifo.ready(1, Urgency::CanWait, 0, cramped).ok());
    CHECK(fifo.phase_of(1) == Phase::Blocked);
    CHECK_FALSE(Fifo::try_create({0, 1}).ok());
    CHECK_FALSE(Fifo::try_create({1, 0}).ok());
}
