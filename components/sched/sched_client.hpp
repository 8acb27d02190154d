// The mechanism's side of contracts/sched.contract: what a mechanism that
// runs threads on CPUs uses to talk to a scheduler component, wherever the
// host placed it.
//
//   auto client = MILK_TRY(SchedClient::try_connect(std::move(endpoint), cpus, max_tasks));
//   client.report(Event{EventKind::wakeup, 0, task, 0});   // as things happen
//   auto decisions = MILK_TRY(client.commit(now));          // one batch, its answer
//   for (const Decision& d : decisions) ...                 // apply, preempts first
//
// The policy is a peer like any other: commit() checks every decision it
// gets (the batch's sequence number, a CPU and a task in the enclave, a
// known kind) and fails with ProtocolViolation otherwise, so that the
// mechanism can close the channel and fall back to its own scheduling. What
// the decisions mean for tasks that changed since (stale decisions) only the
// mechanism knows; it refuses those itself.
#pragma once

#include "sched.hpp"  // generated from contracts/sched.contract

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

namespace components::sched {

namespace SchedProtocol = milk::sched::Sched;
using ClientStart = SchedProtocol::Client<SchedProtocol::state::Start>;
using ClientGreeting = SchedProtocol::Client<SchedProtocol::state::Greeting>;
using ClientIdle = SchedProtocol::Client<SchedProtocol::state::Idle>;
using ClientBatching = SchedProtocol::Client<SchedProtocol::state::Batching>;
using ClientDeciding = SchedProtocol::Client<SchedProtocol::state::Deciding>;

class SchedClient {
public:
    // By default at most this many events wait for the next commit;
    // report() beyond the capacity fails (commit more often).
    static constexpr std::uint32_t default_max_pending_events = 1024;

    // Sends Hello for an enclave of `cpus` CPUs and `max_tasks` tasks and
    // waits for the policy's answer: InvalidArgument with the policy's
    // limits when it refuses, or the error of the channel.
    [[nodiscard]] static milk::Result<SchedClient> try_connect(ClientStart&& start, std::uint32_t cpus,
                                                               std::uint32_t max_tasks,
                                                               std::chrono::nanoseconds timeout,
                                                               std::size_t max_pending_events = default_max_pending_events) {
        auto greeting = MILK_TRY(std::move(start).send(SchedProtocol::Hello{cpus, max_tasks}));
        struct Answer {
            std::optional<ClientIdle> idle;
            std::uint32_t most_cpus = 0;
            std::uint32_t most_tasks = 0;
        };
        auto answer = MILK_TRY(std::move(greeting).receive_for(
            timeout, [](SchedProtocol::Welcome&&, ClientIdle&& idle) { return Answer{std::move(idle)}; },
            [](SchedProtocol::Refused&& refused) { return Answer{std::nullopt, refused.most_cpus, refused.most_tasks}; },
            [](milk::TimedOut, ClientGreeting&&) { return Answer{}; }));
        if (!answer.idle) {
            if (answer.most_cpus == 0 && answer.most_tasks == 0)
                return milk::Error{milk::ErrorCode::TimedOut, "sched: no answer to Hello", 0};
            return milk::Error{milk::ErrorCode::InvalidArgument, "sched: the policy refused the enclave (too many CPUs or tasks)",
                               answer.most_cpus < cpus ? answer.most_cpus : answer.most_tasks};
        }
        auto pending = MILK_TRY(milk::FixedArray<milk::sched::Event>::try_create(
            max_pending_events, milk::FixedArray<milk::sched::Event>::Fill::Zero));
        auto decided = MILK_TRY(milk::FixedArray<milk::sched::Decision>::try_create(
            max_decisions(cpus), milk::FixedArray<milk::sched::Decision>::Fill::Zero));
        return SchedClient(std::move(*answer.idle), cpus, max_tasks, std::move(pending), std::move(decided));
    }

    // Queues an event for the next commit.
    [[nodiscard]] milk::Result<void> report(const milk::sched::Event& event) {
        if (m_pending_count == m_pending.size())
            return milk::Error{milk::ErrorCode::InvalidArgument, "sched: more events than a batch holds",
                               static_cast<std::int64_t>(m_pending_count)};
        m_pending[m_pending_count++] = event;
        return {};
    }

