// The sOS policy interface: entities onto units.
//
// sOS's observation is that a memory manager is a scheduler: it places
// pages onto frames as a CPU scheduler places threads onto cores, evicts as
// the scheduler preempts, and is woken by a fault as the scheduler is by a
// tick. So milk has one interface for both, and every policy written
// against it drives either: the scheduler component gives it threads and
// CPUs, the memory manager virtual pages and frames (docs/policies.md has
// the whole correspondence).
//
// A mechanism (the part that can actually run a thread or map a page)
// reports events; the policy answers with decisions, written into a
// DecisionSink the mechanism provides and then applies:
//
//   event (mechanism -> policy)        threads, CPUs          pages, frames
//   arrive(e, weight)                  thread created         page of a managed region
//   ready(e, urgency)                  wake-up (CanWait)      fault (Now)
//   block(e)                           blocked                released (MADV_DONTNEED)
//   yield(e)                           sched_yield            -
//   leave(e)                           exit                   region unmapped
//   unit_idle(u)                       CPU found nothing      frame found empty
//   tick(u)                            timer tick             sampling period
//   accessed(e)                        -                      accessed bit seen set
//
//   decision (policy -> mechanism)
//   place(e, u)                        run e on CPU u         map e onto frame u
//   take_off(e, u)                     preempt                evict (save, then drop)
//
// Plain C++ over fixed tables: no exceptions, no std::vector, nothing the
// kernel build lacks, so the same policy objects run in milk.ko.
#pragma once

#include <milk/result.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

namespace components::policy {

// A thread or a virtual page: an index below the policy's entity capacity.
using EntityId = std::uint32_t;
// A CPU or a frame: an index below the policy's unit count.
using UnitId = std::uint32_t;
// The mechanism's clock. Only differences matter; it must not go back.
using Nanoseconds = std::uint64_t;

inline constexpr EntityId no_entity = 0xffffffffu;
inline constexpr UnitId no_unit = 0xffffffffu;
// The weight a fair share gives an entity that asked for nothing else
// (as Linux's nice 0 is 1024).
inline constexpr std::uint32_t default_weight = 1024;

// Where an entity is in its life.
enum class Phase : std::uint8_t {
    Absent,   // never arrived, or left
    Blocked,  // known, wants no unit (a blocked thread, a page not in memory)
    Waiting,  // wants a unit, has none yet
    Placed,   // on a unit
};

// How soon an entity that became ready must have a unit.
enum class Urgency : std::uint8_t {
    // A thread that woke up: it may wait its turn in the policy's queue.
    CanWait,
    // A page that faulted: its thread is stopped until the page has a
    // frame, so the policy places it at once and evicts a victim when every
    // frame is taken.
    Now,
};

enum class DecisionKind : std::uint8_t {
    Place,    // run the entity on the unit / map the page onto the frame
    TakeOff,  // preempt it / evict it; the unit is free afterwards
};

struct Decision {
    DecisionKind kind;
    EntityId entity;
    UnitId unit;
    friend bool operator==(const Decision&, const Decision&) = default;
};

// Where a policy writes its decisions: room the mechanism owns (a batch it
// will send or apply). One event makes at most `per_event` decisions (take
// a victim off its unit, place the newcomer), and every event checks for
// that much room first, so a sink never overflows half way through one.
class DecisionSink {
public:
    static constexpr std::size_t per_event = 2;

    explicit DecisionSink(std::span<Decision> room) : m_room(room) {}

    [[nodiscard]] bool has_room_for_an_event() const { return m_room.size() - m_count >= per_event; }
    // The decisions written so far, in the order they must be applied.
    [[nodiscard]] std::span<const Decision> decisions() const { return m_room.first(m_count); }
    [[nodiscard]] std::size_t size() const { return m_count; }
    void clear() { m_count = 0; }

    // Only the policy core writes, after has_room_for_an_event().
    void push(Decision decision) { m_room[m_count++] = decision; }

private:
    std::span<Decision> m_room;
    std::size_t m_count = 0;
};

// What a policy is: the events above, each fallible (a mechanism that breaks
// the rules, say reports a page that never arrived, gets an error and no
// decision), and its capacities. PolicyOf<Rule> (policy_core.hpp) is the one
// implementation; the rules differ only in whom they pick.
template <typename P>
concept Policy = requires(P& policy, const P& reader, EntityId entity, UnitId unit, std::uint32_t weight,
                          Urgency urgency, Nanoseconds now, DecisionSink& sink) {
    { policy.arrive(entity, weight, now) } -> std::same_as<milk::Result<void>>;
    { policy.ready(entity, urgency, now, sink) } -> std::same_as<milk::Result<void>>;
    { policy.block(entity, now, sink) } -> std::same_as<milk::Result<void>>;
    { policy.yield(entity, now, sink) } -> std::same_as<milk::Result<void>>;
    { policy.leave(entity, now, sink) } -> std::same_as<milk::Result<void>>;
    { policy.unit_idle(unit, now, sink) } -> std::same_as<milk::Result<void>>;
    { policy.tick(unit, now, sink) } -> std::same_as<milk::Result<void>>;
    { policy.accessed(entity, now) } -> std::same_as<milk::Result<void>>;
    { reader.entity_capacity() } -> std::same_as<std::uint32_t>;
    { reader.unit_count() } -> std::same_as<std::uint32_t>;
    { reader.unit_of(entity) } -> std::same_as<UnitId>;
    { reader.entity_on(unit) } -> std::same_as<EntityId>;
    { reader.phase_of(entity) } -> std::same_as<Phase>;
};

}  // namespace components::policy
