// SPDX-License-Identifier: GPL-2.0
/*
 * The messaging lab: Linux's own kernel <-> user mechanisms, each answering
 * a 64-byte request (include/milk_lab_uapi.h), so that milk's channels can
 * be measured among them in one boot. Plain C on kernel APIs: these are the
 * baselines, not milk, and nothing here goes through the C++ core.
 *
 * Every user value is untrusted: requests are copied in once and never used
 * as anything but data, the shared page's request count is clamped, and
 * every user address goes through copy_{from,to}_user.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>
#include <net/genetlink.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

#include "milk_lab.h"
#include "milk_lab_uapi.h"

static_assert(sizeof(struct milk_lab_message) == MILK_LAB_MESSAGE_BYTES);
static_assert(sizeof(struct milk_lab_shared) <= MILK_LAB_SHARED_BYTES);

/* The answer every mechanism gives (the uapi header's rule). */
static void milk_lab_answer(struct milk_lab_message *message)
{
	message->words[0] += 1;
}

struct milk_lab_file {
	/* read/write: the stored request, if any. */
	struct mutex lock;
	struct milk_lab_message stored;
	bool has_stored;
	/* eventfd: the shared page, the eventfd, the thread and its wake-up. */
	struct milk_lab_shared *shared;
	struct eventfd_ctx *eventfd;
	struct task_struct *thread;
	wait_queue_head_t kicks;
	atomic_t kicked;
};

static int milk_lab_open(struct inode *inode, struct file *file)
{
	struct milk_lab_file *state = kzalloc(sizeof(*state), GFP_KERNEL);

	if (!state)
		return -ENOMEM;
	mutex_init(&state->lock);
	init_waitqueue_head(&state->kicks);
	atomic_set(&state->kicked, 0);
	file->private_data = state;
	return 0;
}

/* Runs when the last reference goes: the mapping holds the file too. */
static int milk_lab_release(struct inode *inode, struct file *file)
{
	struct milk_lab_file *state = file->private_data;

	if (state->thread)
		kthread_stop(state->thread);
	if (state->eventfd)
		eventfd_ctx_put(state->eventfd);
	vfree(state->shared);
	mutex_destroy(&state->lock);
	kfree(state);
	return 0;
}

static void milk_lab_signal(struct eventfd_ctx *eventfd)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(eventfd);
#else
	eventfd_signal(eventfd, 1);
#endif
}

/*
 * The eventfd mechanism's kernel side: sleeps until kicked, answers every
 * request in the shared page (the count clamped, each request read once),
 * publishes how many, and signals the eventfd once.
 */
static int milk_lab_thread(void *data)
{
	struct milk_lab_file *state = data;

	while (!kthread_should_stop()) {
		u32 count;
		u32 i;

		wait_event_interruptible(state->kicks,
					 atomic_xchg(&state->kicked, 0) || kthread_should_stop());
		if (kthread_should_stop())
			break;
		count = min_t(u32, READ_ONCE(state->shared->requests), MILK_LAB_BATCH_MAX);
		for (i = 0; i < count; ++i) {
			struct milk_lab_message message;

			memcpy(&message, &state->shared->request[i], sizeof(message));
			milk_lab_answer(&message);
			memcpy(&state->shared->reply[i], &message, sizeof(message));
		}
		/* The replies before the count, the count before the signal. */
		smp_store_release(&state->shared->answered, count);
		milk_lab_signal(state->eventfd);
	}
	return 0;
}

static long milk_lab_bind_eventfd(struct milk_lab_file *state, unsigned long argument)
{
	struct eventfd_ctx *eventfd;
	struct task_struct *thread;

	if (argument > INT_MAX)
		return -EBADF;
	mutex_lock(&state->lock);
	if (state->thread) {
		mutex_unlock(&state->lock);
		return -EBUSY;
	}
	eventfd = eventfd_ctx_fdget((int)argument);
	if (IS_ERR(eventfd)) {
		mutex_unlock(&state->lock);
		return PTR_ERR(eventfd);
	}
	state->shared = vmalloc_user(MILK_LAB_SHARED_BYTES);
	if (!state->shared) {
		eventfd_ctx_put(eventfd);
		mutex_unlock(&state->lock);
		return -ENOMEM;
	}
	state->eventfd = eventfd;
	thread = kthread_run(milk_lab_thread, state, "milk-lab");
	if (IS_ERR(thread)) {
		vfree(state->shared);
		state->shared = NULL;
		state->eventfd = NULL;
		eventfd_ctx_put(eventfd);
		mutex_unlock(&state->lock);
		return PTR_ERR(thread);
	}
	state->thread = thread;
	mutex_unlock(&state->lock);
	return 0;
}

static long milk_lab_ioctl(struct file *file, unsigned int command, unsigned long argument)
{
	struct milk_lab_file *state = file->private_data;
	struct milk_lab_message message;

	switch (command) {
	case MILK_LAB_IOC_ECHO:
		if (copy_from_user(&message, (void __user *)argument, sizeof(message)))
			return -EFAULT;
		milk_lab_answer(&message);
		if (copy_to_user((void __user *)argument, &message, sizeof(message)))
			return -EFAULT;
		return 0;
	case MILK_LAB_IOC_EVENTFD:
		return milk_lab_bind_eventfd(state, argument);
	case MILK_LAB_IOC_KICK:
		if (!READ_ONCE(state->thread))
			return -ENOTCONN;
		atomic_set(&state->kicked, 1);
		wake_up(&state->kicks);
		return 0;
	default:
		return -ENOTTY;
	}
}

