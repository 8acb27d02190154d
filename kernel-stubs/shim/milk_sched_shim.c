// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel calls of the scheduler mechanism (core/sched_mechanism.cpp
 * keeps the books): the scheduler's tracepoints, a thread's scheduling
 * class and affinity, the agent's wait queue. Only exported interfaces:
 * Debian's kernels have no sched_ext, so the mechanism watches the
 * scheduler (sched_switch, sched_wakeup, sched_process_exit) and steers it
 * with what any GPL module may call (set_cpus_allowed_ptr,
 * sched_setattr_nocheck). docs/sched.md says what that enforces and what
 * it cannot.
 */
#include <linux/capability.h>
#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/irq_work.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/kref.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <linux/tracepoint.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <uapi/linux/sched/types.h>

#include "milk_core.h"
#include "milk_sched_shim.h"

static bool sched_trace;
module_param(sched_trace, bool, 0644);
MODULE_PARM_DESC(sched_trace, "log every scheduler event read, decision applied and class change (docs/sched.md)");

void milk_shim_sched_trace(const char *what, int tid, long first, long second)
{
	if (READ_ONCE(sched_trace))
		pr_info("milk: sched: %s tid %d %ld %ld\n", what, tid, first, second);
}

/* --- tasks ---------------------------------------------------------------- */

/*
 * A member thread, as the core holds it: a reference on its task_struct,
 * and what parks it. To park a runnable thread the module queues a task
 * work on it (TWA_SIGNAL: it is kicked into the kernel at once, as a signal
 * would); the work runs in the thread itself on its way back to user space
 * and sleeps there until the thread may run again (placed, released to the
 * kernel's scheduling, or killed). A system call it was in restarts
 * afterwards, as with SA_RESTART. The work holds a reference on this
 * struct and on the module until it has run: a queued task work cannot be
 * taken back.
 */
struct milk_task {
	struct task_struct *thread;
	struct kref references;
	struct callback_head park_work;
	/* 1 while park_work is queued: one callback_head is queued once. */
	atomic_t queued;
	/* 0 while the thread must stay parked. */
	atomic_t may_run;
	/* 1 while the thread sleeps in its park: not a block to report. */
	atomic_t parking;
	/* The CPUs it was allowed when it joined: where a release puts it. */
	struct cpumask home;
};

/* Every parked thread sleeps here; placing or releasing one wakes them all
 * to look at their own may_run (parks are few and short). */
static DECLARE_WAIT_QUEUE_HEAD(milk_parked);

static void milk_task_free(struct kref *references)
{
	struct milk_task *task = container_of(references, struct milk_task, references);

	put_task_struct(task->thread);
	milk_shim_kfree(task);
}

static void milk_task_park_work(struct callback_head *work)
{
	struct milk_task *task = container_of(work, struct milk_task, park_work);

	atomic_set(&task->queued, 0);
	/* A thread on its way out (exit_task_work) does not stop. */
	if (!(current->flags & PF_EXITING) && !atomic_read(&task->may_run)) {
		atomic_set(&task->parking, 1);
		/* Killable: a fatal signal ends the park, other signals wait. */
		wait_event_killable(milk_parked, atomic_read(&task->may_run));
		atomic_set(&task->parking, 0);
	}
	kref_put(&task->references, milk_task_free);
	module_put(THIS_MODULE);
}

void *milk_shim_task_current(void)
{
	struct milk_task *task = milk_shim_kmalloc(sizeof(*task));

	if (!task)
		return NULL;
	get_task_struct(current);
	task->thread = current;
	cpumask_copy(&task->home, current->cpus_ptr);
	kref_init(&task->references);
	init_task_work(&task->park_work, milk_task_park_work);
	atomic_set(&task->queued, 0);
	atomic_set(&task->may_run, 0);
	atomic_set(&task->parking, 0);
	return task;
}

void milk_shim_task_put(void *pointer)
{
	struct milk_task *task = pointer;

	if (!task)
		return;
	/* Whatever drops the thread lets it go: a park must not outlive the books. */
	atomic_set(&task->may_run, 1);
	wake_up_all(&milk_parked);
	kref_put(&task->references, milk_task_free);
}

