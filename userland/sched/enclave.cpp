// The user-space scheduler mechanism (milk/sched/enclave.hpp).
//
// Who touches what:
// - a task's thread writes its own run token only to park itself (before it
//   reports the event that explains why), and posts events;
// - the agent thread applies decisions: it pins a task and sets its token
//   to run it, clears the token and signals the thread to preempt it;
// - everything else (the posted events, each task's state and pending
//   count, which task the mechanism has on each CPU) is under one mutex.
//
// The agent never allocates once running: its buffers are reserved up
// front, and the fallback policy is built before it is needed. A task
// preempted inside malloc holds malloc's lock while it is parked; an agent
// that then allocated could wait for it forever.
#include <milk/sched/enclave.hpp>

#include "sched/sched_client.hpp"
#include "sched/sched_component.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <linux/futex.h>
#include <mutex>
#include <sched.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <utility>

namespace milk::sched {
namespace {

using Clock = std::chrono::steady_clock;
using components::sched::SchedClient;

constexpr std::uint32_t no_task = 0xffffffffu;

// The signal that preempts a task: a real-time one, which nothing else in a
// workload is likely to use, queued rather than merged.
int preempt_signal() { return SIGRTMIN + 5; }

// A futex over a 32-bit atomic (std::atomic<T> of a 32-bit T has T's layout
// on Linux's ABIs; the static_asserts hold it to that).
template <typename T>
void futex_wait(std::atomic<T>& word, T expected) {
    static_assert(sizeof(std::atomic<T>) == 4 && sizeof(T) == 4);
    static_cast<void>(::syscall(SYS_futex, reinterpret_cast<T*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0));
}
template <typename T>
void futex_wake(std::atomic<T>& word) {
    static_assert(sizeof(std::atomic<T>) == 4 && sizeof(T) == 4);
    static_cast<void>(::syscall(SYS_futex, reinterpret_cast<T*>(&word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0));
}

}  // namespace

enum class TaskState : std::uint8_t { Free, Runnable, Blocked, Exited };

class TaskSlot {
public:
    explicit TaskSlot(std::uint32_t id) : m_id(id) {}

    // Parks until the agent lets the task run. Async-signal-safe (an atomic
    // load and a system call): the preemption signal's handler calls it.
    void park() {
        while (run_token.load(std::memory_order_acquire) == 0) futex_wait(run_token, std::uint32_t{0});
    }

    [[nodiscard]] std::uint32_t id() const { return m_id; }

    // 1: the task may run; 0: it must park.
    std::atomic<std::uint32_t> run_token{0};
    // The Linux CPU it was placed on, and its thread.
    std::atomic<int> cpu{-1};
    std::atomic<pid_t> tid{0};
    std::function<void(TaskContext&)> body;
    std::thread thread;
    Enclave::Agent* agent = nullptr;

    // Under the agent's mutex.
    TaskState state = TaskState::Free;
    std::uint32_t weight = 1024;
    // Events posted and not yet taken into a batch: a decision about the
    // task is stale while there are any.
    std::uint32_t pending_events = 0;
    // The enclave CPU the mechanism runs it on, or -1.
    int enclave_cpu = -1;

private:
    std::uint32_t m_id;
};

namespace {

// The task the current thread is, for the preemption signal's handler.
// Initial-exec: a handler must not make the first access allocate.
thread_local TaskSlot* t_current __attribute__((tls_model("initial-exec"))) = nullptr;

extern "C" void milk_sched_on_preempt(int /*signal*/) {
    const int saved = errno;
    if (TaskSlot* slot = t_current; slot != nullptr) slot->park();
    errno = saved;
}

Result<void> install_preempt_handler() {
    static const Result<void> installed = [] {
        struct sigaction action{};
        action.sa_handler = milk_sched_on_preempt;
        sigemptyset(&action.sa_mask);
        // Interrupted system calls of the task's body resume once it runs
        // again, as if it had never been preempted.
        action.sa_flags = SA_RESTART;
        if (::sigaction(preempt_signal(), &action, nullptr) != 0)
            return Result<void>{Error{ErrorCode::SystemError, "sched: installing the preemption signal failed", errno}};
        return Result<void>{};
    }();
    return installed;
}

}  // namespace

class Enclave::Agent {
public:
    Agent(SchedClient remote, components::sched::Enclave<components::policy::FifoRule> fallback, EnclaveOptions options)
        : m_options(std::move(options)), m_remote(std::move(remote)), m_fallback(std::move(fallback)),
          m_running(m_options.cpus.size(), no_task) {
        m_slots.reserve(m_options.max_tasks);
        for (std::uint32_t id = 0; id < m_options.max_tasks; ++id) {
            m_slots.push_back(std::make_unique<TaskSlot>(id));
            m_slots.back()->agent = this;
        }
        // Each task posts at most a few events between batches; the buffers
        // are swapped, never grown, by the agent.
        const std::size_t batch_room = batch_capacity(m_options);
        m_posted.reserve(batch_room);
        m_batch.reserve(batch_room);
        m_decisions.reserve(2 * m_options.cpus.size() + 16);
        m_epoch = Clock::now();
        m_thread = std::thread([this] { loop(); });
    }

