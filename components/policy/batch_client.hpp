// The mechanism's side of a batched mechanism/policy contract (the
// scheduler's, the memory manager's): the client twin of batch_server.hpp.
//
//   auto client = MILK_TRY(Client::try_connect(std::move(endpoint), hello, timeout));
//   client.report(event);                                   // as things happen
//   auto decisions = MILK_TRY(client.commit(now, timeout)); // one batch, its answer
//   for (const auto& d : decisions) ...                     // apply
//
// The policy is a peer like any other: commit() checks every decision it
// gets (the batch's sequence number, and whatever `Shape::check` says of
// each: units and entities in range, a known kind) and fails with
// ProtocolViolation otherwise, so that the mechanism can close the channel
// and fall back to its own policy. What the decisions mean for entities that
// changed since (stale decisions) only the mechanism knows.
//
// `Shape` names the contract's messages and client endpoints, its texts (a
// `prefix` such as "sched: "), how a Refused says what the policy takes
// (`refusal_detail`), how many decisions a batch may need
// (`max_decisions(hello)`) and which decisions are valid (`check`).
#pragma once

#include <milk/fixed_array.hpp>
#include <milk/result.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

// GCC 12 reports the std::optional<endpoint> locals below as maybe used
// uninitialized when it inlines the endpoints' moves (GCC bug 80635: it
// cannot see that an empty optional's storage is never read). The endpoints
// are moved in and out only while engaged; the warning is off for this
// header alone.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace components::policy {

template <typename Shape>
class BatchClient {
public:
    using Hello = typename Shape::Hello;
    using Event = typename Shape::Event;
    using Decision = typename Shape::Decision;
    using ClientStart = typename Shape::ClientStart;
    using ClientGreeting = typename Shape::ClientGreeting;
    using ClientIdle = typename Shape::ClientIdle;
    using ClientBatching = typename Shape::ClientBatching;
    using ClientDeciding = typename Shape::ClientDeciding;

    // By default at most this many events wait for the next commit;
    // report() beyond the capacity fails (commit more often).
    static constexpr std::uint32_t default_max_pending_events = 1024;

    // Sends `hello` and waits for the policy's answer: InvalidArgument with
    // the policy's limit when it refuses, or the error of the channel.
    [[nodiscard]] static milk::Result<BatchClient> try_connect(ClientStart&& start, const Hello& hello,
                                                               std::chrono::nanoseconds timeout,
                                                               std::size_t max_pending_events = default_max_pending_events) {
        auto greeting = MILK_TRY(std::move(start).send(Hello{hello}));
        struct Answer {
            std::optional<ClientIdle> idle;
            std::optional<typename Shape::Refused> refused;
        };
        auto answer = MILK_TRY(std::move(greeting).receive_for(
            timeout, [](typename Shape::Welcome&&, ClientIdle&& idle) { return Answer{std::move(idle), std::nullopt}; },
            [](typename Shape::Refused&& refused) { return Answer{std::nullopt, refused}; },
            [](milk::TimedOut, ClientGreeting&&) { return Answer{}; }));
        if (!answer.idle) {
            if (!answer.refused) return milk::Error{milk::ErrorCode::TimedOut, Shape::no_answer, 0};
            return milk::Error{milk::ErrorCode::InvalidArgument, Shape::refused_text,
                               Shape::refusal_detail(*answer.refused, hello)};
        }
        auto pending = MILK_TRY(milk::FixedArray<Event>::try_create(max_pending_events, milk::FixedArray<Event>::Fill::Zero));
        auto decided = MILK_TRY(
            milk::FixedArray<Decision>::try_create(Shape::max_decisions(hello), milk::FixedArray<Decision>::Fill::Zero));
        return BatchClient(std::move(*answer.idle), hello, std::move(pending), std::move(decided));
    }

    // Queues an event for the next commit.
    [[nodiscard]] milk::Result<void> report(const Event& event) {
        if (m_pending_count == m_pending.size())
            return milk::Error{milk::ErrorCode::InvalidArgument, Shape::too_many_events,
                               static_cast<std::int64_t>(m_pending_count)};
        m_pending[m_pending_count++] = event;
        return {};
    }

