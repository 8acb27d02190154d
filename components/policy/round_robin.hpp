// Round robin: first come, first served, but an entity that has held its
// unit for a quantum gives way to the next waiter and queues again at the
// back. Over pages (where faults never wait) it evicts as FIFO does: the
// quantum only matters when entities can wait, as threads do.
#pragma once

#include "policy_core.hpp"

namespace components::policy {

struct RoundRobinRule {
    Nanoseconds quantum = 10'000'000;  // 10 ms, Linux's old default slice

    [[nodiscard]] EntityId pick(const Tables& tables) const { return tables.waiting_head; }
    [[nodiscard]] bool preempts(const Tables& tables, UnitId unit, Nanoseconds now) const {
        return now - tables.entities[tables.units[unit]].placed_at >= quantum;
    }
    [[nodiscard]] UnitId victim(const Tables& tables, Nanoseconds /*now*/) const { return tables.oldest_resident(); }
};

using RoundRobin = PolicyOf<RoundRobinRule>;
static_assert(Policy<RoundRobin>);

}  // namespace components::policy