    ~Agent() {
        {
            std::lock_guard lock(m_mutex);
            m_stopping = true;
        }
        m_wake.notify_one();
        if (m_thread.joinable()) m_thread.join();
    }

    Result<std::uint32_t> spawn(std::function<void(TaskContext&)> body, std::uint32_t weight) {
        if (weight == 0) return Error{ErrorCode::InvalidArgument, "sched: a task of weight 0", 0};
        TaskSlot* slot = nullptr;
        {
            std::lock_guard lock(m_mutex);
            // A free slot, or an exited task's once the policy has heard of
            // its exit; searched from after the last one taken, so that an
            // id is not reused while others have never been (a task's id
            // names one task for as long as possible, in traces too).
            for (std::size_t i = 0; i < m_slots.size(); ++i) {
                TaskSlot& candidate = *m_slots[(m_next_slot + i) % m_slots.size()];
                if (candidate.state != TaskState::Free &&
                    (candidate.state != TaskState::Exited || candidate.pending_events != 0))
                    continue;
                slot = &candidate;
                m_next_slot = (candidate.id() + 1) % m_slots.size();
                break;
            }
            if (slot == nullptr) return Error{ErrorCode::InvalidArgument, "sched: max_tasks tasks are alive", m_options.max_tasks};
            slot->state = TaskState::Blocked;  // until its wake-up is posted
            slot->weight = weight;
            slot->enclave_cpu = -1;
        }
        // The exited task's thread has posted its exit: it is returning.
        if (slot->thread.joinable()) slot->thread.join();
        slot->body = std::move(body);
        slot->run_token.store(0, std::memory_order_relaxed);
        slot->tid.store(0, std::memory_order_relaxed);
        slot->thread = std::thread([slot] {
            t_current = slot;
            slot->tid.store(static_cast<pid_t>(::gettid()), std::memory_order_release);
            futex_wake(slot->tid);
            slot->park();
            TaskContext context(*slot);
            slot->body(context);
            t_current = nullptr;
            slot->agent->post_exit(*slot);
        });
        // The agent pins the thread by its tid: wait until it has one.
        while (slot->tid.load(std::memory_order_acquire) == 0) futex_wait(slot->tid, pid_t{0});
        // Posted here, by the spawner, so that tasks arrive in spawn order.
        post(*slot, {EventKind::task_new, 0, slot->id(), weight}, TaskState::Blocked);
        post(*slot, {EventKind::wakeup, 0, slot->id(), 0}, TaskState::Runnable);
        return slot->id();
    }

    void wait_all() {
        for (auto& slot : m_slots) {
            if (!slot->thread.joinable()) continue;
            slot->thread.join();
        }
    }

    // A task leaves its CPU by itself (blocked, yield) or comes back
    // (wakeup): its state changes now, the policy hears of it in the next
    // batch.
    void post(TaskSlot& slot, const Event& event, TaskState state) {
        {
            std::lock_guard lock(m_mutex);
            slot.state = state;
            ++slot.pending_events;
            if (slot.enclave_cpu >= 0 && event.kind != EventKind::task_new && event.kind != EventKind::wakeup) {
                m_running[static_cast<std::size_t>(slot.enclave_cpu)] = no_task;
                slot.enclave_cpu = -1;
            }
            m_posted.push_back(event);
        }
        m_wake.notify_one();
    }

