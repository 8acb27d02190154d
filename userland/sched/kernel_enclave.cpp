// The agent of the kernel mechanism (milk/sched/kernel_enclave.hpp).
//
// The agent is one thread. It sleeps in MILK_IOC_SCHED_WAIT until the module
// has events or a tick is due, turns the module's events (Linux CPUs) into
// the contract's (the enclave's CPU indexes), commits them to the policy,
// and applies the answer with one MILK_IOC_SCHED_APPLY. The module refuses
// a decision about a task that has had an event since (stale); the policy
// hears of that event in the next batch and decides again.
//
// What the agent keeps is only what ticks need: which task the module has
// on each CPU. The module is the authority on everything else.
#include <milk/sched/kernel_enclave.hpp>

#include <milk/kernel.hpp>

#include "process_internal.hpp"
#include "sched/sched_client.hpp"

#include "milk_uapi.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sched.h>
#include <sys/ioctl.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace milk::sched {
namespace {

using Clock = std::chrono::steady_clock;
using components::sched::SchedClient;

constexpr std::uint32_t no_task = 0xffffffffu;

// /dev/milk, opened; an fd below 0 on failure (errno says why: open_error).
// The runtime's owned descriptor, as the host uses it.
using DeviceFd = milk::process::detail::FileDescriptor;

DeviceFd open_device(const char* device) { return DeviceFd(::open(device, O_RDWR | O_CLOEXEC)); }

Error open_error() { return Error{ErrorCode::SystemError, "sched: cannot open the milk device", errno}; }

std::uint64_t nanoseconds_since(Clock::time_point epoch) {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - epoch).count());
}

}  // namespace

class KernelEnclave::Agent {
public:
    Agent(DeviceFd fd, std::uint32_t id, SchedClient client, KernelEnclaveOptions options)
        : m_fd(std::move(fd)), m_id(id), m_client(std::move(client)), m_options(std::move(options)),
          m_running(m_options.cpus.size(), no_task) {
        for (std::size_t i = 0; i < m_options.cpus.size(); ++i) m_index_of_cpu[m_options.cpus[i]] = static_cast<int>(i);
        m_thread = std::thread([this] { loop(); });
    }

    Agent(const Agent&) = delete;
    Agent& operator=(const Agent&) = delete;

    ~Agent() {
        m_stopping.store(true, std::memory_order_release);
        m_thread.join();
        // Closing the agent's fd ends the enclave: whatever is still in it
        // goes back to the kernel's scheduling.
        m_fd.reset();
    }

    [[nodiscard]] std::uint32_t id() const { return m_id; }

