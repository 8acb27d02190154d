// Replays a page reference string against a policy, as a memory manager
// would see it with `frames` = the policy's units: the first reference to a
// page is its arrival, a reference to a page with no frame is a fault (an
// urgent ready, which may evict), a reference to a resident page is an
// access (its reference bit). It counts the faults and reports each eviction
// in order: what the textbooks tabulate for FIFO, CLOCK and the rest, and
// what the policy tests and milk.ko's self-test check.
//
// Every decision is checked against the rules a mechanism relies on (a
// fault places the faulting page; only a resident page is evicted), so a
// broken policy shows up as an error, not as a wrong count.
#pragma once

#include "policy.hpp"

#include <milk/result.hpp>

#include <array>
#include <cstdint>
#include <span>

namespace components::policy {

struct ReplayCounts {
    std::uint32_t faults = 0;
    std::uint32_t evictions = 0;
};

// `on_evict(EntityId page, std::uint32_t at)`: called for each eviction, `at`
// being the index of the reference that caused it.
template <Policy P, typename OnEvict>
[[nodiscard]] milk::Result<ReplayCounts> replay_references(P& policy, std::span<const EntityId> references,
                                                            OnEvict&& on_evict) {
    ReplayCounts counts;
    std::array<Decision, DecisionSink::per_event> room{};
    for (std::uint32_t at = 0; at < references.size(); ++at) {
        const EntityId page = references[at];
        // One reference per nanosecond of the policy's clock.
        const Nanoseconds now = at + 1;
        if (page >= policy.entity_capacity())
            return milk::Error{milk::ErrorCode::InvalidArgument, "replay: page out of the policy's range", page};
        if (policy.unit_of(page) != no_unit) {
            MILK_TRY(policy.accessed(page, now));
            continue;
        }
        // A page the policy does not know arrives first; one it evicted is
        // known and blocked, and arrives again only by faulting.
        if (policy.phase_of(page) == Phase::Absent) MILK_TRY(policy.arrive(page, default_weight, now));
        DecisionSink sink(room);
        MILK_TRY(policy.ready(page, Urgency::Now, now, sink));
        ++counts.faults;
        bool placed = false;
        for (const Decision& decision : sink.decisions()) {
            if (decision.kind == DecisionKind::TakeOff) {
                if (placed || decision.entity == page)
                    return milk::Error{milk::ErrorCode::InvalidArgument, "replay: an eviction out of order", at};
                ++counts.evictions;
                on_evict(decision.entity, at);
                continue;
            }
            if (decision.entity != page || placed)
                return milk::Error{milk::ErrorCode::InvalidArgument, "replay: a fault placed another page", at};
            placed = true;
        }
        if (!placed || policy.unit_of(page) == no_unit)
            return milk::Error{milk::ErrorCode::InvalidArgument, "replay: a fault left its page without a frame", at};
    }
    return counts;
}

}  // namespace components::policy
