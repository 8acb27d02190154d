// PolicyOf<Rule>: the one implementation of the policy interface (policy.hpp).
//
// Every policy keeps the same books: which entities exist, which wait for a
// unit and since when, which unit each one is on, how much service each has
// had. Every policy also obeys the same rules of the game: an entity is on at
// most one unit and a unit holds at most one entity; a unit that frees up is
// given to a waiter at once; an urgent entity (a fault) is placed at once,
// evicting someone when every unit is taken. All of that is here, written
// once. A Rule (fifo.hpp, round_robin.hpp, ...) decides only whom:
//
//   EntityId pick(const Tables&)             the waiter to place next
//   bool preempts(const Tables&, UnitId, Nanoseconds now)
//                                            on a tick, whether the entity on
//                                            the unit gives way to pick()
//   UnitId victim(Tables&, Nanoseconds now)  whose entity an urgent one evicts
//
// and, if it keeps a history of samples, `void round(Tables&)`: a sample
// round ended (PolicyOf::round), every accessed() of it has been reported.
//
// The books are plain arrays sized once (try_create), so a policy runs in
// milk.ko as it does in user space. Choosing among waiters scans them, which
// is what the small tables of the tests and the components want; a policy
// for thousands of runnable entities would keep a heap instead.
#pragma once

#include "policy.hpp"

#include <milk/fixed_array.hpp>
#include <milk/result.hpp>

#include <cstdint>
#include <utility>

namespace components::policy {

struct EntityState {
    Phase phase = Phase::Absent;
    // Second chance (CLOCK): set when the entity is placed or reported
    // accessed, cleared when the clock hand passes.
    bool referenced = false;
    std::uint32_t weight = default_weight;
    UnitId unit = no_unit;
    // The waiting list: a FIFO in the order entities became ready.
    EntityId previous = no_entity;
    EntityId next = no_entity;
    Nanoseconds ready_since = 0;
    // When it was placed on its unit, and when its service was last counted.
    Nanoseconds placed_at = 0;
    Nanoseconds charged_at = 0;
    // Increases with every placement: which resident came first.
    std::uint64_t placement = 0;
    // Time spent on units, in all.
    Nanoseconds service = 0;
    // Service scaled by default_weight / weight: what a fair share equalises.
    std::uint64_t vruntime = 0;
    // Aging (aging.hpp): the reference bits of the last eight sample
    // rounds, the newest in the top bit.
    std::uint8_t age = 0;
    // Which group the entity belongs to (a tenant of a shared pool, a
    // cgroup of threads): what a share between groups (tenant_share.hpp)
    // counts units by. Every entity is in group 0 unless it arrived saying
    // otherwise.
    std::uint32_t group = 0;
};

// The books a rule reads (and CLOCK's hand writes the reference bits of).
struct Tables {
    milk::FixedArray<EntityState> entities;
    milk::FixedArray<EntityId> units;  // the entity on each unit, or no_entity
    EntityId waiting_head = no_entity;
    EntityId waiting_tail = no_entity;
    std::uint32_t waiting = 0;
    std::uint64_t placements = 0;
    // How many units hold an entity, and a unit at or below the lowest free
    // one: so that finding a free unit costs nothing when none is free (a
    // full pool of frames, every fault) and never rescans the full ones
    // below it.
    std::uint32_t occupied = 0;
    UnitId free_hint = 0;
    // The least vruntime of any entity that wants a unit, kept monotonic: a
    // newcomer starts there, so that it neither starves the others nor waits
    // for them to catch up with zero.
    std::uint64_t min_vruntime = 0;

    // Every waiter in the order it became ready.
    template <typename Visit>
    void for_each_waiting(Visit&& visit) const {
        for (EntityId at = waiting_head; at != no_entity; at = entities[at].next) visit(at, entities[at]);
    }
    [[nodiscard]] std::uint32_t unit_count() const { return static_cast<std::uint32_t>(units.size()); }