    [[nodiscard]] KernelEnclaveStats stats() const {
        std::lock_guard lock(m_stats_mutex);
        return m_stats;
    }

private:
    void loop() {
        if (m_options.agent_cpu >= 0) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(m_options.agent_cpu, &set);
            static_cast<void>(::sched_setaffinity(0, sizeof set, &set));
        }
        // Above the tasks it places (SCHED_FIFO 1): a spinning placed task
        // must not keep its agent from the CPU they share.
        const sched_param realtime{2};
        const bool is_realtime = ::sched_setscheduler(0, SCHED_FIFO, &realtime) == 0;
        {
            std::lock_guard lock(m_stats_mutex);
            m_stats.agent_realtime = is_realtime;
        }
        auto next_tick = Clock::now() + m_options.tick;
        while (!m_stopping.load(std::memory_order_acquire)) {
            const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(next_tick - Clock::now());
            milk_sched_wait wait{};
            wait.events = reinterpret_cast<std::uintptr_t>(m_events.data());
            wait.capacity = static_cast<std::uint32_t>(m_events.size());
            // Never sleep past the next tick, nor forever: the destructor
            // asks the loop to stop by a flag.
            wait.timeout_ns = left.count() > 0 ? left.count() : 0;
            if (::ioctl(m_fd.get(), MILK_IOC_SCHED_WAIT, &wait) != 0) {
                const int error = errno;
                if (error == EINTR) continue;
                // EPIPE: the module's watchdog fell back; anything else is
                // the same for the tasks.
                std::lock_guard lock(m_stats_mutex);
                m_stats.module_fell_back = error == EPIPE;
            m_stats.module_reason = module_reason();
                m_stats.module_reason = module_reason();
                m_stats.fallback_error = Error{ErrorCode::PeerClosed, "sched: the module ended the enclave", error};
                return;
            }
            bool any = false;
            Result<void> reported{};
            for (std::uint32_t i = 0; i < wait.count && reported.ok(); ++i) {
                const auto event = translate(m_events[i]);
                if (!event) continue;
                reported = m_client.report(*event);
                any = true;
            }
            const auto now = Clock::now();
            if (reported.ok() && now >= next_tick) {
                for (std::size_t cpu = 0; cpu < m_running.size() && reported.ok(); ++cpu)
                    if (m_running[cpu] != no_task) {
                        reported = m_client.report({EventKind::tick, static_cast<std::uint16_t>(cpu), 0, 0});
                        any = true;
                    }
                next_tick = now + m_options.tick;
            }
            {
                std::lock_guard lock(m_stats_mutex);
                m_stats.events += wait.count;
            }
            if (!reported.ok()) {
                give_up(FallbackReason::BrokeContract, reported.error());
                return;
            }
            if (!any) continue;
            auto decided = m_client.commit(nanoseconds_since(m_epoch), m_options.policy_deadline);
            if (!decided.ok()) {
                const Error error = decided.error();
                give_up(error.code == ErrorCode::TimedOut            ? FallbackReason::MissedDeadline
                        : error.code == ErrorCode::ProtocolViolation ? FallbackReason::BrokeContract
                                                                     : FallbackReason::PolicyGone,
                        error);
                return;
            }
            if (!apply(decided.value())) return;
        }
        static_cast<void>(m_client.bye());
    }

    // The module's event in the contract's terms; nothing for an event the
    // policy need not hear (none today: every kind maps).
    std::optional<Event> translate(const milk_sched_event& event) {
        const auto task = event.task;
        switch (event.kind) {
        case MILK_SCHED_EVENT_TASK_NEW: return Event{EventKind::task_new, 0, task, event.weight};
        case MILK_SCHED_EVENT_WAKEUP: return Event{EventKind::wakeup, 0, task, 0};
        case MILK_SCHED_EVENT_BLOCKED:
            forget(task);
            return Event{EventKind::blocked, 0, task, 0};
        case MILK_SCHED_EVENT_EXIT:
            forget(task);
            return Event{EventKind::exit, 0, task, 0};
        case MILK_SCHED_EVENT_CPU_IDLE: {
            const int index = cpu_index(static_cast<int>(event.cpu));
            if (index < 0) return std::nullopt;
            return Event{EventKind::cpu_idle, static_cast<std::uint16_t>(index), 0, 0};
        }
        default: return std::nullopt;
        }
    }

    // The module parks a task that blocked or left: it is on no CPU now.
    void forget(std::uint32_t task) {
        for (auto& running : m_running)
            if (running == task) running = no_task;
    }

    [[nodiscard]] int cpu_index(int linux_cpu) const {
        return linux_cpu >= 0 && linux_cpu < static_cast<int>(m_index_of_cpu.size()) ? m_index_of_cpu[linux_cpu] : -1;
    }

    // Hands the policy's decisions to the module. False when the module
    // refuses the call itself (the enclave ended, or our bug).
    bool apply(std::span<const Decision> decisions) {
        std::uint32_t count = 0;
        for (const Decision& decision : decisions) {
            if (decision.kind == DecisionKind::none) continue;
            milk_sched_decision& out = m_decisions[count++];
            out = milk_sched_decision{};
            out.cpu = static_cast<std::uint32_t>(m_options.cpus[decision.cpu]);
            out.task = decision.task;
            out.kind = decision.kind == DecisionKind::run       ? MILK_SCHED_DECIDE_RUN
                       : decision.kind == DecisionKind::preempt ? MILK_SCHED_DECIDE_PREEMPT
                                                                : MILK_SCHED_DECIDE_IDLE;
        }
        milk_sched_apply request{};
        request.decisions = reinterpret_cast<std::uintptr_t>(m_decisions.data());
        request.count = count;
        if (::ioctl(m_fd.get(), MILK_IOC_SCHED_APPLY, &request) != 0) {
            const int error = errno;
            std::lock_guard lock(m_stats_mutex);
            m_stats.module_fell_back = error == EPIPE;
            m_stats.fallback_error = Error{ErrorCode::SystemError, "sched: MILK_IOC_SCHED_APPLY failed", error};
            return false;
        }
        std::size_t next = 0;
        for (const Decision& decision : decisions) {
            if (decision.kind == DecisionKind::none) continue;
            if (m_decisions[next++].result != MILK_SCHED_APPLIED) continue;
            switch (decision.kind) {
            case DecisionKind::run:
                forget(decision.task);
                m_running[decision.cpu] = decision.task;
                break;
            case DecisionKind::preempt:
            case DecisionKind::idle: m_running[decision.cpu] = no_task; break;
            default: break;
            }
        }
        std::lock_guard lock(m_stats_mutex);
        ++m_stats.batches;
        m_stats.decisions_applied += request.applied;
        m_stats.stale_refused += request.refused;
        return true;
    }

    // Why the module ended the enclave (MILK_SCHED_FALLBACK_*), 0 if it has not.
    [[nodiscard]] std::uint32_t module_reason() const {
        milk_sched_stats module{};
        module.enclave = m_id;
        return ::ioctl(m_fd.get(), MILK_IOC_SCHED_STATS, &module) == 0 ? module.fallback : 0;
    }

    // The policy failed: the enclave goes back to the kernel's scheduling.
    void give_up(FallbackReason reason, const Error& error) {
        static_cast<void>(::ioctl(m_fd.get(), MILK_IOC_SCHED_FALLBACK, 0));
        std::lock_guard lock(m_stats_mutex);
        m_stats.fallback = reason;
        m_stats.fallback_error = error;
    }

    DeviceFd m_fd;
    std::uint32_t m_id;
    SchedClient m_client;
    KernelEnclaveOptions m_options;
    // Per enclave CPU (policy index): the task the module runs there.
    std::vector<std::uint32_t> m_running;
    std::array<int, MILK_SCHED_MAX_CPUS> m_index_of_cpu = make_unmapped();
    std::array<milk_sched_event, MILK_SCHED_MAX_WAIT> m_events{};
    std::array<milk_sched_decision, MILK_SCHED_MAX_APPLY> m_decisions{};
    const Clock::time_point m_epoch = Clock::now();
    std::atomic<bool> m_stopping{false};
    mutable std::mutex m_stats_mutex;
    KernelEnclaveStats m_stats;
    std::thread m_thread;

    static std::array<int, MILK_SCHED_MAX_CPUS> make_unmapped() {
        std::array<int, MILK_SCHED_MAX_CPUS> unmapped{};
        unmapped.fill(-1);
        return unmapped;
    }
};

