// The kernel scheduler mechanism's books (MILK_IOC_SCHED_*, docs/sched.md
// "The kernel mechanism"). The shim (shim/milk_sched_shim.c) watches the
// scheduler's tracepoints and calls in here with the scheduler's own locks
// held; this file keeps, per enclave, its tasks, their states as the
// tracepoints report them, and a queue of events for the agent, and it
// checks and applies the agent's decisions through the shim.
//
// Two locks, both the shim's:
// - the sched lock (a raw spinlock, interrupts off) guards what the probes
//   touch: the member table, each task's state and unread count, the event
//   queues, and which enclaves are live. Nothing under it sleeps, allocates
//   or wakes anyone (a probe pokes the agent's waker, which defers the
//   wake-up to an irq_work);
// - the sched mutex serializes the ioctls' and the watchdog's changes to the
//   enclaves (create, join, leave, apply, fall back, release) and covers the
//   calls that sleep: changing a thread's class and CPUs, copies to and from
//   user memory.
// An enclave's memory lives as long as its agent's file: a fallback ends its
// tasks' scheduling at once, but an agent still waiting in MILK_IOC_SCHED_WAIT
// wakes up to EPIPE, not to freed memory.
#include "sched_mechanism.hpp"

#include "component.hpp"
#include "kernel_log.hpp"
#include "owned.hpp"
#include "settings_table.hpp"

#include "milk_core.h"
#include "milk_uapi.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

namespace milk::kernel::sched {
namespace {

constexpr std::uint32_t queue_capacity = 1024;
// Twice the most members there can be, so that probing stays short.
constexpr std::uint32_t member_slots = 2 * MILK_SCHED_MAX_ENCLAVES * MILK_SCHED_MAX_TASKS;
constexpr std::uint32_t retired_records = 8;
constexpr std::uint32_t default_weight = 1024;
constexpr std::uint32_t max_weight = 1u << 20;
// A policy in the module: its agent thread's tick.
constexpr std::uint32_t default_tick_us = 1000;
constexpr std::uint32_t max_tick_us = 1'000'000;

enum class TaskState : std::uint8_t {
    Free,      // the slot is unused
    Runnable,  // joined, and runnable as far as the tracepoints said
    Blocked,   // left its CPU not runnable
    Gone,      // exited or left; the slot frees when the agent has read that
};

struct Task {
    void* thread = nullptr;  // the shim's reference (milk_shim_task_current), or null
    void* key = nullptr;     // its task_struct, as the probes see it
    std::uint32_t weight = default_weight;
    std::int32_t tid = 0;
    TaskState state = TaskState::Free;
    // The CPU the agent placed it on, or -1: parked.
    std::int32_t placed_cpu = -1;
    // Events about it the agent has not read: decisions about it are stale.
    std::uint32_t unread = 0;
};

struct Enclave {
    std::uint32_t id = 0;
    std::uint64_t cpus = 0;
    std::uint32_t max_tasks = 0;
    // Where the search for a free task number starts (join).
    std::uint32_t next_task = 0;
    std::uint32_t watchdog_ms = MILK_SCHED_DEFAULT_WATCHDOG_MS;
    const void* agent_file = nullptr;
    void* waker = nullptr;
    // Visible to the probes (under the sched lock): false once fallen back.
    bool live = true;
    bool overflowed = false;
    std::uint32_t fallback = MILK_SCHED_FALLBACK_NONE;
    std::uint64_t fallback_ns = 0;
    std::uint64_t events = 0;
    std::uint64_t applied = 0;
    std::uint64_t refused = 0;
    // Per Linux CPU: the task placed there (index), or -1. Written under
    // the sched mutex, read by the switch probe (whether an idle CPU has
    // a task placed, which then blocked or left: not an idle CPU).
    std::atomic<std::int32_t> cpu_task[MILK_SCHED_MAX_CPUS];
    // Per Linux CPU: a cpu_idle is queued and nothing ran there since.
    bool idle_reported[MILK_SCHED_MAX_CPUS] = {};
    Task tasks[MILK_SCHED_MAX_TASKS];
    // The event queue: head is the oldest unread. Written under the sched
    // lock; `count` is also read without it by the agent's wait condition.
    std::uint32_t head = 0;
    std::atomic<std::uint32_t> count{0};
    milk_sched_event queue[queue_capacity] = {};
    // Scratch for one MILK_IOC_SCHED_WAIT or APPLY (under the sched mutex).
    milk_sched_event out[MILK_SCHED_MAX_WAIT] = {};
    milk_sched_decision decisions[MILK_SCHED_MAX_APPLY] = {};

    // A policy in the module (MILK_IOC_SCHED_CREATE naming one), called by
    // the enclave's own kernel thread instead of an agent's ioctls; null
    // when the agent is a process.
    Owned<DirectSchedPolicy> policy;
    void* agent_thread = nullptr;
    std::atomic<bool> stopping{false};
    std::uint64_t tick_ns = 0;
    std::uint64_t epoch_ns = 0;
    // The policy numbers the enclave's CPUs 0..n-1 in the order of their
    // Linux numbers.
    std::uint32_t cpu_count = 0;
    std::uint32_t linux_cpu[MILK_SCHED_MAX_CPUS] = {};
    std::int32_t policy_cpu[MILK_SCHED_MAX_CPUS] = {};
    DirectDecision direct[MILK_SCHED_MAX_APPLY] = {};