    // The waiter with the least `key` (the first to become ready among
    // equals), or no_entity.
    template <typename Key>
    [[nodiscard]] EntityId least_waiting(Key&& key) const {
        EntityId best = no_entity;
        for_each_waiting([&](EntityId entity, const EntityState& state) {
            if (best == no_entity || key(state) < key(entities[best])) best = entity;
        });
        return best;
    }
    // The occupied unit whose entity has the greatest `key` (the earliest
    // placed among equals), or no_unit.
    template <typename Key>
    [[nodiscard]] UnitId greatest_resident(Key&& key) const {
        UnitId best = no_unit;
        for (UnitId u = 0; u < unit_count(); ++u) {
            if (units[u] == no_entity) continue;
            const EntityState& state = entities[units[u]];
            if (best == no_unit) {
                best = u;
                continue;
            }
            const EntityState& current = entities[units[best]];
            if (key(state) > key(current) || (key(state) == key(current) && state.placement < current.placement))
                best = u;
        }
        return best;
    }
    // The unit whose entity was placed first: FIFO replacement.
    [[nodiscard]] UnitId oldest_resident() const {
        return greatest_resident([](const EntityState&) { return 0; });
    }
};

template <typename Rule>
class PolicyOf {
public:
    using RuleType = Rule;
    struct Capacity {
        std::uint32_t entities;
        std::uint32_t units;
    };

    // A policy for up to `capacity.entities` entities on `capacity.units`
    // units, every unit free at first.
    [[nodiscard]] static milk::Result<PolicyOf> try_create(Capacity capacity, Rule rule = Rule{}) {
        if (capacity.entities == 0 || capacity.units == 0 || capacity.entities == no_entity ||
            capacity.units == no_unit)
            return milk::Error{milk::ErrorCode::InvalidArgument, "a policy needs at least one entity and one unit",
                               0};
        PolicyOf policy(std::move(rule));
        policy.m_tables.entities =
            MILK_TRY(milk::FixedArray<EntityState>::try_create(capacity.entities, milk::FixedArray<EntityState>::Fill::Zero));
        policy.m_tables.units =
            MILK_TRY(milk::FixedArray<EntityId>::try_create(capacity.units, milk::FixedArray<EntityId>::Fill::Zero));
        for (std::uint32_t i = 0; i < capacity.entities; ++i) policy.m_tables.entities[i] = EntityState{};
        for (std::uint32_t u = 0; u < capacity.units; ++u) policy.m_tables.units[u] = no_entity;
        return policy;
    }

    PolicyOf(PolicyOf&&) noexcept = default;
    PolicyOf& operator=(PolicyOf&&) noexcept = default;
    PolicyOf(const PolicyOf&) = delete;
    PolicyOf& operator=(const PolicyOf&) = delete;
    ~PolicyOf() = default;

    // ---- events --------------------------------------------------------------

    // `group`: which group it counts in for a share between groups (a
    // tenant's pages, a cgroup's threads); the rules that ignore groups
    // ignore it.
    [[nodiscard]] milk::Result<void> arrive(EntityId entity, std::uint32_t weight, Nanoseconds now,
                                            std::uint32_t group = 0) {
        MILK_TRY(check_entity(entity));
        EntityState& state = m_tables.entities[entity];
        if (state.phase != Phase::Absent)
            return milk::Error{milk::ErrorCode::InvalidArgument, "policy: an entity arrived twice", entity};
        if (weight == 0) return milk::Error{milk::ErrorCode::InvalidArgument, "policy: an entity of weight 0", entity};
        state = EntityState{};
        state.phase = Phase::Blocked;
        state.weight = weight;
        state.group = group;
        state.vruntime = m_tables.min_vruntime;
        state.ready_since = now;
        return {};
    }