static ssize_t milk_lab_write(struct file *file, const char __user *buffer, size_t length, loff_t *position)
{
	struct milk_lab_file *state = file->private_data;
	struct milk_lab_message message;

	if (length != sizeof(message))
		return -EINVAL;
	if (copy_from_user(&message, buffer, sizeof(message)))
		return -EFAULT;
	mutex_lock(&state->lock);
	state->stored = message;
	state->has_stored = true;
	mutex_unlock(&state->lock);
	return sizeof(message);
}

static ssize_t milk_lab_read(struct file *file, char __user *buffer, size_t length, loff_t *position)
{
	struct milk_lab_file *state = file->private_data;
	struct milk_lab_message message;

	if (length < sizeof(message))
		return -EINVAL;
	mutex_lock(&state->lock);
	if (!state->has_stored) {
		mutex_unlock(&state->lock);
		return -ENODATA;
	}
	message = state->stored;
	state->has_stored = false;
	mutex_unlock(&state->lock);
	milk_lab_answer(&message);
	if (copy_to_user(buffer, &message, sizeof(message)))
		return -EFAULT;
	return sizeof(message);
}

static int milk_lab_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct milk_lab_file *state = file->private_data;
	int result;

	mutex_lock(&state->lock);
	if (!state->shared)
		result = -ENODEV;
	else if (vma->vm_pgoff != 0 || vma->vm_end - vma->vm_start != MILK_LAB_SHARED_BYTES)
		result = -EINVAL;
	else
		result = remap_vmalloc_range(vma, state->shared, 0);
	mutex_unlock(&state->lock);
	return result;
}

/*
 * IORING_OP_URING_CMD: the command area holds the user address of a message,
 * answered in place. Returning the result (not -EIOCBQUEUED) completes the
 * request at once, with that result in the CQE. The command area lies in the
 * submission ring, which user space can rewrite: it is read once.
 */
static int milk_lab_uring_cmd(struct io_uring_cmd *command, unsigned int issue_flags)
{
	struct milk_lab_message message;
	const u64 *area;
	void __user *address;

	if (command->cmd_op != MILK_LAB_URING_ECHO)
		return -ENOTTY;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	area = io_uring_sqe_cmd(command->sqe);
#else
	area = command->cmd;
#endif
	address = u64_to_user_ptr(READ_ONCE(area[0]));
	if (copy_from_user(&message, address, sizeof(message)))
		return -EFAULT;
	milk_lab_answer(&message);
	if (copy_to_user(address, &message, sizeof(message)))
		return -EFAULT;
	return sizeof(message);
}

static const struct file_operations milk_lab_fops = {
	.owner = THIS_MODULE,
	.open = milk_lab_open,
	.release = milk_lab_release,
	.unlocked_ioctl = milk_lab_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.read = milk_lab_read,
	.write = milk_lab_write,
	.mmap = milk_lab_mmap,
	.uring_cmd = milk_lab_uring_cmd,
	.llseek = noop_llseek,
};

static struct miscdevice milk_lab_device = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = MILK_LAB_DEVICE_NAME,
	.fops = &milk_lab_fops,
	.mode = 0666,
};

/* Generic netlink: the request in an attribute, the answer in the reply's. */
static struct genl_family milk_lab_family;

static const struct nla_policy milk_lab_policy[MILK_LAB_ATTR_MAX + 1] = {
	[MILK_LAB_ATTR_MESSAGE] = { .type = NLA_BINARY, .len = MILK_LAB_MESSAGE_BYTES },
};

static int milk_lab_netlink_echo(struct sk_buff *request, struct genl_info *info)
{
	struct nlattr *attribute = info->attrs[MILK_LAB_ATTR_MESSAGE];
	struct milk_lab_message message;
	struct sk_buff *reply;
	void *header;

	if (!attribute || nla_len(attribute) != sizeof(message))
		return -EINVAL;
	nla_memcpy(&message, attribute, sizeof(message));
	milk_lab_answer(&message);
	reply = genlmsg_new(nla_total_size(sizeof(message)), GFP_KERNEL);
	if (!reply)
		return -ENOMEM;
	header = genlmsg_put_reply(reply, info, &milk_lab_family, 0, MILK_LAB_CMD_ECHO);
	if (!header || nla_put(reply, MILK_LAB_ATTR_MESSAGE, sizeof(message), &message)) {
		nlmsg_free(reply);
		return -EMSGSIZE;
	}
	genlmsg_end(reply, header);
	return genlmsg_reply(reply, info);
}

static const struct genl_small_ops milk_lab_netlink_ops[] = {
	{
		.cmd = MILK_LAB_CMD_ECHO,
		.doit = milk_lab_netlink_echo,
	},
};

static struct genl_family milk_lab_family = {
	.name = MILK_LAB_GENL_NAME,
	.version = MILK_LAB_GENL_VERSION,
	.maxattr = MILK_LAB_ATTR_MAX,
	.policy = milk_lab_policy,
	.module = THIS_MODULE,
	.small_ops = milk_lab_netlink_ops,
	.n_small_ops = ARRAY_SIZE(milk_lab_netlink_ops),
	.resv_start_op = MILK_LAB_CMD_ECHO + 1,
};

int milk_lab_init(void)
{
	int result = misc_register(&milk_lab_device);

	if (result)
		return result;
	result = genl_register_family(&milk_lab_family);
	if (result) {
		misc_deregister(&milk_lab_device);
		return result;
	}
	return 0;
}

void milk_lab_exit(void)
{
	genl_unregister_family(&milk_lab_family);
	misc_deregister(&milk_lab_device);
}
