#include "policy_self_test.hpp"

#include "policy/clock.hpp"
#include "policy/fair_share.hpp"
#include "policy/fifo.hpp"
#include "policy/least_attained.hpp"
#include "policy/replay.hpp"
#include "policy/round_robin.hpp"

#include <cstdint>

namespace milk::kernel {
namespace {

namespace policy = components::policy;

// Belady's string; CLOCK's, where page 2 is referenced again after the
// hand cleared its bit (tests/components/policy_test.cpp has the same).
constexpr policy::EntityId belady[] = {1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5};
constexpr policy::EntityId second_chance[] = {1, 2, 3, 4, 2, 5, 2, 6};

struct Expected {
    std::uint32_t faults;
    policy::EntityId evicted[8];
    std::uint32_t evictions;
};

template <typename P>
Result<int> replay_expecting(std::span<const policy::EntityId> references, std::uint32_t frames,
                             const Expected& expected) {
    auto made = P::try_create({8, frames});
    if (!made.ok()) return made.error();
    P chosen = std::move(made).value();
    std::uint32_t seen = 0;
    bool order_ok = true;
    auto counts = MILK_TRY(policy::replay_references(chosen, references, [&](policy::EntityId page, std::uint32_t) {
        if (seen >= expected.evictions || expected.evicted[seen] != page) order_ok = false;
        ++seen;
    }));
    if (counts.faults != expected.faults)
        return Error{ErrorCode::InvalidArgument, "policy self-test: wrong fault count", counts.faults};
    if (!order_ok || seen != expected.evictions)
        return Error{ErrorCode::InvalidArgument, "policy self-test: wrong evictions", seen};
    return static_cast<int>(references.size());
}

// A longer string (a linear congruential sequence over 32 pages, 8 frames):
// replay_references checks every decision against the rules.
template <typename P>
Result<int> replay_rules() {
    policy::EntityId references[256];
    std::uint32_t state = 12345;
    for (policy::EntityId& page : references) {
        state = state * 1103515245u + 12345u;
        page = (state >> 16) % 32;
    }
    auto made = P::try_create({32, 8});
    if (!made.ok()) return made.error();
    P chosen = std::move(made).value();
    auto counts = MILK_TRY(policy::replay_references(chosen, std::span<const policy::EntityId>(references),
                                                     [](policy::EntityId, std::uint32_t) {}));
    if (counts.evictions + 8 != counts.faults)
        return Error{ErrorCode::InvalidArgument, "policy self-test: a fault evicted more or less than one page",
                     counts.faults};
    return static_cast<int>(sizeof references / sizeof references[0]);
}

}  // namespace

Result<int> run_policy_self_test() {
    int replayed = 0;
    replayed += MILK_TRY(replay_expecting<policy::Fifo>(belady, 3, {9, {1, 2, 3, 4, 1, 2}, 6}));
    replayed += MILK_TRY(replay_expecting<policy::Fifo>(belady, 4, {10, {1, 2, 3, 4, 5, 1}, 6}));
    replayed += MILK_TRY(replay_expecting<policy::Clock>(second_chance, 3, {6, {1, 3, 4}, 3}));
    replayed += MILK_TRY(replay_rules<policy::Fifo>());
    replayed += MILK_TRY(replay_rules<policy::RoundRobin>());
    replayed += MILK_TRY(replay_rules<policy::FairShare>());
    replayed += MILK_TRY(replay_rules<policy::Clock>());
    replayed += MILK_TRY(replay_rules<policy::LeastAttained>());
    return replayed;
}

}  // namespace milk::kernel