    void post_exit(TaskSlot& slot) { post(slot, {EventKind::exit, 0, slot.id(), 0}, TaskState::Exited); }

    [[nodiscard]] EnclaveStats stats() const {
        std::lock_guard lock(m_mutex);
        return m_stats;
    }

    // The most events one batch can hold: a few per task, a tick per CPU.
    static std::size_t batch_capacity(const EnclaveOptions& options) {
        return 4 * static_cast<std::size_t>(options.max_tasks) + options.cpus.size() + 16;
    }

private:
    [[nodiscard]] std::uint64_t nanoseconds(Clock::time_point at) const {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(at - m_epoch).count());
    }

    void loop() {
        // The agent must run the moment a tick is due or a task leaves its
        // CPU, ahead of the tasks it schedules (which are ordinary threads):
        // a real-time priority when the process may take one (root, or
        // CAP_SYS_NICE, or RLIMIT_RTPRIO), else an ordinary thread that
        // Linux's own scheduler lets in soon after it wakes.
        const sched_param realtime{1};
        const bool is_realtime = ::sched_setscheduler(0, SCHED_FIFO, &realtime) == 0;
        {
            std::lock_guard lock(m_mutex);
            m_stats.agent_realtime = is_realtime;
        }
        auto next_tick = Clock::now() + m_options.tick;
        for (;;) {
            {
                std::unique_lock lock(m_mutex);
                m_wake.wait_until(lock, next_tick, [&] { return m_stopping || !m_posted.empty(); });
                if (m_stopping && m_posted.empty()) break;
                m_batch.clear();
                std::swap(m_batch, m_posted);
                for (const Event& event : m_batch) --m_slots[event.task]->pending_events;
                const auto now = Clock::now();
                if (now >= next_tick) {
                    for (std::size_t cpu = 0; cpu < m_running.size(); ++cpu)
                        if (m_running[cpu] != no_task) m_batch.push_back({EventKind::tick, static_cast<std::uint16_t>(cpu), 0, 0});
                    next_tick = now + m_options.tick;
                }
            }
            if (m_batch.empty()) continue;
            decide(nanoseconds(Clock::now()));
            apply_all();
        }
        if (m_remote) static_cast<void>(m_remote->bye());
    }

    // The policy's answer to m_batch, into m_decisions: from the remote
    // policy while it behaves, else from the fallback.
    void decide(std::uint64_t now) {
        m_decisions.clear();
        if (m_remote) {
            Result<void> reported{};
            for (const Event& event : m_batch) {
                reported = m_remote->report(event);
                if (!reported.ok()) break;
            }
            if (reported.ok()) {
                auto decided = m_remote->commit(now, m_options.policy_deadline);
                if (decided.ok()) {
                    m_decisions.assign(decided.value().begin(), decided.value().end());
                    std::lock_guard lock(m_mutex);
                    ++m_stats.batches;
                    return;
                }
                reported = decided.error();
            }
            const Error error = reported.error();
            fall_back(error.code == ErrorCode::TimedOut ? FallbackReason::MissedDeadline
                      : error.code == ErrorCode::ProtocolViolation ? FallbackReason::BrokeContract
                                                                    : FallbackReason::PolicyGone,
                      error, now);
            return;
        }
        for (const Event& event : m_batch) {
            // The fallback's books follow the mechanism's own state, so an
            // error here is our bug; the event is dropped rather than the
            // fallback abandoned (there is nothing to fall back to).
            static_cast<void>(m_fallback.apply(event, now));
        }
        m_fallback.commit([&](const Decision& decision) { m_decisions.push_back(decision); });
        std::lock_guard lock(m_mutex);
        ++m_stats.batches;
    }

