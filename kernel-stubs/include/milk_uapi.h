/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * The ioctl ABI of /dev/milk: the one header shared by the module's C shim
 * (built with __KERNEL__), its freestanding C++ core and user programs.
 *
 * Every struct here has fixed-width fields and explicit padding, so its
 * layout is the same for the kernel, for C++ and for a 32-bit or 64-bit
 * user: nothing depends on the ABI of `long` or of pointers.
 *
 * A channel's region (mmap(fd, offset 0, region_bytes)) is laid out by
 * userland/include/milk/region_layout.hpp's ChannelRegionLayout; its rings
 * are userland/include/milk/ring.hpp's and its element slot.hpp's 64-byte
 * Slot, so user space drives them with the runtime unchanged.
 */
#ifndef MILK_UAPI_H
#define MILK_UAPI_H

#ifdef __KERNEL__
#include <linux/ioctl.h>
#include <linux/types.h>
typedef __u32 milk_u32;
typedef __s32 milk_s32;
typedef __u64 milk_u64;
typedef __s64 milk_s64;
#else
#include <linux/ioctl.h>
#include <stdint.h>
typedef uint32_t milk_u32;
typedef int32_t milk_s32;
typedef uint64_t milk_u64;
typedef int64_t milk_s64;
#endif

/* Bumped on every incompatible change of anything in this file. */
#define MILK_ABI_VERSION 10u

#define MILK_DEVICE_NAME "milk"

struct milk_version {
	milk_u32 abi_version; /* out: MILK_ABI_VERSION */
	milk_u32 reserved;    /* out: 0 */
};

/*
 * A channel to a kernel-side component (MILK_IOC_OPEN_CHANNEL): the `kernel`
 * transport. One channel per fd. The region mmap() maps is laid out by
 * userland/include/milk/region_layout.hpp's ChannelRegionLayout, computed
 * from ring_capacity and pool_bytes alone: user space is side First (the
 * contract's client, pool 0), the kernel side Second (the server, pool 1).
 * The kernel writes only status[Second], message ring 1's producer half,
 * return ring 0's producer half and its own pool; it reads user memory only
 * through its own copies and never trusts what it reads.
 */
#define MILK_CONTRACT_NAME_MAX 64u
#define MILK_CHANNEL_MIN_CAPACITY 2u
#define MILK_CHANNEL_MAX_CAPACITY 4096u
#define MILK_CHANNEL_MIN_POOL 4096u
#define MILK_CHANNEL_MAX_POOL (1u << 20)

/*
 * MILK_IOC_OPEN_CHANNEL flags, at most one of them. With neither, the
 * component runs inline in MILK_IOC_KICK (the doorbell), one step per
 * message. With MILK_CHANNEL_THREAD, a kernel thread of the channel runs
 * the component: whenever its receive finds ring 0 empty it announces
 * Sleeping in the region's data_bell[0] word (the runtime's doorbell
 * protocol, docs/runtime.md) and sleeps on a wait queue; user space
 * publishes, swaps the word to Awake (0), and calls MILK_IOC_KICK only when
 * the old value was Sleeping (1). A kick then only wakes the thread and
 * returns 0. MILK_CHANNEL_POLLING_THREAD is the same thread, but it polls
 * ring 0 for 200 us after each message before it sleeps, bound to a CPU
 * other than the one the channel was opened on (when there is one).
 *
 * A component that must speak first or receive several messages per reply
 * always gets a thread: the kernel then returns MILK_CHANNEL_THREAD in
 * `flags` although the request had none. `flags` holds what was granted.
 */
#define MILK_CHANNEL_POLLING_THREAD 1u
#define MILK_CHANNEL_THREAD 2u

/*
 * An instance's settings (milk::Settings in userland/include/milk/component.hpp):
 * up to MILK_SETTINGS_MAX named integers. The kernel copies the table once and
 * refuses it (EINVAL) unless count <= MILK_SETTINGS_MAX and each of the first
 * `count` names is 1..23 bytes of [a-z0-9_], NUL-terminated, and named once.
 * Entries past `count` are ignored.
 */
#define MILK_SETTINGS_MAX 8u
#define MILK_SETTING_NAME_MAX 24u

struct milk_setting {
	char name[MILK_SETTING_NAME_MAX]; /* NUL-terminated [a-z0-9_] */
	milk_s64 value;
};

struct milk_settings {
	milk_u32 count;
	milk_u32 reserved; /* must be 0 */
	struct milk_setting entries[MILK_SETTINGS_MAX];
};

/* A component's name, as milk_component() in components/CMakeLists.txt gives it. */
#define MILK_COMPONENT_NAME_MAX 32u
/*
 * The host's name for the instance a channel serves (docs/components.md: 1-63
 * bytes of [a-z0-9_-]), or empty. The module only stores it and lists
 * channels by it (MILK_IOC_LIST_CHANNELS).
 */
#define MILK_INSTANCE_NAME_MAX 64u

/*
 * Opens this fd's channel to the component `component` (MILK_IOC_OPEN_CHANNEL).
 * `contract` and `version` are what the client speaks; the component must
 * serve exactly that. The kernel constructs the component for this channel
 * from `settings`, as user space does.
 */