namespace {

// The enclave's CPUs as the module's mask, once the options are checked.
Result<std::uint64_t> checked_cpus(const KernelEnclaveOptions& options) {
    if (options.cpus.empty()) return Error{ErrorCode::InvalidArgument, "sched: an enclave needs a CPU", 0};
    std::uint64_t mask = 0;
    for (const int cpu : options.cpus) {
        if (cpu < 0 || cpu >= static_cast<int>(MILK_SCHED_MAX_CPUS) || ((mask >> cpu) & 1u) != 0)
            return Error{ErrorCode::InvalidArgument, "sched: a CPU out of range or named twice", cpu};
        mask |= std::uint64_t{1} << cpu;
    }
    if (options.max_tasks == 0 || options.max_tasks > MILK_SCHED_MAX_TASKS)
        return Error{ErrorCode::InvalidArgument, "sched: max_tasks out of range", options.max_tasks};
    if (options.tick.count() <= 0 || options.tick.count() > 1'000'000 || options.policy_deadline.count() <= 0 ||
        options.agent_deadline.count() <= 0 || options.agent_deadline.count() > MILK_SCHED_MAX_WATCHDOG_MS)
        return Error{ErrorCode::InvalidArgument, "sched: a tick or deadline out of range", 0};
    // The policy numbers CPUs in the order of options.cpus, the module in
    // the order of their Linux numbers: the same order, or a policy in the
    // module would see them renumbered.
    if (!std::is_sorted(options.cpus.begin(), options.cpus.end()))
        return Error{ErrorCode::InvalidArgument, "sched: the enclave's CPUs must be listed in ascending order", 0};
    return mask;
}

milk_sched_create create_request(std::uint64_t mask, const KernelEnclaveOptions& options) {
    milk_sched_create create{};
    create.cpus = mask;
    create.max_tasks = options.max_tasks;
    create.watchdog_ms = static_cast<std::uint32_t>(options.agent_deadline.count());
    return create;
}

}  // namespace

Result<std::unique_ptr<KernelEnclave>> KernelEnclave::try_create(SchedEndpoint&& endpoint, KernelEnclaveOptions options) {
    const std::uint64_t mask = MILK_TRY(checked_cpus(options));
    auto fd = open_device(options.device);
    if (!fd.valid()) return open_error();
    milk_sched_create create = create_request(mask, options);
    if (::ioctl(fd.get(), MILK_IOC_SCHED_CREATE, &create) != 0)
        return Error{ErrorCode::SystemError, "sched: MILK_IOC_SCHED_CREATE failed", errno};
    // The policy answers Hello before the agent starts: no task can join an
    // enclave whose policy refused it (the fd closes with this function).
    auto client = MILK_TRY(SchedClient::try_connect(
        std::move(endpoint), {static_cast<std::uint32_t>(options.cpus.size()), options.max_tasks},
        options.policy_deadline));
    const std::uint32_t id = create.enclave;
    return std::unique_ptr<KernelEnclave>(
        new KernelEnclave(std::make_unique<Agent>(std::move(fd), id, std::move(client), std::move(options))));
}