    // Stops using the remote policy: every task the mechanism knows goes to
    // the fallback as it is now, the CPUs are cleared, and the fallback's
    // first decisions (in m_decisions) place the runnable ones again.
    void fall_back(FallbackReason reason, const Error& error, std::uint64_t now) {
        m_remote.reset();
        std::lock_guard lock(m_mutex);
        m_stats.fallback = reason;
        m_stats.fallback_error = error;
        m_stats.failure_seen = Clock::now();
        // What is pending is already in the tasks' states.
        m_posted.clear();
        for (auto& slot : m_slots) {
            slot->pending_events = 0;
            if (slot->state != TaskState::Runnable && slot->state != TaskState::Blocked) continue;
            static_cast<void>(m_fallback.apply({EventKind::task_new, 0, slot->id(), slot->weight}, now));
            if (slot->state == TaskState::Runnable)
                static_cast<void>(m_fallback.apply({EventKind::wakeup, 0, slot->id(), 0}, now));
        }
        // The remote policy's placements are void: park whatever runs, the
        // fallback places from a clean slate.
        for (std::size_t cpu = 0; cpu < m_running.size(); ++cpu) {
            const std::uint32_t task = m_running[cpu];
            if (task == no_task) continue;
            preempt_locked(*m_slots[task], cpu);
        }
        m_decisions.clear();
        m_fallback.commit([&](const Decision& decision) { m_decisions.push_back(decision); });
    }

    void apply_all() {
        bool first_fallback = false;
        {
            std::lock_guard lock(m_mutex);
            first_fallback = !m_remote && !m_stats.first_fallback_decision && m_stats.fallback != FallbackReason::None;
        }
        for (const Decision& decision : m_decisions) {
            if (apply(decision)) continue;
            if (!m_remote) {
                // The fallback follows the mechanism's own books: a refusal
                // here is our bug, and there is nothing to fall back to.
                std::lock_guard lock(m_mutex);
                ++m_stats.stale_refused;
                continue;
            }
            // The remote policy broke the rules: what it decided after this
            // is void too. (fall_back replaces m_decisions; nothing of this
            // loop is used after it.)
            fall_back(FallbackReason::BrokeContract,
                      Error{ErrorCode::ProtocolViolation, "sched: a decision the mechanism's state forbids", decision.task},
                      nanoseconds(Clock::now()));
            apply_all();
            return;
        }
        if (first_fallback && !m_decisions.empty()) {
            std::lock_guard lock(m_mutex);
            m_stats.first_fallback_decision = Clock::now();
        }
    }

    // Applies one decision; false when it breaks the rules.
    bool apply(const Decision& decision) {
        std::lock_guard lock(m_mutex);
        const std::size_t cpu = decision.cpu;
        switch (decision.kind) {
        case DecisionKind::none:
        case DecisionKind::idle: return true;
        case DecisionKind::preempt: {
            TaskSlot& slot = *m_slots[decision.task];
            // Stale: the task left its CPU by itself since the batch.
            if (slot.pending_events > 0 || m_running[cpu] != decision.task) {
                ++m_stats.stale_refused;
                return true;
            }
            preempt_locked(slot, cpu);
            ++m_stats.preemptions;
            ++m_stats.decisions_applied;
            return true;
        }
        case DecisionKind::run: {
            TaskSlot& slot = *m_slots[decision.task];
            if (slot.pending_events > 0) {
                ++m_stats.stale_refused;
                return true;
            }
            // A task that is not runnable, a CPU that is not free, a task
            // that runs elsewhere: the policy's books disagree with the
            // mechanism's, which only a broken policy makes happen.
            if (slot.state != TaskState::Runnable || m_running[cpu] != no_task || slot.enclave_cpu >= 0) return false;
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(m_options.cpus[cpu], &set);
            const pid_t tid = slot.tid.load(std::memory_order_acquire);
            if (::sched_setaffinity(tid, sizeof set, &set) != 0) {
                // The thread is gone (it exited after its exit was posted):
                // nothing to run.
                ++m_stats.stale_refused;
                return true;
            }
            slot.cpu.store(m_options.cpus[cpu], std::memory_order_relaxed);
            m_running[cpu] = decision.task;
            slot.enclave_cpu = static_cast<int>(cpu);
            slot.run_token.store(1, std::memory_order_release);
            futex_wake(slot.run_token);
            ++m_stats.decisions_applied;
            return true;
        }
        }
        return false;
    }