    // Sends the queued events as batch `seq()`, at `now`, and returns the
    // policy's decisions on it (valid until the next commit). Waits at most
    // `timeout` for the answer: a policy that misses it fails the commit
    // with TimedOut, as sched_ext's watchdog would.
    [[nodiscard]] milk::Result<std::span<const milk::sched::Decision>> commit(std::uint64_t now,
                                                                             std::chrono::nanoseconds timeout) {
        if (!m_idle) return milk::Error{milk::ErrorCode::PeerClosed, "sched: the channel failed before", 0};
        const std::uint64_t seq = ++m_seq;
        // A batch is at least one Events message, even with nothing in it.
        std::size_t sent = 0;
        SchedProtocol::Events first{seq, now, {}};
        fill(first, sent);
        auto batching = std::move(*m_idle).send(first);
        m_idle.reset();
        if (!batching) return batching.error();
        std::optional<ClientBatching> more{std::move(batching).value()};
        while (sent < m_pending_count) {
            SchedProtocol::Events events{seq, now, {}};
            fill(events, sent);
            auto next = std::move(*more).send(events);
            more.reset();
            if (!next) return next.error();
            more.emplace(std::move(next).value());
        }
        m_pending_count = 0;
        auto deciding = std::move(*more).send(SchedProtocol::Commit{seq});
        if (!deciding) return deciding.error();
        return collect(std::move(deciding).value(), seq, timeout);
    }

    // Ends the session: the policy returns, its tasks are the mechanism's.
    [[nodiscard]] milk::Result<void> bye() {
        if (!m_idle) return milk::Error{milk::ErrorCode::PeerClosed, "sched: the channel failed before", 0};
        auto sent = std::move(*m_idle).send(SchedProtocol::Bye{});
        m_idle.reset();
        return sent;
    }

    [[nodiscard]] std::uint64_t seq() const { return m_seq; }
    [[nodiscard]] std::uint32_t cpus() const { return m_cpus; }

private:
    // A batch's answer moves each CPU at most twice (a preempt, then a run
    // or an idle).
    static std::uint32_t max_decisions(std::uint32_t cpus) { return 2 * cpus; }

    SchedClient(ClientIdle&& idle, std::uint32_t cpus, std::uint32_t max_tasks,
                milk::FixedArray<milk::sched::Event> pending, milk::FixedArray<milk::sched::Decision> decided)
        : m_idle(std::move(idle)), m_cpus(cpus), m_max_tasks(max_tasks), m_pending(std::move(pending)),
          m_decided(std::move(decided)) {}

    void fill(SchedProtocol::Events& events, std::size_t& sent) const {
        for (auto& entry : events.events) {
            if (sent == m_pending_count) break;
            entry = m_pending[sent++];
        }
    }

    milk::Result<std::span<const milk::sched::Decision>> collect(ClientDeciding&& first, std::uint64_t seq,
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
                [&](SchedProtocol::Decisions&& decisions, ClientDeciding&& next) {
                    return Got{std::move(next), std::nullopt, take(decisions, seq, count)};
                },
                [&](SchedProtocol::Decided&& decided, ClientIdle&& idle) {
                    milk::Result<void> checked{};
                    if (decided.seq != seq) checked = wrong_batch(decided.seq);
                    return Got{std::nullopt, std::move(idle), checked};
                },
                [](milk::TimedOut, ClientDeciding&& same) { return Got{std::move(same), std::nullopt, {}, true}; }));
            deciding.reset();
            if (got.timed_out) return milk::Error{milk::ErrorCode::TimedOut, "sched: the policy missed its deadline", 0};
            MILK_TRY(std::move(got.checked));
            if (got.idle) {
                m_idle = std::move(got.idle);
                return std::span<const milk::sched::Decision>(m_decided.data(), count);
            }
            deciding = std::move(got.more);
        }
    }

    // Checks and keeps the decisions of one Decisions message.
    milk::Result<void> take(const SchedProtocol::Decisions& decisions, std::uint64_t seq, std::uint32_t& count) {
        if (decisions.seq != seq) return wrong_batch(decisions.seq);
        for (const milk::sched::Decision& decision : decisions.decisions) {
            if (decision.kind == milk::sched::DecisionKind::none) continue;
            if (decision.cpu >= m_cpus)
                return milk::Error{milk::ErrorCode::ProtocolViolation, "sched: a decision for a CPU out of the enclave",
                                   decision.cpu};
            if (decision.kind != milk::sched::DecisionKind::idle && decision.task >= m_max_tasks)
                return milk::Error{milk::ErrorCode::ProtocolViolation, "sched: a decision for a task out of the enclave",
                                   decision.task};
            if (count == m_decided.size())
                return milk::Error{milk::ErrorCode::ProtocolViolation, "sched: more decisions than a batch can need",
                                   count};
            m_decided[count++] = decision;
        }
        return {};
    }

    static milk::Result<void> wrong_batch(std::uint64_t seq) {
        return milk::Error{milk::ErrorCode::ProtocolViolation, "sched: decisions for another batch",
                           static_cast<std::int64_t>(seq)};
    }

    std::optional<ClientIdle> m_idle;
    std::uint32_t m_cpus;
    std::uint32_t m_max_tasks;
    milk::FixedArray<milk::sched::Event> m_pending;
    std::size_t m_pending_count = 0;
    milk::FixedArray<milk::sched::Decision> m_decided;
    std::uint64_t m_seq = 0;
};

}  // namespace components::sched

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
