// SPDX-License-Identifier: GPL-2.0
/*
 * milk.ko's C shim: the only code of the module that includes kernel
 * headers. It registers /dev/milk, keeps a mutex per open file, counts
 * allocations, and wraps the kernel calls the C++ core needs as plain
 * extern "C" functions (include/milk_core.h). All policy lives in the core.
 */
#include <linux/atomic.h>
#include <linux/build_bug.h>
#include <linux/cpumask.h>
#include <linux/errno.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/printk.h>
#include <linux/sched.h>
#include <linux/sched/stat.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

#include "milk_core.h"
#include "milk_blk_shim.h"
#include "milk_mem_shim.h"
#include "milk_sched_shim.h"
#include "milk_lab.h"
#include "milk_uapi.h"

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("milk: session-typed channels between processes and kernel components");
MODULE_VERSION("0.1.0");

/*
 * Every kmalloc and vmalloc the module makes goes through this file, so one
 * counter tells at unload whether anything leaked.
 */
static atomic_long_t milk_live_allocations = ATOMIC_LONG_INIT(0);

/*
 * kvmalloc: a memory region's books are arrays of one entry a page (a
 * million entries for a region of 4 GiB), beyond what kmalloc can be
 * counted on to find in one piece; small objects still come from kmalloc.
 */
void *milk_shim_kmalloc(milk_size_t bytes)
{
	void *pointer = kvmalloc(bytes, GFP_KERNEL);

	if (pointer)
		atomic_long_inc(&milk_live_allocations);
	return pointer;
}

void milk_shim_kfree(void *pointer)
{
	if (!pointer)
		return;
	atomic_long_dec(&milk_live_allocations);
	kvfree(pointer);
}

void *milk_shim_vmalloc_user(milk_size_t bytes)
{
	void *pointer = vmalloc_user(bytes);

	if (pointer)
		atomic_long_inc(&milk_live_allocations);
	return pointer;
}

void milk_shim_vfree(void *pointer)
{
	if (!pointer)
		return;
	atomic_long_dec(&milk_live_allocations);
	vfree(pointer);
}

long milk_shim_live_allocations(void)
{
	return atomic_long_read(&milk_live_allocations);
}

int milk_shim_copy_from_user(void *to, unsigned long user_from, milk_size_t bytes)
{
	return copy_from_user(to, (const void __user *)user_from, bytes) ? -EFAULT : 0;
}

int milk_shim_copy_to_user(unsigned long user_to, const void *from, milk_size_t bytes)
{
	return copy_to_user((void __user *)user_to, from, bytes) ? -EFAULT : 0;
}

/*
 * Warnings and information are rate-limited: most of them report a peer's
 * misbehaviour, and a hostile process must not be able to flood the log.
 */
void milk_shim_log(enum milk_log_level level, const char *text, long long value)
{
	switch (level) {
	case MILK_LOG_ERR:
		pr_err("milk: %s (%lld)\n", text, value);
		break;
	case MILK_LOG_WARN:
		pr_warn_ratelimited("milk: %s (%lld)\n", text, value);
		break;
	default:
		pr_info_ratelimited("milk: %s (%lld)\n", text, value);
		break;
	}
}

void milk_shim_bug(void)
{
	BUG();
}

milk_size_t milk_shim_page_size(void)
{
	return PAGE_SIZE;
}

long long milk_shim_clock_ns(void)
{
	return (long long)ktime_get_ns();
}

/*
 * A wait queue with a count of wake-ups: read() samples the count before it
 * checks the channel and sleeps until the count moves, so a wake-up between
 * its check and its sleep is not lost (the check itself needs the file's
 * mutex, which a wait condition cannot take).
 */
struct milk_waiter {
	wait_queue_head_t queue;
	atomic_t events;
};

void milk_shim_wake(void *waker)
{
	struct milk_waiter *waiter = waker;

	atomic_inc(&waiter->events);
	/*
	 * wq_has_sleeper's barrier pairs with the one in prepare_to_wait.
	 * A sync wake-up: the waker is about to sleep itself (a client in
	 * poll() after its kick, a serving thread after its replies), so the
	 * scheduler may run the wakee on this CPU instead of waking another
	 * (an IPI, and under emulation a host thread to schedule).
	 */
	if (wq_has_sleeper(&waiter->queue))
		wake_up_interruptible_sync(&waiter->queue);
}

/*
 * What an open /dev/milk holds: the lock, the queue poll() sleeps on, and
 * the core's state.
 */