struct milk_channel_open {
	char component[MILK_COMPONENT_NAME_MAX]; /* in: "echo", NUL-terminated */
	char contract[MILK_CONTRACT_NAME_MAX];   /* in: "package.Contract", NUL-terminated */
	char instance[MILK_INSTANCE_NAME_MAX];   /* in: "" or the host's instance name */
	milk_u32 version;                        /* in: the contract version the client speaks */
	milk_u32 ring_capacity;                  /* in: slots per direction, power of two */
	milk_u32 pool_bytes;                     /* in: exchange-heap bytes per side, power of two */
	milk_u32 flags;                          /* in: 0 or one MILK_CHANNEL_*; out: what was granted */
	milk_u64 region_bytes;                   /* out: bytes to mmap at offset 0 */
	milk_u64 heap_offset;                    /* out: where the exchange heap starts */
	struct milk_settings settings;           /* in */
};

/*
 * A channel's geometry (MILK_IOC_CHANNEL_INFO), for a process that received
 * the fd from another (SCM_RIGHTS) and maps the channel itself: everything
 * the opener learnt from MILK_IOC_OPEN_CHANNEL, and what it asked for.
 */
struct milk_channel_info {
	char component[MILK_COMPONENT_NAME_MAX];
	char contract[MILK_CONTRACT_NAME_MAX];
	char instance[MILK_INSTANCE_NAME_MAX];
	milk_u32 version;
	milk_u32 ring_capacity;
	milk_u32 pool_bytes;
	milk_u32 flags; /* the serving granted: 0 or one MILK_CHANNEL_* */
	milk_u64 region_bytes;
	milk_u64 heap_offset;
};

/* How a component is hosted (milk_component_info.hosting). */
#define MILK_HOSTING_PER_MESSAGE 0u /* a step per message, inline in MILK_IOC_KICK unless a thread is asked for */
#define MILK_HOSTING_THREAD 1u      /* always in a serving thread */

/*
 * A component compiled into the module (MILK_IOC_COMPONENT_INFO), on any fd
 * of /dev/milk, with or without a channel. ENOENT: no such component.
 * `messages` is the module's own count of the messages it accepted (took off
 * a ring and validated) from user space on this component's channels since
 * the module was loaded; `channels` those open now.
 */
struct milk_component_info {
	char component[MILK_COMPONENT_NAME_MAX]; /* in */
	char contract[MILK_CONTRACT_NAME_MAX];   /* out */
	milk_u32 version;                        /* out */
	milk_u32 hosting;                        /* out: MILK_HOSTING_* */
	milk_u32 channels;                       /* out */
	milk_u32 reserved;                       /* out: 0 */
	milk_u64 messages;                       /* out */
};

/*
 * Why the kernel closed a component channel (MILK_IOC_CHANNEL_ERROR): the
 * status block holds the milk::ErrorCode and one value; this holds the
 * whole story. Strings are NUL-terminated (and truncated to fit).
 */
struct milk_channel_error {
	milk_u32 closed;     /* 1 once the kernel side is closed */
	milk_u32 reason;     /* milk::ErrorCode; 0 = still open or closed normally */
	milk_s32 kstub_code; /* the validator's MILK_KV_* code, 0 if not a validator verdict */
	milk_u32 state;      /* the protocol state the kernel tracked */
	milk_u32 tag;        /* the offending message's tag */
	milk_u32 reserved;
	milk_u64 value;      /* the offending value (a handle: offset << 32 | length) */
	char text[192];      /* "<contract>: <what> in state <S> (message <M>, field <F>)" */
};

/*
 * The open channels of a component (MILK_IOC_LIST_CHANNELS), on any fd: what
 * `milkctl status` shows for a `kernel` instance. Each entry is a snapshot
 * of numbers the module keeps for itself; a channel opened or closed while
 * the list is made may or may not be in it.
 */
#define MILK_LIST_CHANNELS_MAX 1024u

struct milk_channel_entry {
	milk_u64 id;                           /* unique since the module was loaded, from 1 */
	char instance[MILK_INSTANCE_NAME_MAX]; /* as opened */
	milk_s32 pid;                          /* the process that opened it (its thread group) */
	milk_u32 state;                        /* the protocol state the kernel tracks (the contract's numbering) */
	milk_u32 flags;                        /* its serving: 0 or one MILK_CHANNEL_* */
	milk_u32 closed;                       /* 1 once the kernel side is closed */
	milk_u64 received;                     /* messages accepted from user space */
	milk_u64 sent;                         /* messages the component sent */
};

struct milk_channel_list {
	char component[MILK_COMPONENT_NAME_MAX]; /* in */
	char instance[MILK_INSTANCE_NAME_MAX];   /* in: only this instance's channels; "" for all */
	milk_u32 capacity;                       /* in: room at `entries`, at most MILK_LIST_CHANNELS_MAX */
	milk_u32 count;                          /* out: the channels that match; the first min(count, capacity) are written */
	milk_u64 entries;                        /* in: user address of struct milk_channel_entry[capacity] */
};

#define MILK_IOC_MAGIC 0xb7