    // Sends the queued events as batch `seq()`, at `now`, and returns the
    // policy's decisions on it (valid until the next commit). Waits at most
    // `timeout` for the answer: a policy that misses it fails the commit
    // with TimedOut, as sched_ext's watchdog would.
    [[nodiscard]] milk::Result<std::span<const Decision>> commit(std::uint64_t now, std::chrono::nanoseconds timeout) {
        if (!m_idle) return milk::Error{milk::ErrorCode::PeerClosed, Shape::failed_before, 0};
        const std::uint64_t seq = ++m_seq;
        // A batch is at least one Events message, even with nothing in it.
        std::size_t sent = 0;
        typename Shape::Events first{seq, now, {}};
        fill(first, sent);
        auto batching = std::move(*m_idle).send(first);
        m_idle.reset();
        if (!batching) return batching.error();
        std::optional<ClientBatching> more{std::move(batching).value()};
        while (sent < m_pending_count) {
            typename Shape::Events events{seq, now, {}};
            fill(events, sent);
            auto next = std::move(*more).send(events);
            more.reset();
            if (!next) return next.error();
            more.emplace(std::move(next).value());
        }
        m_pending_count = 0;
        auto deciding = std::move(*more).send(typename Shape::Commit{seq});
        if (!deciding) return deciding.error();
        return collect(std::move(deciding).value(), seq, timeout);
    }

    // Ends the session: the policy returns, the mechanism's entities are its own.
    [[nodiscard]] milk::Result<void> bye() {
        if (!m_idle) return milk::Error{milk::ErrorCode::PeerClosed, Shape::failed_before, 0};
        auto sent = std::move(*m_idle).send(typename Shape::Bye{});
        m_idle.reset();
        return sent;
    }

    [[nodiscard]] std::uint64_t seq() const { return m_seq; }
    // What the mechanism said it has (the Hello the policy took).
    [[nodiscard]] const Hello& hello() const { return m_hello; }

private:
    BatchClient(ClientIdle&& idle, const Hello& hello, milk::FixedArray<Event> pending, milk::FixedArray<Decision> decided)
        : m_idle(std::move(idle)), m_hello(hello), m_pending(std::move(pending)), m_decided(std::move(decided)) {}

    void fill(typename Shape::Events& events, std::size_t& sent) const {
        for (auto& entry : events.events) {
            if (sent == m_pending_count) break;
            entry = m_pending[sent++];
        }
    }

    milk::Result<std::span<const Decision>> collect(ClientDeciding&& first, std::uint64_t seq,
                                                    std::chrono::nanoseconds timeout) {
        std::optional<ClientDeciding> deciding{std::move(first)};
        std::uint32_t count = 0;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            struct Got {
                std::optional<ClientDeciding> more;
                std::optional<ClientIdle> idle;
                milk::Result<void> checked{};
                bool timed_out = false;
            };
            const auto left = deadline - std::chrono::steady_clock::now();
            auto got = MILK_TRY(std::move(*deciding).receive_for(
                left < std::chrono::nanoseconds::zero() ? std::chrono::nanoseconds::zero() : left,
                [&](typename Shape::Decisions&& decisions, ClientDeciding&& next) {
                    return Got{std::move(next), std::nullopt, take(decisions, seq, count)};
                },
                [&](typename Shape::Decided&& decided, ClientIdle&& idle) {
                    milk::Result<void> checked{};
                    if (decided.seq != seq) checked = wrong_batch(decided.seq);
                    return Got{std::nullopt, std::move(idle), checked};
                },
                [](milk::TimedOut, ClientDeciding&& same) { return Got{std::move(same), std::nullopt, {}, true}; }));
            deciding.reset();
            if (got.timed_out) return milk::Error{milk::ErrorCode::TimedOut, Shape::missed_deadline, 0};
            MILK_TRY(std::move(got.checked));
            if (got.idle) {
                m_idle = std::move(got.idle);
                return std::span<const Decision>(m_decided.data(), count);
            }
            deciding = std::move(got.more);
        }
    }

    // Checks and keeps the decisions of one Decisions message.
    milk::Result<void> take(const typename Shape::Decisions& decisions, std::uint64_t seq, std::uint32_t& count) {
        if (decisions.seq != seq) return wrong_batch(decisions.seq);
        for (const Decision& decision : decisions.decisions) {
            if (Shape::is_padding(decision)) continue;
            MILK_TRY(Shape::check(decision, m_hello));
            if (count == m_decided.size())
                return milk::Error{milk::ErrorCode::ProtocolViolation, Shape::too_many_decisions, count};
            m_decided[count++] = decision;
        }
        return {};
    }

    static milk::Result<void> wrong_batch(std::uint64_t seq) {
        return milk::Error{milk::ErrorCode::ProtocolViolation, Shape::wrong_batch, static_cast<std::int64_t>(seq)};
    }

    std::optional<ClientIdle> m_idle;
    Hello m_hello;
    milk::FixedArray<Event> m_pending;
    std::size_t m_pending_count = 0;
    milk::FixedArray<Decision> m_decided;
    std::uint64_t m_seq = 0;
};

}  // namespace components::policy

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
