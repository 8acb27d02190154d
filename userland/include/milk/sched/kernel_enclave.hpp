// milk::sched::KernelEnclave: the scheduler's kernel mechanism, from user
// space. milk.ko keeps the mechanism (docs/sched.md, "The kernel
// mechanism"): threads of any process join the enclave by its id, the module
// learns their wake-ups, blocks and exits from the scheduler's tracepoints,
// and it enforces the decisions (a placed task is SCHED_FIFO 1 and pinned to
// its CPU; the others of the enclave are stopped). This class is the
// agent between the module and the policy, a scheduler component wherever
// the host placed it: it reads the module's events, commits them to the
// policy as one batch, and hands the module the decisions.
//
//   auto enclave = milk::sched::KernelEnclave::try_create(
//       host.connect<milk::sched::Sched::Contract>("scheduler").value(),
//       {.cpus = {2, 3}}).value();
//   // in any thread of any process:
//   milk::sched::KernelEnclave::join(enclave->id()).value();
//
// When the policy dies, misses its deadline or breaks the contract, the
// agent gives the enclave back to the kernel's own scheduling
// (MILK_IOC_SCHED_FALLBACK); when the agent itself dies or stalls, the
// module does (its fd is released, or its watchdog sees an event wait too
// long). No task is lost either way: the tasks are the workload's threads.
#pragma once

#include <milk/host/host.hpp>
#include <milk/result.hpp>
#include <milk/sched/enclave.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace milk::sched {

struct KernelEnclaveOptions {
    // Linux CPU numbers (below 64); the policy's CPU i is cpus[i].
    std::vector<int> cpus;
    // At most this many tasks at once (the module's limit is 256).
    std::uint32_t max_tasks = 64;
    // The agent's period: a tick is reported for every busy CPU each period.
    std::chrono::microseconds tick{1000};
    // How long the policy has to answer a batch (the agent's watchdog).
    std::chrono::milliseconds policy_deadline{20};
    // How long an event may wait unread in the module before the module
    // gives up on the agent (the module's watchdog).
    std::chrono::milliseconds agent_deadline{50};
    // Where the agent thread runs: a CPU outside the enclave, or -1 for
    // anywhere. The agent is SCHED_FIFO 2 (above the tasks it places) when
    // the process may. Keep the policy off the enclave's CPUs too: a placed
    // task (SCHED_FIFO 1) leaves a normal thread there nothing but what
    // real-time throttling frees. A kernel policy's serving thread runs where
    // the thread that opened its channel may run.
    int agent_cpu = -1;
    const char* device = "/dev/milk";
};

struct KernelEnclaveStats {
    std::uint64_t batches = 0;
    std::uint64_t events = 0;  // read from the module
    std::uint64_t decisions_applied = 0;
    std::uint64_t stale_refused = 0;
    bool agent_realtime = false;
    FallbackReason fallback = FallbackReason::None;
    // The module ended the enclave itself (its watchdog, or an event queue
    // overflow): the agent saw EPIPE.
    bool module_fell_back = false;
    // Then why, in milk_uapi.h's numbers: MILK_SCHED_FALLBACK_WATCHDOG (2),
    // _OVERFLOW (4), _POLICY (5, a policy in the module refused an event).
    std::uint32_t module_reason = 0;
    std::optional<Error> fallback_error;
};

class KernelEnclave {
public:
    // Creates the enclave in milk.ko (CAP_SYS_NICE) and says Hello to the
    // policy behind `endpoint`; starts the agent.
    [[nodiscard]] static Result<std::unique_ptr<KernelEnclave>> try_create(SchedEndpoint&& endpoint,
                                                                         KernelEnclaveOptions options);
    // Creates the enclave with its policy in milk.ko: the module builds the
    // scheduler component `component` (compiled into it) from `settings`
    // and calls it directly from a kernel thread of the enclave's own, which
    // ticks every options.tick; no channel, no agent in this process.
    // options.policy_deadline and agent_cpu do not apply.
    [[nodiscard]] static Result<std::unique_ptr<KernelEnclave>> try_create_in_kernel(std::string_view component,
                                                                                   const Settings& settings,
                                                                                   const KernelEnclaveOptions& options);
    // The policy of the host's instance `instance`, placed by its config:
    // in milk.ko (placement "kernel") the module calls it directly, as
    // try_create_in_kernel; anywhere else the agent reaches it over the
    // host's channel, as try_create.
    [[nodiscard]] static Result<std::unique_ptr<KernelEnclave>> try_create(host::Host& host, std::string_view instance,
                                                                         KernelEnclaveOptions options);

    // Joins the calling thread to enclave `enclave`: from now on it runs
    // when and where the policy says. Returns its task number.
    [[nodiscard]] static Result<std::uint32_t> join(std::uint32_t enclave, std::uint32_t weight = 1024,
                                                    const char* device = "/dev/milk");
    // The calling thread leaves its enclave (back to SCHED_NORMAL, on the CPUs
    // it was allowed when it joined).
    [[nodiscard]] static Result<void> leave(const char* device = "/dev/milk");

    KernelEnclave(const KernelEnclave&) = delete;
    KernelEnclave& operator=(const KernelEnclave&) = delete;
    // Stops the agent, says Bye, and closes the enclave: its remaining
    // tasks go back to the kernel's scheduling.
    ~KernelEnclave();

    // The module's id of the enclave, for join().
    [[nodiscard]] std::uint32_t id() const;
    [[nodiscard]] KernelEnclaveStats stats() const;

    // Whether the module calls the policy directly (try_create_in_kernel).
    [[nodiscard]] bool policy_in_kernel() const { return m_agent == nullptr; }

    class Agent;

private:
    explicit KernelEnclave(std::unique_ptr<Agent> agent);
    KernelEnclave(int owner_fd, std::uint32_t id);
    // The agent in this process, or null when the policy is in milk.ko;
    // then the enclave is this fd's, and closing it ends the enclave.
    std::unique_ptr<Agent> m_agent;
    int m_owner_fd = -1;
    std::uint32_t m_id = 0;
};

}  // namespace milk::sched
