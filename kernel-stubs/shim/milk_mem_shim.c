// SPDX-License-Identifier: GPL-2.0
/*
 * The memory mechanism's kernel calls (include/milk_core.h): a region's
 * pages, its mutex and wait queue, its mapping into user space and the
 * fault handler that asks the C++ core (core/mem_mechanism.cpp) which frame
 * a page goes to.
 *
 * A region is mapped VM_PFNMAP: its frames are pages the module allocated
 * and owns for the region's life, inserted by page frame number with no
 * reference counting, rmap or LRU of the kernel's involved, and an eviction
 * is unmap_mapping_range() over the region's own address space, which
 * reaches every mapping of it (another mmap, a child after fork) and
 * flushes the TLBs before it returns.
 */
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/version.h>
#include <linux/wait.h>

#include "milk_core.h"
#include "milk_mem_shim.h"

void *milk_shim_page_alloc(void)
{
	return alloc_page(GFP_KERNEL | __GFP_ZERO);
}

void milk_shim_page_free(void *page)
{
	if (page)
		__free_page(page);
}

void milk_shim_page_copy(void *to, void *from)
{
	copy_highpage(to, from);
}

void milk_shim_page_zero(void *page)
{
	clear_highpage(page);
}

void *milk_shim_mutex_create(void)
{
	struct mutex *mutex = milk_shim_kmalloc(sizeof(*mutex));

	if (mutex)
		mutex_init(mutex);
	return mutex;
}

void milk_shim_mutex_destroy(void *mutex)
{
	if (!mutex)
		return;
	mutex_destroy(mutex);
	milk_shim_kfree(mutex);
}

void milk_shim_mutex_lock(void *mutex)
{
	mutex_lock(mutex);
}

void milk_shim_mutex_unlock(void *mutex)
{
	mutex_unlock(mutex);
}

void milk_shim_mem_unmap(void *mapping, unsigned int page)
{
	unmap_mapping_range(mapping, (loff_t)page << PAGE_SHIFT, PAGE_SIZE, 1);
}

unsigned int milk_shim_mem_insert(void *fault, void *frame)
{
	struct vm_fault *vmf = fault;

	/* vm_fault_t is a sparse bitwise type; the core carries it as a plain int. */
	return (__force unsigned int)vmf_insert_pfn(vmf->vma, vmf->address, page_to_pfn((struct page *)frame));
}

struct milk_mem_queue {
	wait_queue_head_t queue;
};

void *milk_shim_queue_create(void)
{
	struct milk_mem_queue *queue = milk_shim_kmalloc(sizeof(*queue));

	if (queue)
		init_waitqueue_head(&queue->queue);
	return queue;
}

void milk_shim_queue_destroy(void *queue)
{
	milk_shim_kfree(queue);
}

void milk_shim_queue_wake(void *pointer)
{
	struct milk_mem_queue *queue = pointer;

	wake_up_all(&queue->queue);
}

int milk_shim_queue_wait(void *pointer, enum milk_wait_kind kind, int (*ready)(void *), void *argument,
			     long long timeout_ns)
{
	struct milk_mem_queue *queue = pointer;
	long timeout = timeout_ns < 0 ? MAX_SCHEDULE_TIMEOUT : (long)nsecs_to_jiffies(timeout_ns) + 1;
	long left;

	if (kind == MILK_WAIT_INTERRUPTIBLE)
		left = wait_event_interruptible_timeout(queue->queue, ready(argument), timeout);
	else
		left = wait_event_killable_timeout(queue->queue, ready(argument), timeout);
	if (left < 0)
		return -EINTR;
	return left == 0 ? 1 : 0;
}

struct address_space *milk_mem_mapping_create(struct file *file)
{
	struct address_space *mapping = milk_shim_kmalloc(sizeof(*mapping));

	if (!mapping)
		return NULL;
	memset(mapping, 0, sizeof(*mapping));
	address_space_init_once(mapping);
	mapping->host = file_inode(file);
	return mapping;
}

void milk_mem_mapping_destroy(struct address_space *mapping)
{
	milk_shim_kfree(mapping);
}

/* Lets the memory map lock go before a fault waits (it then retries). */
static void milk_mem_release_fault_lock(struct vm_fault *vmf)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	release_fault_lock(vmf);
#else
	mmap_read_unlock(vmf->vma->vm_mm);
#endif
}

/*
 * A touch of a page without a frame. The core decides (a policy in the
 * module, or the FIFO it fell back to) and maps the frame under the
 * region's lock; a fault the agent must decide is queued, and the thread
 * waits for the answer without the memory map lock, as userfaultfd's
 * handler does, so that the rest of the process (the agent among it) can
 * map, unmap and fault meanwhile. Then the fault is retried.
 */
static vm_fault_t milk_mem_fault(struct vm_fault *vmf)
{
	void *region = vmf->vma->vm_private_data;
	unsigned int result = (__force unsigned int)VM_FAULT_SIGBUS;
	struct file *file;

	for (;;) {
		switch (milk_core_mem_fault(region, vmf->pgoff, (vmf->flags & FAULT_FLAG_WRITE) != 0, vmf, &result)) {
		case MILK_MEM_FAULT_DONE:
			return (__force vm_fault_t)result;
		case MILK_MEM_FAULT_QUEUED:
			break;
		case MILK_MEM_FAULT_OOM:
			return VM_FAULT_OOM;
		default:
			return VM_FAULT_SIGBUS;
		}
		if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY)) {
			/* A caller that cannot retry: wait with the lock held. */
			milk_core_mem_wait(region, vmf->pgoff);
			if (fatal_signal_pending(current))
				return VM_FAULT_SIGBUS;
			continue;
		}
		if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
			return VM_FAULT_RETRY;
		/* The region lives as long as its file: hold it while waiting. */
		file = get_file(vmf->vma->vm_file);
		milk_mem_release_fault_lock(vmf);
		milk_core_mem_wait(region, vmf->pgoff);
		fput(file);
		return VM_FAULT_RETRY;
	}
}

static const struct vm_operations_struct milk_mem_vm_ops = {
	.fault = milk_mem_fault,
};

int milk_mem_mmap(struct vm_area_struct *vma, void *region, unsigned long long bytes)
{
	/*
	 * Shared: a private mapping of page frames would need copy-on-write,
	 * which a VM_PFNMAP mapping cannot have. Whole, from offset 0, and not
	 * growable, so that a page's offset is its number in the region.
	 */
	if (!(vma->vm_flags & VM_SHARED) || vma->vm_pgoff != 0 || vma->vm_end - vma->vm_start != bytes)
		return -EINVAL;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP);
#else
	vma->vm_flags |= VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
#endif
	vma->vm_ops = &milk_mem_vm_ops;
	vma->vm_private_data = region;
	return 0;
}
