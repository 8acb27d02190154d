// SPDX-License-Identifier: GPL-2.0
/*
 * The block device's kernel calls (include/milk_core.h): a blk-mq disk,
 * /dev/milkblkN, whose queue_rq hands each request to the C++ core
 * (core/blk_mechanism.cpp), which calls the block service, and ends it
 * with the status the core returns.
 *
 * One hardware queue of `depth` tags, BLK_MQ_F_BLOCKING: queue_rq runs in
 * process context and may sleep, which the core's mutex and any service
 * that does real I/O need. The disk has a volatile write cache as far as
 * the block layer knows (flushes reach the service: a service that keeps
 * data back, a file's page cache say, must see them) and takes discards.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/idr.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "milk_blk_shim.h"
#include "milk_core.h"
#include "milk_uapi.h"

struct milk_blk_disk {
	struct blk_mq_tag_set set;
	struct gendisk *disk;
	void *device; /* the core's */
	int index;
};

static int milk_blk_major;
static DEFINE_IDA(milk_blk_numbers);

int milk_blk_shim_init(void)
{
	int major = register_blkdev(0, "milkblk");

	if (major < 0)
		return major;
	milk_blk_major = major;
	return 0;
}

void milk_blk_shim_exit(void)
{
	unregister_blkdev(milk_blk_major, "milkblk");
	ida_destroy(&milk_blk_numbers);
}

static blk_status_t milk_blk_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct milk_blk_disk *disk = hctx->queue->queuedata;
	unsigned long long offset = (unsigned long long)blk_rq_pos(rq) << SECTOR_SHIFT;
	enum milk_blk_op op;
	int result;

	switch (req_op(rq)) {
	case REQ_OP_READ:
		op = MILK_BLK_OP_READ;
		break;
	case REQ_OP_WRITE:
		op = MILK_BLK_OP_WRITE;
		break;
	case REQ_OP_FLUSH:
		op = MILK_BLK_OP_FLUSH;
		break;
	case REQ_OP_DISCARD:
		op = MILK_BLK_OP_DISCARD;
		break;
	default:
		return BLK_STS_NOTSUPP;
	}
	blk_mq_start_request(rq);
	result = milk_core_blk_request(disk->device, op, rq->tag, offset, blk_rq_bytes(rq), rq);
	/* An agent's request is ended later, by the agent or the timeout. */
	if (result != MILK_BLK_QUEUED)
		blk_mq_end_request(rq, errno_to_blk_status(result));
	return BLK_STS_OK;
}

static enum blk_eh_timer_return milk_blk_timeout(struct request *rq)
{
	struct milk_blk_disk *disk = rq->q->queuedata;

	switch (milk_core_blk_timeout(disk->device, rq->tag)) {
	case MILK_BLK_TIMEOUT_END:
		blk_mq_end_request(rq, BLK_STS_IOERR);
		return BLK_EH_DONE;
	case MILK_BLK_TIMEOUT_RESET:
		return BLK_EH_RESET_TIMER;
	default:
		return BLK_EH_DONE;
	}
}

static const struct blk_mq_ops milk_blk_mq_ops = {
	.queue_rq = milk_blk_queue_rq,
	.timeout = milk_blk_timeout,
};

void milk_shim_blk_end(void *request, int error)
{
	blk_mq_end_request(request, errno_to_blk_status(error));
}

static const struct block_device_operations milk_blk_fops = {
	.owner = THIS_MODULE,
};

int milk_shim_blk_segments(void *request, int (*each)(void *context, void *data, unsigned int bytes), void *context)
{
	struct request *rq = request;
	struct req_iterator iter;
	struct bio_vec bvec;
	int reading = req_op(rq) == REQ_OP_READ;

	rq_for_each_segment(bvec, rq, iter) {
		void *data = bvec_kmap_local(&bvec);
		int result = each(context, data, bvec.bv_len);

		kunmap_local(data);
		if (reading)
			flush_dcache_page(bvec.bv_page);
		if (result)
			return result;
	}
	return 0;
}

