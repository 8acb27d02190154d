/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The boundary between the C shim (shim/milk_shim.c, the only code that
 * includes kernel headers) and the freestanding C++ core (core/).
 *
 * Both sides compile this header, so it uses compiler builtin types only:
 * kernel headers cannot be parsed as C++, and the C++ core must not see
 * them. Only milk_shim_bug() is noreturn, and only for the shim (below).
 */
#ifndef MILK_CORE_H
#define MILK_CORE_H

#ifdef __cplusplus
extern "C" {
#endif

typedef __SIZE_TYPE__ milk_size_t;

/*
 * errno values the core returns (negated), checked against the kernel's by
 * BUILD_BUG_ON in the shim so the two can never drift apart.
 */
enum milk_errno {
	MILK_EPERM = 1,
	MILK_ENOENT = 2,
	MILK_ENOMEM = 12,
	MILK_EFAULT = 14,
	MILK_EBUSY = 16,
	MILK_ENODEV = 19,
	MILK_EINVAL = 22,
	MILK_ENOTTY = 25,
	MILK_EPIPE = 32,
	MILK_EPROTO = 71,
	MILK_EPROTONOSUPPORT = 93,
	MILK_EOPNOTSUPP = 95,
	MILK_EALREADY = 114,
	MILK_ENOSPC = 28,
	MILK_EINTR = 4,
	MILK_EIO = 5,
	MILK_EAGAIN = 11,
};

enum milk_log_level { MILK_LOG_ERR = 0, MILK_LOG_WARN = 1, MILK_LOG_INFO = 2 };

/* --- provided by the shim, called by the core --------------------------- */

/* kmalloc(GFP_KERNEL) / kfree; both counted in the live-allocation counter. */
void *milk_shim_kmalloc(milk_size_t bytes);
void milk_shim_kfree(void *pointer);
/* vmalloc_user (zeroed, mappable into user space) / vfree; also counted. */
void *milk_shim_vmalloc_user(milk_size_t bytes);
void milk_shim_vfree(void *pointer);
/* Allocations handed out and not yet returned. */
long milk_shim_live_allocations(void);

/* 0 on success, -MILK_EFAULT if any byte could not be copied. */
int milk_shim_copy_from_user(void *to, unsigned long user_from, milk_size_t bytes);
int milk_shim_copy_to_user(unsigned long user_to, const void *from, milk_size_t bytes);

/* pr_err / pr_warn / pr_info of "milk: <text> (<value>)"; text is a C string. */
void milk_shim_log(enum milk_log_level level, const char *text, long long value);

/*
 * BUG(): a broken invariant of the core (never a peer's misbehaviour).
 * noreturn for the shim, where it is defined: objtool on 6.12 checks the
 * linked module, sees that the function never returns and wants it
 * annotated. The C++ core sees a plain declaration, because objtool also
 * checks the linked core alone (Kbuild), where the body is absent and a call
 * to a noreturn function would look like falling through to the next
 * function; the core ends every call with __builtin_trap() instead.
 */
#ifdef __cplusplus
void milk_shim_bug(void);
#else
__attribute__((__noreturn__)) void milk_shim_bug(void);
#endif

/* The kernel's page size, for rounding channel regions. */
milk_size_t milk_shim_page_size(void);

/* ktime_get_ns(): the monotonic clock behind milk::Deadline in the module. */
long long milk_shim_clock_ns(void);

/*
 * Wakes everyone waiting on `waker` (one of the two cookies milk_core_open
 * received: the file's readers, in poll() and read(), or its serving
 * thread). Called after the kernel published replies or closed a channel,
 * and by a kick of a threaded channel.
 */
void milk_shim_wake(void *waker);

/*
 * For a channel's serving thread (the only caller of these four).
 *
 * milk_shim_serve_wait sleeps on `serve_waker` until the 32-bit doorbell
 * word at `bell` no longer holds `sleeping` (a NULL `bell`: until the
 * timeout only), the thread is asked to stop, or `timeout_ns` passes (< 0:
 * no timeout). Returns 1 if the thread is asked to stop, else 0.
 */
int milk_shim_serve_wait(void *serve_waker, const unsigned int *bell, unsigned int sleeping, long long timeout_ns);
/* kthread_should_stop(): the file is being released. */
int milk_shim_should_stop(void);
/* Whether polling may go on: nothing else wants this CPU. */
int milk_shim_may_spin(void);
/* cpu_relax(): one step of a polling loop. */
void milk_shim_relax(void);
/* cond_resched(): lets the scheduler run something else if it must. */
void milk_shim_yield(void);

/*
 * The lock of the core's directory of open channels (MILK_IOC_LIST_CHANNELS):
 * a sleeping mutex, so never taken by a serving thread while it holds
 * anything else, and never held across a copy to or from user space.
 */
void milk_shim_directory_lock(void);
void milk_shim_directory_unlock(void);
/*
 * The lock of the core's trace sessions (core/channel_trace.cpp): a
 * sleeping mutex, taken by whoever runs a component (a kick, a serving
 * thread) while a trace runs, never across a copy to user space.
 */
void milk_shim_trace_lock(void);
void milk_shim_trace_unlock(void);
/* The calling process's pid (its thread group, as user space sees it). */
int milk_shim_current_pid(void);

/*
 * --- the scheduler mechanism (core/sched_mechanism.cpp) ------------------
 *
 * A task is the shim's reference to a thread (a task_struct it holds a
 * reference on), opaque to the core. The core keeps the enclaves' books
 * under the sched lock, a spinlock that the scheduler's tracepoint probes
 * also take (irqs off): nothing under it may sleep, allocate or wake a
 * task. Everything that may sleep (the enforcement calls below, the wait,
 * user copies) runs in process context under the sched mutex or none.
 */
/*
 * Takes a reference on the calling thread and notes the CPUs it may use
 * now (where a release puts it back); NULL when out of memory.
 */
void *milk_shim_task_current(void);
/*
 * Drops it (process context); a thread parked under it is let go first, so
 * that no park outlives the books.
 */
void milk_shim_task_put(void *task);
/* The thread's task_struct, the key the probes look members up by. */
void *milk_shim_task_key(void *task);
/* The calling thread's key. */
void *milk_shim_current_key(void);
/* Whether the thread sleeps in its park now (not a block to report). */
int milk_shim_task_parking(void *task);
/* The thread's id as the calling process sees it (0 if it has none there). */
int milk_shim_task_tid(void *task);
/*
 * Enforcement, in process context. Placed: pinned to `cpu`, SCHED_FIFO
 * priority 1, and let go if parked. Parked: SCHED_IDLE, allowed on `cpus`
 * (a bit mask of Linux CPUs below 64), and with MILK_PARK_STOP also stopped:
 * on its next way back to user space (at once: it is kicked as by a signal)
 * it sleeps until placed or released. MILK_PARK_JOINING only stops it (the
 * thread that joins, parked on its way out of the join): its class and CPUs
 * stay as they are until it is placed, since moving it onto an enclave CPU
 * in the middle of its own call would leave it waiting there behind a
 * placed task before it could finish joining. Released to the kernel's
 * own scheduling: let go, SCHED_NORMAL nice 0, back on the CPUs it was
 * allowed when it joined. 0 or -errno.
 */
enum milk_park_kind { MILK_PARK_CLASS_ONLY = 0, MILK_PARK_STOP = 1, MILK_PARK_JOINING = 2 };
/*
 * One line to the kernel log per event read, decision applied and class
 * changed, while the module parameter sched_trace is 1 (process context
 * only): how a policy's run can be followed step by step.
 */
void milk_shim_sched_trace(const char *what, int tid, long first, long second);
int milk_shim_task_place(void *task, int cpu);
int milk_shim_task_park(void *task, unsigned long long cpus, enum milk_park_kind kind);
int milk_shim_task_release(void *task);
/* Whether Linux CPU `cpu` exists and is online. */
int milk_shim_cpu_online(int cpu);
/* capable(CAP_SYS_NICE) for the calling thread. */
int milk_shim_capable_sys_nice(void);

/* The sched lock (a raw spinlock, irqs saved) and the sched mutex. */
void milk_shim_sched_lock(void);
void milk_shim_sched_unlock(void);
void milk_shim_sched_mutex_lock(void);
void milk_shim_sched_mutex_unlock(void);

/*
 * An enclave's waker: the agent sleeps on it (milk_shim_waker_wait), a probe
 * pokes it (milk_shim_waker_poke, safe under the sched lock: it defers the
 * wake-up to an irq_work, since a probe runs with the scheduler's own locks
 * held). milk_shim_waker_wait returns once `ready(argument)` is nonzero
 * (checked under no lock: the core takes the sched lock inside it), after
 * `timeout_ns` (< 0: never), or on a signal: 0 ready, 1 timed out, -EINTR.
 */
void *milk_shim_waker_create(void);
void milk_shim_waker_destroy(void *waker);
void milk_shim_waker_poke(void *waker);
int milk_shim_waker_wait(void *waker, int (*ready)(void *), void *argument, long long timeout_ns);

/*
 * The kernel thread of an enclave whose policy is in the module: it runs
 * milk_core_sched_agent(enclave) and returns only when stopped. SCHED_FIFO
 * 2 (above the tasks it places), on the CPUs the creating thread may use
 * except `avoid_cpus` (the enclave's; all of them when nothing is left).
 * NULL when it could not start.
 */
void *milk_shim_sched_agent_start(void *enclave, unsigned long long avoid_cpus);
/* Stops it and waits until it returned; without the sched mutex held. */
void milk_shim_sched_agent_stop(void *agent);
/* Whether the calling agent thread is asked to stop. */
int milk_shim_sched_agent_should_stop(void);
int milk_core_sched_agent(void *enclave);

/* Asks for milk_core_sched_watchdog() in a work item `delay_ms` from now. */
void milk_shim_sched_watchdog_arm(unsigned int delay_ms);

/*
 * --- the memory mechanism (core/mem_mechanism.cpp, shim/milk_mem_shim.c) --
 *
 * A region's frames and saved pages are whole pages of the kernel's
 * (alloc_page, zeroed; opaque to the core). Its books live under a mutex of
 * its own, which the fault handler takes with the faulting process's memory
 * map lock held: nothing under it touches user memory.
 */
/* One zeroed page (a frame or a page's saved copy); NULL when out of memory. */
void *milk_shim_page_alloc(void);
void milk_shim_page_free(void *page);
void milk_shim_page_copy(void *to, void *from);
void milk_shim_page_zero(void *page);
/* A sleeping mutex (NULL when out of memory). */
void *milk_shim_mutex_create(void);
void milk_shim_mutex_destroy(void *mutex);
void milk_shim_mutex_lock(void *mutex);
void milk_shim_mutex_unlock(void *mutex);
/*
 * Unmaps page `page` of a region from every mapping of it: `mapping` is the
 * address space the shim gave the region (milk_core_mem_create). TLBs are
 * flushed when it returns: nobody can write the frame through it any more.
 */
void milk_shim_mem_unmap(void *mapping, unsigned int page);
/* Maps `frame` at the address of `fault` (a struct vm_fault): a vm_fault_t. */
unsigned int milk_shim_mem_insert(void *fault, void *frame);
/*
 * A wait queue: where faulting threads wait for the agent's decisions
 * (killable: a fault is not interrupted by an ordinary signal) and the agent
 * for faults (interruptible, as any ioctl that sleeps). The wake-up is
 * immediate (wake_up_all), not deferred: every caller is in process context.
 * 0 when ready(argument) is nonzero, 1 after `timeout_ns` (< 0: none),
 * -EINTR on a signal the kind lets in.
 */
enum milk_wait_kind { MILK_WAIT_KILLABLE = 0, MILK_WAIT_INTERRUPTIBLE = 1 };
void *milk_shim_queue_create(void);
void milk_shim_queue_destroy(void *queue);
void milk_shim_queue_wake(void *queue);
int milk_shim_queue_wait(void *queue, enum milk_wait_kind kind, int (*ready)(void *), void *argument,
			     long long timeout_ns);

/*
 * --- the block device (core/blk_mechanism.cpp, shim/milk_blk_shim.c) -----
 *
 * A blk-mq disk, /dev/milkblkN, of `bytes` bytes and logical blocks of
 * `block_size`, with `depth` tags, whose every request goes to
 * milk_core_blk_request(device, ...), and whose requests time out after
 * `timeout_ms` (milk_core_blk_timeout). Made with BLK_MQ_F_BLOCKING: the
 * requests arrive in process context and the core may sleep. NULL (and
 * *error: -MILK_ENOSPC every number in use, else -errno) if it cannot be
 * made. Destroy deletes the disk: it waits for every request still in
 * flight to end, and no request comes once it returns.
 */
void *milk_shim_blk_disk_create(void *device, unsigned long long bytes, unsigned int block_size, unsigned int depth,
				unsigned int timeout_ms, unsigned int *index, int *error);
void milk_shim_blk_disk_destroy(void *disk);
/*
 * Maps a read's or write's segments one by one and calls each(context,
 * data, bytes) for them in order; stops at the first nonzero return and
 * returns it (else 0).
 */
int milk_shim_blk_segments(void *request, int (*each)(void *context, void *data, unsigned int bytes), void *context);
/*
 * Copies a request's data to user memory at `user` (to_user: a write's
 * data for the agent) or from it (a read's answer): 0 or -MILK_EFAULT.
 * Called with no lock held: the copy may fault.
 */
int milk_shim_blk_copy_user(void *request, unsigned long user, int to_user);
/* Ends a request the core held (an agent's) with 0 or -errno. */
void milk_shim_blk_end(void *request, int error);

/* What milk_core_poll reports. */
enum milk_poll_bits { MILK_POLL_IN = 1, MILK_POLL_CLOSED = 2 };

/* --- provided by the core, called by the shim --------------------------- */

/* Module init / exit: 0 or -errno. Run before/after the device exists. */
int milk_core_init(void);
void milk_core_exit(void);

/*
 * One per open file. NULL when out of memory. `waker` is the file's wait
 * queue (poll), `serve_waker` the queue its serving thread sleeps on; both
 * for milk_shim_wake.
 */
void *milk_core_open(void *waker, void *serve_waker);

/*
 * The serving thread of a channel opened with MILK_CHANNEL_THREAD or
 * MILK_CHANNEL_POLLING_THREAD (or to a component that needs one). The shim
 * starts it after a successful MILK_IOC_OPEN_CHANNEL when
 * milk_core_wants_thread says so (or drops the channel again with
 * milk_core_drop_channel if it cannot), and stops it in release before
 * milk_core_release. milk_core_run is the thread's body: it runs the
 * component, WITHOUT the file's mutex, until the session ends, the channel
 * closes, or milk_shim_should_stop says so.
 */
enum milk_thread_kind { MILK_THREAD_NONE = 0, MILK_THREAD_SLEEPING = 1, MILK_THREAD_POLLING = 2 };
int milk_core_wants_thread(void *file_state);
void milk_core_drop_channel(void *file_state);
void milk_core_run(void *file_state);
void milk_core_release(void *file_state);

/*
 * An ioctl on a file. The shim holds the file's mutex around every call on
 * one file_state, so the core needs no locking of its own. Returns >= 0 or
 * -errno.
 */
long milk_core_ioctl(void *file_state, unsigned int command, unsigned long argument);

/*
 * The region mmap() maps: its vmalloc_user address and size, or -errno
 * (-MILK_ENODEV when the file has no channel yet).
 */
int milk_core_mmap_region(void *file_state, void **region, milk_size_t *bytes);

/* milk_poll_bits for the file's channel (under the file's mutex). */
unsigned int milk_core_poll(void *file_state);

/*
 * The scheduler mechanism's ioctls (MILK_IOC_SCHED_*), called WITHOUT the
 * file's mutex: MILK_IOC_SCHED_WAIT sleeps, and threads may join through an
 * fd whose agent is waiting. The core locks what it shares.
 */
int milk_core_is_sched_ioctl(unsigned int command);
long milk_core_sched_ioctl(void *file_state, unsigned int command, unsigned long argument);
/*
 * The tracepoint probes' calls, under the scheduler's locks with irqs off:
 * they only look the task up and queue an event. `blocked`: prev left its
 * CPU not runnable; `next_idle`: the CPU switched to its idle task.
 */
void milk_core_sched_switch(void *prev, int blocked, int next_idle, int cpu);
void milk_core_sched_wakeup(void *task);
void milk_core_sched_exit(void *task);
/* The probes are attached (module init); without them no enclave is created. */
void milk_core_sched_hooks_ready(int ready);
/* The watchdog's work item (process context); nonzero: arm it again. */
int milk_core_sched_watchdog(void);

/*
 * The memory mechanism's calls. MILK_IOC_MEM_CREATE runs under the file's
 * mutex (milk_core_mem_create, with the address space the shim made for the
 * region: the file's f_mapping from then on); WAIT, APPLY, FALLBACK and
 * STATS without it (WAIT sleeps, and faulting threads must not wait behind
 * it).
 */
long milk_core_mem_create(void *file_state, unsigned long argument, void *mapping);
int milk_core_is_mem_ioctl(unsigned int command);
long milk_core_mem_ioctl(void *file_state, unsigned int command, unsigned long argument);
/* The file's region for mmap(): its handle and size; -MILK_ENODEV if none. */
int milk_core_mem_region(void *file_state, void **region, unsigned long long *bytes);
/*
 * A fault on page `page` of `region` (`write`: by a write), with the
 * faulting process's memory map lock held. MILK_MEM_FAULT_DONE: the page's frame is mapped (through
 * milk_shim_mem_insert(fault, ...), whose vm_fault_t is in *result);
 * MILK_MEM_FAULT_QUEUED: it waits for the agent (milk_core_mem_wait, then
 * fault again); the others say why the fault cannot be served.
 */
enum milk_mem_fault_outcome {
	MILK_MEM_FAULT_DONE = 0,
	MILK_MEM_FAULT_QUEUED = 1,
	MILK_MEM_FAULT_SIGBUS = 2,
	MILK_MEM_FAULT_OOM = 3,
};
int milk_core_mem_fault(void *region, unsigned long page, int write, void *fault, unsigned int *result);
/*
 * Waits until page `page` has a frame, the region falls back, or the
 * deadline passes (the region then falls back), or a fatal signal comes.
 * Called without the memory map lock; the caller holds the region's file.
 */
void milk_core_mem_wait(void *region, unsigned long page);

/*
 * The block device's calls. MILK_IOC_BLK_CREATE and STATS run under the
 * file's mutex (milk_core_ioctl); an agent's WAIT, DATA and COMPLETE
 * without it (milk_core_blk_ioctl: WAIT sleeps).
 *
 * milk_core_blk_request is the disk's queue_rq: request `tag` (the blk-mq
 * tag, below the depth) of `op` at byte `offset`, `bytes` long (`request`
 * is the struct request). 0 or -errno: the shim ends the request with it;
 * MILK_BLK_QUEUED: the core keeps it for the agent and ends it later
 * (milk_shim_blk_end). milk_core_blk_timeout is the disk's timeout handler
 * for request `tag`: MILK_BLK_TIMEOUT_END (the shim ends it with an I/O
 * error), _DONE (it is ended already, or being ended) or _RESET (wait
 * longer: it is being copied).
 */
enum milk_blk_op { MILK_BLK_OP_READ = 0, MILK_BLK_OP_WRITE = 1, MILK_BLK_OP_FLUSH = 2, MILK_BLK_OP_DISCARD = 3 };
#define MILK_BLK_QUEUED 1
int milk_core_blk_request(void *device, enum milk_blk_op op, unsigned int tag, unsigned long long offset,
			  unsigned long long bytes, void *request);
enum milk_blk_timeout { MILK_BLK_TIMEOUT_END = 0, MILK_BLK_TIMEOUT_DONE = 1, MILK_BLK_TIMEOUT_RESET = 2 };
enum milk_blk_timeout milk_core_blk_timeout(void *device, unsigned int tag);
int milk_core_is_blk_ioctl(unsigned int command);
long milk_core_blk_ioctl(void *file_state, unsigned int command, unsigned long argument);

#ifdef __cplusplus
}
#endif

#endif /* MILK_CORE_H */