    Enclave() {
        for (auto& task : cpu_task) task = -1;
    }
    [[nodiscard]] bool has_cpu(std::uint32_t cpu) const { return cpu < MILK_SCHED_MAX_CPUS && ((cpus >> cpu) & 1u) != 0; }
};

// What STATS still tells about an enclave whose agent's file is gone.
struct Retired {
    std::uint32_t id = 0;
    std::uint32_t fallback = MILK_SCHED_FALLBACK_NONE;
    std::uint64_t events = 0, applied = 0, refused = 0, fallback_ns = 0;
};

// A member: which enclave and task a thread is. `thread` is read without the
// lock by the probes' first look (a miss is the common case: every context
// switch of the machine asks).
struct Member {
    std::atomic<void*> thread{nullptr};
    std::uint16_t enclave = 0;
    std::uint16_t task = 0;
};

// A slot that held a member: lookups go on past it, inserts reuse it.
void* const tombstone = reinterpret_cast<void*>(static_cast<std::uintptr_t>(1));

constinit Enclave* g_enclaves[MILK_SCHED_MAX_ENCLAVES] = {};
// The agents' files, slot by slot as g_enclaves (written under the sched
// mutex). Every close of /dev/milk asks whether it ends an enclave; a file
// that never made one answers from here without the mutex, so that a task
// closing an fd does not block behind its own agent (a block the policy
// would see, and act on). The file's own CREATE cannot race with its
// release, so a miss here is certain.
constinit std::atomic<const void*> g_agent_files[MILK_SCHED_MAX_ENCLAVES] = {};
constinit Member g_members[member_slots] = {};
constinit Retired g_retired[retired_records] = {};
constinit std::uint32_t g_retired_next = 0;
constinit std::uint32_t g_next_id = 1;
// Whether the probes are attached; read by CREATE.
constinit std::atomic<bool> g_hooks_ready{false};
// Live enclaves and the union of their CPUs: the probes' cheapest way out.
constinit std::atomic<std::uint32_t> g_live{0};
constinit std::atomic<std::uint64_t> g_live_cpus{0};

// RAII for the shim's locks.
struct SpinGuard {
    SpinGuard() { milk_shim_sched_lock(); }
    ~SpinGuard() { milk_shim_sched_unlock(); }
    SpinGuard(const SpinGuard&) = delete;
    SpinGuard& operator=(const SpinGuard&) = delete;
};
struct MutexGuard {
    MutexGuard() { milk_shim_sched_mutex_lock(); }
    ~MutexGuard() { milk_shim_sched_mutex_unlock(); }
    MutexGuard(const MutexGuard&) = delete;
    MutexGuard& operator=(const MutexGuard&) = delete;
};

std::uint32_t member_hash(const void* thread) {
    // task_structs are cache-line aligned at least: drop the low bits.
    const auto bits = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(thread)) >> 6;
    return static_cast<std::uint32_t>((bits * 0x9E3779B97F4A7C15ull) >> 40) % member_slots;
}

// The member slot of `thread`, or null. Under the sched lock, or without it
// for a first look that the caller confirms under it.
Member* find_member(const void* thread) {
    std::uint32_t slot = member_hash(thread);
    for (std::uint32_t probes = 0; probes < member_slots; ++probes) {
        void* here = g_members[slot].thread.load(std::memory_order_relaxed);
        if (here == nullptr) return nullptr;
        if (here == thread) return &g_members[slot];
        slot = (slot + 1) % member_slots;
    }
    return nullptr;
}

// Under the sched lock. There is always room: member_slots is twice the
// most members there can be.
void insert_member(void* thread, std::uint32_t enclave, std::uint32_t task) {
    std::uint32_t slot = member_hash(thread);
    for (;;) {
        void* here = g_members[slot].thread.load(std::memory_order_relaxed);
        if (here == nullptr || here == tombstone) break;
        slot = (slot + 1) % member_slots;
    }
    g_members[slot].enclave = static_cast<std::uint16_t>(enclave);
    g_members[slot].task = static_cast<std::uint16_t>(task);
    g_members[slot].thread.store(thread, std::memory_order_relaxed);
}

void remove_member(const void* thread) {
    if (Member* member = find_member(thread)) member->thread.store(tombstone, std::memory_order_relaxed);
}

void recount_live() {
    std::uint32_t live = 0;
    std::uint64_t cpus = 0;
    for (Enclave* enclave : g_enclaves) {
        if (enclave == nullptr || !enclave->live) continue;
        ++live;
        cpus |= enclave->cpus;
    }
    g_live.store(live, std::memory_order_relaxed);
    g_live_cpus.store(cpus, std::memory_order_relaxed);
    // Without members the tombstones can all go.
    if (live == 0)
        for (Member& member : g_members) member.thread.store(nullptr, std::memory_order_relaxed);
}

// Under the sched lock: queues an event and pokes the agent.
void push(Enclave& enclave, std::uint32_t kind, std::uint32_t cpu, std::int32_t task_index) {
    const std::uint32_t count = enclave.count.load(std::memory_order_relaxed);
    if (count == queue_capacity) {
        // The agent is far behind: the watchdog falls back (it cannot here).
        enclave.overflowed = true;
        return;
    }
    milk_sched_event& event = enclave.queue[(enclave.head + count) % queue_capacity];
    event = milk_sched_event{};
    event.kind = kind;
    event.cpu = cpu;
    event.time_ns = static_cast<std::uint64_t>(milk_shim_clock_ns());
    if (task_index >= 0) {
        Task& task = enclave.tasks[task_index];
        event.task = static_cast<std::uint32_t>(task_index);
        event.weight = task.weight;
        event.tid = task.tid;
        ++task.unread;
    }
    enclave.count.store(count + 1, std::memory_order_release);
    ++enclave.events;
    milk_shim_waker_poke(enclave.waker);
}

Enclave* live_enclave_by_id(std::uint32_t id) {
    for (Enclave* enclave : g_enclaves)
        if (enclave != nullptr && enclave->id == id && enclave->live) return enclave;
    return nullptr;
}

Enclave* enclave_of_agent(const void* file) {
    for (Enclave* enclave : g_enclaves)
        if (enclave != nullptr && enclave->agent_file == file) return enclave;
    return nullptr;
}

std::uint32_t index_of(const Enclave* enclave) {
    for (std::uint32_t i = 0; i < MILK_SCHED_MAX_ENCLAVES; ++i)
        if (g_enclaves[i] == enclave) return i;
    return MILK_SCHED_MAX_ENCLAVES;
}

// Under the sched mutex: every task goes back to the kernel's scheduling,
// the probes stop seeing the enclave, and the agent wakes to EPIPE.
void fall_back(Enclave& enclave, std::uint32_t reason) {
    if (!enclave.live) return;
    {
        SpinGuard lock;
        enclave.live = false;
        enclave.fallback = reason;
        enclave.fallback_ns = static_cast<std::uint64_t>(milk_shim_clock_ns());
        for (Task& task : enclave.tasks)
            if (task.thread != nullptr) remove_member(task.key);
        recount_live();
        milk_shim_waker_poke(enclave.waker);
    }
    // No probe touches the tasks now: release them outside the spinlock.
    for (Task& task : enclave.tasks) {
        if (task.thread == nullptr) continue;
        if (task.state != TaskState::Gone) {
            const int released = milk_shim_task_release(task.thread);
            if (released != 0) log(MILK_LOG_WARN, "sched: a task could not be released to the kernel's scheduling", released);
        }
        milk_shim_task_put(task.thread);
        task = Task{};
    }
    for (auto& cpu : enclave.cpu_task) cpu = -1;
    log(MILK_LOG_INFO, "sched: an enclave fell back to the kernel's scheduling, reason", reason);
}

// Under the sched mutex: takes a task off its CPU. MILK_PARK_STOP stops a
// runnable task until it is placed again; a blocked one only loses its
// class (its wake-up must reach the policy).
void park(Enclave& enclave, std::int32_t task_index, milk_park_kind kind = MILK_PARK_STOP) {
    Task& task = enclave.tasks[task_index];
    if (task.placed_cpu >= 0) {
        if (enclave.cpu_task[task.placed_cpu] == task_index) enclave.cpu_task[task.placed_cpu] = -1;
        task.placed_cpu = -1;
    }
    if (task.state == TaskState::Gone || task.thread == nullptr) return;
    const int parked = milk_shim_task_park(task.thread, enclave.cpus, kind);
    if (parked != 0) log(MILK_LOG_WARN, "sched: a task could not be parked", parked);
}

// Under the sched lock: a task was placed on `cpu`, so a cpu_idle about it
// that the agent has not read describes the past; the policy would take it
// for news and free the CPU under the task it just placed. It is withdrawn
// (made an event of no kind, which the agent skips).
void withdraw_idle(Enclave& enclave, std::uint32_t cpu) {
    enclave.idle_reported[cpu] = false;
    const std::uint32_t count = enclave.count.load(std::memory_order_relaxed);
    for (std::uint32_t i = 0; i < count; ++i) {
        milk_sched_event& event = enclave.queue[(enclave.head + i) % queue_capacity];
        if (event.kind == MILK_SCHED_EVENT_CPU_IDLE && event.cpu == cpu) event.kind = 0;
    }
}

int events_ready(void* argument) {
    const auto& enclave = *static_cast<const Enclave*>(argument);
    return enclave.count.load(std::memory_order_acquire) != 0 || enclave.fallback != MILK_SCHED_FALLBACK_NONE ||
           enclave.stopping.load(std::memory_order_acquire);
}

// Whether every decision is well formed: nothing of a batch is applied
// unless all of it is (an agent is a process like any other).
bool well_formed(const Enclave& enclave, const milk_sched_decision* decisions, std::uint32_t count) {
    for (std::uint32_t i = 0; i < count; ++i) {
        const milk_sched_decision& decision = decisions[i];
        if (decision.result != 0 || !enclave.has_cpu(decision.cpu)) return false;
        if (decision.kind != MILK_SCHED_DECIDE_RUN && decision.kind != MILK_SCHED_DECIDE_PREEMPT &&
            decision.kind != MILK_SCHED_DECIDE_IDLE)
            return false;
        if (decision.kind != MILK_SCHED_DECIDE_IDLE && decision.task >= enclave.max_tasks) return false;
    }
    return true;
}

struct Applied {
    std::uint32_t applied = 0;
    std::uint32_t refused = 0;
};

// Under the sched mutex: applies well-formed decisions in order, each one's
// result written back.
Applied apply_decisions(Enclave& enclave, milk_sched_decision* decisions, std::uint32_t count);

// --- the ioctls --------------------------------------------------------------

long ioctl_create(const void* file, unsigned long argument) {
    milk_sched_create request;
    if (milk_shim_copy_from_user(&request, argument, sizeof(request)) != 0) return -MILK_EFAULT;
    if (!g_hooks_ready.load(std::memory_order_acquire)) return -MILK_EOPNOTSUPP;
    if (!milk_shim_capable_sys_nice()) return -MILK_EPERM;
    if (request.reserved != 0 || request.reserved2 != 0 || request.cpus == 0 || request.max_tasks == 0 ||
        request.max_tasks > MILK_SCHED_MAX_TASKS || request.watchdog_ms > MILK_SCHED_MAX_WATCHDOG_MS ||
        request.tick_us > max_tick_us || !terminated(request.policy))
        return -MILK_EINVAL;
    std::uint32_t cpu_count = 0;
    for (int cpu = 0; cpu < static_cast<int>(MILK_SCHED_MAX_CPUS); ++cpu) {
        if (((request.cpus >> cpu) & 1u) == 0) continue;
        if (!milk_shim_cpu_online(cpu)) return -MILK_EINVAL;
        ++cpu_count;
    }
    // A policy in the module: built here, from its settings, as a channel
    // would build it; refused like MILK_IOC_OPEN_CHANNEL refuses one.
    Owned<DirectSchedPolicy> policy;
    if (request.policy[0] != '\0') {
        const FoundComponent found = find_component(request.policy);
        if (found.entry == nullptr) return -MILK_ENOENT;
        if (found.entry->create_direct_sched == nullptr) return -MILK_EPROTONOSUPPORT;
        auto settings = copy_settings(request.settings);
        if (!settings.ok()) {
            log(MILK_LOG_WARN, "sched: the policy's settings are refused", settings.error().detail);
            return -MILK_EINVAL;
        }
        auto made = found.entry->create_direct_sched(settings.value(), cpu_count, request.max_tasks);
        if (!made.ok()) {
            log(MILK_LOG_WARN, made.error().what, made.error().detail);
            return made.error().code == ErrorCode::OutOfMemory ? -MILK_ENOMEM : -MILK_EINVAL;
        }
        policy = std::move(made).value();
    } else if (request.tick_us != 0 || request.settings.count != 0) {
        return -MILK_EINVAL;
    }

    MutexGuard guard;
    if (enclave_of_agent(file) != nullptr) return -MILK_EBUSY;
    std::uint32_t slot = 0;
    while (slot < MILK_SCHED_MAX_ENCLAVES && g_enclaves[slot] != nullptr) ++slot;
    if (slot == MILK_SCHED_MAX_ENCLAVES) return -MILK_EBUSY;
    auto* enclave = new (std::nothrow) Enclave;
    if (enclave == nullptr) return -MILK_ENOMEM;
    enclave->waker = milk_shim_waker_create();
    if (enclave->waker == nullptr) {
        delete enclave;
        return -MILK_ENOMEM;
    }
    enclave->id = g_next_id++;
    enclave->cpus = request.cpus;
    enclave->max_tasks = request.max_tasks;
    enclave->watchdog_ms = request.watchdog_ms == 0 ? MILK_SCHED_DEFAULT_WATCHDOG_MS : request.watchdog_ms;
    enclave->agent_file = file;
    enclave->cpu_count = cpu_count;
    for (std::uint32_t cpu = 0, index = 0; cpu < MILK_SCHED_MAX_CPUS; ++cpu) {
        enclave->policy_cpu[cpu] = -1;
        if (enclave->has_cpu(cpu)) {
            enclave->policy_cpu[cpu] = static_cast<std::int32_t>(index);
            enclave->linux_cpu[index++] = cpu;
        }
    }
    enclave->tick_ns = std::uint64_t{request.tick_us == 0 ? default_tick_us : request.tick_us} * 1000u;
    enclave->epoch_ns = static_cast<std::uint64_t>(milk_shim_clock_ns());
    enclave->policy = std::move(policy);
    request.enclave = enclave->id;
    if (milk_shim_copy_to_user(argument, &request, sizeof(request)) != 0) {
        milk_shim_waker_destroy(enclave->waker);
        delete enclave;
        return -MILK_EFAULT;
    }
    {
        SpinGuard lock;
        g_enclaves[slot] = enclave;
        recount_live();
    }
    g_agent_files[slot].store(file, std::memory_order_release);
    if (enclave->policy) {
        // The thread waits for this call's mutex before it looks at anything.
        enclave->agent_thread = milk_shim_sched_agent_start(enclave, enclave->cpus);
        if (enclave->agent_thread == nullptr) {
            g_agent_files[slot].store(nullptr, std::memory_order_release);
            {
                SpinGuard lock;
                g_enclaves[slot] = nullptr;
                recount_live();
            }
            milk_shim_waker_destroy(enclave->waker);
            delete enclave;
            return -MILK_EAGAIN;
        }
    }
    milk_shim_sched_watchdog_arm(5);
    return 0;
}

long ioctl_join(unsigned long argument) {
    milk_sched_join request;
    if (milk_shim_copy_from_user(&request, argument, sizeof(request)) != 0) return -MILK_EFAULT;
    if (request.reserved != 0 || request.weight > max_weight) return -MILK_EINVAL;
    const std::uint32_t weight = request.weight == 0 ? default_weight : request.weight;

    MutexGuard guard;
    Enclave* enclave = live_enclave_by_id(request.enclave);
    if (enclave == nullptr) {
        for (Enclave* other : g_enclaves)
            if (other != nullptr && other->id == request.enclave) return -MILK_EPIPE;
        return -MILK_ENOENT;
    }
    void* const key = milk_shim_current_key();
    bool member = false;
    {
        SpinGuard lock;
        member = find_member(key) != nullptr;
    }
    if (member) return -MILK_EALREADY;
    // Numbers go round, as pids do: a number is not given again until
    // max_tasks joins later at the soonest, so that a decision about a task
    // that just left cannot land on the one that took its number.
    std::int32_t index = -1;
    for (std::uint32_t tried = 0; tried < enclave->max_tasks; ++tried) {
        const std::uint32_t i = (enclave->next_task + tried) % enclave->max_tasks;
        if (enclave->tasks[i].state == TaskState::Free) {
            index = static_cast<std::int32_t>(i);
            enclave->next_task = (i + 1) % enclave->max_tasks;
            break;
        }
    }
    if (index < 0) return -MILK_ENOSPC;
    void* thread = milk_shim_task_current();
    if (thread == nullptr) return -MILK_ENOMEM;
    // Parked before the agent hears of it: the thread stops on its way out
    // of this call and runs when the policy places it.
    const int parked = milk_shim_task_park(thread, enclave->cpus, MILK_PARK_JOINING);
    if (parked != 0) {
        milk_shim_task_put(thread);
        return parked;
    }
    Task& task = enclave->tasks[index];
    task = Task{thread, key, weight, milk_shim_task_tid(thread), TaskState::Runnable, -1, 0};
    {
        SpinGuard lock;
        insert_member(key, index_of(enclave), static_cast<std::uint32_t>(index));
        // It arrives, and it is runnable: the contract's two events.
        push(*enclave, MILK_SCHED_EVENT_TASK_NEW, 0, index);
        push(*enclave, MILK_SCHED_EVENT_WAKEUP, 0, index);
    }
    request.task = static_cast<std::uint32_t>(index);
    // The thread is in: a bad address for the answer does not take it out.
    (void)milk_shim_copy_to_user(argument, &request, sizeof(request));
    return 0;
}

long ioctl_leave() {
    MutexGuard guard;
    void* const key = milk_shim_current_key();
    Enclave* enclave = nullptr;
    std::int32_t index = -1;
    {
        SpinGuard lock;
        if (Member* member = find_member(key)) {
            enclave = g_enclaves[member->enclave];
            index = member->task;
            remove_member(key);
            Task& task = enclave->tasks[index];
            task.state = TaskState::Gone;
            push(*enclave, MILK_SCHED_EVENT_EXIT, 0, index);
        }
    }
    if (enclave == nullptr) return -MILK_ENOENT;
    Task& task = enclave->tasks[index];
    if (task.placed_cpu >= 0 && enclave->cpu_task[task.placed_cpu] == index) enclave->cpu_task[task.placed_cpu] = -1;
    task.placed_cpu = -1;
    const int released = milk_shim_task_release(task.thread);
    return released;
}

// Takes up to `capacity` events into enclave.out (sched mutex held); drops
// the references of tasks whose last event the agent has now read.
std::uint32_t take_events(Enclave& enclave, std::uint32_t capacity) {
    std::uint32_t taken = 0;
    {
        SpinGuard lock;
        const std::uint32_t count = enclave.count.load(std::memory_order_relaxed);
        while (taken < capacity && taken < count) {
            const milk_sched_event& event = enclave.queue[enclave.head];
            enclave.out[taken++] = event;
            enclave.head = (enclave.head + 1) % queue_capacity;
            if (event.kind != MILK_SCHED_EVENT_CPU_IDLE && event.kind != 0) --enclave.tasks[event.task].unread;
        }
        enclave.count.store(count - taken, std::memory_order_relaxed);
    }
    // What the events mean for the tasks' classes: a task that blocked or
    // left gives its CPU up at once, without waiting for the policy, so that
    // it does not come back at real-time priority on a CPU it was taken off.
    for (std::uint32_t i = 0; i < taken; ++i) {
        const milk_sched_event& event = enclave.out[i];
        milk_shim_sched_trace("event", event.tid, event.kind, event.kind == MILK_SCHED_EVENT_CPU_IDLE ? event.cpu : event.task);
        if (event.kind == MILK_SCHED_EVENT_CPU_IDLE || event.kind == 0) continue;
        Task& task = enclave.tasks[event.task];
        if (event.kind == MILK_SCHED_EVENT_BLOCKED && task.state == TaskState::Blocked)
            park(enclave, static_cast<std::int32_t>(event.task), MILK_PARK_CLASS_ONLY);
        if (task.state == TaskState::Gone) {
            if (task.placed_cpu >= 0 && enclave.cpu_task[task.placed_cpu] == static_cast<std::int32_t>(event.task))
                enclave.cpu_task[task.placed_cpu] = -1;
            task.placed_cpu = -1;
            if (task.unread == 0 && task.thread != nullptr) {
                milk_shim_task_put(task.thread);
                SpinGuard lock;
                task = Task{};
            }
        }
    }
    return taken;
}

long ioctl_wait(const void* file, unsigned long argument) {
    milk_sched_wait request;
    if (milk_shim_copy_from_user(&request, argument, sizeof(request)) != 0) return -MILK_EFAULT;
    if (request.capacity == 0 || request.capacity > MILK_SCHED_MAX_WAIT) return -MILK_EINVAL;
    Enclave* enclave = nullptr;
    {
        MutexGuard guard;
        enclave = enclave_of_agent(file);
    }
    // The enclave stays while this file is in an ioctl: only the file's
    // release frees it. One with its policy in the module has an agent of
    // its own already.
    if (enclave == nullptr || enclave->policy) return -MILK_ENODEV;
    bool waited = false;
    for (;;) {
        {
            MutexGuard guard;
            if (!enclave->live) return -MILK_EPIPE;
            const std::uint32_t taken = take_events(*enclave, request.capacity);
            if (taken != 0 || request.timeout_ns == 0 || waited) {
                request.count = taken;
                if (taken != 0 &&
                    milk_shim_copy_to_user(request.events, enclave->out, taken * sizeof(milk_sched_event)) != 0)
                    return -MILK_EFAULT;
                return milk_shim_copy_to_user(argument, &request, sizeof(request));
            }
        }
        const int woken = milk_shim_waker_wait(enclave->waker, events_ready, enclave, request.timeout_ns);
        if (woken < 0) return woken;
        // Timed out or ready: one more look, then answer either way.
        waited = true;
    }
}

Applied apply_decisions(Enclave& enclave, milk_sched_decision* decisions, std::uint32_t count) {
    Applied done;
    for (std::uint32_t i = 0; i < count; ++i) {
        milk_sched_decision& decision = decisions[i];
        const auto cpu = static_cast<std::int32_t>(decision.cpu);
        const auto index = static_cast<std::int32_t>(decision.task);
        bool fresh = true;
        if (decision.kind != MILK_SCHED_DECIDE_IDLE) {
            // A decision about a task with an event the agent has not read
            // was made on an old picture of it: refused, as a ghOSt
            // transaction fails on a stale barrier.
            SpinGuard lock;
            const Task& task = enclave.tasks[index];
            fresh = task.thread != nullptr && task.unread == 0 &&
                    (decision.kind == MILK_SCHED_DECIDE_PREEMPT ? task.placed_cpu == cpu
                                                                : task.state == TaskState::Runnable);
        }
        if (!fresh) {
            milk_shim_sched_trace("refused", 0, decision.kind, index);
            decision.result = MILK_SCHED_REFUSED;
            ++done.refused;
            continue;
        }
        switch (decision.kind) {
        case MILK_SCHED_DECIDE_PREEMPT: park(enclave, index); break;
        case MILK_SCHED_DECIDE_IDLE:
            if (enclave.cpu_task[cpu] >= 0) park(enclave, enclave.cpu_task[cpu]);
            break;
        case MILK_SCHED_DECIDE_RUN: {
            Task& task = enclave.tasks[index];
            // Whoever holds the CPU still (its preempt was refused) yields it:
            // one placed task per CPU is the rule the agent cannot break.
            if (enclave.cpu_task[cpu] >= 0 && enclave.cpu_task[cpu] != index) park(enclave, enclave.cpu_task[cpu]);
            if (task.placed_cpu >= 0 && task.placed_cpu != cpu && enclave.cpu_task[task.placed_cpu] == index)
                enclave.cpu_task[task.placed_cpu] = -1;
            const int placed = milk_shim_task_place(task.thread, cpu);
            if (placed != 0) {
                log(MILK_LOG_WARN, "sched: a task could not be placed", placed);
                decision.result = MILK_SCHED_REFUSED;
                ++done.refused;
                continue;
            }
            task.placed_cpu = cpu;
            enclave.cpu_task[cpu] = index;
            SpinGuard lock;
            withdraw_idle(enclave, static_cast<std::uint32_t>(cpu));
            break;
        }
        default: break;
        }
        decision.result = MILK_SCHED_APPLIED;
        ++done.applied;
        milk_shim_sched_trace("applied", 0, decision.kind, decision.kind == MILK_SCHED_DECIDE_IDLE ? -1 : index);
    }
    enclave.applied += done.applied;
    enclave.refused += done.refused;
    return done;
}

long ioctl_apply(const void* file, unsigned long argument) {
    milk_sched_apply request;
    if (milk_shim_copy_from_user(&request, argument, sizeof(request)) != 0) return -MILK_EFAULT;
    if (request.count > MILK_SCHED_MAX_APPLY || request.reserved != 0) return -MILK_EINVAL;
    MutexGuard guard;
    Enclave* enclave = enclave_of_agent(file);
    if (enclave == nullptr || enclave->policy) return -MILK_ENODEV;
    if (!enclave->live) return -MILK_EPIPE;
    milk_sched_decision* decisions = enclave->decisions;
    if (request.count != 0 &&
        milk_shim_copy_from_user(decisions, request.decisions, request.count * sizeof(milk_sched_decision)) != 0)
        return -MILK_EFAULT;
    if (!well_formed(*enclave, decisions, request.count)) return -MILK_EINVAL;
    const Applied done = apply_decisions(*enclave, decisions, request.count);
    request.applied = done.applied;
    request.refused = done.refused;
    if (request.count != 0 &&
        milk_shim_copy_to_user(request.decisions, decisions, request.count * sizeof(milk_sched_decision)) != 0)
        return -MILK_EFAULT;
    return milk_shim_copy_to_user(argument, &request, sizeof(request));
}

long ioctl_fallback(const void* file) {
    MutexGuard guard;
    Enclave* enclave = enclave_of_agent(file);
    if (enclave == nullptr) return -MILK_ENODEV;
    if (!enclave->live) return -MILK_EPIPE;
    fall_back(*enclave, MILK_SCHED_FALLBACK_ASKED);
    return 0;
}

long ioctl_stats(unsigned long argument) {
    milk_sched_stats stats;
    if (milk_shim_copy_from_user(&stats, argument, sizeof(stats)) != 0) return -MILK_EFAULT;
    const std::uint32_t id = stats.enclave;
    stats = milk_sched_stats{};
    stats.enclave = id;
    {
        MutexGuard guard;
        bool found = false;
        for (const Enclave* enclave : g_enclaves) {
            if (enclave == nullptr || enclave->id != id) continue;
            found = true;
            stats.fallback = enclave->fallback;
            for (const Task& task : enclave->tasks)
                if (task.state == TaskState::Runnable || task.state == TaskState::Blocked) ++stats.tasks;
            stats.events = enclave->events;
            stats.applied = enclave->applied;
            stats.refused = enclave->refused;
            stats.fallback_ns = enclave->fallback_ns;
        }
        for (const Retired& retired : g_retired) {
            if (found || retired.id != id || id == 0) continue;
            found = true;
            stats.fallback = retired.fallback;
            stats.events = retired.events;
            stats.applied = retired.applied;
            stats.refused = retired.refused;
            stats.fallback_ns = retired.fallback_ns;
        }
        if (!found) return -MILK_ENOENT;
    }
    return milk_shim_copy_to_user(argument, &stats, sizeof(stats));
}

}  // namespace

