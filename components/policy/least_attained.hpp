// Least attained service, the latency-oriented policy: the waiter that has
// had the least service so far goes next, and a running entity gives way on
// a tick once it has had a quantum more than that waiter. Nobody knows a
// request's length in advance, but a request that has already run long is
// likely a long one: so in a dispersive workload (many requests of tens of
// microseconds among a few of milliseconds, the case Shinjuku and ghOSt
// were evaluated on) short requests overtake long ones instead of queueing
// behind them, without the scheduler knowing which is which. Over pages the
// victim is the resident with the most service, the longest resident.
#pragma once

#include "policy_core.hpp"

namespace components::policy {

struct LeastAttainedRule {
    Nanoseconds quantum = 50'000;  // 50 us: a few short requests' worth

    [[nodiscard]] EntityId pick(const Tables& tables) const {
        return tables.least_waiting([](const EntityState& state) { return state.service; });
    }
    [[nodiscard]] bool preempts(const Tables& tables, UnitId unit, Nanoseconds /*now*/) const {
        const EntityId next = pick(tables);
        return tables.entities[tables.units[unit]].service >= tables.entities[next].service + quantum;
    }
    [[nodiscard]] UnitId victim(const Tables& tables, Nanoseconds /*now*/) const {
        return tables.greatest_resident([](const EntityState& state) { return state.service; });
    }
};

using LeastAttained = PolicyOf<LeastAttainedRule>;
static_assert(Policy<LeastAttained>);

}  // namespace components::policy