    [[nodiscard]] milk::Result<void> ready(EntityId entity, Urgency urgency, Nanoseconds now, DecisionSink& sink) {
        MILK_TRY(check_room(sink));
        MILK_TRY(check_entity(entity));
        EntityState& state = m_tables.entities[entity];
        if (state.phase == Phase::Absent)
            return milk::Error{milk::ErrorCode::InvalidArgument, "policy: an event for an entity that never arrived",
                               entity};
        if (state.phase != Phase::Blocked)
            return milk::Error{milk::ErrorCode::InvalidArgument, "policy: only a blocked entity can become ready",
                               entity};
        // Back from a long sleep, an entity starts no further behind than
        // the others: a fair share owes it no credit for time it did not want.
        if (state.vruntime < m_tables.min_vruntime) state.vruntime = m_tables.min_vruntime;
        enqueue(entity, now);
        if (const UnitId free = free_unit(); free != no_unit) {
            // A free unit goes to the rule's choice of waiter, except that a
            // fault never waits behind wake-ups.
            place(urgency == Urgency::Now ? entity : pick_waiter(), free, now, sink);
            return {};
        }
        if (urgency == Urgency::Now) {
            const UnitId unit = m_rule.victim(m_tables, now);
            if (unit >= m_tables.unit_count() || m_tables.units[unit] == no_entity)
                return milk::Error{milk::ErrorCode::InvalidArgument, "policy: the rule chose no victim", unit};
            take_off(unit, now, sink, Phase::Blocked);
            // The urgent entity, not whoever waited longest: a fault does not
            // queue behind wake-ups.
            place(entity, unit, now, sink);
        }
        return {};
    }

    // Gives a unit back, the rule's victim taken off it (a memory manager
    // under memory pressure; for threads, a CPU taken away). The unit stays
    // free until the next ready. Nothing placed: nothing to do.
    [[nodiscard]] milk::Result<void> reclaim(Nanoseconds now, DecisionSink& sink) {
        MILK_TRY(check_room(sink));
        if (m_tables.occupied == 0) return {};
        const UnitId unit = m_rule.victim(m_tables, now);
        if (unit >= m_tables.unit_count() || m_tables.units[unit] == no_entity)
            return milk::Error{milk::ErrorCode::InvalidArgument, "policy: the rule chose no victim", unit};
        take_off(unit, now, sink, Phase::Blocked);
        return {};
    }

    // Whether a unit is free now (a ready entity would be placed at once).
    [[nodiscard]] bool has_free_unit() const { return m_tables.occupied < unit_count(); }

    [[nodiscard]] milk::Result<void> block(EntityId entity, Nanoseconds now, DecisionSink& sink) {
        return stop_wanting(entity, now, sink, Phase::Blocked);
    }

    [[nodiscard]] milk::Result<void> leave(EntityId entity, Nanoseconds now, DecisionSink& sink) {
        return stop_wanting(entity, now, sink, Phase::Absent);
    }

    // Gives the unit up and queues again behind every waiter.
    [[nodiscard]] milk::Result<void> yield(EntityId entity, Nanoseconds now, DecisionSink& sink) {
        MILK_TRY(check_room(sink));
        MILK_TRY(check_entity(entity));
        EntityState& state = m_tables.entities[entity];
        if (state.phase != Phase::Placed)
            return milk::Error{milk::ErrorCode::InvalidArgument, "policy: only a placed entity can yield", entity};
        const UnitId unit = state.unit;
        vacate(unit, now);
        enqueue(entity, now);
        place(pick_waiter(), unit, now, sink);
        return {};
    }

    // The mechanism found nothing running on `unit`. If the books say an
    // entity was there, it stopped without an event (a lost wake-up, a
    // thread that died): it counts as blocked, and the unit goes to a waiter.
    [[nodiscard]] milk::Result<void> unit_idle(UnitId unit, Nanoseconds now, DecisionSink& sink) {
        MILK_TRY(check_room(sink));
        MILK_TRY(check_unit(unit));
        if (const EntityId gone = m_tables.units[unit]; gone != no_entity) {
            vacate(unit, now);
            m_tables.entities[gone].phase = Phase::Blocked;
        }
        if (m_tables.waiting > 0) place(pick_waiter(), unit, now, sink);
        return {};
    }

    // Time passed on `unit`: charge its entity, and preempt it when the
    // rule says a waiter goes first.
    [[nodiscard]] milk::Result<void> tick(UnitId unit, Nanoseconds now, DecisionSink& sink) {
        MILK_TRY(check_room(sink));
        MILK_TRY(check_unit(unit));
        const EntityId running = m_tables.units[unit];
        if (running == no_entity) {
            if (m_tables.waiting > 0) place(pick_waiter(), unit, now, sink);
            return {};
        }
        charge(running, now);
        if (m_tables.waiting == 0 || !m_rule.preempts(m_tables, unit, now)) return {};
        take_off(unit, now, sink, Phase::Waiting);
        place(pick_waiter(), unit, now, sink);
        return {};
    }