void release_file(const void* file) {
    std::uint32_t agent_slot = MILK_SCHED_MAX_ENCLAVES;
    for (std::uint32_t i = 0; i < MILK_SCHED_MAX_ENCLAVES; ++i)
        if (g_agent_files[i].load(std::memory_order_acquire) == file) agent_slot = i;
    if (agent_slot == MILK_SCHED_MAX_ENCLAVES) return;
    // Only this file's CREATE fills the slot and only this release empties
    // it, so the enclave there is this file's, and stays until freed below.
    Enclave* enclave = nullptr;
    {
        SpinGuard lock;
        enclave = g_enclaves[agent_slot];
    }
    // A policy in the module: its thread stops first, outside the mutex it
    // takes.
    if (enclave->agent_thread != nullptr) {
        enclave->stopping.store(true, std::memory_order_release);
        milk_shim_waker_poke(enclave->waker);
        milk_shim_sched_agent_stop(enclave->agent_thread);
        enclave->agent_thread = nullptr;
    }
    MutexGuard guard;
    fall_back(*enclave, MILK_SCHED_FALLBACK_AGENT_GONE);
    g_retired[g_retired_next] = Retired{enclave->id, enclave->fallback, enclave->events, enclave->applied,
                                        enclave->refused, enclave->fallback_ns};
    g_retired_next = (g_retired_next + 1) % retired_records;
    g_agent_files[agent_slot].store(nullptr, std::memory_order_release);
    {
        SpinGuard lock;
        g_enclaves[agent_slot] = nullptr;
    }
    milk_shim_waker_destroy(enclave->waker);
    delete enclave;
}

}  // namespace milk::kernel::sched