Result<std::unique_ptr<KernelEnclave>> KernelEnclave::try_create_in_kernel(std::string_view component,
                                                                         const Settings& settings,
                                                                         const KernelEnclaveOptions& options) {
    const std::uint64_t mask = MILK_TRY(checked_cpus(options));
    milk_sched_create create = create_request(mask, options);
    if (component.empty() || component.size() >= sizeof create.policy)
        return Error{ErrorCode::InvalidArgument, "sched: a component name empty or too long",
                     static_cast<std::int64_t>(component.size())};
    std::memcpy(create.policy, component.data(), component.size());
    create.tick_us = static_cast<std::uint32_t>(options.tick.count());
    MILK_TRY(milk::kernel::to_settings_table(settings, create.settings));
    auto fd = open_device(options.device);
    if (!fd.valid()) return open_error();
    // ENOENT: no such component in the module; EPROTONOSUPPORT: it is no
    // scheduler; EINVAL: it refused its settings or the enclave (the
    // module's log says why).
    if (::ioctl(fd.get(), MILK_IOC_SCHED_CREATE, &create) != 0)
        return Error{ErrorCode::SystemError, "sched: MILK_IOC_SCHED_CREATE with a policy in the module failed", errno};
    const std::uint32_t id = create.enclave;
    return std::unique_ptr<KernelEnclave>(new KernelEnclave(std::move(fd).take(), id));
}

Result<std::unique_ptr<KernelEnclave>> KernelEnclave::try_create(host::Host& host, std::string_view instance,
                                                                 KernelEnclaveOptions options) {
    const host::InstanceConfig* config = host.instance_config(instance);
    if (config == nullptr)
        return Error{ErrorCode::InvalidArgument, "sched: the host has no such instance", 0};
    if (config->placement == Placement::Kernel)
        return try_create_in_kernel(config->component, config->settings, options);
    auto endpoint = MILK_TRY(host.connect<Sched::Contract>(instance));
    return try_create(std::move(endpoint), std::move(options));
}

Result<std::uint32_t> KernelEnclave::join(std::uint32_t enclave, std::uint32_t weight, const char* device) {
    // Membership belongs to the thread, not to this fd: it can close.
    auto fd = open_device(device);
    if (!fd.valid()) return open_error();
    milk_sched_join request{};
    request.enclave = enclave;
    request.weight = weight;
    if (::ioctl(fd.get(), MILK_IOC_SCHED_JOIN, &request) != 0)
        return Error{ErrorCode::SystemError, "sched: MILK_IOC_SCHED_JOIN failed", errno};
    return request.task;
}

Result<void> KernelEnclave::leave(const char* device) {
    auto fd = open_device(device);
    if (!fd.valid()) return open_error();
    if (::ioctl(fd.get(), MILK_IOC_SCHED_LEAVE, 0) != 0)
        return Error{ErrorCode::SystemError, "sched: MILK_IOC_SCHED_LEAVE failed", errno};
    return {};
}

KernelEnclave::KernelEnclave(std::unique_ptr<Agent> agent) : m_agent(std::move(agent)), m_id(m_agent->id()) {}
KernelEnclave::KernelEnclave(int owner_fd, std::uint32_t id) : m_owner_fd(owner_fd), m_id(id) {}

KernelEnclave::~KernelEnclave() {
    // With the policy in milk.ko, closing the owner's fd stops the module's
    // agent thread and gives the remaining tasks back to Linux.
    if (m_owner_fd >= 0) ::close(m_owner_fd);
}

std::uint32_t KernelEnclave::id() const { return m_id; }

KernelEnclaveStats KernelEnclave::stats() const {
    if (m_agent) return m_agent->stats();
    // The policy in milk.ko: the module's own counts.
    KernelEnclaveStats stats;
    milk_sched_stats module{};
    module.enclave = m_id;
    if (::ioctl(m_owner_fd, MILK_IOC_SCHED_STATS, &module) != 0) {
        stats.fallback_error = Error{ErrorCode::SystemError, "sched: MILK_IOC_SCHED_STATS failed", errno};
        return stats;
    }
    stats.events = module.events;
    stats.decisions_applied = module.applied;
    stats.stale_refused = module.refused;
    stats.agent_realtime = true;  // the module's agent thread is SCHED_FIFO 2
    stats.module_fell_back = module.fallback != MILK_SCHED_FALLBACK_NONE;
    stats.module_reason = module.fallback;
    switch (module.fallback) {
    case MILK_SCHED_FALLBACK_NONE: break;
    case MILK_SCHED_FALLBACK_POLICY: stats.fallback = FallbackReason::BrokeContract; break;
    case MILK_SCHED_FALLBACK_WATCHDOG:
    case MILK_SCHED_FALLBACK_OVERFLOW: stats.fallback = FallbackReason::MissedDeadline; break;
    default: stats.fallback = FallbackReason::PolicyGone; break;
    }
    return stats;
}

}  // namespace milk::sched