/* Fills struct milk_version. */
#define MILK_IOC_VERSION _IOR(MILK_IOC_MAGIC, 0x01, struct milk_version)
/* 0x02 was MILK_IOC_CREATE_ECHO (ABI 1-3, a contract-less echo channel): unused. */
/*
 * The doorbell of a component channel (see MILK_IOC_OPEN_CHANNEL below).
 * The argument must be 0. Returns the number of messages taken, or -1 with
 * errno:
 *   ENODEV  no channel was opened on this fd
 *   EPROTO  this kick found a violation (corrupt index, invalid slot);
 *           the channel is now closed and its status says why
 *   EPIPE   the channel was already closed
 */
#define MILK_IOC_KICK _IO(MILK_IOC_MAGIC, 0x03)
/*
 * The same doorbell as an io_uring command (ABI 8): IORING_OP_URING_CMD on
 * the channel's fd with cmd_op MILK_URING_KICK, the command area unused
 * (zero it). The CQE's res is what MILK_IOC_KICK returns: the number taken,
 * or -ENODEV, -EPROTO, -EPIPE as above; -ENOTTY for another cmd_op. A policy
 * that already submits I/O through io_uring kicks its channels in the same
 * submission (docs/kernel-user-messaging.md). The component runs in the
 * submitting task, as for the ioctl, or in the SQPOLL thread with
 * IORING_SETUP_SQPOLL; a kick that would wait for the channel's lock is
 * handed to io_uring's workers instead of blocking a non-blocking issue.
 */
#define MILK_URING_KICK 1u
/*
 * Creates this fd's channel to the component named `component`. Errors:
 * ENOENT no such component, EPROTONOSUPPORT it serves another contract or
 * version than `contract`/`version`, EINVAL bad sizes, flags, names or
 * settings (or the component refused its settings), EBUSY the fd already has
 * a channel, EAGAIN a serving thread beyond the module's 64.
 * Then MILK_IOC_KICK is the doorbell: the kernel takes, validates and
 * handles up to ring_capacity messages (each with the contract's generated
 * validator, against the protocol state it tracks), publishes the replies,
 * and returns how many messages it took. poll() on the fd reports POLLIN
 * while the kernel's ring holds unread replies, and POLLIN|POLLERR|POLLHUP
 * once the kernel side is closed. read() of 4 bytes blocks until then and
 * returns a u32 of MILK_READ_* bits (EAGAIN with O_NONBLOCK).
 */
#define MILK_READ_REPLIES 1u /* the kernel's ring holds unread replies */
#define MILK_READ_CLOSED 2u  /* the kernel side is closed */
#define MILK_IOC_OPEN_CHANNEL _IOWR(MILK_IOC_MAGIC, 0x04, struct milk_channel_open)
/* Fills struct milk_channel_error; ENODEV without a component channel. */
#define MILK_IOC_CHANNEL_ERROR _IOR(MILK_IOC_MAGIC, 0x05, struct milk_channel_error)
/* Fills struct milk_component_info for the component it names; ENOENT if none. */
#define MILK_IOC_COMPONENT_INFO _IOWR(MILK_IOC_MAGIC, 0x06, struct milk_component_info)
/* Fills struct milk_channel_info; ENODEV without a component channel. */
#define MILK_IOC_CHANNEL_INFO _IOR(MILK_IOC_MAGIC, 0x07, struct milk_channel_info)
/*
 * Fills struct milk_channel_list (ABI 5). ENOENT no such component, EINVAL
 * unterminated names or capacity above MILK_LIST_CHANNELS_MAX, EFAULT bad
 * addresses.
 */
#define MILK_IOC_LIST_CHANNELS _IOWR(MILK_IOC_MAGIC, 0x08, struct milk_channel_list)

/*
 * Live relocation of a kernel component (ABI 7; docs/relocation.md, "The
 * kernel placement"). Only a channel served inline in the kick
 * (MILK_HOSTING_PER_MESSAGE, no serving thread) can be parked: between two
 * kicks its component owes nothing, which is a cut point.
 *
 * MILK_IOC_PARK stops the channel where it is: later kicks take nothing
 * (they return 0, and the messages stay in ring 0 for the client to take
 * back), and the component's snapshot (userland/include/milk/snapshot.hpp,
 * the same bytes user space writes) is written at `snapshot`. Parking a
 * parked channel writes the snapshot again. Errors: ENODEV no channel,
 * EOPNOTSUPP served by a thread or by a component without a step, EPIPE the
 * channel is closed or its session ended, ENOSPC `capacity` is too small
 * (`bytes` says how many it needs; the channel is parked all the same),
 * EFAULT bad addresses.
 */
#define MILK_SNAPSHOT_MAX (1u << 20)

struct milk_channel_park {
	milk_u64 snapshot; /* in: user address of `capacity` bytes */
	milk_u32 capacity; /* in: at most MILK_SNAPSHOT_MAX is used */
	milk_u32 bytes;    /* out: the snapshot's length (or, with ENOSPC, the room it needs) */
};

#define MILK_IOC_PARK _IOWR(MILK_IOC_MAGIC, 0x09, struct milk_channel_park)
/*
 * Takes a parked channel back into service and runs a kick at once, for
 * what arrived meanwhile; returns what that kick returns. EINVAL if it is
 * not parked.
 */
#define MILK_IOC_RESUME _IO(MILK_IOC_MAGIC, 0x0a)
/*
 * Closes a parked channel because its component moved on: the status block
 * says PeerClosed with milk::moved_close_detail (channel_status.hpp), which
 * tells the client's end to look for the channel that follows. EINVAL if
 * it is not parked.
 */