void *milk_shim_current_key(void)
{
	return current;
}

void *milk_shim_task_key(void *pointer)
{
	return ((struct milk_task *)pointer)->thread;
}

int milk_shim_task_parking(void *pointer)
{
	return atomic_read(&((struct milk_task *)pointer)->parking);
}

int milk_shim_task_tid(void *pointer)
{
	return task_pid_vnr(((struct milk_task *)pointer)->thread);
}

static void milk_mask_of(struct cpumask *mask, unsigned long long cpus)
{
	unsigned int cpu;

	cpumask_clear(mask);
	for (cpu = 0; cpu < 64 && cpu < nr_cpu_ids; cpu++)
		if (cpus & (1ULL << cpu))
			cpumask_set_cpu(cpu, mask);
}

static int milk_set_class(struct task_struct *thread, int policy, int priority, int nice)
{
	struct sched_attr attr = {
		.size = sizeof(attr),
		.sched_policy = policy,
		.sched_priority = priority,
		.sched_nice = nice,
	};

	return sched_setattr_nocheck(thread, &attr);
}

static void milk_let_run(struct milk_task *task)
{
	atomic_set(&task->may_run, 1);
	wake_up_all(&milk_parked);
}

/*
 * The class first, then the CPUs: made SCHED_IDLE first, a task taken off
 * a CPU stops competing before it is allowed elsewhere; pinned first, a
 * placed task never runs at SCHED_FIFO on a CPU it was not given.
 */
int milk_shim_task_place(void *pointer, int cpu)
{
	struct milk_task *task = pointer;
	int result;

	if (cpu < 0 || cpu >= nr_cpu_ids)
		return -EINVAL;
	result = set_cpus_allowed_ptr(task->thread, cpumask_of(cpu));
	if (!result)
		result = milk_set_class(task->thread, SCHED_FIFO, 1, 0);
	if (!result)
		milk_let_run(task);
	milk_shim_sched_trace("place", task_pid_vnr(task->thread), cpu, result);
	return result;
}

int milk_shim_task_park(void *pointer, unsigned long long cpus, enum milk_park_kind kind)
{
	struct milk_task *task = pointer;
	cpumask_var_t mask;
	int result = 0;

	atomic_set(&task->may_run, 0);
	if (kind != MILK_PARK_JOINING) {
		if (!zalloc_cpumask_var(&mask, GFP_KERNEL))
			return -ENOMEM;
		milk_mask_of(mask, cpus);
		result = milk_set_class(task->thread, SCHED_IDLE, 0, 0);
		if (!result)
			result = set_cpus_allowed_ptr(task->thread, mask);
		free_cpumask_var(mask);
	}
	milk_shim_sched_trace("park", task_pid_vnr(task->thread), kind, result);
	/*
	 * A runnable thread is stopped for real; a blocked one only loses its
	 * class (its next wake-up is an event the policy must see, and a park
	 * would swallow it).
	 */
	if (!result && kind != MILK_PARK_CLASS_ONLY && !atomic_xchg(&task->queued, 1)) {
		kref_get(&task->references);
		__module_get(THIS_MODULE);
		if (task_work_add(task->thread, &task->park_work, TWA_SIGNAL)) {
			/* Exiting: it will never run user code again. */
			atomic_set(&task->queued, 0);
			module_put(THIS_MODULE);
			kref_put(&task->references, milk_task_free);
		}
	}
	return result;
}

int milk_shim_task_release(void *pointer)
{
	struct milk_task *task = pointer;
	int result;

	milk_let_run(task);
	result = milk_set_class(task->thread, SCHED_NORMAL, 0, 0);
	/* Its CPUs of then may have gone offline since: any online one will do. */
	if (!result && set_cpus_allowed_ptr(task->thread, &task->home))
		result = set_cpus_allowed_ptr(task->thread, cpu_online_mask);
	milk_shim_sched_trace("release", task_pid_vnr(task->thread), 0, result);
	return result;
}

