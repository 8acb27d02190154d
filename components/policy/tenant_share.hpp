// A weighted share of the units between groups of entities: tenants of a
// shared pool of frames (each tenant a region, its pages one group), or
// cgroups of threads sharing CPUs. Fairness is between groups, not between
// entities: a group of weight 3 is owed three times the units of a group of
// weight 1, however many entities each has.
//
// A group's share is units x its weight / the weights of every active
// group in all (a group is active while it holds a unit or has a waiter:
// a tenant that wants nothing leaves its share to the others, so the pool
// is never idle for fairness' sake). A group's weight is its members'
// (the mechanism gives every entity of a group the same one at arrive).
//
// Over pages the victim of a fault is a page of the group furthest over its
// share (the most units above it; among equals, the faulting page's own
// group, else the lower group number), and within that group the page
// placed first (FIFO). A tenant that faults while under its share so takes
// frames from the one over it, one for each fault, until both hold their
// shares; a tenant at its share replaces its own pages.
//
// Over threads: the next waiter is one of the group furthest under its
// share, and on a tick the running thread gives way when its group is over
// its share and the waiter's is under.
//
// Groups are numbered below max_groups; an entity in a larger group counts
// in the last one. Weights count up to max_weight (2^20; more counts as
// that), so that units x the weights of every group stays well inside 64
// bits. The rule keeps its counts in arrays of that size, so a
// victim costs a pass over the units and the waiters, nothing allocated.
#pragma once

#include "policy_core.hpp"

#include <array>
#include <cstdint>

namespace components::policy {

class TenantShareRule {
public:
    static constexpr std::uint32_t max_groups = 16;
    static constexpr std::uint32_t max_weight = 1u << 20;

    [[nodiscard]] EntityId pick(const Tables& tables) const {
        const Shares shares = count(tables);
        EntityId best = no_entity;
        std::int64_t best_excess = 0;
        tables.for_each_waiting([&](EntityId entity, const EntityState& state) {
            const std::int64_t excess = shares.excess(group_of(state));
            if (best == no_entity || excess < best_excess) {
                best = entity;
                best_excess = excess;
            }
        });
        return best;
    }

    [[nodiscard]] bool preempts(const Tables& tables, UnitId unit, Nanoseconds /*now*/) const {
        const EntityId next = pick(tables);
        if (next == no_entity) return false;
        const Shares shares = count(tables);
        return shares.excess(group_of(tables.entities[tables.units[unit]])) > 0 &&
               shares.excess(group_of(tables.entities[next])) < 0;
    }

    [[nodiscard]] UnitId victim(const Tables& tables, Nanoseconds /*now*/) const {
        const Shares shares = count(tables);
        // The urgent entity is the newest waiter: among groups equally over,
        // its own gives the frame (it replaces its own page rather than
        // take one from a group no further over than itself).
        const std::uint32_t faulting =
            tables.waiting_tail == no_entity ? max_groups : group_of(tables.entities[tables.waiting_tail]);
        std::uint32_t over = max_groups;
        for (std::uint32_t group = 0; group < max_groups; ++group) {
            if (shares.held[group] == 0) continue;
            if (over == max_groups || shares.excess(group) > shares.excess(over) ||
                (shares.excess(group) == shares.excess(over) && group == faulting))
                over = group;
        }
        if (over == max_groups) return no_unit;
        return tables.greatest_resident([&](const EntityState& state) { return group_of(state) == over ? 1 : 0; });
    }

    [[nodiscard]] static std::uint32_t group_of(const EntityState& state) {
        return state.group < max_groups ? state.group : max_groups - 1;
    }

private:
    struct Shares {
        std::array<std::uint32_t, max_groups> held{};
        std::array<std::uint32_t, max_groups> weight{};
        std::uint64_t total_weight = 0;
        std::uint32_t units = 0;

        // How far over its share a group is, in units x the total weight
        // (integers: held x total - units x weight).
        [[nodiscard]] std::int64_t excess(std::uint32_t group) const {
            return static_cast<std::int64_t>(std::uint64_t{held[group]} * total_weight) -
                   static_cast<std::int64_t>(std::uint64_t{units} * weight[group]);
        }
    };

    [[nodiscard]] static Shares count(const Tables& tables) {
        Shares shares;
        shares.units = tables.unit_count();
        const auto activate = [&](const EntityState& state) {
            const std::uint32_t group = group_of(state);
            if (shares.weight[group] == 0) {
                shares.weight[group] = state.weight < max_weight ? state.weight : max_weight;
                shares.total_weight += shares.weight[group];
            }
            return group;
        };
        for (UnitId unit = 0; unit < tables.unit_count(); ++unit)
            if (tables.units[unit] != no_entity) ++shares.held[activate(tables.entities[tables.units[unit]])];
        tables.for_each_waiting([&](EntityId, const EntityState& state) { static_cast<void>(activate(state)); });
        return shares;
    }
};

using TenantShare = PolicyOf<TenantShareRule>;
static_assert(Policy<TenantShare>);

}  // namespace components::policy