#define MILK_IOC_RETIRE _IO(MILK_IOC_MAGIC, 0x0b)

/*
 * MILK_IOC_OPEN_CHANNEL, with the component restored from a snapshot
 * another placement wrote (MILK_IOC_PARK here, or user space). The snapshot
 * is untrusted input: read with every check the reader makes, and refused
 * with EINVAL (the log says why) when it is not this component's, or with
 * EOPNOTSUPP when the component has no step (only those move).
 * snapshot_bytes is 1..MILK_SNAPSHOT_MAX.
 */
struct milk_channel_restore {
	struct milk_channel_open open; /* as MILK_IOC_OPEN_CHANNEL's */
	milk_u64 snapshot;             /* in: user address */
	milk_u32 snapshot_bytes;       /* in */
	milk_u32 reserved;             /* must be 0 */
};

#define MILK_IOC_OPEN_RESTORED _IOWR(MILK_IOC_MAGIC, 0x0c, struct milk_channel_restore)

/*
 * Tracing an instance's channels (ABI 7; docs/relocation.md, "Tracing"):
 * what `milkctl trace` shows of a kernel instance. MILK_TRACE_START begins
 * recording every message the instance's channels (those opened with its
 * name) take from user space and send to it, up to MILK_TRACE_RECORDS;
 * later ones are counted as dropped. MILK_TRACE_STOP ends it and copies
 * the records out, oldest first. At most MILK_TRACE_SESSIONS instances are
 * traced at once. Errors: EINVAL unterminated or empty names, an unknown
 * command, capacity above MILK_TRACE_RECORDS; ENOENT no such component
 * (START) or no trace of that instance (STOP); EALREADY a trace of it runs;
 * EBUSY every session is in use; ENOMEM; EFAULT.
 */
#define MILK_TRACE_RECORDS 16384u
#define MILK_TRACE_SESSIONS 8u
#define MILK_TRACE_START 1u
#define MILK_TRACE_STOP 2u

/* One message, as the kernel validated or sent it. */
struct milk_trace_record {
	milk_u64 time_ns;      /* CLOCK_MONOTONIC, as user space reads it */
	milk_u64 channel;      /* the channel's id (milk_channel_entry.id) */
	milk_u32 tag;          /* the contract's message tag */
	milk_u32 from_client;  /* 1: taken from user space; 0: sent by the component */
	milk_u32 state_before; /* the protocol state around it (the contract's numbering) */
	milk_u32 state_after;
};

struct milk_trace {
	char component[MILK_COMPONENT_NAME_MAX]; /* in: the instance's component */
	char instance[MILK_INSTANCE_NAME_MAX];   /* in: the instance, 1-63 bytes */
	milk_u32 command;                        /* in: MILK_TRACE_START or MILK_TRACE_STOP */
	milk_u32 capacity;                       /* in (STOP): room at `records` */
	milk_u64 records;                        /* in (STOP): user address of struct milk_trace_record[capacity] */
	milk_u32 count;                          /* out (STOP): records written */
	milk_u32 dropped;                        /* out (STOP): records lost to a full buffer (or to `capacity`) */
};

#define MILK_IOC_TRACE _IOWR(MILK_IOC_MAGIC, 0x0d, struct milk_trace)

/*
 * The kernel scheduler mechanism (ABI 6; docs/sched.md, "The kernel
 * mechanism"). An agent creates an enclave, a set of CPUs, on its fd
 * (MILK_IOC_SCHED_CREATE); threads of any process join it by its id
 * (MILK_IOC_SCHED_JOIN, the calling thread joins). The module learns their
 * wake-ups, blocks and exits from the scheduler's tracepoints and queues
 * them as events; the agent reads them (MILK_IOC_SCHED_WAIT), asks its
 * policy, and hands the module the decisions (MILK_IOC_SCHED_APPLY), which
 * it enforces. Or the creator names a scheduler component compiled into
 * the module, and the module calls that policy itself, from a kernel
 * thread of the enclave's own (no WAIT, no APPLY).
 *
 * Either way a task placed on a CPU runs there alone among the enclave's
 * tasks, SCHED_FIFO 1 and pinned; every other task of the enclave is
 * stopped, or SCHED_IDLE on the enclave's CPUs while it sleeps in the
 * kernel (its wake-up is an event). When the creator's fd goes (its
 * process died), when an event waits unread longer than the watchdog, when
 * the policy in the module refuses an event, or on MILK_IOC_SCHED_FALLBACK,
 * every task goes back to the kernel's own scheduling (SCHED_NORMAL, nice
 * 0, the CPUs it was allowed when it joined) and the enclave ends.
 *
 * CPUs are Linux CPU numbers below MILK_SCHED_MAX_CPUS; tasks are the
 * enclave's numbers 0..max_tasks-1, given at join. Event and decision kinds
 * have contracts/sched.contract's numbers.
 */
#define MILK_SCHED_MAX_CPUS 64u
#define MILK_SCHED_MAX_TASKS 256u
#define MILK_SCHED_MAX_ENCLAVES 4u
#define MILK_SCHED_MAX_WAIT 256u     /* events per MILK_IOC_SCHED_WAIT */
#define MILK_SCHED_MAX_APPLY 128u    /* decisions per MILK_IOC_SCHED_APPLY */
#define MILK_SCHED_DEFAULT_WATCHDOG_MS 50u
#define MILK_SCHED_MAX_WATCHDOG_MS 10000u