    [[nodiscard]] milk::Result<void> accessed(EntityId entity, Nanoseconds /*now*/) {
        MILK_TRY(check_entity(entity));
        EntityState& state = m_tables.entities[entity];
        if (state.phase != Phase::Placed)
            return milk::Error{milk::ErrorCode::InvalidArgument, "policy: an entity with no unit was accessed", entity};
        state.referenced = true;
        return {};
    }

    // A sample round ended: the mechanism has reported every entity it saw
    // accessed since the last round (for pages: since its last accessed-bit
    // sample). Rules that keep a history (aging.hpp) fold the round's
    // reference bits into it; for the others it changes nothing, so a
    // mechanism may report rounds to any policy.
    [[nodiscard]] milk::Result<void> round(Nanoseconds /*now*/) {
        if constexpr (requires(Rule& rule, Tables& tables) { rule.round(tables); }) m_rule.round(m_tables);
        return {};
    }

    // ---- what the books say --------------------------------------------------

    [[nodiscard]] std::uint32_t entity_capacity() const { return static_cast<std::uint32_t>(m_tables.entities.size()); }
    [[nodiscard]] std::uint32_t unit_count() const { return m_tables.unit_count(); }
    [[nodiscard]] UnitId unit_of(EntityId entity) const {
        return entity < entity_capacity() && m_tables.entities[entity].phase == Phase::Placed ? m_tables.entities[entity].unit
                                                                                              : no_unit;
    }
    [[nodiscard]] EntityId entity_on(UnitId unit) const { return unit < unit_count() ? m_tables.units[unit] : no_entity; }
    [[nodiscard]] Phase phase_of(EntityId entity) const {
        return entity < entity_capacity() ? m_tables.entities[entity].phase : Phase::Absent;
    }
    [[nodiscard]] std::uint32_t waiting() const { return m_tables.waiting; }
    [[nodiscard]] const Tables& tables() const { return m_tables; }
    [[nodiscard]] const Rule& rule() const { return m_rule; }

private:
    explicit PolicyOf(Rule rule) : m_rule(std::move(rule)) {}

    [[nodiscard]] milk::Result<void> check_entity(EntityId entity) const {
        if (entity >= entity_capacity())
            return milk::Error{milk::ErrorCode::InvalidArgument, "policy: entity out of range", entity};
        return {};
    }
    [[nodiscard]] milk::Result<void> check_unit(UnitId unit) const {
        if (unit >= unit_count()) return milk::Error{milk::ErrorCode::InvalidArgument, "policy: unit out of range", unit};
        return {};
    }
    [[nodiscard]] static milk::Result<void> check_room(const DecisionSink& sink) {
        if (!sink.has_room_for_an_event())
            return milk::Error{milk::ErrorCode::InvalidArgument, "policy: no room for an event's decisions", 0};
        return {};
    }

    [[nodiscard]] milk::Result<void> stop_wanting(EntityId entity, Nanoseconds now, DecisionSink& sink, Phase after) {
        MILK_TRY(check_room(sink));
        MILK_TRY(check_entity(entity));
        EntityState& state = m_tables.entities[entity];
        switch (state.phase) {
        case Phase::Absent:
            return milk::Error{milk::ErrorCode::InvalidArgument, "policy: an event for an entity that never arrived",
                               entity};
        case Phase::Blocked: break;
        case Phase::Waiting: dequeue(entity); break;
        case Phase::Placed: {
            const UnitId unit = state.unit;
            vacate(unit, now);
            if (m_tables.waiting > 0) place(pick_waiter(), unit, now, sink);
            break;
        }
        }
        state.phase = after;
        return {};
    }