int milk_shim_cpu_online(int cpu)
{
	return cpu >= 0 && cpu < nr_cpu_ids && cpu_online(cpu);
}

int milk_shim_capable_sys_nice(void)
{
	return capable(CAP_SYS_NICE);
}

/* --- locks ---------------------------------------------------------------- */

static DEFINE_RAW_SPINLOCK(milk_sched_spinlock);
/* Only the holder of the spinlock reads or writes it. */
static unsigned long milk_sched_irq_flags;
static DEFINE_MUTEX(milk_sched_mutex);

/*
 * The core holds the lock across calls (a C++ guard), so these two take
 * and drop it in separate functions; the annotations tell sparse so.
 */
void milk_shim_sched_lock(void) __acquires(&milk_sched_spinlock)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&milk_sched_spinlock, flags);
	milk_sched_irq_flags = flags;
}

void milk_shim_sched_unlock(void) __releases(&milk_sched_spinlock)
{
	raw_spin_unlock_irqrestore(&milk_sched_spinlock, milk_sched_irq_flags);
}

void milk_shim_sched_mutex_lock(void)
{
	mutex_lock(&milk_sched_mutex);
}

void milk_shim_sched_mutex_unlock(void)
{
	mutex_unlock(&milk_sched_mutex);
}

/* --- the agent's waker ------------------------------------------------------ */

struct milk_waker {
	wait_queue_head_t queue;
	/*
	 * A probe runs under the runqueue's lock; waking the agent there would
	 * take another runqueue's lock inside it. The irq_work wakes it as soon
	 * as the probe's interrupts-off section ends.
	 */
	struct irq_work kick;
};

static void milk_waker_kick(struct irq_work *work)
{
	struct milk_waker *waker = container_of(work, struct milk_waker, kick);

	wake_up_all(&waker->queue);
}

void *milk_shim_waker_create(void)
{
	struct milk_waker *waker = milk_shim_kmalloc(sizeof(*waker));

	if (!waker)
		return NULL;
	init_waitqueue_head(&waker->queue);
	init_irq_work(&waker->kick, milk_waker_kick);
	return waker;
}

void milk_shim_waker_destroy(void *pointer)
{
	struct milk_waker *waker = pointer;

	if (!waker)
		return;
	irq_work_sync(&waker->kick);
	milk_shim_kfree(waker);
}

void milk_shim_waker_poke(void *pointer)
{
	struct milk_waker *waker = pointer;

	irq_work_queue(&waker->kick);
}

int milk_shim_waker_wait(void *pointer, int (*ready)(void *), void *argument, long long timeout_ns)
{
	struct milk_waker *waker = pointer;
	long left;

	if (timeout_ns < 0) {
		if (wait_event_interruptible(waker->queue, ready(argument)))
			return -EINTR;
		return 0;
	}
	left = wait_event_interruptible_timeout(waker->queue, ready(argument),
						nsecs_to_jiffies(timeout_ns) + (timeout_ns > 0 ? 1 : 0));
	if (left < 0)
		return -EINTR;
	return left == 0 && !ready(argument) ? 1 : 0;
}

/* --- the agent thread of a policy in the module ------------------------------- */

static int milk_sched_agent_thread(void *enclave)
{
	return milk_core_sched_agent(enclave);
}

void *milk_shim_sched_agent_start(void *enclave, unsigned long long avoid_cpus)
{
	struct task_struct *agent;
	cpumask_var_t avoid, where;

	if (!zalloc_cpumask_var(&avoid, GFP_KERNEL))
		return NULL;
	if (!zalloc_cpumask_var(&where, GFP_KERNEL)) {
		free_cpumask_var(avoid);
		return NULL;
	}
	milk_mask_of(avoid, avoid_cpus);
	if (!cpumask_andnot(where, current->cpus_ptr, avoid))
		cpumask_copy(where, current->cpus_ptr);
	agent = kthread_create(milk_sched_agent_thread, enclave, "milk-sched");
	if (IS_ERR(agent)) {
		agent = NULL;
	} else {
		/* Held until it is stopped: it must not go while we may stop it. */
		get_task_struct(agent);
		set_cpus_allowed_ptr(agent, where);
		milk_set_class(agent, SCHED_FIFO, 2, 0);
		wake_up_process(agent);
	}
	free_cpumask_var(where);
	free_cpumask_var(avoid);
	return agent;
}