#define MILK_SCHED_EVENT_TASK_NEW 1u /* `task` joined, `weight`, `tid` (a WAKEUP follows: it is runnable) */
#define MILK_SCHED_EVENT_WAKEUP 2u   /* `task` became runnable */
#define MILK_SCHED_EVENT_BLOCKED 3u  /* `task` blocked on `cpu` */
#define MILK_SCHED_EVENT_EXIT 5u     /* `task` left (exited or MILK_IOC_SCHED_LEAVE) */
#define MILK_SCHED_EVENT_CPU_IDLE 6u /* `cpu` went idle */

#define MILK_SCHED_DECIDE_RUN 1u     /* run `task` on `cpu` */
#define MILK_SCHED_DECIDE_PREEMPT 2u /* take `task` off `cpu` */
#define MILK_SCHED_DECIDE_IDLE 3u    /* `cpu` has nothing to run */

/* Why an enclave went back to the kernel's scheduling (milk_sched_stats.fallback). */
#define MILK_SCHED_FALLBACK_NONE 0u
#define MILK_SCHED_FALLBACK_AGENT_GONE 1u /* the agent's fd was released */
#define MILK_SCHED_FALLBACK_WATCHDOG 2u   /* an event waited longer than the watchdog */
#define MILK_SCHED_FALLBACK_ASKED 3u      /* MILK_IOC_SCHED_FALLBACK */
#define MILK_SCHED_FALLBACK_OVERFLOW 4u   /* more events than the queue holds */
#define MILK_SCHED_FALLBACK_POLICY 5u     /* the policy in the module refused an event */

struct milk_sched_create {
	milk_u64 cpus;        /* in: bit n = Linux CPU n; online CPUs only, at least one */
	milk_u32 max_tasks;   /* in: 1..MILK_SCHED_MAX_TASKS */
	milk_u32 watchdog_ms; /* in: 0 = MILK_SCHED_DEFAULT_WATCHDOG_MS, at most MILK_SCHED_MAX_WATCHDOG_MS */
	milk_u32 enclave;     /* out: the id threads join with */
	milk_u32 reserved;    /* must be 0 */
	/*
	 * in: empty (all zero): this fd is the enclave's agent (WAIT, APPLY).
	 * Otherwise a scheduler component compiled into the module ("sched_fair",
	 * NUL-terminated): the module builds it from `settings` and calls it
	 * directly, from a kernel thread of the enclave's own that ticks every
	 * `tick_us`; this fd then only owns the enclave (closing it falls back).
	 */
	char policy[MILK_COMPONENT_NAME_MAX];
	milk_u32 tick_us;     /* in: with a policy, 0 = 1000, at most 1000000 */
	milk_u32 reserved2;   /* must be 0 */
	struct milk_settings settings; /* in: with a policy, its settings */
};

struct milk_sched_join {
	milk_u32 enclave;  /* in */
	milk_u32 weight;   /* in: 1..1048576, 0 = 1024 */
	milk_u32 task;     /* out: the task's number in the enclave */
	milk_u32 reserved; /* must be 0 */
};

struct milk_sched_event {
	milk_u32 kind;    /* MILK_SCHED_EVENT_* */
	milk_u32 cpu;     /* BLOCKED, CPU_IDLE: the Linux CPU */
	milk_u32 task;    /* all but CPU_IDLE */
	milk_u32 weight;  /* TASK_NEW */
	milk_s32 tid;     /* TASK_NEW: the thread, as the joining process saw it */
	milk_u32 reserved;
	milk_u64 time_ns; /* when the module saw it (ktime_get_ns) */
};

struct milk_sched_wait {
	milk_u64 events;     /* in: user address of struct milk_sched_event[capacity] */
	milk_u32 capacity;   /* in: 1..MILK_SCHED_MAX_WAIT */
	milk_u32 count;      /* out: events written */
	milk_s64 timeout_ns; /* in: < 0 until an event comes, 0 do not wait */
};

struct milk_sched_decision {
	milk_u32 kind; /* MILK_SCHED_DECIDE_* */
	milk_u32 cpu;  /* a CPU of the enclave */
	milk_u32 task; /* RUN, PREEMPT: a task of the enclave */
	milk_u32 result; /* in: 0; out: MILK_SCHED_APPLIED or MILK_SCHED_REFUSED */
};

#define MILK_SCHED_APPLIED 1u
#define MILK_SCHED_REFUSED 2u

struct milk_sched_apply {
	milk_u64 decisions; /* in: user address of struct milk_sched_decision[count]; each one's result is written back */
	milk_u32 count;     /* in: 0..MILK_SCHED_MAX_APPLY */
	milk_u32 applied;   /* out */
	milk_u32 refused;   /* out: stale: the task has an event the agent has not read, or left */
	milk_u32 reserved;
};

struct milk_sched_stats {
	milk_u32 enclave;      /* in: on any fd */
	milk_u32 fallback;     /* out: MILK_SCHED_FALLBACK_* */
	milk_u32 tasks;        /* out: joined and not left */
	milk_u32 reserved;
	milk_u64 events;       /* out: events queued since creation */
	milk_u64 applied;      /* out: decisions applied */
	milk_u64 refused;      /* out: decisions refused as stale */
	milk_u64 fallback_ns;  /* out: when the enclave fell back (ktime_get_ns), 0 if it has not */
};

