// CLOCK, the second-chance algorithm: a hand sweeps the units in a circle;
// an entity whose reference bit is set loses the bit and stays (its second
// chance), the first one found without it goes. Entities get the bit when
// placed and whenever the mechanism reports them accessed. Over pages it
// approximates least-recently-used with one bit per page, as Linux's and
// the BSDs' page daemons do; over threads a tick is the hand's step, so a
// thread keeps its CPU while it keeps being reported active and otherwise
// yields to a waiter within two ticks.
#pragma once

#include "policy_core.hpp"

namespace components::policy {

class ClockRule {
public:
    [[nodiscard]] EntityId pick(const Tables& tables) const { return tables.waiting_head; }

    // A tick on `unit` is the hand passing it.
    [[nodiscard]] bool preempts(Tables& tables, UnitId unit, Nanoseconds /*now*/) const {
        EntityState& state = tables.entities[tables.units[unit]];
        if (!state.referenced) return true;
        state.referenced = false;
        return false;
    }

    // At most two turns: the first clears every bit it passes, so the
    // second finds an entity without one.
    [[nodiscard]] UnitId victim(Tables& tables, Nanoseconds /*now*/) {
        const std::uint32_t units = tables.unit_count();
        for (std::uint32_t step = 0; step < 2 * units; ++step) {
            const UnitId unit = m_hand;
            m_hand = (m_hand + 1) % units;
            const EntityId entity = tables.units[unit];
            if (entity == no_entity) continue;
            EntityState& state = tables.entities[entity];
            if (!state.referenced) return unit;
            state.referenced = false;
        }
        return no_unit;
    }

    [[nodiscard]] UnitId hand() const { return m_hand; }

private:
    UnitId m_hand = 0;
};

using Clock = PolicyOf<ClockRule>;
static_assert(Policy<Clock>);

}  // namespace components::policy