void milk_shim_sched_agent_stop(void *pointer)
{
	struct task_struct *agent = pointer;

	if (!agent)
		return;
	kthread_stop(agent);
	put_task_struct(agent);
}

int milk_shim_sched_agent_should_stop(void)
{
	return kthread_should_stop() ? 1 : 0;
}

/* --- the watchdog ------------------------------------------------------------ */

static void milk_sched_watchdog_work(struct work_struct *work);
static DECLARE_DELAYED_WORK(milk_sched_watchdog, milk_sched_watchdog_work);

static void milk_sched_watchdog_work(struct work_struct *work)
{
	if (milk_core_sched_watchdog())
		schedule_delayed_work(&milk_sched_watchdog, msecs_to_jiffies(5));
}

void milk_shim_sched_watchdog_arm(unsigned int delay_ms)
{
	schedule_delayed_work(&milk_sched_watchdog, msecs_to_jiffies(delay_ms));
}

/* --- the tracepoints ------------------------------------------------------------ */

/*
 * The probes' prototypes are the tracepoints' (include/trace/events/sched.h,
 * the same on 6.1 and 6.12) with the registration's data pointer first.
 */
static void milk_probe_switch(void *data, bool preempt, struct task_struct *prev, struct task_struct *next,
			      unsigned int prev_state)
{
	milk_core_sched_switch(prev, prev_state != TASK_RUNNING, is_idle_task(next), task_cpu(prev));
}

static void milk_probe_wakeup(void *data, struct task_struct *task)
{
	milk_core_sched_wakeup(task);
}

static void milk_probe_exit(void *data, struct task_struct *task)
{
	milk_core_sched_exit(task);
}

struct milk_probe {
	const char *name;
	void *function;
	struct tracepoint *found;
};

static struct milk_probe milk_probes[] = {
	{ "sched_switch", milk_probe_switch, NULL },
	{ "sched_wakeup", milk_probe_wakeup, NULL },
	{ "sched_process_exit", milk_probe_exit, NULL },
};

/* The scheduler's tracepoints are not exported: a module finds them by name. */
static void milk_find_tracepoint(struct tracepoint *point, void *unused)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(milk_probes); i++)
		if (!strcmp(point->name, milk_probes[i].name))
			milk_probes[i].found = point;
}

int milk_sched_shim_init(void)
{
	size_t i;
	int result = 0;

	for_each_kernel_tracepoint(milk_find_tracepoint, NULL);
	for (i = 0; i < ARRAY_SIZE(milk_probes); i++) {
		if (!milk_probes[i].found) {
			pr_warn("milk: tracepoint %s not found: no scheduler enclaves\n", milk_probes[i].name);
			result = -ENOENT;
			break;
		}
		result = tracepoint_probe_register(milk_probes[i].found, milk_probes[i].function, NULL);
		if (result) {
			pr_warn("milk: tracepoint %s: cannot attach (%d): no scheduler enclaves\n",
				milk_probes[i].name, result);
			milk_probes[i].found = NULL;
			break;
		}
	}
	if (result) {
		milk_sched_shim_exit();
		return 0;
	}
	milk_core_sched_hooks_ready(1);
	return 0;
}

void milk_sched_shim_exit(void)
{
	size_t i;

	milk_core_sched_hooks_ready(0);
	for (i = 0; i < ARRAY_SIZE(milk_probes); i++) {
		if (milk_probes[i].found)
			tracepoint_probe_unregister(milk_probes[i].found, milk_probes[i].function, NULL);
		milk_probes[i].found = NULL;
	}
	/* No probe runs on any CPU past this point. */
	tracepoint_synchronize_unregister();
	cancel_delayed_work_sync(&milk_sched_watchdog);
}
