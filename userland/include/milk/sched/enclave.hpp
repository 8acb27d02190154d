// milk::sched::Enclave: the user-space scheduler mechanism. A workload links
// it and spawns its tasks through it; each task is a real thread that runs
// only when the policy (a scheduler component, wherever the host placed it)
// has placed it, and only on the CPU the policy chose.
//
//   auto enclave = milk::sched::Enclave::try_create(
//       host.connect<milk::sched::Sched::Contract>("scheduler").value(),
//       {.cpus = {2, 3}}).value();
//   enclave->spawn([](milk::sched::TaskContext& task) { ... }, 1024);
//   enclave->wait_all();
//
// How it is enforced (docs/sched.md has the whole story):
// - placed: the task's thread is pinned to the chosen CPU (sched_setaffinity)
//   before it is let go; parked otherwise, on a futex of its own;
// - preempted: a real-time signal to the thread, whose handler parks it on
//   the same futex until the policy runs it again; a tick (the agent's
//   period) is the slice the policy may end;
// - blocked, yielded, exited: the task says so through TaskContext (a
//   user-space mechanism cannot see a thread block inside the kernel; the
//   kernel mechanism can).
//
// The agent (a thread of the enclave) reports the events in batches, one per
// tick or sooner when a task leaves its CPU, and applies the decisions. A
// decision about a task that has had an event since is stale and refused.
// When the policy dies, misses its deadline or breaks the contract, the agent
// falls back at once to a FIFO of its own: the same policy code, run in the
// agent with no channel. No task is lost or left parked.
#pragma once

#include <milk/result.hpp>

#include <sched.hpp>  // generated from contracts/sched.contract

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace milk::sched {

using SchedEndpoint = Sched::Contract::ClientEndpoint;

struct EnclaveOptions {
    // Linux CPU numbers; the policy's CPU i is cpus[i].
    std::vector<int> cpus;
    // At most this many tasks at once.
    std::uint32_t max_tasks = 256;
    // The agent's period: a tick is reported for every busy CPU each period.
    std::chrono::microseconds tick{1000};
    // How long the policy has to answer a batch before the agent gives up on
    // it and falls back (the watchdog).
    std::chrono::milliseconds policy_deadline{20};
};

// Why the enclave stopped using its policy.
enum class FallbackReason : std::uint8_t {
    None,            // it has not
    PolicyGone,      // the channel failed: the policy's process died, or it closed
    MissedDeadline,  // no answer within policy_deadline
    BrokeContract,   // a decision the contract or the mechanism's state forbids
};

struct EnclaveStats {
    std::uint64_t batches = 0;
    std::uint64_t decisions_applied = 0;
    std::uint64_t stale_refused = 0;
    std::uint64_t preemptions = 0;
    // Whether the agent thread got a real-time priority (SCHED_FIFO 1).
    bool agent_realtime = false;
    FallbackReason fallback = FallbackReason::None;
    // When the policy's failure was seen, and when the fallback's first
    // decision was applied (steady clock).
    std::optional<std::chrono::steady_clock::time_point> failure_seen;
    std::optional<std::chrono::steady_clock::time_point> first_fallback_decision;
    // The error that made it fall back.
    std::optional<Error> fallback_error;
};

class TaskSlot;

// What a task's body can do.
class TaskContext {
public:
    // Gives the CPU up; returns when the policy runs the task again.
    void yield();
    // Runs `wait` (something that blocks: a sleep, a read) as a blocked
    // task, then waits to be placed again.
    void blocking(const std::function<void()>& wait);
    // The task's number in the enclave (the policy's task id).
    [[nodiscard]] std::uint32_t id() const;
    // The Linux CPU the policy placed the task on.
    [[nodiscard]] int cpu() const;

private:
    friend class Enclave;
    explicit TaskContext(TaskSlot& slot) : m_slot(slot) {}
    TaskSlot& m_slot;
};

class Enclave {
public:
    // Says Hello to the policy behind `endpoint` for `options.cpus`; fails
    // when the policy refuses the enclave, or for options no enclave can have.
    [[nodiscard]] static Result<std::unique_ptr<Enclave>> try_create(SchedEndpoint&& endpoint, EnclaveOptions options);

    Enclave(const Enclave&) = delete;
    Enclave& operator=(const Enclave&) = delete;
    // Waits for every task, then says Bye to the policy.
    ~Enclave();

    // Starts a task: a thread that runs `body` once the policy places it.
    // Returns its task id. InvalidArgument when max_tasks are alive. Call
    // spawn and wait_all from one thread (the workload's owner).
    [[nodiscard]] Result<std::uint32_t> spawn(std::function<void(TaskContext&)> body, std::uint32_t weight = 1024);

    // Waits until every task spawned so far has returned.
    void wait_all();

    [[nodiscard]] EnclaveStats stats() const;

    // The agent thread and the tasks' books (enclave.cpp).
    class Agent;

private:
    explicit Enclave(std::unique_ptr<Agent> agent);
    std::unique_ptr<Agent> m_agent;
};

}  // namespace milk::sched