struct milk_file {
	struct mutex lock;
	struct milk_waiter readers;  /* poll() and read() */
	struct milk_waiter serving;  /* the serving thread */
	struct task_struct *server;
	void *core;
	/* A memory region's own address space (the file's f_mapping), or NULL. */
	struct address_space *mem_mapping;
};

/*
 * Serving threads in the whole system: each threaded channel costs a kernel
 * thread, so a process cannot have more than this many (EAGAIN beyond).
 */
#define MILK_MAX_SERVERS 64
static atomic_t milk_servers = ATOMIC_INIT(0);

int milk_shim_serve_wait(void *serve_waker, const unsigned int *bell, unsigned int sleeping, long long timeout_ns)
{
	struct milk_waiter *waiter = serve_waker;

	/*
	 * The word is shared memory user space may rewrite: READ_ONCE, and a
	 * lie only ends the wait early or leaves it to the next kick, which
	 * sets the word itself before it wakes us.
	 */
#define MILK_SERVE_CONDITION (kthread_should_stop() || (bell && READ_ONCE(*bell) != sleeping))
	if (timeout_ns < 0)
		wait_event_interruptible(waiter->queue, MILK_SERVE_CONDITION);
	else
		wait_event_interruptible_hrtimeout(waiter->queue, MILK_SERVE_CONDITION, ns_to_ktime(timeout_ns));
#undef MILK_SERVE_CONDITION
	return kthread_should_stop() ? 1 : 0;
}

int milk_shim_should_stop(void)
{
	return kthread_should_stop() ? 1 : 0;
}

int milk_shim_may_spin(void)
{
	/* A client woken on this CPU must not wait for the next tick to run. */
	return !need_resched() && single_task_running();
}

void milk_shim_relax(void)
{
	cpu_relax();
}

void milk_shim_yield(void)
{
	cond_resched();
}

/*
 * The module's directory of open channels (core/channel_directory.cpp) is
 * one list under one mutex: channels are added and removed in process
 * context (open, release), and the list ioctl copies entries out only after
 * it let go.
 */
static DEFINE_MUTEX(milk_directory_lock);

void milk_shim_directory_lock(void)
{
	mutex_lock(&milk_directory_lock);
}

void milk_shim_directory_unlock(void)
{
	mutex_unlock(&milk_directory_lock);
}

/* The core's trace sessions (core/channel_trace.cpp). */
static DEFINE_MUTEX(milk_trace_lock);

void milk_shim_trace_lock(void)
{
	mutex_lock(&milk_trace_lock);
}

void milk_shim_trace_unlock(void)
{
	mutex_unlock(&milk_trace_lock);
}

int milk_shim_current_pid(void)
{
	return task_tgid_vnr(current);
}

/*
 * The serving thread: the core runs the component until the session ends,
 * the channel closes or release asks the thread to stop; then it only
 * waits to be stopped (release stops it before the core's state goes).
 */
static int milk_serve_thread(void *data)
{
	struct milk_file *state = data;

	milk_core_run(state->core);
	while (!kthread_should_stop())
		wait_event_interruptible(state->serving.queue, kthread_should_stop());
	return 0;
}

/*
 * Starts the serving thread. A polling thread goes on another CPU than the
 * one the channel is opened on, so that it does not poll against the
 * client it serves; a sleeping thread goes where the scheduler puts it
 * (next to its client, which it wakes), among the CPUs its opener may use.
 */
static struct task_struct *milk_start_server(struct milk_file *state, int kind)
{
	struct task_struct *server;
	unsigned int here = raw_smp_processor_id();
	unsigned int there = cpumask_next(here, cpu_online_mask);

	if (there >= nr_cpu_ids)
		there = cpumask_first(cpu_online_mask);
	server = kthread_create(milk_serve_thread, state, "milk-serve");
	if (IS_ERR(server))
		return server;
	if (kind == MILK_THREAD_POLLING && there != here)
		kthread_bind(server, there);
	else
		/*
		 * A sleeping thread may run wherever its opener may: a process
		 * that keeps its threads off some CPUs (those a scheduler
		 * enclave gives to its tasks at real-time priority, say) keeps
		 * the component it opened off them too.
		 */
		set_cpus_allowed_ptr(server, current->cpus_ptr);
	wake_up_process(server);
	return server;
}