    // Takes the task off `cpu`: its token is cleared first, so the signal's
    // handler (or the task's next park) finds it so.
    void preempt_locked(TaskSlot& slot, std::size_t cpu) {
        m_running[cpu] = no_task;
        slot.enclave_cpu = -1;
        slot.run_token.store(0, std::memory_order_release);
        static_cast<void>(::syscall(SYS_tgkill, ::getpid(), slot.tid.load(std::memory_order_acquire), preempt_signal()));
    }

    EnclaveOptions m_options;
    std::optional<SchedClient> m_remote;
    components::sched::Enclave<components::policy::FifoRule> m_fallback;
    Clock::time_point m_epoch;

    mutable std::mutex m_mutex;
    std::condition_variable m_wake;
    bool m_stopping = false;
    std::vector<std::unique_ptr<TaskSlot>> m_slots;
    std::size_t m_next_slot = 0;
    std::vector<Event> m_posted;
    std::vector<std::uint32_t> m_running;  // per enclave CPU: the task the mechanism runs there
    EnclaveStats m_stats;

    // The agent thread's own.
    std::vector<Event> m_batch;
    std::vector<Decision> m_decisions;
    std::thread m_thread;
};

// ---- TaskContext -------------------------------------------------------------

void TaskContext::yield() {
    // Park first, then report: a run decision that follows the report must
    // find the token cleared, not be overwritten by it.
    m_slot.run_token.store(0, std::memory_order_release);
    m_slot.agent->post(m_slot, {EventKind::yield, 0, m_slot.id(), 0}, TaskState::Runnable);
    m_slot.park();
}

void TaskContext::blocking(const std::function<void()>& wait) {
    m_slot.run_token.store(0, std::memory_order_release);
    m_slot.agent->post(m_slot, {EventKind::blocked, 0, m_slot.id(), 0}, TaskState::Blocked);
    wait();
    m_slot.agent->post(m_slot, {EventKind::wakeup, 0, m_slot.id(), 0}, TaskState::Runnable);
    m_slot.park();
}

std::uint32_t TaskContext::id() const { return m_slot.id(); }
int TaskContext::cpu() const { return m_slot.cpu.load(std::memory_order_relaxed); }

// ---- Enclave -----------------------------------------------------------------

Result<std::unique_ptr<Enclave>> Enclave::try_create(SchedEndpoint&& endpoint, EnclaveOptions options) {
    if (options.cpus.empty() || options.cpus.size() > 65535)
        return Error{ErrorCode::InvalidArgument, "sched: an enclave needs 1 to 65535 CPUs", static_cast<std::int64_t>(options.cpus.size())};
    if (options.max_tasks == 0) return Error{ErrorCode::InvalidArgument, "sched: an enclave needs max_tasks >= 1", 0};
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return Error{ErrorCode::SystemError, "sched: sched_getaffinity failed", errno};
    for (int cpu : options.cpus)
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed))
            return Error{ErrorCode::InvalidArgument, "sched: a CPU this process may not run on", cpu};
    MILK_TRY(install_preempt_handler());
    const auto cpus = static_cast<std::uint32_t>(options.cpus.size());
    auto remote = MILK_TRY(SchedClient::try_connect(std::move(endpoint), {cpus, options.max_tasks},
                                                    std::chrono::seconds(10), Agent::batch_capacity(options)));
    auto fallback = MILK_TRY(components::sched::Enclave<components::policy::FifoRule>::try_create(cpus, options.max_tasks, {}));
    auto agent = std::make_unique<Agent>(std::move(remote), std::move(fallback), std::move(options));
    return std::unique_ptr<Enclave>(new Enclave(std::move(agent)));
}

Enclave::Enclave(std::unique_ptr<Agent> agent) : m_agent(std::move(agent)) {}

Enclave::~Enclave() {
    wait_all();
    m_agent.reset();
}

Result<std::uint32_t> Enclave::spawn(std::function<void(TaskContext&)> body, std::uint32_t weight) {
    return m_agent->spawn(std::move(body), weight);
}

void Enclave::wait_all() { m_agent->wait_all(); }

EnclaveStats Enclave::stats() const { return m_agent->stats(); }

}  // namespace milk::sched