using namespace milk::kernel::sched;

extern "C" int milk_core_is_sched_ioctl(unsigned int command) {
    switch (command) {
    case MILK_IOC_SCHED_CREATE:
    case MILK_IOC_SCHED_JOIN:
    case MILK_IOC_SCHED_LEAVE:
    case MILK_IOC_SCHED_WAIT:
    case MILK_IOC_SCHED_APPLY:
    case MILK_IOC_SCHED_FALLBACK:
    case MILK_IOC_SCHED_STATS: return 1;
    default: return 0;
    }
}

extern "C" long milk_core_sched_ioctl(void* file_state, unsigned int command, unsigned long argument) {
    switch (command) {
    case MILK_IOC_SCHED_CREATE: return ioctl_create(file_state, argument);
    case MILK_IOC_SCHED_JOIN: return ioctl_join(argument);
    case MILK_IOC_SCHED_LEAVE: return argument == 0 ? ioctl_leave() : -MILK_EINVAL;
    case MILK_IOC_SCHED_WAIT: return ioctl_wait(file_state, argument);
    case MILK_IOC_SCHED_APPLY: return ioctl_apply(file_state, argument);
    case MILK_IOC_SCHED_FALLBACK: return argument == 0 ? ioctl_fallback(file_state) : -MILK_EINVAL;
    case MILK_IOC_SCHED_STATS: return ioctl_stats(argument);
    default: return -MILK_ENOTTY;
    }
}