static int milk_open(struct inode *inode, struct file *file)
{
	struct milk_file *state = milk_shim_kmalloc(sizeof(*state));

	if (!state)
		return -ENOMEM;
	mutex_init(&state->lock);
	init_waitqueue_head(&state->readers.queue);
	atomic_set(&state->readers.events, 0);
	init_waitqueue_head(&state->serving.queue);
	atomic_set(&state->serving.events, 0);
	state->server = NULL;
	state->mem_mapping = NULL;
	state->core = milk_core_open(&state->readers, &state->serving);
	if (!state->core) {
		milk_shim_kfree(state);
		return -ENOMEM;
	}
	file->private_data = state;
	return 0;
}

/*
 * Runs when the last reference to the file goes: close() of the last fd and
 * munmap() of the last mapping (a mapping holds the file), so the region is
 * never freed under a live mapping.
 */
static int milk_release(struct inode *inode, struct file *file)
{
	struct milk_file *state = file->private_data;

	/* The thread uses the core's state: it goes first. */
	if (state->server) {
		kthread_stop(state->server);
		atomic_dec(&milk_servers);
	}
	milk_core_release(state->core);
	/* Every mapping of a region holds the file: none is left here. */
	if (state->mem_mapping)
		milk_mem_mapping_destroy(state->mem_mapping);
	mutex_destroy(&state->lock);
	milk_shim_kfree(state);
	return 0;
}

/*
 * MILK_IOC_MEM_CREATE: the file becomes a memory region, with an address
 * space of its own as its f_mapping (before any mapping of it can exist:
 * a file without a channel or region cannot be mapped).
 */
static long milk_mem_create(struct file *file, struct milk_file *state, unsigned long argument)
{
	struct address_space *mapping = milk_mem_mapping_create(file);
	long result;

	if (!mapping)
		return -ENOMEM;
	if (mutex_lock_interruptible(&state->lock)) {
		milk_mem_mapping_destroy(mapping);
		return -ERESTARTSYS;
	}
	result = milk_core_mem_create(state->core, argument, mapping);
	if (result == 0) {
		state->mem_mapping = mapping;
		WRITE_ONCE(file->f_mapping, mapping);
	} else {
		milk_mem_mapping_destroy(mapping);
	}
	mutex_unlock(&state->lock);
	return result;
}

static long milk_ioctl(struct file *file, unsigned int command, unsigned long argument)
{
	struct milk_file *state = file->private_data;
	long result;

	/*
	 * The scheduler's calls lock what they share themselves: the agent's
	 * MILK_IOC_SCHED_WAIT sleeps, and must not hold up a thread that joins
	 * through the same file.
	 */
	if (milk_core_is_sched_ioctl(command))
		return milk_core_sched_ioctl(state->core, command, argument);
	/* Likewise a region's agent: its WAIT sleeps while faults queue. */
	if (milk_core_is_mem_ioctl(command))
		return milk_core_mem_ioctl(state->core, command, argument);
	if (command == MILK_IOC_MEM_CREATE)
		return milk_mem_create(file, state, argument);
	/* And a disk's agent: its WAIT sleeps while requests queue. */
	if (milk_core_is_blk_ioctl(command))
		return milk_core_blk_ioctl(state->core, command, argument);
	if (mutex_lock_interruptible(&state->lock))
		return -ERESTARTSYS;
	result = milk_core_ioctl(state->core, command, argument);
	if ((command == MILK_IOC_OPEN_CHANNEL || command == MILK_IOC_OPEN_RESTORED) && result == 0 &&
	    milk_core_wants_thread(state->core)) {
		struct task_struct *server = ERR_PTR(-EAGAIN);

		if (atomic_inc_return(&milk_servers) <= MILK_MAX_SERVERS)
			server = milk_start_server(state, milk_core_wants_thread(state->core));
		if (IS_ERR(server)) {
			atomic_dec(&milk_servers);
			milk_core_drop_channel(state->core);
			result = PTR_ERR(server);
		} else {
			state->server = server;
		}
	}
	mutex_unlock(&state->lock);
	return result;
}

/*
 * The doorbell as an io_uring command (MILK_URING_KICK): the same call into
 * the core as MILK_IOC_KICK, its result completing the request at once (a
 * result, not -EIOCBQUEUED). The command area is not read. A non-blocking
 * issue does not wait for the file's lock: -EAGAIN makes io_uring retry the
 * command from a worker that may block.
 */
