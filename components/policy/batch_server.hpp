// The policy side of a batched mechanism/policy contract: the scheduler's
// (contracts/sched.contract) and the memory manager's
// (contracts/mem.contract) are the same protocol over different events, as
// sOS says they should be, so one loop serves both:
//
//   Hello -> Welcome (or Refused, and the channel ends)
//   then, until Bye: Events... Commit -> Decisions... Decided
//
// `Shape` names one contract's types: its messages (Hello, Welcome,
// Refused, Events, Commit, Decisions, Decided, Bye), its server endpoints
// (ServerStart, ServerGreeting, ServerIdle, ServerBatching, ServerDeciding)
// and `stale_batch`, the text of the violation a message of another batch
// inside a batch is. `Books` is the component's state for one channel: it
// applies each event of a batch (an error is the mechanism breaking the
// contract's rules) and, on Commit, emits the decisions that take the
// mechanism to where the policy wants it.
//
// Freestanding like the policies: milk.ko serves these channels too.
#pragma once

#include <milk/result.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

// GCC 12 reports the std::optional<endpoint> locals below as maybe used
// uninitialized when it inlines the endpoints' moves (GCC bug 80635, as in
// batch_client.hpp; it showed once the memory manager had four rules
// inlining this loop). The endpoints are moved in and out only while
// engaged; the warning is off for this header alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace components::policy {

template <typename Shape, typename Books>
class BatchServer {
public:
    using ServerStart = typename Shape::ServerStart;
    using ServerGreeting = typename Shape::ServerGreeting;
    using ServerIdle = typename Shape::ServerIdle;
    using ServerBatching = typename Shape::ServerBatching;
    using ServerDeciding = typename Shape::ServerDeciding;
    using Hello = typename Shape::Hello;

    // Hello, then Welcome when `make_books(hello)` gives books (Refused,
    // made by `refusal()`, when it gives none), then batches until Bye.
    // Counts the batches answered in `batches`.
    template <typename MakeBooks, typename Refusal>
    [[nodiscard]] static milk::Result<void> serve(ServerStart&& server, MakeBooks&& make_books, Refusal&& refusal,
                                                  std::uint64_t& batches) {
        struct Greeted {
            Hello hello;
            std::optional<ServerGreeting> greeting;
        };
        auto greeted = MILK_TRY(std::move(server).receive(
            [](Hello&& hello, ServerGreeting&& next) { return Greeted{hello, std::move(next)}; }));
        std::optional<Books> books = make_books(greeted.hello);
        if (!books) {
            auto refused = std::move(*greeted.greeting).send(refusal());
            return refused.ok() ? milk::Result<void>{} : milk::Result<void>{refused.error()};
        }
        auto idle = MILK_TRY(std::move(*greeted.greeting).send(typename Shape::Welcome{}));
        return serve_batches(std::move(idle), *books, batches);
    }

private:
    // One receive in Idle or Batching: the next endpoint, whichever state it
    // is in, or none after Bye.
    struct Next {
        std::optional<ServerBatching> batching;
        std::optional<ServerDeciding> deciding;
        std::uint64_t seq = 0;
    };

    static milk::Result<void> serve_batches(ServerIdle&& first, Books& books, std::uint64_t& batches) {
        std::optional<ServerIdle> idle{std::move(first)};
        for (;;) {
            // Idle: a batch starts, or the mechanism says goodbye.
            milk::Result<void> applied{};
            auto started = MILK_TRY(std::move(*idle).receive(
                [&](typename Shape::Events&& events, ServerBatching&& next) {
                    applied = apply_all(books, events);
                    return Next{std::move(next), std::nullopt, events.seq};
                },
                [](typename Shape::Bye&&) { return Next{}; }));
            idle.reset();
            if (!applied.ok()) return std::move(*started.batching).fail(applied.error());
            if (!started.batching) return {};  // Bye
            const std::uint64_t seq = started.seq;
            // Batching: more events of the same batch, until Commit.
            std::optional<ServerBatching> batching = std::move(started.batching);
            std::optional<ServerDeciding> deciding;
            while (batching) {
                auto next = MILK_TRY(std::move(*batching).receive(
                    [&](typename Shape::Events&& events, ServerBatching&& more) {
                        applied = events.seq == seq ? apply_all(books, events) : stale_batch(events.seq);
                        return Next{std::move(more), std::nullopt, events.seq};
                    },
                    [&](typename Shape::Commit&& commit, ServerDeciding&& answer) {
                        if (commit.seq != seq) applied = stale_batch(commit.seq);
                        return Next{std::nullopt, std::move(answer), commit.seq};
                    }));
                if (!applied.ok()) {
                    // The mechanism broke a rule: it learns which as the
                    // channel's close reason.
                    if (next.batching) return std::move(*next.batching).fail(applied.error());
                    return std::move(*next.deciding).fail(applied.error());
                }
                batching = std::move(next.batching);
                deciding = std::move(next.deciding);
            }
            ++batches;
            idle.emplace(MILK_TRY(answer(std::move(*deciding), books, seq)));
        }
    }

    static milk::Result<void> apply_all(Books& books, const typename Shape::Events& events) {
        for (const auto& event : events.events) MILK_TRY(books.apply(event, events.now));
        return {};
    }
    static milk::Result<void> stale_batch(std::uint64_t seq) {
        return milk::Error{milk::ErrorCode::ProtocolViolation, Shape::stale_batch, static_cast<std::int64_t>(seq)};
    }

    // Decisions, as many to a message as it holds, then Decided.
    static milk::Result<ServerIdle> answer(ServerDeciding&& first, Books& books, std::uint64_t seq) {
        using Decisions = typename Shape::Decisions;
        std::optional<ServerDeciding> deciding{std::move(first)};
        Decisions pending{seq, {}};
        std::size_t filled = 0;
        milk::Result<void> sent{};
        books.commit([&](const auto& decision) {
            if (!sent.ok()) return;
            pending.decisions[filled++] = decision;
            if (filled < pending.decisions.size()) return;
            auto next = std::move(*deciding).send(pending);
            deciding.reset();
            if (!next.ok()) {
                sent = next.error();
                return;
            }
            deciding.emplace(std::move(next).value());
            pending = Decisions{seq, {}};
            filled = 0;
        });
        MILK_TRY(std::move(sent));
        if (filled > 0) deciding.emplace(MILK_TRY(std::move(*deciding).send(pending)));
        return std::move(*deciding).send(typename Shape::Decided{seq});
    }
};

}  // namespace components::policy

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