/*
 * Errors of the MILK_IOC_SCHED_* calls: EINVAL a malformed argument (a CPU
 * or task out of the enclave, an unknown kind, reserved not 0), EPERM
 * creating an enclave without CAP_SYS_NICE, EBUSY the fd already has an
 * enclave or the module has MILK_SCHED_MAX_ENCLAVES, ENOENT no such enclave,
 * EPIPE it has fallen back, ENOSPC it has max_tasks, EALREADY the thread is
 * in an enclave already, ENODEV (WAIT, APPLY, FALLBACK) this fd is no
 * enclave's agent (or its enclave's policy is in the module), EOPNOTSUPP
 * the kernel's tracepoints could not be found. CREATE with a policy: ENOENT
 * no such component, EPROTONOSUPPORT it is no scheduler, EINVAL its settings
 * or the enclave refused by it (the reason goes to the log), EAGAIN no
 * kernel thread.
 */
#define MILK_IOC_SCHED_CREATE _IOWR(MILK_IOC_MAGIC, 0x10, struct milk_sched_create)
#define MILK_IOC_SCHED_JOIN _IOWR(MILK_IOC_MAGIC, 0x11, struct milk_sched_join)
/* The calling thread leaves its enclave (an EXIT event); ENOENT if in none. */
#define MILK_IOC_SCHED_LEAVE _IO(MILK_IOC_MAGIC, 0x12)
#define MILK_IOC_SCHED_WAIT _IOWR(MILK_IOC_MAGIC, 0x13, struct milk_sched_wait)
#define MILK_IOC_SCHED_APPLY _IOWR(MILK_IOC_MAGIC, 0x14, struct milk_sched_apply)
/* The agent gives its enclave back to the kernel's scheduling. */
#define MILK_IOC_SCHED_FALLBACK _IO(MILK_IOC_MAGIC, 0x15)
#define MILK_IOC_SCHED_STATS _IOWR(MILK_IOC_MAGIC, 0x16, struct milk_sched_stats)

/*
 * A memory region served by milk.ko's own fault handler (MILK_IOC_MEM_*,
 * docs/mem.md "The kernel mechanism"): `pages` pages of 4 KiB backed by a
 * pool of `frames` frames the module allocates, fewer frames than pages. The
 * fd that created it maps it, whole and shared: mmap(NULL, region_bytes,
 * PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0); every process the fd or the
 * mapping reaches sees the same pages. A touch of a page without a frame
 * is a fault the module's handler serves: it asks the region's policy which
 * frame the page goes to and which page, if any, leaves it (saved to the
 * module's memory and unmapped from every mapping), restores the page's
 * contents (zeros the first time) and maps the frame.
 *
 * The policy is a memory manager component (contracts/mem.contract):
 * - `policy` names one compiled into the module ("mem_clock"): the fault
 *   handler calls it directly, in the faulting thread;
 * - `policy` empty: this fd is the region's agent. Faults queue; the agent
 *   reads them (MILK_IOC_MEM_WAIT), asks its policy wherever it runs, and
 *   hands back the decisions (MILK_IOC_MEM_APPLY); a faulting thread waits
 *   (without holding its process's memory map lock) until its page has a
 *   frame.
 * The module checks every decision against its own books (an eviction must
 * name the page its frame holds, a map an empty frame and a page without
 * one). When the policy refuses an event or breaks a rule, when a fault
 * waits longer than `deadline_ms`, or on MILK_IOC_MEM_FALLBACK, the region
 * falls back to a FIFO the module runs itself (the mem_fifo component's
 * own code, called directly): no page is lost and no faulting thread stays
 * waiting.
 */
#define MILK_MEM_MAX_PAGES (1u << 18)  /* 1 GiB of 4 KiB pages */
#define MILK_MEM_MAX_FRAMES (1u << 15) /* 128 MiB */
#define MILK_MEM_DEFAULT_DEADLINE_MS 1000u
#define MILK_MEM_MAX_DEADLINE_MS 60000u
#define MILK_MEM_MAX_WAIT 256u  /* events per MILK_IOC_MEM_WAIT */
#define MILK_MEM_MAX_APPLY 256u /* decisions per MILK_IOC_MEM_APPLY */

/* contracts/mem.contract's numbering. */
#define MILK_MEM_EVENT_FAULT 1u /* `page` was touched and has no frame */
#define MILK_MEM_DECIDE_MAP 1u   /* map `page` onto `frame` */
#define MILK_MEM_DECIDE_EVICT 2u /* save `page` and drop it from `frame` */
#define MILK_MEM_DECIDE_PREFETCH 3u /* map `page` onto `frame` before any thread touches it (checked as a map) */

/* Why a region's policy was dropped (milk_mem_stats.fallback). */
#define MILK_MEM_FALLBACK_NONE 0u
#define MILK_MEM_FALLBACK_DEADLINE 1u /* a fault waited longer than deadline_ms */
#define MILK_MEM_FALLBACK_ASKED 2u    /* MILK_IOC_MEM_FALLBACK */
#define MILK_MEM_FALLBACK_POLICY 3u   /* the policy refused an event, or decided against the rules */