int milk_shim_blk_copy_user(void *request, unsigned long user, int to_user)
{
	struct request *rq = request;
	struct req_iterator iter;
	struct bio_vec bvec;

	rq_for_each_segment(bvec, rq, iter) {
		void *data = bvec_kmap_local(&bvec);
		unsigned long left;

		if (to_user) {
			left = copy_to_user((void __user *)user, data, bvec.bv_len);
		} else {
			left = copy_from_user(data, (const void __user *)user, bvec.bv_len);
			flush_dcache_page(bvec.bv_page);
		}
		kunmap_local(data);
		if (left)
			return -MILK_EFAULT;
		user += bvec.bv_len;
	}
	return 0;
}

void *milk_shim_blk_disk_create(void *device, unsigned long long bytes, unsigned int block_size, unsigned int depth,
				unsigned int timeout_ms, unsigned int *index, int *error)
{
	struct milk_blk_disk *made;
	struct gendisk *disk;
	int number;
	int result;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	struct queue_limits limits = {
		.logical_block_size = block_size,
		.physical_block_size = block_size,
		.max_hw_sectors = MILK_BLK_MAX_REQUEST_BYTES >> SECTOR_SHIFT,
		.max_hw_discard_sectors = UINT_MAX >> SECTOR_SHIFT,
		.discard_granularity = block_size,
		.features = BLK_FEAT_WRITE_CACHE,
	};
#endif

	number = ida_alloc_max(&milk_blk_numbers, MILK_BLK_MAX_DEVICES - 1, GFP_KERNEL);
	if (number < 0) {
		*error = number == -ENOSPC ? -MILK_ENOSPC : number;
		return NULL;
	}
	made = kzalloc(sizeof(*made), GFP_KERNEL);
	if (!made) {
		result = -ENOMEM;
		goto free_number;
	}
	made->device = device;
	made->index = number;
	made->set.ops = &milk_blk_mq_ops;
	made->set.nr_hw_queues = 1;
	made->set.queue_depth = depth;
	made->set.numa_node = NUMA_NO_NODE;
	made->set.flags = BLK_MQ_F_SHOULD_MERGE | BLK_MQ_F_BLOCKING;
	made->set.timeout = msecs_to_jiffies(timeout_ms);
	result = blk_mq_alloc_tag_set(&made->set);
	if (result)
		goto free_made;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	disk = blk_mq_alloc_disk(&made->set, &limits, made);
#else
	disk = blk_mq_alloc_disk(&made->set, made);
#endif
	if (IS_ERR(disk)) {
		result = PTR_ERR(disk);
		goto free_set;
	}
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 11, 0)
	blk_queue_logical_block_size(disk->queue, block_size);
	blk_queue_physical_block_size(disk->queue, block_size);
	blk_queue_max_hw_sectors(disk->queue, MILK_BLK_MAX_REQUEST_BYTES >> SECTOR_SHIFT);
	/* Discard needs a granularity too, or 6.1 warns and refuses it. */
	disk->queue->limits.discard_granularity = block_size;
	blk_queue_max_discard_sectors(disk->queue, UINT_MAX >> SECTOR_SHIFT);
	blk_queue_write_cache(disk->queue, true, false);
#endif
	disk->major = milk_blk_major;
	disk->first_minor = number;
	disk->minors = 1;
	/*
	 * No partition scan: add_disk would read the disk before the caller
	 * (an agent's MILK_IOC_BLK_CREATE) has returned, so before anyone can
	 * answer; each read would wait for the deadline.
	 */
	disk->flags |= GENHD_FL_NO_PART;
	disk->fops = &milk_blk_fops;
	disk->private_data = made;
	snprintf(disk->disk_name, DISK_NAME_LEN, "milkblk%d", number);
	set_capacity(disk, bytes >> SECTOR_SHIFT);
	made->disk = disk;
	result = add_disk(disk);
	if (result)
		goto put;
	*index = number;
	return made;

put:
	put_disk(disk);
free_set:
	blk_mq_free_tag_set(&made->set);
free_made:
	kfree(made);
free_number:
	ida_free(&milk_blk_numbers, number);
	*error = result;
	return NULL;
}

void milk_shim_blk_disk_destroy(void *disk)
{
	struct milk_blk_disk *made = disk;

	/* Waits for the requests in flight; none comes after it. */
	del_gendisk(made->disk);
	put_disk(made->disk);
	blk_mq_free_tag_set(&made->set);
	ida_free(&milk_blk_numbers, made->index);
	kfree(made);
}
