// A scheduling policy written by hand, for the tests of a policy that
// misbehaves. It answers Hello with Welcome, then serves batches: for each
// one, `answer(ServerDeciding&&, const std::vector<Event>& seen, seq)` gets
// the endpoint that must reply, every event of this batch and the ones
// before, and the batch's number, and returns the endpoint of the next batch (std::optional<
// ServerIdle>), or nullopt to stop serving.
#pragma once

#include "sched/sched_component.hpp"

#include <milk/channel.hpp>

#include <cstdint>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

// GCC 12's maybe-uninitialized false positive on std::optional<endpoint>
// (GCC bug 80635), as in components/policy/batch_client.hpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace milk::test {

template <typename Answer>
std::thread rogue_policy(milk::ChannelEnd&& end, Answer answer) {
    namespace Sched = milk::sched::Sched;
    using components::sched::ServerBatching;
    using components::sched::ServerDeciding;
    using components::sched::ServerGreeting;
    using components::sched::ServerIdle;
    return std::thread([end = std::move(end), answer]() mutable {
        auto server = Sched::Contract::server(std::move(end));
        auto greeting = std::move(server).receive([](Sched::Hello&&, ServerGreeting&& next) { return std::move(next); });
        if (!greeting.ok()) return;
        auto welcomed = std::move(greeting).value().send(Sched::Welcome{});
        if (!welcomed.ok()) return;
        std::optional<ServerIdle> idle{std::move(welcomed).value()};
        std::vector<milk::sched::Event> seen;
        auto keep = [&](const Sched::Events& events) {
            for (const auto& event : events.events)
                if (event.kind != milk::sched::EventKind::none) seen.push_back(event);
        };
        while (idle) {
            auto batching = std::move(*idle).receive(
                [&](Sched::Events&& events, ServerBatching&& next) {
                    keep(events);
                    return std::optional{std::move(next)};
                },
                [](Sched::Bye&&) { return std::optional<ServerBatching>{}; });
            idle.reset();
            if (!batching.ok() || !batching.value()) return;
            std::optional<ServerBatching> more = std::move(batching).value();
            std::optional<ServerDeciding> deciding;
            std::uint64_t seq = 0;
            // The rest of the batch, up to its Commit.
            while (more) {
                struct Next {
                    std::optional<ServerBatching> batching;
                    std::optional<ServerDeciding> deciding;
                };
                auto next = std::move(*more).receive(
                    [&](Sched::Events&& events, ServerBatching&& again) {
                        keep(events);
                        return Next{std::move(again), std::nullopt};
                    },
                    [&](Sched::Commit&& commit, ServerDeciding&& reply) {
                        seq = commit.seq;
                        return Next{std::nullopt, std::move(reply)};
                    });
                more.reset();
                if (!next.ok()) return;
                more = std::move(next.value().batching);
                deciding = std::move(next.value().deciding);
            }
            idle = answer(std::move(*deciding), seen, seq);
        }
    });
}

// The honest reply to batch `seq`: no decision at all.
inline std::optional<components::sched::ServerIdle> decide_nothing(components::sched::ServerDeciding&& deciding,
                                                                  std::uint64_t seq) {
    auto idle = std::move(deciding).send(milk::sched::Sched::Decided{seq});
    if (!idle.ok()) return std::nullopt;
    return std::move(idle).value();
}

}  // namespace milk::test

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