struct milk_mem_create {
	milk_u32 pages;       /* in: 2..MILK_MEM_MAX_PAGES */
	milk_u32 frames;      /* in: 1..MILK_MEM_MAX_FRAMES, fewer than pages */
	milk_u32 deadline_ms; /* in: 0 = MILK_MEM_DEFAULT_DEADLINE_MS, at most MILK_MEM_MAX_DEADLINE_MS */
	milk_u32 reserved;    /* must be 0 */
	milk_u64 region_bytes; /* out: pages * 4096, what mmap maps */
	/* in: empty: this fd is the agent; else a memory manager in the module */
	char policy[MILK_COMPONENT_NAME_MAX];
	struct milk_settings settings; /* in: with a policy, its settings */
};

struct milk_mem_event {
	milk_u32 kind;    /* MILK_MEM_EVENT_* */
	milk_u32 page;
	milk_u32 write;   /* FAULT: 1 if a write faulted the page first, else 0 (a read) */
	milk_u32 reserved;
	milk_u64 time_ns; /* when the module saw it (ktime_get_ns) */
};

struct milk_mem_wait {
	milk_u64 events;     /* in: user address of struct milk_mem_event[capacity] */
	milk_u32 capacity;   /* in: 1..MILK_MEM_MAX_WAIT */
	milk_u32 count;      /* out: events written */
	milk_s64 timeout_ns; /* in: < 0 until an event comes, 0 do not wait */
};

struct milk_mem_decision {
	milk_u32 kind;   /* MILK_MEM_DECIDE_* */
	milk_u32 page;
	milk_u32 frame;
	milk_u32 result; /* in: 0; out: MILK_MEM_APPLIED or MILK_MEM_REFUSED */
};

#define MILK_MEM_APPLIED 1u
#define MILK_MEM_REFUSED 2u

struct milk_mem_apply {
	milk_u64 decisions; /* in: user address of struct milk_mem_decision[count]; each one's result is written back */
	milk_u32 count;     /* in: 0..MILK_MEM_MAX_APPLY */
	milk_u32 applied;   /* out */
	milk_u32 refused;   /* out: against the module's books; any refusal makes the region fall back */
	milk_u32 reserved;
};

struct milk_mem_stats {
	milk_u32 fallback;    /* out: MILK_MEM_FALLBACK_* */
	milk_u32 resident;    /* out: pages on a frame now */
	milk_u64 faults;      /* out: faults that needed a decision */
	milk_u64 evictions;   /* out: pages saved and unmapped */
	milk_u64 maps;        /* out: pages put on a frame (prefetches among them) */
	milk_u64 prefetches;  /* out: pages put on a frame before any thread touched them */
	milk_u64 fallback_ns; /* out: when the region fell back (ktime_get_ns), 0 if it has not */
};

/*
 * Errors of the MILK_IOC_MEM_* calls: EINVAL a malformed argument; EBUSY
 * the fd has a channel, a region or an enclave already; ENOMEM no room for
 * the frames; ENODEV (WAIT, APPLY, FALLBACK) the fd is no region's agent,
 * (STATS) no region; EPIPE (WAIT, APPLY) the region has fallen back.
 * CREATE with a policy: ENOENT no such component, EPROTONOSUPPORT it is no
 * memory manager, EINVAL its settings or the region refused by it (the
 * reason goes to the log). mmap of a region: EINVAL unless shared, whole
 * and from offset 0.
 */
#define MILK_IOC_MEM_CREATE _IOWR(MILK_IOC_MAGIC, 0x20, struct milk_mem_create)
#define MILK_IOC_MEM_WAIT _IOWR(MILK_IOC_MAGIC, 0x21, struct milk_mem_wait)
#define MILK_IOC_MEM_APPLY _IOWR(MILK_IOC_MAGIC, 0x22, struct milk_mem_apply)
/* The agent gives its region to the module's own FIFO. */
#define MILK_IOC_MEM_FALLBACK _IO(MILK_IOC_MAGIC, 0x23)
#define MILK_IOC_MEM_STATS _IOR(MILK_IOC_MAGIC, 0x24, struct milk_mem_stats)

/*
 * A block device served by a block service component (MILK_IOC_BLK_*,
 * docs/blk.md "The kernel device"): MILK_IOC_BLK_CREATE registers a blk-mq
 * disk, /dev/milkblkN, whose requests (read, write, flush, discard) go to
 * its block service:
 * - `service` names one compiled into the module ("blk_ram"), built from
 *   `settings`: the disk calls it directly, and the disk's size and block
 *   size are the service's;
 * - `service` empty: this fd is the disk's agent, and `blocks` and
 *   `block_size` say the disk's size. Requests queue; the agent reads them
 *   (MILK_IOC_BLK_WAIT), takes a write's data (MILK_IOC_BLK_DATA), has the
 *   request served wherever its service runs, and ends it
 *   (MILK_IOC_BLK_COMPLETE, a read's data with it). A request the agent
 *   has not ended `deadline_ms` after it came fails with an I/O error.
 * Every request carries at most MILK_BLK_MAX_REQUEST_BYTES. The disk lives
 * as long as the fd that created it: when the fd goes, every request still
 * with the agent fails and the disk is deleted (a file system still
 * mounted on it sees I/O errors from then on).
 */