static int milk_uring_cmd(struct io_uring_cmd *command, unsigned int issue_flags)
{
	struct milk_file *state = command->file->private_data;
	long result;

	if (command->cmd_op != MILK_URING_KICK)
		return -ENOTTY;
	if (issue_flags & IO_URING_F_NONBLOCK) {
		if (!mutex_trylock(&state->lock))
			return -EAGAIN;
	} else if (mutex_lock_interruptible(&state->lock)) {
		return -EINTR;
	}
	result = milk_core_ioctl(state->core, MILK_IOC_KICK, 0);
	mutex_unlock(&state->lock);
	return (int)result;
}

static int milk_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct milk_file *state = file->private_data;
	void *region = NULL;
	milk_size_t bytes = 0;
	unsigned long long region_bytes = 0;
	int result;

	mutex_lock(&state->lock);
	if (milk_core_mem_region(state->core, &region, &region_bytes) == 0) {
		result = milk_mem_mmap(vma, region, region_bytes);
		mutex_unlock(&state->lock);
		return result;
	}
	result = milk_core_mmap_region(state->core, &region, &bytes);
	if (result == 0) {
		/*
		 * Only the whole region from offset 0: a partial or offset
		 * mapping has no use, and refusing it keeps the rule simple.
		 * remap_vmalloc_range() checks the size against the area and
		 * marks the mapping VM_DONTEXPAND, so mremap cannot grow it.
		 */
		if (vma->vm_pgoff != 0 || vma->vm_end - vma->vm_start != bytes)
			result = -EINVAL;
		else
			result = remap_vmalloc_range(vma, region, 0);
	}
	mutex_unlock(&state->lock);
	return result;
}

/*
 * The doorbell's sleeping half: POLLIN while the kernel's outgoing ring holds
 * replies user space has not taken, POLLERR|POLLHUP (with POLLIN, so that a
 * reader drains first) once the kernel side is closed. poll_wait comes
 * before the check, so a wake between the check and the sleep is not lost.
 */
static __poll_t milk_poll(struct file *file, struct poll_table_struct *table)
{
	struct milk_file *state = file->private_data;
	unsigned int bits;
	__poll_t mask = 0;

	poll_wait(file, &state->readers.queue, table);
	mutex_lock(&state->lock);
	bits = milk_core_poll(state->core);
	mutex_unlock(&state->lock);
	if (bits & MILK_POLL_IN)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (bits & MILK_POLL_CLOSED)
		mask |= EPOLLIN | EPOLLRDNORM | EPOLLERR | EPOLLHUP;
	return mask;
}

/*
 * The doorbell's other sleeping half: read() of 4 bytes blocks until poll()
 * would report something, then returns the milk_poll_bits (MILK_POLL_IN,
 * MILK_POLL_CLOSED) as a u32. O_NONBLOCK gives EAGAIN instead of sleeping.
 */
static ssize_t milk_read(struct file *file, char __user *buffer, size_t length, loff_t *position)
{
	struct milk_file *state = file->private_data;
	u32 bits;

	if (length < sizeof(bits))
		return -EINVAL;
	for (;;) {
		int seen = atomic_read(&state->readers.events);

		if (mutex_lock_interruptible(&state->lock))
			return -ERESTARTSYS;
		bits = milk_core_poll(state->core);
		mutex_unlock(&state->lock);
		if (bits)
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(state->readers.queue, atomic_read(&state->readers.events) != seen))
			return -ERESTARTSYS;
	}
	if (copy_to_user(buffer, &bits, sizeof(bits)))
		return -EFAULT;
	return sizeof(bits);
}

static const struct file_operations milk_fops = {
	.owner = THIS_MODULE,
	.open = milk_open,
	.release = milk_release,
	.unlocked_ioctl = milk_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.mmap = milk_mmap,
	.poll = milk_poll,
	.read = milk_read,
	.uring_cmd = milk_uring_cmd,
	.llseek = noop_llseek,
};

static struct miscdevice milk_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = MILK_DEVICE_NAME,
	.fops = &milk_fops,
	.mode = 0666,
};

