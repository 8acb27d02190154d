// Aging, Tanenbaum's approximation of least-recently-used beyond CLOCK's one
// bit: every entity keeps an 8-bit age register. At the end of each sample
// round (PolicyOf::round) the register shifts right by one and the round's
// reference bit (set when the entity was placed or reported accessed) goes
// into its top bit; the bit is cleared for the next round. So the age
// orders entities by how recently and how often they were used over the
// last eight rounds: a page used in the last round beats one used in every
// round before it but not the last.
//
// Over pages the victim is the resident page with the smallest age, the
// current round's reference bit counting above all eight (it is what the
// next shift makes the top bit: a page placed or used since the last round
// is not evicted before one that was not); among equals the page placed
// first goes, as FIFO. Only a round clears the bit, so without rounds aging
// is FIFO; with them it tells a page used once eight rounds ago from one
// used in each.
//
// Over threads it is decay-usage scheduling, as the classic Unix
// schedulers' decayed CPU usage: a round is a scheduling period (the
// mechanism calls round() once per period), a thread reported active (or
// placed) during it gets the bit, and the waiter with the least recent use
// goes next; on a tick the running thread gives way to a waiter whose recent
// use is less than its own. Threads that ran little lately (interactive
// ones) overtake those that ran a lot, without anyone labelling them.
//
// A round ages every entity that has arrived, placed or not: a page away
// from memory, a thread waiting, is not being used, and its history decays
// the same. That costs a pass over the entity table per round.
#pragma once

#include "policy_core.hpp"

#include <cstdint>

namespace components::policy {

class AgingRule {
public:
    // The age with the current round's bit above it: what orders entities
    // between rounds.
    [[nodiscard]] static std::uint32_t recent_use(const EntityState& state) {
        return (state.referenced ? 0x100u : 0u) | state.age;
    }

    [[nodiscard]] EntityId pick(const Tables& tables) const { return tables.least_waiting(recent_use); }

    [[nodiscard]] bool preempts(const Tables& tables, UnitId unit, Nanoseconds /*now*/) const {
        const EntityId next = pick(tables);
        if (next == no_entity) return false;
        return recent_use(tables.entities[tables.units[unit]]) > recent_use(tables.entities[next]);
    }

    // The least recently used resident; the first placed among equals.
    [[nodiscard]] UnitId victim(const Tables& tables, Nanoseconds /*now*/) const {
        return tables.greatest_resident([](const EntityState& state) { return 0x1ffu - recent_use(state); });
    }

    // Shift every age right, the round's reference bit into the top.
    void round(Tables& tables) {
        for (std::uint32_t entity = 0; entity < tables.entities.size(); ++entity) {
            EntityState& state = tables.entities[entity];
            if (state.phase == Phase::Absent) continue;
            state.age = static_cast<std::uint8_t>((state.age >> 1) | (state.referenced ? 0x80u : 0u));
            state.referenced = false;
        }
        ++m_rounds;
    }

    // How many rounds the rule has seen: tests and diagnostics.
    [[nodiscard]] std::uint64_t rounds() const { return m_rounds; }

private:
    std::uint64_t m_rounds = 0;
};

using Aging = PolicyOf<AgingRule>;
static_assert(Policy<Aging>);

}  // namespace components::policy