extern "C" void milk_core_sched_switch(void* prev, int blocked, int next_idle, int cpu) {
    if (g_live.load(std::memory_order_relaxed) == 0) return;
    const bool idle_in_enclave = next_idle != 0 && cpu >= 0 && cpu < static_cast<int>(MILK_SCHED_MAX_CPUS) &&
                                 ((g_live_cpus.load(std::memory_order_relaxed) >> cpu) & 1u) != 0;
    // The common case, every switch of the machine: neither a member that
    // blocked nor an enclave's CPU going idle. No lock for that.
    if (!idle_in_enclave && (blocked == 0 || find_member(prev) == nullptr)) return;
    SpinGuard lock;
    if (blocked != 0) {
        if (Member* member = find_member(prev)) {
            Enclave& enclave = *g_enclaves[member->enclave];
            Task& task = enclave.tasks[member->task];
            // A thread that sleeps in its park did not block: the module
            // stopped it, and the policy knows it is off its CPU.
            if (task.state == TaskState::Runnable && milk_shim_task_parking(task.thread) == 0) {
                task.state = TaskState::Blocked;
                push(enclave, MILK_SCHED_EVENT_BLOCKED, static_cast<std::uint32_t>(cpu), member->task);
            }
        }
    }
    if (idle_in_enclave) {
        for (Enclave* enclave : g_enclaves) {
            if (enclave == nullptr || !enclave->live || !enclave->has_cpu(static_cast<std::uint32_t>(cpu))) continue;
            // A CPU with a task placed idles because that task blocked or
            // left, which its own event says.
            if (enclave->idle_reported[cpu] || enclave->cpu_task[cpu].load(std::memory_order_relaxed) >= 0) continue;
            enclave->idle_reported[cpu] = true;
            push(*enclave, MILK_SCHED_EVENT_CPU_IDLE, static_cast<std::uint32_t>(cpu), -1);
        }
    }
}

