// First come, first served: waiters run in the order they became ready and
// are never preempted; when an urgent entity needs a unit, the one placed
// first leaves. Over pages that is FIFO replacement, Belady's anomaly and all.
#pragma once

#include "policy_core.hpp"

namespace components::policy {

struct FifoRule {
    [[nodiscard]] EntityId pick(const Tables& tables) const { return tables.waiting_head; }
    [[nodiscard]] bool preempts(const Tables& /*tables*/, UnitId /*unit*/, Nanoseconds /*now*/) const { return false; }
    [[nodiscard]] UnitId victim(const Tables& tables, Nanoseconds /*now*/) const { return tables.oldest_resident(); }
};

using Fifo = PolicyOf<FifoRule>;
static_assert(Policy<Fifo>);

}  // namespace components::policy