static int __init milk_init(void)
{
	int result;

	BUILD_BUG_ON(MILK_EPERM != EPERM);
	BUILD_BUG_ON(MILK_ENOENT != ENOENT);
	BUILD_BUG_ON(MILK_EPROTONOSUPPORT != EPROTONOSUPPORT);
	BUILD_BUG_ON(sizeof(struct milk_channel_open) != 456);
	BUILD_BUG_ON(sizeof(struct milk_channel_info) != 192);
	BUILD_BUG_ON(sizeof(struct milk_channel_entry) != 104);
	BUILD_BUG_ON(sizeof(struct milk_channel_list) != 112);
	BUILD_BUG_ON(sizeof(struct milk_component_info) != 120);
	BUILD_BUG_ON(MILK_READ_REPLIES != MILK_POLL_IN || MILK_READ_CLOSED != MILK_POLL_CLOSED);
	BUILD_BUG_ON(sizeof(struct milk_channel_error) != 224);
	BUILD_BUG_ON(MILK_ENOMEM != ENOMEM);
	BUILD_BUG_ON(MILK_EFAULT != EFAULT);
	BUILD_BUG_ON(MILK_EBUSY != EBUSY);
	BUILD_BUG_ON(MILK_ENODEV != ENODEV);
	BUILD_BUG_ON(MILK_EINVAL != EINVAL);
	BUILD_BUG_ON(MILK_ENOTTY != ENOTTY);
	BUILD_BUG_ON(MILK_EPIPE != EPIPE);
	BUILD_BUG_ON(MILK_EPROTO != EPROTO);

	BUILD_BUG_ON(sizeof(struct milk_sched_create) != 328);
	BUILD_BUG_ON(sizeof(struct milk_sched_join) != 16);
	BUILD_BUG_ON(sizeof(struct milk_sched_event) != 32);
	BUILD_BUG_ON(sizeof(struct milk_sched_wait) != 24);
	BUILD_BUG_ON(sizeof(struct milk_sched_decision) != 16);
	BUILD_BUG_ON(sizeof(struct milk_sched_apply) != 24);
	BUILD_BUG_ON(sizeof(struct milk_sched_stats) != 48);
	BUILD_BUG_ON(MILK_EALREADY != EALREADY);
	BUILD_BUG_ON(MILK_ENOSPC != ENOSPC);
	BUILD_BUG_ON(MILK_EOPNOTSUPP != EOPNOTSUPP);
	BUILD_BUG_ON(MILK_EINTR != EINTR);
	BUILD_BUG_ON(MILK_EIO != EIO);
	BUILD_BUG_ON(MILK_EAGAIN != EAGAIN);

	BUILD_BUG_ON(sizeof(struct milk_mem_create) != 320);
	BUILD_BUG_ON(sizeof(struct milk_mem_event) != 24);
	BUILD_BUG_ON(sizeof(struct milk_mem_wait) != 24);
	BUILD_BUG_ON(sizeof(struct milk_mem_decision) != 16);
	BUILD_BUG_ON(sizeof(struct milk_mem_apply) != 24);
	BUILD_BUG_ON(sizeof(struct milk_mem_stats) != 48);
	BUILD_BUG_ON(sizeof(struct milk_blk_create) != 320);
	BUILD_BUG_ON(sizeof(struct milk_blk_stats) != 64);
	BUILD_BUG_ON(sizeof(struct milk_blk_request) != 32);
	BUILD_BUG_ON(sizeof(struct milk_blk_wait) != 24);
	BUILD_BUG_ON(sizeof(struct milk_blk_answer) != 24);
	BUILD_BUG_ON(sizeof(struct milk_blk_answers) != 16);

	result = milk_core_init();
	if (result)
		return result;
	milk_sched_shim_init();
	result = milk_blk_shim_init();
	if (result) {
		milk_sched_shim_exit();
		milk_core_exit();
		return result;
	}
	result = misc_register(&milk_device);
	if (result) {
		milk_blk_shim_exit();
		milk_sched_shim_exit();
		milk_core_exit();
		return result;
	}
	result = milk_lab_init();
	if (result) {
		misc_deregister(&milk_device);
		milk_blk_shim_exit();
		milk_sched_shim_exit();
		milk_core_exit();
		return result;
	}
	pr_info("milk: loaded, ABI %u\n", MILK_ABI_VERSION);
	return 0;
}

static void __exit milk_exit(void)
{
	long leaked;

	/* No file can be open here: each holds a reference to the module. */
	milk_lab_exit();
	misc_deregister(&milk_device);
	milk_blk_shim_exit();
	milk_sched_shim_exit();
	milk_core_exit();
	leaked = atomic_long_read(&milk_live_allocations);
	if (leaked)
		pr_err("milk: leak: %ld allocations\n", leaked);
	else
		pr_info("milk: unloaded cleanly\n");
}

module_init(milk_init);
module_exit(milk_exit);