extern "C" void milk_core_sched_wakeup(void* thread) {
    if (g_live.load(std::memory_order_relaxed) == 0 || find_member(thread) == nullptr) return;
    SpinGuard lock;
    Member* member = find_member(thread);
    if (member == nullptr) return;
    Enclave& enclave = *g_enclaves[member->enclave];
    Task& task = enclave.tasks[member->task];
    // A wake-up of a task that never left its CPU (woken before it slept)
    // changes nothing the policy knows.
    if (task.state != TaskState::Blocked) return;
    task.state = TaskState::Runnable;
    push(enclave, MILK_SCHED_EVENT_WAKEUP, 0, member->task);
}

extern "C" void milk_core_sched_exit(void* thread) {
    if (g_live.load(std::memory_order_relaxed) == 0 || find_member(thread) == nullptr) return;
    SpinGuard lock;
    Member* member = find_member(thread);
    if (member == nullptr) return;
    Enclave& enclave = *g_enclaves[member->enclave];
    const std::uint16_t index = member->task;
    member->thread.store(tombstone, std::memory_order_relaxed);
    enclave.tasks[index].state = TaskState::Gone;
    push(enclave, MILK_SCHED_EVENT_EXIT, 0, index);
}

namespace milk::kernel::sched {
namespace {

int stop_asked(void* argument) {
    return static_cast<const Enclave*>(argument)->stopping.load(std::memory_order_acquire) ? 1 : 0;
}

// Whether the policy in the module took an event; why not goes to the log.
bool accepted(const Result<void>& fed) {
    if (fed.ok()) return true;
    log(MILK_LOG_WARN, fed.error().what, fed.error().detail);
    return false;
}

// One module event in the contract's terms, for the policy in the module;
// false when the policy refuses it.
bool feed(Enclave& enclave, const milk_sched_event& event, std::uint64_t now) {
    Result<void> fed{};
    switch (event.kind) {
    case MILK_SCHED_EVENT_TASK_NEW:
    case MILK_SCHED_EVENT_WAKEUP:
    case MILK_SCHED_EVENT_BLOCKED:
    case MILK_SCHED_EVENT_EXIT:
        fed = enclave.policy->event(static_cast<std::uint8_t>(event.kind), 0, event.task,
                                    event.kind == MILK_SCHED_EVENT_TASK_NEW ? event.weight : 0, now);
        break;
    case MILK_SCHED_EVENT_CPU_IDLE:
        fed = enclave.policy->event(MILK_SCHED_EVENT_CPU_IDLE,
                                    static_cast<std::uint16_t>(enclave.policy_cpu[event.cpu]), 0, 0, now);
        break;
    default: break;  // withdrawn
    }
    return accepted(fed);
}

// One batch for the policy in the module, under the sched mutex: the events
// queued since the last one and a tick for every CPU with a task placed
// when one is due, then its decisions, checked and applied as an agent's
// would be. False when the policy failed (the enclave has fallen back).
bool direct_batch(Enclave& enclave, std::uint64_t& next_tick) {
    const std::uint32_t taken = take_events(enclave, MILK_SCHED_MAX_WAIT);
    const auto now = static_cast<std::uint64_t>(milk_shim_clock_ns());
    const std::uint64_t since = now - enclave.epoch_ns;
    bool any = false;
    for (std::uint32_t i = 0; i < taken; ++i) {
        if (enclave.out[i].kind == 0) continue;
        if (!feed(enclave, enclave.out[i], since)) return false;
        any = true;
    }
    if (now >= next_tick) {
        for (std::uint32_t index = 0; index < enclave.cpu_count; ++index) {
            if (enclave.cpu_task[enclave.linux_cpu[index]].load(std::memory_order_relaxed) < 0) continue;
            // 7: the contract's tick.
            if (!accepted(enclave.policy->event(7, static_cast<std::uint16_t>(index), 0, 0, since))) return false;
            any = true;
        }
        next_tick = now + enclave.tick_ns;
    }
    if (!any) return true;
    const std::size_t count = enclave.policy->decide(enclave.direct, MILK_SCHED_MAX_APPLY);
    for (std::size_t i = 0; i < count; ++i) {
        const DirectDecision& decided = enclave.direct[i];
        // The books number CPUs as the module told them; another number is
        // our bug, and well_formed below refuses it like an agent's.
        milk_sched_decision& out = enclave.decisions[i];
        out = milk_sched_decision{};
        out.kind = decided.kind;
        out.cpu = decided.cpu < enclave.cpu_count ? enclave.linux_cpu[decided.cpu] : MILK_SCHED_MAX_CPUS;
        out.task = decided.task;
    }
    if (!well_formed(enclave, enclave.decisions, static_cast<std::uint32_t>(count))) {
        log(MILK_LOG_ERR, "sched: the policy in the module decided something malformed (a bug)", 0);
        return false;
    }
    static_cast<void>(apply_decisions(enclave, enclave.decisions, static_cast<std::uint32_t>(count)));
    return true;
}

}  // namespace
}  // namespace milk::kernel::sched

