// The mechanism's side of contracts/mem.contract: what a mechanism that maps
// pages of a region onto frames of a pool uses to talk to a memory manager
// component, wherever the host placed it (policy/batch_client.hpp, shared
// with the scheduler).
//
//   auto client = MILK_TRY(MemClient::try_connect(std::move(endpoint), {pages, frames}, timeout));
//   client.report(Event{EventKind::fault, page, 0});         // as faults come
//   auto decisions = MILK_TRY(client.commit(now, timeout));  // one batch, its answer
//   for (const Decision& d : decisions) ...                  // evictions first, then maps
//
// commit() checks every decision (the batch's sequence number, a page of the
// region, a frame of the pool; the decoder has checked the kind) and fails with
// ProtocolViolation otherwise, so that the mechanism can close the channel
// and serve its faults with its own policy.
#pragma once

#include "mem.hpp"  // generated from contracts/mem.contract

#include "policy/batch_client.hpp"

#include <cstdint>

namespace components::mem {

namespace MemProtocol = milk::mem::Mem;

struct MemClientShape {
    using Hello = MemProtocol::Hello;
    using Welcome = MemProtocol::Welcome;
    using Refused = MemProtocol::Refused;
    using Events = MemProtocol::Events;
    using Commit = MemProtocol::Commit;
    using Decisions = MemProtocol::Decisions;
    using Decided = MemProtocol::Decided;
    using Bye = MemProtocol::Bye;
    using Event = milk::mem::Event;
    using Decision = milk::mem::Decision;
    using ClientStart = MemProtocol::Client<MemProtocol::state::Start>;
    using ClientGreeting = MemProtocol::Client<MemProtocol::state::Greeting>;
    using ClientIdle = MemProtocol::Client<MemProtocol::state::Idle>;
    using ClientBatching = MemProtocol::Client<MemProtocol::state::Batching>;
    using ClientDeciding = MemProtocol::Client<MemProtocol::state::Deciding>;

    static constexpr const char* no_answer = "mem: no answer to Hello";
    static constexpr const char* refused_text = "mem: the policy refused the region (too many pages or frames)";
    static constexpr const char* too_many_events = "mem: more events than a batch holds";
    static constexpr const char* failed_before = "mem: the channel failed before";
    static constexpr const char* missed_deadline = "mem: the policy missed its deadline";
    static constexpr const char* too_many_decisions = "mem: more decisions than a batch can need";
    static constexpr const char* wrong_batch = "mem: decisions for another batch";

    static std::uint32_t refusal_detail(const Refused& refused, const Hello& hello) {
        return refused.most_pages < hello.pages ? refused.most_pages : refused.most_frames;
    }
    // A batch's answer changes each frame at most twice (an eviction, then
    // a map).
    static std::uint32_t max_decisions(const Hello& hello) { return 2 * hello.frames; }
    static bool is_padding(const Decision& decision) { return decision.kind == milk::mem::DecisionKind::none; }
    static milk::Result<void> check(const Decision& decision, const Hello& hello) {
        if (decision.frame >= hello.frames)
            return milk::Error{milk::ErrorCode::ProtocolViolation, "mem: a decision for a frame out of the pool",
                               decision.frame};
        if (decision.page >= hello.pages)
            return milk::Error{milk::ErrorCode::ProtocolViolation, "mem: a decision for a page out of the region",
                               decision.page};
        return {};
    }
};

using MemClient = policy::BatchClient<MemClientShape>;

}  // namespace components::mem