#define MILK_BLK_MAX_DEPTH 256u
#define MILK_BLK_MAX_DEVICES 16u
#define MILK_BLK_MAX_REQUEST_BYTES (128u * 1024u)
#define MILK_BLK_MAX_BYTES (1ull << 40) /* an agent's disk: at most 1 TiB */
#define MILK_BLK_DEFAULT_DEADLINE_MS 10000u
#define MILK_BLK_MAX_DEADLINE_MS 600000u
#define MILK_BLK_MAX_WAIT 256u   /* requests per MILK_IOC_BLK_WAIT */
#define MILK_BLK_MAX_ANSWERS 256u /* answers per MILK_IOC_BLK_DATA or _COMPLETE */

struct milk_blk_create {
	milk_u32 depth;        /* in: 1..MILK_BLK_MAX_DEPTH, requests in flight at once */
	milk_u32 deadline_ms;  /* in: an agent's disk: 0 = MILK_BLK_DEFAULT_DEADLINE_MS, at most MILK_BLK_MAX_DEADLINE_MS; else 0 */
	milk_u64 blocks;       /* in: an agent's disk: its size in blocks; out: the disk's */
	milk_u32 block_size;   /* in: an agent's disk: 512 or 4096; out: the disk's */
	milk_u32 index;        /* out: N of /dev/milkblkN */
	char service[MILK_COMPONENT_NAME_MAX]; /* in: a block service in the module, or empty: this fd is the agent */
	struct milk_settings settings;         /* in: the service's settings (none for an agent's disk) */
};

/* What the device has done (every request the block layer sent it). */
struct milk_blk_stats {
	milk_u64 reads;
	milk_u64 writes;
	milk_u64 flushes;
	milk_u64 discards;
	milk_u64 read_bytes;
	milk_u64 write_bytes;
	milk_u64 errors;   /* requests that ended with an error (timeouts among them) */
	milk_u64 timeouts; /* an agent's requests failed after deadline_ms */
};

/* The ops of a request (milk_blk_request.op). */
#define MILK_BLK_READ 0u
#define MILK_BLK_WRITE 1u
#define MILK_BLK_FLUSH 2u
#define MILK_BLK_DISCARD 3u

/* A request for the agent (MILK_IOC_BLK_WAIT). */
struct milk_blk_request {
	milk_u64 cookie;  /* names the request in DATA and COMPLETE (tags are reused; a cookie is not) */
	milk_u32 op;      /* MILK_BLK_* */
	milk_u32 reserved;
	milk_u64 offset;  /* bytes from the disk's start */
	milk_u64 bytes;   /* READ, WRITE, DISCARD: how many (a multiple of 512); FLUSH: 0 */
};

struct milk_blk_wait {
	milk_u64 requests;   /* in: user address of struct milk_blk_request[capacity] */
	milk_u32 capacity;   /* in: 1..MILK_BLK_MAX_WAIT */
	milk_u32 count;      /* out: requests written */
	milk_s64 timeout_ns; /* in: < 0 until one comes, 0 do not wait */
};

/*
 * One answer: DATA copies the write `cookie`'s data (its `bytes`) to `data`;
 * COMPLETE ends request `cookie` with `status` (0, or a positive errno: the
 * block layer's I/O error for it), a read's data copied from `data` first
 * (when `status` is 0). `result` comes back 0, or the errno of this answer
 * alone: ENOENT no request of that cookie with the agent (ended, timed out,
 * never), EINVAL DATA of a request that is no write, a status beyond 4095,
 * EFAULT `data` unreadable or unwritable (a read's request then fails).
 */
struct milk_blk_answer {
	milk_u64 cookie;
	milk_u64 data;
	milk_u32 status;
	milk_u32 result; /* in: 0 */
};

struct milk_blk_answers {
	milk_u64 answers; /* in: user address of struct milk_blk_answer[count]; each one's result is written back */
	milk_u32 count;   /* in: 0..MILK_BLK_MAX_ANSWERS */
	milk_u32 done;    /* out: answers with result 0 */
};

/*
 * Errors: EBUSY the fd has a channel, a region or a device already; ENOENT
 * no such component, EPROTONOSUPPORT it is no block service; EINVAL a
 * malformed request or settings the service refused (the log says why);
 * ENOSPC MILK_BLK_MAX_DEVICES devices exist; ENOMEM. STATS: ENODEV the fd
 * has no device. WAIT, DATA, COMPLETE (without the file's mutex): ENODEV
 * the fd is no disk's agent, EINTR, EFAULT, EINVAL.
 */
#define MILK_IOC_BLK_CREATE _IOWR(MILK_IOC_MAGIC, 0x30, struct milk_blk_create)
#define MILK_IOC_BLK_STATS _IOR(MILK_IOC_MAGIC, 0x31, struct milk_blk_stats)
#define MILK_IOC_BLK_WAIT _IOWR(MILK_IOC_MAGIC, 0x32, struct milk_blk_wait)
#define MILK_IOC_BLK_DATA _IOWR(MILK_IOC_MAGIC, 0x33, struct milk_blk_answers)
#define MILK_IOC_BLK_COMPLETE _IOWR(MILK_IOC_MAGIC, 0x34, struct milk_blk_answers)

#endif /* MILK_UAPI_H */