    // The lowest free unit, or no_unit.
    [[nodiscard]] UnitId free_unit() {
        if (m_tables.occupied == unit_count()) return no_unit;
        for (UnitId u = m_tables.free_hint; u < unit_count(); ++u) {
            if (m_tables.units[u] == no_entity) {
                m_tables.free_hint = u;
                return u;
            }
        }
        return no_unit;  // not reached while `occupied` is right
    }

    // The rule's choice, checked: a rule that names a non-waiter is our bug,
    // and placing it would corrupt the books, so the head of the queue goes.
    EntityId pick_waiter() {
        const EntityId chosen = m_rule.pick(m_tables);
        if (chosen < entity_capacity() && m_tables.entities[chosen].phase == Phase::Waiting) return chosen;
        return m_tables.waiting_head;
    }

    void enqueue(EntityId entity, Nanoseconds now) {
        EntityState& state = m_tables.entities[entity];
        state.phase = Phase::Waiting;
        state.ready_since = now;
        state.next = no_entity;
        state.previous = m_tables.waiting_tail;
        if (m_tables.waiting_tail != no_entity) m_tables.entities[m_tables.waiting_tail].next = entity;
        else m_tables.waiting_head = entity;
        m_tables.waiting_tail = entity;
        ++m_tables.waiting;
    }

    void dequeue(EntityId entity) {
        EntityState& state = m_tables.entities[entity];
        if (state.previous != no_entity) m_tables.entities[state.previous].next = state.next;
        else m_tables.waiting_head = state.next;
        if (state.next != no_entity) m_tables.entities[state.next].previous = state.previous;
        else m_tables.waiting_tail = state.previous;
        state.previous = state.next = no_entity;
        --m_tables.waiting;
        refresh_min_vruntime();
    }

    void place(EntityId entity, UnitId unit, Nanoseconds now, DecisionSink& sink) {
        dequeue(entity);
        EntityState& state = m_tables.entities[entity];
        state.phase = Phase::Placed;
        state.unit = unit;
        state.placed_at = now;
        state.charged_at = now;
        state.placement = ++m_tables.placements;
        // Placing is a use: a page is placed because it was touched.
        state.referenced = true;
        m_tables.units[unit] = entity;
        ++m_tables.occupied;
        sink.push(Decision{DecisionKind::Place, entity, unit});
    }

    // Takes the entity on `unit` off (preempt, evict) and tells the mechanism.
    void take_off(UnitId unit, Nanoseconds now, DecisionSink& sink, Phase after) {
        const EntityId entity = m_tables.units[unit];
        vacate(unit, now);
        sink.push(Decision{DecisionKind::TakeOff, entity, unit});
        if (after == Phase::Waiting) enqueue(entity, now);
        else m_tables.entities[entity].phase = after;
    }

    // The unit's entity leaves it (charged for its time); the unit is free.
    void vacate(UnitId unit, Nanoseconds now) {
        const EntityId entity = m_tables.units[unit];
        charge(entity, now);
        EntityState& state = m_tables.entities[entity];
        state.unit = no_unit;
        state.phase = Phase::Blocked;
        m_tables.units[unit] = no_entity;
        --m_tables.occupied;
        if (unit < m_tables.free_hint) m_tables.free_hint = unit;
    }

    // Adds the time since the last charge to the entity's service.
    void charge(EntityId entity, Nanoseconds now) {
        EntityState& state = m_tables.entities[entity];
        const Nanoseconds ran = now > state.charged_at ? now - state.charged_at : 0;
        state.charged_at = now;
        state.service += ran;
        state.vruntime += ran * default_weight / state.weight;
        refresh_min_vruntime();
    }

    void refresh_min_vruntime() {
        std::uint64_t least = ~std::uint64_t{0};
        m_tables.for_each_waiting([&](EntityId, const EntityState& state) {
            if (state.vruntime < least) least = state.vruntime;
        });
        for (UnitId u = 0; u < unit_count(); ++u) {
            const EntityId on = m_tables.units[u];
            if (on != no_entity && m_tables.entities[on].vruntime < least) least = m_tables.entities[on].vruntime;
        }
        if (least != ~std::uint64_t{0} && least > m_tables.min_vruntime) m_tables.min_vruntime = least;
    }

    Rule m_rule;
    Tables m_tables;
};

}  // namespace components::policy