// The agent thread of an enclave whose policy is in the module: what
// KernelEnclave's agent does from user space, without the copies and the
// channel. It returns only when stopped (release_file).
extern "C" int milk_core_sched_agent(void* pointer) {
    Enclave& enclave = *static_cast<Enclave*>(pointer);
    std::uint64_t next_tick = static_cast<std::uint64_t>(milk_shim_clock_ns()) + enclave.tick_ns;
    while (milk_shim_sched_agent_should_stop() == 0) {
        bool live = false;
        {
            MutexGuard guard;
            live = enclave.live;
            if (live && !direct_batch(enclave, next_tick)) {
                fall_back(enclave, MILK_SCHED_FALLBACK_POLICY);
                live = false;
            }
        }
        if (!live) {
            // Fallen back: nothing more to do but wait to be stopped.
            static_cast<void>(milk_shim_waker_wait(enclave.waker, stop_asked, &enclave, -1));
            continue;
        }
        const auto now = static_cast<std::uint64_t>(milk_shim_clock_ns());
        const long long left = next_tick > now ? static_cast<long long>(next_tick - now) : 0;
        // -EINTR is kthread_stop's kick; the loop's condition sees the stop.
        static_cast<void>(milk_shim_waker_wait(enclave.waker, events_ready, &enclave, left));
    }
    return 0;
}

