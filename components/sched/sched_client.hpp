// The mechanism's side of contracts/sched.contract: what a mechanism that
// runs threads on CPUs uses to talk to a scheduler component, wherever the
// host placed it (policy/batch_client.hpp, shared with the memory manager).
//
//   auto client = MILK_TRY(SchedClient::try_connect(std::move(endpoint), {cpus, max_tasks}, timeout));
//   client.report(Event{EventKind::wakeup, 0, task, 0});   // as things happen
//   auto decisions = MILK_TRY(client.commit(now, timeout)); // one batch, its answer
//   for (const Decision& d : decisions) ...                 // apply, preempts first
//
// commit() checks every decision (the batch's sequence number, a CPU and a
// task in the enclave, a known kind) and fails with ProtocolViolation
// otherwise, so that the mechanism can close the channel and fall back to
// its own scheduling. What the decisions mean for tasks that changed since
// (stale decisions) only the mechanism knows; it refuses those itself.
#pragma once

#include "sched.hpp"  // generated from contracts/sched.contract

#include "policy/batch_client.hpp"

#include <cstdint>

namespace components::sched {

namespace SchedProtocol = milk::sched::Sched;

struct SchedClientShape {
    using Hello = SchedProtocol::Hello;
    using Welcome = SchedProtocol::Welcome;
    using Refused = SchedProtocol::Refused;
    using Events = SchedProtocol::Events;
    using Commit = SchedProtocol::Commit;
    using Decisions = SchedProtocol::Decisions;
    using Decided = SchedProtocol::Decided;
    using Bye = SchedProtocol::Bye;
    using Event = milk::sched::Event;
    using Decision = milk::sched::Decision;
    using ClientStart = SchedProtocol::Client<SchedProtocol::state::Start>;
    using ClientGreeting = SchedProtocol::Client<SchedProtocol::state::Greeting>;
    using ClientIdle = SchedProtocol::Client<SchedProtocol::state::Idle>;
    using ClientBatching = SchedProtocol::Client<SchedProtocol::state::Batching>;
    using ClientDeciding = SchedProtocol::Client<SchedProtocol::state::Deciding>;

    static constexpr const char* no_answer = "sched: no answer to Hello";
    static constexpr const char* refused_text = "sched: the policy refused the enclave (too many CPUs or tasks)";
    static constexpr const char* too_many_events = "sched: more events than a batch holds";
    static constexpr const char* failed_before = "sched: the channel failed before";
    static constexpr const char* missed_deadline = "sched: the policy missed its deadline";
    static constexpr const char* too_many_decisions = "sched: more decisions than a batch can need";
    static constexpr const char* wrong_batch = "sched: decisions for another batch";

    static std::uint32_t refusal_detail(const Refused& refused, const Hello& hello) {
        return refused.most_cpus < hello.cpus ? refused.most_cpus : refused.most_tasks;
    }
    // A batch's answer moves each CPU at most twice (a preempt, then a run
    // or an idle).
    static std::uint32_t max_decisions(const Hello& hello) { return 2 * hello.cpus; }
    static bool is_padding(const Decision& decision) { return decision.kind == milk::sched::DecisionKind::none; }
    static milk::Result<void> check(const Decision& decision, const Hello& hello) {
        if (decision.cpu >= hello.cpus)
            return milk::Error{milk::ErrorCode::ProtocolViolation, "sched: a decision for a CPU out of the enclave",
                               decision.cpu};
        if (decision.kind != milk::sched::DecisionKind::idle && decision.task >= hello.max_tasks)
            return milk::Error{milk::ErrorCode::ProtocolViolation, "sched: a decision for a task out of the enclave",
                               decision.task};
        return {};
    }
};

using SchedClient = policy::BatchClient<SchedClientShape>;
using ClientStart = SchedClientShape::ClientStart;

}  // namespace components::sched
