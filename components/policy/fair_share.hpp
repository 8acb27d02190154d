// Weighted fair share, as CFS does it: every entity accrues virtual runtime,
// its service scaled by default_weight / weight, and the one furthest behind
// goes next. On a tick the running entity gives way once it is more than a
// granularity ahead of the furthest-behind waiter, so over time each gets
// service in proportion to its weight. Over pages the victim is the
// resident furthest ahead: memory shared by weight.
#pragma once

#include "policy_core.hpp"

namespace components::policy {

struct FairShareRule {
    // How far ahead the running entity may get before it is preempted:
    // larger means fewer switches, coarser fairness (CFS: about 1-3 ms).
    Nanoseconds granularity = 3'000'000;

    [[nodiscard]] EntityId pick(const Tables& tables) const {
        return tables.least_waiting([](const EntityState& state) { return state.vruntime; });
    }
    [[nodiscard]] bool preempts(const Tables& tables, UnitId unit, Nanoseconds /*now*/) const {
        const EntityId next = pick(tables);
        const std::uint64_t running = tables.entities[tables.units[unit]].vruntime;
        return running > tables.entities[next].vruntime + granularity;
    }
    [[nodiscard]] UnitId victim(const Tables& tables, Nanoseconds /*now*/) const {
        return tables.greatest_resident([](const EntityState& state) { return state.vruntime; });
    }
};

using FairShare = PolicyOf<FairShareRule>;
static_assert(Policy<FairShare>);

}  // namespace components::policy