extern "C" void milk_core_sched_hooks_ready(int ready) { g_hooks_ready.store(ready != 0, std::memory_order_release); }

extern "C" int milk_core_sched_watchdog(void) {
    MutexGuard guard;
    bool any = false;
    for (Enclave* enclave : g_enclaves) {
        if (enclave == nullptr || !enclave->live) continue;
        // How long the oldest unread event has waited, read with the clock
        // under the same lock: an event queued after a clock read taken
        // earlier would look as if it had waited for ever (the difference
        // wraps), and the enclave would fall back for nothing.
        std::uint64_t waited = 0;
        bool overflowed = false;
        {
            SpinGuard lock;
            overflowed = enclave->overflowed;
            if (enclave->count.load(std::memory_order_relaxed) != 0) {
                const std::uint64_t oldest = enclave->queue[enclave->head].time_ns;
                const auto now = static_cast<std::uint64_t>(milk_shim_clock_ns());
                waited = now > oldest ? now - oldest : 0;
            }
        }
        if (overflowed) {
            fall_back(*enclave, MILK_SCHED_FALLBACK_OVERFLOW);
        } else if (waited > static_cast<std::uint64_t>(enclave->watchdog_ms) * 1000000u) {
            fall_back(*enclave, MILK_SCHED_FALLBACK_WATCHDOG);
        } else {
            any = true;
        }
    }
    return any ? 1 : 0;
}
